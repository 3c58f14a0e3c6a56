//! The public status page (`/status`, no sign-in): the overall banner, components by group with
//! 90-day uptime bars (SVG, no JavaScript), open and recent incidents with their updates, and
//! maintenance windows; the brand name from setup.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;

use super::rules;
use super::service::{self, Notice};
use super::store;
use crate::web::base_url;
use opsdesk_core::clock::now_ms;
use opsdesk_core::web::AppState;
use opsdesk_core::web::pages::{PageResult, Shell, when};

/// Days the bars cover.
const DAYS: i64 = 90;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/status", axum::routing::get(show))
        .route("/status/logo", axum::routing::get(super::logo::serve))
}

pub struct Bar {
    pub x: i64,
    pub class: &'static str,
    pub label: String,
}

pub struct Row {
    pub name: String,
    pub status: &'static str,
    pub label: String,
    pub description: String,
    pub uptime: String,
    pub bars: Vec<Bar>,
}

pub struct Group {
    pub name: String,
    pub rows: Vec<Row>,
}

pub struct NoticeView {
    pub id: String,
    pub name: String,
    pub status: String,
    pub impact: String,
    pub when: String,
    pub updates: Vec<(String, String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "status.html")]
struct StatusPage {
    shell: Shell,
    brand: String,
    indicator: &'static str,
    description: &'static str,
    groups: Vec<Group>,
    open: Vec<NoticeView>,
    recent: Vec<NoticeView>,
    maintenance: Vec<NoticeView>,
    json_url: String,
    has_logo: bool,
}

fn label(status: &str) -> &'static str {
    match status {
        "operational" => "Operational",
        "under_maintenance" => "Under maintenance",
        "degraded_performance" => "Degraded performance",
        "partial_outage" => "Partial outage",
        _ => "Major outage",
    }
}

fn view(n: &Notice) -> NoticeView {
    let when_text = match (n.row.starts_at, n.row.ends_at) {
        (Some(s), Some(e)) => format!("{} – {}", when(s), when(e)),
        _ => when(n.row.created),
    };
    NoticeView {
        id: n.row.id.clone(),
        name: n.row.name.clone(),
        status: n.status.clone(),
        impact: n.row.impact.clone(),
        when: when_text,
        updates: n
            .updates
            .iter()
            .map(|u| (u.1.clone(), u.2.clone(), when(u.3)))
            .collect(),
    }
}

fn bar_class(down_share: Option<f64>) -> &'static str {
    match down_share {
        None => "nodata",
        Some(d) if d <= 0.0 => "ok",
        Some(d) if d < 0.05 => "minor",
        Some(_) => "major",
    }
}

async fn show(State(state): State<AppState>, headers: HeaderMap) -> PageResult {
    let now = now_ms();
    let today = now.div_euclid(86_400_000);
    let p = service::page_cached(&state.db, now, 14).await?;
    let brand = opsdesk_core::setup::instance(&state.db)
        .await
        .map(|i| i.brand_name)
        .unwrap_or_else(|_| "opsdesk".into());
    // Heartbeat components: down share per day from their flips.
    let check_ids: Vec<String> = p
        .components
        .iter()
        .filter(|c| c.row.source_kind == "check")
        .filter_map(|c| c.row.source_id.clone())
        .collect();
    let since = (today - DAYS + 1) * 86_400_000;
    let flips = store::flips_since(&state.db, &check_ids, since).await?;
    let mut groups: Vec<Group> = Vec::new();
    for c in &p.components {
        let shares: Vec<Option<f64>> =
            match (c.row.source_kind.as_str(), c.row.source_id.as_deref()) {
                ("monitor", Some(id)) => {
                    let days = crate::uptime::store::daily(&state.db, id, today - DAYS + 1).await?;
                    (today - DAYS + 1..=today)
                        .map(|d| {
                            days.iter()
                                .find(|x| x.0 == d)
                                .filter(|x| x.1 > 0)
                                .map(|x| 1.0 - x.2 as f64 / x.1 as f64)
                        })
                        .collect()
                }
                ("check", Some(id)) => {
                    let changes: Vec<(i64, bool)> = flips
                        .iter()
                        .filter(|f| f.0 == id)
                        .map(|f| (f.1, f.2))
                        .collect();
                    let start = c.row.created.div_euclid(86_400_000);
                    let down_before = store::down_before(&state.db, id, since).await?;
                    rules::down_share_per_day(&changes, down_before, today, DAYS)
                        .into_iter()
                        .enumerate()
                        .map(|(i, s)| (today - DAYS + 1 + i as i64 >= start).then_some(s))
                        .collect()
                }
                _ => {
                    let start = c.row.created.div_euclid(86_400_000);
                    (today - DAYS + 1..=today)
                        .map(|d| (d >= start).then_some(0.0))
                        .collect()
                }
            };
        let known: Vec<f64> = shares.iter().flatten().copied().collect();
        let uptime = if known.is_empty() {
            "—".to_string()
        } else {
            format!(
                "{:.2} % uptime",
                100.0 * (1.0 - known.iter().sum::<f64>() / known.len() as f64)
            )
        };
        let bars = shares
            .iter()
            .enumerate()
            .map(|(i, s)| Bar {
                x: i as i64 * 4,
                class: bar_class(*s),
                label: format!(
                    "{}: {}",
                    jiff::Timestamp::from_millisecond((today - DAYS + 1 + i as i64) * 86_400_000)
                        .map(|t| t.strftime("%Y-%m-%d").to_string())
                        .unwrap_or_default(),
                    match s {
                        None => "no data".to_string(),
                        Some(d) if *d <= 0.0 => "no downtime".to_string(),
                        Some(d) => format!("down {:.1} % of the day", d * 100.0),
                    }
                ),
            })
            .collect();
        let row = Row {
            name: c.row.name.clone(),
            status: c.status,
            label: label(c.status).to_string(),
            description: c.row.description.clone(),
            uptime,
            bars,
        };
        match groups.iter_mut().find(|g| g.name == c.row.group_name) {
            Some(g) => g.rows.push(row),
            None => groups.push(Group {
                name: c.row.group_name.clone(),
                rows: vec![row],
            }),
        }
    }
    let is_open = |n: &&Notice| n.status != "resolved" && n.status != "postmortem";
    let mut shell = Shell::bare(&format!("{brand} status"));
    shell.brand = brand.clone();
    Ok(StatusPage {
        shell,
        json_url: format!("{}/api/v2/summary.json", base_url(&state, &headers)),
        has_logo: super::logo::exists(&state.db).await?,
        brand,
        indicator: p.indicator,
        description: p.description,
        groups,
        open: p.incidents.iter().filter(is_open).map(view).collect(),
        recent: p
            .incidents
            .iter()
            .filter(|n| !is_open(n))
            .map(view)
            .collect(),
        maintenance: p
            .maintenances
            .iter()
            .filter(|m| m.status != "completed")
            .map(view)
            .collect(),
    }
    .into_response())
}
