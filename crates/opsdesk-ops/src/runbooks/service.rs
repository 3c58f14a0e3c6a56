//! Ops action use cases, with the seeds' safety rules enforced here rather than in the UI:
//! every run references a ticket or an incident; parameters are typed and passed as plain
//! arguments; the freeze refuses `config_change` and `deploy` unless the commander or an
//! admin overrides with a reason; an action needing approval runs only after a second person
//! approved exactly these parameters, once, before the approval ran out; irreversible actions
//! are confirmed by name; data fixes carry a justification; a successful run can be undone.
//! Requests are here with the checks they share; approving is in `approvals`, undoing in `undo`.

use std::collections::BTreeMap;

use opsdesk_core::accounts::model::User;
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::{new_id, now_ms};
use opsdesk_core::config::Config;
use opsdesk_core::db::Db;
use opsdesk_core::error::{AppError, Fields};

use super::catalog::{Action, Catalog, Command};
use super::model::RunRequest;
use super::store::{self, RunRow};
use super::{approvals, exec, params, runner};

/// What a use case needs besides the caller.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub db: &'a Db,
    pub config: &'a Config,
    /// This instance (recorded as the runner).
    pub instance: &'a str,
}

/// The configured actions (checked at start-up, so this does not fail in practice).
pub fn catalog(config: &Config) -> Result<Catalog, AppError> {
    Catalog::from_config(&config.ops).map_err(|e| AppError::internal(anyhow::anyhow!(e)))
}

pub(super) fn action<'c>(catalog: &'c Catalog, name: &str) -> Result<&'c Action, AppError> {
    catalog.find(name.trim()).ok_or_else(|| {
        AppError::field(
            "action",
            "is not an ops action here (GET /api/ops/actions lists them)",
        )
    })
}

/// Parameter values from JSON: strings as they are, numbers and booleans as written.
pub(super) fn as_strings(
    f: &mut Fields,
    given: &BTreeMap<String, serde_json::Value>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in given {
        match v {
            serde_json::Value::String(s) => {
                out.insert(k.clone(), s.clone());
            }
            serde_json::Value::Number(n) => {
                out.insert(k.clone(), n.to_string());
            }
            serde_json::Value::Bool(b) => {
                out.insert(k.clone(), b.to_string());
            }
            _ => f.add(&format!("params.{k}"), "must be a string or a number"),
        }
    }
    out
}

/// The checked values, or every problem as `params.<name>` fields.
pub(super) fn checked(
    f: &mut Fields,
    a: &Action,
    given: &BTreeMap<String, serde_json::Value>,
) -> BTreeMap<String, String> {
    let raw = as_strings(f, given);
    match params::check_values(&a.params, &raw) {
        Ok(v) => v,
        Err(problems) => {
            for (name, p) in problems {
                f.add(&format!("params.{name}"), &p);
            }
            BTreeMap::new()
        }
    }
}

pub(super) fn argv(
    c: &Command,
    values: &BTreeMap<String, String>,
) -> Result<Vec<String>, AppError> {
    let mut v = vec![c.program.clone()];
    v.extend(
        params::render_args(&c.args, values).map_err(|e| AppError::internal(anyhow::anyhow!(e)))?,
    );
    Ok(v)
}

pub(super) fn spec(ctx: Ctx<'_>, a: &Action, argv: &[String]) -> exec::Spec {
    exec::Spec {
        program: argv.first().cloned().unwrap_or_default(),
        args: argv.iter().skip(1).cloned().collect(),
        env: a.env.iter().chain(a.secrets.iter()).cloned().collect(),
        secrets: a.secrets.iter().map(|s| s.1.clone()).collect(),
        timeout: a.timeout,
        keep_bytes: if a.kind == "data_fix" {
            ctx.config.ops.full_output_bytes
        } else {
            ctx.config.ops.output_bytes
        },
    }
}

/// The ticket and incident a request names (at least one), checked to exist and be visible.
async fn references(
    db: &Db,
    f: &mut Fields,
    me: &User,
    req: &RunRequest,
) -> Result<(Option<String>, Option<String>), AppError> {
    let ticket = req
        .ticket
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let incident = req
        .incident
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if ticket.is_none() && incident.is_none() {
        f.add(
            "ticket",
            "every ops action references a ticket or an incident: no undocumented changes",
        );
        return Ok((None, None));
    }
    let mut out = (None, None);
    if let Some(t) = ticket {
        match opsdesk_desk::tickets::service::visible(db, me, t.trim_start_matches('#')).await {
            Ok(t) => out.0 = Some(t.id),
            Err(e) if e.status.is_client_error() => {
                f.add("ticket", &format!("#{t} is not a ticket"))
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(i) = incident {
        match crate::incidents::service::find(db, i).await {
            Ok(row) => out.1 = Some(row.id),
            Err(e) if e.status.is_client_error() => {
                f.add("incident", &format!("{i} is not an incident"))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Refuses a frozen action unless an allowed person overrides it with a reason. Returns the
/// override (reason, the freezing incident) when one was used.
pub(super) async fn freeze_gate(
    ctx: Ctx<'_>,
    me: &User,
    kind: &str,
    reason: Option<&str>,
) -> Result<Option<(String, Option<String>)>, AppError> {
    let severity = i64::from(ctx.config.incidents.freeze_severity);
    let Some((freeze, incident)) =
        crate::incidents::freeze::current(ctx.db, severity, kind, now_ms()).await?
    else {
        return Ok(None);
    };
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    let Some(reason) = reason else {
        return Err(AppError::conflict("frozen", freeze.message()));
    };
    if reason.chars().count() > 1_000 {
        return Err(AppError::field(
            "override_reason",
            "must be at most 1,000 characters",
        ));
    }
    if !crate::incidents::freeze::may_override(ctx.db, me, incident.as_deref()).await? {
        return Err(AppError::forbidden(
            "Only the incident commander or an admin can override the change freeze.",
        ));
    }
    Ok(Some((reason.to_string(), incident)))
}

/// Records an override on the run, the freezing incident's timeline and the audit log.
pub(super) async fn record_override(
    tx: &mut opsdesk_core::db::Tx,
    db: &Db,
    actor: &Actor,
    run: &RunRow,
    (reason, incident): &(String, Option<String>),
    now: i64,
) -> Result<(), sqlx::Error> {
    store::set_override(tx, &run.id, reason, &actor.label).await?;
    if let Some(i) = incident {
        crate::incidents::service::event(
            tx,
            i,
            actor,
            "override",
            false,
            &format!(
                "Change freeze overridden for {}: {reason}",
                runner::describe(run)
            ),
            &format!("run:{}", run.id),
            now,
        )
        .await?;
    }
    audit::store::append(
        tx,
        db.backend(),
        actor.entry(
            "ops.freeze.override",
            format!("run:{}", run.id),
            format!("{}: {reason}", run.action),
        ),
    )
    .await?;
    Ok(())
}

/// Asks for a run. Without approval needed it starts now (state `running`); with approval it
/// waits (`awaiting_approval`). With `approval` set it runs that approved request instead.
pub async fn request(
    ctx: Ctx<'_>,
    actor: &Actor,
    me: &User,
    req: &RunRequest,
) -> Result<RunRow, AppError> {
    if let Some(id) = req.approval.as_deref().filter(|a| !a.trim().is_empty()) {
        return approvals::run_approved(ctx, actor, me, id.trim(), req).await;
    }
    let catalog = catalog(ctx.config)?;
    let a = action(&catalog, &req.action)?;
    if !a.allows(me.role) {
        return Err(AppError::forbidden(format!(
            "Only admins may request \"{}\".",
            a.name
        )));
    }
    let mut f = Fields::default();
    let values = checked(&mut f, a, &req.params);
    let (ticket_id, incident_id) = references(ctx.db, &mut f, me, req).await?;
    let justification = req.justification.trim().to_string();
    if a.kind == "data_fix" && justification.chars().count() < 10 {
        f.add(
            "justification",
            "data fixes need a written justification (at least 10 characters): no undocumented DB edits",
        );
    }
    if justification.chars().count() > 5_000 {
        f.add("justification", "must be at most 5,000 characters");
    }
    if a.irreversible && req.confirm.as_deref().map(str::trim) != Some(a.name.as_str()) {
        f.add(
            "confirm",
            &format!("\"{}\" cannot be undone: type its name to confirm", a.name),
        );
    }
    let impersonating = a.kind == "impersonation";
    let customer = match (&ticket_id, impersonating) {
        (Some(t), true) => match super::impersonation::customer_of(ctx.db, t).await {
            Ok(u) => Some(u),
            Err(e) if e.status.is_client_error() => {
                f.add("ticket", &super::web_say(&e));
                None
            }
            Err(e) => return Err(e),
        },
        (None, true) => {
            f.add("ticket", "impersonation is tied to the customer's ticket");
            None
        }
        _ => None,
    };
    f.finish()?;
    let argv = match &customer {
        Some(u) => vec!["view-portal-as".to_string(), u.email.clone()],
        None => argv(&a.command, &values)?,
    };
    let overridden = freeze_gate(ctx, me, &a.kind, req.override_reason.as_deref()).await?;
    let now = now_ms();
    let mut run = RunRow {
        id: new_id(),
        action: a.name.clone(),
        kind: a.kind.clone(),
        params: serde_json::to_string(&values).unwrap_or_else(|_| "{}".into()),
        argv: serde_json::to_string(&argv).unwrap_or_else(|_| "[]".into()),
        ticket_id,
        incident_id,
        justification,
        requested_by: me.id.clone(),
        requested_at: now,
        state: "awaiting_approval".into(),
        updated: now,
        ..Default::default()
    };
    if !a.approval {
        run.state = "running".into();
        run.runner = Some(ctx.instance.to_string());
        run.heartbeat = Some(now);
        run.started_at = Some(now);
    }
    let mut tx = ctx.db.begin().await?;
    store::insert(&mut tx, &run).await?;
    announce(
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
            if a.approval {
                "ops.run.request"
            } else {
                "ops.run.start"
            },
            format!("run:{}", run.id),
            format!("{} argv={}", a.name, run.argv),
        ),
    )
    .await?;
    tx.commit().await?;
    if !a.approval {
        runner::start(ctx.db.clone(), run.clone(), spec(ctx, a, &argv));
    }
    Ok(run)
}

/// A new run's links and first timeline line: the incident link, a freeze override, and
/// "requested, awaiting approval" or "started".
pub(super) async fn announce(
    tx: &mut opsdesk_core::db::Tx,
    db: &Db,
    actor: &Actor,
    run: &RunRow,
    waits: bool,
    overridden: Option<&(String, Option<String>)>,
    now: i64,
) -> Result<(), sqlx::Error> {
    if let Some(i) = &run.incident_id {
        crate::incidents::store::add_link(tx, i, "run", &run.id, now).await?;
    }
    if let Some(o) = overridden {
        record_override(tx, db, actor, run, o, now).await?;
    }
    let what = if waits {
        format!("{} requested, awaiting approval", runner::describe(run))
    } else {
        format!("{} started", runner::describe(run))
    };
    runner::timeline(tx, run, actor, &what, now).await
}
