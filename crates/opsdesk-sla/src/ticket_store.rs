//! Tickets' SLA state in the database (SQL only): what a new ticket starts under, and its row.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row as _};

use crate::deadlines::{Deadlines, TargetsMs};
use crate::policy::Targets;
use opsdesk_core::db::{Backend, Pipeline, Tx};

/// What a new ticket of a requester starts under: their tier (own, organization's or default),
/// its calendar and its targets for the ticket's priority.
pub struct StartInfo {
    pub tier_id: String,
    pub ticket_sla: bool,
    pub calendar_id: Option<String>,
    pub calendar_spec: Option<String>,
    pub warn_percent: i64,
    pub targets: Targets,
}

/// The tier, calendar and targets a requester's new ticket starts under (`$1` the requester,
/// `$2` the priority), for the two ways a requester is known.
macro_rules! start_info_sql {
    ($requester:literal) => {
        concat!(
            "SELECT t.id, t.ticket_sla, t.calendar_id, c.spec, t.warn_percent, \
             g.first_response_minutes, g.next_response_minutes, g.resolution_minutes \
             FROM users u LEFT JOIN organizations o ON o.id = u.organization_id \
             JOIN sla_tiers t ON t.id = COALESCE(u.tier_id, o.tier_id, \
               (SELECT d.id FROM sla_tiers d WHERE d.is_default = 1 ORDER BY d.position LIMIT 1)) \
             LEFT JOIN sla_calendars c ON c.id = t.calendar_id \
             LEFT JOIN sla_targets g ON g.tier_id = t.id AND g.priority = $2 \
             WHERE ",
            $requester
        )
    };
}

pub async fn start_info(
    tx: &mut Tx,
    requester_id: &str,
    priority: i64,
) -> Result<Option<StartInfo>, sqlx::Error> {
    let row = sqlx::query(start_info_sql!("u.id = $1"))
        .bind(requester_id)
        .bind(priority)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| start_info_from(&r)).transpose()
}

/// [`start_info`] by the requester's email, as one statement of a pipeline (read back with
/// [`start_info_of`]).
pub fn push_start_info(p: &mut Pipeline, requester_email: &str, priority: i64) {
    p.push(start_info_sql!("u.email = $1"))
        .bind(requester_email)
        .bind(priority);
}

pub fn start_info_of(rows: &[AnyRow]) -> Result<Option<StartInfo>, sqlx::Error> {
    rows.first().map(start_info_from).transpose()
}

fn start_info_from(r: &AnyRow) -> Result<StartInfo, sqlx::Error> {
    Ok(StartInfo {
        tier_id: r.try_get("id")?,
        ticket_sla: r.try_get::<i64, _>("ticket_sla")? != 0,
        calendar_id: r.try_get("calendar_id")?,
        calendar_spec: r.try_get("spec")?,
        warn_percent: r.try_get("warn_percent")?,
        targets: Targets {
            first_response_minutes: r.try_get("first_response_minutes")?,
            next_response_minutes: r.try_get("next_response_minutes")?,
            resolution_minutes: r.try_get("resolution_minutes")?,
        },
    })
}

/// A tier's policy for one priority (what [`start_info`] finds through the requester).
pub async fn tier_policy(
    tx: &mut Tx,
    tier_id: &str,
    priority: i64,
) -> Result<Option<StartInfo>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT t.id, t.ticket_sla, t.calendar_id, c.spec, t.warn_percent, \
         g.first_response_minutes, g.next_response_minutes, g.resolution_minutes \
         FROM sla_tiers t LEFT JOIN sla_calendars c ON c.id = t.calendar_id \
         LEFT JOIN sla_targets g ON g.tier_id = t.id AND g.priority = $2 WHERE t.id = $1",
    )
    .bind(tier_id)
    .bind(priority)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| start_info_from(&r)).transpose()
}

/// A ticket's SLA row, with its calendar's spec.
pub struct SlaRow {
    pub ticket_id: String,
    pub tier_id: String,
    pub calendar_id: Option<String>,
    pub calendar_spec: Option<String>,
    pub priority: i64,
    pub warn_percent: i64,
    pub targets: TargetsMs,
    /// JSON of [`crate::clock::TicketClocks`].
    pub clocks: String,
}

const SELECT: &str = "SELECT s.ticket_id, s.tier_id, s.calendar_id, c.spec, s.priority, \
     s.warn_percent, s.first_target_ms, s.next_target_ms, s.resolution_target_ms, s.clocks \
     FROM ticket_sla s LEFT JOIN sla_calendars c ON c.id = s.calendar_id WHERE s.ticket_id = $1";

fn from_row(r: &AnyRow) -> Result<SlaRow, sqlx::Error> {
    Ok(SlaRow {
        ticket_id: r.try_get("ticket_id")?,
        tier_id: r.try_get("tier_id")?,
        calendar_id: r.try_get("calendar_id")?,
        calendar_spec: r.try_get("spec")?,
        priority: r.try_get("priority")?,
        warn_percent: r.try_get("warn_percent")?,
        targets: TargetsMs {
            first_response: r.try_get("first_target_ms")?,
            next_response: r.try_get("next_target_ms")?,
            resolution: r.try_get("resolution_target_ms")?,
        },
        clocks: r.try_get("clocks")?,
    })
}

pub async fn load<'e, E>(ex: E, ticket_id: &str) -> Result<Option<SlaRow>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(SELECT)
        .bind(ticket_id)
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Adds `sql` with a whole row bound in column order: ticket, tier, calendar, priority, warning
/// share, the three targets, clocks, the three deadlines, due_at, timer_at, updated_at.
fn push_row(p: &mut Pipeline, sql: &'static str, row: &SlaRow, d: &Deadlines, now: i64) {
    p.push(sql)
        .bind(&row.ticket_id)
        .bind(&row.tier_id)
        .bind(row.calendar_id.as_deref())
        .bind(row.priority)
        .bind(row.warn_percent)
        .bind(row.targets.first_response)
        .bind(row.targets.next_response)
        .bind(row.targets.resolution)
        .bind(&row.clocks)
        .bind(d.first_response)
        .bind(d.next_response)
        .bind(d.resolution)
        .bind(d.due_at)
        .bind(d.timer_at)
        .bind(now);
}

/// A new ticket's row, as one statement of a pipeline.
pub fn push_insert(p: &mut Pipeline, row: &SlaRow, d: &Deadlines, now: i64) {
    push_row(
        p,
        "INSERT INTO ticket_sla (ticket_id, tier_id, calendar_id, priority, warn_percent, \
         first_target_ms, next_target_ms, resolution_target_ms, clocks, first_due_at, next_due_at, \
         resolution_due_at, due_at, timer_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        row,
        d,
        now,
    );
}

pub async fn update(
    tx: &mut Tx,
    ticket_id: &str,
    clocks: &str,
    d: &Deadlines,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE ticket_sla SET clocks = $2, first_due_at = $3, next_due_at = $4, \
         resolution_due_at = $5, due_at = $6, timer_at = $7, updated_at = $8 WHERE ticket_id = $1",
    )
    .bind(ticket_id)
    .bind(clocks)
    .bind(d.first_response)
    .bind(d.next_response)
    .bind(d.resolution)
    .bind(d.due_at)
    .bind(d.timer_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Tickets with a warning or breach due by `now`, earliest first: (ticket id, number).
pub async fn due_timers(
    db: &opsdesk_core::db::Db,
    now: i64,
    limit: i64,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT s.ticket_id, t.number FROM ticket_sla s JOIN tickets t ON t.id = s.ticket_id \
         WHERE s.timer_at <= $1 ORDER BY s.timer_at, t.number LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("ticket_id")?, r.try_get("number")?)))
        .collect()
}

/// Serves a ticket under a new policy: its tier, calendar, priority, targets, clocks and
/// deadlines at once.
pub async fn update_policy(
    tx: &mut Tx,
    row: &SlaRow,
    d: &Deadlines,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut p = Pipeline::new();
    push_row(
        &mut p,
        "UPDATE ticket_sla SET tier_id = $2, calendar_id = $3, priority = $4, warn_percent = $5, \
         first_target_ms = $6, next_target_ms = $7, resolution_target_ms = $8, clocks = $9, \
         first_due_at = $10, next_due_at = $11, resolution_due_at = $12, due_at = $13, \
         timer_at = $14, updated_at = $15 WHERE ticket_id = $1",
        row,
        d,
        now,
    );
    p.execute(tx).await
}

/// One open ticket of a tier, as a policy change needs it.
pub struct OpenRow {
    pub ticket_id: String,
    pub priority: i64,
    pub calendar_id: Option<String>,
    pub warn_percent: i64,
    pub targets: TargetsMs,
    pub clocks: String,
    pub deadlines: Deadlines,
}

/// Which open tickets a policy change reaches.
#[derive(Clone, Copy)]
pub enum OpenOf {
    Tier,
    Calendar,
}

/// Up to `limit` open (not resolved or closed) tickets served under a tier or counting in a
/// calendar (`key`), after `after` in ticket id order, locked for the policy change on
/// PostgreSQL.
pub async fn open_where(
    tx: &mut Tx,
    backend: Backend,
    of: OpenOf,
    key: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<OpenRow>, sqlx::Error> {
    let column = match of {
        OpenOf::Tier => "s.tier_id",
        OpenOf::Calendar => "s.calendar_id",
    };
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE OF s",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "SELECT s.ticket_id, s.priority, s.calendar_id, s.warn_percent, s.first_target_ms, \
         s.next_target_ms, s.resolution_target_ms, s.clocks, s.first_due_at, s.next_due_at, \
         s.resolution_due_at, s.due_at, s.timer_at FROM ticket_sla s \
         JOIN tickets t ON t.id = s.ticket_id \
         WHERE {column} = $1 AND s.ticket_id > $2 AND t.state NOT IN ('resolved', 'closed') \
         ORDER BY s.ticket_id LIMIT $3{lock}"
    );
    // Only constant text is formatted in (the column and the lock clause).
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(key)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(OpenRow {
                ticket_id: r.try_get("ticket_id")?,
                priority: r.try_get("priority")?,
                calendar_id: r.try_get("calendar_id")?,
                warn_percent: r.try_get("warn_percent")?,
                targets: TargetsMs {
                    first_response: r.try_get("first_target_ms")?,
                    next_response: r.try_get("next_target_ms")?,
                    resolution: r.try_get("resolution_target_ms")?,
                },
                clocks: r.try_get("clocks")?,
                deadlines: Deadlines {
                    first_response: r.try_get("first_due_at")?,
                    next_response: r.try_get("next_due_at")?,
                    resolution: r.try_get("resolution_due_at")?,
                    due_at: r.try_get("due_at")?,
                    timer_at: r.try_get("timer_at")?,
                },
            })
        })
        .collect()
}

/// A ticket's new policy and deadlines, for [`update_many`].
pub struct Rebased {
    pub ticket_id: String,
    pub calendar_id: Option<String>,
    pub warn_percent: i64,
    pub targets: TargetsMs,
    pub clocks: String,
    pub d: Deadlines,
}

/// Columns of one [`Rebased`] row in [`update_many`]'s VALUES list.
const REBASED_COLUMNS: usize = 12;
/// Rows per statement: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
pub const UPDATE_MANY_ROWS: usize = 1_000;

/// Writes many tickets' new policy and deadlines with one statement per
/// [`UPDATE_MANY_ROWS`] rows (a policy change can touch tens of thousands of tickets).
pub async fn update_many(
    tx: &mut Tx,
    backend: Backend,
    rows: &[Rebased],
    now: i64,
) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        return update_many_postgres(tx, rows, now).await;
    }
    // Numbered parameters are looked up by name on SQLite when bound (quadratic in a statement
    // with 12,000 of them): it gets plain `?` in order.
    let param = |_: usize| "?".to_string();
    for chunk in rows.chunks(UPDATE_MANY_ROWS) {
        let mut values = String::new();
        for i in 0..chunk.len() {
            let p = |k: usize| param(i * REBASED_COLUMNS + k + 1);
            // Numbers are cast so PostgreSQL types the VALUES columns (NULLs included).
            values.push_str(&format!(
                "{}({}, {}, CAST({} AS BIGINT), CAST({} AS BIGINT), CAST({} AS BIGINT), \
                 CAST({} AS BIGINT), {}, CAST({} AS BIGINT), CAST({} AS BIGINT), \
                 CAST({} AS BIGINT), CAST({} AS BIGINT), CAST({} AS BIGINT))",
                if i == 0 { "" } else { ", " },
                p(0),
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7),
                p(8),
                p(9),
                p(10),
                p(11)
            ));
        }
        let sql = format!(
            "UPDATE ticket_sla SET calendar_id = v.column2, warn_percent = v.column3, \
             first_target_ms = v.column4, next_target_ms = v.column5, \
             resolution_target_ms = v.column6, clocks = v.column7, first_due_at = v.column8, \
             next_due_at = v.column9, resolution_due_at = v.column10, due_at = v.column11, \
             timer_at = v.column12, updated_at = {now} \
             FROM (VALUES {values}) AS v WHERE ticket_sla.ticket_id = v.column1"
        );
        // Only placeholders and a number are formatted in.
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for r in chunk {
            q = q
                .bind(&r.ticket_id)
                .bind(r.calendar_id.as_deref())
                .bind(r.warn_percent)
                .bind(r.targets.first_response)
                .bind(r.targets.next_response)
                .bind(r.targets.resolution)
                .bind(&r.clocks)
                .bind(r.d.first_response)
                .bind(r.d.next_response)
                .bind(r.d.resolution)
                .bind(r.d.due_at)
                .bind(r.d.timer_at);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// [`update_many`] on PostgreSQL: the rows go as one JSON parameter that the server unpacks
/// with `json_to_recordset` — one small statement, prepared once, instead of 12 parameters a
/// row in a VALUES list the server must parse and plan each time (arrays, PostgreSQL's usual
/// way, cannot be bound through sqlx's `Any` driver).
async fn update_many_postgres(tx: &mut Tx, rows: &[Rebased], now: i64) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(UPDATE_MANY_ROWS * 5) {
        let json: Vec<serde_json::Value> = chunk
            .iter()
            .map(|r| {
                serde_json::json!({
                    "i": r.ticket_id, "c": r.calendar_id, "w": r.warn_percent,
                    "f": r.targets.first_response, "n": r.targets.next_response,
                    "r": r.targets.resolution, "k": r.clocks,
                    "fd": r.d.first_response, "nd": r.d.next_response, "rd": r.d.resolution,
                    "d": r.d.due_at, "t": r.d.timer_at,
                })
            })
            .collect();
        sqlx::query(
            "UPDATE ticket_sla SET calendar_id = v.c, warn_percent = v.w, first_target_ms = v.f, \
             next_target_ms = v.n, resolution_target_ms = v.r, clocks = v.k, first_due_at = v.fd, \
             next_due_at = v.nd, resolution_due_at = v.rd, due_at = v.d, timer_at = v.t, \
             updated_at = $2 \
             FROM json_to_recordset($1::json) AS v(i text, c text, w bigint, f bigint, n bigint, \
             r bigint, k text, fd bigint, nd bigint, rd bigint, d bigint, t bigint) \
             WHERE ticket_sla.ticket_id = v.i",
        )
        .bind(serde_json::Value::Array(json).to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The specs of all calendars by id.
pub async fn calendar_specs(
    tx: &mut Tx,
) -> Result<std::collections::HashMap<String, String>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, spec FROM sla_calendars")
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("spec")?)))
        .collect()
}

/// How many open tickets are served under `tier_id`.
pub async fn count_open_of_tier(
    db: &opsdesk_core::db::Db,
    tier_id: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM ticket_sla s JOIN tickets t ON t.id = s.ticket_id \
         WHERE s.tier_id = $1 AND t.state NOT IN ('resolved', 'closed')",
    )
    .bind(tier_id)
    .fetch_one(db.read())
    .await
}

/// How many tickets have a warning or breach due by `at`.
pub async fn count_due(db: &opsdesk_core::db::Db, at: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM ticket_sla WHERE timer_at <= $1")
        .bind(at)
        .fetch_one(db.read())
        .await
}
