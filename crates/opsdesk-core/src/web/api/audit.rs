//! The audit log and background jobs over JSON (admins only).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit::AuditRecord;
use crate::audit::store::{AuditFilter, list as list_audit};
use crate::error::{AppError, ErrorBody};
use crate::jobs::store::JobView;
use crate::web::extract::ApiQuery;
use crate::web::identity::ApiUser;
use crate::web::pagination::Cursor;
use crate::web::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// An action (`user.create`) or a family of actions (`user`).
    pub action: Option<String>,
    /// `user:<id>`, `cli`, `system` or `anonymous`.
    pub actor: Option<String>,
    /// e.g. `user:<id>`.
    pub target: Option<String>,
    /// From `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 100).
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<AuditRecord>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses(
        (status = 200, description = "Audit records, newest first", body = AuditPage),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    me: ApiUser,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<axum::Json<AuditPage>, AppError> {
    me.require_admin()?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let filter = AuditFilter {
        action: q.action.unwrap_or_default().trim().into(),
        actor: q.actor.unwrap_or_default().trim().into(),
        target: q.target.unwrap_or_default().trim().into(),
        before_seq: Cursor::decode_seq(q.cursor.as_deref().unwrap_or(""))?,
    };
    let mut items = list_audit(&state.db, &filter, limit + 1).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|r| Cursor::encode_seq(r.seq))
    } else {
        None
    };
    Ok(axum::Json(AuditPage { items, next_cursor }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// `queued`, `running`, `dead` or `done` (default: all).
    pub state: Option<String>,
    /// 1–500 (default 100).
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct JobList {
    /// Newest first.
    pub items: Vec<JobView>,
}

#[utoipa::path(get, path = "/api/jobs", tag = "jobs", security(("bearer" = [])), params(JobQuery),
    responses(
        (status = 200, description = "Jobs, newest first", body = JobList),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "Unknown state", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn jobs(
    State(state): State<AppState>,
    me: ApiUser,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> Result<axum::Json<JobList>, AppError> {
    me.require_admin()?;
    let which = q.state.unwrap_or_default();
    if !which.is_empty() && !crate::web::pages::admin::JOB_STATES.contains(&which.as_str()) {
        return Err(AppError::field(
            "state",
            "must be queued, running, dead or done",
        ));
    }
    let items =
        crate::jobs::store::list(&state.db, &which, 0, q.limit.unwrap_or(100).clamp(1, 500))
            .await?;
    Ok(axum::Json(JobList { items }))
}

#[utoipa::path(post, path = "/api/jobs/{id}/retry", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 204, description = "Queued again"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 404, description = "No dead job with this id", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn retry(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    me.require_admin()?.require_write()?;
    crate::jobs::retry_dead(&state.db, &me.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
