//! Support tiers and SLAs. Pure rules first: business-hours calendars and the arithmetic of
//! business time (`hours`), and the per-ticket SLA clocks that start, pause and stop on the
//! ticket's events (`clock`); the store, timers, API and reports build on them.

pub mod clock;
#[cfg(test)]
mod clock_tests;
pub mod hours;
#[cfg(test)]
mod hours_tests;
