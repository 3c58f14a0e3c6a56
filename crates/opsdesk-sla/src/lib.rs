//! Support tiers and SLAs. Pure rules first: business-hours calendars and the arithmetic of
//! business time (`hours`), the per-ticket SLA clocks that start, pause and stop on the ticket's
//! events (`clock`), and the checks of tiers and targets (`policy`); then the store, the service
//! and the API. Plugs into the web shell as a capability.

pub mod api;
pub mod apply;
pub mod clock;
pub mod countdown;
pub mod deadlines;
pub mod hours;
pub mod policy;
pub mod service;
pub mod store;
pub mod ticket;
pub mod ticket_store;

#[cfg(test)]
mod clock_tests;
#[cfg(test)]
mod hours_tests;

use opsdesk_core::web::Capability;

/// The SLA capability's routes.
pub fn capability() -> Capability {
    Capability {
        pages: axum::Router::new(),
        api: api::router(),
    }
}
