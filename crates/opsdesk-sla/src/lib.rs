//! Support tiers and SLAs. Pure rules first: business-hours calendars and the arithmetic of
//! business time (`hours`), the per-ticket SLA clocks that start, pause and stop on the ticket's
//! events (`clock`), and the checks of tiers and targets (`policy`); then the store, the service
//! and the API. Plugs into the web shell as a capability.

pub mod api;
pub mod apply;
pub mod charts;
pub mod clock;
pub mod countdown;
pub mod deadlines;
pub mod hours;
pub mod pages;
pub mod policy;
pub mod report;
pub mod report_pages;
pub mod report_service;
pub mod report_store;
pub mod service;
pub mod store;
pub mod ticket;
pub mod ticket_store;

#[cfg(test)]
mod clock_tests;
#[cfg(test)]
mod hours_tests;

use opsdesk_core::web::Capability;

/// The SLA capability's routes: the API and the report pages.
pub fn capability() -> Capability {
    use axum::routing::get;
    Capability {
        pages: axum::Router::new()
            .route("/sla", get(pages::show))
            .route("/sla/tiers", axum::routing::post(pages::create_tier))
            .route("/sla/tiers/{id}", axum::routing::post(pages::save_tier))
            .route(
                "/sla/calendars",
                axum::routing::post(pages::create_calendar),
            )
            .route(
                "/sla/calendars/{id}",
                axum::routing::post(pages::save_calendar),
            )
            .route("/reports/sla", get(report_pages::page))
            .route("/reports/sla.csv", get(report_pages::csv)),
        api: api::router(),
        ..Default::default()
    }
}

/// The SLA navigation entries.
pub fn nav() -> Vec<opsdesk_core::web::nav::NavItem> {
    use opsdesk_core::web::nav::{Audience, NavItem};
    vec![
        NavItem {
            key: "sla",
            label: "SLA tiers",
            href: "/sla",
            audience: Audience::Staff,
        },
        NavItem {
            key: "reports",
            label: "SLA report",
            href: "/reports/sla",
            audience: Audience::Staff,
        },
    ]
}
