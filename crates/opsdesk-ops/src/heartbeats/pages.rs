//! The checks pages: `/checks` lists every check with its status, last and next ping and a
//! sparkline of recent pings, and adds checks; `/checks/{id}` shows one with its ping URL and
//! copyable snippets, its log (with bodies), run durations, flips and the alerts they sent, and
//! changes, pauses, resumes or deletes it; `/checks/settings` holds the API keys, the ping key
//! and the alert channels. Plain forms, no JavaScript needed.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tower_sessions::Session;

use super::rules;
use super::service::{self, CheckInput};
use super::store::{self, CheckRow, ListFilter};
use super::view::{self, Dot};
use crate::alerts::model::Channel;
use crate::alerts::store as channels;
use crate::web::{base_url, say, staff};
use opsdesk_core::clock::now_ms;
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiForm;
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{PageError, PageResult, Shell, flash, when};

/// Checks per page of the list.
const PAGE: usize = 100;

pub fn routes() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route("/checks", get(list).post(create))
        .merge(super::settings_pages::routes())
        .route("/checks/{id}", get(show).post(update))
        .route("/checks/{id}/pause", post(pause))
        .route("/checks/{id}/resume", post(resume))
        .route("/checks/{id}/delete", post(delete))
}

/// A check as a row of the list.
pub struct Item {
    pub id: String,
    pub name: String,
    pub tags: Vec<String>,
    pub status: &'static str,
    pub last_ping: String,
    pub next_ping: String,
    pub expects: String,
    pub spark: String,
}

fn expects(c: &CheckRow) -> String {
    if c.kind == "cron" {
        format!("{} ({}), grace {}", c.schedule, c.tz, view::span(c.grace_s))
    } else {
        format!(
            "every {}, grace {}",
            view::span(c.timeout_s),
            view::span(c.grace_s)
        )
    }
}

fn dot(p: &store::PingRow) -> Dot {
    let mut label = format!("#{} {} {}", p.n, p.kind, when(p.created));
    if let Some(d) = p.duration_ms {
        label.push_str(&format!(", ran {}", view::took(d)));
    }
    Dot {
        kind: p.kind.clone(),
        duration_ms: p.duration_ms,
        label,
    }
}

fn item(c: &CheckRow, dots: &[Dot], now: i64) -> Item {
    let spec = c.spec();
    let state = c.state();
    Item {
        id: c.id.clone(),
        name: if c.name.is_empty() {
            "(unnamed)".into()
        } else {
            c.name.clone()
        },
        tags: c.tags.split_whitespace().map(str::to_string).collect(),
        status: rules::shown(&spec, &state, now).as_str(),
        last_ping: c
            .last_ping
            .map(|t| view::relative(now, t))
            .unwrap_or_else(|| "never".into()),
        next_ping: rules::grace_start(&spec, &state, true)
            .filter(|_| !matches!(c.status.as_str(), "paused" | "down"))
            .map(|t| view::relative(now, t))
            .unwrap_or_else(|| "—".into()),
        expects: expects(c),
        spark: view::sparkline(dots),
    }
}

/// The create form's fields, kept when it is shown again with an error.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CheckForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub desc: String,
    /// `simple` or `cron`.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub period: String,
    #[serde(default)]
    pub grace: String,
    #[serde(default)]
    pub schedule: String,
    #[serde(default)]
    pub tz: String,
    #[serde(default)]
    pub methods: String,
    #[serde(default)]
    pub manual_resume: Option<String>,
    #[serde(default)]
    pub filter_body: Option<String>,
    #[serde(default)]
    pub start_kw: String,
    #[serde(default)]
    pub success_kw: String,
    #[serde(default)]
    pub failure_kw: String,
}

impl CheckForm {
    fn blank() -> CheckForm {
        CheckForm {
            kind: "simple".into(),
            period: "1 d".into(),
            grace: "1 h".into(),
            schedule: "0 3 * * *".into(),
            tz: "UTC".into(),
            ..CheckForm::default()
        }
    }

    fn of(c: &CheckRow) -> CheckForm {
        CheckForm {
            name: c.name.clone(),
            slug: c.slug.clone(),
            tags: c.tags.clone(),
            desc: c.descr.clone(),
            kind: c.kind.clone(),
            period: view::span(c.timeout_s),
            grace: view::span(c.grace_s),
            schedule: c.schedule.clone(),
            tz: c.tz.clone(),
            methods: c.methods.clone(),
            manual_resume: c.manual_resume.then(|| "on".into()),
            filter_body: c.filter_body.then(|| "on".into()),
            start_kw: c.start_kw.clone(),
            success_kw: c.success_kw.clone(),
            failure_kw: c.failure_kw.clone(),
        }
    }

    /// The service's input; periods are typed as durations (`15m`, `1h 30m`).
    fn input(&self, channels: Option<String>) -> Result<CheckInput, AppError> {
        let span = |name: &str, v: &str| view::parse_span(v).map_err(|p| AppError::field(name, p));
        let cron = self.kind == "cron";
        Ok(CheckInput {
            name: Some(self.name.clone()),
            slug: (!self.slug.trim().is_empty()).then(|| self.slug.trim().to_string()),
            tags: Some(self.tags.clone()),
            desc: Some(self.desc.clone()),
            timeout: if cron {
                None
            } else {
                Some(span("period", &self.period)?)
            },
            grace: Some(span("grace", &self.grace)?),
            schedule: cron.then(|| self.schedule.clone()),
            tz: cron.then(|| self.tz.clone()),
            manual_resume: Some(self.manual_resume.is_some()),
            methods: Some(if self.methods == "POST" { "POST" } else { "" }.into()),
            channels,
            unique: None,
            start_kw: Some(self.start_kw.clone()),
            success_kw: Some(self.success_kw.clone()),
            failure_kw: Some(self.failure_kw.clone()),
            filter_body: Some(self.filter_body.is_some()),
        })
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "checks.html")]
struct ChecksPage {
    shell: Shell,
    items: Vec<Item>,
    total: usize,
    tags: Vec<String>,
    tag: String,
    page: usize,
    pages: usize,
    counts: Vec<(&'static str, usize)>,
    form: CheckForm,
    error: Option<String>,
    ping_base: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    tag: String,
    #[serde(default)]
    page: Option<usize>,
}

async fn render_list(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    headers: &axum::http::HeaderMap,
    q: &ListQuery,
    form: CheckForm,
    error: Option<String>,
) -> Result<ChecksPage, PageError> {
    let all = store::list(&state.db, &ListFilter::default()).await?;
    let mut tags: Vec<String> = all
        .iter()
        .flat_map(|c| c.tags.split_whitespace().map(str::to_string))
        .collect();
    tags.sort();
    tags.dedup();
    let tag = q.tag.trim().to_string();
    let rows: Vec<&CheckRow> = all
        .iter()
        .filter(|c| tag.is_empty() || c.tags.split_whitespace().any(|t| t == tag))
        .collect();
    let now = now_ms();
    let mut counts: HashMap<&'static str, usize> = HashMap::new();
    for c in &rows {
        *counts
            .entry(rules::shown(&c.spec(), &c.state(), now).as_str())
            .or_default() += 1;
    }
    let pages = rows.len().div_ceil(PAGE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let shown: Vec<&CheckRow> = rows
        .iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .copied()
        .collect();
    let ids: Vec<&str> = shown.iter().map(|c| c.id.as_str()).collect();
    let mut dots: HashMap<String, Vec<Dot>> = HashMap::new();
    for p in store::recent_pings(&state.db, &ids, 20).await? {
        dots.entry(p.check_id.clone()).or_default().push(dot(&p));
    }
    let items = shown
        .iter()
        .map(|c| item(c, dots.get(&c.id).map(Vec::as_slice).unwrap_or(&[]), now))
        .collect();
    Ok(ChecksPage {
        shell: Shell::load(state, session, Some(me.user()), "Checks", "checks").await,
        items,
        total: rows.len(),
        tags,
        tag,
        page,
        pages,
        counts: ["down", "grace", "started", "up", "new", "paused"]
            .into_iter()
            .map(|s| (s, counts.get(s).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .collect(),
        form,
        error,
        ping_base: base_url(state, headers),
    })
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    headers: axum::http::HeaderMap,
    Query(q): Query<ListQuery>,
) -> PageResult {
    staff(&me, "Checks are for the team.")?;
    let page = render_list(
        &state,
        &session,
        &me,
        &headers,
        &q,
        CheckForm::blank(),
        None,
    )
    .await?;
    Ok(page.into_response())
}

async fn create(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    headers: axum::http::HeaderMap,
    ApiForm(form): ApiForm<CheckForm>,
) -> PageResult {
    staff(&me, "Checks are for the team.")?;
    let created = match form.input(None) {
        Ok(input) => service::create(&state.db, &me.actor(), &input).await,
        Err(e) => Err(e),
    };
    match created {
        Ok((c, _)) => {
            flash(
                &session,
                format!(
                    "Check \"{}\" created. Point your job at its ping URL.",
                    c.name
                ),
            )
            .await;
            Ok(Redirect::to(&format!("/checks/{}", c.id)).into_response())
        }
        Err(e) if e.status.is_client_error() => {
            let msg = say(&e);
            let page = render_list(
                &state,
                &session,
                &me,
                &headers,
                &ListQuery::default(),
                form,
                Some(msg),
            )
            .await?;
            Ok((e.status, page).into_response())
        }
        Err(e) => Err(PageError(e)),
    }
}

/// A log line as the check page shows it.
pub struct LogLine {
    pub n: i64,
    pub kind: String,
    pub when: String,
    pub ago: String,
    pub method: String,
    pub scheme: String,
    pub remote_addr: String,
    pub ua: String,
    pub exitstatus: Option<i64>,
    pub duration: Option<String>,
    pub body: Option<String>,
    pub body_cut: bool,
}

pub struct FlipLine {
    pub when: String,
    pub from: String,
    pub to: String,
    pub reason: String,
}

pub struct SentLine {
    pub when: String,
    pub channel: String,
    pub kind: String,
    pub about: String,
    pub state: String,
    pub error: String,
}

pub struct ChannelChoice {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub on: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "check.html")]
struct CheckPage {
    shell: Shell,
    check: Item,
    id: String,
    desc: String,
    ping_url: String,
    slug_url: Option<String>,
    n_pings: i64,
    last_duration: Option<String>,
    log: Vec<LogLine>,
    older: Option<i64>,
    flips: Vec<FlipLine>,
    sent: Vec<SentLine>,
    chart: String,
    form: CheckForm,
    channels: Vec<ChannelChoice>,
    paused: bool,
    error: Option<String>,
    auto_declare: i64,
    live_incidents: usize,
}

#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    before: Option<i64>,
}

/// Log lines per page of the check page.
const LOG_PAGE: i64 = 50;

#[allow(clippy::too_many_arguments)]
async fn render_check(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    headers: &axum::http::HeaderMap,
    c: &CheckRow,
    before: Option<i64>,
    form: CheckForm,
    error: Option<String>,
) -> Result<CheckPage, PageError> {
    let now = now_ms();
    let log_rows = store::pings(&state.db, &c.id, before, LOG_PAGE + 1, true).await?;
    let older = (log_rows.len() as i64 > LOG_PAGE)
        .then(|| log_rows.get(LOG_PAGE as usize - 1).map(|p| p.n))
        .flatten();
    let recent = store::pings(&state.db, &c.id, None, 100, false).await?;
    let mut dots: Vec<Dot> = recent.iter().map(dot).collect();
    dots.reverse();
    let limit = state.config.monitoring.ping_body_limit as i64;
    let log = log_rows
        .iter()
        .take(LOG_PAGE as usize)
        .map(|p| LogLine {
            n: p.n,
            kind: p.kind.clone(),
            when: when(p.created),
            ago: view::relative(now, p.created),
            method: p.method.clone(),
            scheme: p.scheme.clone(),
            remote_addr: p.remote_addr.clone(),
            ua: p.ua.clone(),
            exitstatus: p.exitstatus,
            duration: p.duration_ms.map(view::took),
            body: p
                .body
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            body_cut: p.body_size > limit,
        })
        .collect();
    let flips = store::flips(&state.db, &c.id, 0, i64::MAX, 50)
        .await?
        .into_iter()
        .rev()
        .map(|f| FlipLine {
            when: when(f.created),
            from: f.old_status,
            to: f.new_status,
            reason: f.reason,
        })
        .collect();
    let sent = channels::sent_for_check(&state.db, &c.id, 50)
        .await?
        .into_iter()
        .map(|s| SentLine {
            when: when(s.created),
            channel: s.channel,
            kind: s.kind,
            about: s.new_status,
            state: s.state,
            error: s.error.unwrap_or_default(),
        })
        .collect();
    let on = store::channel_ids(&state.db, &c.id).await?;
    let all: Vec<Channel> = channels::channels(&state.db).await?;
    let base = base_url(state, headers);
    let ping_key = store::read_ping_key(&state.db).await?;
    let (auto_declare, live_incidents) =
        crate::incidents::settings::watch_of(&state.db, "check", &c.id).await?;
    Ok(CheckPage {
        auto_declare,
        live_incidents,
        shell: Shell::load(state, session, Some(me.user()), &c.name, "checks").await,
        check: item(c, &dots[dots.len().saturating_sub(20)..], now),
        id: c.id.clone(),
        desc: c.descr.clone(),
        ping_url: format!("{base}/ping/{}", c.id),
        slug_url: match (ping_key, c.slug.is_empty()) {
            (Some(k), false) => Some(format!("{base}/ping/{k}/{}", c.slug)),
            _ => None,
        },
        n_pings: c.n_pings,
        last_duration: c.last_duration_ms.map(view::took),
        log,
        older,
        flips,
        sent,
        chart: view::durations_chart(&dots),
        form,
        channels: all
            .into_iter()
            .map(|ch| ChannelChoice {
                on: on.contains(&ch.id),
                id: ch.id,
                name: ch.name,
                kind: ch.kind,
            })
            .collect(),
        paused: c.status == "paused",
        error,
    })
}

async fn find(state: &AppState, id: &str) -> Result<CheckRow, PageError> {
    let id = uuid::Uuid::parse_str(id)
        .map(|u| u.to_string())
        .map_err(|_| PageError(AppError::not_found("This check")))?;
    store::find(&state.db, &id)
        .await?
        .ok_or_else(|| PageError(AppError::not_found("This check")))
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<LogQuery>,
) -> PageResult {
    staff(&me, "Checks are for the team.")?;
    let c = find(&state, &id).await?;
    let form = CheckForm::of(&c);
    let page = render_check(&state, &session, &me, &headers, &c, q.before, form, None).await?;
    Ok(page.into_response())
}

async fn update(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    ApiForm(pairs): ApiForm<Vec<(String, String)>>,
) -> PageResult {
    staff(&me, "Checks are for the team.")?;
    let c = find(&state, &id).await?;
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut chosen = Vec::new();
    for (k, v) in pairs {
        if k == "channel" {
            chosen.push(v);
        } else {
            fields.insert(k, v);
        }
    }
    let form: CheckForm = serde_json::to_value(&fields)
        .and_then(serde_json::from_value)
        .unwrap_or_default();
    let outcome = match form.input(Some(chosen.join(","))) {
        Ok(input) => service::update(&state.db, &me.actor(), &c.id, &input).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(c) => {
            flash(&session, format!("Check \"{}\" saved.", c.name)).await;
            Ok(Redirect::to(&format!("/checks/{}", c.id)).into_response())
        }
        Err(e) if e.status.is_client_error() => {
            let msg = say(&e);
            let page =
                render_check(&state, &session, &me, &headers, &c, None, form, Some(msg)).await?;
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
    staff(me, "Checks are for the team.")?;
    let c = find(state, id).await?;
    let c = service::set_paused(&state.db, &me.actor(), &c.id, paused).await?;
    let what = if paused {
        "paused: no alerts until its next ping"
    } else {
        "resumed: it waits for its next ping"
    };
    flash(session, format!("Check \"{}\" {what}.", c.name)).await;
    Ok(Redirect::to(&format!("/checks/{}", c.id)).into_response())
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
    staff(&me, "Checks are for the team.")?;
    let c = find(&state, &id).await?;
    let c = service::delete(&state.db, &me.actor(), &c.id).await?;
    flash(
        &session,
        format!("Check \"{}\" deleted with its log.", c.name),
    )
    .await;
    Ok(Redirect::to("/checks").into_response())
}
