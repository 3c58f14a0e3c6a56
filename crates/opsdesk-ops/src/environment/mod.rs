//! The environment dashboard: apps report facts about where they run (memory limits, CPU
//! count, reachability of what they depend on, their version); admins set thresholds on them;
//! a broken threshold is a warning on the dashboard and an alert on its channels. opsdesk shows
//! its own facts beside them.

pub mod api;
pub mod own;
pub mod pages;
pub mod rules;
pub mod service;
pub mod store;
