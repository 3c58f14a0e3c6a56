//! SQL for tickets, their messages, timeline and categories. Portable across SQLite and
//! PostgreSQL: `$n` placeholders, integer timestamps, `ON CONFLICT … DO NOTHING`, `RETURNING`.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe, Row as _};

use super::flow::Change;
use super::model::{
    Category, Channel, Event, Message, MessageKind, Outcome, Person, Priority, SlaDue, State,
    Ticket,
};
use super::search;
use opsdesk_core::db::{Backend, Db, Tx, flag};

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

const TICKET_SELECT: &str = concat!(ticket_columns!(), " FROM tickets t", ticket_joins!());
const TICKET_SELECT_SLA: &str = concat!(
    ticket_columns!(),
    sla_columns!(),
    " FROM tickets t",
    ticket_joins!(),
    sla_join!()
);

/// The columns an inbox row shows (a page of 50 decodes far fewer values than full tickets).
macro_rules! inbox_columns {
    () => {
        "SELECT t.number, t.subject, t.state, t.priority, t.security, t.updated_at, \
     c.name AS category_name, r.email AS requester_email, a.name AS assignee_name"
    };
}

const INBOX_SELECT: &str = concat!(
    inbox_columns!(),
    sla_columns!(),
    " FROM tickets t",
    ticket_joins!(),
    sla_join!()
);
const INBOX_SELECT_FTS: &str = concat!(
    inbox_columns!(),
    sla_columns!(),
    " FROM ticket_fts f JOIN tickets t ON t.number = f.rowid",
    ticket_joins!(),
    sla_join!()
);

/// A ticket as one row of the inbox shows it.
#[derive(Clone, Debug)]
pub struct InboxRow {
    pub number: i64,
    pub subject: String,
    pub state: State,
    pub priority: Priority,
    pub security: bool,
    pub updated_at: i64,
    pub category: Option<String>,
    pub requester_email: String,
    pub assignee_name: Option<String>,
    pub sla_due: Option<SlaDue>,
}

impl InboxRow {
    /// The key a cursor carries for this row under `sort` (as [`sort_key`] for tickets).
    pub fn sort_key(&self, sort: Sort) -> i64 {
        match sort {
            Sort::Newest | Sort::Oldest => self.number,
            Sort::Updated => self.updated_at,
            Sort::Priority => self.priority.rank(),
            Sort::Due => self.sla_due.as_ref().map_or(i64::MAX, |d| d.due.due_at),
        }
    }
}

impl From<Ticket> for InboxRow {
    fn from(t: Ticket) -> InboxRow {
        InboxRow {
            number: t.number,
            subject: t.subject,
            state: t.state,
            priority: t.priority,
            security: t.security,
            updated_at: t.updated_at,
            category: t.category.map(|c| c.name),
            requester_email: t.requester.email,
            assignee_name: t.assignee.map(|a| a.name),
            sla_due: t.sla_due,
        }
    }
}

fn inbox_row_from(row: &AnyRow) -> Result<InboxRow, sqlx::Error> {
    let state: String = row.try_get("state")?;
    Ok(InboxRow {
        number: row.try_get("number")?,
        subject: row.try_get("subject")?,
        state: decode("state", &state, State::parse(&state))?,
        priority: Priority::from_rank(row.try_get("priority")?),
        security: row.try_get::<i64, _>("security")? != 0,
        updated_at: row.try_get("updated_at")?,
        category: row.try_get("category_name")?,
        requester_email: row.try_get("requester_email")?,
        assignee_name: row.try_get("assignee_name")?,
        sla_due: sla_due_from_row(row)?,
    })
}

/// Search results newest (or oldest) first on SQLite: the full-text index drives the scan in
/// ticket-number order, so a page stops after its rows instead of collecting every match first
/// (common words match most of a large desk).
const TICKET_SELECT_FTS: &str = concat!(
    ticket_columns!(),
    " FROM ticket_fts f JOIN tickets t ON t.number = f.rowid",
    ticket_joins!()
);
const TICKET_SELECT_FTS_SLA: &str = concat!(
    ticket_columns!(),
    sla_columns!(),
    " FROM ticket_fts f JOIN tickets t ON t.number = f.rowid",
    ticket_joins!(),
    sla_join!()
);

fn decode<T>(what: &str, raw: &str, parsed: Option<T>) -> Result<T, sqlx::Error> {
    parsed.ok_or_else(|| sqlx::Error::Decode(format!("unknown {what} {raw:?}").into()))
}

fn ticket_from_row(row: &AnyRow) -> Result<Ticket, sqlx::Error> {
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
fn ticket_with_sla_from_row(row: &AnyRow) -> Result<Ticket, sqlx::Error> {
    Ok(Ticket {
        sla_due: sla_due_from_row(row)?,
        ..ticket_from_row(row)?
    })
}

fn sla_due_from_row(row: &AnyRow) -> Result<Option<SlaDue>, sqlx::Error> {
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
    // One round trip: insert, or touch the existing row so RETURNING gives its id.
    let fresh = opsdesk_core::clock::new_id();
    let row = sqlx::query(
        "INSERT INTO users (id, email, name, role, security, organization_id, password_hash, disabled, created_at, updated_at) \
         VALUES ($1, $2, $3, 'customer', 0, NULL, NULL, 0, $4, $4) \
         ON CONFLICT (email) DO UPDATE SET email = excluded.email RETURNING id, organization_id",
    )
    .bind(&fresh)
    .bind(email)
    .bind(name)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let id: String = row.try_get("id")?;
    let inserted = id == fresh;
    Ok((id, row.try_get("organization_id")?, inserted))
}

/// Takes the next ticket number (inside the creating transaction, so numbers are never reused).
pub async fn next_number(tx: &mut Tx) -> Result<i64, sqlx::Error> {
    let next: i64 =
        sqlx::query_scalar("UPDATE ticket_counter SET next = next + 1 WHERE id = 1 RETURNING next")
            .fetch_one(&mut **tx)
            .await?;
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
    sqlx::query(
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
    .bind(t.assignee_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
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
    let id = opsdesk_core::clock::new_id();
    sqlx::query(
        "INSERT INTO ticket_messages (id, ticket_id, kind, author_id, body, source, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(ticket_id)
    .bind(kind.as_str())
    .bind(author_id)
    .bind(body)
    .bind(source)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn insert_event(
    tx: &mut Tx,
    ticket_id: &str,
    actor: &str,
    kind: &str,
    detail: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ticket_events (id, ticket_id, at, actor, kind, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(opsdesk_core::clock::new_id())
    .bind(ticket_id)
    .bind(now)
    .bind(actor)
    .bind(kind)
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
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

/// Inbox orderings.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Newest first (default).
    Newest,
    /// Oldest first: who has waited longest.
    Oldest,
    /// Most recently changed first.
    Updated,
    /// Most urgent first, then oldest.
    Priority,
    /// The nearest SLA deadline first (staff only; tickets without a running deadline are left
    /// out).
    Due,
}

impl Sort {
    /// The key column, whether it runs descending, and whether ties (equal keys) run by
    /// descending ticket number. The cursor carries (key, number) of the last row.
    fn order(self) -> (&'static str, bool, bool) {
        match self {
            Sort::Newest => ("t.number", true, true),
            Sort::Oldest => ("t.number", false, false),
            Sort::Updated => ("t.updated_at", true, true),
            Sort::Priority => ("t.priority", true, false),
            Sort::Due => ("s.due_at", false, false),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::Oldest => "oldest",
            Sort::Updated => "updated",
            Sort::Priority => "priority",
            Sort::Due => "due",
        }
    }
}

/// Who a list is limited to by assignee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssigneeFilter {
    Any,
    Unassigned,
    User(String),
}

/// A ticket list query. The cursor is `(key, number)` of the last row seen.
#[derive(Clone, Debug)]
pub struct ListFilter {
    pub states: Vec<State>,
    pub category_id: Option<String>,
    pub assignee: AssigneeFilter,
    pub requester_id: Option<String>,
    /// With `requester_id`: also the tickets of this organization, when it shares them (never
    /// security reports).
    pub shared_org: Option<String>,
    pub include_security: bool,
    pub sort: Sort,
    pub after: Option<(i64, i64)>,
    /// Search words (normalized); tickets must contain all of them.
    pub words: Vec<String>,
    /// Search only what customers may see (not internal notes).
    pub public_only: bool,
    /// Only tickets whose nearest SLA deadline is at or before this instant (staff only).
    pub due_before: Option<i64>,
}

impl ListFilter {
    /// Whether only tickets with a running SLA deadline are listed.
    fn deadlines_only(&self) -> bool {
        self.sort == Sort::Due || self.due_before.is_some()
    }
}

/// Binds for SQL assembled from optional conditions, numbered in the order they are added.
#[derive(Default)]
struct Conditions {
    sql: Vec<String>,
    binds: Vec<Bind>,
}

enum Bind {
    Text(String),
    Int(i64),
}

impl Conditions {
    fn next(&self) -> usize {
        self.binds.len() + 1
    }

    fn text(&mut self, template: &str, v: &str) {
        let n = self.next();
        self.sql.push(template.replace('?', &format!("${n}")));
        self.binds.push(Bind::Text(v.to_string()));
    }

    fn int(&mut self, template: &str, v: i64) {
        let n = self.next();
        self.sql.push(template.replace('?', &format!("${n}")));
        self.binds.push(Bind::Int(v));
    }

    fn plain(&mut self, sql: &str) {
        self.sql.push(sql.to_string());
    }

    fn where_clause(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.sql.join(" AND "))
        }
    }

    fn bind_all<'q>(&self, mut q: Query<'q, Any, AnyArguments>) -> Query<'q, Any, AnyArguments> {
        for b in &self.binds {
            q = match b {
                Bind::Text(s) => q.bind(s.clone()),
                Bind::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

/// How the search words constrain the rows: as a subquery of matching numbers, or (with
/// [`TICKET_SELECT_FTS`]) as the MATCH of the joined full-text table.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Words {
    Subquery,
    Joined,
}

fn base_conditions(f: &ListFilter, with_state: bool, backend: Backend, words: Words) -> Conditions {
    let mut c = Conditions::default();
    if !f.words.is_empty() && words == Words::Joined {
        c.text(
            "ticket_fts MATCH ?",
            &search::match_expr(backend, &f.words, f.public_only),
        );
    } else if !f.words.is_empty() {
        let sql = search::matching_sql(backend, c.next(), f.public_only);
        c.sql.push(format!("t.number IN ({sql})"));
        c.binds.push(Bind::Text(search::match_expr(
            backend,
            &f.words,
            f.public_only,
        )));
    }
    if with_state && !f.states.is_empty() {
        let list: Vec<String> = f
            .states
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        // States are our own constants, never user text.
        c.plain(&format!("t.state IN ({})", list.join(", ")));
    }
    if let Some(cat) = &f.category_id {
        c.text("t.category_id = ?", cat);
    }
    match &f.assignee {
        AssigneeFilter::Any => {}
        AssigneeFilter::Unassigned => c.plain("t.assignee_id IS NULL"),
        AssigneeFilter::User(id) => c.text("t.assignee_id = ?", id),
    }
    if let (Some(r), Some(org)) = (&f.requester_id, &f.shared_org) {
        let (a, b) = (c.next(), c.next() + 1);
        c.sql.push(format!(
            "(t.requester_id = ${a} OR (t.organization_id = ${b} AND t.security = 0 AND \
             t.organization_id IN (SELECT id FROM organizations WHERE share_tickets = 1)))"
        ));
        c.binds.push(Bind::Text(r.clone()));
        c.binds.push(Bind::Text(org.clone()));
    } else if let Some(r) = &f.requester_id {
        c.text("t.requester_id = ?", r);
    }
    if !f.include_security {
        c.plain("t.security = 0");
    }
    if f.deadlines_only() {
        c.plain("s.due_at IS NOT NULL");
    }
    if let Some(before) = f.due_before {
        c.int("s.due_at <= ?", before);
    }
    c
}

/// The sort key a cursor carries for a ticket under `sort`.
pub fn sort_key(t: &Ticket, sort: Sort) -> i64 {
    match sort {
        Sort::Newest | Sort::Oldest => t.number,
        Sort::Updated => t.updated_at,
        Sort::Priority => t.priority.rank(),
        Sort::Due => t.sla_due.as_ref().map_or(i64::MAX, |d| d.due.due_at),
    }
}

pub async fn list(db: &Db, f: &ListFilter, limit: i64) -> Result<Vec<Ticket>, sqlx::Error> {
    if f.deadlines_only() {
        let selects = (TICKET_SELECT_SLA, TICKET_SELECT_FTS_SLA);
        let rows = list_rows(db, f, limit, selects).await?;
        rows.iter().map(ticket_with_sla_from_row).collect()
    } else {
        let rows = list_rows(db, f, limit, (TICKET_SELECT, TICKET_SELECT_FTS)).await?;
        rows.iter().map(ticket_from_row).collect()
    }
}

/// The inbox's rows: [`list`] reading only what a row of the inbox shows.
pub async fn list_inbox(db: &Db, f: &ListFilter, limit: i64) -> Result<Vec<InboxRow>, sqlx::Error> {
    let rows = list_rows(db, f, limit, (INBOX_SELECT, INBOX_SELECT_FTS)).await?;
    rows.iter().map(inbox_row_from).collect()
}

/// The rows matching `f` in its order, read with `selects` (plain, and driven by the
/// full-text index).
async fn list_rows(
    db: &Db,
    f: &ListFilter,
    limit: i64,
    selects: (&str, &str),
) -> Result<Vec<AnyRow>, sqlx::Error> {
    let (key, key_desc, number_desc) = f.sort.order();
    let fts_driven = db.backend() == Backend::Sqlite && !f.words.is_empty() && key == "t.number";
    let (select, key) = if fts_driven {
        (selects.1, "f.rowid")
    } else {
        (selects.0, key)
    };
    let words = if fts_driven {
        Words::Joined
    } else {
        Words::Subquery
    };
    let mut c = base_conditions(f, true, db.backend(), words);
    let op = |desc: bool| if desc { "<" } else { ">" };
    let dir = |desc: bool| if desc { "DESC" } else { "ASC" };
    if let Some((_, n)) = f.after.filter(|_| key == "t.number" || key == "f.rowid") {
        c.int(&format!("{key} {} ?", op(number_desc)), n);
    } else if let Some((k, n)) = f.after {
        let (a, b) = (c.next(), c.next() + 1);
        c.sql.push(format!(
            "({key} {} ${a} OR ({key} = ${a} AND t.number {} ${b}))",
            op(key_desc),
            op(number_desc)
        ));
        c.binds.push(Bind::Int(k));
        c.binds.push(Bind::Int(n));
    }
    let order = if key == "t.number" || key == "f.rowid" {
        format!("{key} {}", dir(number_desc))
    } else {
        format!("{key} {}, t.number {}", dir(key_desc), dir(number_desc))
    };
    let n = c.next();
    let sql = format!("{select}{} ORDER BY {order} LIMIT ${n}", c.where_clause());
    let q = c.bind_all(sqlx::query(AssertSqlSafe(sql))).bind(limit);
    q.fetch_all(db.read()).await
}

/// How many tickets match the filter in each state (the state filter itself ignored).
pub async fn count_by_state(db: &Db, f: &ListFilter) -> Result<Vec<(State, i64)>, sqlx::Error> {
    let (sql, c) = if db.backend() == Backend::Sqlite && kept_count_applies(f) {
        let c = kept_count_conditions(f);
        let sql = format!(
            "SELECT state, CAST(SUM(n) AS BIGINT) AS n FROM ticket_state_counts{} GROUP BY state",
            c.where_clause()
        );
        (sql, c)
    } else {
        let c = base_conditions(f, false, db.backend(), Words::Subquery);
        let join = if f.deadlines_only() {
            " JOIN ticket_sla s ON s.ticket_id = t.id"
        } else {
            ""
        };
        // The (filter, state, security) indexes give the groups in order from the index alone.
        let sql = format!(
            "SELECT t.state, COUNT(*) AS n FROM tickets t{join}{} GROUP BY t.state",
            c.where_clause()
        );
        (sql, c)
    };
    let rows = c
        .bind_all(sqlx::query(AssertSqlSafe(sql)))
        .fetch_all(db.read())
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let s: String = r.try_get("state")?;
        if let Some(st) = State::parse(&s) {
            out.push((st, r.try_get("n")?));
        }
    }
    Ok(out)
}

/// Whether the triggers' table of counts (SQLite, migration 0009) answers this filter: it knows
/// category, assignee and privacy, not requesters or words.
fn kept_count_applies(f: &ListFilter) -> bool {
    f.requester_id.is_none() && f.words.is_empty() && !f.deadlines_only()
}

fn kept_count_conditions(f: &ListFilter) -> Conditions {
    let mut c = Conditions::default();
    if let Some(cat) = &f.category_id {
        c.text("category_key = ?", cat);
    }
    match &f.assignee {
        AssigneeFilter::Any => {}
        AssigneeFilter::Unassigned => c.plain("assignee_key = ''"),
        AssigneeFilter::User(id) => c.text("assignee_key = ?", id),
    }
    if !f.include_security {
        c.plain("security = 0");
    }
    c
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
