//! Impersonation ("view the portal as this customer"): an ops action of kind `impersonation`,
//! tied to the customer's ticket, approved by a second person, time-boxed (15 minutes unless
//! the action's `minutes` parameter says otherwise, at most an hour), read-only — the requester
//! sees the customer's portal through pages that only read — and audited at start and end, with
//! both on the ticket's timeline.

use opsdesk_core::accounts::model::User;
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::now_ms;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;

use super::runner::timeline;
use super::store::{self, RunRow};

/// Minutes an impersonation lasts without a `minutes` parameter.
pub const DEFAULT_MINUTES: i64 = 15;
/// The longest one may last.
pub const MAX_MINUTES: i64 = 60;

/// How long this run's impersonation lasts (ms), from its `minutes` parameter.
pub fn length_ms(run: &RunRow) -> i64 {
    let params: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&run.params).unwrap_or_default();
    let minutes = params
        .get("minutes")
        .and_then(|v| v.as_str())
        .and_then(|m| m.parse::<i64>().ok())
        .unwrap_or(DEFAULT_MINUTES)
        .clamp(1, MAX_MINUTES);
    minutes * 60_000
}

/// The customer a ticket's impersonation shows: its requester, who must have a portal account.
pub async fn customer_of(db: &Db, ticket_id: &str) -> Result<User, AppError> {
    let t = opsdesk_desk::tickets::store::find_by_id(db, ticket_id)
        .await?
        .ok_or_else(|| AppError::not_found("The ticket"))?;
    let u = opsdesk_core::accounts::store::find_by_id(db, &t.requester.id)
        .await?
        .ok_or_else(|| AppError::field("ticket", "its requester has no portal account to view"))?;
    if u.role.is_staff() {
        return Err(AppError::field(
            "ticket",
            "its requester is on the team: impersonation is for customers",
        ));
    }
    Ok(u)
}

/// The customer an approved impersonation shows, checked to still be the one approved (the
/// ticket's requester could have changed since), and when it will end.
pub async fn prepare(db: &Db, run: &RunRow, now: i64) -> Result<(User, i64), AppError> {
    let customer = approved_customer(db, run).await?;
    Ok((customer, now + length_ms(run)))
}

/// The ticket's requester, if it is still the customer named in the approved request.
async fn approved_customer(db: &Db, run: &RunRow) -> Result<User, AppError> {
    let ticket = run
        .ticket_id
        .as_deref()
        .ok_or_else(|| AppError::field("ticket", "impersonation is tied to a ticket"))?;
    let customer = customer_of(db, ticket).await?;
    let approved: Vec<String> = serde_json::from_str(&run.argv).unwrap_or_default();
    if approved.get(1) != Some(&customer.email) {
        return Err(AppError::conflict(
            "customer_changed",
            "The ticket's requester is not the customer this impersonation was approved for: request it again.",
        ));
    }
    Ok(customer)
}

/// Records the start of a claimed impersonation (its end is set by the claim).
pub async fn begin(
    db: &Db,
    actor: &Actor,
    run: &RunRow,
    customer: &User,
    ends: i64,
) -> Result<(), AppError> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    let what = format!(
        "impersonation of {} <{}> started, read-only, until {}",
        customer.name,
        customer.email,
        opsdesk_core::clock::rfc3339_ms(ends)
    );
    timeline(&mut tx, run, actor, &what, now).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "ops.impersonation.start",
            format!("run:{}", run.id),
            format!("customer={} until={ends}", customer.id),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends an impersonation (by its requester, or the sweep when its time is up).
pub async fn end(db: &Db, actor: &Actor, run: &RunRow, why: &str) -> Result<bool, AppError> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    if !store::end_impersonation(&mut tx, &run.id, &format!("Impersonation {why}."), now).await? {
        return Ok(false);
    }
    timeline(&mut tx, run, actor, &format!("impersonation {why}"), now).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "ops.impersonation.end",
            format!("run:{}", run.id),
            why.to_string(),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The run and its customer, while the impersonation lasts and only for its requester.
pub async fn active(db: &Db, me: &User, id: &str) -> Result<(RunRow, User), AppError> {
    let run = store::find(db, id)
        .await?
        .ok_or_else(|| AppError::not_found("This impersonation"))?;
    if run.kind != "impersonation" || run.requested_by != me.id {
        return Err(AppError::forbidden(
            "Only the person who requested this impersonation can use it.",
        ));
    }
    if run.state != "running" || run.ends_at.is_none_or(|e| e <= now_ms()) {
        return Err(AppError::conflict(
            "impersonation_over",
            "This impersonation has ended: request a new one (it needs approval again).",
        ));
    }
    let customer = approved_customer(db, &run).await?;
    Ok((run, customer))
}

/// Ends impersonations whose time is up.
pub async fn sweep(db: &Db) -> Result<(), AppError> {
    for run in store::impersonations_over(db, now_ms()).await? {
        // One failing end does not keep the others running.
        if let Err(e) = end(db, &Actor::system(), &run, "ended: its time was up").await {
            tracing::warn!(run = %run.id, error = %e.message, "ending an impersonation failed");
        }
    }
    Ok(())
}
