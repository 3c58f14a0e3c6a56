//! The public status page: components (grouped; each set by hand or following a heartbeat check
//! or a monitor), incidents posted with updates, maintenance windows (which also hold the
//! alerts of the checks they cover), the page itself, Statuspage's v2 JSON and email updates to
//! confirmed subscribers.

pub mod api;
pub mod logo;
pub mod manage;
pub mod pages;
pub mod rules;
pub mod service;
pub mod store;
pub mod subscribe_pages;
pub mod subscribers;
pub mod subscribers_store;
pub mod v2;
