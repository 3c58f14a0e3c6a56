//! Heartbeat checks in the database (SQL only; the rules are in `rules`, the transactions and
//! audit in `service` and `writer`; the ping log and flips are in `log_store`).

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row as _};

use super::model::{CronSchedule, Keywords, Period, Spec, Status};
use super::rules::{self, State};
use opsdesk_core::db::{Backend, Db, Tx, flag};

/// A check as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckRow {
    pub id: String,
    pub unique_key: String,
    pub name: String,
    pub slug: String,
    pub tags: String,
    pub descr: String,
    /// `simple` or `cron`.
    pub kind: String,
    pub timeout_s: i64,
    pub grace_s: i64,
    pub schedule: String,
    pub tz: String,
    pub methods: String,
    pub manual_resume: bool,
    pub start_kw: String,
    pub success_kw: String,
    pub failure_kw: String,
    pub filter_body: bool,
    pub status: String,
    pub last_ping: Option<i64>,
    pub last_start: Option<i64>,
    pub runs: String,
    pub last_duration_ms: Option<i64>,
    pub alert_after: Option<i64>,
    pub n_pings: i64,
    pub created: i64,
}

impl CheckRow {
    /// The rules' view of the settings. A stored schedule was checked when it was saved; should
    /// it fail to parse now (a time zone gone from the database), the period stands in.
    pub fn spec(&self) -> Spec {
        let period = if self.kind == "cron" {
            CronSchedule::cached(&self.schedule, &self.tz)
                .map(Period::Cron)
                .unwrap_or(Period::Every(self.timeout_s * 1000))
        } else {
            Period::Every(self.timeout_s * 1000)
        };
        Spec {
            period,
            grace_ms: self.grace_s * 1000,
            post_only: self.methods == "POST",
            manual_resume: self.manual_resume,
            keywords: self
                .filter_body
                .then(|| Keywords::parse(&self.start_kw, &self.success_kw, &self.failure_kw)),
        }
    }

    pub fn state(&self) -> State {
        State {
            status: Status::parse(&self.status),
            last_ping: self.last_ping,
            runs: rules::decode_runs(&self.runs),
            last_duration_ms: self.last_duration_ms,
            n_pings: self.n_pings,
        }
    }

    /// Takes a changed state and the deadline that follows from it.
    pub fn set_state(&mut self, spec: &Spec, state: &State) {
        self.status = state.status.as_str().to_string();
        self.last_ping = state.last_ping;
        self.last_start = state.last_start();
        self.runs = rules::encode_runs(&state.runs);
        self.last_duration_ms = state.last_duration_ms;
        self.n_pings = state.n_pings;
        self.alert_after = rules::going_down_after(spec, state);
    }
}

const COLUMNS: &str = "id, unique_key, name, slug, tags, descr, kind, timeout_s, grace_s, \
    schedule, tz, methods, manual_resume, start_kw, success_kw, failure_kw, filter_body, status, \
    last_ping, last_start, runs, last_duration_ms, alert_after, n_pings, created";

pub fn check_from(r: &AnyRow) -> Result<CheckRow, sqlx::Error> {
    Ok(CheckRow {
        id: r.try_get("id")?,
        unique_key: r.try_get("unique_key")?,
        name: r.try_get("name")?,
        slug: r.try_get("slug")?,
        tags: r.try_get("tags")?,
        descr: r.try_get("descr")?,
        kind: r.try_get("kind")?,
        timeout_s: r.try_get("timeout_s")?,
        grace_s: r.try_get("grace_s")?,
        schedule: r.try_get("schedule")?,
        tz: r.try_get("tz")?,
        methods: r.try_get("methods")?,
        manual_resume: r.try_get::<i64, _>("manual_resume")? != 0,
        start_kw: r.try_get("start_kw")?,
        success_kw: r.try_get("success_kw")?,
        failure_kw: r.try_get("failure_kw")?,
        filter_body: r.try_get::<i64, _>("filter_body")? != 0,
        status: r.try_get("status")?,
        last_ping: r.try_get("last_ping")?,
        last_start: r.try_get("last_start")?,
        runs: r.try_get("runs")?,
        last_duration_ms: r.try_get("last_duration_ms")?,
        alert_after: r.try_get("alert_after")?,
        n_pings: r.try_get("n_pings")?,
        created: r.try_get("created")?,
    })
}

pub async fn insert(tx: &mut Tx, c: &CheckRow) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO hb_checks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(&c.id)
        .bind(&c.unique_key)
        .bind(&c.name)
        .bind(&c.slug)
        .bind(&c.tags)
        .bind(&c.descr)
        .bind(&c.kind)
        .bind(c.timeout_s)
        .bind(c.grace_s)
        .bind(&c.schedule)
        .bind(&c.tz)
        .bind(&c.methods)
        .bind(flag(c.manual_resume))
        .bind(&c.start_kw)
        .bind(&c.success_kw)
        .bind(&c.failure_kw)
        .bind(flag(c.filter_body))
        .bind(&c.status)
        .bind(c.last_ping)
        .bind(c.last_start)
        .bind(&c.runs)
        .bind(c.last_duration_ms)
        .bind(c.alert_after)
        .bind(c.n_pings)
        .bind(c.created)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Saves everything but the id, unique key and creation time.
pub async fn update(tx: &mut Tx, c: &CheckRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE hb_checks SET name = $2, slug = $3, tags = $4, descr = $5, kind = $6, \
         timeout_s = $7, grace_s = $8, schedule = $9, tz = $10, methods = $11, \
         manual_resume = $12, start_kw = $13, success_kw = $14, failure_kw = $15, \
         filter_body = $16, status = $17, last_ping = $18, last_start = $19, runs = $20, \
         last_duration_ms = $21, alert_after = $22, n_pings = $23 WHERE id = $1",
    )
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.slug)
    .bind(&c.tags)
    .bind(&c.descr)
    .bind(&c.kind)
    .bind(c.timeout_s)
    .bind(c.grace_s)
    .bind(&c.schedule)
    .bind(&c.tz)
    .bind(&c.methods)
    .bind(flag(c.manual_resume))
    .bind(&c.start_kw)
    .bind(&c.success_kw)
    .bind(&c.failure_kw)
    .bind(flag(c.filter_body))
    .bind(&c.status)
    .bind(c.last_ping)
    .bind(c.last_start)
    .bind(&c.runs)
    .bind(c.last_duration_ms)
    .bind(c.alert_after)
    .bind(c.n_pings)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes a check with its log, flips and channel links.
pub async fn delete(tx: &mut Tx, id: &str) -> Result<(), sqlx::Error> {
    for sql in [
        "DELETE FROM hb_pings WHERE check_id = $1",
        "DELETE FROM hb_flips WHERE check_id = $1",
        "DELETE FROM hb_check_channels WHERE check_id = $1",
        "DELETE FROM hb_checks WHERE id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut **tx).await?;
    }
    Ok(())
}

pub async fn find(db: &Db, id: &str) -> Result<Option<CheckRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM hb_checks WHERE id = $1");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    row.as_ref().map(check_from).transpose()
}

pub async fn find_by_unique_key(db: &Db, key: &str) -> Result<Option<CheckRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM hb_checks WHERE unique_key = $1");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(db.read())
        .await?;
    row.as_ref().map(check_from).transpose()
}

/// A check read inside a transaction, locked against concurrent changes on PostgreSQL.
pub async fn find_for_update(
    tx: &mut Tx,
    backend: Backend,
    id: &str,
) -> Result<Option<CheckRow>, sqlx::Error> {
    let lock = backend.pick("", " FOR UPDATE");
    let sql = format!("SELECT {COLUMNS} FROM hb_checks WHERE id = $1{lock}");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(check_from).transpose()
}

/// The checks with these ids, or with these slugs, locked (on PostgreSQL in id order, so
/// two instances never wait on each other in a circle).
pub async fn many_for_update(
    tx: &mut Tx,
    backend: Backend,
    column: Keyed,
    keys: &[&str],
) -> Result<Vec<CheckRow>, sqlx::Error> {
    let mut out = Vec::with_capacity(keys.len());
    let lock = backend.pick("", " ORDER BY id FOR UPDATE");
    let column = match column {
        Keyed::Id => "id",
        Keyed::Slug => "slug",
    };
    for chunk in keys.chunks(500) {
        let list = placeholders(backend, 1, chunk.len());
        let sql = format!("SELECT {COLUMNS} FROM hb_checks WHERE {column} IN ({list}){lock}");
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for k in chunk {
            q = q.bind(*k);
        }
        for r in q.fetch_all(&mut **tx).await? {
            out.push(check_from(&r)?);
        }
    }
    Ok(out)
}

/// The ids of the checks with these slugs (no lock: the rows are locked by id next).
pub async fn ids_by_slug(
    tx: &mut Tx,
    backend: Backend,
    slugs: &[&str],
) -> Result<Vec<String>, sqlx::Error> {
    let mut out = Vec::new();
    for chunk in slugs.chunks(500) {
        let list = placeholders(backend, 1, chunk.len());
        let sql = format!("SELECT id FROM hb_checks WHERE slug IN ({list})");
        let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
        for k in chunk {
            q = q.bind(*k);
        }
        out.extend(q.fetch_all(&mut **tx).await?);
    }
    Ok(out)
}

/// Every alert channel's id (a check made by a slug ping notifies them all).
pub async fn all_channel_ids(tx: &mut Tx) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM alert_channels ORDER BY id")
        .fetch_all(&mut **tx)
        .await
}

/// Which column [`many_for_update`] looks in.
#[derive(Clone, Copy, Debug)]
pub enum Keyed {
    Id,
    Slug,
}

/// `n` placeholders from `first`: `?` on SQLite (looked up by position; numbered ones are
/// looked up by name when bound, which is quadratic in large statements), `$k` on PostgreSQL.
pub(crate) fn placeholders(backend: Backend, first: usize, n: usize) -> String {
    (first..first + n)
        .map(|k| match backend {
            Backend::Sqlite => "?".to_string(),
            Backend::Postgres => format!("${k}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Saves the state columns of many checks in one statement per 300.
pub async fn save_states(
    tx: &mut Tx,
    backend: Backend,
    rows: &[&CheckRow],
) -> Result<(), sqlx::Error> {
    const COLS: usize = 8;
    for chunk in rows.chunks(300) {
        let mut values = String::new();
        for i in 0..chunk.len() {
            let p: Vec<String> = (0..COLS)
                .map(|k| placeholders(backend, i * COLS + k + 1, 1))
                .collect();
            // Numbers are cast so PostgreSQL types the VALUES columns (NULLs included).
            values.push_str(&format!(
                "{}({}, {}, CAST({} AS BIGINT), CAST({} AS BIGINT), {}, CAST({} AS BIGINT), \
                 CAST({} AS BIGINT), CAST({} AS BIGINT))",
                if i == 0 { "" } else { ", " },
                p[0],
                p[1],
                p[2],
                p[3],
                p[4],
                p[5],
                p[6],
                p[7]
            ));
        }
        let sql = format!(
            "UPDATE hb_checks SET status = v.column2, last_ping = v.column3, \
             last_start = v.column4, runs = v.column5, last_duration_ms = v.column6, \
             alert_after = v.column7, n_pings = v.column8 \
             FROM (VALUES {values}) AS v WHERE hb_checks.id = v.column1"
        );
        // Only placeholders are formatted in.
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for c in chunk {
            q = q
                .bind(&c.id)
                .bind(&c.status)
                .bind(c.last_ping)
                .bind(c.last_start)
                .bind(&c.runs)
                .bind(c.last_duration_ms)
                .bind(c.alert_after)
                .bind(c.n_pings);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Filters of the check list.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// Every one of these tags.
    pub tags: Vec<String>,
    pub slug: Option<String>,
}

/// Checks by name (then creation), filtered in the database by slug and in Rust by tags
/// (tags are a space-separated list).
pub async fn list(db: &Db, f: &ListFilter) -> Result<Vec<CheckRow>, sqlx::Error> {
    let rows = match &f.slug {
        Some(slug) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM hb_checks WHERE slug = $1 ORDER BY LOWER(name), created"
            );
            sqlx::query(AssertSqlSafe(sql))
                .bind(slug)
                .fetch_all(db.read())
                .await?
        }
        None => {
            let sql = format!("SELECT {COLUMNS} FROM hb_checks ORDER BY LOWER(name), created");
            sqlx::query(AssertSqlSafe(sql)).fetch_all(db.read()).await?
        }
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let c = check_from(r)?;
        if f.tags
            .iter()
            .all(|t| c.tags.split_whitespace().any(|have| have == t))
        {
            out.push(c);
        }
    }
    Ok(out)
}

pub async fn count(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM hb_checks")
        .fetch_one(db.read())
        .await
}

/// Ids of checks whose deadline has passed and that are still watched.
pub async fn due(db: &Db, now: i64, limit: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM hb_checks WHERE alert_after IS NOT NULL AND alert_after <= $1 \
         ORDER BY alert_after LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db.read())
    .await
}

/// The channels a check notifies.
pub async fn channel_ids(db: &Db, check_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT channel_id FROM hb_check_channels WHERE check_id = $1 ORDER BY channel_id",
    )
    .bind(check_id)
    .fetch_all(db.read())
    .await
}

/// Replaces a check's channels.
pub async fn set_channels(tx: &mut Tx, check_id: &str, ids: &[String]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM hb_check_channels WHERE check_id = $1")
        .bind(check_id)
        .execute(&mut **tx)
        .await?;
    for id in ids {
        sqlx::query("INSERT INTO hb_check_channels (check_id, channel_id) VALUES ($1, $2)")
            .bind(check_id)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The ping key of slug URLs (`/ping/<key>/<slug>`), kept in the settings table.
pub const PING_KEY: &str = "heartbeats.ping_key";

pub async fn ping_key(tx: &mut Tx) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(PING_KEY)
        .fetch_optional(&mut **tx)
        .await
}

pub async fn read_ping_key(db: &Db) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(PING_KEY)
        .fetch_optional(db.read())
        .await
}

pub async fn set_ping_key(tx: &mut Tx, key: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(PING_KEY)
    .bind(key)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Every check's channel ids, by check.
pub async fn all_channel_links(
    db: &Db,
) -> Result<std::collections::HashMap<String, Vec<String>>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT check_id, channel_id FROM hb_check_channels ORDER BY channel_id")
            .fetch_all(db.read())
            .await?;
    let mut out: std::collections::HashMap<String, Vec<String>> = Default::default();
    for r in rows {
        out.entry(r.try_get("check_id")?)
            .or_default()
            .push(r.try_get("channel_id")?);
    }
    Ok(out)
}

pub use super::log_store::{
    FlipRow, PingRow, flips, insert_flip, insert_pings, ping, pings, prune_pings, recent_pings,
};
