mod helpers;

mod abuse;
mod admin;
mod definitions;
mod email;
mod export;
mod intake;
mod isolation;
mod logs;
mod ops;
mod outage;
mod outbox;
mod report;
mod scale;
mod widget;
