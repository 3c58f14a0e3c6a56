//! Statuspage's public v2 JSON, so monitoring clients that read an Atlassian Statuspage read
//! ours: `/api/v2/summary.json`, `status.json`, `components.json`, `incidents.json`,
//! `incidents/unresolved.json`, `scheduled-maintenances.json` (and `/upcoming.json`,
//! `/active.json`), with Statuspage's field names and enums.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::service::{self, Component, Notice, Page};
use crate::alerts::model::iso;
use opsdesk_core::clock::now_ms;
use opsdesk_core::web::AppState;

pub fn routes() -> Router<AppState> {
    use axum::routing::get;
    Router::new()
        .route("/api/v2/summary.json", get(summary))
        .route("/api/v2/status.json", get(status))
        .route("/api/v2/components.json", get(components))
        .route("/api/v2/incidents.json", get(incidents))
        .route("/api/v2/incidents/unresolved.json", get(unresolved))
        .route("/api/v2/scheduled-maintenances.json", get(maintenances))
        .route(
            "/api/v2/scheduled-maintenances/upcoming.json",
            get(upcoming),
        )
        .route("/api/v2/scheduled-maintenances/active.json", get(active))
}

/// The page's id: stable per installation (derived from where it is served).
fn page_obj(state: &AppState, headers: &HeaderMap, brand: &str, p: &Page) -> Value {
    let url = crate::web::base_url(state, headers);
    json!({
        "id": "opsdesk",
        "name": brand,
        "url": url,
        "time_zone": "Etc/UTC",
        "updated_at": iso(p.updated.max(1)),
    })
}

fn component(c: &Component, groups: &[(String, String)]) -> Value {
    let group_id = groups
        .iter()
        .find(|g| g.1 == c.row.group_name)
        .map(|g| g.0.clone());
    json!({
        "id": c.row.id,
        "name": c.row.name,
        "status": c.status,
        "created_at": iso(c.row.created),
        "updated_at": iso(c.row.updated),
        "position": c.row.position,
        "description": if c.row.description.is_empty() { Value::Null } else { json!(c.row.description) },
        "showcase": true,
        "start_date": Value::Null,
        "group_id": group_id,
        "page_id": "opsdesk",
        "group": false,
        "only_show_if_degraded": false,
    })
}

/// Groups become group components, as Statuspage lists them: (id, name).
fn groups(p: &Page) -> Vec<(String, String)> {
    let mut names: Vec<String> = p
        .components
        .iter()
        .map(|c| c.row.group_name.clone())
        .filter(|g| !g.is_empty())
        .collect();
    names.dedup();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|n| (format!("group-{}", slug(&n)), n))
        .collect()
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn all_components(p: &Page) -> Vec<Value> {
    let gs = groups(p);
    let mut out: Vec<Value> = p.components.iter().map(|c| component(c, &gs)).collect();
    for (id, name) in &gs {
        let members: Vec<&Component> = p
            .components
            .iter()
            .filter(|c| &c.row.group_name == name)
            .collect();
        let worst = members
            .iter()
            .map(|c| c.status)
            .max_by_key(|s| {
                super::rules::COMPONENT_STATUSES
                    .iter()
                    .position(|x| x == s)
                    .unwrap_or(0)
            })
            .unwrap_or("operational");
        out.push(json!({
            "id": id,
            "name": name,
            "status": worst,
            "created_at": iso(members.iter().map(|c| c.row.created).min().unwrap_or(1)),
            "updated_at": iso(members.iter().map(|c| c.row.updated).max().unwrap_or(1)),
            "position": members.iter().map(|c| c.row.position).min().unwrap_or(0),
            "description": Value::Null,
            "showcase": false,
            "start_date": Value::Null,
            "group_id": Value::Null,
            "page_id": "opsdesk",
            "group": true,
            "only_show_if_degraded": false,
            "components": members.iter().map(|c| c.row.id.clone()).collect::<Vec<_>>(),
        }));
    }
    out
}

fn notice(n: &Notice, p: &Page, url: &str) -> Value {
    let gs = groups(p);
    let comps: Vec<Value> = p
        .components
        .iter()
        .filter(|c| n.components.contains(&c.row.id))
        .map(|c| component(c, &gs))
        .collect();
    let monitoring = n
        .updates
        .iter()
        .filter(|u| u.1 == "monitoring")
        .map(|u| u.3)
        .min();
    let mut v = json!({
        "id": n.row.id,
        "name": n.row.name,
        "status": n.status,
        "created_at": iso(n.row.created),
        "updated_at": iso(n.row.updated),
        "monitoring_at": monitoring.map(iso),
        "resolved_at": n.row.resolved_at.map(iso),
        "impact": n.row.impact,
        "shortlink": format!("{url}/status#notice-{}", n.row.id),
        "started_at": iso(n.row.starts_at.unwrap_or(n.row.created)),
        "page_id": "opsdesk",
        "incident_updates": n.updates.iter().map(|u| json!({
            "id": u.0,
            "status": u.1,
            "body": u.2,
            "incident_id": n.row.id,
            "created_at": iso(u.3),
            "updated_at": iso(u.3),
            "display_at": iso(u.3),
            "affected_components": Value::Null,
        })).collect::<Vec<_>>(),
        "components": comps,
    });
    if n.row.kind == "maintenance"
        && let Some(o) = v.as_object_mut()
    {
        o.insert("scheduled_for".into(), json!(n.row.starts_at.map(iso)));
        o.insert("scheduled_until".into(), json!(n.row.ends_at.map(iso)));
    }
    v
}

async fn load(state: &AppState) -> Result<(std::sync::Arc<Page>, String), Response> {
    let brand = opsdesk_core::setup::instance(&state.db)
        .await
        .map(|i| i.brand_name)
        .unwrap_or_else(|_| "opsdesk".into());
    service::page_cached(&state.db, now_ms(), 30)
        .await
        .map(|p| (p, brand))
        .map_err(IntoResponse::into_response)
}

fn reply(v: Value) -> Response {
    (
        [(axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")],
        axum::Json(v),
    )
        .into_response()
}

macro_rules! endpoint {
    ($name:ident, |$p:ident, $url:ident| $body:expr) => {
        async fn $name(State(state): State<AppState>, headers: HeaderMap) -> Response {
            let ($p, brand) = match load(&state).await {
                Ok(x) => x,
                Err(r) => return r,
            };
            let $url = crate::web::base_url(&state, &headers);
            let page = page_obj(&state, &headers, &brand, &$p);
            let mut v: Value = $body;
            if let Some(o) = v.as_object_mut() {
                o.insert("page".into(), page);
            }
            reply(v)
        }
    };
}

fn status_obj(p: &Page) -> Value {
    json!({"indicator": p.indicator, "description": p.description})
}

fn open(n: &&Notice) -> bool {
    n.status != "resolved" && n.status != "postmortem" && n.status != "completed"
}

endpoint!(status, |p, _url| json!({ "status": status_obj(&p) }));
endpoint!(
    components,
    |p, _url| json!({ "components": all_components(&p) })
);
endpoint!(
    incidents,
    |p, url| json!({ "incidents": p.incidents.iter().map(|n| notice(n, &p, &url)).collect::<Vec<_>>() })
);
endpoint!(
    unresolved,
    |p, url| json!({ "incidents": p.incidents.iter().filter(open).map(|n| notice(n, &p, &url)).collect::<Vec<_>>() })
);
endpoint!(
    maintenances,
    |p, url| json!({ "scheduled_maintenances": p.maintenances.iter().map(|n| notice(n, &p, &url)).collect::<Vec<_>>() })
);
endpoint!(
    upcoming,
    |p, url| json!({ "scheduled_maintenances": p.maintenances.iter().filter(|n| n.status == "scheduled").map(|n| notice(n, &p, &url)).collect::<Vec<_>>() })
);
endpoint!(
    active,
    |p, url| json!({ "scheduled_maintenances": p.maintenances.iter().filter(|n| n.status == "in_progress").map(|n| notice(n, &p, &url)).collect::<Vec<_>>() })
);
endpoint!(summary, |p, url| json!({
    "components": all_components(&p),
    "incidents": p.incidents.iter().filter(open).map(|n| notice(n, &p, &url)).collect::<Vec<_>>(),
    "scheduled_maintenances": p.maintenances.iter().filter(|n| n.status != "completed").map(|n| notice(n, &p, &url)).collect::<Vec<_>>(),
    "status": status_obj(&p),
}));
