//! Undoing a successful ops action run: its action's undo with the recorded parameters, under
//! the same freeze and approval rules as any request.

use std::collections::BTreeMap;

use opsdesk_core::accounts::model::User;
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::{new_id, now_ms};
use opsdesk_core::error::AppError;

use super::model::UndoRequest;
use super::runner;
use super::service::{Ctx, action, argv, catalog, freeze_gate, spec};
use super::store::{self, RunRow};

/// Undoes a successful run: its action's undo with the recorded parameters, linked both ways.
/// The freeze holds for it, and an action needing approval needs it for its undo too (the undo
/// then waits, and its requester runs it once approved, like any request).
pub async fn undo(
    ctx: Ctx<'_>,
    actor: &Actor,
    me: &User,
    id: &str,
    input: &UndoRequest,
) -> Result<RunRow, AppError> {
    let done = store::find(ctx.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("This run"))?;
    let catalog = catalog(ctx.config)?;
    let a = action(&catalog, &done.action)?;
    if !a.allows(me.role) {
        return Err(AppError::forbidden(format!(
            "Only admins may undo \"{}\".",
            a.name
        )));
    }
    let Some(undo) = &a.undo else {
        return Err(AppError::conflict(
            "irreversible",
            format!("\"{}\" is irreversible: it has no undo.", a.name),
        ));
    };
    if done.undo_of.is_some() {
        return Err(AppError::conflict(
            "not_undoable",
            "An undo is not undone; run the action again.",
        ));
    }
    if done.state != "succeeded" {
        return Err(AppError::conflict(
            "not_undoable",
            "Only a run that succeeded can be undone.",
        ));
    }
    if done.undone_by.is_some() {
        return Err(AppError::conflict(
            "already_undone",
            "This run was undone already.",
        ));
    }
    if input.justification.chars().count() > 5_000 {
        return Err(AppError::field(
            "justification",
            "must be at most 5,000 characters",
        ));
    }
    let values: BTreeMap<String, String> = serde_json::from_str(&done.params).unwrap_or_default();
    let argv = argv(undo, &values)?;
    // An undo changes things too: the freeze and the approval rule hold for it as well.
    let overridden = freeze_gate(ctx, me, &a.kind, input.override_reason.as_deref()).await?;
    let now = now_ms();
    let run = RunRow {
        id: new_id(),
        action: done.action.clone(),
        kind: done.kind.clone(),
        params: done.params.clone(),
        argv: serde_json::to_string(&argv).unwrap_or_else(|_| "[]".into()),
        ticket_id: done.ticket_id.clone(),
        incident_id: done.incident_id.clone(),
        justification: input.justification.trim().to_string(),
        requested_by: me.id.clone(),
        requested_at: now,
        state: if a.approval {
            "awaiting_approval".into()
        } else {
            "running".into()
        },
        undo_of: Some(done.id.clone()),
        runner: (!a.approval).then(|| ctx.instance.to_string()),
        heartbeat: (!a.approval).then_some(now),
        started_at: (!a.approval).then_some(now),
        updated: now,
        ..Default::default()
    };
    let mut tx = ctx.db.begin().await?;
    store::insert(&mut tx, &run).await?;
    if !store::mark_undone(&mut tx, &done.id, &run.id).await? {
        return Err(AppError::conflict(
            "already_undone",
            "This run was undone already.",
        ));
    }
    super::service::announce(
        &mut tx,
        ctx.db,
        actor,
        &run,
        a.approval,
        overridden.as_ref(),
        now,
    )
    .await?;
    audit::store::append(
        &mut tx,
        ctx.db.backend(),
        actor.entry(
            "ops.run.undo",
            format!("run:{}", run.id),
            format!("undo of run:{} argv={}", done.id, run.argv),
        ),
    )
    .await?;
    tx.commit().await?;
    if !a.approval {
        runner::start(ctx.db.clone(), run.clone(), spec(ctx, a, &argv));
    }
    Ok(run)
}
