//! The ping endpoints, answered as Healthchecks.io answers them: `/ping/<uuid>` with `/start`,
//! `/fail`, `/log` or `/<exit status>`, and `/ping/<ping-key>/<slug>[/…]` (`?create=1` makes a
//! missing check, answering 201 `Created`); HEAD, GET and POST all count; `?rid=<uuid>` pairs a
//! start with its end; the body is kept up to the limit announced in `Ping-Body-Limit` (a longer
//! one is cut, never refused). Bodies: `OK`, `Created`, `not found`, `invalid url format`,
//! `invalid uuid format`, `ambiguous slug`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use futures::StreamExt as _;

use super::model::{self, Action};
use super::writer::{Incoming, Outcome, PingWriter, Target};
use opsdesk_core::clock::now_ms;
use opsdesk_core::web::AppState;
use opsdesk_core::web::identity::RequestCtx;

/// Bodies are read (and counted) up to this much past the kept part, then the rest is left.
const READ_AT_MOST: usize = 10 * 1024 * 1024;

/// What the ping handlers share.
#[derive(Clone, Debug)]
pub struct PingContext {
    pub writer: PingWriter,
    /// Bytes of a body kept.
    pub body_limit: usize,
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
}

/// The ping routes; they bypass sessions, CSRF and per-IP rate limits (cron jobs on one host
/// ping many checks), so they are mounted beside the main stack.
pub fn routes(ctx: PingContext) -> Router<AppState> {
    use axum::routing::any;
    Router::new()
        .route("/ping/{*rest}", any(ping))
        .layer(Extension(ctx))
}

/// What a ping URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    Ping {
        target: Target2,
        action: Action,
        exitstatus: Option<i64>,
    },
    NotFound,
    BadFormat,
}

/// The check part of a parsed URL (without the `create` flag, which is in the query).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target2 {
    Code(String),
    Slug { key: String, slug: String },
}

fn as_uuid(s: &str) -> Option<String> {
    // Healthchecks.io's URLs take the hyphenated form only.
    if s.len() != 36 {
        return None;
    }
    uuid::Uuid::parse_str(s).ok().map(|u| u.to_string())
}

/// Reads the last segment: an action or an exit status.
fn suffix(s: &str) -> Option<Result<(Action, Option<i64>), ()>> {
    match s {
        "start" => Some(Ok((Action::Start, None))),
        "fail" => Some(Ok((Action::Fail, None))),
        "log" => Some(Ok((Action::Log, None))),
        _ if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) => {
            match s.parse::<i64>() {
                Ok(code @ 0..=255) => Some(Ok((
                    if code == 0 {
                        Action::Success
                    } else {
                        Action::Fail
                    },
                    Some(code),
                ))),
                _ => Some(Err(())),
            }
        }
        _ => None,
    }
}

fn slug_ok(s: &str) -> bool {
    !s.is_empty() && model::check_slug(s).is_ok()
}

/// Parses the path segments after `/ping/`.
pub fn parse(segments: &[&str]) -> Parsed {
    let ping = |target, (action, exitstatus): (Action, Option<i64>)| Parsed::Ping {
        target,
        action,
        exitstatus,
    };
    match segments {
        [a] => match as_uuid(a) {
            Some(code) => ping(Target2::Code(code), (Action::Success, None)),
            None => Parsed::NotFound,
        },
        [a, b] => match (as_uuid(a), suffix(b)) {
            (Some(code), Some(Ok(s))) => ping(Target2::Code(code), s),
            (Some(_), Some(Err(()))) => Parsed::BadFormat,
            (Some(_), None) => Parsed::NotFound,
            (None, _) if slug_ok(b) => ping(
                Target2::Slug {
                    key: a.to_string(),
                    slug: b.to_string(),
                },
                (Action::Success, None),
            ),
            (None, _) => Parsed::NotFound,
        },
        [a, b, c] if as_uuid(a).is_none() && slug_ok(b) => match suffix(c) {
            Some(Ok(s)) => ping(
                Target2::Slug {
                    key: a.to_string(),
                    slug: b.to_string(),
                },
                s,
            ),
            Some(Err(())) => Parsed::BadFormat,
            None => Parsed::NotFound,
        },
        _ => Parsed::NotFound,
    }
}

/// The query parameters a ping reads.
#[derive(Debug, Default)]
pub struct PingQuery {
    rid: Option<String>,
    create: Option<String>,
}

impl PingQuery {
    fn parse(raw: Option<&str>) -> PingQuery {
        let mut q = PingQuery::default();
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "rid" => q.rid = Some(v.into_owned()),
                "create" => q.create = Some(v.into_owned()),
                _ => {}
            }
        }
        q
    }
}

async fn ping(
    Extension(ctx): Extension<PingContext>,
    Path(rest): Path<String>,
    RawQuery(q): RawQuery,
    req: Request,
) -> Response {
    let segments: Vec<&str> = rest.split('/').collect();
    handle(&ctx, &segments, PingQuery::parse(q.as_deref()), req).await
}

fn answer(ctx: &PingContext, status: StatusCode, text: &'static str) -> Response {
    let mut r = (status, text).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if let Ok(v) = HeaderValue::from_str(&ctx.body_limit.to_string()) {
        h.insert("ping-body-limit", v);
    }
    r
}

async fn handle(ctx: &PingContext, segments: &[&str], q: PingQuery, req: Request) -> Response {
    let (target, action, exitstatus) = match parse(segments) {
        Parsed::Ping {
            target,
            action,
            exitstatus,
        } => (target, action, exitstatus),
        Parsed::NotFound => return answer(ctx, StatusCode::NOT_FOUND, "not found"),
        Parsed::BadFormat => return answer(ctx, StatusCode::BAD_REQUEST, "invalid url format"),
    };
    let rid = match q.rid.as_deref() {
        None | Some("") => None,
        Some(r) => match as_uuid(r) {
            Some(u) => Some(u),
            None => return answer(ctx, StatusCode::BAD_REQUEST, "invalid uuid format"),
        },
    };
    let target = match target {
        Target2::Code(c) => Target::Code(c),
        Target2::Slug { key, slug } => Target::Slug {
            key,
            slug,
            create: q.create.as_deref() == Some("1"),
        },
    };
    let received = now_ms();
    let (parts, body) = req.into_parts();
    let remote_addr = parts
        .extensions
        .get::<RequestCtx>()
        .map(|c| c.client_ip.to_string())
        .unwrap_or_default();
    let scheme = scheme(&parts.headers, &parts.extensions, &ctx.trusted_proxies);
    let ua = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    let (body, body_size) = read_body(body, ctx.body_limit).await;
    let ping = Incoming {
        target,
        action,
        exitstatus,
        method: parts.method.as_str().chars().take(10).collect(),
        scheme,
        remote_addr,
        ua,
        rid,
        body,
        body_size,
        received,
    };
    match ctx.writer.record(ping).await {
        Ok(Outcome::Recorded) => answer(ctx, StatusCode::OK, "OK"),
        Ok(Outcome::Created) => answer(ctx, StatusCode::CREATED, "Created"),
        Ok(Outcome::NotFound) => answer(ctx, StatusCode::NOT_FOUND, "not found"),
        Ok(Outcome::Ambiguous) => answer(ctx, StatusCode::CONFLICT, "ambiguous slug"),
        Err(e) => e.into_response(),
    }
}

/// `https` when a trusted proxy says so; else `http`.
fn scheme(
    headers: &HeaderMap,
    ext: &axum::http::Extensions,
    trusted: &[std::net::IpAddr],
) -> String {
    let peer = ext
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok());
    match (peer, proto) {
        (Some(p), Some("https")) if trusted.contains(&p) => "https".into(),
        _ => "http".into(),
    }
}

/// Keeps the first `limit` bytes and counts the rest, up to [`READ_AT_MOST`].
async fn read_body(body: Body, limit: usize) -> (Vec<u8>, i64) {
    let mut kept = Vec::new();
    let mut size: usize = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { break };
        if kept.len() < limit {
            let take = (limit - kept.len()).min(chunk.len());
            kept.extend_from_slice(&chunk[..take]);
        }
        size += chunk.len();
        if size > limit + READ_AT_MOST {
            break;
        }
    }
    (kept, i64::try_from(size).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: &str = "5b0b1f6e-9e1a-4c55-8d0a-3e4f1f0c2a11";

    #[test]
    fn urls_parse_as_healthchecks_reads_them() {
        let code = || Target2::Code(U.to_string());
        assert_eq!(
            parse(&[U]),
            Parsed::Ping {
                target: code(),
                action: Action::Success,
                exitstatus: None
            }
        );
        assert!(matches!(
            parse(&[U, "start"]),
            Parsed::Ping {
                action: Action::Start,
                ..
            }
        ));
        assert!(matches!(
            parse(&[U, "log"]),
            Parsed::Ping {
                action: Action::Log,
                ..
            }
        ));
        assert!(matches!(
            parse(&[U, "0"]),
            Parsed::Ping {
                action: Action::Success,
                exitstatus: Some(0),
                ..
            }
        ));
        assert!(matches!(
            parse(&[U, "255"]),
            Parsed::Ping {
                action: Action::Fail,
                exitstatus: Some(255),
                ..
            }
        ));
        assert_eq!(parse(&[U, "256"]), Parsed::BadFormat);
        assert_eq!(parse(&[U, "99999999999999999999"]), Parsed::BadFormat);
        assert_eq!(parse(&[U, "-1"]), Parsed::NotFound);
        assert_eq!(parse(&[U, "nope"]), Parsed::NotFound);
        assert_eq!(parse(&["not-a-uuid"]), Parsed::NotFound);
        assert_eq!(
            parse(&["5b0b1f6e9e1a4c558d0a3e4f1f0c2a11"]),
            Parsed::NotFound
        );
        assert!(matches!(
            parse(&["key", "db-backup"]),
            Parsed::Ping {
                target: Target2::Slug { .. },
                action: Action::Success,
                ..
            }
        ));
        assert!(matches!(
            parse(&["key", "db-backup", "fail"]),
            Parsed::Ping {
                target: Target2::Slug { .. },
                action: Action::Fail,
                ..
            }
        ));
        assert_eq!(parse(&["key", "db-backup", "300"]), Parsed::BadFormat);
        assert_eq!(parse(&["key", "Bad Slug"]), Parsed::NotFound);
        assert_eq!(parse(&["a", "b", "c", "d"]), Parsed::NotFound);
    }
}
