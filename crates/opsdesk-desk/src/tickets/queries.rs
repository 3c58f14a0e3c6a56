//! Reading tickets in bulk: the inbox and API lists (filters, sorts, search, cursors), counts per
//! state, and the lookups pages need (categories, assignable staff). Access rules apply here
//! too: customers list only their own tickets, and security reports only reach the security team.

use super::access;
use super::model::{Category, Person, State, Ticket};
use super::search;
use super::service::{assignee, category};
use super::store;
use opsdesk_core::accounts::User;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;

/// A page of tickets for the viewer.
pub struct ListQuery {
    pub states: Vec<State>,
    pub category: Option<String>,
    /// `me`, `none`, or an agent's id or email.
    pub assignee: Option<String>,
    pub sort: store::Sort,
    pub after: Option<(i64, i64)>,
    pub limit: i64,
    /// Full-text search: tickets containing every word.
    pub q: Option<String>,
    /// `soon` (an SLA deadline within the next 4 hours, or missed) or `overdue` (missed).
    pub due: Option<String>,
}

/// How far ahead "breaching soon" looks.
pub const SOON_MS: i64 = 4 * 3_600_000;

/// The deadline bound of a `due` view (`soon` or `overdue`) at `now`.
pub fn due_before(due: Option<&str>, now: i64) -> Result<Option<i64>, AppError> {
    match due.map(str::trim) {
        None | Some("") => Ok(None),
        Some("soon") => Ok(Some(now + SOON_MS)),
        Some("overdue") => Ok(Some(now)),
        Some(_) => Err(AppError::field("due", "must be soon or overdue")),
    }
}

/// Resolves a list query into a store filter for the viewer (the category and assignee names
/// are looked up once here; build it once per page and reuse it for rows and counts).
pub async fn filter_for(
    db: &Db,
    viewer: &User,
    q: &ListQuery,
) -> Result<store::ListFilter, AppError> {
    let cat = category(db, q.category.as_deref())
        .await?
        .map_err(|p| AppError::field("category", p))?;
    let assignee = match q.assignee.as_deref().map(str::trim) {
        None | Some("") | Some("any") => store::AssigneeFilter::Any,
        Some("none") => store::AssigneeFilter::Unassigned,
        Some("me") => store::AssigneeFilter::User(viewer.id.clone()),
        Some(key) => store::AssigneeFilter::User(
            assignee(db, viewer, key)
                .await?
                .map_err(|p| AppError::field("assignee", p))?
                .id,
        ),
    };
    let due_before = due_before(q.due.as_deref(), opsdesk_core::clock::now_ms())?;
    if !viewer.role.is_staff() && (q.sort == store::Sort::Due || due_before.is_some()) {
        return Err(AppError::field(
            if due_before.is_some() { "due" } else { "sort" },
            "SLA deadlines are for the support team",
        ));
    }
    Ok(store::ListFilter {
        due_before,
        states: q.states.clone(),
        category_id: cat.map(|c| c.id),
        assignee,
        requester_id: (!viewer.role.is_staff()).then(|| viewer.id.clone()),
        shared_org: (!viewer.role.is_staff())
            .then(|| viewer.organization_id.clone())
            .flatten(),
        include_security: access::sees_security(viewer) || !viewer.role.is_staff(),
        sort: q.sort,
        after: q.after,
        words: search::query_words(q.q.as_deref().unwrap_or("")),
        public_only: !viewer.role.is_staff(),
    })
}

/// One page of tickets matching `f` and the cursor of the next page, if any.
pub async fn page(
    db: &Db,
    f: &store::ListFilter,
    limit: i64,
) -> Result<(Vec<Ticket>, Option<(i64, i64)>), AppError> {
    let limit = limit.clamp(1, 200);
    let items = store::list(db, f, limit + 1).await?;
    Ok(split_page(items, limit, |t| {
        (store::sort_key(t, f.sort), t.number)
    }))
}

/// `limit` of `items` (read with one more) and, when there was more, the cursor after them.
fn split_page<T>(
    mut items: Vec<T>,
    limit: i64,
    cursor: impl Fn(&T) -> (i64, i64),
) -> (Vec<T>, Option<(i64, i64)>) {
    let next = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(cursor)
    } else {
        None
    };
    (items, next)
}

/// One page of the inbox's rows matching `f` and the cursor of the next page, if any.
pub async fn inbox_page(
    db: &Db,
    f: &store::ListFilter,
    limit: i64,
) -> Result<(Vec<store::InboxRow>, Option<(i64, i64)>), AppError> {
    let limit = limit.clamp(1, 200);
    let items = store::list_inbox(db, f, limit + 1).await?;
    Ok(split_page(items, limit, |t| (t.sort_key(f.sort), t.number)))
}

pub async fn list(
    db: &Db,
    viewer: &User,
    q: &ListQuery,
) -> Result<(Vec<Ticket>, Option<(i64, i64)>), AppError> {
    page(db, &filter_for(db, viewer, q).await?, q.limit).await
}

/// Other tickets of one requester, as far as the viewer may see them.
pub async fn list_for_requester(
    db: &Db,
    viewer: &User,
    requester_id: &str,
    q: &ListQuery,
) -> Result<Vec<Ticket>, AppError> {
    let mut f = filter_for(db, viewer, q).await?;
    if viewer.role.is_staff() {
        f.requester_id = Some(requester_id.to_string());
    }
    Ok(page(db, &f, q.limit).await?.0)
}

/// How many tickets match `f` in each state (its state filter ignored).
pub async fn counts(db: &Db, f: &store::ListFilter) -> Result<Vec<(State, i64)>, AppError> {
    Ok(store::count_by_state(db, f).await?)
}

pub async fn categories(db: &Db) -> Result<Vec<Category>, AppError> {
    Ok(store::list_categories(db).await?)
}

pub async fn assignable(db: &Db) -> Result<Vec<Person>, AppError> {
    Ok(store::assignable(db).await?)
}
