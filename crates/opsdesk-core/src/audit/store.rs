//! Audit rows in the database: appending inside the caller's transaction, listing, verifying.

use futures::TryStreamExt as _;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::rules::{AuditEntry, AuditRecord, ChainBreak, Verifier};
use crate::clock::now_ms;
use crate::db::{Backend, Db, Pipeline, Tx};

const COLUMNS: &str =
    "seq, at, actor, action, target, summary, client_ip, request_id, prev_hash, hash";

/// Appends one record in `tx`. The head row is locked first, so concurrent writers (and other
/// instances on PostgreSQL) chain one after another instead of forking the chain.
pub async fn append(
    tx: &mut Tx,
    backend: Backend,
    entry: AuditEntry,
) -> Result<AuditRecord, sqlx::Error> {
    let mut head = Pipeline::new();
    push_head(&mut head, backend);
    let rows = head.rows(tx).await?;
    let mut chain = Chain::from_rows(&rows[0])?;
    let mut p = Pipeline::new();
    let record = chain.append(&mut p, entry);
    chain.finish(&mut p);
    p.execute(tx).await?;
    Ok(record)
}

/// Reads (and on PostgreSQL locks) the chain's head: the statement [`Chain::from_rows`] reads.
/// Put it last among a transaction's locks.
pub fn push_head(p: &mut Pipeline, backend: Backend) {
    p.push(backend.pick(
        "SELECT seq, hash FROM audit_head WHERE id = 1",
        "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
    ));
}

/// The chain's head as a transaction extends it: records are added to a pipeline, the head row
/// is written once at the end.
#[derive(Debug)]
pub struct Chain {
    seq: i64,
    hash: String,
}

impl Chain {
    /// The head read by [`push_head`].
    pub fn from_rows(rows: &[AnyRow]) -> Result<Chain, sqlx::Error> {
        let head = rows.first().ok_or(sqlx::Error::RowNotFound)?;
        Ok(Chain {
            seq: head.try_get("seq")?,
            hash: head.try_get("hash")?,
        })
    }

    /// Adds the next record.
    pub fn append(&mut self, p: &mut Pipeline, entry: AuditEntry) -> AuditRecord {
        let record = AuditRecord::chained(self.seq, &self.hash, now_ms(), entry);
        p.push(
            "INSERT INTO audit_log (seq, at, actor, action, target, summary, client_ip, request_id, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(record.seq)
        .bind(record.at)
        .bind(&record.actor)
        .bind(&record.action)
        .bind(&record.target)
        .bind(&record.summary)
        .bind(&record.client_ip)
        .bind(&record.request_id)
        .bind(&record.prev_hash)
        .bind(&record.hash);
        self.seq = record.seq;
        self.hash = record.hash.clone();
        record
    }

    /// Writes the new head.
    pub fn finish(self, p: &mut Pipeline) {
        p.push("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(self.seq)
            .bind(self.hash);
    }
}

fn from_row(row: &AnyRow) -> Result<AuditRecord, sqlx::Error> {
    Ok(AuditRecord {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        summary: row.try_get("summary")?,
        client_ip: row.try_get("client_ip")?,
        request_id: row.try_get("request_id")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// Filters for the audit list. Empty strings mean "any".
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub action: String,
    pub actor: String,
    pub target: String,
    /// Only records with `seq` below this (the cursor); 0 means from the newest.
    pub before_seq: i64,
}

/// Newest first, at most `limit` records.
pub async fn list(
    db: &Db,
    filter: &AuditFilter,
    limit: i64,
) -> Result<Vec<AuditRecord>, sqlx::Error> {
    const SQL: &str = "SELECT seq, at, actor, action, target, summary, client_ip, request_id, prev_hash, hash \
         FROM audit_log \
         WHERE ($1 = '' OR action = $1 OR action LIKE $2) AND ($3 = '' OR actor = $3) \
           AND ($4 = '' OR target = $4) AND ($5 = 0 OR seq < $5) \
         ORDER BY seq DESC LIMIT $6";
    debug_assert!(SQL.contains(COLUMNS));
    let rows = sqlx::query(SQL)
        .bind(&filter.action)
        .bind(format!("{}.%", filter.action))
        .bind(&filter.actor)
        .bind(&filter.target)
        .bind(filter.before_seq)
        .bind(limit)
        .fetch_all(db.read())
        .await?;
    rows.iter().map(from_row).collect()
}

/// The outcome of `opsdesk audit verify`.
#[derive(Debug)]
pub enum Verification {
    Intact { records: u64 },
    Broken(ChainBreak),
}

/// Walks the whole chain in order, streaming rows so memory stays flat on big logs.
pub async fn verify(db: &Db, mut progress: impl FnMut(u64)) -> Result<Verification, sqlx::Error> {
    let mut verifier = Verifier::default();
    let mut seen = 0u64;
    {
        let mut rows = sqlx::query(
            "SELECT seq, at, actor, action, target, summary, client_ip, request_id, prev_hash, hash \
             FROM audit_log ORDER BY seq",
        )
        .fetch(db.read());
        while let Some(row) = rows.try_next().await? {
            if let Err(e) = verifier.push(&from_row(&row)?) {
                return Ok(Verification::Broken(e));
            }
            seen += 1;
            if seen.is_multiple_of(1000) {
                progress(seen);
            }
        }
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(db.read())
        .await?;
    match verifier.finish(head.try_get("seq")?, &head.try_get::<String, _>("hash")?) {
        Ok(records) => Ok(Verification::Intact { records }),
        Err(e) => Ok(Verification::Broken(e)),
    }
}

/// Total number of records (for progress bars).
pub async fn count(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(db.read())
        .await
}
