//! Body extractors whose rejections are our own errors: malformed JSON, unknown fields, the wrong
//! content type and oversized bodies get `{"error":{…}}` with a stable code instead of plain text.

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// `axum::Json` with our error body.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let req = check_body(req).await?;
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(json_rejection(e)),
        }
    }
}

/// Buffers the body (within the configured limit) and refuses NUL characters before parsing.
/// An oversized body is read to its end (up to [`DRAIN_CAP`]) before we answer 413: a client
/// still sending when the connection closes would see a broken pipe instead of our error.
async fn check_body(req: Request) -> Result<Request, AppError> {
    use futures::StreamExt as _;
    let (parts, body) = req.into_parts();
    let limit = parts
        .extensions
        .get::<BodyLimit>()
        .map(|l| l.0)
        .unwrap_or(2 * 1024 * 1024);
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return Err(AppError::bad_request(
                "invalid_body",
                "The request body could not be read.",
            ));
        };
        seen = seen.saturating_add(chunk.len());
        if seen > DRAIN_CAP {
            break;
        }
        if seen <= limit {
            buf.extend_from_slice(&chunk);
        }
    }
    if seen > limit {
        return Err(payload_too_large());
    }
    if body_has_nul(&buf) {
        return Err(AppError::bad_request(
            "invalid_text",
            "Text may not contain NUL characters.",
        ));
    }
    Ok(Request::from_parts(parts, axum::body::Body::from(buf)))
}

/// How much of an oversized body is read and thrown away before answering.
pub const DRAIN_CAP: usize = 64 * 1024 * 1024;

/// The configured body limit, put in request extensions by the router.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

fn too_large(status: StatusCode) -> bool {
    status == StatusCode::PAYLOAD_TOO_LARGE
}

pub fn json_rejection(e: JsonRejection) -> AppError {
    match e {
        JsonRejection::MissingJsonContentType(_) => AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as JSON with `Content-Type: application/json`.",
        ),
        JsonRejection::JsonSyntaxError(e) => AppError::bad_request(
            "invalid_json",
            format!("The body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_fields",
            format!(
                "The JSON does not have the expected fields: {}",
                e.body_text()
            ),
        ),
        JsonRejection::BytesRejection(e) if too_large(e.status()) => payload_too_large(),
        other => AppError::bad_request("invalid_body", other.body_text()),
    }
}

pub fn payload_too_large() -> AppError {
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "The request body is too large.",
    )
}

/// `axum::Form` with our error; pages show it as a readable error page.
pub struct ApiForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiForm<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let req = check_body(req).await?;
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(ApiForm(v)),
            Err(FormRejection::InvalidFormContentType(_)) => Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the form as application/x-www-form-urlencoded.",
            )),
            Err(FormRejection::BytesRejection(e)) if too_large(e.status()) => {
                Err(payload_too_large())
            }
            Err(e) => Err(AppError::bad_request("invalid_form", e.body_text())),
        }
    }
}

/// `axum::extract::Query` with our error body.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(AppError::bad_request("invalid_query", e.body_text())),
        }
    }
}

/// Refuses NUL characters anywhere in the URL: no text field of ours can hold one, and
/// PostgreSQL would refuse to store it.
pub async fn reject_nul(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let uri = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or_default()
        .as_bytes();
    if uri.contains(&0) || uri.windows(3).any(|w| w.eq_ignore_ascii_case(b"%00")) {
        return AppError::bad_request("invalid_text", "Text may not contain NUL characters.")
            .into_response();
    }
    next.run(req).await
}

/// Whether a JSON or form body carries a NUL character (raw, `\u0000` or `%00`).
pub fn body_has_nul(bytes: &[u8]) -> bool {
    bytes.contains(&0)
        || bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000"))
        || bytes.windows(3).any(|w| w.eq_ignore_ascii_case(b"%00"))
}
