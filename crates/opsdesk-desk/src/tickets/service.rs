//! Ticket use cases: parse the input, check the rules (access, the flow), then one transaction
//! that writes the change, its timeline entry and its audit record.

use std::collections::BTreeMap;

use axum::http::StatusCode;

use super::access::{self, Guarded};
use super::flow::{self, Facts, FlowError, StepFields};
pub use super::input::{
    LinkedTicket, MessageInput, NewTicket, Step, TicketDetail, TicketPatch, TransitionInput,
};
use super::model::{Category, Message, MessageKind, Person, Priority, State, Ticket, TicketRef};
use super::search;
use super::store::{self, FieldsRow};
use crate::mail::outbox::{self, Letter};
use crate::mail::store as mail_store;
use crate::uploads::Upload;
use opsdesk_core::accounts::{Role, User};
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::blobs::Blobs;
use opsdesk_core::clock::now_ms;
use opsdesk_core::config::MailConfig;
use opsdesk_core::db::{Db, Tx};
use opsdesk_core::error::{AppError, Fields};

/// Longest subject (characters).
pub const MAX_SUBJECT: usize = 250;
/// Longest message body (characters).
pub const MAX_BODY: usize = 200_000;

pub(crate) fn facts(t: &Ticket) -> Facts {
    Facts {
        state: Some(t.state),
        resume_state: t.resume_state,
        has_category: t.category.is_some(),
        fixed_at: t.fixed_at,
        last_reply_at: t.last_reply_at,
    }
}

pub(crate) fn parse_subject(s: &str) -> Result<String, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Err("is required");
    }
    if s.chars().count() > MAX_SUBJECT {
        return Err("is longer than 250 characters");
    }
    // CR/LF in a subject would become header injection in the emails we send.
    if s.chars().any(char::is_control) {
        return Err("must be one line without control characters");
    }
    Ok(s.to_string())
}

pub(crate) fn parse_body(s: &str) -> Result<String, &'static str> {
    let s = s.trim_matches(|c: char| c.is_whitespace());
    if s.is_empty() {
        return Err("is required");
    }
    if s.chars().count() > MAX_BODY {
        return Err("is longer than 200,000 characters");
    }
    Ok(s.replace("\r\n", "\n"))
}

/// The category named by id or name (none when `key` is empty); `Ok(Err(problem))` when no
/// such category exists, so callers can collect it with the other field problems.
pub(crate) async fn category(
    db: &Db,
    key: Option<&str>,
) -> Result<Result<Option<Category>, &'static str>, AppError> {
    let Some(k) = key.map(str::trim).filter(|k| !k.is_empty()) else {
        return Ok(Ok(None));
    };
    Ok(store::find_category(db, k)
        .await?
        .map(Some)
        .ok_or("is not a known category (see the category list)"))
}

pub(crate) async fn event(
    tx: &mut Tx,
    db: &Db,
    actor: &Actor,
    t: &Ticket,
    kind: &str,
    detail: String,
    now: i64,
) -> Result<(), AppError> {
    store::insert_event(tx, &t.id, &actor.label, kind, &detail, now).await?;
    audit::store::append(
        tx,
        db.backend(),
        actor.entry(
            &format!("ticket.{kind}"),
            format!("ticket:{}", t.number),
            detail,
        ),
    )
    .await?;
    Ok(())
}

/// Whether a message is part of the public conversation (not an internal note).
pub async fn message_is_public(db: &Db, id: &str) -> Result<bool, AppError> {
    Ok(store::message_is_public(db, id).await?)
}

/// A ticket the viewer may see, or "not found" (the same answer whether it exists or not).
pub async fn visible(db: &Db, viewer: &User, reference: &str) -> Result<Ticket, AppError> {
    let not_found = || AppError::not_found("This ticket");
    let r = TicketRef::parse(reference).ok_or_else(not_found)?;
    let t = store::find(db, r.0).await?.ok_or_else(not_found)?;
    let guard = Guarded {
        requester_id: &t.requester.id,
        security: t.security,
        organization_id: t.organization_id.as_deref(),
        shared: t.organization_shared,
    };
    if access::can_view(viewer, guard) {
        Ok(t)
    } else {
        Err(not_found())
    }
}

pub async fn detail(db: &Db, viewer: &User, reference: &str) -> Result<TicketDetail, AppError> {
    let ticket = visible(db, viewer, reference).await?;
    let staff = viewer.role.is_staff();
    let messages = store::messages(db, &ticket.id, staff).await?;
    let (timeline, next_steps, deliveries) = if staff {
        (
            store::events(db, &ticket.id).await?,
            flow::next_steps(&facts(&ticket))
                .into_iter()
                .map(Step::from)
                .collect(),
            mail_store::outbox_of(db, &ticket.id).await?,
        )
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let attachments = mail_store::attachments_of(db, &ticket.id)
        .await?
        .into_iter()
        .filter(|a| messages.iter().any(|m| m.id == a.message_id))
        .collect();
    let links = mail_store::links_of(db, &ticket.id)
        .await?
        .into_iter()
        .map(|(number, kind)| LinkedTicket { number, kind })
        .collect();
    let tier = opsdesk_sla::service::tier_for(db, &ticket.requester.id).await?;
    let sla = if staff {
        opsdesk_sla::ticket::view(db, &ticket.id, now_ms()).await?
    } else {
        None
    };
    Ok(TicketDetail {
        tier,
        sla,
        ticket,
        messages,
        timeline,
        next_steps,
        attachments,
        deliveries,
        links,
    })
}

fn require_staff(viewer: &User) -> Result<(), AppError> {
    if viewer.role.is_staff() {
        Ok(())
    } else {
        Err(AppError::forbidden("Only the support team can do this."))
    }
}

/// Re-reads the ticket inside `tx` (locked on PostgreSQL) so concurrent changes serialize.
async fn locked(tx: &mut Tx, db: &Db, t: &Ticket) -> Result<Ticket, AppError> {
    store::find_for_update(tx, db, t.number)
        .await?
        .ok_or_else(|| AppError::not_found("This ticket"))
}

/// Moves a ticket along the flow (staff only).
pub async fn transition(
    db: &Db,
    mail: &MailConfig,
    actor: &Actor,
    viewer: &User,
    reference: &str,
    input: TransitionInput,
) -> Result<Ticket, AppError> {
    let seen = visible(db, viewer, reference).await?;
    require_staff(viewer)?;
    let to = State::parse(&input.to).ok_or_else(|| {
        AppError::field(
            "to",
            "is not a state (new, triaged, reproducing, investigating, fixed, responded, resolved, waiting_on_customer, closed)",
        )
    })?;
    let cat = category(db, input.category.as_deref())
        .await?
        .map_err(|p| AppError::field("category", p))?;
    let fields = StepFields {
        category: cat.is_some(),
        outcome: input.outcome,
        steps: input.steps,
        evidence: input.evidence,
        root_cause: input.root_cause,
        fix: input.fix,
        note: input.note,
        reason: input.reason,
    };
    let now = now_ms();
    let mut tx = db.begin().await?;
    let t = locked(&mut tx, db, &seen).await?;
    let change = flow::plan(&facts(&t), to, &fields).map_err(flow_error)?;
    if let Some(c) = &cat
        && to == State::Triaged
    {
        set_category(&mut tx, db, actor, &t, c, now).await?;
    }
    store::apply_change(&mut tx, &t.id, &change, now).await?;
    super::sla::moved(&mut tx, &t.id, t.state, change.to, now).await?;
    super::org_feed::moved(&mut tx, &t, change.to, now).await?;
    event(&mut tx, db, actor, &t, "transition", describe(&change), now).await?;
    if change.to == State::Resolved {
        super::followup::schedule(&mut tx, mail, t.number, now).await?;
    }
    tx.commit().await?;
    refetch(db, t.number).await
}

pub(crate) fn describe(c: &flow::Change) -> String {
    let r = &c.recorded;
    let mut s = format!("{} -> {}", c.from, c.to);
    if let Some(o) = r.outcome {
        s.push_str(&format!("; outcome={}", o.as_str()));
    }
    if let Some(reason) = &r.close_reason {
        s.push_str(&format!("; reason={reason}"));
    }
    s
}

pub(crate) fn flow_error(e: FlowError) -> AppError {
    match e {
        FlowError::NotAllowed { .. } => {
            AppError::new(StatusCode::CONFLICT, "invalid_transition", e.message())
        }
        FlowError::Needs(ref fields) => {
            let mut err = AppError::validation(fields.clone());
            err.message = e.message();
            err
        }
    }
}

async fn set_category(
    tx: &mut Tx,
    db: &Db,
    actor: &Actor,
    t: &Ticket,
    c: &Category,
    now: i64,
) -> Result<(), AppError> {
    let row = FieldsRow {
        category_id: Some(&c.id),
        priority: t.priority,
        assignee_id: t.assignee.as_ref().map(|a| a.id.as_str()),
        subject: &t.subject,
        security: t.security || c.security,
    };
    store::update_fields(tx, &t.id, &row, now).await?;
    let from = t
        .category
        .as_ref()
        .map(|c| c.name.as_str())
        .unwrap_or("none");
    event(
        tx,
        db,
        actor,
        t,
        "category",
        format!("{from} -> {}", c.name),
        now,
    )
    .await
}

async fn refetch(db: &Db, number: i64) -> Result<Ticket, AppError> {
    store::find(db, number)
        .await?
        .ok_or_else(|| AppError::not_found("This ticket"))
}

/// An active agent or admin by id, email or `me`; `Ok(Err(problem))` when there is none.
pub(crate) async fn assignee(
    db: &Db,
    viewer: &User,
    key: &str,
) -> Result<Result<Person, &'static str>, AppError> {
    let key = key.trim();
    let staff = store::assignable(db).await?;
    let found = if key.eq_ignore_ascii_case("me") {
        staff.into_iter().find(|p| p.id == viewer.id)
    } else {
        staff
            .into_iter()
            .find(|p| p.id == key || p.email.eq_ignore_ascii_case(key))
    };
    Ok(found.ok_or("is not an active agent or admin"))
}

/// Edits subject, category, priority, assignee and privacy (staff only).
pub async fn update(
    db: &Db,
    actor: &Actor,
    viewer: &User,
    reference: &str,
    patch: TicketPatch,
) -> Result<Ticket, AppError> {
    let seen = visible(db, viewer, reference).await?;
    require_staff(viewer)?;
    let mut fields = Fields::default();
    let subject = match &patch.subject {
        Some(s) => fields.check("subject", parse_subject(s)),
        None => Some(seen.subject.clone()),
    };
    let priority = match &patch.priority {
        Some(p) => fields.check(
            "priority",
            Priority::parse(p).ok_or("must be low, normal, high or urgent"),
        ),
        None => Some(seen.priority),
    };
    let cat = fields
        .check("category", category(db, patch.category.as_deref()).await?)
        .flatten();
    let new_assignee = match &patch.assignee {
        Some(Some(key)) if !key.trim().is_empty() => fields
            .check("assignee", assignee(db, viewer, key).await?)
            .map(Some),
        Some(_) => Some(None),
        None => None,
    };
    if patch.security == Some(true) && !access::sees_security(viewer) {
        fields.add(
            "security",
            "only the security team can make a ticket private",
        );
    }
    fields.finish()?;
    let (Some(subject), Some(priority)) = (subject, priority) else {
        return Err(AppError::bad_request("invalid_input", "invalid change"));
    };
    let now = now_ms();
    let mut tx = db.begin().await?;
    let t = locked(&mut tx, db, &seen).await?;
    let category = cat.or_else(|| t.category.clone());
    let assignee = new_assignee.unwrap_or_else(|| t.assignee.clone());
    let security =
        patch.security.unwrap_or(t.security) || category.as_ref().is_some_and(|c| c.security);
    let row = FieldsRow {
        category_id: category.as_ref().map(|c| c.id.as_str()),
        priority,
        assignee_id: assignee.as_ref().map(|a| a.id.as_str()),
        subject: &subject,
        security,
    };
    let mut changes = BTreeMap::new();
    if subject != t.subject {
        changes.insert("subject", format!("{:?} -> {subject:?}", t.subject));
    }
    if priority != t.priority {
        changes.insert("priority", format!("{} -> {priority}", t.priority));
    }
    let name = |c: &Option<Category>| c.as_ref().map(|c| c.name.clone()).unwrap_or("none".into());
    if category.as_ref().map(|c| &c.id) != t.category.as_ref().map(|c| &c.id) {
        changes.insert(
            "category",
            format!("{} -> {}", name(&t.category), name(&category)),
        );
    }
    let who = |p: &Option<Person>| {
        p.as_ref()
            .map(|p| p.email.clone())
            .unwrap_or("nobody".into())
    };
    if assignee.as_ref().map(|a| &a.id) != t.assignee.as_ref().map(|a| &a.id) {
        changes.insert(
            "assign",
            format!("{} -> {}", who(&t.assignee), who(&assignee)),
        );
    }
    if security != t.security {
        changes.insert("security", format!("{} -> {security}", t.security));
    }
    if changes.is_empty() {
        return Ok(t);
    }
    store::update_fields(&mut tx, &t.id, &row, now).await?;
    if priority != t.priority {
        super::sla::reprioritized(&mut tx, &t.id, priority, now).await?;
    }
    if subject != t.subject {
        search::set_subject(&mut tx, db.backend(), t.number, &subject).await?;
    }
    for (kind, detail) in changes {
        event(&mut tx, db, actor, &t, kind, detail, now).await?;
    }
    tx.commit().await?;
    refetch(db, t.number).await
}

/// Adds a public message: a customer's message on their ticket, or the team's reply. A
/// customer message brings back a waiting ticket and reopens a resolved one; the team's reply
/// to a fixed ticket is the `responded` step.
pub async fn add_message(
    db: &Db,
    mail: &MailConfig,
    actor: &Actor,
    viewer: &User,
    reference: &str,
    input: MessageInput,
) -> Result<Message, AppError> {
    add_message_with_files(db, mail, actor, viewer, reference, input, None).await
}

/// [`add_message`] with files uploaded alongside it.
pub async fn add_message_with_files(
    db: &Db,
    mail: &MailConfig,
    actor: &Actor,
    viewer: &User,
    reference: &str,
    input: MessageInput,
    files: Option<(&Blobs, &[Upload])>,
) -> Result<Message, AppError> {
    let seen = visible(db, viewer, reference).await?;
    let body = parse_body(&input.body).map_err(|p| AppError::field("body", p))?;
    let kind = if viewer.role == Role::Customer {
        MessageKind::Customer
    } else {
        MessageKind::Reply
    };
    // Every team reply is reviewed against the communication rules before it goes out.
    let mut confirmed = None;
    if kind == MessageKind::Reply {
        let found = super::composer::review(db, &body).await?;
        if !found.is_empty() {
            if !input.confirm {
                return Err(super::composer::needs_confirmation(&found));
            }
            confirmed = Some(super::composer::summary(&found));
        }
    }
    let extra = Extra { confirmed, files };
    write_message(db, Some(mail), actor, viewer, &seen, kind, &body, extra).await
}

/// What a message may carry besides its text.
#[derive(Default)]
struct Extra<'a> {
    /// What the communication rules found in a reply the agent chose to send anyway.
    confirmed: Option<String>,
    files: Option<(&'a Blobs, &'a [Upload])>,
}

/// Adds an internal note (staff only; never shown to customers).
pub async fn add_note(
    db: &Db,
    actor: &Actor,
    viewer: &User,
    reference: &str,
    input: MessageInput,
) -> Result<Message, AppError> {
    let seen = visible(db, viewer, reference).await?;
    require_staff(viewer)?;
    let body = parse_body(&input.body).map_err(|p| AppError::field("body", p))?;
    write_message(
        db,
        None,
        actor,
        viewer,
        &seen,
        MessageKind::Note,
        &body,
        Extra::default(),
    )
    .await
}

/// Writes a message with its files; a confirmed reply's findings go on the timeline.
#[allow(clippy::too_many_arguments)]
async fn write_message(
    db: &Db,
    mail: Option<&MailConfig>,
    actor: &Actor,
    viewer: &User,
    seen: &Ticket,
    kind: MessageKind,
    body: &str,
    extra: Extra<'_>,
) -> Result<Message, AppError> {
    let Extra { confirmed, files } = extra;
    let now = now_ms();
    let mut tx = db.begin().await?;
    let t = locked(&mut tx, db, seen).await?;
    let id =
        store::insert_message(&mut tx, &t.id, kind, Some(&viewer.id), body, "web", now).await?;
    super::sla::message(&mut tx, &t.id, kind, now).await?;
    super::org_feed::message(&mut tx, &t, kind, body, now).await?;
    if let Some((blobs, files)) = files {
        crate::uploads::keep(&mut tx, blobs, &t.id, &id, files, now).await?;
    }
    if let (Some(mail), MessageKind::Reply) = (mail, kind) {
        let reply_files = files.map(|(_, f)| f).unwrap_or(&[]);
        let sender = outbox::identity(&mut tx).await?;
        outbox::queue(
            &mut tx,
            mail,
            &sender,
            &Letter {
                ticket_id: &t.id,
                number: t.number,
                ticket_message_id: Some(&id),
                purpose: "reply",
                to_email: &t.requester.email,
                to_name: &t.requester.name,
                subject: &t.subject,
                text: body,
                automatic: false,
                files: reply_files,
            },
            None,
            now,
        )
        .await?;
    }
    let part = if kind.is_public() {
        search::Part::Public
    } else {
        search::Part::Notes
    };
    search::append(&mut tx, db.backend(), t.number, part, body).await?;
    store::touch(&mut tx, &t.id, kind == MessageKind::Reply, now).await?;
    event(
        &mut tx,
        db,
        actor,
        &t,
        kind.as_str(),
        format!("{} characters", body.chars().count()),
        now,
    )
    .await?;
    if let Some(found) = confirmed {
        event(
            &mut tx,
            db,
            actor,
            &t,
            "reply_confirmed",
            format!("sent despite the communication rules: {found}"),
            now,
        )
        .await?;
    }
    let mut f = facts(&t);
    f.last_reply_at = if kind == MessageKind::Reply {
        Some(now)
    } else {
        f.last_reply_at
    };
    let follow = match kind {
        MessageKind::Customer => flow::on_customer_message(&f),
        MessageKind::Reply => flow::on_team_reply(&f),
        MessageKind::Note => None,
    };
    if let Some(to) = follow {
        let change = flow::plan(&f, to, &StepFields::default()).map_err(flow_error)?;
        store::apply_change(&mut tx, &t.id, &change, now).await?;
        super::sla::moved(&mut tx, &t.id, t.state, change.to, now).await?;
        super::org_feed::moved(&mut tx, &t, change.to, now).await?;
        event(&mut tx, db, actor, &t, "transition", describe(&change), now).await?;
    }
    tx.commit().await?;
    Ok(Message {
        id,
        kind,
        author: Some(Person {
            id: viewer.id.clone(),
            email: viewer.email.clone(),
            name: viewer.name.clone(),
        }),
        body: body.to_string(),
        source: "web".into(),
        created_at: now,
    })
}
