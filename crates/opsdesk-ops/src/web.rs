//! What the monitoring pages and APIs share: where this server is reached, the staff check,
//! and a refused form's problem in one line.

use axum::http::HeaderMap;

use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::PageError;

/// Where people and clients reach this server: the configured public URL, else the request's
/// host (for ping URLs, API links and the status page's own address).
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = state.config.public_url.as_deref() {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost:8080");
    format!("http://{host}")
}

/// Pages for the team only; `why` says what the page is.
pub fn staff(me: &PageUser, why: &str) -> Result<(), PageError> {
    if me.user().role.is_staff() {
        Ok(())
    } else {
        Err(PageError(AppError::forbidden(why)))
    }
}

/// A refused form's first problem: `field: problem`, or the message.
pub fn say(e: &AppError) -> String {
    match e.fields.iter().next() {
        Some((f, p)) => format!("{f}: {p}"),
        None => e.message.clone(),
    }
}
