//! Runs and actions as people and clients see them: names for ids, the ticket and incident a
//! run is for, whether it can be undone, and an action's parameters without its secrets.

use opsdesk_core::accounts::model::User;
use opsdesk_core::clock::rfc3339_ms;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;

use super::catalog::{Action, Catalog};
use super::model::{ActionView, ParamView, RefView, RunView};
use super::params::ParamKind;
use super::store::RunRow;

async fn name_of(db: &Db, user_id: &str) -> Result<String, AppError> {
    Ok(opsdesk_core::accounts::store::find_by_id(db, user_id)
        .await?
        .map(|u| u.name)
        .unwrap_or_else(|| "a removed user".into()))
}

pub async fn run(db: &Db, catalog: &Catalog, me: &User, r: &RunRow) -> Result<RunView, AppError> {
    let ticket = match &r.ticket_id {
        Some(id) => opsdesk_desk::tickets::store::find_by_id(db, id)
            .await?
            .map(|t| RefView {
                title: if opsdesk_desk::tickets::access::can_view_ticket(me, &t) {
                    t.subject.clone()
                } else {
                    "a restricted ticket".into()
                },
                number: t.number,
                href: format!("/desk/tickets/{}", t.number),
            }),
        None => None,
    };
    let incident = match &r.incident_id {
        Some(id) => crate::incidents::store::find(db, Some(id), None)
            .await?
            .map(|i| RefView {
                number: i.number,
                href: format!("/incidents/{}", i.number),
                title: i.title,
            }),
        None => None,
    };
    let approved_by = match &r.approved_by {
        Some(id) => Some(name_of(db, id).await?),
        None => None,
    };
    let undoable = catalog.find(&r.action).is_some_and(|a| a.undo.is_some());
    Ok(RunView {
        id: r.id.clone(),
        action: r.action.clone(),
        kind: r.kind.clone(),
        params: serde_json::from_str(&r.params).unwrap_or_default(),
        argv: serde_json::from_str(&r.argv).unwrap_or_default(),
        ticket,
        incident,
        justification: r.justification.clone(),
        requested_by: name_of(db, &r.requested_by).await?,
        requested_by_id: r.requested_by.clone(),
        requested_at: rfc3339_ms(r.requested_at),
        state: r.state.clone(),
        approved_by,
        approved_at: r.approved_at.map(rfc3339_ms),
        approval_expires: r.approval_expires.map(rfc3339_ms),
        override_reason: r.override_reason.clone(),
        undo_of: r.undo_of.clone(),
        undone_by: r.undone_by.clone(),
        started_at: r.started_at.map(rfc3339_ms),
        finished_at: r.finished_at.map(rfc3339_ms),
        exit_code: r.exit_code,
        output: r.output.clone(),
        total_bytes: r.total_bytes,
        truncated: r.truncated,
        can_undo: undoable
            && r.state == "succeeded"
            && r.undone_by.is_none()
            && r.undo_of.is_none(),
    })
}

fn param(p: &super::params::Param) -> ParamView {
    let (kind, values, min, max, pattern) = match &p.kind {
        ParamKind::Enum(v) => ("enum", v.clone(), None, None, None),
        ParamKind::Integer { min, max } => ("integer", Vec::new(), *min, *max, None),
        ParamKind::Text { source, .. } => ("string", Vec::new(), None, None, Some(source.clone())),
    };
    ParamView {
        name: p.name.clone(),
        kind: kind.into(),
        description: p.description.clone(),
        values,
        min,
        max,
        pattern,
        default: p.default.clone(),
        required: p.required(),
    }
}

pub fn action(a: &Action, me: &User, frozen: Option<String>) -> ActionView {
    let mut command = vec![a.command.program.clone()];
    command.extend(a.command.args.iter().cloned());
    ActionView {
        name: a.name.clone(),
        description: a.description.clone(),
        kind: a.kind.clone(),
        command,
        params: a.params.iter().map(param).collect(),
        role: a.role.as_str().into(),
        approval: a.approval,
        undo: a.undo.as_ref().map(|u| {
            let mut v = vec![u.program.clone()];
            v.extend(u.args.iter().cloned());
            v
        }),
        irreversible: a.irreversible,
        timeout_seconds: a.timeout.as_secs(),
        secret_env: a.secrets.iter().map(|s| s.0.clone()).collect(),
        frozen,
        allowed: a.allows(me.role),
    }
}

/// Whether `me` may see a run: those who may request its action (an admin-only action's runs
/// are for admins; a run of an action no longer defined, for admins).
pub fn may_see(catalog: &Catalog, me: &User, r: &RunRow) -> bool {
    catalog
        .find(&r.action)
        .map_or(me.role == opsdesk_core::accounts::model::Role::Admin, |a| {
            a.allows(me.role)
        })
}
