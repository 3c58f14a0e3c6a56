//! Checks going down on time: on the leading instance, every second, the checks whose deadline
//! passed are flipped to down (each in its own transaction, re-read under lock so a ping that
//! arrived meanwhile wins) and their news queued.

use std::time::Duration;

use super::rules;
use super::store;
use crate::alerts::notify;
use opsdesk_core::audit::Actor;
use opsdesk_core::clock::now_ms;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;
use opsdesk_core::jobs::Leadership;

/// Checks taken per pass; a longer backlog is taken by the next.
const BATCH: i64 = 500;

/// Flips every check due by `now`; returns how many went down.
pub async fn sweep(db: &Db, now: i64) -> Result<usize, AppError> {
    let backend = db.backend();
    let actor = Actor::system();
    let mut flipped = 0;
    for id in store::due(db, now, BATCH).await? {
        let mut tx = db.begin().await?;
        let Some(mut row) = store::find_for_update(&mut tx, backend, &id).await? else {
            continue;
        };
        let spec = row.spec();
        let mut state = row.state();
        let flip = rules::go_down_if_due(&spec, &mut state, now);
        row.set_state(&spec, &state);
        store::save_states(&mut tx, backend, &[&row]).await?;
        if let Some(f) = flip {
            notify::on_flip(&mut tx, backend, &actor, &row, &f, now).await?;
            flipped += 1;
        }
        tx.commit().await?;
        if flipped > 0 {
            crate::status::service::forget(db);
        }
    }
    Ok(flipped)
}

/// Runs [`sweep`] every `every` while this instance leads, until shutdown.
pub async fn run(
    db: Db,
    leadership: Leadership,
    every: Duration,
    reminder_hours: i64,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick: u64 = 0;
    loop {
        if tick.is_multiple_of(15)
            && let Err(e) = publish_metrics(&db).await
        {
            tracing::warn!(error = %e, "cannot read heartbeat states for metrics");
        }
        tick += 1;
        if leadership.is_leader() && tick % 10 == 1 {
            match crate::alerts::held::release(&db, now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sent = n, "alerts held by maintenance released"),
                Err(e) => tracing::warn!(error = %e.message, "cannot release held alerts"),
            }
        }
        if leadership.is_leader() && tick % 60 == 1 {
            match crate::alerts::reminders::send_due(&db, reminder_hours, now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(reminded = n, "reminders of checks still down sent"),
                Err(e) => tracing::warn!(error = %e.message, "cannot send reminders"),
            }
        }
        if leadership.is_leader() {
            match sweep(&db, now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(down = n, "heartbeat checks went down"),
                Err(e) => tracing::warn!(error = %e.message, "heartbeat sweep failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Checks beyond this many are counted by status but get no gauge of their own.
const GAUGED_CHECKS: usize = 2_000;

/// Publishes the checks' states as gauges (every instance, so any one can be scraped).
pub async fn publish_metrics(db: &Db) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let rows = store::list(db, &store::ListFilter::default()).await?;
    let mut counts = std::collections::BTreeMap::new();
    for (i, c) in rows.iter().enumerate() {
        let shown = rules::shown(&c.spec(), &c.state(), now);
        *counts.entry(shown.as_str()).or_insert(0u64) += 1;
        if i < GAUGED_CHECKS {
            let up = match shown {
                super::model::Shown::Down => 0.0,
                super::model::Shown::New | super::model::Shown::Paused => continue,
                _ => 1.0,
            };
            // Never the UUID: /metrics is open, and the UUID is what pings a check.
            let label = if c.slug.is_empty() {
                c.name.clone()
            } else {
                c.slug.clone()
            };
            metrics::gauge!("opsdesk_heartbeat_up", "check" => label).set(up);
        }
    }
    for s in ["new", "up", "grace", "started", "down", "paused"] {
        let n = counts.get(s).copied().unwrap_or(0);
        metrics::gauge!("opsdesk_heartbeats", "status" => s).set(n as f64);
    }
    Ok(())
}
