//! Incident settings (admins): the severities' labels and the change-freeze windows, entered
//! in a time zone and shown in it.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use tower_sessions::Session;

use super::freeze::{self, NewWindow};
use super::{settings, store};
use opsdesk_core::accounts::model::Role;
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiForm;
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{PageError, PageResult, Shell, flash};

pub fn routes() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route("/incidents/settings", get(show))
        .route("/incidents/settings/severities", post(severities))
        .route("/incidents/settings/freeze", post(add_window))
        .route(
            "/incidents/settings/freeze/{id}/delete",
            post(remove_window),
        )
}

fn admin(me: &PageUser) -> Result<(), PageError> {
    if me.user().role == Role::Admin {
        Ok(())
    } else {
        Err(PageError(AppError::forbidden(
            "Incident settings are for admins.",
        )))
    }
}

pub struct WindowLine {
    pub id: String,
    pub starts: String,
    pub ends: String,
    pub zone: String,
    pub reason: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "incidents_settings.html")]
struct SettingsPage {
    shell: Shell,
    severities: Vec<(i64, String)>,
    windows: Vec<WindowLine>,
    freeze_severity: u8,
    zone: String,
    error: Option<String>,
}

/// A time as the window's zone shows it.
fn local(ms: i64, zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(tz).strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

async fn render(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    error: Option<String>,
) -> Result<SettingsPage, PageError> {
    let now = opsdesk_core::clock::now_ms();
    let zone = opsdesk_core::setup::instance(&state.db)
        .await
        .map(|i| i.timezone)
        .unwrap_or_else(|_| "UTC".into());
    Ok(SettingsPage {
        shell: Shell::load(
            state,
            session,
            Some(me.user()),
            "Incident settings",
            "incidents",
        )
        .await,
        severities: store::severities(&state.db).await?,
        windows: store::windows(&state.db, now)
            .await?
            .into_iter()
            .map(|w| WindowLine {
                starts: local(w.starts_at, &w.time_zone),
                ends: local(w.ends_at, &w.time_zone),
                id: w.id,
                zone: w.time_zone,
                reason: w.reason,
            })
            .collect(),
        freeze_severity: state.config.incidents.freeze_severity,
        zone,
        error,
    })
}

async fn show(State(state): State<AppState>, session: Session, me: PageUser) -> PageResult {
    admin(&me)?;
    Ok(render(&state, &session, &me, None).await?.into_response())
}

async fn outcome(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    done: Result<String, AppError>,
) -> PageResult {
    match done {
        Ok(note) => {
            flash(session, note).await;
            Ok(Redirect::to("/incidents/settings").into_response())
        }
        Err(e) if e.status.is_client_error() => {
            let page = render(state, session, me, Some(crate::web::say(&e))).await?;
            Ok((e.status, page).into_response())
        }
        Err(e) => Err(PageError(e)),
    }
}

async fn severities(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(pairs): ApiForm<Vec<(String, String)>>,
) -> PageResult {
    admin(&me)?;
    let mut done = Ok("Severities saved.".to_string());
    for (k, v) in &pairs {
        let Some(level) = k.strip_prefix("sev").and_then(|l| l.parse::<i64>().ok()) else {
            continue;
        };
        if let Err(e) = settings::set_severity_label(&state.db, &me.actor(), level, v).await {
            done = Err(e);
            break;
        }
    }
    outcome(&state, &session, &me, done).await
}

async fn add_window(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(w): ApiForm<NewWindow>,
) -> PageResult {
    admin(&me)?;
    let done = freeze::add_window(&state.db, &me.actor(), &w)
        .await
        .map(|w| format!("Freeze scheduled: {}.", w.reason));
    outcome(&state, &session, &me, done).await
}

async fn remove_window(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    admin(&me)?;
    let done = freeze::remove_window(&state.db, &me.actor(), &id)
        .await
        .map(|()| "Freeze window removed.".to_string());
    outcome(&state, &session, &me, done).await
}
