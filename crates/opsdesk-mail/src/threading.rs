//! Threading keys: the signed Message-IDs, subject tags and body markers we put on outgoing
//! mail so that replies find their ticket again, and the References header we send.
//!
//! Our Message-IDs carry the ticket number plus an HMAC, so a reply's In-Reply-To names its
//! ticket without a lookup and a forged id cannot attach mail to someone else's ticket. The
//! subject tag `[#1042]` is readable but unsigned, so it only counts for people already on the
//! ticket (see [`decide`]). The body marker survives clients that drop threading headers.

mod decide;

pub use decide::{InboundKeys, Lookups, Prefetched, Thread, Via, decide};

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Hex characters of the HMAC in a Message-ID (64 bits: forging one is out of reach).
const ID_TAG_HEX: usize = 16;
/// Hex characters of the HMAC in a body marker (32 bits: short enough to sit in a footer,
/// still far too many guesses for anyone to hit a given ticket).
const MARKER_TAG_HEX: usize = 8;
/// The local-part prefix of every id we sign.
const ID_PREFIX: &str = "opsdesk";

/// Signs and verifies our Message-IDs and body markers with the installation's secret.
#[derive(Clone)]
pub struct Signer {
    secret: Vec<u8>,
    domain: String,
}

impl std::fmt::Debug for Signer {
    // The secret never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("secret", &"<redacted>")
            .field("domain", &self.domain)
            .finish()
    }
}

impl Signer {
    /// `domain` is the right-hand side of our ids (the support domain); anything that is not a
    /// letter, digit, `.` or `-` is dropped so it cannot break the header.
    pub fn new(secret: impl Into<Vec<u8>>, domain: &str) -> Signer {
        let domain: String = domain
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
            .collect();
        let domain = if domain.is_empty() {
            "localhost".to_string()
        } else {
            domain
        };
        Signer {
            secret: secret.into(),
            domain,
        }
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    fn mac(&self, data: &str) -> HmacSha256 {
        // HMAC takes keys of any length, so this cannot fail; the fallback keeps clippy's
        // no-expect rule without a panic path.
        let mut mac = HmacSha256::new_from_slice(&self.secret)
            .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default()));
        mac.update(data.as_bytes());
        mac
    }

    fn tag_hex(&self, data: &str, hex_len: usize) -> String {
        let digest = self.mac(data).finalize().into_bytes();
        let mut tag = hex::encode(digest);
        tag.truncate(hex_len);
        tag
    }

    /// Constant-time check of a hex tag against `data`.
    fn check(&self, data: &str, tag_hex: &str, hex_len: usize) -> bool {
        if tag_hex.len() != hex_len {
            return false;
        }
        match hex::decode(tag_hex) {
            Ok(bytes) => self.mac(data).verify_truncated_left(&bytes).is_ok(),
            Err(_) => false,
        }
    }

    /// `opsdesk.<ticket>.<key>.<tag>@<domain>`, without angle brackets. The key (say, a message
    /// uuid) keeps only letters, digits, `-` and `_` so the id parses back unambiguously.
    pub fn message_id(&self, ticket_number: i64, message_key: &str) -> String {
        let key = clean_key(message_key);
        let tag = self.tag_hex(&format!("{ticket_number}.{key}"), ID_TAG_HEX);
        format!("{ID_PREFIX}.{ticket_number}.{key}.{tag}@{}", self.domain)
    }

    /// A stable id per ticket that every outgoing message references first, so clients keep
    /// the whole conversation in one thread even when intermediate mails are missing.
    pub fn root_id(&self, ticket_number: i64) -> String {
        self.message_id(ticket_number, "root")
    }

    /// The ticket number in one of our ids (with or without angle brackets), only when the
    /// HMAC matches. The domain is not checked: renaming the support domain must not break
    /// the threads already out there, and the HMAC alone proves we made the id.
    pub fn verify(&self, id: &str) -> Option<i64> {
        let id = id.trim().trim_start_matches('<').trim_end_matches('>');
        let (local, _domain) = id.rsplit_once('@')?;
        let mut parts = local.split('.');
        let prefix = parts.next()?;
        let number = parts.next()?;
        let key = parts.next()?;
        let tag = parts.next()?;
        if parts.next().is_some() || !prefix.eq_ignore_ascii_case(ID_PREFIX) {
            return None;
        }
        if key.is_empty() || clean_key(key) != key {
            return None;
        }
        let ticket = parse_number(number)?;
        self.check(&format!("{ticket}.{key}"), tag, ID_TAG_HEX)
            .then_some(ticket)
    }
}

fn clean_key(key: &str) -> String {
    let key: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    if key.is_empty() { "x".to_string() } else { key }
}

/// A ticket number written in canonical decimal (no `+`, no leading zeros), so one number has
/// exactly one signed spelling.
fn parse_number(s: &str) -> Option<i64> {
    let n: i64 = s.parse().ok()?;
    (n.to_string() == s).then_some(n)
}

/// `[#1042]`.
pub fn subject_tag(number: i64) -> String {
    format!("[#{number}]")
}

/// The subject with the ticket's tag appended, unless that tag is already in it anywhere
/// (replies keep adding `Re:`, they must not keep adding tags).
pub fn tag_subject(subject: &str, number: i64) -> String {
    let tag = subject_tag(number);
    let subject = subject.trim();
    if subject.contains(&tag) {
        subject.to_string()
    } else if subject.is_empty() {
        tag
    } else {
        format!("{subject} {tag}")
    }
}

/// The first `[#<number>]` tag in a subject.
pub fn find_tag(subject: &str) -> Option<i64> {
    subject.match_indices("[#").find_map(|(i, _)| {
        let rest = &subject[i + 2..];
        // Tags are short; looking further would make `[#[#[#...` quadratic.
        let end = rest
            .char_indices()
            .take(20)
            .find(|&(_, c)| c == ']')
            .map(|(i, _)| i)?;
        let digits = &rest[..end];
        if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    })
}

/// A short signed token for the end of outgoing text: `[ref:1042:<8 hex>]`. Clients that drop
/// In-Reply-To still quote the body, and the marker in the quote finds the ticket.
pub fn body_marker(number: i64, signer: &Signer) -> String {
    let tag = signer.tag_hex(&marker_data(number), MARKER_TAG_HEX);
    format!("[ref:{number}:{tag}]")
}

/// Domain separation: a marker's HMAC input can never equal a Message-ID's.
fn marker_data(number: i64) -> String {
    format!("marker.{number}")
}

/// The ticket of the first marker in `text` whose HMAC matches.
pub fn find_marker(text: &str, signer: &Signer) -> Option<i64> {
    text.match_indices("[ref:").find_map(|(i, _)| {
        let rest = &text[i + 5..];
        let end = rest
            .char_indices()
            .take(40)
            .find(|&(_, c)| c == ']')
            .map(|(i, _)| i)?;
        let (number, tag) = rest[..end].split_once(':')?;
        let number = parse_number(number)?;
        signer
            .check(&marker_data(number), tag, MARKER_TAG_HEX)
            .then_some(number)
    })
}

/// The References we send: the ticket's root id first, then the most recent earlier ids
/// (`previous` is oldest first), at most `max` in all. Keeping root + newest is what clients
/// need to thread; the middle of a long conversation adds nothing but header size.
pub fn references_header(root: &str, previous: &[String], max: usize) -> Vec<String> {
    if max == 0 {
        return Vec::new();
    }
    let root = strip_brackets(root);
    let mut newest_first: Vec<&str> = Vec::new();
    for id in previous.iter().rev().map(|id| strip_brackets(id)) {
        if newest_first.len() + 1 >= max {
            break;
        }
        if !id.is_empty() && id != root && !newest_first.contains(&id) {
            newest_first.push(id);
        }
    }
    let mut refs = vec![root.to_string()];
    refs.extend(newest_first.into_iter().rev().map(str::to_string));
    refs
}

fn strip_brackets(id: &str) -> &str {
    id.trim().trim_start_matches('<').trim_end_matches('>')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::new(b"test secret".to_vec(), "Desk.Example.COM")
    }

    #[test]
    fn message_ids_round_trip() {
        let s = signer();
        let id = s.message_id(1042, "0f8e-41aa");
        assert!(id.starts_with("opsdesk.1042.0f8e-41aa."), "{id}");
        assert!(id.ends_with("@desk.example.com"), "{id}");
        let tag = id.split('.').nth(3).unwrap().split('@').next().unwrap();
        assert_eq!(tag.len(), 16);
        assert_eq!(s.verify(&id), Some(1042));
        assert_eq!(s.verify(&format!("<{id}>")), Some(1042));
        assert_eq!(s.root_id(7), s.message_id(7, "root"));
        assert_eq!(s.verify(&s.root_id(7)), Some(7));
        // Deterministic: the same inputs always give the same id.
        assert_eq!(s.message_id(1042, "0f8e-41aa"), id);
    }

    #[test]
    fn forged_ids_are_rejected() {
        let s = signer();
        let id = s.message_id(1042, "abc");
        assert_eq!(s.verify(&id.replace("1042", "1043")), None);
        assert_eq!(s.verify(&id.replace("1042", "01042")), None);
        assert_eq!(s.verify(&id.replace("abc", "abd")), None);
        let other = Signer::new(b"other".to_vec(), "desk.example.com");
        assert_eq!(other.verify(&id), None);
        for bad in [
            "",
            "@",
            "opsdesk.1042.abc@x",
            "opsdesk.1042.abc.zz@x",
            "opsdesk.x.abc.0123456789abcdef@x",
            "random@mail.gmail.com",
            "opsdesk.1042.abc.0123456789abcdef.extra@x",
        ] {
            assert_eq!(s.verify(bad), None, "{bad}");
        }
        // Renaming the domain keeps old ids valid; changing the tag does not.
        assert_eq!(
            s.verify(&id.replace("desk.example.com", "help.example.org")),
            Some(1042)
        );
        let mut tampered = id.clone();
        let at = tampered.find('@').unwrap();
        tampered.replace_range(
            at - 1..at,
            if id.as_bytes()[at - 1] == b'0' {
                "1"
            } else {
                "0"
            },
        );
        assert_eq!(s.verify(&tampered), None);
    }

    #[test]
    fn keys_and_domains_cannot_break_ids() {
        let s = Signer::new(b"k".to_vec(), " evil\r\nBcc: x@y ");
        assert_eq!(s.domain(), "evilbccxy");
        let id = s.message_id(5, "a.b@c <d>");
        assert!(id.starts_with("opsdesk.5.abcd."), "{id}");
        assert_eq!(s.verify(&id), Some(5));
        assert_eq!(Signer::new(b"k".to_vec(), "").domain(), "localhost");
        assert!(format!("{s:?}").contains("<redacted>"));
    }

    #[test]
    fn subject_tags() {
        assert_eq!(subject_tag(1042), "[#1042]");
        assert_eq!(tag_subject("Login broken", 1042), "Login broken [#1042]");
        assert_eq!(
            tag_subject("Re: Login broken [#1042]", 1042),
            "Re: Login broken [#1042]"
        );
        assert_eq!(tag_subject("[#1042] Re: x", 1042), "[#1042] Re: x");
        assert_eq!(tag_subject("  ", 9), "[#9]");
        assert_eq!(find_tag("Re: Login broken [#1042]"), Some(1042));
        assert_eq!(find_tag("Re: [#1042] Grüße aus Köln"), Some(1042));
        assert_eq!(find_tag(&"[#".repeat(100_000)), None);
        assert_eq!(find_tag("[#] [#abc] [#12a] then [#77]"), Some(77));
        assert_eq!(find_tag("no tag #1042"), None);
        assert_eq!(find_tag("[#99999999999999999999]"), None);
        assert_eq!(find_tag("[#"), None);
    }

    #[test]
    fn body_markers() {
        let s = signer();
        let marker = body_marker(1042, &s);
        assert!(marker.starts_with("[ref:1042:") && marker.len() == "[ref:1042:]".len() + 8);
        let quoted = format!("Thanks!\n\n> Hello\n> {marker}\n");
        assert_eq!(find_marker(&quoted, &s), Some(1042));
        assert_eq!(find_marker(&marker.replace("1042", "1043"), &s), None);
        assert_eq!(find_marker("[ref:1042:00000000]", &s), None);
        assert_eq!(find_marker("[ref:", &s), None);
        assert_eq!(find_marker("[ref:1:2:3]", &s), None);
        let other = Signer::new(b"other".to_vec(), "x");
        assert_eq!(find_marker(&marker, &other), None);
        // A forged marker first does not hide a real one later.
        assert_eq!(
            find_marker(&format!("[ref:5:deadbeef] {marker}"), &s),
            Some(1042)
        );
    }

    #[test]
    fn references_keep_root_and_newest() {
        let prev: Vec<String> = (1..=10).map(|i| format!("m{i}@x")).collect();
        assert_eq!(
            references_header("<root@x>", &prev, 4),
            vec!["root@x", "m8@x", "m9@x", "m10@x"]
        );
        assert_eq!(references_header("root@x", &prev, 1), vec!["root@x"]);
        assert!(references_header("root@x", &prev, 0).is_empty());
        let with_dupes = vec![
            "root@x".to_string(),
            "a@x".into(),
            "<a@x>".into(),
            "b@x".into(),
        ];
        assert_eq!(
            references_header("root@x", &with_dupes, 10),
            vec!["root@x", "a@x", "b@x"]
        );
        assert_eq!(references_header("root@x", &[], 5), vec!["root@x"]);
    }
}
