//! An incident as people and clients see it: names for ids, labels and links for what it is
//! tied to, the timeline with authors, the postmortem.

use std::collections::HashMap;

use opsdesk_core::accounts::model::User;
use opsdesk_core::clock::rfc3339_ms;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;

use super::model::{
    ComponentView, EventView, IncidentSummary, IncidentView, LinkView, PersonView, PostmortemView,
};
use super::rules;
use super::service::components_of;
use super::store::{self, IncidentRow};

/// People's names by actor label (`user:<id>` → name); other labels stay as they are.
pub async fn names(
    db: &Db,
    labels: impl Iterator<Item = String>,
) -> Result<HashMap<String, String>, AppError> {
    let mut out = HashMap::new();
    for l in labels {
        if out.contains_key(&l) {
            continue;
        }
        let name = match l.strip_prefix("user:") {
            Some(id) => opsdesk_core::accounts::store::find_by_id(db, id)
                .await?
                .map(|u| u.name)
                .unwrap_or_else(|| l.clone()),
            None => l.clone(),
        };
        out.insert(l, name);
    }
    Ok(out)
}

/// What a link is called and where it is seen.
async fn link_view(db: &Db, me: &User, kind: &str, id: &str) -> Result<LinkView, AppError> {
    let (label, href) = match kind {
        "ticket" | "action_item" => match opsdesk_desk::tickets::store::find_by_id(db, id).await? {
            // A security report stays hidden from those who may not read it.
            Some(t) if !opsdesk_desk::tickets::access::can_view_ticket(me, &t) => {
                ("a restricted ticket".into(), String::new())
            }
            Some(t) => (
                format!("#{} {} ({})", t.number, t.subject, t.state.label()),
                format!("/desk/tickets/{}", t.number),
            ),
            None => ("a deleted ticket".into(), String::new()),
        },
        "check" => match crate::heartbeats::store::find(db, id).await? {
            Some(c) => (
                format!("{} ({})", c.name, c.status),
                format!("/checks/{id}"),
            ),
            None => ("a deleted check".into(), String::new()),
        },
        "monitor" => match crate::uptime::store::find(db, id).await? {
            Some(m) => (
                format!("{} ({})", m.name, m.status),
                format!("/monitors/{id}"),
            ),
            None => ("a deleted monitor".into(), String::new()),
        },
        "run" => match crate::runbooks::store::find(db, id).await? {
            Some(r) => (
                format!(
                    "{} ({})",
                    crate::runbooks::runner::describe(&r),
                    r.state.replace('_', " ")
                ),
                format!("/ops/runs/{id}"),
            ),
            None => ("a removed run".into(), String::new()),
        },
        _ => (id.to_string(), String::new()),
    };
    Ok(LinkView {
        kind: kind.to_string(),
        id: id.to_string(),
        label,
        href,
    })
}

/// The whole incident.
pub async fn view(db: &Db, me: &User, row: &IncidentRow) -> Result<IncidentView, AppError> {
    let events = store::events(db, &row.id).await?;
    let pm = store::postmortem(db, &row.id).await?;
    let names = names(
        db,
        events
            .iter()
            .map(|e| e.actor.clone())
            .chain(pm.iter().map(|p| p.author.clone())),
    )
    .await?;
    let commander = match &row.commander_id {
        Some(id) => opsdesk_core::accounts::store::find_by_id(db, id)
            .await?
            .map(|u| PersonView {
                id: u.id,
                name: u.name,
                email: u.email,
            }),
        None => None,
    };
    let mut links = Vec::new();
    for (kind, id) in store::links(db, &row.id).await? {
        links.push(link_view(db, me, &kind, &id).await?);
    }
    let all = crate::status::store::components(db).await?;
    let components = components_of(row)
        .into_iter()
        .map(|(id, impact)| ComponentView {
            name: all
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.name.clone())
                .unwrap_or_else(|| "a removed component".into()),
            id,
            impact,
        })
        .collect();
    let severity_label = store::severities(db)
        .await?
        .into_iter()
        .find(|s| s.0 == row.severity)
        .map(|s| s.1)
        .unwrap_or_default();
    Ok(IncidentView {
        id: row.id.clone(),
        number: row.number,
        reference: format!("INC-{}", row.number),
        title: row.title.clone(),
        severity: row.severity,
        severity_label,
        status: row.status.clone(),
        commander,
        summary: row.summary.clone(),
        root_cause: row.root_cause.clone(),
        public: row.notice_id.is_some(),
        source: row.source.clone(),
        created: rfc3339_ms(row.created),
        updated: rfc3339_ms(row.updated),
        resolved_at: row.resolved_at.map(rfc3339_ms),
        postmortem_due: postmortem_due(row, pm.is_some()),
        components,
        links,
        timeline: events
            .into_iter()
            .map(|e| EventView {
                at: rfc3339_ms(e.at),
                at_ms: e.at,
                actor: names.get(&e.actor).cloned().unwrap_or(e.actor),
                kind: e.kind,
                public: e.public,
                body: e.body,
            })
            .collect(),
        postmortem: pm.map(|p| PostmortemView {
            impact: p.impact,
            timeline: p.timeline,
            root_cause: p.root_cause,
            went_well: p.went_well,
            went_badly: p.went_badly,
            author: names.get(&p.author).cloned().unwrap_or(p.author),
            updated: rfc3339_ms(p.updated),
        }),
    })
}

/// Resolved, severe enough to need a postmortem, and without one yet.
pub fn postmortem_due(row: &IncidentRow, has_postmortem: bool) -> bool {
    row.status == "resolved" && rules::needs_postmortem(row.severity) && !has_postmortem
}

/// A list's line.
pub fn summary(row: &IncidentRow) -> IncidentSummary {
    IncidentSummary {
        id: row.id.clone(),
        number: row.number,
        reference: format!("INC-{}", row.number),
        title: row.title.clone(),
        severity: row.severity,
        status: row.status.clone(),
        public: row.notice_id.is_some(),
        // A listed resolved SEV1/2 has no postmortem yet: writing it moves it to `postmortem`.
        postmortem_due: postmortem_due(row, false),
        created: rfc3339_ms(row.created),
        resolved_at: row.resolved_at.map(rfc3339_ms),
    }
}
