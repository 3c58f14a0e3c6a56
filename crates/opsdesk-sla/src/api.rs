//! Tiers and calendars over JSON: `GET/POST /api/tiers`, `PUT /api/tiers/{id}`,
//! `GET/POST /api/calendars`, and customers' and organizations' tiers.

use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::policy::{
    Calendar, CalendarChanged, CalendarInput, Tier, TierAssignment, TierChanged, TierChoice,
    TierInput, TierUpdate,
};
use crate::report::SlaReport;
use crate::report_service::ReportQuery;
use crate::service::{self, Holder};
use opsdesk_core::error::{AppError, ErrorBody};
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::{ApiJson, ApiQuery};
use opsdesk_core::web::identity::ApiUser;

#[derive(OpenApi)]
#[openapi(tags((name = "sla", description = "Support tiers, their targets, and business-hours calendars")))]
struct SlaDoc;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(SlaDoc::openapi())
        .routes(routes!(list_tiers, post_tier))
        .routes(routes!(put_tier))
        .routes(routes!(list_calendars, post_calendar))
        .routes(routes!(put_calendar))
        .routes(routes!(put_user_tier))
        .routes(routes!(put_organization_tier))
        .routes(routes!(sla_report))
}

#[utoipa::path(get, path = "/api/reports/sla", tag = "sla", security(("bearer" = [])),
    params(ReportQuery),
    responses(
        (status = 200, description = "First-response and resolution times (median, p90) and breach rate per group, the weekly trend and the first-response distribution; CSV with `format=csv`", body = SlaReport),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 422, description = "Invalid from, to, group or format", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn sla_report(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<axum::response::Response, AppError> {
    use axum::response::IntoResponse as _;
    let csv = match q.format.as_deref().map(str::trim) {
        None | Some("") | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(AppError::field("format", "must be json or csv")),
    };
    let r = crate::report_service::sla_report(&state.db, me.user(), &q).await?;
    Ok(if csv {
        crate::report_pages::csv_response(&r)
    } else {
        axum::Json(r).into_response()
    })
}

#[utoipa::path(get, path = "/api/tiers", tag = "sla", security(("bearer" = [])),
    responses(
        (status = 200, description = "Tiers in order, with their targets by priority", body = Vec<Tier>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn list_tiers(
    AxState(state): AxState<AppState>,
    me: ApiUser,
) -> Result<axum::Json<Vec<Tier>>, AppError> {
    Ok(axum::Json(service::tiers(&state.db, me.user()).await?))
}

#[utoipa::path(post, path = "/api/tiers", tag = "sla", security(("bearer" = [])),
    request_body = TierInput,
    responses(
        (status = 201, description = "Created", body = Tier),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields (name, calendar, targets, warn_percent)", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn post_tier(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    ApiJson(input): ApiJson<TierInput>,
) -> Result<(StatusCode, axum::Json<Tier>), AppError> {
    me.require_write()?;
    let t = service::create_tier(&state.db, &me.actor(), me.user(), input).await?;
    Ok((StatusCode::CREATED, axum::Json(t)))
}

#[utoipa::path(put, path = "/api/tiers/{id}", tag = "sla", security(("bearer" = [])),
    params(("id" = String, Path, description = "The tier's id or name")),
    request_body = TierUpdate,
    responses(
        (status = 200, description = "Saved; with `apply_to_open`, its open tickets were moved to it", body = TierChanged),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such tier", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields (name, calendar, targets, warn_percent)", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn put_tier(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<TierUpdate>,
) -> Result<axum::Json<TierChanged>, AppError> {
    me.require_write()?;
    let t = service::update_tier(&state.db, &me.actor(), me.user(), &id, input).await?;
    Ok(axum::Json(t))
}

#[utoipa::path(get, path = "/api/calendars", tag = "sla", security(("bearer" = [])),
    responses(
        (status = 200, description = "Business-hours calendars by name", body = Vec<Calendar>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn list_calendars(
    AxState(state): AxState<AppState>,
    me: ApiUser,
) -> Result<axum::Json<Vec<Calendar>>, AppError> {
    Ok(axum::Json(service::calendars(&state.db, me.user()).await?))
}

#[utoipa::path(post, path = "/api/calendars", tag = "sla", security(("bearer" = [])),
    request_body = CalendarInput,
    responses(
        (status = 201, description = "Created", body = Calendar),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields (time zone, hours, holidays)", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn post_calendar(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    ApiJson(input): ApiJson<CalendarInput>,
) -> Result<(StatusCode, axum::Json<Calendar>), AppError> {
    me.require_write()?;
    let c = service::create_calendar(&state.db, &me.actor(), me.user(), input).await?;
    Ok((StatusCode::CREATED, axum::Json(c)))
}

#[utoipa::path(put, path = "/api/calendars/{id}", tag = "sla", security(("bearer" = [])),
    params(("id" = String, Path, description = "The calendar's id or name")),
    request_body = CalendarInput,
    responses(
        (status = 200, description = "Saved; open tickets counting in it keep the time counted and count on in the new hours", body = CalendarChanged),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such calendar", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields (name, time zone, hours, holidays)", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn put_calendar(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CalendarInput>,
) -> Result<axum::Json<CalendarChanged>, AppError> {
    me.require_write()?;
    let c = service::update_calendar(&state.db, &me.actor(), me.user(), &id, input).await?;
    Ok(axum::Json(c))
}

#[utoipa::path(put, path = "/api/users/{id}/tier", tag = "sla", security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id or email")),
    request_body = TierChoice,
    responses(
        (status = 200, description = "Saved: the customer's tickets are served under this tier", body = TierAssignment),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Unknown tier", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn put_user_tier(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<TierChoice>,
) -> Result<axum::Json<TierAssignment>, AppError> {
    me.require_write()?;
    let actor = me.actor();
    let a = service::assign(&state.db, &actor, me.user(), Holder::Customer, &id, input);
    Ok(axum::Json(a.await?))
}

#[utoipa::path(put, path = "/api/organizations/{id}/tier", tag = "sla", security(("bearer" = [])),
    params(("id" = String, Path, description = "The organization's id or name")),
    request_body = TierChoice,
    responses(
        (status = 200, description = "Saved: members without a tier of their own are served under this tier", body = TierAssignment),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such organization", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Unknown tier", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn put_organization_tier(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<TierChoice>,
) -> Result<axum::Json<TierAssignment>, AppError> {
    me.require_write()?;
    let actor = me.actor();
    let holder = Holder::Organization;
    let a = service::assign(&state.db, &actor, me.user(), holder, &id, input);
    Ok(axum::Json(a.await?))
}
