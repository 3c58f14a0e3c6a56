//! The setup wizard, sign-in and sign-out pages.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tower_sessions::Session;

use super::{PageError, PageResult, Shell, field_errors, flash};
use crate::auth::authlog::Reason;
use crate::auth::login::{self, LoginError};
use crate::auth::sessions::USER_KEY;
use crate::setup::{self, SetupInput};
use crate::web::extract::ApiForm;
use crate::web::identity::Caller;
use crate::web::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "setup.html")]
struct SetupPage {
    shell: Shell,
    form: SetupInput,
    errors: BTreeMap<String, String>,
    timezones: Vec<String>,
}

pub async fn setup_form(State(state): State<AppState>, session: Session) -> PageResult {
    if state.setup_done().await {
        return Ok(Redirect::to("/login").into_response());
    }
    let form = SetupInput {
        timezone: "UTC".into(),
        ..SetupInput::default()
    };
    let shell = Shell::load(&state, &session, None, "Set up opsdesk", "").await;
    Ok(SetupPage {
        shell,
        form,
        errors: BTreeMap::new(),
        timezones: setup::timezone_names(),
    }
    .into_response())
}

/// The wizard's form: multipart (with the optional logo) from the page, or plain urlencoded.
async fn read_setup(
    state: &AppState,
    req: axum::extract::Request,
) -> Result<(SetupInput, Option<Vec<u8>>), PageError> {
    use axum::extract::FromRequest as _;
    let multipart = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("multipart/form-data"));
    if !multipart {
        let ApiForm(form) = ApiForm::<SetupInput>::from_request(req, state).await?;
        return Ok((form, None));
    }
    let broken = || {
        PageError(crate::error::AppError::bad_request(
            "invalid_form",
            "The form broke off; send it again.",
        ))
    };
    let mut parts = axum::extract::Multipart::from_request(req, state)
        .await
        .map_err(|_| broken())?;
    let (mut form, mut logo) = (SetupInput::default(), None);
    while let Some(field) = parts.next_field().await.map_err(|_| broken())? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "logo" {
            logo = Some(field.bytes().await.map_err(|_| broken())?.to_vec());
            continue;
        }
        let text = field.text().await.map_err(|_| broken())?;
        match name.as_str() {
            "brand_name" => form.brand_name = text,
            "support_email" => form.support_email = text,
            "timezone" => form.timezone = text,
            "admin_name" => form.admin_name = text,
            "admin_email" => form.admin_email = text,
            "admin_password" => form.admin_password = text,
            _ => {}
        }
    }
    Ok((form, logo))
}

pub async fn setup_submit(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    req: axum::extract::Request,
) -> PageResult {
    let (form, logo) = read_setup(&state, req).await?;
    match setup::complete(&state.db, &caller.actor(), form.clone(), logo.as_deref()).await {
        Ok(admin) => {
            state.mark_setup_done();
            start_session(&session, &admin.id).await?;
            flash(
                &session,
                "Setup is complete. Next: add your agents under Users.",
            )
            .await;
            Ok(Redirect::to("/").into_response())
        }
        Err(e) if e.code == "setup_already_complete" => {
            state.mark_setup_done();
            Ok(Redirect::to("/login").into_response())
        }
        Err(e) => {
            let errors = field_errors(e)?;
            let shell = Shell::load(&state, &session, None, "Set up opsdesk", "").await;
            let form = SetupInput {
                admin_password: String::new(),
                ..form
            };
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                SetupPage {
                    shell,
                    form,
                    errors,
                    timezones: setup::timezone_names(),
                },
            )
                .into_response())
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    shell: Shell,
    error: Option<String>,
    email: String,
    next: String,
}

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Only local paths are followed after sign-in (no open redirect).
fn safe_next(next: &str) -> String {
    if next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.starts_with("/login")
    {
        next.to_string()
    } else {
        "/".to_string()
    }
}

pub async fn login_form(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    Query(q): Query<NextQuery>,
) -> PageResult {
    if caller.identity.is_some() {
        return Ok(Redirect::to(&safe_next(&q.next)).into_response());
    }
    let shell = Shell::load(&state, &session, None, "Sign in", "").await;
    Ok(LoginPage {
        shell,
        error: None,
        email: String::new(),
        next: safe_next(&q.next),
    }
    .into_response())
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn login_submit(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    ApiForm(form): ApiForm<LoginForm>,
) -> PageResult {
    let actor = caller.actor();
    match login::login(
        &state.db,
        &state.config.lockout,
        &actor,
        &form.email,
        &form.password,
    )
    .await
    {
        Ok(user) => {
            start_session(&session, &user.id).await?;
            Ok(Redirect::to(&safe_next(&form.next)).into_response())
        }
        Err(LoginError::Refused(reason)) => {
            state
                .auth_log
                .failure(&form.email, &actor.client_ip, reason, "/login");
            let (status, message) = match reason {
                Reason::Locked => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many failed sign-ins. Wait a few minutes, or ask an admin to reset your password.",
                ),
                _ => (
                    StatusCode::UNAUTHORIZED,
                    "That email and password do not match an active account.",
                ),
            };
            let shell = Shell::load(&state, &session, None, "Sign in", "").await;
            let page = LoginPage {
                shell,
                error: Some(message.into()),
                email: form.email,
                next: safe_next(&form.next),
            };
            Ok((status, page).into_response())
        }
        Err(LoginError::Store(e)) => Err(PageError(e)),
    }
}

/// Signs the user in on a fresh session id (so a planted id cannot be reused).
pub async fn start_session(session: &Session, user_id: &str) -> Result<(), PageError> {
    session
        .cycle_id()
        .await
        .map_err(|e| PageError(crate::error::AppError::internal(e)))?;
    session
        .insert(USER_KEY, user_id)
        .await
        .map_err(|e| PageError(crate::error::AppError::internal(e)))?;
    Ok(())
}

pub async fn logout(State(state): State<AppState>, session: Session, caller: Caller) -> PageResult {
    if caller.identity.is_some() {
        login::logout(&state.db, &caller.actor()).await?;
    }
    session
        .flush()
        .await
        .map_err(|e| PageError(crate::error::AppError::internal(e)))?;
    Ok(Redirect::to("/login").into_response())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_next("/admin/users?x=1"), "/admin/users?x=1");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil",
            "",
            "javascript:alert(1)",
            "/login?next=//x",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }
}
