//! Alerts: channels (email, generic webhook, Slack-compatible webhook) and the notifications a
//! check's flips send on them.

pub mod held;
pub mod model;
pub mod notify;
pub mod reminders;
pub mod service;
pub mod store;
