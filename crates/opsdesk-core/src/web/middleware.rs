//! Request middleware: context (client address, request id, log span), metrics, rate limits, the
//! setup gate and authentication. Each is a plain `from_fn` function so the order in `mod.rs`
//! reads top to bottom.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;
use tracing::Instrument as _;

use super::clientip::client_ip;
use super::identity::{AuthMethod, Identity, RequestCtx};
use super::ratelimit::bucket;
use super::state::AppState;
use crate::auth::authlog::Reason;
use crate::auth::{sessions::USER_KEY, tokens};
use crate::clock::now_ms;
use crate::error::AppError;

const REQUEST_ID: &str = "x-request-id";

fn sane_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then(|| s.to_string())
}

/// Resolves the client address and request id, runs the request inside a span that carries the
/// id (so every log line has it), and echoes the id in the response.
pub async fn context(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let ip = client_ip(peer, forwarded, &state.config.trusted_proxies);
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(sane_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    req.extensions_mut().insert(RequestCtx {
        client_ip: ip,
        request_id: request_id.clone(),
    });
    // Ping URLs carry what pings a check (its UUID, or the ping key): they are not logged.
    let path = match req.uri().path() {
        p if p.starts_with("/ping/") => "/ping/…",
        p => p,
    };
    let span = tracing::info_span!("request", request_id = %request_id, method = %req.method(), path = %path);
    let start = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(status = response.status().as_u16(), latency_ms = start.elapsed().as_secs_f64() * 1000.0, client_ip = %ip, "request")
    });
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    response
}

/// Counts requests and times them by matched route (never by raw path, which would let
/// clients create unbounded label sets).
pub async fn track_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("opsdesk_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("opsdesk_http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    response
}

/// Per-IP token buckets; 429 with `Retry-After` when one runs dry.
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let b = bucket(req.method(), req.uri().path());
    if let Some(ctx) = req.extensions().get::<RequestCtx>()
        && let Err(wait) = state.limits.check(b, ctx.client_ip)
    {
        metrics::counter!("opsdesk_rate_limited_total").increment(1);
        return AppError::too_many(wait).into_response();
    }
    next.run(req).await
}

fn open_before_setup(path: &str) -> bool {
    path == "/setup"
        || path == "/api/setup"
        || path == "/api/health"
        || path == "/api/noop"
        || path == "/metrics"
        || path.starts_with("/assets/")
        || path.starts_with("/api/docs")
        || path == "/api/openapi.json"
}

/// Until setup is complete every page leads to `/setup` and the API answers `setup_required`.
pub async fn setup_gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if open_before_setup(path) || state.setup_done().await {
        return next.run(req).await;
    }
    if path.starts_with("/api/") {
        return AppError::unavailable(
            "setup_required",
            "opsdesk is not set up yet: finish the setup wizard at /setup.",
        )
        .into_response();
    }
    Redirect::to("/setup").into_response()
}

/// Resolves the caller from a bearer token or the session cookie. A presented token that does not
/// check out is refused outright (and logged for fail2ban) rather than treated as anonymous.
pub async fn authenticate(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .map(|t| t.trim().to_string())
        });
    if let Some(token) = bearer {
        let digest = tokens::digest(&token);
        let checked = match state.token_cache.get(&digest) {
            Some(hit) => Ok(Some(hit)),
            None => {
                let generation = tokens::auth_generation();
                let fresh = tokens::authenticate(&state.db, &token).await;
                if let Ok(Some(auth)) = &fresh {
                    state
                        .token_cache
                        .put(digest.clone(), auth.clone(), generation);
                }
                fresh
            }
        };
        match checked {
            Ok(Some(auth)) => {
                let now = now_ms();
                if tokens::needs_touch(auth.last_used_at, now) {
                    match tokens::touch(&state.db, &auth.token_id, now).await {
                        Ok(()) => state.token_cache.touched(&digest, now),
                        Err(e) => tracing::warn!(error = %e, "cannot record token use"),
                    }
                }
                req.extensions_mut().insert(Identity {
                    user: auth.user,
                    method: AuthMethod::Token,
                    scope: Some(auth.scope),
                });
            }
            Ok(None) => {
                let ip = req
                    .extensions()
                    .get::<RequestCtx>()
                    .map(|c| c.client_ip.to_string())
                    .unwrap_or_default();
                let who = tokens::prefix_of(&token)
                    .map(|p| format!("token:{p}"))
                    .unwrap_or_else(|| "token".into());
                state
                    .auth_log
                    .failure(&who, &ip, Reason::BadToken, req.uri().path());
                return AppError::unauthorized(
                    "The API token is invalid, revoked or belongs to a disabled account.",
                )
                .into_response();
            }
            Err(e) => return e.into_response(),
        }
    } else if let Ok(Some(user_id)) = session.get::<String>(USER_KEY).await {
        match crate::accounts::store::find_by_id(&state.db, &user_id).await {
            Ok(Some(user)) if !user.disabled => {
                req.extensions_mut().insert(Identity {
                    user,
                    method: AuthMethod::Session,
                    scope: None,
                });
            }
            Ok(_) => {
                let _ = session.flush().await;
            }
            Err(e) => return AppError::from(e).into_response(),
        }
    }
    next.run(req).await
}

/// Marks session cookies `Secure` when the request reached us over TLS at a trusted proxy
/// (`X-Forwarded-Proto: https` from an address in `trusted_proxies`), even if the cookie layer
/// itself was not configured for it.
pub async fn secure_cookies_behind_tls(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let via_tls = peer.is_some_and(|p| state.config.trusted_proxies.contains(&p))
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let mut res = next.run(req).await;
    if via_tls {
        let cookies: Vec<HeaderValue> = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .cloned()
            .collect();
        if !cookies.is_empty() {
            res.headers_mut().remove(header::SET_COOKIE);
            for c in cookies {
                let text = c.to_str().unwrap_or_default();
                let upgraded = if text.to_ascii_lowercase().contains("; secure") {
                    text.to_string()
                } else {
                    format!("{text}; Secure")
                };
                if let Ok(v) = HeaderValue::from_str(&upgraded) {
                    res.headers_mut().append(header::SET_COOKIE, v);
                }
            }
        }
    }
    res
}

/// Security headers on every response.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_docs = req.uri().path().starts_with("/api/docs");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    // Swagger UI injects its own styles; everything else is served from our own files only.
    let csp = if is_docs {
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    } else {
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    };
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// Whether a request came from a browser page rather than an API client (for choosing between an
/// HTML and a JSON error).
pub fn wants_html(method: &Method, path: &str, accept: Option<&HeaderValue>) -> bool {
    let _ = method;
    !path.starts_with("/api/")
        && accept
            .and_then(|a| a.to_str().ok())
            .is_none_or(|a| a.contains("text/html") || a.contains("*/*"))
}
