//! Incident use cases: declare, change, link tickets, checks and monitors — each validated,
//! written with its timeline entry and audit line in one transaction, and mirrored on the
//! public status page once the incident is public. Updates and notes are in `updates`; severity
//! labels and auto-declare in `settings`.

use opsdesk_core::accounts::model::User;
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::{new_id, now_ms};
use opsdesk_core::db::{Db, Tx};
use opsdesk_core::error::{AppError, Fields};

use super::model::{Affected, IncidentPatch, NewIncident, NewLink};
use super::store::{self, EventRow, IncidentRow};
use super::{rules, updates};
use crate::status::store as page;

/// Finds an incident by `INC-12`, `12` or its id.
pub async fn find(db: &Db, reference: &str) -> Result<IncidentRow, AppError> {
    let number = rules::parse_number(reference);
    store::find(db, Some(reference.trim()), number)
        .await?
        .ok_or_else(|| AppError::not_found("This incident"))
}

/// Adds a timeline entry (inside the caller's transaction).
#[allow(clippy::too_many_arguments)]
pub async fn event(
    tx: &mut Tx,
    incident_id: &str,
    actor: &Actor,
    kind: &str,
    public: bool,
    body: &str,
    reference: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    store::insert_event(
        tx,
        incident_id,
        &EventRow {
            id: new_id(),
            at: now,
            actor: actor.label.clone(),
            kind: kind.to_string(),
            public,
            body: body.to_string(),
            reference: reference.to_string(),
        },
    )
    .await
}

pub(super) fn text(f: &mut Fields, name: &str, v: &str, max: usize, required: bool) -> String {
    let v = v.trim();
    if (required && v.is_empty()) || v.chars().count() > max {
        let what = if required {
            format!("must be 1 to {max} characters")
        } else {
            format!("must be at most {max} characters")
        };
        f.add(name, &what);
    }
    v.to_string()
}

fn severity(f: &mut Fields, v: Option<i64>) -> i64 {
    match v {
        Some(s) if rules::SEVERITIES.contains(&s) => s,
        Some(_) => {
            f.add("severity", "must be 1 (SEV1, worst) to 4");
            3
        }
        None => 3,
    }
}

/// The commander named by email, id or `me` (staff only).
async fn commander(
    db: &Db,
    f: &mut Fields,
    me: &User,
    raw: Option<&str>,
) -> Result<Option<String>, AppError> {
    let raw = match raw.map(str::trim) {
        None | Some("") => return Ok(None),
        Some("me") => return Ok(Some(me.id.clone())),
        Some(r) => r,
    };
    let found = match opsdesk_core::accounts::store::find_by_id(db, raw).await? {
        Some(u) => Some(u),
        None => opsdesk_core::accounts::store::find_by_email(db, raw).await?,
    };
    match found {
        Some(u) if u.role.is_staff() && !u.disabled => Ok(Some(u.id)),
        _ => {
            f.add("commander", "must be the email or id of an agent or admin");
            Ok(None)
        }
    }
}

async fn affected(db: &Db, f: &mut Fields, list: &[Affected]) -> Result<String, AppError> {
    let all = page::components(db).await?;
    for a in list {
        if !all.iter().any(|c| c.id == a.id) {
            f.add("components", &format!("\"{}\" is not a component id", a.id));
        }
        if !rules::COMPONENT_IMPACTS.contains(&a.impact.as_str()) {
            f.add(
                "components",
                "impact must be degraded_performance, partial_outage, major_outage or under_maintenance",
            );
        }
    }
    let pairs: Vec<(String, String)> = list
        .iter()
        .map(|a| (a.id.clone(), a.impact.clone()))
        .collect();
    Ok(serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into()))
}

/// The component pairs an incident row holds.
pub fn components_of(row: &IncidentRow) -> Vec<(String, String)> {
    serde_json::from_str(&row.components).unwrap_or_default()
}

/// A link target checked to exist (and, for tickets, to be visible to `me`): (kind, id, label).
async fn target(
    db: &Db,
    me: &User,
    kind: &str,
    id: &str,
) -> Result<(String, String, String), AppError> {
    match kind {
        "ticket" => {
            let t = opsdesk_desk::tickets::service::visible(db, me, id.trim_start_matches('#'))
                .await
                .map_err(|_| AppError::field("tickets", &format!("#{id} is not a ticket")))?;
            Ok((
                "ticket".into(),
                t.id,
                format!("#{} {}", t.number, t.subject),
            ))
        }
        "check" => match crate::heartbeats::store::find(db, id).await? {
            Some(c) => Ok(("check".into(), c.id, c.name)),
            None => Err(AppError::field(
                "checks",
                &format!("\"{id}\" is not a heartbeat check's id"),
            )),
        },
        "monitor" => match crate::uptime::store::find(db, id).await? {
            Some(m) => Ok(("monitor".into(), m.id, m.name)),
            None => Err(AppError::field(
                "monitors",
                &format!("\"{id}\" is not a monitor's id"),
            )),
        },
        _ => Err(AppError::field("kind", "must be ticket, check or monitor")),
    }
}

/// Writes a link with its timeline entries on both sides (the ticket's timeline too).
async fn write_link(
    tx: &mut Tx,
    actor: &Actor,
    row: &IncidentRow,
    (kind, id, label): &(String, String, String),
    now: i64,
) -> Result<(), sqlx::Error> {
    if !store::add_link(tx, &row.id, kind, id, now).await? {
        return Ok(());
    }
    event(
        tx,
        &row.id,
        actor,
        "link",
        false,
        &format!("Linked {kind} {label}"),
        &format!("{kind}:{id}"),
        now,
    )
    .await?;
    if kind == "ticket" {
        opsdesk_desk::tickets::store::insert_event(
            tx,
            id,
            &actor.label,
            "incident",
            &format!("Linked to incident INC-{} {}", row.number, row.title),
            now,
        )
        .await?;
    }
    Ok(())
}

/// Declares an incident. `source` says where it came from (manual, ticket, check, monitor, api).
pub async fn declare(
    db: &Db,
    actor: &Actor,
    me: &User,
    source: &str,
    input: &NewIncident,
) -> Result<IncidentRow, AppError> {
    let mut f = Fields::default();
    let title = text(&mut f, "title", &input.title, 200, true);
    let summary = text(&mut f, "summary", &input.summary, 10_000, false);
    let sev = severity(&mut f, input.severity);
    let boss = commander(db, &mut f, me, input.commander.as_deref())
        .await?
        .or_else(|| Some(me.id.clone()));
    let components = affected(db, &mut f, &input.components).await?;
    let public = input
        .public_message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty());
    if public.is_some_and(|m| m.chars().count() > 10_000) {
        f.add("public_message", "must be at most 10,000 characters");
    }
    let mut targets = Vec::new();
    for (kind, ids) in [
        ("ticket", &input.tickets),
        ("check", &input.checks),
        ("monitor", &input.monitors),
    ] {
        for id in ids {
            match target(db, me, kind, id).await {
                Ok(t) => targets.push(t),
                Err(e) => match e.fields.iter().next() {
                    Some((k, v)) => f.add(k, v),
                    None => return Err(e),
                },
            }
        }
    }
    f.finish()?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    let mut row = IncidentRow {
        id: new_id(),
        number: store::next_number(&mut tx).await?,
        title,
        severity: sev,
        status: "investigating".into(),
        commander_id: boss,
        summary,
        root_cause: None,
        notice_id: None,
        components,
        source: source.to_string(),
        created_by: actor.label.clone(),
        created: now,
        updated: now,
        resolved_at: None,
    };
    if let Some(m) = public {
        updates::publish(&mut tx, &mut row, m, now).await?;
    }
    store::insert(&mut tx, &row).await?;
    event(
        &mut tx,
        &row.id,
        actor,
        "declared",
        false,
        &format!("Declared SEV{}: {}", row.severity, row.title),
        "",
        now,
    )
    .await?;
    if let Some(m) = public {
        event(&mut tx, &row.id, actor, "update", true, m, "", now).await?;
    }
    for t in &targets {
        write_link(&mut tx, actor, &row, t, now).await?;
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "incident.declare",
            format!("incident:{}", row.id),
            format!("INC-{} SEV{} {}", row.number, row.severity, row.title),
        ),
    )
    .await?;
    tx.commit().await?;
    if row.notice_id.is_some() {
        crate::status::service::forget(db);
    }
    Ok(row)
}

/// Saves a changed row, refusing when someone else changed it first.
pub(crate) async fn save(tx: &mut Tx, row: &IncidentRow, seen: i64) -> Result<(), AppError> {
    if store::update(tx, row, seen).await? {
        Ok(())
    } else {
        Err(AppError::conflict(
            "changed",
            "Someone else changed this incident a moment ago; reload and try again.",
        ))
    }
}

/// Applies a status move: checks it and keeps `resolved_at` right.
pub(super) fn moved(
    row: &mut IncidentRow,
    to: &str,
    has_postmortem: bool,
) -> Result<bool, &'static str> {
    rules::can_move(
        rules::Known {
            status: &row.status,
            root_cause: row.root_cause.as_deref(),
            has_postmortem,
        },
        to,
    )?;
    if row.status == to {
        return Ok(false);
    }
    row.status = to.to_string();
    match to {
        "resolved" | "postmortem" => {
            row.resolved_at.get_or_insert(row.updated);
        }
        _ => row.resolved_at = None,
    }
    Ok(true)
}

/// Changes fields; every change lands on the timeline.
pub async fn patch(
    db: &Db,
    actor: &Actor,
    me: &User,
    reference: &str,
    p: &IncidentPatch,
) -> Result<IncidentRow, AppError> {
    let mut row = find(db, reference).await?;
    let seen = row.updated;
    let mut f = Fields::default();
    let mut notes: Vec<(&str, String)> = Vec::new();
    if let Some(t) = &p.title {
        let t = text(&mut f, "title", t, 200, true);
        if t != row.title {
            notes.push(("edit", format!("Title: {t}")));
            row.title = t;
        }
    }
    if let Some(s) = &p.summary {
        let s = text(&mut f, "summary", s, 10_000, false);
        if s != row.summary {
            notes.push(("edit", "Summary edited".into()));
            row.summary = s;
        }
    }
    if let Some(c) = &p.root_cause {
        let c = text(&mut f, "root_cause", c, 10_000, false);
        if Some(&c) != row.root_cause.as_ref() {
            notes.push(("edit", format!("Root cause: {c}")));
            row.root_cause = (!c.is_empty()).then_some(c);
        }
    }
    if p.severity.is_some() {
        let s = severity(&mut f, p.severity);
        if s != row.severity {
            notes.push(("severity", format!("Severity SEV{} → SEV{s}", row.severity)));
            row.severity = s;
        }
    }
    if p.commander.is_some() {
        let c = commander(db, &mut f, me, p.commander.as_deref()).await?;
        // Taking an incident nobody leads is anyone's to do; handing over command is the
        // commander's or an admin's (the commander may override the change freeze).
        let may_hand_over = row.commander_id.is_none()
            || row.commander_id.as_deref() == Some(me.id.as_str())
            || me.role == opsdesk_core::accounts::model::Role::Admin;
        if c.is_some() && c != row.commander_id && !may_hand_over {
            f.add(
                "commander",
                "only the current commander or an admin hands over command",
            );
        } else if c.is_some() && c != row.commander_id {
            let name = match c.as_deref() {
                Some(id) => opsdesk_core::accounts::store::find_by_id(db, id)
                    .await?
                    .map(|u| u.name)
                    .unwrap_or_default(),
                None => String::new(),
            };
            notes.push(("commander", format!("Commander: {name}")));
            row.commander_id = c;
        }
    }
    if let Some(list) = &p.components {
        let c = affected(db, &mut f, list).await?;
        if c != row.components {
            notes.push(("edit", "Affected components changed".into()));
            row.components = c;
        }
    }
    row.updated = now_ms().max(seen + 1);
    if let Some(to) = &p.status {
        let has_pm = store::postmortem(db, &row.id).await?.is_some();
        match moved(&mut row, to, has_pm) {
            Ok(true) => notes.push(("status", format!("Status: {to}"))),
            Ok(false) => {}
            Err(why) => f.add("status", why),
        }
    }
    if !rules::is_live(&row.status) && row.root_cause.is_none() {
        f.add(
            "root_cause",
            "a resolved incident keeps its root-cause summary",
        );
    }
    f.finish()?;
    if notes.is_empty() {
        return Ok(row);
    }
    let now = row.updated;
    let mut tx = db.begin().await?;
    updates::sync_notice(&mut tx, &row, now).await?;
    save(&mut tx, &row, seen).await?;
    for (kind, body) in &notes {
        event(&mut tx, &row.id, actor, kind, false, body, "", now).await?;
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "incident.update",
            format!("incident:{}", row.id),
            notes
                .iter()
                .map(|n| n.1.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        ),
    )
    .await?;
    tx.commit().await?;
    if row.notice_id.is_some() {
        crate::status::service::forget(db);
    }
    Ok(row)
}

/// Links a ticket, check or monitor.
pub async fn link(
    db: &Db,
    actor: &Actor,
    me: &User,
    reference: &str,
    l: &NewLink,
) -> Result<IncidentRow, AppError> {
    let row = find(db, reference).await?;
    let t = target(db, me, l.kind.trim(), l.id.trim()).await?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    write_link(&mut tx, actor, &row, &t, now).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "incident.link",
            format!("incident:{}", row.id),
            format!("INC-{} {} {}", row.number, t.0, t.1),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}
