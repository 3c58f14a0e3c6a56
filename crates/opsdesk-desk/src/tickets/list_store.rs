//! SQL for ticket lists: the filters, sorts and cursors of the inbox and the API, counts per
//! state (from the triggers' table on SQLite), and the inbox's light rows. The columns a ticket
//! is read from live in `store`.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe, Row as _};

use super::model::{Priority, SlaDue, State, Ticket};
use super::search;
use super::store::{
    INBOX_SELECT, INBOX_SELECT_FTS, TICKET_SELECT, TICKET_SELECT_FTS, TICKET_SELECT_FTS_SLA,
    TICKET_SELECT_SLA, decode, sla_due_from_row, ticket_from_row, ticket_with_sla_from_row,
};
use opsdesk_core::db::{Backend, Db};

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
