//! Monitors, their results and daily rollups in the database (SQL only).

use sqlx::Row as _;
use sqlx::any::AnyRow;

use opsdesk_core::db::{Backend, Db, Tx, flag};

/// A monitor as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorRow {
    pub id: String,
    pub name: String,
    pub tags: String,
    /// The checked steps as JSON.
    pub steps: String,
    pub interval_s: i64,
    pub timeout_ms: i64,
    pub failure_threshold: i64,
    pub success_threshold: i64,
    pub insecure: bool,
    pub status: String,
    pub fails: i64,
    pub passes: i64,
    pub next_run: Option<i64>,
    pub last_run: Option<i64>,
    pub last_ok: Option<bool>,
    pub last_ms: Option<i64>,
    pub last_error: Option<String>,
    pub created: i64,
}

const COLUMNS: &str = "id, name, tags, steps, interval_s, timeout_ms, failure_threshold, \
    success_threshold, insecure, status, fails, passes, next_run, last_run, last_ok, last_ms, \
    last_error, created";

fn from_row(r: &AnyRow) -> Result<MonitorRow, sqlx::Error> {
    Ok(MonitorRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        tags: r.try_get("tags")?,
        steps: r.try_get("steps")?,
        interval_s: r.try_get("interval_s")?,
        timeout_ms: r.try_get("timeout_ms")?,
        failure_threshold: r.try_get("failure_threshold")?,
        success_threshold: r.try_get("success_threshold")?,
        insecure: r.try_get::<i64, _>("insecure")? != 0,
        status: r.try_get("status")?,
        fails: r.try_get("fails")?,
        passes: r.try_get("passes")?,
        next_run: r.try_get("next_run")?,
        last_run: r.try_get("last_run")?,
        last_ok: r.try_get::<Option<i64>, _>("last_ok")?.map(|v| v != 0),
        last_ms: r.try_get("last_ms")?,
        last_error: r.try_get("last_error")?,
        created: r.try_get("created")?,
    })
}

pub async fn insert(tx: &mut Tx, m: &MonitorRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO monitors (id, name, tags, steps, interval_s, timeout_ms, failure_threshold, \
         success_threshold, insecure, status, fails, passes, next_run, created) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 0, $11, $12)",
    )
    .bind(&m.id)
    .bind(&m.name)
    .bind(&m.tags)
    .bind(&m.steps)
    .bind(m.interval_s)
    .bind(m.timeout_ms)
    .bind(m.failure_threshold)
    .bind(m.success_threshold)
    .bind(flag(m.insecure))
    .bind(&m.status)
    .bind(m.next_run)
    .bind(m.created)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Saves settings and status (not the last run's figures).
pub async fn update(tx: &mut Tx, m: &MonitorRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE monitors SET name = $2, tags = $3, steps = $4, interval_s = $5, timeout_ms = $6, \
         failure_threshold = $7, success_threshold = $8, insecure = $9, status = $10, fails = $11, \
         passes = $12, next_run = $13 WHERE id = $1",
    )
    .bind(&m.id)
    .bind(&m.name)
    .bind(&m.tags)
    .bind(&m.steps)
    .bind(m.interval_s)
    .bind(m.timeout_ms)
    .bind(m.failure_threshold)
    .bind(m.success_threshold)
    .bind(flag(m.insecure))
    .bind(&m.status)
    .bind(m.fails)
    .bind(m.passes)
    .bind(m.next_run)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: &str) -> Result<(), sqlx::Error> {
    for sql in [
        "DELETE FROM monitor_results WHERE monitor_id = $1",
        "DELETE FROM monitor_daily WHERE monitor_id = $1",
        "DELETE FROM hb_flips WHERE check_id = $1",
        "DELETE FROM hb_check_channels WHERE check_id = $1",
        "DELETE FROM monitors WHERE id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut **tx).await?;
    }
    Ok(())
}

pub async fn find(db: &Db, id: &str) -> Result<Option<MonitorRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM monitors WHERE id = $1");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    r.as_ref().map(from_row).transpose()
}

/// Whether a monitor with this id exists (inside a transaction).
pub async fn exists(tx: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM monitors WHERE id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(n > 0)
}

pub async fn find_for_update(
    tx: &mut Tx,
    backend: Backend,
    id: &str,
) -> Result<Option<MonitorRow>, sqlx::Error> {
    let lock = backend.pick("", " FOR UPDATE");
    let sql = format!("SELECT {COLUMNS} FROM monitors WHERE id = $1{lock}");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    r.as_ref().map(from_row).transpose()
}

pub async fn list(db: &Db) -> Result<Vec<MonitorRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM monitors ORDER BY LOWER(name), created");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(db.read())
        .await?;
    rows.iter().map(from_row).collect()
}

pub async fn count(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM monitors")
        .fetch_one(db.read())
        .await
}

/// Monitors due by `now`: (id, when it was due, interval in seconds).
pub async fn due(db: &Db, now: i64, limit: i64) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, next_run, interval_s FROM monitors WHERE next_run IS NOT NULL AND next_run <= $1 \
         ORDER BY next_run LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("next_run")?,
                r.try_get("interval_s")?,
            ))
        })
        .collect()
}

/// Moves a due monitor to its next time, if no one else did: true when this caller runs it.
pub async fn claim(db: &Db, id: &str, due: i64, next: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("UPDATE monitors SET next_run = $3 WHERE id = $1 AND next_run = $2")
        .bind(id)
        .bind(due)
        .bind(next)
        .execute(db.write())
        .await?;
    Ok(r.rows_affected() == 1)
}

/// One run's result.
#[derive(Clone, Debug)]
pub struct ResultRow {
    pub monitor_id: String,
    pub started: i64,
    pub scheduled: i64,
    pub ok: bool,
    pub response_ms: i64,
    pub status_code: Option<i64>,
    pub failed_step: Option<String>,
    pub error: Option<String>,
}

/// Records a result: the row, the day's rollup and the monitor's last-run figures and tally.
pub async fn record(
    tx: &mut Tx,
    r: &ResultRow,
    status: &str,
    fails: i64,
    passes: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO monitor_results (monitor_id, started, scheduled, ok, response_ms, status_code, \
         failed_step, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (monitor_id, started) DO NOTHING",
    )
    .bind(&r.monitor_id)
    .bind(r.started)
    .bind(r.scheduled)
    .bind(flag(r.ok))
    .bind(r.response_ms)
    .bind(r.status_code)
    .bind(r.failed_step.as_deref())
    .bind(r.error.as_deref())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO monitor_daily (monitor_id, day, total, ok, sum_ms) VALUES ($1, $2, 1, $3, $4) \
         ON CONFLICT (monitor_id, day) DO UPDATE SET total = monitor_daily.total + 1, \
         ok = monitor_daily.ok + excluded.ok, sum_ms = monitor_daily.sum_ms + excluded.sum_ms",
    )
    .bind(&r.monitor_id)
    .bind(r.started.div_euclid(86_400_000))
    .bind(flag(r.ok))
    .bind(r.response_ms)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE monitors SET status = $2, fails = $3, passes = $4, last_run = $5, last_ok = $6, \
         last_ms = $7, last_error = $8 WHERE id = $1",
    )
    .bind(&r.monitor_id)
    .bind(status)
    .bind(fails)
    .bind(passes)
    .bind(r.started)
    .bind(flag(r.ok))
    .bind(r.response_ms)
    .bind(r.error.as_deref())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A monitor's newest results, newest first.
pub async fn results(db: &Db, id: &str, limit: i64) -> Result<Vec<ResultRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT monitor_id, started, scheduled, ok, response_ms, status_code, failed_step, error \
         FROM monitor_results WHERE monitor_id = $1 ORDER BY started DESC LIMIT $2",
    )
    .bind(id)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ResultRow {
                monitor_id: r.try_get("monitor_id")?,
                started: r.try_get("started")?,
                scheduled: r.try_get("scheduled")?,
                ok: r.try_get::<i64, _>("ok")? != 0,
                response_ms: r.try_get("response_ms")?,
                status_code: r.try_get("status_code")?,
                failed_step: r.try_get("failed_step")?,
                error: r.try_get("error")?,
            })
        })
        .collect()
}

/// (runs, passed runs) since `from`: from results for the last day, from rollups beyond.
pub async fn tally_since(
    db: &Db,
    id: &str,
    from: i64,
    raw: bool,
) -> Result<(i64, i64), sqlx::Error> {
    let row = if raw {
        sqlx::query(
            "SELECT COUNT(*) AS total, CAST(COALESCE(SUM(ok), 0) AS BIGINT) AS ok FROM monitor_results \
             WHERE monitor_id = $1 AND started >= $2",
        )
        .bind(id)
        .bind(from)
        .fetch_one(db.read())
        .await?
    } else {
        sqlx::query(
            "SELECT CAST(COALESCE(SUM(total), 0) AS BIGINT) AS total, \
             CAST(COALESCE(SUM(ok), 0) AS BIGINT) AS ok FROM monitor_daily \
             WHERE monitor_id = $1 AND day >= $2",
        )
        .bind(id)
        .bind(from.div_euclid(86_400_000))
        .fetch_one(db.read())
        .await?
    };
    Ok((row.try_get("total")?, row.try_get("ok")?))
}

/// Daily (day, runs, passed) for the last `days` days.
pub async fn daily(db: &Db, id: &str, from_day: i64) -> Result<Vec<(i64, i64, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT day, total, ok FROM monitor_daily WHERE monitor_id = $1 AND day >= $2 ORDER BY day",
    )
    .bind(id)
    .bind(from_day)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("day")?, r.try_get("total")?, r.try_get("ok")?)))
        .collect()
}

/// How late runs started after they were due since `from`: every drift in ms, sorted.
pub async fn drifts(db: &Db, from: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT started - scheduled FROM monitor_results WHERE started >= $1 ORDER BY 1",
    )
    .bind(from)
    .fetch_all(db.read())
    .await
}

/// Forgets results older than `before` (rollups stay).
pub async fn prune(db: &Db, before: i64) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM monitor_results WHERE started < $1")
        .bind(before)
        .execute(db.write())
        .await?;
    Ok(r.rows_affected())
}
