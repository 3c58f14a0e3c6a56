//! Tickets' SLA state in the database (SQL only): what a new ticket starts under, and its row.

use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::deadlines::{Deadlines, TargetsMs};
use crate::policy::Targets;
use opsdesk_core::db::Tx;

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

pub async fn start_info(
    tx: &mut Tx,
    requester_id: &str,
    priority: i64,
) -> Result<Option<StartInfo>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT t.id, t.ticket_sla, t.calendar_id, c.spec, t.warn_percent, \
         g.first_response_minutes, g.next_response_minutes, g.resolution_minutes \
         FROM users u LEFT JOIN organizations o ON o.id = u.organization_id \
         JOIN sla_tiers t ON t.id = COALESCE(u.tier_id, o.tier_id, \
           (SELECT d.id FROM sla_tiers d WHERE d.is_default = 1 ORDER BY d.position LIMIT 1)) \
         LEFT JOIN sla_calendars c ON c.id = t.calendar_id \
         LEFT JOIN sla_targets g ON g.tier_id = t.id AND g.priority = $2 \
         WHERE u.id = $1",
    )
    .bind(requester_id)
    .bind(priority)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| start_info_from(&r)).transpose()
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

pub async fn insert(tx: &mut Tx, row: &SlaRow, d: &Deadlines, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ticket_sla (ticket_id, tier_id, calendar_id, priority, warn_percent, \
         first_target_ms, next_target_ms, resolution_target_ms, clocks, first_due_at, next_due_at, \
         resolution_due_at, due_at, timer_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
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
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
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
         WHERE s.timer_at <= $1 ORDER BY s.timer_at LIMIT $2",
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
    sqlx::query(
        "UPDATE ticket_sla SET tier_id = $2, calendar_id = $3, priority = $4, warn_percent = $5, \
         first_target_ms = $6, next_target_ms = $7, resolution_target_ms = $8, clocks = $9, \
         first_due_at = $10, next_due_at = $11, resolution_due_at = $12, due_at = $13, \
         timer_at = $14, updated_at = $15 WHERE ticket_id = $1",
    )
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
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
