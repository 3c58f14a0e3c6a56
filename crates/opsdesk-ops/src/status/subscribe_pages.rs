//! The status page's subscription pages (public, no sign-in): subscribe with an address, then
//! confirm or unsubscribe from the link in the email (a button, so link scanners that open
//! links do not confirm anything).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use serde::Deserialize;
use tower_sessions::Session;

use super::subscribers;
use crate::web::base_url;
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiForm;
use opsdesk_core::web::pages::{PageError, PageResult, Shell};

pub fn routes() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route("/status/subscribe", post(subscribe))
        .route("/status/subscriptions/{token}", get(show))
        .route("/status/subscriptions/{token}/confirm", post(confirm))
        .route(
            "/status/subscriptions/{token}/unsubscribe",
            post(unsubscribe),
        )
}

#[derive(Template, WebTemplate)]
#[template(path = "status_subscription.html")]
struct SubscriptionPage {
    shell: Shell,
    heading: String,
    message: String,
    token: Option<String>,
    confirmed: bool,
    error: Option<String>,
}

async fn page(
    state: &AppState,
    session: &Session,
    heading: &str,
    message: String,
    token: Option<String>,
    confirmed: bool,
    error: Option<String>,
) -> SubscriptionPage {
    SubscriptionPage {
        shell: Shell::load(state, session, None, heading, "status").await,
        heading: heading.to_string(),
        message,
        token,
        confirmed,
        error,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SubscribeForm {
    #[serde(default)]
    email: String,
}

async fn subscribe(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    ApiForm(f): ApiForm<SubscribeForm>,
) -> PageResult {
    let base = base_url(&state, &headers);
    match subscribers::subscribe(&state.db, &state.config.mail, &base, &f.email).await {
        Ok(()) => Ok(page(
            &state,
            &session,
            "Check your email",
            "We sent a link to confirm your subscription. Nothing is sent until you follow it."
                .into(),
            None,
            false,
            None,
        )
        .await
        .into_response()),
        Err(e) if e.status.is_client_error() => {
            let p = page(
                &state,
                &session,
                "Incident updates by email",
                "Enter the address that should get incident updates.".into(),
                None,
                false,
                Some(crate::web::say(&e)),
            )
            .await;
            Ok((e.status, p).into_response())
        }
        Err(e) => Err(PageError(e)),
    }
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> PageResult {
    let row = subscribers::find(&state.db, &token).await?;
    let message = if row.confirmed {
        format!("{} gets this page's incident updates.", row.email)
    } else {
        format!(
            "Confirm that {} should get this page's incident updates.",
            row.email
        )
    };
    Ok(page(
        &state,
        &session,
        "Incident updates by email",
        message,
        Some(row.token),
        row.confirmed,
        None,
    )
    .await
    .into_response())
}

async fn confirm(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> PageResult {
    let row = subscribers::confirm(&state.db, &token).await?;
    Ok(page(
        &state,
        &session,
        "Subscribed",
        format!(
            "{} will get incident updates. Every email has a link to stop them.",
            row.email
        ),
        Some(row.token),
        true,
        None,
    )
    .await
    .into_response())
}

async fn unsubscribe(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> PageResult {
    subscribers::unsubscribe(&state.db, &token).await?;
    Ok(page(
        &state,
        &session,
        "Unsubscribed",
        "You will get no more incident updates.".into(),
        None,
        false,
        None,
    )
    .await
    .into_response())
}
