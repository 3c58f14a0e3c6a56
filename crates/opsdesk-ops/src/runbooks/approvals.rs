//! Approving an ops action request (a second person, for exactly the parameters it holds) and
//! running it once approved (by its requester, once, before the approval runs out).

use std::collections::BTreeMap;

use opsdesk_core::accounts::model::User;
use opsdesk_core::audit::Actor;
use opsdesk_core::clock::now_ms;
use opsdesk_core::error::{AppError, Fields};

use super::model::{Approval, RunRequest};
use super::service::{
    Ctx, action, as_strings, catalog, checked, freeze_gate, record_override, spec,
};
use super::store::{self, RunRow};
use super::{params, runner};

/// Runs an approved request: by its requester, with exactly the approved parameters, once,
/// before the approval runs out.
pub(super) async fn run_approved(
    ctx: Ctx<'_>,
    actor: &Actor,
    me: &User,
    id: &str,
    req: &RunRequest,
) -> Result<RunRow, AppError> {
    let run = store::find(ctx.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("This request"))?;
    let catalog = catalog(ctx.config)?;
    let a = action(&catalog, &run.action)?;
    if !req.action.trim().is_empty() && req.action.trim() != run.action {
        return Err(AppError::conflict(
            "params_changed",
            format!(
                "The approval is for \"{}\", not \"{}\".",
                run.action,
                req.action.trim()
            ),
        ));
    }
    if run.requested_by != me.id {
        return Err(AppError::forbidden(
            "Only the person who requested it runs an approved request.",
        ));
    }
    if !a.allows(me.role) {
        return Err(AppError::forbidden(format!(
            "Only admins may run \"{}\".",
            a.name
        )));
    }
    let now = now_ms();
    match run.state.as_str() {
        "approved" if run.approval_expires.is_some_and(|e| e <= now) => {
            return Err(AppError::conflict(
                "approval_expired",
                "The approval ran out before the action was run: request it again.",
            ));
        }
        "approved" => {}
        "awaiting_approval" => {
            return Err(AppError::conflict(
                "not_approved",
                "Nobody has approved this request yet.",
            ));
        }
        "expired" => {
            return Err(AppError::conflict(
                "approval_expired",
                "The approval ran out before the action was run: request it again.",
            ));
        }
        _ => {
            return Err(AppError::conflict(
                "approval_used",
                "This approval was used already: an approval is good for one run.",
            ));
        }
    }
    let mut f = Fields::default();
    let values = checked(&mut f, a, &req.params);
    f.finish()?;
    let approved: BTreeMap<String, String> = serde_json::from_str(&run.params).unwrap_or_default();
    if values != approved {
        return Err(AppError::conflict(
            "params_changed",
            "The parameters differ from the ones approved: nothing ran. Request the action again with the new parameters.",
        ));
    }
    let argv: Vec<String> = serde_json::from_str(&run.argv).unwrap_or_default();
    let overridden = freeze_gate(ctx, me, &a.kind, req.override_reason.as_deref()).await?;
    // An impersonation's customer is checked (still the one approved) and its end fixed before
    // it is claimed, so a running impersonation always has an end.
    let impersonating = if a.kind == "impersonation" {
        Some(super::impersonation::prepare(ctx.db, &run, now).await?)
    } else {
        None
    };
    let ends_at = impersonating.as_ref().map(|i| i.1);
    let mut tx = ctx.db.begin().await?;
    if !store::claim(&mut tx, &run.id, "approved", ctx.instance, now, ends_at).await? {
        return Err(AppError::conflict(
            "approval_used",
            "This approval was used already (or ran out): an approval is good for one run.",
        ));
    }
    if let Some(o) = &overridden {
        record_override(&mut tx, ctx.db, actor, &run, o, now).await?;
    }
    runner::record(
        &mut tx,
        ctx.db.backend(),
        &run,
        actor,
        &format!("{} started", runner::describe(&run)),
        "ops.run.start",
        format!("{} argv={} (approved)", a.name, run.argv),
        now,
    )
    .await?;
    tx.commit().await?;
    let run = store::find(ctx.db, &run.id).await?.unwrap_or(run);
    if let Some((customer, ends)) = &impersonating {
        super::impersonation::begin(ctx.db, actor, &run, customer, *ends).await?;
        return Ok(store::find(ctx.db, &run.id).await?.unwrap_or(run));
    }
    runner::start(ctx.db.clone(), run.clone(), spec(ctx, a, &argv));
    Ok(run)
}

/// Approves someone else's request for the parameters it holds (and that the approver saw).
pub async fn approve(
    ctx: Ctx<'_>,
    actor: &Actor,
    me: &User,
    id: &str,
    input: &Approval,
) -> Result<RunRow, AppError> {
    let run = store::find(ctx.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("This request (it may have been removed)"))?;
    if run.requested_by == me.id {
        return Err(AppError::forbidden(
            "You cannot approve your own request: a second person must.",
        ));
    }
    let catalog = catalog(ctx.config)?;
    let a = action(&catalog, &run.action)?;
    if !a.allows(me.role) {
        return Err(AppError::forbidden(format!(
            "Only admins may approve \"{}\".",
            a.name
        )));
    }
    if run.state != "awaiting_approval" {
        return Err(AppError::conflict(
            "not_waiting",
            format!(
                "This request is not waiting for approval (it is {}).",
                run.state.replace('_', " ")
            ),
        ));
    }
    if let Some(seen) = &input.params {
        let mut f = Fields::default();
        let seen = as_strings(&mut f, seen);
        f.finish()?;
        let held: BTreeMap<String, String> = serde_json::from_str(&run.params).unwrap_or_default();
        let normal = params::check_values(&a.params, &seen).unwrap_or(seen);
        if normal != held {
            return Err(AppError::conflict(
                "params_changed",
                "The parameters you saw are not the request's: reload it before approving.",
            ));
        }
    }
    let now = now_ms();
    let expires = now + i64::from(ctx.config.ops.approval_minutes) * 60_000;
    let mut tx = ctx.db.begin().await?;
    if !store::approve(&mut tx, &run.id, &me.id, now, expires).await? {
        return Err(AppError::conflict(
            "not_waiting",
            "This request is not waiting for approval any more.",
        ));
    }
    let what = format!(
        "{} approved for {} minutes",
        runner::describe(&run),
        ctx.config.ops.approval_minutes
    );
    let summary = format!("{} argv={}", run.action, run.argv);
    runner::record(
        &mut tx,
        ctx.db.backend(),
        &run,
        actor,
        &what,
        "ops.run.approve",
        summary,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(store::find(ctx.db, &run.id).await?.unwrap_or(run))
}
