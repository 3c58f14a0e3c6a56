//! Monitoring and operations: Healthchecks.io-compatible heartbeat checks with their ping
//! endpoints, management API, pages and sweep, and the alert channels that hear of flips.

pub mod alerts;
pub mod heartbeats;

use std::sync::Arc;
use std::time::Duration;

use opsdesk_core::config::Config;
use opsdesk_core::db::Db;
use opsdesk_core::jobs::{Leadership, Registry};
use opsdesk_core::web::Capability;

use heartbeats::ping::PingContext;
use heartbeats::writer::PingWriter;

/// Pruning of ping logs beyond what each check keeps.
pub const KIND_PRUNE_PINGS: &str = "heartbeat.prune";

/// The monitoring routes: ping endpoints (beside the main stack), the Healthchecks-compatible
/// management API and the pages.
pub fn capability(db: &Db, config: &Config) -> Capability {
    let ctx = PingContext {
        writer: PingWriter::start(db.clone()),
        body_limit: config.monitoring.ping_body_limit,
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
    };
    Capability {
        pages: heartbeats::pages::routes().merge(heartbeats::v3::routes()),
        api: Default::default(),
        compat: heartbeats::ping::routes(ctx),
    }
}

/// Background jobs: alert delivery and ping-log pruning.
pub fn register_jobs(registry: &mut Registry, config: &Config) {
    alerts::notify::register(
        registry,
        Arc::new(config.mail.clone()),
        config.public_url.clone(),
    );
    let keep = config.monitoring.pings_kept.max(10);
    registry.register_periodic(
        KIND_PRUNE_PINGS,
        Duration::from_secs(600),
        move |ctx| async move {
            let gone = heartbeats::store::prune_pings(&ctx.db, keep).await?;
            if gone > 0 {
                tracing::info!(gone, "old pings pruned");
            }
            Ok(())
        },
    );
}

/// The leader's sweep that flips overdue checks to down, every second.
pub fn background(
    db: &Db,
    leadership: &Leadership,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(heartbeats::sweep::run(
        db.clone(),
        leadership.clone(),
        Duration::from_secs(1),
        shutdown,
    ))
}

/// The monitoring metrics' help texts.
pub fn describe_metrics() {
    metrics::describe_counter!(
        "opsdesk_pings_total",
        "Heartbeat pings recorded (each committed before it was answered)."
    );
    metrics::describe_gauge!(
        "opsdesk_heartbeats",
        "Heartbeat checks by the status they show (new, up, grace, started, down, paused)."
    );
    metrics::describe_gauge!(
        "opsdesk_heartbeat_up",
        "1 while a heartbeat check is up (or in grace, or running), 0 when down; by check slug or UUID."
    );
}

/// The monitoring navigation entries.
pub fn nav() -> Vec<opsdesk_core::web::nav::NavItem> {
    use opsdesk_core::web::nav::{Audience, NavItem};
    vec![NavItem {
        key: "checks",
        label: "Checks",
        href: "/checks",
        audience: Audience::Staff,
    }]
}
