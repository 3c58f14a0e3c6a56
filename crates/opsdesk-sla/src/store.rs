//! Tiers, their targets and calendars in the database (SQL only; checks live in `policy` and
//! `hours`, the transaction and audit in `service`).

use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::policy::Targets;
use opsdesk_core::db::{Db, Tx, flag};

/// A calendar as stored: its spec is the checked JSON the admin entered.
pub struct CalendarRow {
    pub id: String,
    pub name: String,
    pub spec: String,
}

fn calendar_from(r: &AnyRow) -> Result<CalendarRow, sqlx::Error> {
    Ok(CalendarRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        spec: r.try_get("spec")?,
    })
}

pub async fn list_calendars(db: &Db) -> Result<Vec<CalendarRow>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, name, spec FROM sla_calendars ORDER BY name")
        .fetch_all(db.read())
        .await?;
    rows.iter().map(calendar_from).collect()
}

/// A calendar by id or (case-insensitive) name.
pub async fn find_calendar(db: &Db, key: &str) -> Result<Option<CalendarRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, name, spec FROM sla_calendars WHERE id = $1 OR LOWER(name) = LOWER($1)",
    )
    .bind(key)
    .fetch_optional(db.read())
    .await?;
    row.as_ref().map(calendar_from).transpose()
}

pub async fn insert_calendar(tx: &mut Tx, c: &CalendarRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sla_calendars (id, name, spec, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.spec)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Changes a calendar's name and hours.
pub async fn update_calendar(tx: &mut Tx, c: &CalendarRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sla_calendars SET name = $2, spec = $3, updated_at = $4 WHERE id = $1")
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.spec)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A tier as stored, with its calendar's name.
pub struct TierRow {
    pub id: String,
    pub name: String,
    pub position: i64,
    pub calendar_id: Option<String>,
    pub calendar_name: Option<String>,
    pub ticket_sla: bool,
    pub warn_percent: i64,
    pub is_default: bool,
    pub breach_raise_priority: bool,
    pub breach_reassign_to: Option<(String, String)>,
    pub shared_space: bool,
}

pub async fn list_tiers(db: &Db) -> Result<Vec<TierRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT t.id, t.name, t.position, t.calendar_id, c.name AS calendar_name, t.ticket_sla, \
         t.warn_percent, t.is_default, t.breach_raise_priority, t.breach_reassign_to, t.shared_space, \
         COALESCE(NULLIF(u.name, ''), u.email) AS reassign_name \
         FROM sla_tiers t LEFT JOIN sla_calendars c ON c.id = t.calendar_id \
         LEFT JOIN users u ON u.id = t.breach_reassign_to \
         ORDER BY t.position, t.name",
    )
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TierRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                position: r.try_get("position")?,
                calendar_id: r.try_get("calendar_id")?,
                calendar_name: r.try_get("calendar_name")?,
                ticket_sla: r.try_get::<i64, _>("ticket_sla")? != 0,
                warn_percent: r.try_get("warn_percent")?,
                is_default: r.try_get::<i64, _>("is_default")? != 0,
                breach_raise_priority: r.try_get::<i64, _>("breach_raise_priority")? != 0,
                breach_reassign_to: r
                    .try_get::<Option<String>, _>("breach_reassign_to")?
                    .zip(r.try_get::<Option<String>, _>("reassign_name")?),
                shared_space: r.try_get::<i64, _>("shared_space")? != 0,
            })
        })
        .collect()
}

/// Every tier's targets: (tier id, priority rank, targets).
pub async fn list_targets(db: &Db) -> Result<Vec<(String, i64, Targets)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT tier_id, priority, first_response_minutes, next_response_minutes, \
         resolution_minutes FROM sla_targets ORDER BY tier_id, priority",
    )
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("tier_id")?,
                r.try_get("priority")?,
                Targets {
                    first_response_minutes: r.try_get("first_response_minutes")?,
                    next_response_minutes: r.try_get("next_response_minutes")?,
                    resolution_minutes: r.try_get("resolution_minutes")?,
                },
            ))
        })
        .collect()
}

pub struct NewTier<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub calendar_id: Option<&'a str>,
    pub ticket_sla: bool,
    pub warn_percent: i64,
    pub breach_raise_priority: bool,
    pub breach_reassign_to: Option<&'a str>,
    pub shared_space: bool,
}

/// Inserts a tier after the existing ones; returns its position.
pub async fn insert_tier(tx: &mut Tx, t: &NewTier<'_>, now: i64) -> Result<i64, sqlx::Error> {
    let position: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), -1) + 1 FROM sla_tiers")
        .fetch_one(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO sla_tiers (id, name, position, calendar_id, ticket_sla, warn_percent, \
         created_at, updated_at, breach_raise_priority, breach_reassign_to, shared_space) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10)",
    )
    .bind(t.id)
    .bind(t.name)
    .bind(position)
    .bind(t.calendar_id)
    .bind(flag(t.ticket_sla))
    .bind(t.warn_percent)
    .bind(now)
    .bind(flag(t.breach_raise_priority))
    .bind(t.breach_reassign_to)
    .bind(flag(t.shared_space))
    .execute(&mut **tx)
    .await?;
    Ok(position)
}

/// Changes a tier's settings (its position and default flag stay) and drops its targets, to be
/// inserted anew.
pub async fn update_tier(tx: &mut Tx, t: &NewTier<'_>, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sla_tiers SET name = $2, calendar_id = $3, ticket_sla = $4, warn_percent = $5, \
         updated_at = $6, breach_raise_priority = $7, breach_reassign_to = $8, \
         shared_space = $9 WHERE id = $1",
    )
    .bind(t.id)
    .bind(t.name)
    .bind(t.calendar_id)
    .bind(flag(t.ticket_sla))
    .bind(t.warn_percent)
    .bind(now)
    .bind(flag(t.breach_raise_priority))
    .bind(t.breach_reassign_to)
    .bind(flag(t.shared_space))
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM sla_targets WHERE tier_id = $1")
        .bind(t.id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn insert_targets(
    tx: &mut Tx,
    tier_id: &str,
    priority: i64,
    t: &Targets,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sla_targets (tier_id, priority, first_response_minutes, \
         next_response_minutes, resolution_minutes) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tier_id)
    .bind(priority)
    .bind(t.first_response_minutes)
    .bind(t.next_response_minutes)
    .bind(t.resolution_minutes)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A tier by id or (case-insensitive) name: (id, name).
pub async fn find_tier(db: &Db, key: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    let row =
        sqlx::query("SELECT id, name FROM sla_tiers WHERE id = $1 OR LOWER(name) = LOWER($1)")
            .bind(key)
            .fetch_optional(db.read())
            .await?;
    row.map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
        .transpose()
}

/// The tier serving a requester: their own, else their organization's, else the default.
/// Returns (id, name, ticket_sla, source).
pub async fn tier_of_requester(
    db: &Db,
    user_id: &str,
) -> Result<Option<(String, String, bool, String)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT t.id, t.name, t.ticket_sla, CASE WHEN u.tier_id IS NOT NULL THEN 'customer' \
         WHEN o.tier_id IS NOT NULL THEN 'organization' ELSE 'default' END AS source \
         FROM users u LEFT JOIN organizations o ON o.id = u.organization_id \
         JOIN sla_tiers t ON t.id = COALESCE(u.tier_id, o.tier_id, \
           (SELECT d.id FROM sla_tiers d WHERE d.is_default = 1 ORDER BY d.position LIMIT 1)) \
         WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_optional(db.read())
    .await?;
    row.map(|r| {
        Ok((
            r.try_get("id")?,
            r.try_get("name")?,
            r.try_get::<i64, _>("ticket_sla")? != 0,
            r.try_get("source")?,
        ))
    })
    .transpose()
}

/// A customer by id or email: their id.
pub async fn find_customer(db: &Db, key: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM users WHERE (id = $1 OR LOWER(email) = LOWER($1)) AND role = 'customer'",
    )
    .bind(key)
    .fetch_optional(db.read())
    .await
}

/// An organization by id or (case-insensitive) name: its id.
pub async fn find_organization(db: &Db, key: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM organizations WHERE id = $1 OR LOWER(name) = LOWER($1)")
        .bind(key)
        .fetch_optional(db.read())
        .await
}

pub async fn set_user_tier(tx: &mut Tx, id: &str, tier: Option<&str>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET tier_id = $2 WHERE id = $1")
        .bind(id)
        .bind(tier)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_organization_tier(
    tx: &mut Tx,
    id: &str,
    tier: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE organizations SET tier_id = $2 WHERE id = $1")
        .bind(id)
        .bind(tier)
        .execute(&mut **tx)
        .await?;
    // A tier with a shared space turns request sharing on (an admin may turn it off again).
    sqlx::query(
        "UPDATE organizations SET share_tickets = 1 WHERE id = $1 \
         AND tier_id IN (SELECT id FROM sla_tiers WHERE shared_space = 1)",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A member of the team (agent or admin, not disabled) by email or id: (id, name or email).
pub async fn find_staff(db: &Db, key: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, COALESCE(NULLIF(name, ''), email) AS name FROM users \
         WHERE (id = $1 OR LOWER(email) = LOWER($1)) AND role IN ('agent', 'admin') AND disabled = 0",
    )
    .bind(key.trim())
    .fetch_optional(db.read())
    .await?;
    row.map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
        .transpose()
}
