//! Email over HTTP: raw messages in (for MTAs and relays), the editable templates, and
//! attachment downloads (always as files, never rendered by the browser).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opsdesk_core::audit;
use opsdesk_core::blobs::Blobs;
use opsdesk_core::clock::now_ms;
use opsdesk_core::error::{AppError, ErrorBody};
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiJson;
use opsdesk_core::web::identity::ApiUser;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::intake::{self, Intake, IntakeOutcome, Source};
use super::{store, templates};
use crate::tickets::service;

#[derive(OpenApi)]
#[openapi(tags((name = "mail", description = "Inbound email, templates and attachments")))]
struct MailDoc;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(MailDoc::openapi())
        .routes(routes!(inbound))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .merge(
            OpenApiRouter::new()
                .routes(routes!(list_templates))
                .routes(routes!(put_template))
                .routes(routes!(attachment)),
        )
}

/// The blob store of this server.
pub fn blobs(state: &AppState) -> Blobs {
    Blobs::new(&state.db, &state.config.data_dir)
}

#[utoipa::path(post, path = "/api/inbound/email", tag = "mail", security(("bearer" = [])),
    request_body(content = String, content_type = "text/plain", description = "The raw RFC 5322 message, sent as is (any Content-Type is accepted, e.g. message/rfc822)"),
    responses(
        (status = 201, description = "A new ticket was opened", body = Intake),
        (status = 200, description = "Added to a ticket, or recorded without a ticket (duplicate, bounce, no sender): see `outcome`", body = Intake),
        (status = 400, description = "Not an email", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an agent or admin, or a read-only token", body = ErrorBody),
        (status = 413, description = "Larger than [mail] max_message_bytes", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn inbound(
    State(state): State<AppState>,
    me: ApiUser,
    body: Body,
) -> Result<Response, AppError> {
    me.require_staff()?.require_write()?;
    let limit = state.config.mail.max_message_bytes;
    let raw = axum::body::to_bytes(body, limit.saturating_add(1))
        .await
        .map_err(|_| {
            AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "message_too_large",
                format!("The message is larger than {limit} bytes ([mail] max_message_bytes)."),
            )
        })?;
    let source = Source {
        name: "api",
        mailbox: None,
    };
    let result =
        intake::ingest(&state.db, &blobs(&state), &state.config.mail, &raw, &source).await?;
    let status = match result.outcome {
        IntakeOutcome::Created | IntakeOutcome::Linked => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    Ok((status, axum::Json(result)).into_response())
}

/// An email template an admin can edit.
#[derive(Serialize, ToSchema)]
pub struct Template {
    /// `ack` (new tickets) or `ack_security` (security reports).
    pub key: String,
    pub subject: String,
    pub body: String,
    pub updated_at: i64,
    /// Placeholders the subject and body may use, e.g. `{{ref}}`.
    pub placeholders: Vec<String>,
}

#[utoipa::path(get, path = "/api/mail/templates", tag = "mail", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every email template", body = Vec<Template>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn list_templates(
    State(state): State<AppState>,
    me: ApiUser,
) -> Result<axum::Json<Vec<Template>>, AppError> {
    me.require_admin()?;
    let placeholders: Vec<String> = templates::PLACEHOLDERS
        .iter()
        .map(|p| format!("{{{{{p}}}}}"))
        .collect();
    Ok(axum::Json(
        store::templates(&state.db)
            .await?
            .into_iter()
            .map(|(key, subject, body, updated_at)| Template {
                key,
                subject,
                body,
                updated_at,
                placeholders: placeholders.clone(),
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub subject: String,
    pub body: String,
}

#[utoipa::path(put, path = "/api/mail/templates/{key}", tag = "mail", security(("bearer" = [])),
    params(("key" = String, Path, description = "Template key, e.g. ack")),
    request_body = TemplateInput,
    responses(
        (status = 200, description = "Saved", body = Template),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such template", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn put_template(
    State(state): State<AppState>,
    me: ApiUser,
    Path(key): Path<String>,
    ApiJson(input): ApiJson<TemplateInput>,
) -> Result<axum::Json<Template>, AppError> {
    me.require_admin()?.require_write()?;
    Ok(axum::Json(
        save_template(&state.db, &me.actor(), &key, input).await?,
    ))
}

/// Checks and saves an edited template (callers check that the viewer is an admin).
pub async fn save_template(
    db: &opsdesk_core::db::Db,
    actor: &opsdesk_core::audit::Actor,
    key: &str,
    input: TemplateInput,
) -> Result<Template, AppError> {
    let problems = templates::check(&input.subject, &input.body);
    if !problems.is_empty() {
        return Err(AppError::validation(
            problems
                .into_iter()
                .map(|(f, p)| (f.to_string(), p))
                .collect(),
        ));
    }
    let now = now_ms();
    let mut tx = db.begin().await?;
    if !store::set_template(&mut tx, key, input.subject.trim(), &input.body, now).await? {
        return Err(AppError::not_found("This template"));
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("mail.template.update", format!("template:{key}"), ""),
    )
    .await?;
    tx.commit().await?;
    Ok(Template {
        key: key.to_string(),
        subject: input.subject.trim().to_string(),
        body: input.body,
        updated_at: now,
        placeholders: templates::PLACEHOLDERS
            .iter()
            .map(|p| format!("{{{{{p}}}}}"))
            .collect(),
    })
}

#[utoipa::path(get, path = "/api/tickets/{ref}/attachments/{id}", tag = "mail", security(("bearer" = [])),
    params(
        ("ref" = String, Path, description = "Ticket number, e.g. 1042"),
        ("id" = String, Path, description = "Attachment id"),
    ),
    responses(
        (status = 200, description = "The file, as a download", content_type = "application/octet-stream"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such attachment, or not yours", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn attachment(
    State(state): State<AppState>,
    me: ApiUser,
    Path((reference, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let t = service::visible(&state.db, me.user(), &reference).await?;
    let not_found = || AppError::not_found("This attachment");
    let a = store::attachment(&state.db, &t.id, &id)
        .await?
        .ok_or_else(not_found)?;
    // Customers never see what came with an internal note.
    if !me.user().role.is_staff() && !service::message_is_public(&state.db, &a.message_id).await? {
        return Err(not_found());
    }
    let bytes = blobs(&state)
        .get(&state.db, &a.sha256)
        .await?
        .ok_or_else(not_found)?;
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&content_disposition(&a.filename))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(resp)
}

/// `attachment; filename="…"; filename*=UTF-8''…` with an ASCII fallback name.
fn content_disposition(name: &str) -> String {
    format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        opsdesk_mail::clean::ascii_filename(name),
        opsdesk_mail::clean::rfc2231(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_are_attachments_with_safe_names() {
        assert_eq!(
            content_disposition("report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        let d = content_disposition("a\"b\r\nc.txt");
        assert!(!d.contains('\r') && !d.contains('\n'), "{d}");
        assert!(d.starts_with("attachment; filename=\"a_b__c.txt\""), "{d}");
        assert!(content_disposition("Übersicht.pdf").contains("%C3%9Cbersicht.pdf"));
    }
}
