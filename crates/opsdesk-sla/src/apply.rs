//! "Apply to open tickets": after an admin changes a tier, its open tickets are served under the
//! changed policy — the business time counted so far stays, deadlines follow the new targets and
//! calendar. Without it, open tickets keep the deadlines they were given.

use std::collections::HashMap;

use crate::clock::TicketClocks;
use crate::deadlines::{TargetsMs, deadlines, rebase, retarget};
use crate::hours::BusinessHours;
use crate::ticket::{decode, hours_of, targets_ms};
use crate::ticket_store::{self, OpenOf, OpenRow, Rebased};
use opsdesk_core::db::{Backend, Db, Tx};

/// Tickets read and written per transaction, unless the caller says otherwise.
pub const BATCH: i64 = 5_000;

/// A tier's policy for each priority rank (0 low … 3 urgent).
struct Policy {
    calendar_id: Option<String>,
    hours: BusinessHours,
    warn_percent: i64,
    by_rank: [TargetsMs; 4],
}

/// One ticket moved to the new policy (pure but for the clock JSON); `None` when nothing about
/// it changes (the policy change does not concern its priority), so it is not rewritten.
fn rebased(
    row: &OpenRow,
    old: &BusinessHours,
    policy: &Policy,
    now: i64,
) -> Result<Option<Rebased>, sqlx::Error> {
    let mut clocks: TicketClocks =
        serde_json::from_str(&row.clocks).map_err(|e| decode("clocks", e))?;
    let rank = usize::try_from(row.priority).unwrap_or(1).min(3);
    let targets = policy.by_rank[rank];
    let d = if row.calendar_id == policy.calendar_id {
        // Same calendar: the time counted stands as it is.
        retarget(&mut clocks, &targets, policy.warn_percent, old, now);
        deadlines(&clocks, &targets, policy.warn_percent, old)
    } else {
        rebase(
            &mut clocks,
            old,
            &policy.hours,
            &targets,
            policy.warn_percent,
            now,
        )
    };
    let clocks = serde_json::to_string(&clocks).map_err(|e| decode("clocks", e))?;
    let unchanged = row.calendar_id == policy.calendar_id
        && row.warn_percent == policy.warn_percent
        && row.targets == targets
        && row.deadlines == d
        && row.clocks == clocks;
    if unchanged {
        return Ok(None);
    }
    Ok(Some(Rebased {
        ticket_id: row.ticket_id.clone(),
        calendar_id: policy.calendar_id.clone(),
        warn_percent: policy.warn_percent,
        targets,
        clocks,
        d,
    }))
}

/// Serves every open ticket of the tier under its current policy; returns how many there were
/// (all recomputed; only those whose policy or deadlines changed are rewritten).
/// `batch` tickets go per transaction; `progress` is called with the count done after each.
pub async fn apply_tier(
    db: &Db,
    tier_id: &str,
    now: i64,
    batch: i64,
    progress: impl FnMut(u64),
) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin().await?;
    let specs = ticket_store::calendar_specs(&mut tx).await?;
    let mut by_rank = [TargetsMs::default(); 4];
    let mut policy = None;
    for (rank, slot) in by_rank.iter_mut().enumerate() {
        let Some(p) = ticket_store::tier_policy(&mut tx, tier_id, rank as i64).await? else {
            return Ok(0);
        };
        if p.ticket_sla {
            *slot = targets_ms(&p.targets);
        }
        policy = Some(p);
    }
    tx.commit().await?;
    let Some(p) = policy else { return Ok(0) };
    let policy = Policy {
        hours: hours_of(p.calendar_spec.as_deref())?,
        calendar_id: p.calendar_id,
        warn_percent: p.warn_percent,
        by_rank,
    };
    let mut calendars: HashMap<Option<String>, BusinessHours> = HashMap::new();
    let rebase_batch = |rows: &[OpenRow]| {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if !calendars.contains_key(&row.calendar_id) {
                let spec = row.calendar_id.as_ref().and_then(|id| specs.get(id));
                calendars.insert(row.calendar_id.clone(), hours_of(spec.map(String::as_str))?);
            }
            let old = &calendars[&row.calendar_id];
            out.extend(rebased(row, old, &policy, now)?);
        }
        Ok(out)
    };
    rewrite_open(
        db,
        (OpenOf::Tier, tier_id),
        now,
        batch,
        rebase_batch,
        progress,
    )
    .await
}

/// After a calendar's hours changed: its open tickets keep the business time counted under the
/// `old` hours up to `now` and count on — deadlines included — in the new ones. Returns how
/// many tickets there were.
pub async fn apply_calendar(
    db: &Db,
    calendar_id: &str,
    old: &BusinessHours,
    new: &BusinessHours,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let rebase_batch = |rows: &[OpenRow]| {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut clocks: TicketClocks =
                serde_json::from_str(&row.clocks).map_err(|e| decode("clocks", e))?;
            let d = rebase(&mut clocks, old, new, &row.targets, row.warn_percent, now);
            out.push(Rebased {
                ticket_id: row.ticket_id.clone(),
                calendar_id: row.calendar_id.clone(),
                warn_percent: row.warn_percent,
                targets: row.targets,
                clocks: serde_json::to_string(&clocks).map_err(|e| decode("clocks", e))?,
                d,
            });
        }
        Ok(out)
    };
    let of = (OpenOf::Calendar, calendar_id);
    rewrite_open(db, of, now, BATCH, rebase_batch, |_| {}).await
}

/// Reads the open tickets `of` a tier or calendar `batch` at a time in ticket order, has
/// `rebase_batch` compute their rewrite and writes it; returns how many tickets there were.
/// Each batch is a transaction of its own with its rows locked (on PostgreSQL). On PostgreSQL
/// the next batch is read while the last is written, on a second connection, so the database
/// reads and writes at once; a write once started always runs to its commit or its own error.
/// SQLite has one writer connection: there the write goes first and the read after it, so other
/// writers wait behind one batch, not two.
/// `progress` is called with the count done after each batch is committed.
async fn rewrite_open(
    db: &Db,
    (of, key): (OpenOf, &str),
    now: i64,
    batch: i64,
    mut rebase_batch: impl FnMut(&[OpenRow]) -> Result<Vec<Rebased>, sqlx::Error>,
    mut progress: impl FnMut(u64),
) -> Result<u64, sqlx::Error> {
    let (mut after, mut done) = (String::new(), 0u64);
    let mut pending: Option<(Tx, Vec<Rebased>, u64)> = None;
    loop {
        let read = async {
            let mut tx = db.begin().await?;
            let rows =
                ticket_store::open_where(&mut tx, db.backend(), of, key, &after, batch.max(1))
                    .await?;
            Ok::<_, sqlx::Error>((tx, rows))
        };
        let write = async {
            let Some((mut tx, out, n)) = pending.take() else {
                return Ok(None);
            };
            ticket_store::update_many(&mut tx, db.backend(), &out, now).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Some(n))
        };
        let (written, read) = match db.backend() {
            Backend::Postgres => tokio::join!(write, read),
            Backend::Sqlite => {
                let written = write.await?;
                (Ok(written), read.await)
            }
        };
        let written = written?;
        let (tx, rows) = read?;
        if let Some(n) = written {
            done += n;
            progress(done);
        }
        let Some(last) = rows.last() else {
            return Ok(done);
        };
        after = last.ticket_id.clone();
        pending = Some((tx, rebase_batch(&rows)?, rows.len() as u64));
    }
}
