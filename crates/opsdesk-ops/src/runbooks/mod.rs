//! Ops actions (runbooks): actions defined in the configuration, run directly (never through a
//! shell) with typed parameters, referencing a ticket or incident, approved by a second person
//! where configured, refused during a change freeze, undoable, with captured, redacted output.

pub mod api;
pub mod approvals;
pub mod catalog;
pub mod exec;
pub mod impersonation;
pub mod model;
pub mod pages;
pub mod params;
pub mod portal;
pub mod redact;
pub mod runner;
pub mod service;
pub mod store;
pub mod undo;
pub mod view;

/// A refused request's first problem in one line (without the field name).
pub fn web_say(e: &opsdesk_core::error::AppError) -> String {
    e.fields
        .iter()
        .next()
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| e.message.clone())
}
