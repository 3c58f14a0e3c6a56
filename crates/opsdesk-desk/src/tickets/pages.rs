//! The agent desk: the inbox (`/desk`) with views, counts and pagination, and the ticket page
//! with the conversation, the timeline, the flow's next steps, reply, note and field edits.
//! Forms post, then redirect back with a flash; a refused form is shown again with its text.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::api::{decode_cursor, encode_cursor, parse_states};
use super::model::{Category, Person, State, Ticket};
use super::queries::{self, ListQuery};
use super::service::{
    self, LinkedTicket, MessageInput, TicketDetail, TicketPatch, TransitionInput,
};
use super::store::{InboxRow, Sort};
use crate::mail::Delivery;
use opsdesk_core::accounts::User;
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiForm;
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{PageError, PageResult, Shell, actor_names, flash, when};
use opsdesk_sla::ticket::CalendarSet;

const PAGE: i64 = 50;

pub(crate) fn require_staff(me: &PageUser) -> Result<(), PageError> {
    if me.user().role.is_staff() {
        Ok(())
    } else {
        Err(PageError(AppError::forbidden(
            "The desk is for the support team. To ask for help, use the support form.",
        )))
    }
}

#[derive(Deserialize, Default)]
pub struct InboxQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    cursor: String,
    #[serde(default)]
    q: String,
    /// `soon`: the "breaching soon" view.
    #[serde(default)]
    due: String,
}

/// One inbox tab: a state (or all open ones) and how many tickets it holds.
struct Tab {
    label: String,
    href: String,
    count: i64,
    current: bool,
}

struct Row {
    number: i64,
    subject: String,
    requester: String,
    category: String,
    state: &'static str,
    state_key: &'static str,
    priority: &'static str,
    assignee: String,
    updated: String,
    security: bool,
    /// Time to the nearest SLA target: (label, urgency `ok`/`soon`/`overdue`, due time).
    target: Option<(String, &'static str, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "desk_inbox.html")]
struct InboxPage {
    shell: Shell,
    tabs: Vec<Tab>,
    rows: Vec<Row>,
    categories: Vec<Category>,
    q: InboxQuery,
    next_href: Option<String>,
    /// The "breaching soon" view: open tickets whose deadline is within 4 hours or missed.
    soon_href: String,
    soon_current: bool,
}

fn inbox_href(q: &InboxQuery, state: &str, cursor: &str) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("state", state),
        ("category", q.category.as_str()),
        ("assignee", q.assignee.as_str()),
        ("sort", q.sort.as_str()),
        ("q", q.q.as_str()),
        ("due", q.due.as_str()),
        ("cursor", cursor),
    ] {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    format!("/desk?{}", s.finish())
}

fn parse_sort(s: &str) -> Result<Sort, AppError> {
    match s {
        "" | "newest" => Ok(Sort::Newest),
        "oldest" => Ok(Sort::Oldest),
        "updated" => Ok(Sort::Updated),
        "priority" => Ok(Sort::Priority),
        "due" => Ok(Sort::Due),
        _ => Err(AppError::field(
            "sort",
            "must be newest, oldest, updated, priority or due",
        )),
    }
}

fn row(t: InboxRow, calendars: Option<&CalendarSet>, now: i64) -> Row {
    let target = t.sla_due.as_ref().zip(calendars).map(|(d, cals)| {
        let c = cals.countdown(d.calendar_id.as_deref(), &d.due, now);
        (c.label(), c.urgency.as_str(), when(c.due_at))
    });
    Row {
        target,
        number: t.number,
        subject: t.subject,
        requester: t.requester_email,
        category: t.category.unwrap_or_default(),
        state: t.state.label(),
        state_key: t.state.as_str(),
        priority: t.priority.as_str(),
        assignee: t.assignee_name.unwrap_or_default(),
        updated: when(t.updated_at),
        security: t.security,
    }
}

pub async fn inbox(
    AxState(state): AxState<AppState>,
    session: Session,
    me: PageUser,
    Query(q): Query<InboxQuery>,
) -> PageResult {
    require_staff(&me)?;
    let view = if q.state.is_empty() {
        "open"
    } else {
        q.state.as_str()
    };
    let query = ListQuery {
        states: parse_states(Some(view))?,
        category: Some(q.category.clone()).filter(|c| !c.is_empty()),
        assignee: Some(q.assignee.clone()).filter(|a| !a.is_empty()),
        sort: parse_sort(&q.sort)?,
        after: decode_cursor(Some(&q.cursor))?,
        limit: PAGE,
        q: Some(q.q.clone()).filter(|s| !s.trim().is_empty()),
        due: Some(q.due.clone()).filter(|s| !s.is_empty()),
    };
    let filter = queries::filter_for(&state.db, me.user(), &query).await?;
    let (items, next) = queries::inbox_page(&state.db, &filter, PAGE).await?;
    // Calendars are read only when a row has a deadline to count down to.
    let calendars = if items.iter().any(|t| t.sla_due.is_some()) {
        Some(CalendarSet::cached(&state.db).await?)
    } else {
        None
    };
    let now = opsdesk_core::clock::now_ms();
    let counts = queries::counts(&state.db, &filter).await?;
    let count = |s: State| {
        counts
            .iter()
            .find(|(st, _)| *st == s)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let mut tabs = vec![Tab {
        label: "Open".into(),
        href: inbox_href(&q, "open", ""),
        count: State::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .map(count)
            .sum(),
        current: view == "open",
    }];
    for s in State::ALL {
        tabs.push(Tab {
            label: s.label().into(),
            href: inbox_href(&q, s.as_str(), ""),
            count: count(s),
            current: view == s.as_str(),
        });
    }
    let next_href = encode_cursor(next).map(|c| inbox_href(&q, view, &c));
    let shell = Shell::load(&state, &session, Some(me.user()), "Inbox", "desk").await;
    Ok(InboxPage {
        shell,
        tabs,
        rows: items
            .into_iter()
            .map(|t| row(t, calendars.as_deref(), now))
            .collect(),
        soon_href: inbox_href(
            &InboxQuery {
                sort: "due".into(),
                due: "soon".into(),
                ..InboxQuery::default()
            },
            "open",
            "",
        ),
        soon_current: q.due == "soon",
        categories: queries::categories(&state.db).await?,
        q,
        next_href,
    }
    .into_response())
}

/// A conversation entry as the page shows it.
struct Entry {
    kind: &'static str,
    author: String,
    when: String,
    body: String,
    /// `email` when it came or went by email.
    source: String,
    files: Vec<FileLink>,
    /// Delivery of the email that carried a reply: `sent`, `queued`, `failed`…
    delivery: Option<DeliveryLine>,
}

struct FileLink {
    name: String,
    size: String,
    href: String,
}

struct DeliveryLine {
    state: String,
    detail: String,
}

impl DeliveryLine {
    fn of(d: &Delivery) -> DeliveryLine {
        let detail = match (d.state.as_str(), &d.last_error) {
            ("sent", _) => format!(
                "sent to {} {}",
                d.recipients,
                d.sent_at.map(when).unwrap_or_default()
            ),
            (_, Some(e)) => format!("{} to {}: {e}", d.state, d.recipients),
            (s, None) => format!("{s} to {}", d.recipients),
        };
        DeliveryLine {
            state: d.state.clone(),
            detail,
        }
    }
}

fn human_size(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

struct TimelineLine {
    when: String,
    actor: String,
    kind: String,
    detail: String,
}

struct StepForm {
    to: &'static str,
    label: &'static str,
    needs: Vec<&'static str>,
}

#[derive(Template, WebTemplate)]
#[template(path = "desk_ticket.html")]
struct TicketPage {
    shell: Shell,
    t: Ticket,
    tier: Option<opsdesk_sla::policy::TierRef>,
    /// Each target as a line: (what, state, detail).
    sla: Vec<SlaLine>,
    entries: Vec<Entry>,
    timeline: Vec<TimelineLine>,
    steps: Vec<StepForm>,
    categories: Vec<Category>,
    agents: Vec<Person>,
    others: Vec<Row>,
    /// Automatic mail (acknowledgements) and its delivery.
    automatic_mail: Vec<DeliveryLine>,
    /// Request types support does not take on (answer with the policy and close).
    unsupported: Vec<super::policy::UnsupportedType>,
    canned: Vec<super::composer::Canned>,
    /// What the communication rules found in the reply the agent tried to send.
    reply_concerns: Vec<super::composer::Concern>,
    links: Vec<LinkedTicket>,
    /// Which form was refused (`reply`, `note`, `edit`, or a target state), its errors and text.
    failed: String,
    errors: BTreeMap<String, String>,
    draft: BTreeMap<String, String>,
}

impl TicketPage {
    /// The text to put back into a field of the refused form (empty otherwise).
    fn val(&self, form: &str, field: &str) -> &str {
        if self.failed == form {
            self.draft.get(field).map(String::as_str).unwrap_or("")
        } else {
            ""
        }
    }

    fn label(&self, field: &str) -> &'static str {
        field_label(field)
    }

    fn err(&self, form: &str, field: &str) -> &str {
        if self.failed == form {
            self.errors.get(field).map(String::as_str).unwrap_or("")
        } else {
            ""
        }
    }
}

fn field_label(f: &str) -> &'static str {
    match f {
        "category" => "Category",
        "outcome" => "Outcome",
        "steps" => "Steps to reproduce",
        "evidence" => "Evidence (logs, health, links)",
        "root_cause" => "Root cause",
        "fix" => "Fix or workaround",
        "note" => "Resolution note",
        "reason" => "Reason",
        _ => "Field",
    }
}

/// One SLA target as the ticket page shows it.
struct SlaLine {
    what: &'static str,
    /// The state as a class name (`running`, `not-started`, …).
    key: String,
    state: String,
    detail: String,
}

fn sla_lines(v: opsdesk_sla::ticket::SlaView) -> Vec<SlaLine> {
    [
        ("First response", v.first_response),
        ("Next response", v.next_response),
        ("Resolution", v.resolution),
    ]
    .into_iter()
    .filter(|(_, t)| t.target_minutes.is_some())
    .map(|(what, t)| {
        let target = t.target_minutes.unwrap_or_default();
        let detail = match (t.state.as_str(), t.due_at) {
            ("running", Some(due)) => {
                format!("due {} (target {target} business minutes)", when(due))
            }
            ("not_started", _) => {
                format!("starts with the customer's next message (target {target} min)")
            }
            (_, _) => format!("{} of {target} business minutes", t.elapsed_minutes),
        };
        SlaLine {
            what,
            key: t.state.replace('_', "-"),
            state: t.state.replace('_', " "),
            detail,
        }
    })
    .collect()
}

async fn ticket_page(
    state: &AppState,
    session: &Session,
    me: &User,
    reference: &str,
    failed: &str,
    errors: BTreeMap<String, String>,
    draft: BTreeMap<String, String>,
) -> Result<TicketPage, PageError> {
    let TicketDetail {
        ticket,
        tier,
        sla,
        messages,
        timeline,
        next_steps,
        attachments,
        deliveries,
        links,
    } = service::detail(&state.db, me, reference).await?;
    let names = actor_names(state, timeline.iter().map(|e| e.actor.as_str())).await;
    let others_query = ListQuery {
        states: Vec::new(),
        category: None,
        assignee: None,
        sort: Sort::Newest,
        after: None,
        limit: 10,
        q: None,
        due: None,
    };
    let others = queries::list_for_requester(&state.db, me, &ticket.requester.id, &others_query)
        .await?
        .into_iter()
        .filter(|t| t.number != ticket.number)
        .map(|t| row(t.into(), None, 0))
        .collect();
    let title = format!("#{} {}", ticket.number, ticket.subject);
    let shell = Shell::load(state, session, Some(me), &title, "desk").await;
    Ok(TicketPage {
        shell,
        entries: messages
            .into_iter()
            .map(|m| Entry {
                kind: m.kind.as_str(),
                author: m
                    .author
                    .map(|a| format!("{} <{}>", a.name, a.email))
                    .unwrap_or_default(),
                when: when(m.created_at),
                files: attachments
                    .iter()
                    .filter(|a| a.message_id == m.id)
                    .map(|a| FileLink {
                        name: a.filename.clone(),
                        size: human_size(a.size),
                        href: format!("/api/tickets/{}/attachments/{}", ticket.number, a.id),
                    })
                    .collect(),
                delivery: deliveries
                    .iter()
                    .find(|d| d.message_id.as_deref() == Some(m.id.as_str()))
                    .map(DeliveryLine::of),
                source: m.source,
                body: m.body,
            })
            .collect(),
        automatic_mail: deliveries
            .iter()
            .filter(|d| d.message_id.is_none())
            .map(|d| DeliveryLine {
                detail: format!("{}: {}", d.subject, DeliveryLine::of(d).detail),
                state: d.state.clone(),
            })
            .collect(),
        links,
        unsupported: super::policy::types(&state.db).await?,
        canned: super::composer::canned(&state.db).await?,
        reply_concerns: if failed == "reply" && errors.contains_key("confirm") {
            let body = draft.get("body").map(String::as_str).unwrap_or("");
            super::composer::review(&state.db, body).await?
        } else {
            Vec::new()
        },
        timeline: timeline
            .into_iter()
            .map(|e| TimelineLine {
                when: when(e.at),
                actor: names.get(&e.actor).cloned().unwrap_or(e.actor),
                kind: e.kind,
                detail: e.detail,
            })
            .collect(),
        steps: next_steps
            .into_iter()
            .map(|s| StepForm {
                to: s.to.as_str(),
                label: s.label,
                needs: s.needs,
            })
            .collect(),
        categories: queries::categories(&state.db).await?,
        agents: queries::assignable(&state.db).await?,
        others,
        t: ticket,
        tier,
        sla: sla.map(sla_lines).unwrap_or_default(),
        failed: failed.to_string(),
        errors,
        draft,
    })
}

#[derive(Deserialize)]
pub struct TicketQuery {
    /// A canned reply to put into the reply box (works without JavaScript).
    canned: Option<String>,
}

pub async fn ticket(
    AxState(state): AxState<AppState>,
    session: Session,
    me: PageUser,
    Path(reference): Path<String>,
    Query(q): Query<TicketQuery>,
) -> PageResult {
    require_staff(&me)?;
    let mut form = "";
    let mut draft = BTreeMap::new();
    if let Some(id) = q.canned.filter(|c| !c.is_empty()) {
        let t = service::visible(&state.db, me.user(), &reference).await?;
        let brand = opsdesk_core::setup::instance(&state.db)
            .await
            .map_err(AppError::from)?
            .brand_name;
        if let Some(c) = super::composer::canned(&state.db)
            .await?
            .into_iter()
            .find(|c| c.id == id)
        {
            form = "reply";
            draft.insert("body".into(), super::composer::fill(&c.body, &t, &brand));
        }
    }
    let page = ticket_page(
        &state,
        &session,
        me.user(),
        &reference,
        form,
        BTreeMap::new(),
        draft,
    )
    .await?;
    Ok(page.into_response())
}

/// After a ticket form: back to the ticket with `done` as the flash message, or, when the
/// change was refused, the page again with the errors and what was typed (`draft`).
pub(crate) async fn answer(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    reference: &str,
    form: &str,
    outcome: Result<String, AppError>,
    draft: BTreeMap<String, String>,
) -> PageResult {
    let e = match outcome {
        Ok(done) => {
            flash(session, done).await;
            return Ok(back(reference));
        }
        Err(e) => e,
    };
    let mut errors = if e.code == "validation_failed" {
        e.fields
    } else if e.code == "reply_needs_confirmation" {
        BTreeMap::from([("confirm".to_string(), e.message.clone())])
    } else if e.code == "invalid_transition" {
        BTreeMap::from([("to".to_string(), e.message.clone())])
    } else {
        return Err(PageError(e));
    };
    if errors.is_empty() {
        errors.insert("form".into(), e.message);
    }
    let page = ticket_page(state, session, me.user(), reference, form, errors, draft).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

fn back(reference: &str) -> Response {
    let n: String = reference.chars().filter(char::is_ascii_digit).collect();
    Redirect::to(&format!("/desk/tickets/{n}")).into_response()
}

#[derive(Deserialize)]
pub struct BodyForm {
    #[serde(default)]
    body: String,
    /// `true` when the agent sends a reply the communication rules flagged.
    confirm: Option<String>,
}

pub async fn reply(
    AxState(state): AxState<AppState>,
    session: Session,
    me: PageUser,
    Path(reference): Path<String>,
    f: crate::uploads::FormWithFiles,
) -> PageResult {
    require_staff(&me)?;
    let body = f.text("body");
    let input = MessageInput {
        body: body.clone(),
        confirm: f.text("confirm") == "true",
    };
    let blobs = crate::mail::api::blobs(&state);
    let outcome = service::add_message_with_files(
        &state.db,
        &state.config.mail,
        &me.actor(),
        me.user(),
        &reference,
        input,
        Some((&blobs, &f.files)),
    )
    .await
    .map(|_| "Reply added.".to_string());
    let draft = BTreeMap::from([("body".into(), body)]);
    answer(&state, &session, &me, &reference, "reply", outcome, draft).await
}

pub async fn note(
    AxState(state): AxState<AppState>,
    session: Session,
    me: PageUser,
    Path(reference): Path<String>,
    ApiForm(f): ApiForm<BodyForm>,
) -> PageResult {
    require_staff(&me)?;
    let input = MessageInput {
        body: f.body.clone(),
        confirm: f.confirm.as_deref() == Some("true"),
    };
    let outcome = service::add_note(&state.db, &me.actor(), me.user(), &reference, input)
        .await
        .map(|_| "Internal note added.".to_string());
    let draft = BTreeMap::from([("body".into(), f.body)]);
    answer(&state, &session, &me, &reference, "note", outcome, draft).await
}

/// A form field as an optional value: blank means not given.
fn filled(s: &str) -> Option<String> {
    Some(s.to_string()).filter(|s| !s.trim().is_empty())
}

/// A move in the flow; the form's fields (all of them, as typed) are also the draft shown
/// again if the move is refused.
pub async fn transition(
    AxState(state): AxState<AppState>,
    session: Session,
    me: PageUser,
    Path(reference): Path<String>,
    ApiForm(f): ApiForm<BTreeMap<String, String>>,
) -> PageResult {
    require_staff(&me)?;
    let field = |k: &str| f.get(k).and_then(|v| filled(v));
    let to = f.get("to").cloned().unwrap_or_default();
    let input = TransitionInput {
        to: to.clone(),
        category: field("category"),
        outcome: field("outcome"),
        steps: field("steps"),
        evidence: field("evidence"),
        root_cause: field("root_cause"),
        fix: field("fix"),
        note: field("note"),
        reason: field("reason"),
    };
    let outcome = service::transition(
        &state.db,
        &state.config.mail,
        &me.actor(),
        me.user(),
        &reference,
        input,
    )
    .await
    .map(|t| format!("#{} is now {}.", t.number, t.state.label()));
    answer(&state, &session, &me, &reference, &to, outcome, f).await
}

#[derive(Deserialize, Default)]
pub struct EditForm {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    assignee: String,
}

pub async fn edit(
    AxState(state): AxState<AppState>,
    session: Session,
    me: PageUser,
    Path(reference): Path<String>,
    ApiForm(f): ApiForm<EditForm>,
) -> PageResult {
    require_staff(&me)?;
    let patch = TicketPatch {
        subject: filled(&f.subject),
        category: filled(&f.category),
        priority: filled(&f.priority),
        assignee: Some(filled(&f.assignee)),
        security: None,
    };
    let outcome = service::update(&state.db, &me.actor(), me.user(), &reference, patch)
        .await
        .map(|_| "Ticket updated.".to_string());
    let draft = BTreeMap::from([("subject".to_string(), f.subject)]);
    answer(&state, &session, &me, &reference, "edit", outcome, draft).await
}
