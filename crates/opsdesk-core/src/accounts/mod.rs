//! Accounts: users with roles (admin, agent, customer), organizations, and password hashing.

pub mod model;
pub mod password;
pub mod service;
pub mod store;

pub use model::{DisplayName, EmailAddress, NewPassword, Organization, Role, User};
