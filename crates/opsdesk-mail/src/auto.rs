//! Telling people from machines: is an inbound message a human's mail, an auto-reply, a bounce
//! or bulk/list mail?
//!
//! The desk must never answer a machine automatically (that is how mail loops start) and should
//! not open tickets for bounces. The decision reads only header names and raw values, so it is a
//! pure function tested without any MIME parsing.

/// What kind of sender produced a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AutoKind {
    /// Written by a person: normal processing, automatic answers allowed.
    #[default]
    Human,
    /// Out-of-office, vacation notice or other machine-generated message (RFC 3834).
    AutoReply,
    /// A delivery failure report.
    Bounce,
    /// Mailing-list or bulk mail.
    Bulk,
}

impl AutoKind {
    /// True for anything that must not get an automatic answer.
    pub fn is_automatic(self) -> bool {
        self != AutoKind::Human
    }

    /// A stable lowercase name for storage and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            AutoKind::Human => "human",
            AutoKind::AutoReply => "auto_reply",
            AutoKind::Bounce => "bounce",
            AutoKind::Bulk => "bulk",
        }
    }
}

/// Classifies a message from its top-level headers (name, raw value; names compared without
/// regard to case, folded values allowed).
///
/// Strong signals win over weak ones: a delivery report or a mailer-daemon sender is a bounce
/// even when it also says `Auto-Submitted`; an explicit auto-reply marker beats list headers (a
/// vacation notice sent to a list is still a vacation notice); list and precedence headers come
/// next; a bare `Auto-Submitted` other than `no` and, last, an empty `Return-Path` (which RFC
/// 3834 also recommends for auto-replies, so it is only a bounce when nothing else matched)
/// follow.
pub fn detect<N: AsRef<str>, V: AsRef<str>>(headers: &[(N, V)]) -> AutoKind {
    let h = Headers(headers);
    if is_bounce(&h) {
        return AutoKind::Bounce;
    }
    if is_auto_reply(&h) {
        return AutoKind::AutoReply;
    }
    if is_bulk(&h) {
        return AutoKind::Bulk;
    }
    if h.values("auto-submitted")
        .any(|v| !v.is_empty() && first_token(&v) != "no")
    {
        return AutoKind::AutoReply;
    }
    if h.values("return-path").any(|v| is_null_path(&v)) {
        return AutoKind::Bounce;
    }
    AutoKind::Human
}

struct Headers<'a, N, V>(&'a [(N, V)]);

impl<N: AsRef<str>, V: AsRef<str>> Headers<'_, N, V> {
    /// Unfolded, trimmed, lowercased values of every header with this name.
    fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = String> + 's {
        self.0
            .iter()
            .filter(move |(n, _)| n.as_ref().trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| unfold(v.as_ref()).to_ascii_lowercase())
    }

    fn has(&self, name: &str) -> bool {
        self.values(name).next().is_some()
    }
}

fn unfold(value: &str) -> String {
    value
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The value up to the first `;` or whitespace (`auto-replied; owner-email=...`).
fn first_token(value: &str) -> &str {
    value
        .split(|c: char| c == ';' || c.is_whitespace())
        .next()
        .unwrap_or("")
}

fn is_null_path(value: &str) -> bool {
    let v: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    v == "<>"
}

fn is_bounce<N: AsRef<str>, V: AsRef<str>>(h: &Headers<'_, N, V>) -> bool {
    let report = h.values("content-type").any(|ct| {
        first_token(&ct) == "multipart/report"
            && param(&ct, "report-type").is_some_and(|t| t == "delivery-status")
    });
    if report {
        return true;
    }
    ["from", "sender", "return-path"].iter().any(|name| {
        h.values(name).any(|v| {
            matches!(
                local_part(&v).as_str(),
                "mailer-daemon" | "mail-daemon" | "postmaster"
            )
        })
    })
}

fn is_auto_reply<N: AsRef<str>, V: AsRef<str>>(h: &Headers<'_, N, V>) -> bool {
    let auto_submitted_reply = h
        .values("auto-submitted")
        .any(|v| first_token(&v) == "auto-replied");
    let precedence_reply = h
        .values("precedence")
        .any(|v| first_token(&v) == "auto_reply");
    // Exchange marks its own out-of-office and other automatic mail this way.
    let suppress = h.values("x-auto-response-suppress").any(|v| {
        v.split([',', ' '])
            .map(str::trim)
            .any(|t| t == "all" || t == "oof")
    });
    // Disposition notifications (read receipts) are reports too, but not failures.
    let other_report = h
        .values("content-type")
        .any(|ct| first_token(&ct) == "multipart/report");
    auto_submitted_reply
        || precedence_reply
        || suppress
        || other_report
        || h.has("x-autoreply")
        || h.has("x-autorespond")
}

fn is_bulk<N: AsRef<str>, V: AsRef<str>>(h: &Headers<'_, N, V>) -> bool {
    h.values("precedence")
        .any(|v| matches!(first_token(&v), "bulk" | "junk" | "list"))
        || h.has("list-id")
        || h.has("list-unsubscribe")
}

/// A Content-Type parameter value, unquoted (`report-type="delivery-status"`).
fn param(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == name).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The local part of the (last) address in a header value: `Mail System <MAILER-DAEMON@x>`
/// gives `mailer-daemon`, `<MAILER-DAEMON>` too.
fn local_part(value: &str) -> String {
    let addr = match (value.rfind('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => &value[open + 1..close],
        _ => value.split_whitespace().last().unwrap_or(""),
    };
    let local = addr.split('@').next().unwrap_or("");
    local.trim().trim_matches('"').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(headers: &[(&str, &str)]) -> AutoKind {
        detect(headers)
    }

    #[test]
    fn ordinary_mail_is_human() {
        assert_eq!(
            kind(&[
                ("From", "Ann <ann@example.com>"),
                ("Subject", "Help"),
                ("Return-Path", "<ann@example.com>"),
                ("Content-Type", "multipart/alternative; boundary=x"),
            ]),
            AutoKind::Human
        );
        assert_eq!(kind(&[("Auto-Submitted", "no")]), AutoKind::Human);
        assert_eq!(
            kind(&[("Auto-Submitted", " No ; comment")]),
            AutoKind::Human
        );
        assert_eq!(kind(&[]), AutoKind::Human);
    }

    #[test]
    fn auto_submitted_variants() {
        assert_eq!(
            kind(&[("Auto-Submitted", "auto-replied")]),
            AutoKind::AutoReply
        );
        assert_eq!(
            kind(&[("auto-submitted", "Auto-Generated")]),
            AutoKind::AutoReply
        );
        assert_eq!(
            kind(&[("AUTO-SUBMITTED", "auto-notified; owner-email=\"x@y\"")]),
            AutoKind::AutoReply
        );
        // Notifications sent through a list are bulk rather than a reply.
        assert_eq!(
            kind(&[
                ("Auto-Submitted", "auto-generated"),
                ("List-Id", "<dev.example.com>")
            ]),
            AutoKind::Bulk
        );
        // ...but a vacation reply stays one even on a list.
        assert_eq!(
            kind(&[("Auto-Submitted", "auto-replied"), ("Precedence", "list")]),
            AutoKind::AutoReply
        );
    }

    #[test]
    fn vendor_auto_reply_headers() {
        assert_eq!(kind(&[("X-Autoreply", "yes")]), AutoKind::AutoReply);
        assert_eq!(
            kind(&[("X-Autorespond", "Out of office")]),
            AutoKind::AutoReply
        );
        assert_eq!(
            kind(&[("X-Auto-Response-Suppress", "All")]),
            AutoKind::AutoReply
        );
        assert_eq!(
            kind(&[("X-Auto-Response-Suppress", "DR, OOF")]),
            AutoKind::AutoReply
        );
        assert_eq!(
            kind(&[("X-Auto-Response-Suppress", "DR, RN")]),
            AutoKind::Human
        );
        assert_eq!(kind(&[("Precedence", "auto_reply")]), AutoKind::AutoReply);
    }

    #[test]
    fn bulk_and_lists() {
        for p in ["bulk", "junk", "list", " List "] {
            assert_eq!(kind(&[("Precedence", p)]), AutoKind::Bulk, "{p}");
        }
        assert_eq!(kind(&[("Precedence", "first-class")]), AutoKind::Human);
        assert_eq!(
            kind(&[("List-Id", "Users <users.lists.example.org>")]),
            AutoKind::Bulk
        );
        assert_eq!(
            kind(&[("List-Unsubscribe", "<mailto:leave@example.org>")]),
            AutoKind::Bulk
        );
    }

    #[test]
    fn bounces() {
        assert_eq!(
            kind(&[
                (
                    "From",
                    "Mail Delivery System <MAILER-DAEMON@mx.example.com>"
                ),
                ("Auto-Submitted", "auto-replied"),
            ]),
            AutoKind::Bounce
        );
        assert_eq!(
            kind(&[("From", "postmaster@example.com")]),
            AutoKind::Bounce
        );
        assert_eq!(
            kind(&[("Return-Path", "<MAILER-DAEMON>")]),
            AutoKind::Bounce
        );
        assert_eq!(kind(&[("Return-Path", "<>")]), AutoKind::Bounce);
        assert_eq!(kind(&[("Return-Path", " < > ")]), AutoKind::Bounce);
        assert_eq!(
            kind(&[(
                "Content-Type",
                "multipart/report;\r\n\treport-type=\"delivery-status\";\r\n\tboundary=\"b\""
            )]),
            AutoKind::Bounce
        );
        // A read receipt is a report, not a failure.
        assert_eq!(
            kind(&[(
                "Content-Type",
                "multipart/report; report-type=disposition-notification; boundary=b"
            )]),
            AutoKind::AutoReply
        );
        // An out-of-office with the recommended null return path stays an auto-reply.
        assert_eq!(
            kind(&[("Return-Path", "<>"), ("Auto-Submitted", "auto-replied")]),
            AutoKind::AutoReply
        );
    }

    #[test]
    fn people_named_like_daemons_are_not_bounces() {
        assert_eq!(
            kind(&[("From", "\"postmaster@example.com\" <ann@example.com>")]),
            AutoKind::Human
        );
        assert_eq!(
            kind(&[("From", "mailer-daemon-fan@example.com")]),
            AutoKind::Human
        );
    }

    #[test]
    fn names_for_storage() {
        assert_eq!(AutoKind::Bounce.as_str(), "bounce");
        assert!(AutoKind::Bulk.is_automatic());
        assert!(!AutoKind::Human.is_automatic());
    }
}
