//! Ops actions (runbooks): typed parameters, the program run without a shell, and its output
//! redacted and bounded.

pub mod exec;
pub mod params;
pub mod redact;
