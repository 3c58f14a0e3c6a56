//! Merging duplicates and linking related tickets. A merge moves the duplicate's conversation
//! (messages, attachments, and the Message-IDs, so later replies to either thread land in the
//! kept ticket) and closes the duplicate with a pointer to the kept one.

use serde::Deserialize;
use utoipa::ToSchema;

use opsdesk_core::accounts::User;
use opsdesk_core::audit::Actor;
use opsdesk_core::clock::now_ms;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;

use super::flow::{self, StepFields};
use super::model::{State, Ticket, TicketRef};
use super::{policy_store, search, service, store};
use crate::mail::store as mail_store;

/// The other ticket of a merge or a link.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtherTicket {
    /// Its number, e.g. 1042 (or `#1042`).
    pub ticket: String,
}

fn staff_only(viewer: &User) -> Result<(), AppError> {
    if viewer.role.is_staff() {
        Ok(())
    } else {
        Err(AppError::forbidden("Only the support team can do this."))
    }
}

/// The other ticket, as a field problem when it is not one the viewer can see.
async fn other(db: &Db, viewer: &User, key: &str) -> Result<Ticket, AppError> {
    if TicketRef::parse(key).is_none() {
        return Err(AppError::field(
            "ticket",
            "must be a ticket number such as 1042",
        ));
    }
    service::visible(db, viewer, key)
        .await
        .map_err(|_| AppError::field("ticket", "is not a ticket you can see"))
}

/// Merges `reference` (the duplicate) into `input.ticket` (kept).
pub async fn merge(
    db: &Db,
    actor: &Actor,
    viewer: &User,
    reference: &str,
    input: OtherTicket,
) -> Result<Ticket, AppError> {
    let dup = service::visible(db, viewer, reference).await?;
    staff_only(viewer)?;
    let kept = other(db, viewer, &input.ticket).await?;
    if kept.number == dup.number {
        return Err(AppError::field(
            "ticket",
            "is this ticket; choose the one to keep",
        ));
    }
    if kept.security != dup.security {
        return Err(AppError::field(
            "ticket",
            "is not a security report like this one (or the other way round); merging would change who can read it",
        ));
    }
    let now = now_ms();
    let mut tx = db.begin().await?;
    // Lock order: lower number first, so two opposite merges cannot deadlock.
    let (first, second) = if dup.number < kept.number {
        (dup.number, kept.number)
    } else {
        (kept.number, dup.number)
    };
    let a = store::find_for_update(&mut tx, db, first).await?;
    let b = store::find_for_update(&mut tx, db, second).await?;
    let (Some(a), Some(b)) = (a, b) else {
        return Err(AppError::not_found("This ticket"));
    };
    let (dup, kept) = if a.number == dup.number {
        (a, b)
    } else {
        (b, a)
    };
    if kept.state == State::Closed {
        return Err(AppError::conflict(
            "invalid_transition",
            format!(
                "#{} is closed; reopen it first or merge the other way round",
                kept.number
            ),
        ));
    }
    let fields = StepFields {
        reason: Some(format!("Merged into #{}", kept.number)),
        ..StepFields::default()
    };
    let change =
        flow::plan(&service::facts(&dup), State::Closed, &fields).map_err(service::flow_error)?;
    let moved = policy_store::move_conversation(&mut tx, &dup.id, &kept.id).await?;
    for (kind, body) in &moved {
        let part = if kind == "note" {
            search::Part::Notes
        } else {
            search::Part::Public
        };
        search::append(&mut tx, db.backend(), kept.number, part, body).await?;
    }
    store::apply_change(&mut tx, &dup.id, &change, now).await?;
    super::sla::moved(&mut tx, &dup.id, dup.state, change.to, now).await?;
    super::org_feed::moved(&mut tx, &dup, change.to, now).await?;
    mail_store::link(&mut tx, &dup.id, &kept.id, "merged", now).await?;
    service::event(
        &mut tx,
        db,
        actor,
        &dup,
        "merge",
        format!(
            "merged into #{} ({} messages moved)",
            kept.number,
            moved.len()
        ),
        now,
    )
    .await?;
    service::event(
        &mut tx,
        db,
        actor,
        &dup,
        "transition",
        service::describe(&change),
        now,
    )
    .await?;
    service::event(
        &mut tx,
        db,
        actor,
        &kept,
        "merge",
        format!(
            "#{} merged into this ticket ({} messages)",
            dup.number,
            moved.len()
        ),
        now,
    )
    .await?;
    store::touch(&mut tx, &kept.id, false, now).await?;
    tx.commit().await?;
    store::find(db, kept.number)
        .await?
        .ok_or_else(|| AppError::not_found("This ticket"))
}

/// Links two related tickets (both ways).
pub async fn link(
    db: &Db,
    actor: &Actor,
    viewer: &User,
    reference: &str,
    input: OtherTicket,
) -> Result<Ticket, AppError> {
    let t = service::visible(db, viewer, reference).await?;
    staff_only(viewer)?;
    let o = other(db, viewer, &input.ticket).await?;
    if o.number == t.number {
        return Err(AppError::field("ticket", "is this ticket"));
    }
    let now = now_ms();
    let mut tx = db.begin().await?;
    let t = store::find_for_update(&mut tx, db, t.number)
        .await?
        .ok_or_else(|| AppError::not_found("This ticket"))?;
    mail_store::link(&mut tx, &t.id, &o.id, "related", now).await?;
    service::event(
        &mut tx,
        db,
        actor,
        &t,
        "link",
        format!("linked to #{}", o.number),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(t)
}
