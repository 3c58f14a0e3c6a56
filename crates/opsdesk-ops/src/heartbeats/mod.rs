//! Heartbeat checks, Healthchecks.io-compatible: cron jobs and workers ping a URL; a check that
//! hears nothing within its period and grace (or a cron schedule's next time plus grace), or
//! hears a failure, goes down and its channels are told.
//!
//! `model` and `rules` are pure; `store` holds the SQL; `writer` commits pings in groups;
//! `service` holds the use cases; `ping`, `v3` and `pages` are the ways in.

pub mod keys;
pub mod log_store;
pub mod model;
pub mod pages;
pub mod ping;
pub mod rules;
pub mod service;
pub mod settings_pages;
pub mod store;
pub mod sweep;
pub mod v3;
pub mod view;
pub mod writer;
