//! Email for the desk: every inbound message (API, pipe, IMAP, SMTP) goes through one intake
//! path that threads it to a ticket; every outgoing message (acknowledgements, replies) is
//! built once, recorded in the outbox and delivered by a durable job.

pub mod api;
pub mod imap;
pub mod intake;
pub mod outbox;
pub mod smtp;
pub mod store;
pub mod templates;

use serde::Serialize;
use utoipa::ToSchema;

pub use outbox::KIND_SEND;

/// One outgoing message and how its delivery went.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Delivery {
    pub id: String,
    /// The ticket message it carries (none for acknowledgements).
    pub message_id: Option<String>,
    /// `ack`, `ack_security` or `reply`.
    pub purpose: String,
    pub recipients: String,
    pub subject: String,
    /// `queued`, `retrying`, `sent`, `failed` or `unsent` (no mail server configured).
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// An attachment as listed on a ticket.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AttachmentInfo {
    pub id: String,
    pub message_id: String,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    #[serde(skip)]
    pub sha256: String,
    pub inline: bool,
}
