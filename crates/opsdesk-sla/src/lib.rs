//! Support tiers and SLAs: business-hours calendars and the arithmetic of business time (pure
//! rules, no I/O), on which the SLA clock, its timers and the reports are built.

pub mod hours;
#[cfg(test)]
mod hours_tests;
