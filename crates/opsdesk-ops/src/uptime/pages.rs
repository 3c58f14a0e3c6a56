//! The monitors pages: `/monitors` lists every monitor with its status, uptime over a day, a
//! week, 30 and 90 days and a sparkline of response times, and adds a plain HTTP monitor;
//! `/monitors/{id}` shows one with its response-time chart, its recent runs (which step failed
//! and why) and its settings — a form for a single request, or the steps as JSON for a flow.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tower_sessions::Session;

use super::model::Step;
use super::service::{self, MonitorInput, Uptime};
use super::store::{self, MonitorRow};
use crate::heartbeats::view::{self, Dot};
use crate::web::{say, staff};
use opsdesk_core::clock::now_ms;
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiForm;
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{PageError, PageResult, Shell, flash, when};

pub fn routes() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route("/monitors", get(list).post(create))
        .route("/monitors/{id}", get(show).post(update))
        .route("/monitors/{id}/pause", post(pause))
        .route("/monitors/{id}/resume", post(resume))
        .route("/monitors/{id}/delete", post(delete))
}

fn pct(v: Option<f64>) -> String {
    v.map(|p| format!("{p:.2} %")).unwrap_or_else(|| "—".into())
}

/// A monitor as a row of the list.
pub struct Item {
    pub id: String,
    pub name: String,
    pub target: String,
    pub status: String,
    pub last: String,
    pub last_ms: String,
    pub error: String,
    pub uptime: [String; 4],
    pub spark: String,
}

fn target(m: &MonitorRow) -> String {
    let steps: Vec<Step> = serde_json::from_str(&m.steps).unwrap_or_default();
    match steps.as_slice() {
        [one] => format!("{} {}", one.method, one.url),
        many => format!(
            "{} steps, from {}",
            many.len(),
            many.first().map(|s| s.url.as_str()).unwrap_or("")
        ),
    }
}

fn dots(rows: &[store::ResultRow]) -> Vec<Dot> {
    rows.iter()
        .rev()
        .map(|r| Dot {
            kind: if r.ok {
                "success".into()
            } else {
                "fail".into()
            },
            duration_ms: Some(r.response_ms.max(1)),
            label: format!(
                "{} {} in {}{}",
                when(r.started),
                if r.ok { "passed" } else { "failed" },
                view::took(r.response_ms),
                r.error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
        })
        .collect()
}

async fn item(state: &AppState, m: &MonitorRow, now: i64) -> Result<Item, PageError> {
    let u: Uptime = service::uptime(&state.db, &m.id, now).await?;
    let recent = store::results(&state.db, &m.id, 20).await?;
    Ok(Item {
        id: m.id.clone(),
        name: m.name.clone(),
        target: target(m),
        status: m.status.clone(),
        last: m
            .last_run
            .map(|t| view::relative(now, t))
            .unwrap_or_else(|| "not yet".into()),
        last_ms: m.last_ms.map(view::took).unwrap_or_default(),
        error: m
            .last_error
            .clone()
            .filter(|_| m.last_ok == Some(false))
            .unwrap_or_default(),
        uptime: [pct(u.h24), pct(u.d7), pct(u.d30), pct(u.d90)],
        spark: view::sparkline(&dots(&recent)),
    })
}

/// The single-request form (and the steps as JSON for flows).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MonitorForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub method: String,
    /// One condition per line.
    #[serde(default)]
    pub conditions: String,
    /// Seconds.
    #[serde(default)]
    pub interval: String,
    #[serde(default)]
    pub timeout_ms: String,
    #[serde(default)]
    pub failure_threshold: String,
    #[serde(default)]
    pub success_threshold: String,
    #[serde(default)]
    pub follow_redirects: Option<String>,
    #[serde(default)]
    pub insecure: Option<String>,
    /// The steps as JSON (multi-step monitors); wins over `url` when given.
    #[serde(default)]
    pub steps: String,
    /// Chosen alert channels (the form's `channel` checkboxes).
    #[serde(skip)]
    pub channels: Vec<String>,
}

impl MonitorForm {
    /// Reads the posted fields; `channel` may come many times.
    fn from_pairs(pairs: Vec<(String, String)>) -> MonitorForm {
        let mut fields = std::collections::HashMap::new();
        let mut channels = Vec::new();
        for (k, v) in pairs {
            if k == "channel" {
                channels.push(v);
            } else {
                fields.insert(k, v);
            }
        }
        let mut form: MonitorForm = serde_json::to_value(&fields)
            .and_then(serde_json::from_value)
            .unwrap_or_default();
        form.channels = channels;
        form
    }
}

impl MonitorForm {
    fn blank() -> MonitorForm {
        MonitorForm {
            method: "GET".into(),
            conditions: "[STATUS] == 200\n[RESPONSE_TIME] < 1000".into(),
            interval: "60".into(),
            timeout_ms: "10000".into(),
            failure_threshold: "2".into(),
            success_threshold: "1".into(),
            follow_redirects: Some("on".into()),
            ..MonitorForm::default()
        }
    }

    fn of(m: &MonitorRow) -> MonitorForm {
        let steps: Vec<Step> = serde_json::from_str(&m.steps).unwrap_or_default();
        let (url, method, conditions, follow) = match steps.as_slice() {
            [one] if one.capture.is_empty() && one.headers.is_empty() && one.body.is_empty() => (
                one.url.clone(),
                one.method.clone(),
                one.conditions.join("\n"),
                one.follows(),
            ),
            _ => (String::new(), "GET".into(), String::new(), true),
        };
        MonitorForm {
            name: m.name.clone(),
            tags: m.tags.clone(),
            steps: if url.is_empty() {
                serde_json::to_string_pretty(&steps).unwrap_or_default()
            } else {
                String::new()
            },
            url,
            method,
            conditions,
            interval: m.interval_s.to_string(),
            timeout_ms: m.timeout_ms.to_string(),
            failure_threshold: m.failure_threshold.to_string(),
            success_threshold: m.success_threshold.to_string(),
            follow_redirects: follow.then(|| "on".into()),
            insecure: m.insecure.then(|| "on".into()),
            channels: Vec::new(),
        }
    }

    fn input(&self) -> Result<MonitorInput, AppError> {
        let num = |name: &str, v: &str| -> Result<Option<i64>, AppError> {
            match v.trim() {
                "" => Ok(None),
                t => t
                    .parse()
                    .map(Some)
                    .map_err(|_| AppError::field(name, "must be a whole number")),
            }
        };
        let mut input = MonitorInput {
            name: Some(self.name.clone()),
            tags: Some(self.tags.clone()),
            interval: num("interval", &self.interval)?,
            timeout_ms: num("timeout_ms", &self.timeout_ms)?,
            failure_threshold: num("failure_threshold", &self.failure_threshold)?,
            success_threshold: num("success_threshold", &self.success_threshold)?,
            insecure: Some(self.insecure.is_some()),
            channels: Some(self.channels.clone()),
            ..MonitorInput::default()
        };
        if self.steps.trim().is_empty() {
            input.url = Some(self.url.clone());
            input.method = Some(self.method.clone());
            input.follow_redirects = Some(self.follow_redirects.is_some());
            input.conditions = Some(
                self.conditions
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect(),
            );
        } else {
            let steps: Vec<Step> = serde_json::from_str(&self.steps).map_err(|e| {
                AppError::field("steps", &format!("is not a JSON list of steps: {e}"))
            })?;
            input.steps = Some(steps);
        }
        Ok(input)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "monitors.html")]
struct MonitorsPage {
    shell: Shell,
    items: Vec<Item>,
    form: MonitorForm,
    error: Option<String>,
    /// Every channel: (id, name, kind, chosen).
    channels: Vec<(String, String, String, bool)>,
}

/// Every alert channel as the form lists it, with whether it is chosen.
async fn channel_choices(
    state: &AppState,
    chosen: &[String],
) -> Result<Vec<(String, String, String, bool)>, PageError> {
    Ok(crate::alerts::store::channels(&state.db)
        .await?
        .into_iter()
        .map(|c| {
            let on = chosen.contains(&c.id);
            (c.id, c.name, c.kind, on)
        })
        .collect())
}

async fn render_list(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    form: MonitorForm,
    error: Option<String>,
) -> Result<MonitorsPage, PageError> {
    let now = now_ms();
    let mut items = Vec::new();
    for m in store::list(&state.db).await? {
        items.push(item(state, &m, now).await?);
    }
    Ok(MonitorsPage {
        shell: Shell::load(state, session, Some(me.user()), "Monitors", "monitors").await,
        items,
        channels: channel_choices(state, &form.channels).await?,
        form,
        error,
    })
}

async fn list(State(state): State<AppState>, session: Session, me: PageUser) -> PageResult {
    staff(&me, "Monitors are for the team.")?;
    Ok(
        render_list(&state, &session, &me, MonitorForm::blank(), None)
            .await?
            .into_response(),
    )
}

async fn create(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(pairs): ApiForm<Vec<(String, String)>>,
) -> PageResult {
    staff(&me, "Monitors are for the team.")?;
    let form = MonitorForm::from_pairs(pairs);
    let made = match form.input() {
        Ok(i) => service::create(&state.db, &me.actor(), &i).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(m) => {
            flash(
                &session,
                format!(
                    "Monitor \"{}\" added; it runs within {} s.",
                    m.name, m.interval_s
                ),
            )
            .await;
            Ok(Redirect::to(&format!("/monitors/{}", m.id)).into_response())
        }
        Err(e) if e.status.is_client_error() => {
            let msg = say(&e);
            let page = render_list(&state, &session, &me, form, Some(msg)).await?;
            Ok((e.status, page).into_response())
        }
        Err(e) => Err(PageError(e)),
    }
}

/// A run as the monitor page lists it.
pub struct RunLine {
    pub when: String,
    pub ok: bool,
    pub took: String,
    pub status: String,
    pub step: String,
    pub error: String,
    pub late: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "monitor.html")]
struct MonitorPage {
    shell: Shell,
    m: Item,
    id: String,
    expects: String,
    next: String,
    paused: bool,
    chart: String,
    runs: Vec<RunLine>,
    /// Alerts sent: when, channel, kind, about, delivery state, error.
    sent: Vec<(String, String, String, String, String, String)>,
    form: MonitorForm,
    error: Option<String>,
    channels: Vec<(String, String, String, bool)>,
    auto_declare: i64,
    live_incidents: usize,
}

async fn find(state: &AppState, id: &str) -> Result<MonitorRow, PageError> {
    let id = uuid::Uuid::parse_str(id)
        .map(|u| u.to_string())
        .map_err(|_| PageError(AppError::not_found("This monitor")))?;
    store::find(&state.db, &id)
        .await?
        .ok_or_else(|| PageError(AppError::not_found("This monitor")))
}

async fn render_one(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    m: &MonitorRow,
    form: MonitorForm,
    error: Option<String>,
) -> Result<MonitorPage, PageError> {
    let now = now_ms();
    let rows = store::results(&state.db, &m.id, 100).await?;
    let runs = rows
        .iter()
        .take(50)
        .map(|r| RunLine {
            when: when(r.started),
            ok: r.ok,
            took: view::took(r.response_ms),
            status: r
                .status_code
                .map(|s| s.to_string())
                .unwrap_or_else(|| "—".into()),
            step: r.failed_step.clone().unwrap_or_default(),
            error: r.error.clone().unwrap_or_default(),
            late: view::took(r.started - r.scheduled),
        })
        .collect();
    let (auto_declare, live_incidents) =
        crate::incidents::settings::watch_of(&state.db, "monitor", &m.id).await?;
    Ok(MonitorPage {
        auto_declare,
        live_incidents,
        shell: Shell::load(state, session, Some(me.user()), &m.name, "monitors").await,
        m: item(state, m, now).await?,
        id: m.id.clone(),
        expects: format!(
            "every {}, timeout {}, down after {} failed run(s), up after {} passed",
            view::span(m.interval_s),
            view::took(m.timeout_ms),
            m.failure_threshold,
            m.success_threshold
        ),
        next: m
            .next_run
            .map(|t| view::relative(now, t))
            .unwrap_or_else(|| "—".into()),
        paused: m.status == "paused",
        chart: view::response_chart(&dots(&rows)),
        sent: crate::alerts::store::sent_for_check(&state.db, &m.id, 50)
            .await?
            .into_iter()
            .map(|x| {
                (
                    when(x.created),
                    x.channel,
                    x.kind,
                    x.new_status,
                    x.state,
                    x.error.unwrap_or_default(),
                )
            })
            .collect(),
        runs,
        channels: channel_choices(state, &form.channels).await?,
        form,
        error,
    })
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    staff(&me, "Monitors are for the team.")?;
    let m = find(&state, &id).await?;
    let mut form = MonitorForm::of(&m);
    form.channels = crate::heartbeats::store::channel_ids(&state.db, &m.id).await?;
    Ok(render_one(&state, &session, &me, &m, form, None)
        .await?
        .into_response())
}

async fn update(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
    ApiForm(pairs): ApiForm<Vec<(String, String)>>,
) -> PageResult {
    staff(&me, "Monitors are for the team.")?;
    let m = find(&state, &id).await?;
    let form = MonitorForm::from_pairs(pairs);
    let saved = match form.input() {
        Ok(i) => service::update(&state.db, &me.actor(), &m.id, &i).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(m) => {
            flash(&session, format!("Monitor \"{}\" saved.", m.name)).await;
            Ok(Redirect::to(&format!("/monitors/{}", m.id)).into_response())
        }
        Err(e) if e.status.is_client_error() => {
            let msg = say(&e);
            let page = render_one(&state, &session, &me, &m, form, Some(msg)).await?;
            Ok((e.status, page).into_response())
        }
        Err(e) => Err(PageError(e)),
    }
}

async fn set_paused(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    id: &str,
    paused: bool,
) -> PageResult {
    staff(me, "Monitors are for the team.")?;
    let m = find(state, id).await?;
    let m = service::set_paused(&state.db, &me.actor(), &m.id, paused).await?;
    let what = if paused {
        "paused"
    } else {
        "resumed: it runs now"
    };
    flash(session, format!("Monitor \"{}\" {what}.", m.name)).await;
    Ok(Redirect::to(&format!("/monitors/{}", m.id)).into_response())
}

async fn pause(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    set_paused(&state, &session, &me, &id, true).await
}

async fn resume(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    set_paused(&state, &session, &me, &id, false).await
}

async fn delete(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    staff(&me, "Monitors are for the team.")?;
    let m = find(&state, &id).await?;
    let m = service::delete(&state.db, &me.actor(), &m.id).await?;
    flash(
        &session,
        format!("Monitor \"{}\" deleted with its results.", m.name),
    )
    .await;
    Ok(Redirect::to("/monitors").into_response())
}
