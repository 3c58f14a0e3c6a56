//! Unsupported request types ("Supported Request Types" in the support model): custom
//! debugging, on-demand configuration and data recovery outside policy are answered with the
//! policy text and closed with that reason, in one step an agent cannot do halfway.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use opsdesk_core::accounts::User;
use opsdesk_core::audit::Actor;
use opsdesk_core::clock::now_ms;
use opsdesk_core::config::MailConfig;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;

use super::flow::{self, StepFields};
use super::model::{MessageKind, State, Ticket};
use super::{policy_store, search, service, store};
use crate::mail::outbox::{self, Letter};
use crate::mail::templates;

/// A kind of request support does not take on, with the answer the requester gets.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct UnsupportedType {
    pub id: String,
    pub name: String,
    /// The policy answer; may use `{{name}}`, `{{ref}}`, `{{subject}}`, `{{brand}}`.
    pub answer: String,
}

/// Which unsupported type a ticket is.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsupportedInput {
    /// The type's id or name (see `GET /api/unsupported-types`).
    #[serde(rename = "type")]
    pub kind: String,
}

/// An admin's edit of a type.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsupportedEdit {
    pub name: String,
    pub answer: String,
}

pub async fn types(db: &Db) -> Result<Vec<UnsupportedType>, AppError> {
    Ok(policy_store::unsupported_types(db).await?)
}

/// Answers the requester with the type's policy text and closes the ticket with that reason.
pub async fn mark_unsupported(
    db: &Db,
    mail: &MailConfig,
    actor: &Actor,
    viewer: &User,
    reference: &str,
    input: UnsupportedInput,
) -> Result<Ticket, AppError> {
    let seen = service::visible(db, viewer, reference).await?;
    if !viewer.role.is_staff() {
        return Err(AppError::forbidden("Only the support team can do this."));
    }
    let kind = policy_store::unsupported_type(db, &input.kind)
        .await?
        .ok_or_else(|| {
            AppError::field(
                "type",
                "is not a known unsupported request type (see GET /api/unsupported-types)",
            )
        })?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    let t = store::find_for_update(&mut tx, db, seen.number)
        .await?
        .ok_or_else(|| AppError::not_found("This ticket"))?;
    let fields = StepFields {
        reason: Some(format!("Unsupported request: {}", kind.name)),
        ..StepFields::default()
    };
    let change =
        flow::plan(&service::facts(&t), State::Closed, &fields).map_err(service::flow_error)?;
    let sender = outbox::identity(&mut tx).await?;
    let answer = super::composer::fill(&kind.answer, &t, &sender.brand);
    let message = store::insert_message(
        &mut tx,
        &t.id,
        MessageKind::Reply,
        Some(&viewer.id),
        &answer,
        "web",
        now,
    )
    .await?;
    super::sla::message(&mut tx, &t.id, MessageKind::Reply, now).await?;
    search::append(
        &mut tx,
        db.backend(),
        t.number,
        search::Part::Public,
        &answer,
    )
    .await?;
    store::touch(&mut tx, &t.id, true, now).await?;
    outbox::queue(
        &mut tx,
        mail,
        &sender,
        &Letter {
            ticket_id: &t.id,
            number: t.number,
            ticket_message_id: Some(&message),
            purpose: "policy",
            to_email: &t.requester.email,
            to_name: &t.requester.name,
            subject: &t.subject,
            text: &answer,
            automatic: false,
            files: &[],
        },
        None,
        now,
    )
    .await?;
    store::apply_change(&mut tx, &t.id, &change, now).await?;
    super::sla::moved(&mut tx, &t.id, t.state, change.to, now).await?;
    super::org_feed::moved(&mut tx, &t, change.to, now).await?;
    service::event(
        &mut tx,
        db,
        actor,
        &t,
        "unsupported",
        format!("answered with the {} policy", kind.name),
        now,
    )
    .await?;
    service::event(
        &mut tx,
        db,
        actor,
        &t,
        "transition",
        service::describe(&change),
        now,
    )
    .await?;
    tx.commit().await?;
    store::find(db, t.number)
        .await?
        .ok_or_else(|| AppError::not_found("This ticket"))
}

/// Changes a type's name and policy answer (admins).
pub async fn edit_type(
    db: &Db,
    actor: &Actor,
    viewer: &User,
    id: &str,
    input: UnsupportedEdit,
) -> Result<UnsupportedType, AppError> {
    if viewer.role != opsdesk_core::accounts::Role::Admin {
        return Err(AppError::forbidden("This needs an admin account."));
    }
    let name = input.name.trim();
    let mut problems = opsdesk_core::error::Fields::default();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        problems.add("name", "is required: one line, at most 100 characters");
    }
    for (field, p) in templates::check("x", &input.answer) {
        if field == "body" {
            problems.add("answer", &p);
        }
    }
    problems.finish()?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    let changed = policy_store::set_unsupported_type(&mut tx, id, name, &input.answer, now)
        .await
        .map_err(|e| {
            opsdesk_core::error::on_unique(e, "name", "is already used by another type")
        })?;
    if !changed {
        return Err(AppError::not_found("This type"));
    }
    opsdesk_core::audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "desk.unsupported_type.update",
            format!("unsupported_type:{id}"),
            format!("name={name}"),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(UnsupportedType {
        id: id.to_string(),
        name: name.to_string(),
        answer: input.answer,
    })
}
