//! Ops actions (runbooks): actions defined in the configuration, run directly (never through a
//! shell) with typed parameters, referencing a ticket or incident, approved by a second person
//! where configured, refused during a change freeze, undoable, with captured, redacted output.

pub mod api;
pub mod catalog;
pub mod exec;
pub mod model;
pub mod pages;
pub mod params;
pub mod redact;
pub mod runner;
pub mod service;
pub mod store;
pub mod view;
