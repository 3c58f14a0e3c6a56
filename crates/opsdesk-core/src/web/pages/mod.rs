//! Server-rendered pages: the shared shell (brand, navigation, flash message) and the error page.
//! Each page is one askama template struct; forms post, then redirect (303) with a flash message.

pub mod account;
pub mod admin;
pub mod auth;
pub mod home;

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use super::state::AppState;
use crate::accounts::User;
use crate::error::AppError;

const FLASH_KEY: &str = "flash";
/// The day (days since 1970) a signed-in session was last seen by a page.
const SEEN_DAY_KEY: &str = "seen_day";

/// The signed-in user as the layout shows them.
#[derive(Clone, Debug)]
pub struct ShellUser {
    pub name: String,
    pub role: &'static str,
}

/// What the layout needs on every page.
#[derive(Clone, Debug)]
pub struct Shell {
    pub brand: String,
    pub title: String,
    pub active: &'static str,
    pub user: Option<ShellUser>,
    pub nav: Vec<super::nav::ShownNav>,
    pub flash: Option<String>,
    /// A notice shown on every page until it ends (an active impersonation).
    pub banner: Option<Banner>,
    pub version: &'static str,
}

/// A notice kept in the session and shown on every page until `until` (Unix ms).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Banner {
    pub text: String,
    /// Where it leads (e.g. the page that ends it).
    pub href: String,
    pub until: i64,
}

const BANNER_KEY: &str = "banner";

/// Shows `banner` on every page of this session until it ends or is cleared.
pub async fn set_banner(session: &Session, banner: Banner) {
    if let Err(e) = session.insert(BANNER_KEY, banner).await {
        tracing::warn!(error = %e, "cannot store the banner");
    }
}

/// Stops showing the banner.
pub async fn clear_banner(session: &Session) {
    let _ = take::<Banner>(session, BANNER_KEY).await;
}

/// The banner while it lasts.
async fn banner(session: &Session) -> Option<Banner> {
    let b = session.get::<Banner>(BANNER_KEY).await.ok().flatten()?;
    if b.until > crate::clock::now_ms() {
        Some(b)
    } else {
        clear_banner(session).await;
        None
    }
}

impl Shell {
    /// Builds the shell, taking (and clearing) the pending flash message.
    pub async fn load(
        state: &AppState,
        session: &Session,
        user: Option<&User>,
        title: &str,
        active: &'static str,
    ) -> Shell {
        let brand = crate::setup::instance(&state.db)
            .await
            .map(|i| i.brand_name)
            .unwrap_or_else(|_| "opsdesk".into());
        let flash = take_flash(session).await;
        let banner = banner(session).await;
        if user.is_some() {
            keep_alive(session).await;
        }
        Shell {
            brand,
            title: title.to_string(),
            active,
            user: user.map(|u| ShellUser {
                name: u.name.clone(),
                role: u.role.as_str(),
            }),
            nav: user
                .map(|u| super::nav::visible(&state.nav, u.role, active))
                .unwrap_or_default(),
            flash,
            banner,
            version: env!("CARGO_PKG_VERSION"),
        }
    }

    /// A shell that needs no database (for error pages).
    pub fn bare(title: &str) -> Shell {
        Shell {
            brand: "opsdesk".into(),
            title: title.to_string(),
            active: "",
            user: None,
            nav: Vec::new(),
            flash: None,
            banner: None,
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// The pending flash message, if any.
async fn take_flash(session: &Session) -> Option<String> {
    take(session, FLASH_KEY).await
}

/// Takes a one-time value out of the session. Only a session that holds it is changed: removing
/// a key marks the session for saving even when the key is absent, and a page view should not
/// cost a database write.
pub async fn take<T: serde::de::DeserializeOwned>(session: &Session, key: &str) -> Option<T> {
    match session.get::<T>(key).await {
        Ok(Some(_)) => session.remove::<T>(key).await.ok().flatten(),
        _ => None,
    }
}

/// Sessions expire after their inactivity period; the expiry (and the cookie's) moves forward
/// when the session is saved. Saving it on the first page of each day keeps an active session
/// alive with one write a day instead of one per page.
async fn keep_alive(session: &Session) {
    let today = crate::clock::now_ms().div_euclid(86_400_000);
    if session.get::<i64>(SEEN_DAY_KEY).await.ok().flatten() != Some(today)
        && let Err(e) = session.insert(SEEN_DAY_KEY, today).await
    {
        tracing::warn!(error = %e, "cannot refresh the session");
    }
}

/// Leaves a message for the next page.
pub async fn flash(session: &Session, message: impl Into<String>) {
    if let Err(e) = session.insert(FLASH_KEY, message.into()).await {
        tracing::warn!(error = %e, "cannot store flash message");
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    shell: Shell,
    heading: String,
    message: String,
    fields: BTreeMap<String, String>,
    request_id: String,
}

/// An error shown as a readable page instead of JSON.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        PageError(e)
    }
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        PageError(AppError::from(e))
    }
}

pub fn heading_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 422 => "That did not work",
        401 => "Please sign in",
        403 => "Not allowed",
        404 => "Not found",
        405 => "Not allowed here",
        409 => "Already done",
        413 => "Too large",
        415 => "Unexpected format",
        429 => "Slow down",
        503 => "Temporarily unavailable",
        _ => "Something went wrong",
    }
}

pub fn render_error(e: &AppError, request_id: &str) -> Response {
    e.log();
    let page = ErrorPage {
        shell: Shell::bare(heading_for(e.status)),
        heading: heading_for(e.status).to_string(),
        message: e.message.clone(),
        fields: e.fields.clone(),
        request_id: request_id.to_string(),
    };
    let mut response = (e.status, page).into_response();
    e.decorate(&mut response);
    response
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        render_error(&self.0, "")
    }
}

pub type PageResult = Result<Response, PageError>;

/// Formats a timestamp for tables: `2026-11-23 04:30:00 UTC`.
pub fn when(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        Err(_) => String::from("—"),
    }
}

/// Readable names for audit actors: `user:<id>` becomes the user's email (ids stay in the
/// record, because emails can change); `cli`, `system` and `anonymous` stay as they are.
pub async fn actor_names<'a>(
    state: &AppState,
    actors: impl Iterator<Item = &'a str>,
) -> std::collections::HashMap<String, String> {
    let mut names = std::collections::HashMap::new();
    for actor in actors {
        if names.contains_key(actor) {
            continue;
        }
        let shown = match actor.strip_prefix("user:") {
            Some(id) => match crate::accounts::store::find_by_id(&state.db, id).await {
                Ok(Some(u)) => u.email,
                _ => actor.to_string(),
            },
            None => actor.to_string(),
        };
        names.insert(actor.to_string(), shown);
    }
    names
}

/// The field errors of a validation failure, or the error itself.
pub fn field_errors(e: AppError) -> Result<BTreeMap<String, String>, PageError> {
    if e.code == "validation_failed" {
        Ok(e.fields)
    } else {
        Err(PageError(e))
    }
}
