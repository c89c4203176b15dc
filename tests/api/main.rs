mod helpers;

mod abuse;
mod access;
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
mod registry;
mod report;
mod scale;
mod widget;
