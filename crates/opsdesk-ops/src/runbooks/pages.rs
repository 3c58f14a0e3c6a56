//! Ops action pages (staff): the actions with their request forms (prefilled with a ticket or
//! incident), a run's page — what runs, approve, run once approved, undo, output — and its
//! live output as server-sent events, read from the database so any instance can serve it.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tower_sessions::Session;

use super::api::{action_views, ctx};
use super::model::{ActionView, Approval, RunRequest, RunView, UndoRequest};
use super::{approvals, service, store, undo, view};
use crate::web::{say, staff};
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::{ApiForm, ApiQuery};
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{Banner, PageError, PageResult, Shell, flash, set_banner};

const WHY: &str = "Ops actions are run by the team.";

pub fn routes() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route("/ops", get(list))
        .route("/ops/runs", post(request))
        .route("/ops/runs/{id}", get(show))
        .route("/ops/runs/{id}/stream", get(stream))
        .route("/ops/runs/{id}/approve", post(approve))
        .route("/ops/runs/{id}/run", post(run_approved))
        .route("/ops/runs/{id}/undo", post(undo))
        .merge(super::portal::routes())
}

#[derive(Template, WebTemplate)]
#[template(path = "ops.html")]
struct OpsPage {
    shell: Shell,
    actions: Vec<ActionView>,
    runs: Vec<RunView>,
    ticket: String,
    incident: String,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct OpsQuery {
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    incident: String,
}

async fn render_list(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    q: &OpsQuery,
    error: Option<String>,
) -> Result<OpsPage, PageError> {
    let catalog = service::catalog(&state.config)?;
    let mut runs = Vec::new();
    let f = store::Filter {
        limit: 30,
        ..Default::default()
    };
    for r in store::list(&state.db, &f).await? {
        if view::may_see(&catalog, me.user(), &r) {
            runs.push(view::run(&state.db, &catalog, me.user(), &r).await?);
        }
    }
    Ok(OpsPage {
        shell: Shell::load(state, session, Some(me.user()), "Ops actions", "ops").await,
        actions: action_views(state, me.user()).await?,
        runs,
        ticket: q.ticket.clone(),
        incident: q.incident.clone(),
        error,
    })
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiQuery(q): ApiQuery<OpsQuery>,
) -> PageResult {
    staff(&me, WHY)?;
    Ok(render_list(&state, &session, &me, &q, None)
        .await?
        .into_response())
}

/// `param:<name>` fields as JSON values.
fn params_of(pairs: &[(String, String)]) -> BTreeMap<String, serde_json::Value> {
    pairs
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("param:")
                .map(|n| (n.to_string(), serde_json::Value::String(v.clone())))
        })
        .collect()
}

fn get(pairs: &[(String, String)], key: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn some(v: String) -> Option<String> {
    (!v.trim().is_empty()).then_some(v)
}

async fn request(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(pairs): ApiForm<Vec<(String, String)>>,
) -> PageResult {
    staff(&me, WHY)?;
    let req = RunRequest {
        action: get(&pairs, "action"),
        params: params_of(&pairs),
        ticket: some(get(&pairs, "ticket")),
        incident: some(get(&pairs, "incident")),
        justification: get(&pairs, "justification"),
        confirm: some(get(&pairs, "confirm")),
        override_reason: some(get(&pairs, "override_reason")),
        approval: None,
    };
    match service::request(ctx(&state), &me.actor(), me.user(), &req).await {
        Ok(run) => {
            let note = if run.state == "awaiting_approval" {
                "Requested: a second person must approve it before it runs."
            } else {
                "Started."
            };
            flash(&session, note).await;
            Ok(Redirect::to(&format!("/ops/runs/{}", run.id)).into_response())
        }
        Err(e) if e.status.is_client_error() => {
            let q = OpsQuery {
                ticket: req.ticket.unwrap_or_default(),
                incident: req.incident.unwrap_or_default(),
            };
            let page = render_list(&state, &session, &me, &q, Some(say(&e))).await?;
            Ok((e.status, page).into_response())
        }
        Err(e) => Err(PageError(e)),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "ops_run.html")]
struct RunPage {
    shell: Shell,
    r: RunView,
    params: Vec<(String, String)>,
    mine: bool,
    live: bool,
    shown_output: String,
    /// The last live chunk shown: the stream goes on from there.
    seq: i64,
    frozen: Option<String>,
    approval_minutes: u32,
    error: Option<String>,
}

async fn render_run(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    id: &str,
    error: Option<String>,
) -> Result<RunPage, PageError> {
    let row = store::find(&state.db, id)
        .await?
        .ok_or_else(|| PageError(AppError::not_found("This run")))?;
    let catalog = service::catalog(&state.config)?;
    if !view::may_see(&catalog, me.user(), &row) {
        return Err(PageError(AppError::not_found("This run")));
    }
    let r = view::run(&state.db, &catalog, me.user(), &row).await?;
    let params: Vec<(String, String)> = r
        .params
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let live = row.state == "running";
    // While it runs, the page starts from the output streamed so far.
    let (shown_output, seq) = if live {
        let mut s = String::new();
        let mut seq = 0;
        loop {
            let page = store::chunks(&state.db, &row.id, seq).await?;
            let Some(last) = page.last() else { break };
            seq = last.0;
            for (_, d) in &page {
                s.push_str(d);
            }
        }
        (s, seq)
    } else {
        (r.output.clone(), 0)
    };
    let frozen = crate::incidents::freeze::current(
        &state.db,
        i64::from(state.config.incidents.freeze_severity),
        &row.kind,
        opsdesk_core::clock::now_ms(),
    )
    .await?
    .map(|(f, _)| f.message());
    Ok(RunPage {
        shell: Shell::load(
            state,
            session,
            Some(me.user()),
            &format!("Run of {}", r.action),
            "ops",
        )
        .await,
        mine: row.requested_by == me.user().id,
        params,
        live: live && row.kind != "impersonation",
        shown_output,
        seq,
        frozen,
        approval_minutes: state.config.ops.approval_minutes,
        error,
        r,
    })
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    staff(&me, WHY)?;
    Ok(render_run(&state, &session, &me, &id, None)
        .await?
        .into_response())
}

/// Back to a run with a note, or the run's page again with the problem.
async fn outcome(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    shown: &str,
    done: Result<(String, String), AppError>,
) -> PageResult {
    match done {
        Ok((id, note)) => {
            flash(session, note).await;
            Ok(Redirect::to(&format!("/ops/runs/{id}")).into_response())
        }
        Err(e) if e.status.is_client_error() && e.status != axum::http::StatusCode::NOT_FOUND => {
            let page = render_run(state, session, me, shown, Some(say(&e))).await?;
            Ok((e.status, page).into_response())
        }
        Err(e) => Err(PageError(e)),
    }
}

async fn approve(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
    ApiForm(pairs): ApiForm<Vec<(String, String)>>,
) -> PageResult {
    staff(&me, WHY)?;
    let a = Approval {
        params: Some(params_of(&pairs)),
    };
    let done = approvals::approve(ctx(&state), &me.actor(), me.user(), &id, &a)
        .await
        .map(|r| (r.id, "Approved: the requester can run it now.".to_string()));
    outcome(&state, &session, &me, &id, done).await
}

async fn run_approved(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
    ApiForm(pairs): ApiForm<Vec<(String, String)>>,
) -> PageResult {
    staff(&me, WHY)?;
    let req = RunRequest {
        params: params_of(&pairs),
        override_reason: some(get(&pairs, "override_reason")),
        approval: Some(id.clone()),
        ..Default::default()
    };
    let done = service::request(ctx(&state), &me.actor(), me.user(), &req).await;
    if let Ok(run) = &done
        && run.kind == "impersonation"
    {
        let until = run.ends_at.unwrap_or_default();
        set_banner(
            &session,
            Banner {
                text: format!(
                    "You are viewing the portal as another person ({}), read-only, until {}.",
                    serde_json::from_str::<Vec<String>>(&run.argv)
                        .ok()
                        .and_then(|a| a.get(1).cloned())
                        .unwrap_or_default(),
                    opsdesk_core::web::pages::when(until)
                ),
                href: format!("/ops/runs/{}", run.id),
                until,
            },
        )
        .await;
        return Ok(Redirect::to(&format!("/ops/runs/{}/portal", run.id)).into_response());
    }
    let done = done.map(|r| (r.id, "Started.".to_string()));
    outcome(&state, &session, &me, &id, done).await
}

async fn undo(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
    ApiForm(u): ApiForm<UndoRequest>,
) -> PageResult {
    staff(&me, WHY)?;
    let done = undo::undo(ctx(&state), &me.actor(), me.user(), &id, &u)
        .await
        .map(|r| {
            let note = if r.state == "awaiting_approval" {
                "Undo requested: a second person must approve it before it runs."
            } else {
                "Undo started."
            };
            (r.id, note.to_string())
        });
    outcome(&state, &session, &me, &id, done).await
}

struct Tail {
    db: opsdesk_core::db::Db,
    id: String,
    seq: i64,
    first: bool,
    over: bool,
    /// When the stream gives up (the run's timeout and a margin).
    until: std::time::Instant,
}

#[derive(Debug, Default, Deserialize)]
pub struct StreamQuery {
    /// Output after this chunk (what the page already shows).
    #[serde(default)]
    after: i64,
}

/// The run's output as it comes (`output` events, each a JSON string), then one `end` event
/// with the final state.
async fn stream(
    State(state): State<AppState>,
    me: PageUser,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> Result<impl IntoResponse, PageError> {
    staff(&me, WHY)?;
    let run = store::find(&state.db, &id)
        .await?
        .ok_or_else(|| PageError(AppError::not_found("This run")))?;
    if !view::may_see(&service::catalog(&state.config)?, me.user(), &run) {
        return Err(PageError(AppError::not_found("This run")));
    }
    // A reconnecting browser says where it was (Last-Event-ID); the page says what it shows.
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(q.after)
        .max(0);
    let timeout = service::catalog(&state.config)?
        .find(&run.action)
        .map(|a| a.timeout)
        .unwrap_or(Duration::from_secs(3_600));
    let tail = Tail {
        db: state.db.clone(),
        id,
        seq: after,
        first: true,
        over: false,
        // An impersonation has no output: its stream ends at once (with its state).
        until: if run.kind == "impersonation" {
            std::time::Instant::now()
        } else {
            std::time::Instant::now() + timeout + Duration::from_secs(60)
        },
    };
    let events = futures::stream::unfold(tail, |mut t| async move {
        if t.over {
            return None;
        }
        loop {
            if !t.first {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            t.first = false;
            let chunks = match store::chunks(&t.db, &t.id, t.seq).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(run = %t.id, error = %e, "live output not read");
                    Vec::new()
                }
            };
            if let Some(last) = chunks.last() {
                t.seq = last.0;
                let text: String = chunks.into_iter().map(|c| c.1).collect();
                let data = serde_json::to_string(&text).unwrap_or_default();
                let event = Event::default()
                    .event("output")
                    .id(t.seq.to_string())
                    .data(data);
                return Some((Ok::<_, Infallible>(event), t));
            }
            let state = match store::state_of(&t.db, &t.id).await {
                Ok(Some(s)) => s,
                Ok(None) => "gone".into(),
                Err(e) => {
                    tracing::warn!(run = %t.id, error = %e, "run state not read");
                    "running".into()
                }
            };
            if state != "running" || std::time::Instant::now() > t.until {
                t.over = true;
                let data = serde_json::to_string(&state).unwrap_or_default();
                return Some((Ok(Event::default().event("end").data(data)), t));
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
