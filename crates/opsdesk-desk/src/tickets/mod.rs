//! Tickets: the model, the escalation flow and access rules (pure), their SQL, the use cases,
//! and the JSON API and pages over them.

pub mod access;
pub mod api;
pub mod filing;
pub mod flow;
pub mod input;
pub mod model;
pub mod pages;
pub mod queries;
pub mod search;
pub mod service;
pub mod store;
