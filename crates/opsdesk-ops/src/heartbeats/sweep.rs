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
    }
    Ok(flipped)
}

/// Runs [`sweep`] every `every` while this instance leads, until shutdown.
pub async fn run(
    db: Db,
    leadership: Leadership,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
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
