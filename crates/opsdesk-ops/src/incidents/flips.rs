//! Incidents hear of flips: a check or monitor going down or up lands on the timeline of every
//! live incident it is linked to, and one set to auto-declare declares an incident when it goes
//! down with none live for it — in the same transaction as the flip.

use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::new_id;
use opsdesk_core::db::{Backend, Tx};

use super::service::event;
use super::store::{self, IncidentRow};
use crate::alerts::notify::Change;

/// Records the flip on linked live incidents, and auto-declares when set up to.
pub async fn on_change(
    tx: &mut Tx,
    backend: Backend,
    c: &Change<'_>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let system = Actor::system();
    let mut linked = Vec::new();
    for kind in ["check", "monitor"] {
        linked.extend(store::live_linked(&mut **tx, kind, c.id).await?);
    }
    let body = format!("{} went {} ({})", c.name, c.new, c.reason);
    for (id, _) in &linked {
        event(
            tx,
            id,
            &system,
            "flip",
            false,
            &body,
            &format!("check:{}", c.id),
            now,
        )
        .await?;
    }
    if c.new != "down" || !linked.is_empty() {
        return Ok(());
    }
    let Some(severity) = store::auto_declare(&mut **tx, c.id).await? else {
        return Ok(());
    };
    let kind = if crate::uptime::store::exists(tx, c.id).await? {
        "monitor"
    } else {
        "check"
    };
    let row = IncidentRow {
        id: new_id(),
        number: store::next_number(tx).await?,
        title: format!("{} is down", c.name),
        severity,
        status: "investigating".into(),
        commander_id: None,
        summary: format!("Declared automatically: {body}."),
        root_cause: None,
        notice_id: None,
        components: "[]".into(),
        source: kind.into(),
        created_by: system.label.clone(),
        created: now,
        updated: now,
        resolved_at: None,
    };
    store::insert(tx, &row).await?;
    event(
        tx,
        &row.id,
        &system,
        "declared",
        false,
        &format!("Declared SEV{severity} automatically: {body}"),
        "",
        now,
    )
    .await?;
    store::add_link(tx, &row.id, kind, c.id, now).await?;
    event(
        tx,
        &row.id,
        &system,
        "link",
        false,
        &format!("Linked {kind} {}", c.name),
        &format!("{kind}:{}", c.id),
        now,
    )
    .await?;
    audit::store::append(
        tx,
        backend,
        system.entry(
            "incident.declare",
            format!("incident:{}", row.id),
            format!("INC-{} SEV{} {} (auto)", row.number, severity, row.title),
        ),
    )
    .await?;
    Ok(())
}
