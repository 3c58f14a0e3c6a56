//! Incident pages (staff): the list with filters and the declare form (prefilled from a ticket,
//! check or monitor), and an incident's page — timeline, updates, links, fields, affected
//! components, resolve and postmortem. Plain forms; a refused one is shown again with why.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tower_sessions::Session;

use super::model::{Affected, IncidentPatch, IncidentSummary, IncidentView, NewIncident, NewLink};
use super::model::{NewPostmortem, NewUpdate};
use super::{api, freeze, postmortem, rules, service, store, view};
use crate::web::{say, staff};
use opsdesk_core::clock::now_ms;
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::{ApiForm, ApiQuery};
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{PageError, PageResult, Shell, flash, when};

const WHY: &str = "Incidents are run by the team.";

pub fn routes() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route("/incidents", get(list).post(declare))
        .route("/incidents/auto-declare", post(auto_declare))
        .route("/incidents/{n}", get(show))
        .route("/incidents/{n}/updates", post(update))
        .route("/incidents/{n}/resolve", post(resolve))
        .route("/incidents/{n}/edit", post(edit))
        .route("/incidents/{n}/links", post(link))
        .route("/incidents/{n}/components", post(components))
        .route("/incidents/{n}/postmortem", post(write_postmortem))
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
    let done = service::post_update(
        &state.db,
        service::Outgoing {
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
        done = service::post_update(
            &state.db,
            service::Outgoing {
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
    service::set_auto_declare(&state.db, &me.actor(), &f.source_id, severity).await?;
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
