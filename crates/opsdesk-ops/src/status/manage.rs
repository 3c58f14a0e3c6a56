//! Managing the status page in plain forms (`/status/manage`, staff): components and what each
//! follows, incidents and their updates, maintenance windows. A refused form is shown again
//! with what was typed and what is wrong.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tower_sessions::Session;

use super::rules;
use super::service::{self, ComponentInput, NoticeInput, UpdateInput};
use crate::web::staff;
use opsdesk_core::clock::now_ms;
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiForm;
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{PageError, PageResult, Shell, flash, when};

pub fn routes() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route("/status/manage", get(show))
        .route("/status/manage/components", post(add_component))
        .route("/status/manage/components/{id}", post(save_component))
        .route(
            "/status/manage/components/{id}/delete",
            post(remove_component),
        )
        .route("/status/manage/incidents", post(add_incident))
        .route("/status/manage/maintenances", post(add_maintenance))
        .route("/status/manage/notices/{id}/updates", post(add_update))
        .route(
            "/status/manage/logo",
            post(super::logo::upload).layer(axum::extract::DefaultBodyLimit::max(
                super::logo::MAX_BYTES + 64 * 1024,
            )),
        )
}

pub struct ComponentLine {
    pub id: String,
    pub name: String,
    pub group: String,
    pub follows: String,
    pub manual: bool,
    pub manual_status: String,
    pub status: &'static str,
}

pub struct NoticeLine {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub status: String,
    pub when: String,
}

/// A source a component can follow: (`check:<id>` / `monitor:<id>`, label).
pub struct Source {
    pub value: String,
    pub label: String,
}

/// What was typed in the incident and maintenance forms, kept when one is refused.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Draft {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub impact: String,
    #[serde(default)]
    pub starts_at: String,
    #[serde(default)]
    pub ends_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "status_manage.html")]
struct ManagePage {
    shell: Shell,
    components: Vec<ComponentLine>,
    notices: Vec<NoticeLine>,
    sources: Vec<Source>,
    statuses: [&'static str; 5],
    incident_statuses: [&'static str; 4],
    impacts: [&'static str; 4],
    error: Option<String>,
    draft: Draft,
    has_logo: bool,
}

async fn render(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    error: Option<String>,
    draft: Draft,
) -> Result<ManagePage, PageError> {
    let p = service::page(&state.db, now_ms(), 14).await?;
    let checks = crate::heartbeats::store::list(&state.db, &Default::default()).await?;
    let monitors = crate::uptime::store::list(&state.db).await?;
    let name_of = |kind: &str, id: &Option<String>| -> String {
        let id = id.as_deref().unwrap_or("");
        match kind {
            "check" => checks
                .iter()
                .find(|c| c.id == id)
                .map(|c| format!("heartbeat check {}", c.name)),
            "monitor" => monitors
                .iter()
                .find(|m| m.id == id)
                .map(|m| format!("monitor {}", m.name)),
            _ => Some("set by hand".into()),
        }
        .unwrap_or_else(|| "a deleted check".into())
    };
    let mut sources: Vec<Source> = checks
        .iter()
        .map(|c| Source {
            value: format!("check:{}", c.id),
            label: format!("Heartbeat check: {}", c.name),
        })
        .collect();
    sources.extend(monitors.iter().map(|m| Source {
        value: format!("monitor:{}", m.id),
        label: format!("Monitor: {}", m.name),
    }));
    let mut notices: Vec<NoticeLine> = p
        .incidents
        .iter()
        .chain(p.maintenances.iter())
        .filter(|n| !matches!(n.status.as_str(), "resolved" | "completed" | "postmortem"))
        .map(|n| NoticeLine {
            id: n.row.id.clone(),
            kind: n.row.kind.clone(),
            name: n.row.name.clone(),
            status: n.status.clone(),
            when: when(n.row.starts_at.unwrap_or(n.row.created)),
        })
        .collect();
    notices.sort_by(|a, b| a.kind.cmp(&b.kind));
    Ok(ManagePage {
        shell: Shell::load(state, session, Some(me.user()), "Status page", "status").await,
        components: p
            .components
            .iter()
            .map(|c| ComponentLine {
                id: c.row.id.clone(),
                name: c.row.name.clone(),
                group: c.row.group_name.clone(),
                follows: name_of(&c.row.source_kind, &c.row.source_id),
                manual: c.row.source_kind == "manual",
                manual_status: c.row.manual_status.clone(),
                status: c.status,
            })
            .collect(),
        notices,
        sources,
        statuses: rules::COMPONENT_STATUSES,
        incident_statuses: rules::INCIDENT_STATUSES,
        impacts: rules::IMPACTS,
        error,
        draft,
        has_logo: super::logo::exists(&state.db).await?,
    })
}

async fn show(State(state): State<AppState>, session: Session, me: PageUser) -> PageResult {
    staff(&me, "The status page is managed by the team.")?;
    Ok(render(&state, &session, &me, None, Draft::default())
        .await?
        .into_response())
}

/// Shows the page again with the problem, or goes back to it with a note.
async fn outcome(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    done: Result<String, AppError>,
    draft: Draft,
) -> PageResult {
    match done {
        Ok(note) => {
            flash(session, note).await;
            Ok(Redirect::to("/status/manage").into_response())
        }
        Err(e) if e.status.is_client_error() => {
            let msg = crate::web::say(&e);
            let page = render(state, session, me, Some(msg), draft).await?;
            Ok((e.status, page).into_response())
        }
        Err(e) => Err(PageError(e)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ComponentForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    description: String,
    /// `manual`, `check:<id>` or `monitor:<id>`.
    #[serde(default)]
    follows: String,
    #[serde(default)]
    status: String,
}

impl ComponentForm {
    fn input(&self) -> ComponentInput {
        let (source, source_id) = match self.follows.split_once(':') {
            Some((k, id)) => (k.to_string(), Some(id.to_string())),
            None => ("manual".to_string(), None),
        };
        ComponentInput {
            name: self.name.clone(),
            group: self.group.clone(),
            description: self.description.clone(),
            source,
            source_id,
            status: (!self.status.is_empty()).then(|| self.status.clone()),
            position: None,
        }
    }
}

async fn add_component(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(f): ApiForm<ComponentForm>,
) -> PageResult {
    staff(&me, "The status page is managed by the team.")?;
    let done = service::create_component(&state.db, &me.actor(), &f.input())
        .await
        .map(|c| format!("Component \"{}\" is on the page.", c.name));
    outcome(&state, &session, &me, done, Draft::default()).await
}

async fn save_component(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
    ApiForm(f): ApiForm<ComponentForm>,
) -> PageResult {
    staff(&me, "The status page is managed by the team.")?;
    let done = service::update_component(&state.db, &me.actor(), &id, &f.input())
        .await
        .map(|c| format!("Component \"{}\" saved.", c.name));
    outcome(&state, &session, &me, done, Draft::default()).await
}

async fn remove_component(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    staff(&me, "The status page is managed by the team.")?;
    let done = service::delete_component(&state.db, &me.actor(), &id)
        .await
        .map(|()| "Component removed from the page.".to_string());
    outcome(&state, &session, &me, done, Draft::default()).await
}

fn notice_input(pairs: &[(String, String)]) -> (NoticeInput, Draft) {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    // `datetime-local` sends 2026-11-24T22:00 (no zone): read as UTC.
    let at = |v: String| -> Option<String> {
        let v = v.trim().to_string();
        match v.len() {
            0 => None,
            16 => Some(format!("{v}:00Z")),
            _ => Some(v),
        }
    };
    let draft = Draft {
        name: get("name"),
        body: get("body"),
        status: get("status"),
        impact: get("impact"),
        starts_at: get("starts_at"),
        ends_at: get("ends_at"),
    };
    let input = NoticeInput {
        name: draft.name.clone(),
        body: draft.body.clone(),
        status: (!draft.status.is_empty()).then(|| draft.status.clone()),
        impact: (!draft.impact.is_empty()).then(|| draft.impact.clone()),
        components: pairs
            .iter()
            .filter(|(k, _)| k == "component")
            .map(|(_, v)| v.clone())
            .collect(),
        starts_at: at(draft.starts_at.clone()),
        ends_at: at(draft.ends_at.clone()),
    };
    (input, draft)
}

async fn add_incident(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(pairs): ApiForm<Vec<(String, String)>>,
) -> PageResult {
    staff(&me, "The status page is managed by the team.")?;
    let (input, draft) = notice_input(&pairs);
    let done = service::create_notice(&state.db, &me.actor(), "incident", &input)
        .await
        .map(|n| format!("Incident \"{}\" is posted.", n.name));
    outcome(&state, &session, &me, done, draft).await
}

async fn add_maintenance(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(pairs): ApiForm<Vec<(String, String)>>,
) -> PageResult {
    staff(&me, "The status page is managed by the team.")?;
    let (input, draft) = notice_input(&pairs);
    let done = service::create_notice(&state.db, &me.actor(), "maintenance", &input)
        .await
        .map(|n| format!("Maintenance \"{}\" is scheduled.", n.name));
    outcome(&state, &session, &me, done, draft).await
}

#[derive(Debug, Deserialize)]
pub struct UpdateForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    body: String,
}

async fn add_update(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
    ApiForm(f): ApiForm<UpdateForm>,
) -> PageResult {
    staff(&me, "The status page is managed by the team.")?;
    let input = UpdateInput {
        status: f.status.clone(),
        body: f.body.clone(),
        impact: None,
    };
    let done = service::update_notice(&state.db, &me.actor(), &id, &input)
        .await
        .map(|n| format!("\"{}\" is now {}.", n.name, n.status));
    outcome(&state, &session, &me, done, Draft::default()).await
}
