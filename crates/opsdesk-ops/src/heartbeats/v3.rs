//! The Healthchecks.io Management API (v1, v2 and v3 paths), so existing scripts and client
//! libraries work unchanged: `X-Api-Key` (or `api_key` in a JSON body) with a read-write or a
//! read-only key; checks listed, created (`unique` upsert: 201 new, 200 existing), read,
//! updated, deleted, paused and resumed; pings (with bodies), flips (`{"flips": [...]}`) and
//! channels. Errors are Healthchecks' `{"error": "…"}` with its status codes. These routes
//! follow Healthchecks.io's documentation rather than our OpenAPI spec.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::keys::{self, Scope};
use super::model::Status;
use super::rules;
use super::service::{self, CheckInput};
use super::store::{self, CheckRow, ListFilter};
use crate::alerts::model::iso;
use crate::alerts::store as channels;
use crate::web::base_url;
use opsdesk_core::audit::Actor;
use opsdesk_core::clock::now_ms;
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::identity::RequestCtx;

/// The API's routes under `/api/v1`, `/api/v2` and `/api/v3`.
pub fn routes() -> Router<AppState> {
    use axum::routing::{get, post};
    let mut r = Router::new();
    for v in ["v1", "v2", "v3"] {
        r = r
            .route(&format!("/api/{v}/checks/"), get(list).post(create))
            .route(&format!("/api/{v}/checks"), get(list).post(create))
            .route(
                &format!("/api/{v}/checks/{{code}}"),
                get(read).post(update).delete(delete),
            )
            .route(&format!("/api/{v}/checks/{{code}}/pause"), post(pause))
            .route(&format!("/api/{v}/checks/{{code}}/resume"), post(resume))
            .route(&format!("/api/{v}/checks/{{code}}/pings/"), get(pings))
            .route(
                &format!("/api/{v}/checks/{{code}}/pings/{{n}}/body"),
                get(ping_body),
            )
            .route(&format!("/api/{v}/checks/{{code}}/flips/"), get(flips))
            .route(&format!("/api/{v}/channels/"), get(list_channels));
    }
    r
}

/// An error as Healthchecks.io sends it: `{"error": "…"}`.
#[derive(Debug)]
pub struct HcError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for HcError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({ "error": self.message }))).into_response()
    }
}

impl From<AppError> for HcError {
    fn from(e: AppError) -> HcError {
        from_app(e)
    }
}

impl From<sqlx::Error> for HcError {
    fn from(e: sqlx::Error) -> HcError {
        from_app(e.into())
    }
}

type HcResult = Result<Response, HcError>;

fn hc_error(status: StatusCode, message: &str) -> HcError {
    HcError {
        status,
        message: message.to_string(),
    }
}

/// Our errors in Healthchecks' words: field problems are `json validation error: …` (400).
fn from_app(e: AppError) -> HcError {
    if e.status.is_server_error() {
        e.log();
    }
    if let Some((field, problem)) = e.fields.iter().next() {
        return hc_error(
            StatusCode::BAD_REQUEST,
            &format!("json validation error: {field} {problem}"),
        );
    }
    let message = match e.status {
        StatusCode::NOT_FOUND => "not found".to_string(),
        s if s.is_server_error() => "internal error".to_string(),
        _ => e.message.clone(),
    };
    hc_error(e.status, &message)
}

/// Who calls: the key's scope and the audit actor.
struct Caller {
    scope: Scope,
    actor: Actor,
}

async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    body: Option<&Value>,
    ctx: Option<&RequestCtx>,
    write: bool,
) -> Result<Caller, HcError> {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            body.and_then(|b| b.get("api_key"))
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return Err(hc_error(StatusCode::UNAUTHORIZED, "missing api key"));
    };
    let scope = keys::verify(&state.db, &key).await?;
    match scope {
        Some(Scope::Read) if write => Err(hc_error(StatusCode::UNAUTHORIZED, "wrong api key")),
        Some(scope) => {
            let (ip, rid) = ctx
                .map(|c| (c.client_ip.to_string(), c.request_id.clone()))
                .unwrap_or_default();
            Ok(Caller {
                scope,
                actor: Actor {
                    label: format!("api_key:{}", &key[..key.len().min(6)]),
                    user_id: None,
                    client_ip: ip,
                    request_id: rid,
                },
            })
        }
        None => Err(hc_error(StatusCode::UNAUTHORIZED, "wrong api key")),
    }
}

/// A check as the API shows it. Read-only keys see `unique_key` instead of the UUID and URLs.
pub fn check_json(c: &CheckRow, channel_ids: &[String], base: &str, readonly: bool) -> Value {
    let spec = c.spec();
    let state = c.state();
    let now = now_ms();
    let mut v = json!({
        "name": c.name,
        "slug": c.slug,
        "tags": c.tags,
        "desc": c.descr,
        "grace": c.grace_s,
        "n_pings": c.n_pings,
        "status": rules::shown(&spec, &state, now).as_str(),
        "started": state.last_start().is_some(),
        "last_ping": c.last_ping.map(iso),
        "next_ping": rules::grace_start(&spec, &state, true).map(iso),
        "manual_resume": c.manual_resume,
        "methods": c.methods,
        "subject": "",
        "subject_fail": "",
        "start_kw": c.start_kw,
        "success_kw": c.success_kw,
        "failure_kw": c.failure_kw,
        "filter_subject": false,
        "filter_body": c.filter_body,
        "last_duration": c.last_duration_ms.map(|ms| ms / 1000),
    });
    let o = v.as_object_mut();
    if let Some(o) = o {
        if c.kind == "cron" {
            o.insert("schedule".into(), json!(c.schedule));
            o.insert("tz".into(), json!(c.tz));
        } else {
            o.insert("timeout".into(), json!(c.timeout_s));
        }
        if readonly {
            o.insert("unique_key".into(), json!(c.unique_key));
        } else {
            let api = format!("{base}/api/v3/checks/{}", c.id);
            o.insert("uuid".into(), json!(c.id));
            o.insert("ping_url".into(), json!(format!("{base}/ping/{}", c.id)));
            o.insert("update_url".into(), json!(api));
            o.insert("pause_url".into(), json!(format!("{api}/pause")));
            o.insert("resume_url".into(), json!(format!("{api}/resume")));
            o.insert("channels".into(), json!(channel_ids.join(",")));
        }
    }
    v
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    ctx: Option<axum::Extension<RequestCtx>>,
    RawQuery(q): RawQuery,
) -> HcResult {
    let caller = authorize(&state, &headers, None, ctx.as_deref(), false).await?;
    let mut filter = ListFilter::default();
    for (k, v) in query_pairs(q.as_deref()) {
        match k.as_str() {
            "tag" => filter.tags.push(v),
            "slug" => filter.slug = Some(v),
            _ => {}
        }
    }
    let (rows, links) = tokio::try_join!(
        store::list(&state.db, &filter),
        store::all_channel_links(&state.db)
    )?;
    let base = base_url(&state, &headers);
    let readonly = caller.scope == Scope::Read;
    let checks: Vec<Value> = rows
        .iter()
        .map(|c| {
            check_json(
                c,
                links.get(&c.id).map(Vec::as_slice).unwrap_or(&[]),
                &base,
                readonly,
            )
        })
        .collect();
    Ok(axum::Json(json!({ "checks": checks })).into_response())
}

/// Parses a JSON body (an empty one is `{}`).
fn json_body(body: &Bytes) -> Result<Value, HcError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(hc_error(
            StatusCode::BAD_REQUEST,
            "json validation error: value is not an object",
        )),
        Err(_) => Err(hc_error(
            StatusCode::BAD_REQUEST,
            "could not parse request body",
        )),
    }
}

fn input_of(v: &Value) -> Result<CheckInput, HcError> {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        // Healthchecks' email-filter fields are accepted and have no effect here.
        for k in ["api_key", "subject", "subject_fail", "filter_subject"] {
            o.remove(k);
        }
    }
    serde_json::from_value::<CheckInput>(v).map_err(|e| {
        hc_error(
            StatusCode::BAD_REQUEST,
            &format!("json validation error: {e}"),
        )
    })
}

async fn respond_check(
    state: &AppState,
    headers: &HeaderMap,
    c: &CheckRow,
    status: StatusCode,
) -> HcResult {
    let ids = store::channel_ids(&state.db, &c.id).await?;
    Ok((
        status,
        axum::Json(check_json(c, &ids, &base_url(state, headers), false)),
    )
        .into_response())
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    ctx: Option<axum::Extension<RequestCtx>>,
    body: Bytes,
) -> HcResult {
    let v = json_body(&body)?;
    let caller = authorize(&state, &headers, Some(&v), ctx.as_deref(), true).await?;
    let input = input_of(&v)?;
    let (c, created) = service::create(&state.db, &caller.actor, &input).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    respond_check(&state, &headers, &c, status).await
}

/// The check a path names: its UUID (any key) or its unique key (read-only keys).
async fn find(state: &AppState, code: &str, scope: Scope) -> Result<CheckRow, HcError> {
    let found = match uuid::Uuid::parse_str(code) {
        Ok(u) if code.len() == 36 => store::find(&state.db, &u.to_string()).await?,
        _ if scope == Scope::Read => store::find_by_unique_key(&state.db, code).await?,
        _ => return Err(hc_error(StatusCode::BAD_REQUEST, "invalid uuid format")),
    };
    found.ok_or_else(|| hc_error(StatusCode::NOT_FOUND, "not found"))
}

/// The caller and the check the path names, for a call without a body.
async fn the_check(
    state: &AppState,
    headers: &HeaderMap,
    ctx: Option<&RequestCtx>,
    code: &str,
    write: bool,
) -> Result<(Caller, CheckRow), HcError> {
    let caller = authorize(state, headers, None, ctx, write).await?;
    let c = find(state, code, caller.scope).await?;
    Ok((caller, c))
}

async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    ctx: Option<axum::Extension<RequestCtx>>,
    Path(code): Path<String>,
) -> HcResult {
    let (caller, c) = the_check(&state, &headers, ctx.as_deref(), &code, false).await?;
    if caller.scope == Scope::Read {
        let v = check_json(&c, &[], &base_url(&state, &headers), true);
        return Ok(axum::Json(v).into_response());
    }
    respond_check(&state, &headers, &c, StatusCode::OK).await
}

async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    ctx: Option<axum::Extension<RequestCtx>>,
    Path(code): Path<String>,
    body: Bytes,
) -> HcResult {
    let v = json_body(&body)?;
    let caller = authorize(&state, &headers, Some(&v), ctx.as_deref(), true).await?;
    let input = input_of(&v)?;
    let c = find(&state, &code, caller.scope).await?;
    let c = service::update(&state.db, &caller.actor, &c.id, &input).await?;
    respond_check(&state, &headers, &c, StatusCode::OK).await
}

async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    ctx: Option<axum::Extension<RequestCtx>>,
    Path(code): Path<String>,
) -> HcResult {
    let (caller, c) = the_check(&state, &headers, ctx.as_deref(), &code, true).await?;
    let ids = store::channel_ids(&state.db, &c.id).await?;
    let c = service::delete(&state.db, &caller.actor, &c.id).await?;
    let v = check_json(&c, &ids, &base_url(&state, &headers), false);
    Ok(axum::Json(v).into_response())
}

async fn set_paused(
    state: AppState,
    headers: HeaderMap,
    ctx: Option<axum::Extension<RequestCtx>>,
    code: String,
    paused: bool,
) -> HcResult {
    let (caller, c) = the_check(&state, &headers, ctx.as_deref(), &code, true).await?;
    let c = service::set_paused(&state.db, &caller.actor, &c.id, paused).await?;
    respond_check(&state, &headers, &c, StatusCode::OK).await
}

async fn pause(
    State(state): State<AppState>,
    headers: HeaderMap,
    ctx: Option<axum::Extension<RequestCtx>>,
    Path(code): Path<String>,
) -> HcResult {
    set_paused(state, headers, ctx, code, true).await
}

async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    ctx: Option<axum::Extension<RequestCtx>>,
    Path(code): Path<String>,
) -> HcResult {
    set_paused(state, headers, ctx, code, false).await
}

/// Log lines a check keeps and the API lists.
pub const PINGS_LISTED: i64 = 100;

/// A log line as the API shows it.
pub fn ping_json(p: &store::PingRow, base: &str) -> Value {
    let mut v = json!({
        "type": p.kind,
        "date": iso_micro(p.created),
        "n": p.n,
        "scheme": p.scheme,
        "remote_addr": p.remote_addr,
        "method": p.method,
        "ua": p.ua,
        "rid": p.rid,
        "exitstatus": p.exitstatus,
    });
    if let Some(o) = v.as_object_mut() {
        if let Some(d) = p.duration_ms {
            o.insert("duration".into(), json!(d as f64 / 1000.0));
        }
        if p.body_size > 0 {
            o.insert(
                "body_url".into(),
                json!(format!(
                    "{base}/api/v3/checks/{}/pings/{}/body",
                    p.check_id, p.n
                )),
            );
        }
    }
    v
}

/// `2026-11-23T19:15:33.123000+00:00`: ping times keep their fraction, as Healthchecks.io's.
fn iso_micro(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S.%6f+00:00").to_string())
        .unwrap_or_default()
}

async fn pings(
    State(state): State<AppState>,
    headers: HeaderMap,
    ctx: Option<axum::Extension<RequestCtx>>,
    Path(code): Path<String>,
) -> HcResult {
    let (_, c) = the_check(&state, &headers, ctx.as_deref(), &code, true).await?;
    let rows = store::pings(&state.db, &c.id, None, PINGS_LISTED, false).await?;
    let base = base_url(&state, &headers);
    let list: Vec<Value> = rows.iter().map(|p| ping_json(p, &base)).collect();
    Ok(axum::Json(json!({ "pings": list })).into_response())
}

async fn ping_body(
    State(state): State<AppState>,
    headers: HeaderMap,
    ctx: Option<axum::Extension<RequestCtx>>,
    Path((code, n)): Path<(String, String)>,
) -> HcResult {
    let (_, c) = the_check(&state, &headers, ctx.as_deref(), &code, true).await?;
    let not_found = || hc_error(StatusCode::NOT_FOUND, "not found");
    let n = n.parse::<i64>().map_err(|_| not_found())?;
    let body = store::ping(&state.db, &c.id, n)
        .await?
        .and_then(|p| p.body)
        .ok_or_else(not_found)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response())
}

/// Reads `seconds`, `start` and `end` (Unix seconds) into a window `[from, to)` in ms.
pub fn flip_window(pairs: &[(String, String)], now: i64) -> Result<(i64, i64), String> {
    let mut from = 0;
    let mut to = i64::MAX;
    for (k, v) in pairs {
        let int = || {
            v.parse::<i64>()
                .ok()
                .filter(|n| (0..=4_102_444_800).contains(n))
                .ok_or_else(|| format!("invalid {k} value"))
        };
        match k.as_str() {
            "seconds" => from = from.max(now - int()? * 1000),
            "start" => from = from.max(int()? * 1000),
            "end" => to = to.min(int()? * 1000),
            _ => {}
        }
    }
    Ok((from, to))
}

async fn flips(
    State(state): State<AppState>,
    headers: HeaderMap,
    ctx: Option<axum::Extension<RequestCtx>>,
    Path(code): Path<String>,
    RawQuery(q): RawQuery,
) -> HcResult {
    let (_, c) = the_check(&state, &headers, ctx.as_deref(), &code, false).await?;
    let (from, to) = flip_window(&query_pairs(q.as_deref()), now_ms())
        .map_err(|m| hc_error(StatusCode::BAD_REQUEST, &m))?;
    let rows = store::flips(&state.db, &c.id, from, to, 1_000).await?;
    // As Healthchecks.io: only changes to up or down (not pauses and resumes).
    let list: Vec<Value> = rows
        .iter()
        .filter(|f| matches!(f.new_status.as_str(), "up" | "down"))
        .map(|f| {
            json!({
                "timestamp": iso(f.created),
                "up": i64::from(f.new_status == Status::Up.as_str()),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "flips": list })).into_response())
}

async fn list_channels(
    State(state): State<AppState>,
    headers: HeaderMap,
    ctx: Option<axum::Extension<RequestCtx>>,
) -> HcResult {
    authorize(&state, &headers, None, ctx.as_deref(), true).await?;
    let list = channels::channels(&state.db).await?;
    Ok(axum::Json(json!({ "channels": list })).into_response())
}
