//! Incident list page (staff): the list with filters, the declare form (prefilled from a
//! ticket, check or monitor) and a check's or monitor's auto-declare setting. Plain forms; a
//! refused one is shown again with why. An incident's own page is in `page`.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tower_sessions::Session;

use super::model::{IncidentSummary, NewIncident};
use super::{api, freeze, service, settings, store, view};
use crate::web::{say, staff};
use opsdesk_core::clock::now_ms;
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::{ApiForm, ApiQuery};
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{PageError, PageResult, Shell, flash};

pub(super) const WHY: &str = "Incidents are run by the team.";

pub fn routes() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route("/incidents", get(list).post(declare))
        .route("/incidents/auto-declare", post(auto_declare))
}

/// A check or monitor offered in the declare form: (`check:<id>` / `monitor:<id>`, label).
pub struct Source {
    pub value: String,
    pub label: String,
}

/// What was typed in the declare form.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Draft {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub tickets: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub public_message: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "incidents.html")]
struct ListPage {
    shell: Shell,
    items: Vec<IncidentSummary>,
    next_before: Option<i64>,
    states: [(&'static str, &'static str); 3],
    state: String,
    severity: i64,
    severities: Vec<(i64, String)>,
    sources: Vec<Source>,
    freezes: Vec<String>,
    freeze_severity: u8,
    is_admin: bool,
    error: Option<String>,
    draft: Draft,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    severity: Option<i64>,
    before: Option<i64>,
    /// Prefill the declare form from a ticket number, a check or a monitor.
    ticket: Option<String>,
    check: Option<String>,
    monitor: Option<String>,
}

async fn sources(state: &AppState) -> Result<Vec<Source>, AppError> {
    let checks = crate::heartbeats::store::list(&state.db, &Default::default()).await?;
    let monitors = crate::uptime::store::list(&state.db).await?;
    let mut out: Vec<Source> = checks
        .iter()
        .map(|c| Source {
            value: format!("check:{}", c.id),
            label: format!("Heartbeat check: {} ({})", c.name, c.status),
        })
        .collect();
    out.extend(monitors.iter().map(|m| Source {
        value: format!("monitor:{}", m.id),
        label: format!("Monitor: {} ({})", m.name, m.status),
    }));
    Ok(out)
}

async fn render_list(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    q: &ListQuery,
    error: Option<String>,
    draft: Draft,
) -> Result<ListPage, PageError> {
    let f = api::filter(&api::IncidentQuery {
        state: q.state.clone().or_else(|| Some("all".into())),
        severity: q.severity.filter(|s| *s > 0),
        before: q.before,
        limit: Some(50),
    })?;
    let rows = store::list(&state.db, &f).await?;
    let next_before = (rows.len() as i64 == f.limit)
        .then(|| rows.last().map(|r| r.number))
        .flatten();
    let now = now_ms();
    let mut freezes = Vec::new();
    for kind in ["deploy"] {
        if let Some((fz, _)) = freeze::current(
            &state.db,
            i64::from(state.config.incidents.freeze_severity),
            kind,
            now,
        )
        .await?
        {
            freezes.push(format!("Change freeze: {}.", fz.message()));
        }
    }
    Ok(ListPage {
        shell: Shell::load(state, session, Some(me.user()), "Incidents", "incidents").await,
        items: rows.iter().map(view::summary).collect(),
        next_before,
        states: [("live", "Live"), ("resolved", "Resolved"), ("all", "All")],
        state: f.state,
        severity: q.severity.unwrap_or(0),
        severities: store::severities(&state.db).await?,
        sources: sources(state).await?,
        freezes,
        freeze_severity: state.config.incidents.freeze_severity,
        is_admin: me.user().role == opsdesk_core::accounts::model::Role::Admin,
        error,
        draft,
    })
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> PageResult {
    staff(&me, WHY)?;
    let mut draft = Draft::default();
    if let Some(t) = q.ticket.as_deref().filter(|t| !t.is_empty()) {
        draft.tickets = t.to_string();
        if let Ok(ticket) =
            opsdesk_desk::tickets::service::visible(&state.db, me.user(), t.trim_start_matches('#'))
                .await
        {
            draft.title = ticket.subject.clone();
            draft.summary = format!("Reported in ticket #{}.", ticket.number);
        }
    }
    if let Some(c) = q.check.as_deref().filter(|c| !c.is_empty()) {
        draft.source = format!("check:{c}");
        if let Some(ch) = crate::heartbeats::store::find(&state.db, c).await? {
            draft.title = format!("{} is down", ch.name);
            draft.severity = "2".into();
        }
    }
    if let Some(m) = q.monitor.as_deref().filter(|m| !m.is_empty()) {
        draft.source = format!("monitor:{m}");
        if let Some(mo) = crate::uptime::store::find(&state.db, m).await? {
            draft.title = format!("{} is down", mo.name);
            draft.severity = "2".into();
        }
    }
    let q = ListQuery {
        state: q.state.or_else(|| Some("live".into())),
        ..q
    };
    Ok(render_list(&state, &session, &me, &q, None, draft)
        .await?
        .into_response())
}

async fn declare(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(d): ApiForm<Draft>,
) -> PageResult {
    staff(&me, WHY)?;
    let (mut checks, mut monitors) = (Vec::new(), Vec::new());
    let mut source = "manual";
    match d.source.split_once(':') {
        Some(("check", id)) => {
            checks.push(id.to_string());
            source = "check";
        }
        Some(("monitor", id)) => {
            monitors.push(id.to_string());
            source = "monitor";
        }
        _ => {}
    }
    let tickets: Vec<String> = d
        .tickets
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|t| t.trim_start_matches('#').to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if source == "manual" && !tickets.is_empty() {
        source = "ticket";
    }
    let input = NewIncident {
        title: d.title.clone(),
        severity: (!d.severity.trim().is_empty()).then(|| d.severity.trim().parse().unwrap_or(-1)),
        summary: d.summary.clone(),
        commander: None,
        tickets,
        checks,
        monitors,
        components: Vec::new(),
        public_message: Some(d.public_message.clone()),
    };
    match service::declare(&state.db, &me.actor(), me.user(), source, &input).await {
        Ok(row) => {
            flash(&session, format!("INC-{} declared.", row.number)).await;
            Ok(Redirect::to(&format!("/incidents/{}", row.number)).into_response())
        }
        Err(e) if e.status.is_client_error() => {
            let q = ListQuery {
                state: Some("live".into()),
                ..Default::default()
            };
            let page = render_list(&state, &session, &me, &q, Some(say(&e)), d).await?;
            Ok((e.status, page).into_response())
        }
        Err(e) => Err(PageError(e)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct AutoDeclareForm {
    #[serde(default)]
    source_id: String,
    #[serde(default)]
    severity: String,
    /// Where to go back to (a check's or monitor's page).
    #[serde(default)]
    back: String,
}

async fn auto_declare(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(f): ApiForm<AutoDeclareForm>,
) -> PageResult {
    staff(&me, WHY)?;
    let severity = f.severity.trim().parse().unwrap_or(-1);
    settings::set_auto_declare(&state.db, &me.actor(), &f.source_id, severity).await?;
    flash(
        &session,
        if severity > 0 {
            format!("Going down now declares a SEV{severity} incident.")
        } else {
            "Going down now only alerts.".to_string()
        },
    )
    .await;
    // Only back to our own check and monitor pages.
    let back = if (f.back.starts_with("/checks/") || f.back.starts_with("/monitors/"))
        && !f.back.contains("//")
    {
        f.back
    } else {
        "/incidents".to_string()
    };
    Ok(Redirect::to(&back).into_response())
}
