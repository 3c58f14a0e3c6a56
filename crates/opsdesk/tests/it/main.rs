//! The one integration-test binary (each file under tests/ would be another slow link).
//! Every test here runs on SQLite and on PostgreSQL.

mod helpers;

mod accounts;
mod api;
mod audit;
mod bad_input;
mod jobs;
mod setup;
