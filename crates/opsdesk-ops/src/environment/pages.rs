//! The environment page (`/environment`): opsdesk's own facts and every reporting app's, with
//! their age and the thresholds they break; admins add and remove thresholds in plain forms.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tower_sessions::Session;

use super::{own, service, store};
use crate::heartbeats::view;
use opsdesk_core::accounts::Role;
use opsdesk_core::clock::now_ms;
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiForm;
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{PageError, PageResult, Shell, flash};

pub fn routes() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route("/environment", get(show))
        .route("/environment/thresholds", post(add))
        .route("/environment/thresholds/{id}/delete", post(remove))
}

pub struct FactLine {
    pub key: String,
    pub value: String,
    pub age: String,
    pub broken: Vec<String>,
}

pub struct AppCard {
    pub app: String,
    pub warning: bool,
    pub age: String,
    pub facts: Vec<FactLine>,
}

pub struct ThresholdLine {
    pub id: String,
    pub app: String,
    pub rule: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "environment.html")]
struct EnvPage {
    shell: Shell,
    apps: Vec<AppCard>,
    thresholds: Vec<ThresholdLine>,
    channels: Vec<crate::alerts::model::Channel>,
    admin: bool,
}

fn card(a: service::App, now: i64) -> AppCard {
    AppCard {
        warning: a.warning,
        age: view::relative(now, a.last_report),
        facts: a
            .facts
            .into_iter()
            .map(|f| FactLine {
                value: match &f.value {
                    serde_json::Value::String(s) => s.clone(),
                    v => v.to_string(),
                },
                age: view::relative(now, f.updated),
                key: f.key,
                broken: f.broken,
            })
            .collect(),
        app: a.app,
    }
}

async fn show(State(state): State<AppState>, session: Session, me: PageUser) -> PageResult {
    crate::web::staff(&me, "The environment is for the team.")?;
    let now = now_ms();
    let mut apps = vec![card(own::facts(&state).await?, now)];
    apps.extend(
        service::dashboard(&state.db)
            .await?
            .into_iter()
            .map(|a| card(a, now)),
    );
    Ok(EnvPage {
        shell: Shell::load(
            &state,
            &session,
            Some(me.user()),
            "Environment",
            "environment",
        )
        .await,
        apps,
        thresholds: store::thresholds(&state.db)
            .await?
            .into_iter()
            .map(|t| ThresholdLine {
                id: t.id,
                app: t.app,
                rule: t.rule,
            })
            .collect(),
        channels: crate::alerts::store::channels(&state.db).await?,
        admin: me.user().role == Role::Admin,
    }
    .into_response())
}

#[derive(Debug, Deserialize)]
pub struct ThresholdForm {
    #[serde(default)]
    app: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    channel: Option<String>,
}

async fn add(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(f): ApiForm<ThresholdForm>,
) -> PageResult {
    if me.user().role != Role::Admin {
        return Err(PageError(AppError::forbidden(
            "Only admins set thresholds.",
        )));
    }
    let channels: Vec<String> = f.channel.into_iter().filter(|c| !c.is_empty()).collect();
    let t = service::add_threshold(&state.db, &me.actor(), &f.app, &f.rule, &channels).await?;
    flash(
        &session,
        format!(
            "Threshold \"{}\" for {} added; it is checked on the next report.",
            t.rule, t.app
        ),
    )
    .await;
    Ok(Redirect::to("/environment").into_response())
}

async fn remove(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    if me.user().role != Role::Admin {
        return Err(PageError(AppError::forbidden(
            "Only admins set thresholds.",
        )));
    }
    service::remove_threshold(&state.db, &me.actor(), &id).await?;
    flash(&session, "Threshold removed.").await;
    Ok(Redirect::to("/environment").into_response())
}
