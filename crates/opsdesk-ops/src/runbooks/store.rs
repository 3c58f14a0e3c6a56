//! Ops runs and their live output chunks in the database (SQL only). State moves are
//! conditional updates, so of two instances racing for one approved run exactly one wins.

use sqlx::Row as _;
use sqlx::any::AnyRow;

use opsdesk_core::db::{Db, Tx};

#[derive(Clone, Debug, Default)]
pub struct RunRow {
    pub id: String,
    pub action: String,
    pub kind: String,
    pub params: String,
    pub argv: String,
    pub ticket_id: Option<String>,
    pub incident_id: Option<String>,
    pub justification: String,
    pub requested_by: String,
    pub requested_at: i64,
    pub state: String,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    pub approval_expires: Option<i64>,
    pub override_reason: Option<String>,
    pub override_by: Option<String>,
    pub undo_of: Option<String>,
    pub undone_by: Option<String>,
    pub runner: Option<String>,
    pub heartbeat: Option<i64>,
    pub started_at: Option<i64>,
    /// Impersonation: when it ends by itself.
    pub ends_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub exit_code: Option<i64>,
    pub output: String,
    pub total_bytes: i64,
    pub truncated: bool,
    pub updated: i64,
}

const RUN: &str = "id, action, kind, params, argv, ticket_id, incident_id, justification, \
    requested_by, requested_at, state, approved_by, approved_at, approval_expires, override_reason, \
    override_by, undo_of, undone_by, runner, heartbeat, started_at, ends_at, finished_at, exit_code, \
    output, total_bytes, truncated, updated";

fn run_from(r: &AnyRow) -> Result<RunRow, sqlx::Error> {
    Ok(RunRow {
        id: r.try_get("id")?,
        action: r.try_get("action")?,
        kind: r.try_get("kind")?,
        params: r.try_get("params")?,
        argv: r.try_get("argv")?,
        ticket_id: r.try_get("ticket_id")?,
        incident_id: r.try_get("incident_id")?,
        justification: r.try_get("justification")?,
        requested_by: r.try_get("requested_by")?,
        requested_at: r.try_get("requested_at")?,
        state: r.try_get("state")?,
        approved_by: r.try_get("approved_by")?,
        approved_at: r.try_get("approved_at")?,
        approval_expires: r.try_get("approval_expires")?,
        override_reason: r.try_get("override_reason")?,
        override_by: r.try_get("override_by")?,
        undo_of: r.try_get("undo_of")?,
        undone_by: r.try_get("undone_by")?,
        runner: r.try_get("runner")?,
        heartbeat: r.try_get("heartbeat")?,
        started_at: r.try_get("started_at")?,
        ends_at: r.try_get("ends_at")?,
        finished_at: r.try_get("finished_at")?,
        exit_code: r.try_get("exit_code")?,
        output: r.try_get("output")?,
        total_bytes: r.try_get("total_bytes")?,
        truncated: r.try_get::<i64, _>("truncated")? != 0,
        updated: r.try_get("updated")?,
    })
}

pub async fn insert(tx: &mut Tx, r: &RunRow) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO ops_runs ({RUN}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&r.id)
        .bind(&r.action)
        .bind(&r.kind)
        .bind(&r.params)
        .bind(&r.argv)
        .bind(r.ticket_id.as_deref())
        .bind(r.incident_id.as_deref())
        .bind(&r.justification)
        .bind(&r.requested_by)
        .bind(r.requested_at)
        .bind(&r.state)
        .bind(r.approved_by.as_deref())
        .bind(r.approved_at)
        .bind(r.approval_expires)
        .bind(r.override_reason.as_deref())
        .bind(r.override_by.as_deref())
        .bind(r.undo_of.as_deref())
        .bind(r.undone_by.as_deref())
        .bind(r.runner.as_deref())
        .bind(r.heartbeat)
        .bind(r.started_at)
        .bind(r.ends_at)
        .bind(r.finished_at)
        .bind(r.exit_code)
        .bind(&r.output)
        .bind(r.total_bytes)
        .bind(i64::from(r.truncated))
        .bind(r.updated)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn find(db: &Db, id: &str) -> Result<Option<RunRow>, sqlx::Error> {
    let sql = format!("SELECT {RUN} FROM ops_runs WHERE id = $1");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    r.as_ref().map(run_from).transpose()
}

/// Which runs a list shows.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub ticket_id: Option<String>,
    pub incident_id: Option<String>,
    /// Only these states (empty: all).
    pub states: Vec<String>,
    /// Runs requested before this time (the next page).
    pub before: Option<i64>,
    pub limit: i64,
}

/// Newest first.
pub async fn list(db: &Db, f: &Filter) -> Result<Vec<RunRow>, sqlx::Error> {
    let states = if f.states.is_empty() {
        String::new()
    } else {
        // States are checked against a fixed list before they get here.
        let list: Vec<String> = f.states.iter().map(|s| format!("'{s}'")).collect();
        format!("AND state IN ({})", list.join(", "))
    };
    let sql = format!(
        "SELECT {RUN} FROM ops_runs WHERE ($1 = '' OR ticket_id = $1) AND ($2 = '' OR incident_id = $2) \
         AND requested_at < $3 {states} ORDER BY requested_at DESC, id DESC LIMIT $4"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(f.ticket_id.as_deref().unwrap_or(""))
        .bind(f.incident_id.as_deref().unwrap_or(""))
        .bind(f.before.unwrap_or(i64::MAX))
        .bind(f.limit)
        .fetch_all(db.read())
        .await?;
    rows.iter().map(run_from).collect()
}

/// Approves a waiting run; false when it is not waiting any more.
pub async fn approve(
    tx: &mut Tx,
    id: &str,
    by: &str,
    now: i64,
    expires: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE ops_runs SET state = 'approved', approved_by = $2, approved_at = $3, \
         approval_expires = $4, updated = $3 WHERE id = $1 AND state = 'awaiting_approval'",
    )
    .bind(id)
    .bind(by)
    .bind(now)
    .bind(expires)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Takes an approved (or new, unapproved-needing) run to `running` for this instance; false
/// when someone else took it, it was used, or its approval ran out.
/// `ends_at` is set for an impersonation (when it ends by itself).
pub async fn claim(
    tx: &mut Tx,
    id: &str,
    from: &str,
    runner: &str,
    now: i64,
    ends_at: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE ops_runs SET state = 'running', runner = $3, heartbeat = $4, started_at = $4, \
         updated = $4, ends_at = $5 WHERE id = $1 AND state = $2 \
         AND (approval_expires IS NULL OR approval_expires > $4)",
    )
    .bind(id)
    .bind(from)
    .bind(runner)
    .bind(now)
    .bind(ends_at)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Approvals that ran out unused.
pub async fn lapsed(db: &Db, now: i64) -> Result<Vec<RunRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {RUN} FROM ops_runs WHERE state = 'approved' AND approval_expires <= $1 LIMIT 100"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .fetch_all(db.read())
        .await?;
    rows.iter().map(run_from).collect()
}

/// Marks a lapsed approval expired; false when it was used meanwhile.
pub async fn expire(tx: &mut Tx, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE ops_runs SET state = 'expired', updated = $2 WHERE id = $1 AND state = 'approved' \
         AND approval_expires <= $2",
    )
    .bind(id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// A run's state alone (for the live stream's polling).
pub async fn state_of(db: &Db, id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT state FROM ops_runs WHERE id = $1")
        .bind(id)
        .fetch_optional(db.read())
        .await
}

/// Records that the freeze was overridden for this run.
pub async fn set_override(
    tx: &mut Tx,
    id: &str,
    reason: &str,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE ops_runs SET override_reason = $2, override_by = $3 WHERE id = $1")
        .bind(id)
        .bind(reason)
        .bind(by)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Links an undo to the run it undoes; false when that run was already undone.
/// An earlier undo that came to nothing (expired, failed…) leaves the run undoable again.
pub async fn mark_undone(tx: &mut Tx, id: &str, by_run: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE ops_runs SET undone_by = $2 WHERE id = $1 AND state = 'succeeded' \
         AND (undone_by IS NULL OR undone_by IN (SELECT u.id FROM ops_runs u WHERE u.state IN \
         ('expired', 'failed', 'timed_out', 'could_not_start', 'interrupted')))",
    )
    .bind(id)
    .bind(by_run)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// The runner is alive.
pub async fn beat(db: &Db, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE ops_runs SET heartbeat = $2 WHERE id = $1 AND state = 'running'")
        .bind(id)
        .bind(now)
        .execute(db.write())
        .await?;
    Ok(())
}

/// How a run ended.
pub struct Finish<'a> {
    pub state: &'a str,
    pub exit_code: Option<i64>,
    pub output: &'a str,
    pub total_bytes: i64,
    pub truncated: bool,
    pub now: i64,
}

pub async fn finish(tx: &mut Tx, id: &str, f: &Finish<'_>) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE ops_runs SET state = $2, exit_code = $3, output = $4, total_bytes = $5, \
         truncated = $6, finished_at = $7, updated = $7 WHERE id = $1 AND state = 'running'",
    )
    .bind(id)
    .bind(f.state)
    .bind(f.exit_code)
    .bind(f.output)
    .bind(f.total_bytes)
    .bind(i64::from(f.truncated))
    .bind(f.now)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Runs whose runner has not been heard of since `before`: their server died.
pub async fn orphans(db: &Db, before: i64) -> Result<Vec<RunRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {RUN} FROM ops_runs WHERE state = 'running' AND kind <> 'impersonation' \
         AND heartbeat < $1 LIMIT 100"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(before)
        .fetch_all(db.read())
        .await?;
    rows.iter().map(run_from).collect()
}

/// Marks a run interrupted (its server died); false when it finished meanwhile.
pub async fn interrupt(tx: &mut Tx, id: &str, output: &str, now: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE ops_runs SET state = 'interrupted', output = $2, finished_at = $3, updated = $3 \
         WHERE id = $1 AND state = 'running'",
    )
    .bind(id)
    .bind(output)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn add_chunk(
    db: &Db,
    run_id: &str,
    seq: i64,
    now: i64,
    data: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO ops_run_chunks (run_id, seq, at, data) VALUES ($1, $2, $3, $4)")
        .bind(run_id)
        .bind(seq)
        .bind(now)
        .bind(data)
        .execute(db.write())
        .await?;
    Ok(())
}

/// Live output after `after` (seq), in order: (seq, data).
pub async fn chunks(db: &Db, run_id: &str, after: i64) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, data FROM ops_run_chunks WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT 500",
    )
    .bind(run_id)
    .bind(after)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("seq")?, r.try_get("data")?)))
        .collect()
}

/// Drops the live chunks of runs finished before `before` (their output is on the run).
pub async fn prune_chunks(db: &Db, before: i64) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "DELETE FROM ops_run_chunks WHERE run_id IN (SELECT id FROM ops_runs WHERE \
         finished_at IS NOT NULL AND finished_at < $1)",
    )
    .bind(before)
    .execute(db.write())
    .await?;
    Ok(r.rows_affected())
}

/// Ends a running impersonation; false when it had ended already.
pub async fn end_impersonation(
    tx: &mut Tx,
    id: &str,
    note: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE ops_runs SET state = 'succeeded', output = $2, finished_at = $3, updated = $3 \
         WHERE id = $1 AND state = 'running' AND kind = 'impersonation'",
    )
    .bind(id)
    .bind(note)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Impersonations whose time is up (or that never got an end).
pub async fn impersonations_over(db: &Db, now: i64) -> Result<Vec<RunRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {RUN} FROM ops_runs WHERE state = 'running' AND kind = 'impersonation' \
         AND (ends_at IS NULL OR ends_at <= $1) LIMIT 100"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .fetch_all(db.read())
        .await?;
    rows.iter().map(run_from).collect()
}
