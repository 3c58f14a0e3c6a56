//! SQL for single tickets, their messages, timeline and categories (lists are in `list_store`).
//! Portable across SQLite and PostgreSQL: `$n` placeholders, integer timestamps, `RETURNING`.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row as _};

use super::flow::Change;
use super::model::{
    Category, Channel, Event, Message, MessageKind, Outcome, Person, Priority, SlaDue, State,
    Ticket,
};
use opsdesk_core::db::{Db, Pipeline, Tx, flag};

pub use super::list_store::{
    AssigneeFilter, InboxRow, ListFilter, Sort, count_by_state, list, list_inbox, sort_key,
};

/// The columns a [`Ticket`] is read from (`t` is the ticket, joined as in [`ticket_joins`]).
macro_rules! ticket_columns {
    () => {
        "SELECT t.id, t.number, t.subject, t.state, t.resume_state, t.category_id, \
     t.priority, t.channel, t.requester_id, t.organization_id, t.assignee_id, t.security, \
     t.reproduction_outcome, t.reproduction_steps, t.evidence, t.root_cause, t.fix, t.resolution, \
     t.close_reason, t.created_at, t.updated_at, t.fixed_at, t.last_reply_at, t.resolved_at, t.closed_at, \
     c.name AS category_name, c.security AS category_security, c.position AS category_position, \
     r.email AS requester_email, r.name AS requester_name, o.name AS organization_name, \
     COALESCE(o.share_tickets, 0) AS organization_shared, \
     a.email AS assignee_email, a.name AS assignee_name"
    };
}

/// The people, category and organization a ticket row is shown with.
macro_rules! ticket_joins {
    () => {
        " JOIN users r ON r.id = t.requester_id \
         LEFT JOIN ticket_categories c ON c.id = t.category_id \
         LEFT JOIN organizations o ON o.id = t.organization_id \
         LEFT JOIN users a ON a.id = t.assignee_id"
    };
}

/// A row's nearest SLA deadline (with [`sla_join`]): only read where it is shown or sorted by,
/// so other lists keep the plans they had without it.
macro_rules! sla_columns {
    () => {
        ", s.due_at AS sla_due_at, s.calendar_id AS sla_calendar_id, \
     s.warn_percent AS sla_warn_percent, \
     CASE WHEN s.due_at = s.first_due_at THEN s.first_target_ms \
       WHEN s.due_at = s.next_due_at THEN s.next_target_ms \
       ELSE s.resolution_target_ms END AS sla_target_ms"
    };
}

macro_rules! sla_join {
    () => {
        " LEFT JOIN ticket_sla s ON s.ticket_id = t.id"
    };
}

pub(super) const TICKET_SELECT: &str =
    concat!(ticket_columns!(), " FROM tickets t", ticket_joins!());
pub(super) const TICKET_SELECT_SLA: &str = concat!(
    ticket_columns!(),
    sla_columns!(),
    " FROM tickets t",
    ticket_joins!(),
    sla_join!()
);

/// The columns an inbox row shows (a page of 50 decodes far fewer values than full tickets).
/// The names shown are looked up per row rather than joined: a page reads 50 of each either
/// way, and PostgreSQL then plans a two-table query instead of weighing the join orders of
/// six (planning took longer than running it).
macro_rules! inbox_columns {
    () => {
        "SELECT t.number, t.subject, t.state, t.priority, t.security, t.updated_at, \
     (SELECT c.name FROM ticket_categories c WHERE c.id = t.category_id) AS category_name, \
     (SELECT r.email FROM users r WHERE r.id = t.requester_id) AS requester_email, \
     (SELECT a.name FROM users a WHERE a.id = t.assignee_id) AS assignee_name"
    };
}

pub(super) const INBOX_SELECT: &str = concat!(
    inbox_columns!(),
    sla_columns!(),
    " FROM tickets t",
    sla_join!()
);
pub(super) const INBOX_SELECT_FTS: &str = concat!(
    inbox_columns!(),
    sla_columns!(),
    " FROM ticket_fts f JOIN tickets t ON t.number = f.rowid",
    sla_join!()
);

/// Search results newest (or oldest) first on SQLite: the full-text index drives the scan in
/// ticket-number order, so a page stops after its rows instead of collecting every match first
/// (common words match most of a large desk).
pub(super) const TICKET_SELECT_FTS: &str = concat!(
    ticket_columns!(),
    " FROM ticket_fts f JOIN tickets t ON t.number = f.rowid",
    ticket_joins!()
);
pub(super) const TICKET_SELECT_FTS_SLA: &str = concat!(
    ticket_columns!(),
    sla_columns!(),
    " FROM ticket_fts f JOIN tickets t ON t.number = f.rowid",
    ticket_joins!(),
    sla_join!()
);

pub(super) fn decode<T>(what: &str, raw: &str, parsed: Option<T>) -> Result<T, sqlx::Error> {
    parsed.ok_or_else(|| sqlx::Error::Decode(format!("unknown {what} {raw:?}").into()))
}

pub(super) fn ticket_from_row(row: &AnyRow) -> Result<Ticket, sqlx::Error> {
    let state: String = row.try_get("state")?;
    let resume: Option<String> = row.try_get("resume_state")?;
    let channel: String = row.try_get("channel")?;
    let outcome: Option<String> = row.try_get("reproduction_outcome")?;
    let category = match row.try_get::<Option<String>, _>("category_id")? {
        Some(id) => Some(Category {
            id,
            name: row.try_get("category_name")?,
            security: row.try_get::<i64, _>("category_security")? != 0,
            position: row.try_get("category_position")?,
        }),
        None => None,
    };
    let assignee = match row.try_get::<Option<String>, _>("assignee_id")? {
        Some(id) => Some(Person {
            id,
            email: row.try_get("assignee_email")?,
            name: row.try_get("assignee_name")?,
        }),
        None => None,
    };
    Ok(Ticket {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        subject: row.try_get("subject")?,
        state: decode("state", &state, State::parse(&state))?,
        resume_state: resume.as_deref().and_then(State::parse),
        category,
        priority: Priority::from_rank(row.try_get("priority")?),
        channel: decode("channel", &channel, Channel::parse(&channel))?,
        requester: Person {
            id: row.try_get("requester_id")?,
            email: row.try_get("requester_email")?,
            name: row.try_get("requester_name")?,
        },
        organization: row.try_get("organization_name")?,
        organization_id: row.try_get("organization_id")?,
        assignee,
        security: row.try_get::<i64, _>("security")? != 0,
        reproduction_outcome: outcome.as_deref().and_then(Outcome::parse),
        reproduction_steps: row.try_get("reproduction_steps")?,
        evidence: row.try_get("evidence")?,
        root_cause: row.try_get("root_cause")?,
        fix: row.try_get("fix")?,
        resolution: row.try_get("resolution")?,
        close_reason: row.try_get("close_reason")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        fixed_at: row.try_get("fixed_at")?,
        last_reply_at: row.try_get("last_reply_at")?,
        resolved_at: row.try_get("resolved_at")?,
        closed_at: row.try_get("closed_at")?,
        organization_shared: row.try_get::<i64, _>("organization_shared")? != 0,
        sla_due: None,
    })
}

/// [`ticket_from_row`] for rows read with [`sla_columns`].
pub(super) fn ticket_with_sla_from_row(row: &AnyRow) -> Result<Ticket, sqlx::Error> {
    Ok(Ticket {
        sla_due: sla_due_from_row(row)?,
        ..ticket_from_row(row)?
    })
}

pub(super) fn sla_due_from_row(row: &AnyRow) -> Result<Option<SlaDue>, sqlx::Error> {
    let (Some(due_at), Some(target_ms)) = (
        row.try_get::<Option<i64>, _>("sla_due_at")?,
        row.try_get::<Option<i64>, _>("sla_target_ms")?,
    ) else {
        return Ok(None);
    };
    Ok(Some(SlaDue {
        due: opsdesk_sla::countdown::Due {
            due_at,
            target_ms,
            warn_percent: row.try_get("sla_warn_percent")?,
        },
        calendar_id: row.try_get("sla_calendar_id")?,
    }))
}

fn category_from_row(row: &AnyRow) -> Result<Category, sqlx::Error> {
    Ok(Category {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        security: row.try_get::<i64, _>("security")? != 0,
        position: row.try_get("position")?,
    })
}

pub async fn list_categories(db: &Db) -> Result<Vec<Category>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, name, security, position FROM ticket_categories ORDER BY position, name",
    )
    .fetch_all(db.read())
    .await?;
    rows.iter().map(category_from_row).collect()
}

/// A category by id or (case-insensitive) name.
pub async fn find_category(db: &Db, key: &str) -> Result<Option<Category>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, name, security, position FROM ticket_categories \
         WHERE id = $1 OR LOWER(name) = LOWER($1)",
    )
    .bind(key.trim())
    .fetch_optional(db.read())
    .await?;
    row.as_ref().map(category_from_row).transpose()
}

/// The requester's account by email, created as a customer without a password if new.
/// Returns the user id and organization. Safe under concurrency: the insert is a no-op when
/// another request created the account first.
pub async fn ensure_requester(
    tx: &mut Tx,
    email: &str,
    name: &str,
    now: i64,
) -> Result<(String, Option<String>, bool), sqlx::Error> {
    let mut p = Pipeline::new();
    let fresh = push_requester(&mut p, email, name, now);
    requester_from(&p.rows(tx).await?[0], &fresh)
}

/// [`ensure_requester`] as one statement of a pipeline: returns the id a new account gets, for
/// [`requester_from`].
pub fn push_requester(p: &mut Pipeline, email: &str, name: &str, now: i64) -> String {
    // One round trip: insert, or touch the existing row so RETURNING gives its id.
    let fresh = opsdesk_core::clock::new_id();
    p.push(
        "INSERT INTO users (id, email, name, role, security, organization_id, password_hash, disabled, created_at, updated_at) \
         VALUES ($1, $2, $3, 'customer', 0, NULL, NULL, 0, $4, $4) \
         ON CONFLICT (email) DO UPDATE SET email = excluded.email RETURNING id, organization_id",
    )
    .bind(&fresh)
    .bind(email)
    .bind(name)
    .bind(now);
    fresh
}

/// The account [`push_requester`] found or created: (id, organization, created now).
pub fn requester_from(
    rows: &[AnyRow],
    fresh: &str,
) -> Result<(String, Option<String>, bool), sqlx::Error> {
    let row = rows.first().ok_or(sqlx::Error::RowNotFound)?;
    let id: String = row.try_get("id")?;
    let inserted = id == fresh;
    Ok((id, row.try_get("organization_id")?, inserted))
}

/// Takes the next ticket number (inside the creating transaction, so numbers are never reused).
pub async fn next_number(tx: &mut Tx) -> Result<i64, sqlx::Error> {
    let mut p = Pipeline::new();
    push_next_number(&mut p);
    number_from(&p.rows(tx).await?[0])
}

/// [`next_number`] as one statement of a pipeline, read by [`number_from`].
pub fn push_next_number(p: &mut Pipeline) {
    p.push("UPDATE ticket_counter SET next = next + 1 WHERE id = 1 RETURNING next");
}

pub fn number_from(rows: &[AnyRow]) -> Result<i64, sqlx::Error> {
    let next: i64 = rows
        .first()
        .ok_or(sqlx::Error::RowNotFound)?
        .try_get("next")?;
    Ok(next - 1)
}

pub struct NewTicketRow<'a> {
    pub id: &'a str,
    pub number: i64,
    pub subject: &'a str,
    pub category_id: Option<&'a str>,
    pub priority: Priority,
    pub channel: Channel,
    pub requester_id: &'a str,
    pub organization_id: Option<&'a str>,
    pub assignee_id: Option<&'a str>,
    pub security: bool,
    pub now: i64,
}

pub async fn insert_ticket(tx: &mut Tx, t: &NewTicketRow<'_>) -> Result<(), sqlx::Error> {
    let mut p = Pipeline::new();
    push_ticket(&mut p, t);
    p.execute(tx).await
}

/// [`insert_ticket`] as one statement of a pipeline.
pub fn push_ticket(p: &mut Pipeline, t: &NewTicketRow<'_>) {
    p.push(
        "INSERT INTO tickets (id, number, subject, state, category_id, priority, channel, requester_id, \
         organization_id, security, created_at, updated_at, assignee_id) \
         VALUES ($1, $2, $3, 'new', $4, $5, $6, $7, $8, $9, $10, $10, $11)",
    )
    .bind(t.id)
    .bind(t.number)
    .bind(t.subject)
    .bind(t.category_id)
    .bind(t.priority.rank())
    .bind(t.channel.as_str())
    .bind(t.requester_id)
    .bind(t.organization_id)
    .bind(flag(t.security))
    .bind(t.now)
    .bind(t.assignee_id);
}

pub async fn insert_message(
    tx: &mut Tx,
    ticket_id: &str,
    kind: MessageKind,
    author_id: Option<&str>,
    body: &str,
    source: &str,
    now: i64,
) -> Result<String, sqlx::Error> {
    let mut p = Pipeline::new();
    let id = push_message(&mut p, ticket_id, kind, author_id, body, source, now);
    p.execute(tx).await?;
    Ok(id)
}

/// [`insert_message`] as one statement of a pipeline; returns the message's id.
pub fn push_message(
    p: &mut Pipeline,
    ticket_id: &str,
    kind: MessageKind,
    author_id: Option<&str>,
    body: &str,
    source: &str,
    now: i64,
) -> String {
    let id = opsdesk_core::clock::new_id();
    p.push(
        "INSERT INTO ticket_messages (id, ticket_id, kind, author_id, body, source, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(ticket_id)
    .bind(kind.as_str())
    .bind(author_id)
    .bind(body)
    .bind(source)
    .bind(now);
    id
}

pub async fn insert_event(
    tx: &mut Tx,
    ticket_id: &str,
    actor: &str,
    kind: &str,
    detail: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut p = Pipeline::new();
    push_event(&mut p, ticket_id, actor, kind, detail, now);
    p.execute(tx).await
}

/// [`insert_event`] as one statement of a pipeline.
pub fn push_event(
    p: &mut Pipeline,
    ticket_id: &str,
    actor: &str,
    kind: &str,
    detail: &str,
    now: i64,
) {
    p.push(
        "INSERT INTO ticket_events (id, ticket_id, at, actor, kind, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(opsdesk_core::clock::new_id())
    .bind(ticket_id)
    .bind(now)
    .bind(actor)
    .bind(kind)
    .bind(detail);
}

pub async fn find(db: &Db, number: i64) -> Result<Option<Ticket>, sqlx::Error> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "{TICKET_SELECT} WHERE t.number = $1"
    )))
    .bind(number)
    .fetch_optional(db.read())
    .await?;
    row.as_ref().map(ticket_from_row).transpose()
}

pub async fn find_by_id(db: &Db, id: &str) -> Result<Option<Ticket>, sqlx::Error> {
    let row = sqlx::query(AssertSqlSafe(format!("{TICKET_SELECT} WHERE t.id = $1")))
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    row.as_ref().map(ticket_from_row).transpose()
}

/// The ticket as seen inside a write transaction (locked on PostgreSQL), for state changes.
pub async fn find_for_update(
    tx: &mut Tx,
    db: &Db,
    number: i64,
) -> Result<Option<Ticket>, sqlx::Error> {
    let lock = db.backend().pick("", " FOR UPDATE OF t");
    let row = sqlx::query(AssertSqlSafe(format!(
        "{TICKET_SELECT} WHERE t.number = $1{lock}"
    )))
    .bind(number)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(ticket_from_row).transpose()
}

/// Puts a ticket in a state directly, without the flow (synthetic data only: `opsdesk seed`).
pub async fn set_state(tx: &mut Tx, id: &str, state: State) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tickets SET state = $2 WHERE id = $1")
        .bind(id)
        .bind(state.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records a permitted move of the flow.
pub async fn apply_change(tx: &mut Tx, id: &str, c: &Change, now: i64) -> Result<(), sqlx::Error> {
    let r = &c.recorded;
    sqlx::query(
        "UPDATE tickets SET state = $2, resume_state = $3, \
         reproduction_outcome = COALESCE($4, reproduction_outcome), \
         reproduction_steps = COALESCE($5, reproduction_steps), evidence = COALESCE($6, evidence), \
         root_cause = COALESCE($7, root_cause), fix = COALESCE($8, fix), \
         resolution = COALESCE($9, resolution), close_reason = $10, \
         fixed_at = CASE WHEN $2 = 'fixed' THEN $11 ELSE fixed_at END, \
         resolved_at = CASE WHEN $2 = 'resolved' THEN $11 WHEN $2 = 'closed' THEN resolved_at ELSE NULL END, \
         closed_at = CASE WHEN $2 = 'closed' THEN $11 ELSE NULL END, \
         updated_at = $11 WHERE id = $1",
    )
    .bind(id)
    .bind(c.to.as_str())
    .bind(c.resume_state.map(State::as_str))
    .bind(r.outcome.map(Outcome::as_str))
    .bind(r.steps.as_deref())
    .bind(r.evidence.as_deref())
    .bind(r.root_cause.as_deref())
    .bind(r.fix.as_deref())
    .bind(r.resolution.as_deref())
    .bind(r.close_reason.as_deref())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Field edits (category, priority, assignee, subject, privacy) in one statement.
pub struct FieldsRow<'a> {
    pub category_id: Option<&'a str>,
    pub priority: Priority,
    pub assignee_id: Option<&'a str>,
    pub subject: &'a str,
    pub security: bool,
}

pub async fn update_fields(
    tx: &mut Tx,
    id: &str,
    f: &FieldsRow<'_>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tickets SET category_id = $2, priority = $3, assignee_id = $4, subject = $5, \
         security = $6, updated_at = $7 WHERE id = $1",
    )
    .bind(id)
    .bind(f.category_id)
    .bind(f.priority.rank())
    .bind(f.assignee_id)
    .bind(f.subject)
    .bind(flag(f.security))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn touch(tx: &mut Tx, id: &str, team_reply: bool, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tickets SET updated_at = $2, \
         last_reply_at = CASE WHEN $3 = 1 THEN $2 ELSE last_reply_at END WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(flag(team_reply))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn messages(
    db: &Db,
    ticket_id: &str,
    with_notes: bool,
) -> Result<Vec<Message>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT m.id, m.kind, m.body, m.source, m.created_at, m.author_id, u.email, u.name \
         FROM ticket_messages m LEFT JOIN users u ON u.id = m.author_id \
         WHERE m.ticket_id = $1 AND ($2 = 1 OR m.kind <> 'note') ORDER BY m.created_at, m.id",
    )
    .bind(ticket_id)
    .bind(flag(with_notes))
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            let author = match r.try_get::<Option<String>, _>("author_id")? {
                Some(id) => Some(Person {
                    id,
                    email: r.try_get::<Option<String>, _>("email")?.unwrap_or_default(),
                    name: r.try_get::<Option<String>, _>("name")?.unwrap_or_default(),
                }),
                None => None,
            };
            Ok(Message {
                id: r.try_get("id")?,
                kind: decode("message kind", &kind, MessageKind::parse(&kind))?,
                author,
                body: r.try_get("body")?,
                source: r.try_get("source")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

pub async fn events(db: &Db, ticket_id: &str) -> Result<Vec<Event>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT at, actor, kind, detail FROM ticket_events WHERE ticket_id = $1 ORDER BY at, id",
    )
    .bind(ticket_id)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Event {
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                kind: r.try_get("kind")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect()
}

/// A person from a row with `id`, `email` and `name`.
fn person_from(r: &AnyRow) -> Result<Person, sqlx::Error> {
    Ok(Person {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
    })
}

/// An active member of the team by id who may hold the ticket (a security report only goes to
/// admins and the security team).
pub async fn staff_for(db: &Db, id: &str, security: bool) -> Result<Option<Person>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, email, name FROM users WHERE id = $1 AND role IN ('admin', 'agent') \
         AND disabled = 0 AND ($2 = 0 OR role = 'admin' OR security = 1)",
    )
    .bind(id)
    .bind(flag(security))
    .fetch_optional(db.read())
    .await?;
    row.as_ref().map(person_from).transpose()
}

/// Staff who can be assigned tickets.
pub async fn assignable(db: &Db) -> Result<Vec<Person>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, email, name FROM users WHERE role IN ('admin', 'agent') AND disabled = 0 ORDER BY name, email",
    )
    .fetch_all(db.read())
    .await?;
    rows.iter().map(person_from).collect()
}

/// Who hears about an unassigned ticket's SLA: the active team (admins and agents; for a
/// security report only admins and the security team), at most 20.
pub async fn team_for_notices(db: &Db, security: bool) -> Result<Vec<Person>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, email, name FROM users WHERE role IN ('admin', 'agent') AND disabled = 0 \
         AND ($1 = 0 OR role = 'admin' OR security = 1) ORDER BY email LIMIT 20",
    )
    .bind(flag(security))
    .fetch_all(db.read())
    .await?;
    rows.iter().map(person_from).collect()
}

/// Whether a message is part of the public conversation (not an internal note).
pub async fn message_is_public(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let kind: Option<String> = sqlx::query_scalar("SELECT kind FROM ticket_messages WHERE id = $1")
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    Ok(kind.is_some_and(|k| k != MessageKind::Note.as_str()))
}
