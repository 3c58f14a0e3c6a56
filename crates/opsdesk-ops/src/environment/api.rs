//! The environment over JSON: `POST /api/environment/{app}` (an app reports its facts),
//! `GET /api/environment` (every app's facts, opsdesk's own first), thresholds.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::own;
use super::service::{self, App, Reported};
use super::store;
use opsdesk_core::error::{AppError, ErrorBody};
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiJson;
use opsdesk_core::web::identity::ApiUser;

#[derive(OpenApi)]
#[openapi(tags((name = "environment", description = "Facts apps report about their environment, with thresholds")))]
struct EnvDoc;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(EnvDoc::openapi())
        .routes(routes!(report))
        .routes(routes!(dashboard))
        .routes(routes!(list_thresholds, add_threshold))
        .routes(routes!(delete_threshold))
}

#[utoipa::path(post, path = "/api/environment/{app}", tag = "environment", security(("bearer" = [])),
    params(("app" = String, Path, description = "The app's name (letters, digits, . _ -)")),
    request_body(content = Object, description = "Facts: `{\"php.memory_limit\": \"128M\", \"cpu.count\": 4, \"api\": {\"llm\": {\"reachable\": true}}}` (nested objects become dotted names)"),
    responses(
        (status = 200, description = "Taken; the thresholds broken now", body = Reported),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid app or fact names, lists, values over 1,000 characters, more than 500 facts", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn report(
    State(state): State<AppState>,
    me: ApiUser,
    Path(app): Path<String>,
    ApiJson(facts): ApiJson<Map<String, Value>>,
) -> Result<axum::Json<Reported>, AppError> {
    me.require_staff()?.require_write()?;
    Ok(axum::Json(service::report(&state.db, &app, &facts).await?))
}

#[utoipa::path(get, path = "/api/environment", tag = "environment", security(("bearer" = [])),
    responses(
        (status = 200, description = "opsdesk's own facts, then every reporting app's, with ages and broken thresholds", body = Vec<App>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn dashboard(
    State(state): State<AppState>,
    me: ApiUser,
) -> Result<axum::Json<Vec<App>>, AppError> {
    me.require_staff()?;
    let mut apps = vec![own::facts(&state).await?];
    apps.extend(service::dashboard(&state.db).await?);
    Ok(axum::Json(apps))
}

/// A threshold as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Threshold {
    pub id: String,
    /// An app's name, or `*` for every app.
    pub app: String,
    pub rule: String,
}

/// A new threshold.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdInput {
    /// An app's name, or `*` for every app.
    pub app: String,
    /// `fact op value`, e.g. `php.memory_limit >= 256M`, `api.llm.reachable == true`.
    pub rule: String,
    /// Alert channel ids that hear of breaks and recoveries.
    #[serde(default)]
    pub channels: Vec<String>,
}

#[utoipa::path(get, path = "/api/environment/thresholds", tag = "environment", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every threshold", body = Vec<Threshold>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn list_thresholds(
    State(state): State<AppState>,
    me: ApiUser,
) -> Result<axum::Json<Vec<Threshold>>, AppError> {
    me.require_staff()?;
    let list = store::thresholds(&state.db).await?;
    Ok(axum::Json(
        list.into_iter()
            .map(|t| Threshold {
                id: t.id,
                app: t.app,
                rule: t.rule,
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/environment/thresholds", tag = "environment", security(("bearer" = [])),
    request_body = ThresholdInput,
    responses(
        (status = 201, description = "Added; it is evaluated on the app's next report", body = Threshold),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid app, rule or channels", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn add_threshold(
    State(state): State<AppState>,
    me: ApiUser,
    ApiJson(input): ApiJson<ThresholdInput>,
) -> Result<(StatusCode, axum::Json<Threshold>), AppError> {
    me.require_admin()?.require_write()?;
    let t = service::add_threshold(
        &state.db,
        &me.actor(),
        &input.app,
        &input.rule,
        &input.channels,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(Threshold {
            id: t.id,
            app: t.app,
            rule: t.rule,
        }),
    ))
}

#[utoipa::path(delete, path = "/api/environment/thresholds/{id}", tag = "environment", security(("bearer" = [])),
    params(("id" = String, Path, description = "The threshold's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such threshold", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn delete_threshold(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    me.require_admin()?.require_write()?;
    service::remove_threshold(&state.db, &me.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
