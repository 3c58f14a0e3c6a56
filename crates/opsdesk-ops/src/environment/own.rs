//! opsdesk's own facts for the dashboard: version, database size, job queue depth and lag,
//! memory and uptime — read live, not stored.

use serde_json::{Value, json};

use super::service::{App, Fact};
use opsdesk_core::clock::now_ms;
use opsdesk_core::db::Backend;
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;

fn rss_bytes() -> Option<i64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: i64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

async fn database_bytes(state: &AppState) -> Option<i64> {
    match state.db.backend() {
        Backend::Postgres => sqlx::query_scalar::<_, i64>(
            "SELECT CAST(pg_database_size(current_database()) AS BIGINT)",
        )
        .fetch_one(state.db.read())
        .await
        .ok(),
        Backend::Sqlite => {
            let path = opsdesk_core::db::sqlite_path(state.config.database_url().expose())?;
            let main = std::fs::metadata(&path).ok()?.len();
            let wal = std::fs::metadata(format!("{}-wal", path.display()))
                .map(|m| m.len())
                .unwrap_or(0);
            i64::try_from(main + wal).ok()
        }
    }
}

/// The facts of this opsdesk instance.
pub async fn facts(state: &AppState) -> Result<App, AppError> {
    let now = now_ms();
    let queue = opsdesk_core::jobs::store::stats(&state.db).await?;
    let mut facts: Vec<(&str, Value)> = vec![
        ("app.version", json!(env!("CARGO_PKG_VERSION"))),
        ("database.backend", json!(state.db.backend().name())),
        ("jobs.queued", json!(queue.queued)),
        ("jobs.dead", json!(queue.dead)),
        ("jobs.lag_ms", json!(queue.lag_ms)),
        ("process.uptime_s", json!(state.started.elapsed().as_secs())),
        ("instance.id", json!(state.instance_id.to_string())),
        ("instance.leader", json!(state.leadership.is_leader())),
    ];
    if let Some(b) = database_bytes(state).await {
        facts.push(("database.size_bytes", json!(b)));
    }
    if let Some(b) = rss_bytes() {
        facts.push(("process.memory_rss_bytes", json!(b)));
    }
    facts.sort_by(|a, b| a.0.cmp(b.0));
    Ok(App {
        app: "opsdesk".into(),
        facts: facts
            .into_iter()
            .map(|(k, v)| Fact {
                key: k.to_string(),
                value: v,
                updated: now,
                broken: Vec::new(),
            })
            .collect(),
        last_report: now,
        warning: queue.dead > 0,
    })
}
