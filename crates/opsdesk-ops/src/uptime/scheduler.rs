//! The monitor scheduler: on the leading instance, several times a second, the monitors that are
//! due are claimed (moved to their next time in the database, so no run is doubled and a restart
//! picks up where it left) and run concurrently, at most `[monitoring] concurrency` at once.
//! Next times stay on each monitor's own grid (due + interval), so runs do not drift and
//! monitors made together stay spread.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::model::{self, Step};
use super::runner::{Clients, RunResult};
use super::{service, store};
use opsdesk_core::clock::now_ms;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;
use opsdesk_core::jobs::Leadership;

/// The next time on the monitor's grid after `now`.
pub fn next_after(due: i64, interval_ms: i64, now: i64) -> i64 {
    let interval_ms = interval_ms.max(1);
    let next = due + interval_ms;
    if next > now {
        next
    } else {
        next + ((now - next) / interval_ms + 1) * interval_ms
    }
}

/// Runs one monitor now and records the result; returns it.
pub async fn run_one(
    db: &Db,
    clients: &Clients,
    id: &str,
    scheduled: i64,
) -> Result<Option<RunResult>, AppError> {
    let Some(m) = store::find(db, id).await? else {
        return Ok(None);
    };
    let steps: Vec<Step> = serde_json::from_str(&m.steps).unwrap_or_default();
    let checked = match model::check_steps(&steps) {
        Ok(c) => c,
        Err(problems) => {
            // Saved steps were checked; a stored one that no longer passes is a failed run.
            let error = problems
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let r = RunResult {
                ok: false,
                ms: 0,
                status: None,
                failed_step: None,
                error: Some(error),
                steps: Vec::new(),
            };
            service::record_run(db, id, scheduled, now_ms(), &r).await?;
            return Ok(Some(r));
        }
    };
    let started = now_ms();
    let timeout = Duration::from_millis(u64::try_from(m.timeout_ms).unwrap_or(10_000));
    let r = clients.run(&checked, timeout, m.insecure).await;
    metrics::gauge!("opsdesk_check_up", "check" => m.name.clone()).set(if r.ok {
        1.0
    } else {
        0.0
    });
    metrics::gauge!("opsdesk_check_response_seconds", "check" => m.name.clone())
        .set(r.ms as f64 / 1000.0);
    metrics::histogram!("opsdesk_check_drift_seconds")
        .record((started - scheduled).max(0) as f64 / 1000.0);
    service::record_run(db, id, scheduled, started, &r).await?;
    Ok(Some(r))
}

/// Claims and starts every due monitor; returns how many were started.
pub async fn tick(
    db: &Db,
    clients: &Arc<Clients>,
    permits: &Arc<Semaphore>,
    now: i64,
) -> Result<usize, AppError> {
    let mut started = 0;
    for (id, due, interval_s) in store::due(db, now, 1_000).await? {
        let next = next_after(due, interval_s * 1000, now);
        if !store::claim(db, &id, due, next).await? {
            continue;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let (db, clients) = (db.clone(), clients.clone());
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = run_one(&db, &clients, &id, due).await {
                e.log();
            }
        });
        started += 1;
    }
    Ok(started)
}

/// Runs [`tick`] every 200 ms while this instance leads, until shutdown.
pub async fn run(
    db: Db,
    leadership: Leadership,
    clients: Arc<Clients>,
    concurrency: usize,
    results_days: i64,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut last_prune = 0;
    loop {
        if leadership.is_leader() {
            let now = now_ms();
            if let Err(e) = tick(&db, &clients, &permits, now).await {
                tracing::warn!(error = %e.message, "monitor scheduling failed");
            }
            if now - last_prune > 3_600_000 {
                last_prune = now;
                match store::prune(&db, now - results_days.max(1) * 86_400_000).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(gone = n, "old monitor results pruned"),
                    Err(e) => tracing::warn!(error = %e, "cannot prune monitor results"),
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_times_stay_on_the_grid() {
        assert_eq!(next_after(1_000, 30_000, 1_500), 31_000);
        // Far behind (a restart): the next time after now, on the same grid.
        assert_eq!(next_after(1_000, 30_000, 100_000), 121_000);
        assert_eq!(next_after(1_000, 30_000, 31_000), 61_000);
    }
}
