//! Tickets: the model, the escalation flow and access rules (pure), their SQL, the use cases,
//! and the JSON API and pages over them.

pub mod access;
pub mod api;
pub mod composer;
pub mod filing;
pub mod flow;
pub mod followup;
pub mod input;
pub mod list_store;
pub mod merge;
pub mod model;
pub mod org_feed;
pub mod pages;
pub mod policy;
pub mod policy_api;
pub mod policy_pages;
pub mod policy_store;
pub mod queries;
pub mod reply_rules;
pub mod search;
pub mod service;
pub mod sla;
pub mod sla_settings;
pub mod sla_timers;
pub mod store;
pub mod triage;
pub mod triage_service;
