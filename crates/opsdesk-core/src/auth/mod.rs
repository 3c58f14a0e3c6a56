//! Authentication: password login with lockout, database-backed sessions, API tokens, and the
//! fail2ban line for failed logins.

pub mod authlog;
pub mod lockout;
pub mod login;
pub mod sessions;
pub mod tokens;
