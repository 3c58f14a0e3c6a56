//! An incident's page (staff): timeline, updates, links, fields, affected components, resolve
//! and postmortem. Plain forms; a refused one is shown again with why.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tower_sessions::Session;

use super::model::{Affected, IncidentPatch, IncidentView, NewLink, NewPostmortem, NewUpdate};
use super::pages::WHY;
use super::{postmortem, rules, service, store, updates, view};
use crate::web::{say, staff};
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiForm;
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{PageError, PageResult, Shell, flash, when};

pub fn routes() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route("/incidents/{n}", get(show))
        .route("/incidents/{n}/updates", post(update))
        .route("/incidents/{n}/resolve", post(resolve))
        .route("/incidents/{n}/edit", post(edit))
        .route("/incidents/{n}/links", post(link))
        .route("/incidents/{n}/components", post(components))
        .route("/incidents/{n}/postmortem", post(write_postmortem))
}

pub struct EventLine {
    pub when: String,
    pub actor: String,
    pub kind: String,
    pub public: bool,
    pub body: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "incident.html")]
struct IncidentPage {
    shell: Shell,
    i: IncidentView,
    created: String,
    resolved: Option<String>,
    events: Vec<EventLine>,
    live: bool,
    open_statuses: [&'static str; 3],
    severities: Vec<(i64, String)>,
    staff: Vec<(String, String)>,
    commander_id: String,
    components: Vec<ComponentChoice>,
    impacts: [&'static str; 4],
    show_postmortem: bool,
    pm: PostmortemDraft,
    error: Option<String>,
    draft_body: String,
    /// Confirmed status page subscribers.
    subscribers: i64,
}

pub struct ComponentChoice {
    pub id: String,
    pub name: String,
    pub impact: String,
}

/// The postmortem form's contents: the written one, else the prefill.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PostmortemDraft {
    #[serde(default)]
    pub impact: String,
    #[serde(default)]
    pub timeline: String,
    #[serde(default)]
    pub root_cause: String,
    #[serde(default)]
    pub went_well: String,
    #[serde(default)]
    pub went_badly: String,
    #[serde(default)]
    pub action_items: String,
}

async fn render(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    reference: &str,
    error: Option<String>,
    pm_draft: Option<PostmortemDraft>,
) -> Result<IncidentPage, PageError> {
    let row = service::find(&state.db, reference).await?;
    let i = view::view(&state.db, me.user(), &row).await?;
    let pm = match (pm_draft, &i.postmortem) {
        (Some(d), _) => d,
        (None, Some(p)) => PostmortemDraft {
            impact: p.impact.clone(),
            timeline: p.timeline.clone(),
            root_cause: p.root_cause.clone(),
            went_well: p.went_well.clone(),
            went_badly: p.went_badly.clone(),
            action_items: String::new(),
        },
        (None, None) => PostmortemDraft {
            timeline: postmortem::prefill(&state.db, &row).await?,
            root_cause: row.root_cause.clone().unwrap_or_default(),
            ..Default::default()
        },
    };
    let mine = service::components_of(&row);
    let components = crate::status::store::components(&state.db)
        .await?
        .into_iter()
        .map(|c| ComponentChoice {
            impact: mine
                .iter()
                .find(|m| m.0 == c.id)
                .map(|m| m.1.clone())
                .unwrap_or_default(),
            id: c.id,
            name: c.name,
        })
        .collect();
    let staff = opsdesk_desk::tickets::queries::assignable(&state.db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    Ok(IncidentPage {
        shell: Shell::load(
            state,
            session,
            Some(me.user()),
            &format!("INC-{} {}", row.number, row.title),
            "incidents",
        )
        .await,
        created: when(row.created),
        resolved: row.resolved_at.map(when),
        events: i
            .timeline
            .iter()
            .map(|e| EventLine {
                when: when(e.at_ms),
                actor: e.actor.clone(),
                kind: e.kind.clone(),
                public: e.public,
                body: e.body.clone(),
            })
            .collect(),
        live: rules::is_live(&row.status),
        open_statuses: ["investigating", "identified", "monitoring"],
        severities: store::severities(&state.db).await?,
        staff,
        commander_id: row.commander_id.clone().unwrap_or_default(),
        components,
        impacts: rules::COMPONENT_IMPACTS,
        show_postmortem: matches!(row.status.as_str(), "resolved" | "postmortem"),
        pm,
        error,
        draft_body: String::new(),
        subscribers: crate::status::subscribers_store::count_confirmed(&state.db).await?,
        i,
    })
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(n): Path<String>,
) -> PageResult {
    staff(&me, WHY)?;
    Ok(render(&state, &session, &me, &n, None, None)
        .await?
        .into_response())
}

/// Back to the incident with a note, or its page again with the problem.
async fn outcome<T>(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    n: &str,
    done: Result<T, AppError>,
    note: impl FnOnce(T) -> String,
    pm: Option<PostmortemDraft>,
) -> PageResult {
    match done {
        Ok(v) => {
            flash(session, note(v)).await;
            let anchor = if pm.is_some() { "#postmortem" } else { "" };
            Ok(Redirect::to(&format!("/incidents/{n}{anchor}")).into_response())
        }
        Err(e) if e.status.is_client_error() && e.status != axum::http::StatusCode::NOT_FOUND => {
            let page = render(state, session, me, n, Some(say(&e)), pm).await?;
            Ok((e.status, page).into_response())
        }
        Err(e) => Err(PageError(e)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct UpdateForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    public: Option<String>,
    #[serde(default)]
    notify: Option<String>,
    #[serde(default)]
    subscribers: Option<String>,
}

async fn update(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    headers: axum::http::HeaderMap,
    Path(n): Path<String>,
    ApiForm(f): ApiForm<UpdateForm>,
) -> PageResult {
    staff(&me, WHY)?;
    let u = NewUpdate {
        body: f.body,
        public: f.public.is_some(),
        notify: f.notify.is_some(),
        subscribers: f.subscribers.is_some(),
        status: Some(f.status).filter(|s| !s.is_empty()),
    };
    let base = crate::web::base_url(&state, &headers);
    let done = updates::post_update(
        &state.db,
        updates::Outgoing {
            mail: &state.config.mail,
            base: &base,
        },
        &me.actor(),
        me.user(),
        &n,
        &u,
    )
    .await;
    let public = u.public;
    outcome(
        &state,
        &session,
        &me,
        &n,
        done,
        |(_, told)| {
            if !public {
                return "Note added.".to_string();
            }
            let mut note = "Update posted on the status page".to_string();
            if told.tickets > 0 {
                note.push_str(&format!(", sent on {} ticket(s)", told.tickets));
            }
            if told.subscribers > 0 {
                note.push_str(&format!(", emailed to {} subscriber(s)", told.subscribers));
            }
            note + "."
        },
        None,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    root_cause: String,
    #[serde(default)]
    public_message: String,
    #[serde(default)]
    subscribers: Option<String>,
}

async fn resolve(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    headers: axum::http::HeaderMap,
    Path(n): Path<String>,
    ApiForm(f): ApiForm<ResolveForm>,
) -> PageResult {
    staff(&me, WHY)?;
    let actor = me.actor();
    let mut done = service::patch(
        &state.db,
        &actor,
        me.user(),
        &n,
        &IncidentPatch {
            root_cause: Some(f.root_cause.clone()),
            status: Some("resolved".into()),
            ..Default::default()
        },
    )
    .await;
    if done.is_ok() && !f.public_message.trim().is_empty() {
        let base = crate::web::base_url(&state, &headers);
        done = updates::post_update(
            &state.db,
            updates::Outgoing {
                mail: &state.config.mail,
                base: &base,
            },
            &actor,
            me.user(),
            &n,
            &NewUpdate {
                body: f.public_message.clone(),
                public: true,
                notify: false,
                subscribers: f.subscribers.is_some(),
                status: None,
            },
        )
        .await
        .map(|r| r.0);
    }
    outcome(
        &state,
        &session,
        &me,
        &n,
        done,
        |r| {
            if rules::needs_postmortem(r.severity) {
                format!(
                    "INC-{} resolved. SEV{} needs a postmortem: write it below.",
                    r.number, r.severity
                )
            } else {
                format!("INC-{} resolved.", r.number)
            }
        },
        None,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    commander: String,
    #[serde(default)]
    summary: String,
}

async fn edit(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(n): Path<String>,
    ApiForm(f): ApiForm<EditForm>,
) -> PageResult {
    staff(&me, WHY)?;
    let p = IncidentPatch {
        title: Some(f.title),
        severity: Some(f.severity.trim().parse().unwrap_or(0)),
        commander: Some(f.commander).filter(|c| !c.is_empty()),
        summary: Some(f.summary),
        ..Default::default()
    };
    let done = service::patch(&state.db, &me.actor(), me.user(), &n, &p).await;
    outcome(
        &state,
        &session,
        &me,
        &n,
        done,
        |_| "Saved.".to_string(),
        None,
    )
    .await
}

async fn link(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(n): Path<String>,
    ApiForm(l): ApiForm<NewLink>,
) -> PageResult {
    staff(&me, WHY)?;
    let done = service::link(&state.db, &me.actor(), me.user(), &n, &l).await;
    outcome(
        &state,
        &session,
        &me,
        &n,
        done,
        |_| "Linked.".to_string(),
        None,
    )
    .await
}

async fn components(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(n): Path<String>,
    ApiForm(pairs): ApiForm<Vec<(String, String)>>,
) -> PageResult {
    staff(&me, WHY)?;
    let list: Vec<Affected> = pairs
        .iter()
        .filter_map(|(k, v)| {
            let id = k.strip_prefix("impact:")?;
            (!v.is_empty()).then(|| Affected {
                id: id.to_string(),
                impact: v.clone(),
            })
        })
        .collect();
    let p = IncidentPatch {
        components: Some(list),
        ..Default::default()
    };
    let done = service::patch(&state.db, &me.actor(), me.user(), &n, &p).await;
    outcome(
        &state,
        &session,
        &me,
        &n,
        done,
        |_| "Affected components saved.".to_string(),
        None,
    )
    .await
}

async fn write_postmortem(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(n): Path<String>,
    ApiForm(d): ApiForm<PostmortemDraft>,
) -> PageResult {
    staff(&me, WHY)?;
    let input = NewPostmortem {
        impact: d.impact.clone(),
        timeline: d.timeline.clone(),
        root_cause: d.root_cause.clone(),
        went_well: d.went_well.clone(),
        went_badly: d.went_badly.clone(),
        action_items: vec![d.action_items.clone()],
    };
    let done = postmortem::write(
        &state.db,
        &state.config.mail,
        &me.actor(),
        me.user(),
        &n,
        &input,
    )
    .await;
    outcome(
        &state,
        &session,
        &me,
        &n,
        done,
        |(_, items)| {
            if items.is_empty() {
                "Postmortem saved.".to_string()
            } else {
                let list: Vec<String> = items.iter().map(|n| format!("#{n}")).collect();
                format!(
                    "Postmortem saved; action items filed as {}.",
                    list.join(", ")
                )
            }
        },
        Some(d),
    )
    .await
}
