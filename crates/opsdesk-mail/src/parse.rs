//! Inbound messages: raw RFC 5322 bytes in, one normalized, display-safe [`Inbound`] out.
//!
//! Every way mail reaches the desk (the raw-message API, the pipe, IMAP, the SMTP receiver)
//! ends here, so the rest of the product sees one shape: decoded text in UTF-8, lowercase
//! addresses, ids without angle brackets, HTML already sanitized, attachment names that cannot
//! walk out of a directory, and a verdict on whether a machine sent it. mail-parser does the MIME
//! and charset work (ISO-8859-*, windows-125x, Shift_JIS, base64, quoted-printable, RFC 2047);
//! this module decides what we keep and how it is cleaned.

use mail_parser::{Addr, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType};

use crate::auto::{self, AutoKind};
use crate::clean::{self, sanitize_filename};
use crate::html::{html_to_text, sanitize_html};
use crate::threading::InboundKeys;

/// Most ids kept from `References` (and `In-Reply-To`); real threads rarely go past a few
/// dozen, and a hostile message must not make threading look up thousands.
pub const MAX_REFERENCES: usize = 50;
/// Longest message id we keep, in characters.
const MAX_ID_CHARS: usize = 500;
/// Longest display name we keep, in characters.
const MAX_NAME_CHARS: usize = 200;
/// Longest header value kept in [`Inbound::headers`], in characters.
const MAX_HEADER_CHARS: usize = 8_000;

/// A mailbox: a lowercase address and the display name that came with it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    pub email: String,
    pub name: Option<String>,
}

/// One attachment or inline part (an image referenced from the HTML by `cid:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Safe to use as a download name: see [`crate::clean::sanitize_filename`].
    pub filename: String,
    /// Lowercase `type/subtype`.
    pub content_type: String,
    /// The Content-ID without angle brackets, for `cid:` references.
    pub content_id: Option<String>,
    /// Shown inside the message rather than offered as a file.
    pub inline: bool,
    pub data: Vec<u8>,
}

/// A parsed inbound message, cleaned for storage and display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The Message-ID without angle brackets; many mailers omit it.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    /// At most [`MAX_REFERENCES`], the newest kept.
    pub references: Vec<String>,
    pub from: Option<Address>,
    pub reply_to: Option<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    /// Decoded, on one line, at most 250 characters.
    pub subject: String,
    /// The Date header as Unix milliseconds, when present and valid.
    pub date: Option<i64>,
    /// The whole plain-text body (quotes included; see [`crate::quote::strip_quoted`]).
    pub text: String,
    /// Sanitized HTML body, safe to show, when the message had one.
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    pub auto: AutoKind,
    /// Top-level headers as (name, unfolded value), in order, for display and debugging.
    pub headers: Vec<(String, String)>,
    /// Size of the raw message in bytes.
    pub raw_size: usize,
    /// True when some part could not be decoded cleanly (bad base64, unknown charset...).
    pub encoding_problem: bool,
}

impl Inbound {
    /// Where an answer should go: Reply-To when given, else From.
    pub fn reply_address(&self) -> Option<&Address> {
        self.reply_to.as_ref().or(self.from.as_ref())
    }

    /// The parts of the message that threading looks at.
    pub fn thread_keys(&self) -> InboundKeys {
        InboundKeys {
            message_id: self.message_id.clone(),
            in_reply_to: self.in_reply_to.clone(),
            references: self.references.clone(),
            from: self.from.as_ref().map(|a| a.email.clone()),
            subject: self.subject.clone(),
            text: self.text.clone(),
        }
    }
}

/// Why a message could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the message is empty")]
    Empty,
    #[error("the message has no headers")]
    NoHeaders,
    #[error("the message could not be read")]
    Unreadable,
}

/// Parses a raw message. Malformed MIME, bad encodings and odd headers degrade to whatever could
/// be read; an error comes back only when there is nothing usable. Work is roughly linear in
/// the input, so the size limit belongs to the caller (the API, IMAP and SMTP entry points).
pub fn parse(raw: &[u8]) -> Result<Inbound, ParseError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    // Malformed mail is mail-parser's daily bread, but a bug in it (or in us) must cost one
    // message, not the IMAP poller or SMTP session that called us.
    let parsed = std::panic::catch_unwind(|| {
        let message = MessageParser::default().parse(raw)?;
        Some(build(&message, raw))
    });
    match parsed {
        Ok(Some(inbound)) => inbound,
        Ok(None) => Err(ParseError::NoHeaders),
        Err(_) => Err(ParseError::Unreadable),
    }
}

fn build(message: &Message<'_>, raw: &[u8]) -> Result<Inbound, ParseError> {
    let headers = raw_headers(message, raw);
    if headers.is_empty() {
        return Err(ParseError::NoHeaders);
    }
    let (text, html) = bodies(message);
    Ok(Inbound {
        message_id: message.message_id().and_then(clean_id),
        in_reply_to: id_list(message.in_reply_to(), MAX_REFERENCES),
        references: id_list(message.references(), MAX_REFERENCES),
        from: message.from().and_then(|a| a.iter().find_map(address)),
        reply_to: message.reply_to().and_then(|a| a.iter().find_map(address)),
        to: message
            .all_to()
            .flat_map(|a| a.iter())
            .filter_map(address)
            .collect(),
        cc: message
            .all_cc()
            .flat_map(|a| a.iter())
            .filter_map(address)
            .collect(),
        subject: clean::clean_subject(message.subject().unwrap_or("")),
        date: message
            .date()
            .filter(|d| d.is_valid())
            .map(|d| d.to_timestamp().saturating_mul(1000)),
        text,
        html,
        attachments: message.attachments().map(attachment).collect(),
        auto: auto::detect(&headers),
        headers,
        raw_size: raw.len(),
        encoding_problem: message.parts.iter().any(|p| p.is_encoding_problem),
    })
}

/// Top-level headers with their raw values, decoded leniently and unfolded. Auto-detection
/// wants the raw text (`report-type=...`, `<>`), not mail-parser's structured reading.
fn raw_headers(message: &Message<'_>, raw: &[u8]) -> Vec<(String, String)> {
    message
        .headers()
        .iter()
        .map(|h| {
            let bytes = raw
                .get(h.offset_start as usize..h.offset_end as usize)
                .unwrap_or_default();
            let value = String::from_utf8_lossy(bytes);
            (
                clean::one_line(h.name.as_str(), 200),
                clean::one_line(&value, MAX_HEADER_CHARS),
            )
        })
        .collect()
}

/// The plain-text body and the sanitized HTML body.
fn bodies(message: &Message<'_>) -> (String, Option<String>) {
    let mut texts = Vec::new();
    for part in body_parts(message, &message.text_body) {
        match &part.body {
            PartType::Text(text) => texts.push(clean::clean_body(text)),
            PartType::Html(html) => texts.push(clean::clean_body(&html_to_text(html))),
            _ => {}
        }
    }
    let htmls: Vec<String> = body_parts(message, &message.html_body)
        .filter_map(|part| match &part.body {
            PartType::Html(html) => sanitize_html(html),
            _ => None,
        })
        .collect();
    let text = texts
        .iter()
        .map(|t| t.trim_matches('\n'))
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    let html = (!htmls.is_empty()).then(|| htmls.join("\n"));
    (text, html)
}

fn body_parts<'m>(
    message: &'m Message<'m>,
    ids: &'m [u32],
) -> impl Iterator<Item = &'m MessagePart<'m>> {
    ids.iter().filter_map(|&id| message.parts.get(id as usize))
}

fn attachment(part: &MessagePart<'_>) -> Attachment {
    let content_type = part
        .content_type()
        .map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub),
            None => ct.ctype().to_string(),
        })
        .map(|ct| clean::one_line(&ct, 100).to_ascii_lowercase())
        .filter(|ct| ct.contains('/') && !ct.contains(' '))
        .unwrap_or_else(|| {
            match part.body {
                PartType::Text(_) => "text/plain",
                PartType::Html(_) => "text/html",
                PartType::Message(_) => "message/rfc822",
                _ => "application/octet-stream",
            }
            .to_string()
        });
    let content_id = part.content_id().and_then(clean_id);
    let inline = match part.content_disposition() {
        Some(disposition) => disposition.is_inline(),
        None => content_id.is_some(),
    };
    let filename = match (part.attachment_name(), &part.body) {
        (Some(name), _) => sanitize_filename(name),
        // A forwarded message is best saved under its own subject.
        (None, PartType::Message(inner)) => {
            let subject = inner.subject().unwrap_or("message");
            sanitize_filename(&format!("{}.eml", clean::one_line(subject, 150)))
        }
        // No name at all: a typed fallback, so the download opens with the right program.
        (None, _) => format!(
            "{}{}",
            clean::FALLBACK_FILENAME,
            extension_for(&content_type)
        ),
    };
    Attachment {
        filename,
        content_type,
        content_id,
        inline,
        data: part.contents().to_vec(),
    }
}

fn extension_for(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => ".png",
        "image/jpeg" | "image/jpg" => ".jpg",
        "image/gif" => ".gif",
        "image/webp" => ".webp",
        "application/pdf" => ".pdf",
        "application/zip" => ".zip",
        "text/plain" | "message/delivery-status" | "text/rfc822-headers" => ".txt",
        "text/html" => ".html",
        "text/calendar" => ".ics",
        "message/rfc822" => ".eml",
        _ => "",
    }
}

/// A mailbox from mail-parser's reading, or `None` when there is no usable address.
fn address(addr: &Addr<'_>) -> Option<Address> {
    let email = clean::one_line(addr.address()?, 320)
        .trim_matches(['<', '>'])
        .to_lowercase();
    if email.contains(char::is_whitespace) || !is_plausible_email(&email) {
        return None;
    }
    let name = addr
        .name()
        .map(|n| clean::one_line(n.trim_matches('"'), MAX_NAME_CHARS))
        .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case(&email));
    Some(Address { email, name })
}

fn is_plausible_email(email: &str) -> bool {
    match email.rsplit_once('@') {
        Some((local, domain)) => !local.is_empty() && !domain.is_empty(),
        None => false,
    }
}

/// A message id as stored: no angle brackets, no whitespace or control characters, bounded.
pub(crate) fn clean_id(id: &str) -> Option<String> {
    let id: String = id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control() && *c != '<' && *c != '>')
        .take(MAX_ID_CHARS)
        .collect();
    (!id.is_empty()).then_some(id)
}

/// Ids from In-Reply-To or References, cleaned, de-duplicated, the newest `max` kept (in
/// header order). Walking from the newest end and stopping at `max` bounds the work however
/// many ids a hostile header lists.
fn id_list(value: &HeaderValue<'_>, max: usize) -> Vec<String> {
    let raw: &[std::borrow::Cow<'_, str>] = match value {
        HeaderValue::Text(id) => std::slice::from_ref(id),
        HeaderValue::TextList(ids) => ids,
        _ => &[],
    };
    let mut newest_first: Vec<String> = Vec::new();
    for id in raw.iter().rev().filter_map(|id| clean_id(id)) {
        if newest_first.len() >= max {
            break;
        }
        if !newest_first.contains(&id) {
            newest_first.push(id);
        }
    }
    newest_first.reverse();
    newest_first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_headerless_input_is_an_error() {
        assert_eq!(parse(b""), Err(ParseError::Empty));
        assert_eq!(parse(b" \r\n\t"), Err(ParseError::Empty));
        assert!(parse(b"just some words without any header\n").is_err());
    }

    #[test]
    fn minimal_message() {
        let raw = b"From: Ann Example <Ann@Example.COM>\r\n\
            To: support@desk.example, \"Bob\" <bob@example.com>\r\n\
            Subject: Help\r\n\
            Message-ID: <abc@mail.example.com>\r\n\
            Date: Tue, 04 Mar 2025 10:15:00 +0100\r\n\
            \r\n\
            Hello\r\nthere\r\n";
        let m = parse(raw).unwrap();
        assert_eq!(m.message_id.as_deref(), Some("abc@mail.example.com"));
        let from = m.from.clone().unwrap();
        assert_eq!(from.email, "ann@example.com");
        assert_eq!(from.name.as_deref(), Some("Ann Example"));
        assert_eq!(m.to.len(), 2);
        assert_eq!(m.to[1].name.as_deref(), Some("Bob"));
        assert_eq!(m.subject, "Help");
        assert_eq!(m.date, Some(1_741_079_700_000));
        assert_eq!(m.text, "Hello\nthere");
        assert_eq!(m.html, None);
        assert_eq!(m.auto, AutoKind::Human);
        assert_eq!(m.reply_address().unwrap().email, "ann@example.com");
        assert_eq!(m.raw_size, raw.len());
    }

    #[test]
    fn ids_are_cleaned_and_bounded() {
        assert_eq!(clean_id(" <a b@c> ").as_deref(), Some("ab@c"));
        assert_eq!(clean_id("<>"), None);
        let refs: String = (0..80).map(|i| format!("<r{i}@x> ")).collect();
        let raw = format!("From: a@b.c\r\nReferences: {refs}\r\nIn-Reply-To: <r79@x>\r\n\r\nx");
        let m = parse(raw.as_bytes()).unwrap();
        assert_eq!(m.references.len(), MAX_REFERENCES);
        assert_eq!(m.references.first().map(String::as_str), Some("r30@x"));
        assert_eq!(m.references.last().map(String::as_str), Some("r79@x"));
        assert_eq!(m.in_reply_to, vec!["r79@x".to_string()]);
    }

    #[test]
    fn addresses_without_at_are_dropped() {
        let m = parse(b"From: undisclosed-recipients:;\r\nTo: nobody\r\n\r\nx").unwrap();
        assert_eq!(m.from, None);
        assert!(m.to.is_empty());
    }

    #[test]
    fn thread_keys_carry_what_threading_needs() {
        let m = parse(
            b"From: A <a@b.c>\r\nSubject: Re: x [#7]\r\nMessage-ID: <m@x>\r\n\
              In-Reply-To: <p@x>\r\n\r\nbody [ref:7:00000000]",
        )
        .unwrap();
        let keys = m.thread_keys();
        assert_eq!(keys.message_id.as_deref(), Some("m@x"));
        assert_eq!(keys.in_reply_to, vec!["p@x".to_string()]);
        assert_eq!(keys.from.as_deref(), Some("a@b.c"));
        assert_eq!(keys.subject, "Re: x [#7]");
        assert!(keys.text.contains("[ref:7:"));
    }
}
