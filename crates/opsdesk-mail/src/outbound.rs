//! Outgoing mail: one ticket message in, the exact RFC 5322 bytes to hand to SMTP out.
//!
//! The builder puts every threading key on the message (signed Message-ID, In-Reply-To, a
//! References list rooted at the ticket, the subject tag, the body marker) and the loop guards
//! (`Auto-Submitted` on anything automatic). It is pure: the date and the message key come from
//! the caller, so the same input always gives the same bytes and tests can compare them. Header
//! values are made safe here, so callers cannot inject headers whatever text they pass.

mod encode;

use sha2::{Digest, Sha256};

use crate::clean;
use crate::parse::Address;
use crate::quote::REPLY_SEPARATOR;
use crate::threading::{Signer, body_marker, references_header, tag_subject};

/// Most ids we send in References: the root plus the newest ones.
pub const MAX_REFERENCES_SENT: usize = 20;

/// A message to send on a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// Brand name and support address (`ACME Support <help@acme.example>`).
    pub from: Address,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    /// The subject without tag; the ticket's tag is added once.
    pub subject: String,
    pub ticket_number: i64,
    /// Unique per message (its uuid, say); part of the signed Message-ID.
    pub message_key: String,
    /// The customer's last Message-ID, when answering one.
    pub in_reply_to: Option<String>,
    /// Earlier Message-IDs on the ticket, oldest first, for References.
    pub previous_ids: Vec<String>,
    /// Auto-acknowledgements and notifications: marked `Auto-Submitted: auto-replied` so
    /// well-behaved systems never answer them.
    pub automatic: bool,
    /// Date header, Unix milliseconds.
    pub date_ms: i64,
    /// The new text (plain). The separator goes above it and the marker below.
    pub text: String,
    /// An HTML rendering of the same text, produced by our templates (escaped there); it is
    /// sent as the text/html alternative.
    pub html: Option<String>,
    /// Files sent along (multipart/mixed, base64).
    pub attachments: Vec<OutAttachment>,
}

/// A file attached to an outgoing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutAttachment {
    pub filename: String,
    /// `type/subtype`; anything else is sent as `application/octet-stream`.
    pub content_type: String,
    pub data: Vec<u8>,
}

/// A built message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// Our signed Message-ID, without angle brackets: store it with the message.
    pub message_id: String,
    /// The subject as sent (tagged).
    pub subject: String,
    /// The References sent, without angle brackets.
    pub references: Vec<String>,
    /// The whole message, CRLF line ends, 7-bit.
    pub bytes: Vec<u8>,
}

/// Why a message could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("invalid email address: {0:?}")]
    InvalidAddress(String),
    #[error("the message has no recipients")]
    NoRecipients,
}

impl Outbound {
    /// Builds the message bytes. Fails only on addresses that cannot be sent safely.
    pub fn build(&self, signer: &Signer) -> Result<Built, BuildError> {
        if self.to.is_empty() && self.cc.is_empty() {
            return Err(BuildError::NoRecipients);
        }
        let from = mailbox(&self.from)?;
        let to = self.to.iter().map(mailbox).collect::<Result<Vec<_>, _>>()?;
        let cc = self.cc.iter().map(mailbox).collect::<Result<Vec<_>, _>>()?;

        let message_id = signer.message_id(self.ticket_number, &self.message_key);
        let subject = tag_subject(&clean::clean_subject(&self.subject), self.ticket_number);
        let in_reply_to = self.in_reply_to.as_deref().and_then(encode::angle_id);
        let mut previous: Vec<String> = self
            .previous_ids
            .iter()
            .filter(|id| encode::angle_id(id).is_some())
            .cloned()
            .collect();
        // The message we answer is the newest reference, whatever the caller's list says.
        if let Some(parent) = &self.in_reply_to
            && encode::angle_id(parent).is_some()
        {
            previous.push(parent.clone());
        }
        let references = references_header(
            &signer.root_id(self.ticket_number),
            &previous,
            MAX_REFERENCES_SENT,
        );

        let mut head = String::new();
        head.push_str(&encode::header("Date", &encode::rfc5322_date(self.date_ms)));
        head.push_str(&encode::header("From", &from));
        if !to.is_empty() {
            head.push_str(&encode::header("To", &encode::address_list("To", &to)));
        }
        if !cc.is_empty() {
            head.push_str(&encode::header("Cc", &encode::address_list("Cc", &cc)));
        }
        head.push_str(&encode::header(
            "Subject",
            &encode::unstructured("Subject", &subject),
        ));
        head.push_str(&encode::header("Message-ID", &format!("<{message_id}>")));
        if let Some(parent) = &in_reply_to {
            head.push_str(&encode::header("In-Reply-To", parent));
        }
        let refs: Vec<String> = references
            .iter()
            .filter_map(|r| encode::angle_id(r))
            .collect();
        head.push_str(&encode::header("References", &refs.join("\r\n ")));
        if self.automatic {
            head.push_str(&encode::header("Auto-Submitted", "auto-replied"));
            // Exchange would otherwise answer our auto-reply with its own out-of-office.
            head.push_str(&encode::header("X-Auto-Response-Suppress", "All"));
        }
        head.push_str(&encode::header("MIME-Version", "1.0"));

        let marker = body_marker(self.ticket_number, signer);
        let text = plain_body(&self.text, &marker);
        let body = if self.attachments.is_empty() {
            match &self.html {
                None => single_part(&mut head, &text),
                Some(html) => alternative(&mut head, &message_id, &text, &html_body(html, &marker)),
            }
        } else {
            let mut inner_head = String::new();
            let inner = match &self.html {
                None => single_part(&mut inner_head, &text),
                Some(html) => alternative(
                    &mut inner_head,
                    &format!("{message_id}.text"),
                    &text,
                    &html_body(html, &marker),
                ),
            };
            mixed(
                &mut head,
                &message_id,
                &inner_head,
                &inner,
                &self.attachments,
            )
        };

        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body.as_bytes());
        Ok(Built {
            message_id,
            subject,
            references,
            bytes,
        })
    }
}

fn mailbox(address: &Address) -> Result<String, BuildError> {
    let email = address.email.trim();
    if !encode::is_valid_email(email) {
        return Err(BuildError::InvalidAddress(clean::one_line(email, 100)));
    }
    Ok(encode::mailbox(address.name.as_deref(), email))
}

/// Separator first (customers answer above it), then the text, then the marker.
fn plain_body(text: &str, marker: &str) -> String {
    let text = clean::clean_body(text);
    format!(
        "{REPLY_SEPARATOR}\n\n{}\n\n{marker}\n",
        text.trim_matches('\n')
    )
}

/// The same frame in HTML. Only constants and the marker (digits and hex) are added around the
/// caller's HTML; they are escaped anyway so a future change to them cannot inject markup. The
/// marker is small and grey rather than hidden: clients drop hidden content when quoting, and
/// being quoted is its whole purpose.
fn html_body(html: &str, marker: &str) -> String {
    format!(
        "<div style=\"color:#888888;font-size:12px\">{}</div>\n{html}\n\
         <div style=\"color:#aaaaaa;font-size:10px\">{}</div>\n",
        escape_html(REPLY_SEPARATOR),
        escape_html(marker)
    )
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn single_part(head: &mut String, text: &str) -> String {
    head.push_str(&encode::header("Content-Type", "text/plain; charset=utf-8"));
    head.push_str(&encode::header(
        "Content-Transfer-Encoding",
        "quoted-printable",
    ));
    encode::quoted_printable(text)
}

/// multipart/alternative with text and HTML. The boundary starts with `=_`, which can never
/// occur in quoted-printable output (`=` is always followed by hex digits or a line break).
fn alternative(head: &mut String, message_id: &str, text: &str, html: &str) -> String {
    let digest = Sha256::digest(message_id.as_bytes());
    let boundary = format!("=_opsdesk_{}", &hex::encode(digest)[..24]);
    head.push_str(&encode::header(
        "Content-Type",
        &format!("multipart/alternative;\r\n boundary=\"{boundary}\""),
    ));
    let mut body = String::new();
    for (ctype, content) in [("text/plain", text), ("text/html", html)] {
        body.push_str(&format!("--{boundary}\r\n"));
        body.push_str(&encode::header(
            "Content-Type",
            &format!("{ctype}; charset=utf-8"),
        ));
        body.push_str(&encode::header(
            "Content-Transfer-Encoding",
            "quoted-printable",
        ));
        body.push_str("\r\n");
        body.push_str(&encode::quoted_printable(content));
        body.push_str("\r\n");
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    body
}

/// multipart/mixed: the text part(s) first, then each file as a base64 attachment.
fn mixed(
    head: &mut String,
    message_id: &str,
    inner_head: &str,
    inner: &str,
    files: &[OutAttachment],
) -> String {
    use base64::Engine as _;
    let digest = Sha256::digest(format!("{message_id}.mixed").as_bytes());
    let boundary = format!("=_opsdesk_m{}", &hex::encode(digest)[..24]);
    head.push_str(&encode::header(
        "Content-Type",
        &format!("multipart/mixed;\r\n boundary=\"{boundary}\""),
    ));
    let mut body = format!("--{boundary}\r\n{inner_head}\r\n{inner}\r\n");
    for f in files {
        let name = clean::sanitize_filename(&f.filename);
        let ascii = clean::ascii_filename(&name);
        let encoded = clean::rfc2231(&name);
        let ctype = clean::content_type(&f.content_type);
        body.push_str(&format!("--{boundary}\r\n"));
        body.push_str(&encode::header(
            "Content-Type",
            &format!("{ctype}; name=\"{ascii}\""),
        ));
        body.push_str(&encode::header(
            "Content-Disposition",
            &format!("attachment; filename=\"{ascii}\";\r\n filename*=utf-8''{encoded}"),
        ));
        body.push_str(&encode::header("Content-Transfer-Encoding", "base64"));
        body.push_str("\r\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(&f.data);
        for line in b64.as_bytes().chunks(76) {
            body.push_str(&String::from_utf8_lossy(line));
            body.push_str("\r\n");
        }
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    body
}

/// A message that is not part of a ticket conversation (a sign-in link): no subject tag, no
/// marker, no threading headers, always `Auto-Submitted: auto-generated`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub from: Address,
    pub to: Address,
    pub subject: String,
    /// The Message-ID without angle brackets.
    pub message_id: String,
    pub date_ms: i64,
    pub text: String,
}

impl Notice {
    pub fn build(&self) -> Result<Vec<u8>, BuildError> {
        let from = mailbox(&self.from)?;
        let to = mailbox(&self.to)?;
        let mut head = String::new();
        head.push_str(&encode::header("Date", &encode::rfc5322_date(self.date_ms)));
        head.push_str(&encode::header("From", &from));
        head.push_str(&encode::header("To", &encode::address_list("To", &[to])));
        head.push_str(&encode::header(
            "Subject",
            &encode::unstructured("Subject", &clean::clean_subject(&self.subject)),
        ));
        if let Some(id) = encode::angle_id(&self.message_id) {
            head.push_str(&encode::header("Message-ID", &id));
        }
        head.push_str(&encode::header("Auto-Submitted", "auto-generated"));
        head.push_str(&encode::header("X-Auto-Response-Suppress", "All"));
        head.push_str(&encode::header("MIME-Version", "1.0"));
        let body = single_part(&mut head, &clean::clean_body(&self.text));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body.as_bytes());
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn notices_are_plain_and_marked_automatic() {
        let n = super::Notice {
            from: Address {
                email: "support@acme.test".into(),
                name: Some("Acme".into()),
            },
            to: Address {
                email: "pat@customer.test".into(),
                name: None,
            },
            subject: "Your sign-in link\r\nBcc: x@evil.test".into(),
            message_id: "link.1@acme.test".into(),
            date_ms: 0,
            text: "Open https://desk.test/portal/login/abc".into(),
        };
        let raw = String::from_utf8(n.build().unwrap()).unwrap();
        let m = crate::parse(raw.as_bytes()).unwrap();
        assert!(!m.subject.contains('['), "{}", m.subject);
        assert!(!raw.contains("\r\nBcc:"), "{raw}");
        assert!(raw.contains("Auto-Submitted: auto-generated"));
        assert!(m.text.contains("/portal/login/abc"), "{}", m.text);
    }

    use super::*;
    use crate::{AutoKind, find_marker, parse, strip_quoted};

    fn signer() -> Signer {
        Signer::new(b"secret".to_vec(), "desk.example")
    }

    fn addr(email: &str, name: Option<&str>) -> Address {
        Address {
            email: email.into(),
            name: name.map(Into::into),
        }
    }

    fn reply() -> Outbound {
        Outbound {
            from: addr("help@desk.example", Some("ACME Support")),
            to: vec![addr("ann@example.com", Some("Ann Müller"))],
            cc: vec![],
            subject: "Re: Login broken".into(),
            ticket_number: 1042,
            message_key: "0b6c7d1e".into(),
            in_reply_to: Some("CAB123@mail.gmail.com".into()),
            previous_ids: vec!["first@mail.gmail.com".into()],
            automatic: false,
            date_ms: 1_741_079_700_000,
            text: "Hi Ann,\n\nplease clear the cache.\n".into(),
            html: None,
            attachments: Vec::new(),
        }
    }

    #[test]
    fn attachments_go_out_as_base64_parts_and_parse_back() {
        let mut out = reply();
        out.attachments = vec![super::OutAttachment {
            filename: "Übersicht \"Q3\".pdf".into(),
            content_type: "application/pdf".into(),
            data: (0..5000u32).map(|i| (i % 256) as u8).collect(),
        }];
        let built = out.build(&signer()).unwrap();
        let m = crate::parse(&built.bytes).unwrap();
        assert_eq!(
            m.attachments.len(),
            1,
            "{}",
            String::from_utf8_lossy(&built.bytes)
        );
        assert_eq!(m.attachments[0].data, out.attachments[0].data);
        assert!(
            m.attachments[0].filename.contains("bersicht"),
            "{}",
            m.attachments[0].filename
        );
        assert!(
            m.text
                .contains(&out.text.lines().next().unwrap().to_string()),
            "{}",
            m.text
        );
        assert!(built.bytes.is_ascii());
    }

    #[test]
    fn headers_and_body_round_trip_through_the_parser() {
        let s = signer();
        let built = reply().build(&s).unwrap();
        let raw = String::from_utf8(built.bytes.clone()).unwrap();
        assert!(raw.is_ascii());
        assert!(
            raw.contains("Date: Tue, 04 Mar 2025 09:15:00 +0000\r\n"),
            "{raw}"
        );
        assert!(raw.contains("From: ACME Support <help@desk.example>\r\n"));
        assert!(raw.contains("In-Reply-To: <CAB123@mail.gmail.com>\r\n"));
        assert!(!raw.contains("Auto-Submitted"));

        let back = parse(&built.bytes).unwrap();
        assert_eq!(back.subject, "Re: Login broken [#1042]");
        assert_eq!(built.subject, back.subject);
        assert_eq!(back.message_id.as_deref(), Some(built.message_id.as_str()));
        assert_eq!(s.verify(&built.message_id), Some(1042));
        assert_eq!(back.in_reply_to, vec!["CAB123@mail.gmail.com".to_string()]);
        assert_eq!(
            back.references,
            vec![
                s.root_id(1042),
                "first@mail.gmail.com".into(),
                "CAB123@mail.gmail.com".into()
            ]
        );
        assert_eq!(back.to[0].name.as_deref(), Some("Ann Müller"));
        assert_eq!(back.from.unwrap().name.as_deref(), Some("ACME Support"));
        assert_eq!(back.date, Some(1_741_079_700_000));
        assert_eq!(back.auto, AutoKind::Human);
        assert!(back.text.starts_with(REPLY_SEPARATOR), "{}", back.text);
        assert!(back.text.contains("Hi Ann,\n\nplease clear the cache."));
        assert_eq!(find_marker(&back.text, &s), Some(1042));
    }

    #[test]
    fn automatic_messages_are_marked() {
        let mut msg = reply();
        msg.automatic = true;
        let built = msg.build(&signer()).unwrap();
        let raw = String::from_utf8(built.bytes.clone()).unwrap();
        assert!(raw.contains("\r\nAuto-Submitted: auto-replied\r\n"));
        assert_eq!(parse(&built.bytes).unwrap().auto, AutoKind::AutoReply);
    }

    #[test]
    fn header_injection_is_impossible() {
        let mut msg = reply();
        msg.subject = "Hi\r\nBcc: victim@example.com\r\n\r\nbody".into();
        msg.from.name = Some("Evil\nBcc: x@y".into());
        msg.in_reply_to = Some("a@b>\r\nBcc: c@d".into());
        msg.previous_ids = vec!["ok@x".into(), "bad id@x".into()];
        let built = msg.build(&signer()).unwrap();
        let raw = String::from_utf8(built.bytes.clone()).unwrap();
        let head = raw.split("\r\n\r\n").next().unwrap();
        assert!(!head.lines().any(|l| l.starts_with("Bcc")), "{head}");
        assert!(!head.contains("In-Reply-To"), "{head}");
        let back = parse(&built.bytes).unwrap();
        assert_eq!(back.subject, "Hi Bcc: victim@example.com body [#1042]");
        assert!(back.references.contains(&"ok@x".to_string()));
        assert!(!back.references.iter().any(|r| r.contains("bad")));

        let mut bad_to = reply();
        bad_to.to = vec![addr("ann@example.com\r\nBcc: x@y", None)];
        assert!(matches!(
            bad_to.build(&signer()),
            Err(BuildError::InvalidAddress(_))
        ));
        let mut nobody = reply();
        nobody.to.clear();
        assert_eq!(nobody.build(&signer()), Err(BuildError::NoRecipients));
    }

    #[test]
    fn unicode_subjects_and_long_lines_are_encoded() {
        let mut msg = reply();
        msg.subject =
            "Ärger mit dem Login – bitte dringend prüfen, es betrifft alle Nutzer in Köln".into();
        msg.text = format!("{}\nend ", "ü".repeat(300));
        let built = msg.build(&signer()).unwrap();
        let raw = String::from_utf8(built.bytes.clone()).unwrap();
        assert!(raw.is_ascii());
        assert!(raw.split("\r\n").all(|l| l.len() <= 78), "{raw}");
        assert!(!raw.replace("\r\n", "").contains('\n'));
        let back = parse(&built.bytes).unwrap();
        assert_eq!(back.subject, format!("{} [#1042]", msg.subject));
        assert!(back.text.contains(&"ü".repeat(300)));
    }

    #[test]
    fn html_alternative_and_a_customer_reply() {
        let s = signer();
        let mut msg = reply();
        msg.html = Some("<p>Hi Ann,</p><p>please clear the cache.</p>".into());
        let built = msg.build(&s).unwrap();
        let back = parse(&built.bytes).unwrap();
        assert!(back.text.contains("please clear the cache."));
        let html = back.html.unwrap();
        assert!(html.contains("<p>please clear the cache.</p>"), "{html}");
        assert!(html.contains("[ref:1042:"), "{html}");

        // The customer answers from Gmail, which quotes our text part.
        let quoted: String = back.text.lines().map(|l| format!("> {l}\r\n")).collect();
        let answer = format!(
            "From: Ann <ann@example.com>\r\nSubject: Re: {}\r\nMessage-ID: <r1@mail.gmail.com>\r\n\
             In-Reply-To: <{}>\r\nReferences: {}\r\n\r\nThat fixed it, thanks!\r\n\r\n\
             On Tue, Mar 4, 2025 at 10:15 AM ACME Support <help@desk.example> wrote:\r\n\r\n{quoted}",
            built.subject,
            built.message_id,
            built
                .references
                .iter()
                .map(|r| format!("<{r}>"))
                .collect::<Vec<_>>()
                .join(" "),
        );
        let inbound = parse(answer.as_bytes()).unwrap();
        assert_eq!(strip_quoted(&inbound.text), "That fixed it, thanks!");
        let thread = crate::decide(&inbound.thread_keys(), &crate::Prefetched::default(), &s);
        assert_eq!(
            thread,
            crate::Thread::Existing {
                ticket: 1042,
                via: crate::Via::SignedId
            }
        );
    }

    #[test]
    fn same_input_same_bytes() {
        let a = reply().build(&signer()).unwrap();
        let b = reply().build(&signer()).unwrap();
        assert_eq!(a, b);
    }
}
