//! Incidents: the record every outage gets — severity, lifecycle, commander, timeline, public
//! updates on the status page, links to tickets, checks, monitors and ops runs, postmortem with
//! action-item tickets — and the change freeze they (and scheduled windows) impose.

pub mod api;
pub mod flips;
pub mod freeze;
pub mod model;
pub mod page;
pub mod pages;
pub mod postmortem;
pub mod rules;
pub mod service;
pub mod settings;
pub mod settings_pages;
pub mod store;
pub mod updates;
pub mod view;
