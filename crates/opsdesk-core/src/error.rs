//! The one application error: a stable machine code, a message a person can act on and per-field
//! problems. The API renders it as JSON `{"error":{"code","message","fields"}}`; pages render it
//! as a readable page (see `web::pages`). Internal causes go to the log, never to the client.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: BTreeMap<String, String>,
    pub retry_after_secs: Option<u64>,
    pub source: Option<anyhow::Error>,
}

/// The JSON body of an error response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `validation_failed`, `not_found`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// Problems with individual input fields, by field name.
    pub fields: BTreeMap<String, String>,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> AppError {
        AppError {
            status,
            code,
            message: message.into(),
            fields: BTreeMap::new(),
            retry_after_secs: None,
            source: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn validation(fields: BTreeMap<String, String>) -> AppError {
        let mut e = AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Some fields need attention.",
        );
        e.fields = fields;
        e
    }

    pub fn field(name: &str, problem: &str) -> AppError {
        let mut fields = BTreeMap::new();
        fields.insert(name.to_string(), problem.to_string());
        AppError::validation(fields)
    }

    pub fn not_found(what: &str) -> AppError {
        AppError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} was not found."),
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::CONFLICT, code, message)
    }

    pub fn too_many(retry_after_secs: u64) -> AppError {
        let mut e = AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("Too many requests; try again in {retry_after_secs} s."),
        );
        e.retry_after_secs = Some(retry_after_secs);
        e
    }

    pub fn internal(source: impl Into<anyhow::Error>) -> AppError {
        let mut e = AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side; it has been logged.",
        );
        e.source = Some(source.into());
        e
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// Logs server-side causes once; called by both renderings.
    pub fn log(&self) {
        if self.status.is_server_error() {
            match &self.source {
                Some(source) => {
                    tracing::error!(code = self.code, error = %format!("{source:#}"), "request failed")
                }
                None => tracing::warn!(code = self.code, detail = %self.message, "request failed"),
            }
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
                fields: self.fields.clone(),
            },
        }
    }

    /// Adds `Retry-After` where it applies.
    pub fn decorate(&self, response: &mut Response) {
        if let Some(secs) = self.retry_after_secs
            && let Ok(value) = HeaderValue::from_str(&secs.max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let mut response = (self.status, axum::Json(self.body())).into_response();
        self.decorate(&mut response);
        response.extensions_mut().insert(ErrorParts {
            status: self.status,
            code: self.code,
            message: self.message,
            fields: self.fields,
            retry_after_secs: self.retry_after_secs,
        });
        response
    }
}

/// An error's public parts, kept on the response so a browser can be shown a page instead.
#[derive(Clone, Debug)]
pub struct ErrorParts {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: BTreeMap<String, String>,
    pub retry_after_secs: Option<u64>,
}

impl ErrorParts {
    pub fn to_error(&self) -> AppError {
        AppError {
            status: self.status,
            code: self.code,
            message: self.message.clone(),
            fields: self.fields.clone(),
            retry_after_secs: self.retry_after_secs,
            source: None,
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> AppError {
        if let sqlx::Error::PoolTimedOut = e {
            return AppError::unavailable(
                "database_busy",
                "The database is busy; try again shortly.",
            );
        }
        AppError::internal(e)
    }
}

impl AppError {
    /// For background work (jobs), which reports errors as `anyhow`: the internal cause if
    /// there is one, else the message with its code.
    pub fn into_anyhow(self) -> anyhow::Error {
        match self.source {
            Some(e) => e,
            None => anyhow::anyhow!("{}: {}", self.code, self.message),
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> AppError {
        AppError::internal(e)
    }
}

/// Collects field problems while parsing a form or JSON body.
#[derive(Default, Debug)]
pub struct Fields(BTreeMap<String, String>);

impl Fields {
    /// Records the problem, if any, and hands back the parsed value.
    pub fn check<T>(&mut self, name: &str, parsed: Result<T, &'static str>) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(problem) => {
                self.0
                    .entry(name.to_string())
                    .or_insert_with(|| problem.to_string());
                None
            }
        }
    }

    pub fn add(&mut self, name: &str, problem: &str) {
        self.0
            .entry(name.to_string())
            .or_insert_with(|| problem.to_string());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::validation(self.0))
        }
    }
}

/// Maps a unique-constraint violation to a field error, leaving other errors alone
/// (the `on_constraint` idea from realworld-axum-sqlx).
pub fn on_unique(e: sqlx::Error, field: &str, problem: &str) -> AppError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => AppError::field(field, problem),
        _ => AppError::from(e),
    }
}
