//! A heartbeat check's ping log and flips in the database (SQL only).

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row as _};

use super::store::placeholders;
use opsdesk_core::db::{Backend, Db, Tx};

/// One line of a check's ping log.
#[derive(Clone, Debug)]
pub struct PingRow {
    pub check_id: String,
    pub n: i64,
    pub created: i64,
    pub kind: String,
    pub scheme: String,
    pub method: String,
    pub remote_addr: String,
    pub ua: String,
    pub body: Option<Vec<u8>>,
    pub body_size: i64,
    pub exitstatus: Option<i64>,
    pub rid: Option<String>,
    pub duration_ms: Option<i64>,
}

const PING_COLUMNS: &str = "check_id, n, created, kind, scheme, method, remote_addr, ua, body, \
    body_size, exitstatus, rid, duration_ms";

/// Inserts log lines, many per statement.
pub async fn insert_pings(
    tx: &mut Tx,
    backend: Backend,
    pings: &[PingRow],
) -> Result<(), sqlx::Error> {
    const COLS: usize = 13;
    for chunk in pings.chunks(400) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders(backend, i * COLS + 1, COLS)))
            .collect();
        let sql = format!(
            "INSERT INTO hb_pings ({PING_COLUMNS}) VALUES {}",
            values.join(", ")
        );
        // Only placeholders are formatted in.
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for p in chunk {
            q = q
                .bind(&p.check_id)
                .bind(p.n)
                .bind(p.created)
                .bind(&p.kind)
                .bind(&p.scheme)
                .bind(&p.method)
                .bind(&p.remote_addr)
                .bind(&p.ua)
                .bind(p.body.as_deref())
                .bind(p.body_size)
                .bind(p.exitstatus)
                .bind(p.rid.as_deref())
                .bind(p.duration_ms);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

fn ping_from(r: &AnyRow, with_body: bool) -> Result<PingRow, sqlx::Error> {
    Ok(PingRow {
        check_id: r.try_get("check_id")?,
        n: r.try_get("n")?,
        created: r.try_get("created")?,
        kind: r.try_get("kind")?,
        scheme: r.try_get("scheme")?,
        method: r.try_get("method")?,
        remote_addr: r.try_get("remote_addr")?,
        ua: r.try_get("ua")?,
        body: if with_body { r.try_get("body")? } else { None },
        body_size: r.try_get("body_size")?,
        exitstatus: r.try_get("exitstatus")?,
        rid: r.try_get("rid")?,
        duration_ms: r.try_get("duration_ms")?,
    })
}

/// A check's newest log lines, newest first, with `before` (a ping number) for older pages.
pub async fn pings(
    db: &Db,
    check_id: &str,
    before: Option<i64>,
    limit: i64,
    with_body: bool,
) -> Result<Vec<PingRow>, sqlx::Error> {
    let body = if with_body { "body" } else { "NULL AS body" };
    let sql = format!(
        "SELECT check_id, n, created, kind, scheme, method, remote_addr, ua, {body}, body_size, \
         exitstatus, rid, duration_ms FROM hb_pings WHERE check_id = $1 AND n < $2 \
         ORDER BY n DESC LIMIT $3"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(check_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(db.read())
        .await?;
    rows.iter().map(|r| ping_from(r, with_body)).collect()
}

/// One log line with its body.
pub async fn ping(db: &Db, check_id: &str, n: i64) -> Result<Option<PingRow>, sqlx::Error> {
    let sql = format!("SELECT {PING_COLUMNS} FROM hb_pings WHERE check_id = $1 AND n = $2");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(check_id)
        .bind(n)
        .fetch_optional(db.read())
        .await?;
    row.as_ref().map(|r| ping_from(r, true)).transpose()
}

/// Forgets log lines beyond the newest `keep` of each check; returns how many went. Each check
/// over its limit is trimmed by a range on the log's key, so the log is never scanned whole.
pub async fn prune_pings(db: &Db, keep: i64) -> Result<u64, sqlx::Error> {
    let over: Vec<(String, i64)> =
        sqlx::query("SELECT id, n_pings FROM hb_checks WHERE n_pings > $1")
            .bind(keep)
            .fetch_all(db.read())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("n_pings")?)))
            .collect::<Result<_, sqlx::Error>>()?;
    let mut gone = 0;
    for (id, n) in over {
        let r = sqlx::query("DELETE FROM hb_pings WHERE check_id = $1 AND n <= $2")
            .bind(&id)
            .bind(n - keep)
            .execute(db.write())
            .await?;
        gone += r.rows_affected();
    }
    Ok(gone)
}

/// A change of a check's stored status.
#[derive(Clone, Debug)]
pub struct FlipRow {
    pub id: String,
    pub check_id: String,
    pub created: i64,
    pub old_status: String,
    pub new_status: String,
    pub reason: String,
}

pub async fn insert_flip(tx: &mut Tx, f: &FlipRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO hb_flips (id, check_id, created, old_status, new_status, reason) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&f.id)
    .bind(&f.check_id)
    .bind(f.created)
    .bind(&f.old_status)
    .bind(&f.new_status)
    .bind(&f.reason)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A check's flips within `[from, to)`, oldest first, at most `limit`.
pub async fn flips(
    db: &Db,
    check_id: &str,
    from: i64,
    to: i64,
    limit: i64,
) -> Result<Vec<FlipRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, check_id, created, old_status, new_status, reason FROM hb_flips \
         WHERE check_id = $1 AND created >= $2 AND created < $3 AND old_status <> new_status \
         ORDER BY created DESC LIMIT $4",
    )
    .bind(check_id)
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    let mut out = rows
        .iter()
        .map(|r| {
            Ok(FlipRow {
                id: r.try_get("id")?,
                check_id: r.try_get("check_id")?,
                created: r.try_get("created")?,
                old_status: r.try_get("old_status")?,
                new_status: r.try_get("new_status")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    out.reverse();
    Ok(out)
}

/// The newest `per_check` pings of each of these checks, oldest first within a check.
pub async fn recent_pings(
    db: &Db,
    ids: &[&str],
    per_check: i64,
) -> Result<Vec<PingRow>, sqlx::Error> {
    let mut out = Vec::new();
    let backend = db.backend();
    for chunk in ids.chunks(200) {
        let list = placeholders(backend, 2, chunk.len());
        let sql = format!(
            "SELECT p.check_id, p.n, p.created, p.kind, p.scheme, p.method, p.remote_addr, p.ua, \
             NULL AS body, p.body_size, p.exitstatus, p.rid, p.duration_ms \
             FROM hb_checks c JOIN hb_pings p ON p.check_id = c.id \
             WHERE p.n > c.n_pings - {first} AND c.id IN ({list}) ORDER BY p.check_id, p.n",
            first = backend.pick("?", "$1")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(per_check);
        for id in chunk {
            q = q.bind(*id);
        }
        for r in q.fetch_all(db.read()).await? {
            out.push(ping_from(&r, false)?);
        }
    }
    Ok(out)
}
