//! opsdesk's shared kernel: configuration, the store on SQLite or PostgreSQL, accounts and
//! authentication, the audit chain, the job queue, and the web shell every capability plugs into.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod blobs;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod jobs;
pub mod setup;
pub mod web;
