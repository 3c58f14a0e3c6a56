//! The one integration-test binary (each file under tests/ would be another slow link).
//! Every test here runs on SQLite and on PostgreSQL.

mod helpers;
mod procs;

mod accounts;
mod api;
mod audit;
mod bad_input;
mod browser;
mod browser_desk;
mod browser_incident;
mod browser_sla;
mod checks_pages;
mod cli;
mod desk;
mod desk_bad_input;
mod desk_composer;
mod desk_counts;
mod desk_pages;
mod desk_policies;
mod desk_search;
mod desk_settings;
mod desk_triage;
mod desk_uploads;
mod environment;
mod heartbeats;
mod incidents;
mod jobs;
mod mail;
mod mail_channels;
mod mail_imap;
mod monitors;
mod multi_instance;
mod ops_actions;
mod portal;
mod setup;
mod sla;
mod sla_agency;
mod sla_bulk;
mod sla_inbox;
mod sla_reports;
mod sla_tickets;
mod sla_timers;
mod status_page;
mod tools;
