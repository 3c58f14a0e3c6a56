//! The job table: enqueue inside the caller's transaction, claim with a lease, finish or retry.

use serde::Serialize;
use sqlx::Row as _;

use super::rules::{AfterFailure, after_failure};
use crate::clock::{new_id, now_ms};
use crate::db::{Backend, Db, Pipeline, Tx};

/// A job to be queued.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    /// Jobs with the same key are queued once (e.g. one periodic run per interval).
    pub dedupe_key: Option<String>,
    pub run_at: i64,
    pub max_attempts: i64,
}

impl NewJob {
    pub fn now(kind: &str, payload: serde_json::Value) -> NewJob {
        NewJob {
            kind: kind.into(),
            payload,
            dedupe_key: None,
            run_at: now_ms(),
            max_attempts: 8,
        }
    }
}

/// Queues a job in the caller's transaction, so it exists exactly when the change that caused it
/// does. Returns false when a job with the same dedupe key already exists.
pub async fn enqueue(tx: &mut Tx, job: &NewJob) -> Result<bool, sqlx::Error> {
    let mut p = Pipeline::new();
    push_enqueue(&mut p, job);
    Ok(p.run(tx).await?.first().is_some_and(|o| o.affected == 1))
}

const ENQUEUE: &str = "INSERT INTO jobs (id, kind, payload, dedupe_key, state, attempts, max_attempts, run_at, created_at) \
     VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $7) ON CONFLICT (dedupe_key) DO NOTHING";

/// [`enqueue`] as one statement of a pipeline (whether a same-key job existed is not reported).
pub fn push_enqueue(p: &mut Pipeline, job: &NewJob) {
    p.push(ENQUEUE)
        .bind(new_id())
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(job.dedupe_key.as_deref())
        .bind(job.max_attempts)
        .bind(job.run_at)
        .bind(now_ms());
}

/// A job this worker holds a lease on.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
    pub max_attempts: i64,
}

const CLAIM_SQLITE: &str = "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until = $1, locked_by = $2 \
     WHERE id IN (SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= $3) OR (state = 'running' AND locked_until < $3) \
                  ORDER BY run_at, id LIMIT $4) \
     RETURNING id, kind, payload, attempts, max_attempts";
// The chosen ids are materialized: a subquery the planner re-ran per row could skip other
// rows each time (SKIP LOCKED) and claim more than LIMIT.
const CLAIM_POSTGRES: &str = "WITH picked AS MATERIALIZED (SELECT id FROM jobs \
       WHERE (state = 'queued' AND run_at <= $3) OR (state = 'running' AND locked_until < $3) \
       ORDER BY run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
     UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until = $1, locked_by = $2 \
     FROM picked WHERE jobs.id = picked.id \
     RETURNING jobs.id, jobs.kind, jobs.payload, jobs.attempts, jobs.max_attempts";

/// Claims the oldest due job (or one whose lease ran out because its worker died).
pub async fn claim(db: &Db, worker: &str, lease_ms: i64) -> Result<Option<Claimed>, sqlx::Error> {
    Ok(claim_many(db, worker, lease_ms, 1)
        .await?
        .into_iter()
        .next())
}

/// Claims up to `limit` of the oldest due jobs in one statement.
/// On PostgreSQL `SKIP LOCKED` lets many instances claim side by side; on SQLite the claim joins
/// the group commit (one writer, so claims never race), like the jobs' completions.
pub async fn claim_many(
    db: &Db,
    worker: &str,
    lease_ms: i64,
    limit: usize,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let now = now_ms();
    let limit = i64::try_from(limit.max(1)).unwrap_or(1);
    let rows = db
        .batched_query(
            db.backend().pick(CLAIM_SQLITE, CLAIM_POSTGRES),
            vec![
                (now + lease_ms).into(),
                worker.into(),
                now.into(),
                limit.into(),
            ],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Claimed {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
                max_attempts: r.try_get("max_attempts")?,
            })
        })
        .collect()
}

/// Marks this attempt done (a run whose lease ran out and whose job was claimed again changes
/// nothing).
pub async fn complete(db: &Db, job: &Claimed, worker: &str) -> Result<(), sqlx::Error> {
    db.batched_query(
        "UPDATE jobs SET state = 'done', finished_at = $1, locked_until = NULL \
         WHERE id = $2 AND locked_by = $3 AND state = 'running' AND attempts = $4",
        vec![
            now_ms().into(),
            job.id.as_str().into(),
            worker.into(),
            job.attempts.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Records a failed attempt: queued again with backoff, or dead after the last attempt.
pub async fn fail(
    db: &Db,
    job: &Claimed,
    worker: &str,
    error: &str,
) -> Result<AfterFailure, sqlx::Error> {
    let now = now_ms();
    let next = after_failure(job.attempts, job.max_attempts, now);
    let (state, run_at, finished) = match next {
        AfterFailure::RetryAt(at) => ("queued", at, None),
        AfterFailure::Dead => ("dead", now, Some(now)),
    };
    let error: String = error.chars().take(2000).collect();
    db.batched_query(
        "UPDATE jobs SET state = $1, run_at = $2, finished_at = $3, last_error = $4, locked_until = NULL \
         WHERE id = $5 AND locked_by = $6 AND state = 'running' AND attempts = $7",
        vec![
            state.into(),
            run_at.into(),
            finished.into(),
            error.into(),
            job.id.as_str().into(),
            worker.into(),
            job.attempts.into(),
        ],
    )
    .await?;
    Ok(next)
}

/// A job as shown to admins.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub id: String,
    pub kind: String,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub locked_by: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

pub async fn list(
    db: &Db,
    state: &str,
    before_created: i64,
    limit: i64,
) -> Result<Vec<JobView>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, kind, state, attempts, max_attempts, run_at, locked_by, last_error, created_at, finished_at FROM jobs \
         WHERE ($1 = '' OR state = $1) AND ($2 = 0 OR created_at < $2) ORDER BY created_at DESC LIMIT $3",
    )
    .bind(state)
    .bind(before_created)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(JobView {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                state: r.try_get("state")?,
                attempts: r.try_get("attempts")?,
                max_attempts: r.try_get("max_attempts")?,
                run_at: r.try_get("run_at")?,
                locked_by: r.try_get("locked_by")?,
                last_error: r.try_get("last_error")?,
                created_at: r.try_get("created_at")?,
                finished_at: r.try_get("finished_at")?,
            })
        })
        .collect()
}

pub async fn find(db: &Db, id: &str) -> Result<Option<JobView>, sqlx::Error> {
    let rows = sqlx::query_scalar::<_, i64>("SELECT created_at FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    let Some(created) = rows else { return Ok(None) };
    Ok(list(db, "", created + 1, 50)
        .await?
        .into_iter()
        .find(|j| j.id == id))
}

/// Puts a dead job back in the queue with a fresh attempt budget.
pub async fn retry(tx: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $1, finished_at = NULL, locked_by = NULL WHERE id = $2 AND state = 'dead'",
    )
    .bind(now_ms())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Queue figures for health and metrics.
#[derive(Clone, Copy, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct QueueStats {
    /// Jobs waiting or being retried.
    pub queued: i64,
    pub running: i64,
    pub dead: i64,
    /// How long the oldest due job has been waiting, in milliseconds.
    pub lag_ms: i64,
}

pub async fn stats(db: &Db) -> Result<QueueStats, sqlx::Error> {
    let now = now_ms();
    let rows =
        sqlx::query("SELECT state, COUNT(*) AS n FROM jobs WHERE state <> 'done' GROUP BY state")
            .fetch_all(db.read())
            .await?;
    let mut s = QueueStats::default();
    for r in rows {
        let n: i64 = r.try_get("n")?;
        match r.try_get::<String, _>("state")?.as_str() {
            "queued" => s.queued = n,
            "running" => s.running = n,
            "dead" => s.dead = n,
            _ => {}
        }
    }
    let oldest: Option<i64> =
        sqlx::query_scalar("SELECT MIN(run_at) FROM jobs WHERE state = 'queued' AND run_at <= $1")
            .bind(now)
            .fetch_one(db.read())
            .await?;
    s.lag_ms = oldest.map(|t| (now - t).max(0)).unwrap_or(0);
    Ok(s)
}

/// Deletes finished jobs older than `keep_ms` (dead ones stay for people to look at).
pub async fn prune_done(db: &Db, keep_ms: i64) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM jobs WHERE state = 'done' AND finished_at < $1")
        .bind(now_ms() - keep_ms)
        .execute(db.write())
        .await?;
    Ok(r.rows_affected())
}

/// How many attempts each job took, for checking "ran exactly once" across instances.
pub async fn attempts_by_kind(
    db: &Db,
    kind: &str,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, state, attempts FROM jobs WHERE kind = $1 ORDER BY id")
        .bind(kind)
        .fetch_all(db.read())
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("state")?,
                r.try_get("attempts")?,
            ))
        })
        .collect()
}

/// Which backend-specific claim statement is in use (for the docs page and tests).
pub fn claim_sql(backend: Backend) -> &'static str {
    backend.pick(CLAIM_SQLITE, CLAIM_POSTGRES)
}
