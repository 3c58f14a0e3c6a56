//! Forms with files: one extractor that reads either a plain form or a multipart form with
//! attachments, enforcing the per-file and per-message limits while the bytes arrive, and the
//! one place uploaded files are stored (content-addressed, listed on their message).

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use opsdesk_core::blobs::Blobs;
use opsdesk_core::db::Tx;
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiForm;

use crate::mail::store::{self as mail_store, AttachmentRow};

/// Most files in one form.
pub const MAX_FILES: usize = 10;

/// A file as uploaded.
#[derive(Clone, Debug)]
pub struct Upload {
    /// Safe to offer as a download name.
    pub filename: String,
    /// Lowercase `type/subtype` as declared (never used to decide how to serve it).
    pub content_type: String,
    pub data: Vec<u8>,
}

/// A submitted form: its text fields and its files.
pub struct FormWithFiles {
    pub fields: BTreeMap<String, String>,
    pub files: Vec<Upload>,
}

impl FormWithFiles {
    /// A text field, empty when missing.
    pub fn text(&self, name: &str) -> String {
        self.fields.get(name).cloned().unwrap_or_default()
    }
}

fn too_large(message: String) -> AppError {
    AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
}

fn content_type(declared: Option<&str>) -> String {
    opsdesk_mail::clean::content_type(declared.unwrap_or(""))
}

impl FromRequest<AppState> for FormWithFiles {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            let ApiForm(fields) =
                ApiForm::<BTreeMap<String, String>>::from_request(req, state).await?;
            return Ok(FormWithFiles {
                fields,
                files: Vec::new(),
            });
        }
        let per_file = state.config.mail.max_attachment_bytes;
        let total_limit = state.config.mail.max_message_bytes;
        let mut form = Multipart::from_request(req, state)
            .await
            .map_err(|e| AppError::bad_request("invalid_form", e.body_text()))?;
        let mut fields = BTreeMap::new();
        let mut files = Vec::new();
        let mut total = 0usize;
        let unreadable = |e: axum::extract::multipart::MultipartError| {
            AppError::bad_request("invalid_form", e.body_text())
        };
        while let Some(mut field) = form.next_field().await.map_err(unreadable)? {
            let name = field.name().unwrap_or("").to_string();
            let filename = field.file_name().map(str::to_string);
            let declared = field.content_type().map(str::to_string);
            let mut data = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                total = total.saturating_add(chunk.len());
                if total > total_limit {
                    return Err(too_large(format!(
                        "The form is larger than {total_limit} bytes."
                    )));
                }
                data.extend_from_slice(&chunk);
                if filename.is_some() && data.len() > per_file {
                    return Err(too_large(format!(
                        "{} is larger than the {per_file}-byte limit for one file.",
                        opsdesk_mail::clean::sanitize_filename(filename.as_deref().unwrap_or(""))
                    )));
                }
                if filename.is_none() && data.len() > 1024 * 1024 {
                    return Err(too_large(format!("The field {name} is too long.")));
                }
            }
            match filename {
                // A file input left empty still sends a part with no name and no bytes.
                Some(f) if f.is_empty() && data.is_empty() => {}
                Some(f) => {
                    if files.len() >= MAX_FILES {
                        return Err(AppError::field(
                            "files",
                            "has too many files (at most 10 per message)",
                        ));
                    }
                    files.push(Upload {
                        filename: opsdesk_mail::clean::sanitize_filename(&f),
                        content_type: content_type(declared.as_deref()),
                        data,
                    });
                }
                None => {
                    let text = String::from_utf8(data).map_err(|_| {
                        AppError::bad_request("invalid_text", "A form field is not valid UTF-8.")
                    })?;
                    if text.contains('\0') {
                        return Err(AppError::bad_request(
                            "invalid_text",
                            "Text may not contain NUL characters.",
                        ));
                    }
                    fields.insert(name, text);
                }
            }
        }
        Ok(FormWithFiles { fields, files })
    }
}

/// Stores uploaded files on a message (each file once, by hash).
pub async fn keep(
    tx: &mut Tx,
    blobs: &Blobs,
    ticket_id: &str,
    message_id: &str,
    files: &[Upload],
    now: i64,
) -> Result<(), AppError> {
    for f in files {
        let sha = blobs.put(tx, &f.data, now).await?;
        mail_store::insert_attachment(
            tx,
            &AttachmentRow {
                ticket_id,
                ticket_message_id: message_id,
                filename: &f.filename,
                content_type: &f.content_type,
                size: f.data.len() as i64,
                sha256: &sha,
                inline: false,
                content_id: None,
                now,
            },
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_are_kept_only_when_they_look_like_types() {
        assert_eq!(content_type(Some("Image/PNG")), "image/png");
        assert_eq!(
            content_type(Some("text/html; charset=utf-8")),
            "application/octet-stream"
        );
        assert_eq!(content_type(Some("nonsense")), "application/octet-stream");
        assert_eq!(content_type(None), "application/octet-stream");
    }
}
