//! Status page components, notices and their updates in the database (SQL only).

use sqlx::Row as _;
use sqlx::any::AnyRow;

use opsdesk_core::db::{Db, Tx};

#[derive(Clone, Debug)]
pub struct ComponentRow {
    pub id: String,
    pub name: String,
    pub group_name: String,
    pub description: String,
    pub position: i64,
    pub source_kind: String,
    pub source_id: Option<String>,
    pub manual_status: String,
    pub created: i64,
    pub updated: i64,
}

fn component_from(r: &AnyRow) -> Result<ComponentRow, sqlx::Error> {
    Ok(ComponentRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        group_name: r.try_get("group_name")?,
        description: r.try_get("description")?,
        position: r.try_get("position")?,
        source_kind: r.try_get("source_kind")?,
        source_id: r.try_get("source_id")?,
        manual_status: r.try_get("manual_status")?,
        created: r.try_get("created")?,
        updated: r.try_get("updated")?,
    })
}

const COMPONENT: &str = "id, name, group_name, description, position, source_kind, source_id, \
    manual_status, created, updated";

pub async fn components(db: &Db) -> Result<Vec<ComponentRow>, sqlx::Error> {
    let sql = format!("SELECT {COMPONENT} FROM status_components ORDER BY position, LOWER(name)");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(db.read())
        .await?;
    rows.iter().map(component_from).collect()
}

pub async fn insert_component(tx: &mut Tx, c: &ComponentRow) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO status_components ({COMPONENT}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.group_name)
        .bind(&c.description)
        .bind(c.position)
        .bind(&c.source_kind)
        .bind(c.source_id.as_deref())
        .bind(&c.manual_status)
        .bind(c.created)
        .bind(c.updated)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn update_component(tx: &mut Tx, c: &ComponentRow) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE status_components SET name = $2, group_name = $3, description = $4, position = $5, \
         source_kind = $6, source_id = $7, manual_status = $8, updated = $9 WHERE id = $1",
    )
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.group_name)
    .bind(&c.description)
    .bind(c.position)
    .bind(&c.source_kind)
    .bind(c.source_id.as_deref())
    .bind(&c.manual_status)
    .bind(c.updated)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn delete_component(tx: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM status_notice_components WHERE component_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let r = sqlx::query("DELETE FROM status_components WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() > 0)
}

#[derive(Clone, Debug)]
pub struct NoticeRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub status: String,
    pub impact: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub created: i64,
    pub updated: i64,
    pub resolved_at: Option<i64>,
}

fn notice_from(r: &AnyRow) -> Result<NoticeRow, sqlx::Error> {
    Ok(NoticeRow {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        name: r.try_get("name")?,
        status: r.try_get("status")?,
        impact: r.try_get("impact")?,
        starts_at: r.try_get("starts_at")?,
        ends_at: r.try_get("ends_at")?,
        created: r.try_get("created")?,
        updated: r.try_get("updated")?,
        resolved_at: r.try_get("resolved_at")?,
    })
}

const NOTICE: &str =
    "id, kind, name, status, impact, starts_at, ends_at, created, updated, resolved_at";

/// Notices of a kind created since `since` or still open, newest first.
pub async fn notices(db: &Db, kind: &str, since: i64) -> Result<Vec<NoticeRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {NOTICE} FROM status_notices WHERE kind = $1 AND (created >= $2 OR resolved_at IS NULL \
         OR ends_at >= $2) ORDER BY created DESC LIMIT 200"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(kind)
        .bind(since)
        .fetch_all(db.read())
        .await?;
    rows.iter().map(notice_from).collect()
}

pub async fn notice(tx: &mut Tx, id: &str) -> Result<Option<NoticeRow>, sqlx::Error> {
    let sql = format!("SELECT {NOTICE} FROM status_notices WHERE id = $1");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    r.as_ref().map(notice_from).transpose()
}

pub async fn insert_notice(tx: &mut Tx, n: &NoticeRow) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO status_notices ({NOTICE}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&n.id)
        .bind(&n.kind)
        .bind(&n.name)
        .bind(&n.status)
        .bind(&n.impact)
        .bind(n.starts_at)
        .bind(n.ends_at)
        .bind(n.created)
        .bind(n.updated)
        .bind(n.resolved_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn update_notice(tx: &mut Tx, n: &NoticeRow) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE status_notices SET status = $2, impact = $3, updated = $4, resolved_at = $5 WHERE id = $1")
        .bind(&n.id)
        .bind(&n.status)
        .bind(&n.impact)
        .bind(n.updated)
        .bind(n.resolved_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn add_update(
    tx: &mut Tx,
    id: &str,
    notice_id: &str,
    status: &str,
    body: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO status_notice_updates (id, notice_id, status, body, created) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(notice_id)
        .bind(status)
        .bind(body)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_notice_components(
    tx: &mut Tx,
    notice_id: &str,
    ids: &[String],
) -> Result<(), sqlx::Error> {
    for id in ids {
        sqlx::query("INSERT INTO status_notice_components (notice_id, component_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(notice_id)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Replaces an incident's affected components with these (component id, the status it shows
/// while the incident is open; '' to leave it to what the component follows).
pub async fn set_component_impacts(
    tx: &mut Tx,
    notice_id: &str,
    impacts: &[(String, String)],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM status_notice_components WHERE notice_id = $1")
        .bind(notice_id)
        .execute(&mut **tx)
        .await?;
    for (id, impact) in impacts {
        sqlx::query(
            "INSERT INTO status_notice_components (notice_id, component_id, impact) VALUES ($1, $2, $3)",
        )
        .bind(notice_id)
        .bind(id)
        .bind(impact)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Renames a notice (an incident's title changed).
pub async fn rename_notice(tx: &mut Tx, id: &str, name: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE status_notices SET name = $2, updated = $3 WHERE id = $1")
        .bind(id)
        .bind(name)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Every notice's updates (newest first) and components, by notice id.
pub async fn details(
    db: &Db,
    since: i64,
) -> Result<
    (
        Vec<(String, String, String, String, i64)>,
        Vec<(String, String, String)>,
    ),
    sqlx::Error,
> {
    // Only the notices the page lists (the same window as `notices`).
    const LISTED: &str = "SELECT id FROM status_notices WHERE created >= $1 OR resolved_at IS NULL \
                          OR ends_at >= $1";
    let ups = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, notice_id, status, body, created FROM status_notice_updates \
         WHERE notice_id IN ({LISTED}) ORDER BY created DESC"
    )))
    .bind(since)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("id")?,
            r.try_get("notice_id")?,
            r.try_get("status")?,
            r.try_get("body")?,
            r.try_get("created")?,
        ))
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let comps = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT notice_id, component_id, impact FROM status_notice_components WHERE notice_id IN ({LISTED})"
    )))
    .bind(since)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("notice_id")?,
            r.try_get("component_id")?,
            r.try_get("impact")?,
        ))
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((ups, comps))
}

/// Heartbeat flips since `since` for the 90-day bars: (check id, time, went down?), oldest
/// first; and whether each was down before (its last flip before `since`).
pub async fn flips_since(
    db: &Db,
    ids: &[String],
    since: i64,
) -> Result<Vec<(String, i64, bool)>, sqlx::Error> {
    let mut out = Vec::new();
    for id in ids {
        let rows = sqlx::query(
            "SELECT created, new_status FROM hb_flips WHERE check_id = $1 AND created >= $2 ORDER BY created",
        )
        .bind(id)
        .bind(since)
        .fetch_all(db.read())
        .await?;
        for r in rows {
            let s: String = r.try_get("new_status")?;
            out.push((id.clone(), r.try_get("created")?, s == "down"));
        }
    }
    Ok(out)
}

/// Whether an active maintenance window covers a component that follows this check or monitor.
pub async fn in_maintenance(tx: &mut Tx, source_id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM status_notices n JOIN status_notice_components nc ON nc.notice_id = n.id \
         JOIN status_components c ON c.id = nc.component_id \
         WHERE n.kind = 'maintenance' AND n.resolved_at IS NULL AND n.starts_at <= $2 AND n.ends_at > $2 \
         AND c.source_id = $1",
    )
    .bind(source_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

/// Whether a check was down just before `at` (its last flip before then went to down).
pub async fn down_before(db: &Db, id: &str, at: i64) -> Result<bool, sqlx::Error> {
    let last: Option<String> = sqlx::query_scalar(
        "SELECT new_status FROM hb_flips WHERE check_id = $1 AND created < $2 ORDER BY created DESC LIMIT 1",
    )
    .bind(id)
    .bind(at)
    .fetch_optional(db.read())
    .await?;
    Ok(last.as_deref() == Some("down"))
}
