//! opsdesk-mail: the pure email logic of the support desk.
//!
//! Everything here is a function over bytes and strings: parsing inbound messages into one
//! normalized shape, telling humans from machines, cutting quoted history out of replies,
//! deciding which ticket a message belongs to, and building outgoing messages. No database and
//! no network live here, so every rule is unit-tested; IMAP, SMTP and the store call into it.

// The workspace warns on unwrap/expect to keep panics out of the server; in tests a panic is
// the failure report.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod auto;
pub mod clean;
pub mod html;
pub mod outbound;
pub mod parse;
pub mod quote;
pub mod threading;

pub use auto::AutoKind;
pub use outbound::{BuildError, Built, Notice, OutAttachment, Outbound};
pub use parse::{Address, Attachment, Inbound, ParseError, parse};
pub use quote::{REPLY_SEPARATOR, strip_quoted};
pub use threading::{
    InboundKeys, Lookups, Prefetched, Signer, Thread, Via, body_marker, decide, find_marker,
    find_tag, references_header, subject_tag, tag_subject,
};
