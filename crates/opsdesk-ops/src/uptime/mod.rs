//! HTTP and multi-step synthetic checks: requests on a schedule, judged by Gatus-style
//! conditions, with results, uptime and alerts.

pub mod api;
pub mod cert;
pub mod conditions;
pub mod model;
pub mod pages;
pub mod runner;
pub mod scheduler;
pub mod service;
pub mod store;
pub mod targets;
