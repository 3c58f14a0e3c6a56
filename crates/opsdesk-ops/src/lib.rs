//! Monitoring and operations: Healthchecks.io-compatible heartbeat checks with their ping
//! endpoints, management API, pages and sweep, and the alert channels that hear of flips.

pub mod alerts;
pub mod environment;
pub mod heartbeats;
pub mod incidents;
pub mod runbooks;
pub mod status;
pub mod uptime;
pub mod web;

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
        pages: heartbeats::pages::routes()
            .merge(heartbeats::v3::routes())
            .merge(uptime::pages::routes())
            .merge(environment::pages::routes())
            .merge(status::pages::routes())
            .merge(status::manage::routes())
            .merge(status::subscribe_pages::routes())
            .merge(status::v2::routes())
            .merge(incidents::pages::routes())
            .merge(incidents::page::routes())
            .merge(incidents::settings_pages::routes())
            .merge(runbooks::pages::routes()),
        api: uptime::api::router()
            .merge(incidents::api::router())
            .merge(runbooks::api::router())
            .merge(environment::api::router())
            .merge(status::api::router()),
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
    registry.register_periodic(KIND_SWEEP_RUNS, Duration::from_secs(30), |ctx| async move {
        runbooks::runner::sweep(&ctx.db).await?;
        runbooks::impersonation::sweep(&ctx.db)
            .await
            .map_err(|e| e.into_anyhow())?;
        Ok(())
    });
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

/// Sweeps ops runs: interrupted ones (their server died), approvals that ran out, old live output.
pub const KIND_SWEEP_RUNS: &str = "ops.sweep";

/// Checks the configured ops actions (a bad definition is a start-up error).
pub fn check_actions(config: &Config) -> anyhow::Result<()> {
    runbooks::catalog::Catalog::from_config(&config.ops)
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The monitors' target policy from the configuration (a bad network is a start-up error).
pub fn target_policy(config: &Config) -> anyhow::Result<uptime::targets::Policy> {
    uptime::targets::Policy::new(
        &config.monitoring.allowed_targets,
        &config.monitoring.denied_targets,
    )
    .map_err(|e| anyhow::anyhow!("[monitoring] allowed_targets/denied_targets: {e}"))
}

/// The leader's background work: the sweep that flips overdue heartbeat checks to down (every
/// second) and the monitor scheduler.
pub fn background(
    db: &Db,
    leadership: &Leadership,
    config: &Config,
    shutdown: &tokio::sync::watch::Sender<bool>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let clients = Arc::new(uptime::runner::Clients::new(target_policy(config)?));
    let mut tasks = vec![tokio::spawn(heartbeats::sweep::run(
        db.clone(),
        leadership.clone(),
        Duration::from_secs(1),
        config.monitoring.reminder_hours,
        shutdown.subscribe(),
    ))];
    if config.monitoring.schedule {
        tasks.push(tokio::spawn(uptime::scheduler::run(
            db.clone(),
            leadership.clone(),
            clients,
            config.monitoring.concurrency,
            config.monitoring.results_days,
            shutdown.subscribe(),
        )));
    } else {
        tracing::info!("monitors are not scheduled ([monitoring] schedule = false)");
    }
    Ok(tasks)
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
        "opsdesk_check_up",
        "1 when a monitor's last run passed its conditions, 0 when it failed; by monitor name."
    );
    metrics::describe_gauge!(
        "opsdesk_check_response_seconds",
        "How long a monitor's last run took (all its steps); by monitor name."
    );
    metrics::describe_histogram!(
        "opsdesk_check_drift_seconds",
        "How late monitor runs started after they were due."
    );
    metrics::describe_gauge!(
        "opsdesk_heartbeat_up",
        "1 while a heartbeat check is up (or in grace, or running), 0 when down; by check slug or name."
    );
}

/// The monitoring navigation entries.
pub fn nav() -> Vec<opsdesk_core::web::nav::NavItem> {
    use opsdesk_core::web::nav::{Audience, NavItem};
    vec![
        NavItem {
            key: "incidents",
            label: "Incidents",
            href: "/incidents",
            audience: Audience::Staff,
        },
        NavItem {
            key: "ops",
            label: "Ops",
            href: "/ops",
            audience: Audience::Staff,
        },
        NavItem {
            key: "checks",
            label: "Checks",
            href: "/checks",
            audience: Audience::Staff,
        },
        NavItem {
            key: "monitors",
            label: "Monitors",
            href: "/monitors",
            audience: Audience::Staff,
        },
        NavItem {
            key: "status",
            label: "Status page",
            href: "/status/manage",
            audience: Audience::Staff,
        },
        NavItem {
            key: "environment",
            label: "Environment",
            href: "/environment",
            audience: Audience::Staff,
        },
    ]
}
