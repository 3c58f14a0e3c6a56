//! Incidents, their timeline, links, postmortems, severity labels, freeze windows and
//! auto-declaring checks in the database (SQL only).

use sqlx::Row as _;
use sqlx::any::AnyRow;

use opsdesk_core::db::{Db, Tx};

#[derive(Clone, Debug)]
pub struct IncidentRow {
    pub id: String,
    pub number: i64,
    pub title: String,
    pub severity: i64,
    pub status: String,
    pub commander_id: Option<String>,
    pub summary: String,
    pub root_cause: Option<String>,
    pub notice_id: Option<String>,
    /// JSON: [[component id, status it shows while the incident is open]].
    pub components: String,
    pub source: String,
    pub created_by: String,
    pub created: i64,
    pub updated: i64,
    pub resolved_at: Option<i64>,
}

const INCIDENT: &str = "id, number, title, severity, status, commander_id, summary, root_cause, \
    notice_id, components, source, created_by, created, updated, resolved_at";

fn incident_from(r: &AnyRow) -> Result<IncidentRow, sqlx::Error> {
    Ok(IncidentRow {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        title: r.try_get("title")?,
        severity: r.try_get("severity")?,
        status: r.try_get("status")?,
        commander_id: r.try_get("commander_id")?,
        summary: r.try_get("summary")?,
        root_cause: r.try_get("root_cause")?,
        notice_id: r.try_get("notice_id")?,
        components: r.try_get("components")?,
        source: r.try_get("source")?,
        created_by: r.try_get("created_by")?,
        created: r.try_get("created")?,
        updated: r.try_get("updated")?,
        resolved_at: r.try_get("resolved_at")?,
    })
}

/// Takes the next incident number inside the declaring transaction.
pub async fn next_number(tx: &mut Tx) -> Result<i64, sqlx::Error> {
    let next: i64 = sqlx::query_scalar(
        "UPDATE incident_counter SET next = next + 1 WHERE id = 1 RETURNING next",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(next - 1)
}

pub async fn insert(tx: &mut Tx, i: &IncidentRow) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO incidents ({INCIDENT}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13, $14, $15)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&i.id)
        .bind(i.number)
        .bind(&i.title)
        .bind(i.severity)
        .bind(&i.status)
        .bind(i.commander_id.as_deref())
        .bind(&i.summary)
        .bind(i.root_cause.as_deref())
        .bind(i.notice_id.as_deref())
        .bind(&i.components)
        .bind(&i.source)
        .bind(&i.created_by)
        .bind(i.created)
        .bind(i.updated)
        .bind(i.resolved_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Saves the changeable fields; false when the row changed since it was read (`seen` is its
/// `updated` then), so concurrent edits never silently overwrite each other.
pub async fn update(tx: &mut Tx, i: &IncidentRow, seen: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE incidents SET title = $2, severity = $3, status = $4, commander_id = $5, \
         summary = $6, root_cause = $7, notice_id = $8, updated = $9, resolved_at = $10, \
         components = $12 WHERE id = $1 AND updated = $11",
    )
    .bind(&i.id)
    .bind(&i.title)
    .bind(i.severity)
    .bind(&i.status)
    .bind(i.commander_id.as_deref())
    .bind(&i.summary)
    .bind(i.root_cause.as_deref())
    .bind(i.notice_id.as_deref())
    .bind(i.updated)
    .bind(i.resolved_at)
    .bind(seen)
    .bind(&i.components)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// By id or number.
pub async fn find(
    db: &Db,
    id: Option<&str>,
    number: Option<i64>,
) -> Result<Option<IncidentRow>, sqlx::Error> {
    let sql = format!("SELECT {INCIDENT} FROM incidents WHERE id = $1 OR number = $2");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.unwrap_or(""))
        .bind(number.unwrap_or(-1))
        .fetch_optional(db.read())
        .await?;
    r.as_ref().map(incident_from).transpose()
}

/// Which incidents a list shows.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// live (investigating, identified, monitoring), resolved (resolved or postmortem), or all.
    pub state: String,
    pub severity: Option<i64>,
    /// Incidents numbered below this (the next page).
    pub before: Option<i64>,
    pub limit: i64,
}

/// Newest first.
pub async fn list(db: &Db, f: &Filter) -> Result<Vec<IncidentRow>, sqlx::Error> {
    let state = match f.state.as_str() {
        "live" => "AND status IN ('investigating', 'identified', 'monitoring')",
        "resolved" => "AND status IN ('resolved', 'postmortem')",
        _ => "",
    };
    let sql = format!(
        "SELECT {INCIDENT} FROM incidents WHERE number < $1 AND ($2 = 0 OR severity = $2) {state} \
         ORDER BY number DESC LIMIT $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(f.before.unwrap_or(i64::MAX))
        .bind(f.severity.unwrap_or(0))
        .bind(f.limit)
        .fetch_all(db.read())
        .await?;
    rows.iter().map(incident_from).collect()
}

/// Live incidents (for the freeze and the banner).
pub async fn live(db: &Db) -> Result<Vec<IncidentRow>, sqlx::Error> {
    list(
        db,
        &Filter {
            state: "live".into(),
            limit: 500,
            ..Default::default()
        },
    )
    .await
}

#[derive(Clone, Debug)]
pub struct EventRow {
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub kind: String,
    pub public: bool,
    pub body: String,
    pub reference: String,
}

pub async fn insert_event(tx: &mut Tx, incident_id: &str, e: &EventRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO incident_events (id, incident_id, at, actor, kind, public, body, ref) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&e.id)
    .bind(incident_id)
    .bind(e.at)
    .bind(&e.actor)
    .bind(&e.kind)
    .bind(i64::from(e.public))
    .bind(&e.body)
    .bind(&e.reference)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The timeline, oldest first.
pub async fn events(db: &Db, incident_id: &str) -> Result<Vec<EventRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, at, actor, kind, public, body, ref FROM incident_events WHERE incident_id = $1 \
         ORDER BY at, id",
    )
    .bind(incident_id)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(EventRow {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                kind: r.try_get("kind")?,
                public: r.try_get::<i64, _>("public")? != 0,
                body: r.try_get("body")?,
                reference: r.try_get("ref")?,
            })
        })
        .collect()
}

/// Links the incident to something; false when it already was.
pub async fn add_link(
    tx: &mut Tx,
    incident_id: &str,
    kind: &str,
    target_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO incident_links (incident_id, kind, target_id, created) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(incident_id)
    .bind(kind)
    .bind(target_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// What the incident is linked to: (kind, target id), in the order they were linked.
pub async fn links(db: &Db, incident_id: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT kind, target_id FROM incident_links WHERE incident_id = $1 ORDER BY created, kind",
    )
    .bind(incident_id)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("kind")?, r.try_get("target_id")?)))
        .collect()
}

/// The live incidents linked to a check, monitor or ticket (in a transaction or from a pool).
pub async fn live_linked<'e, E>(
    ex: E,
    kind: &str,
    target_id: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows = sqlx::query(
        "SELECT i.id, i.number FROM incident_links l JOIN incidents i ON i.id = l.incident_id \
         WHERE l.kind = $1 AND l.target_id = $2 \
         AND i.status IN ('investigating', 'identified', 'monitoring')",
    )
    .bind(kind)
    .bind(target_id)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("number")?)))
        .collect()
}

/// The incidents linked to a ticket, any status (for the ticket page): (number, title, status).
pub async fn of_ticket(
    db: &Db,
    ticket_id: &str,
) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT i.number, i.title, i.status FROM incident_links l JOIN incidents i \
         ON i.id = l.incident_id WHERE l.kind IN ('ticket', 'action_item') AND l.target_id = $1 \
         ORDER BY i.number DESC",
    )
    .bind(ticket_id)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("number")?,
                r.try_get("title")?,
                r.try_get("status")?,
            ))
        })
        .collect()
}

#[derive(Clone, Debug, Default)]
pub struct PostmortemRow {
    pub impact: String,
    pub timeline: String,
    pub root_cause: String,
    pub went_well: String,
    pub went_badly: String,
    pub author: String,
    pub created: i64,
    pub updated: i64,
}

pub async fn postmortem(db: &Db, incident_id: &str) -> Result<Option<PostmortemRow>, sqlx::Error> {
    let r = sqlx::query(
        "SELECT impact, timeline, root_cause, went_well, went_badly, author, created, updated \
         FROM postmortems WHERE incident_id = $1",
    )
    .bind(incident_id)
    .fetch_optional(db.read())
    .await?;
    r.map(|r| {
        Ok(PostmortemRow {
            impact: r.try_get("impact")?,
            timeline: r.try_get("timeline")?,
            root_cause: r.try_get("root_cause")?,
            went_well: r.try_get("went_well")?,
            went_badly: r.try_get("went_badly")?,
            author: r.try_get("author")?,
            created: r.try_get("created")?,
            updated: r.try_get("updated")?,
        })
    })
    .transpose()
}

pub async fn save_postmortem(
    tx: &mut Tx,
    incident_id: &str,
    p: &PostmortemRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO postmortems (incident_id, impact, timeline, root_cause, went_well, went_badly, \
         author, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (incident_id) DO UPDATE SET impact = $2, timeline = $3, root_cause = $4, \
         went_well = $5, went_badly = $6, author = $7, updated = $9",
    )
    .bind(incident_id)
    .bind(&p.impact)
    .bind(&p.timeline)
    .bind(&p.root_cause)
    .bind(&p.went_well)
    .bind(&p.went_badly)
    .bind(&p.author)
    .bind(p.created)
    .bind(p.updated)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The severities' labels, SEV1 first.
pub async fn severities(db: &Db) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let rows = sqlx::query("SELECT level, label FROM incident_severities ORDER BY level")
        .fetch_all(db.read())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("level")?, r.try_get("label")?)))
        .collect()
}

pub async fn set_severity_label(tx: &mut Tx, level: i64, label: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("UPDATE incident_severities SET label = $2 WHERE level = $1")
        .bind(level)
        .bind(label)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() > 0)
}

#[derive(Clone, Debug)]
pub struct WindowRow {
    pub id: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub time_zone: String,
    pub reason: String,
    pub created_by: String,
    pub created: i64,
}

/// Windows not over at `now`, soonest first.
pub async fn windows(db: &Db, now: i64) -> Result<Vec<WindowRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, starts_at, ends_at, time_zone, reason, created_by, created FROM freeze_windows \
         WHERE ends_at > $1 ORDER BY starts_at",
    )
    .bind(now)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(WindowRow {
                id: r.try_get("id")?,
                starts_at: r.try_get("starts_at")?,
                ends_at: r.try_get("ends_at")?,
                time_zone: r.try_get("time_zone")?,
                reason: r.try_get("reason")?,
                created_by: r.try_get("created_by")?,
                created: r.try_get("created")?,
            })
        })
        .collect()
}

pub async fn insert_window(tx: &mut Tx, w: &WindowRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO freeze_windows (id, starts_at, ends_at, time_zone, reason, created_by, created) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&w.id)
    .bind(w.starts_at)
    .bind(w.ends_at)
    .bind(&w.time_zone)
    .bind(&w.reason)
    .bind(&w.created_by)
    .bind(w.created)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete_window(tx: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM freeze_windows WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// The severity a check's or monitor's going down declares an incident at, if it does.
pub async fn auto_declare<'e, E>(ex: E, source_id: &str) -> Result<Option<i64>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_scalar("SELECT severity FROM incident_auto_declare WHERE source_id = $1")
        .bind(source_id)
        .fetch_optional(ex)
        .await
}

/// Sets (or with None, clears) a check's or monitor's auto-declare severity.
pub async fn set_auto_declare(
    tx: &mut Tx,
    source_id: &str,
    severity: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM incident_auto_declare WHERE source_id = $1")
        .bind(source_id)
        .execute(&mut **tx)
        .await?;
    if let Some(s) = severity {
        sqlx::query("INSERT INTO incident_auto_declare (source_id, severity) VALUES ($1, $2)")
            .bind(source_id)
            .bind(s)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
