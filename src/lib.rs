//! cx-survey: post-transaction customer experience surveys for federal High Impact Service
//! Providers (OMB Circular A-11 Section 280), with PRA enforcement, on SQLite or PostgreSQL.

pub mod admin;
pub mod app;
pub mod assets;
pub mod body;
pub mod cli;
pub mod configuration;
pub mod console;
pub mod csv_lines;
pub mod db;
pub mod definitions;
pub mod domain;
pub mod email;
pub mod error;
pub mod fiscal;
pub mod healthcheck;
pub mod intake;
pub mod metrics;
pub mod ops;
pub mod pages;
pub mod paths;
pub mod registry;
pub mod report;
pub mod responses;
pub mod router;
pub mod staff;
pub mod startup;
pub mod survey;
pub mod telemetry;
