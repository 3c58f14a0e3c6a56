//! Wire encodings for outgoing mail: RFC 2047 encoded words, header folding, mailbox syntax,
//! quoted-printable bodies and RFC 5322 dates.
//!
//! Everything returned here is 7-bit ASCII with CRLF line ends and lines short enough for any
//! relay, and no value can end a header early: line breaks only appear as folding that we add.

use base64::Engine as _;

/// Folded header lines stay under this length where the content allows.
const LINE: usize = 78;
/// Bytes of UTF-8 per encoded word: 39 bytes are 52 base64 characters, 64 with the
/// `=?UTF-8?B?...?=` wrapper: inside RFC 2047's 75, and short enough that `Subject: ` plus
/// one word stays under 78.
const WORD_BYTES: usize = 39;

/// `Name: value` with CRLF, the value already folded.
pub(super) fn header(name: &str, value: &str) -> String {
    format!("{name}: {value}\r\n")
}

/// An unstructured value (Subject) for a header called `name`: folded ASCII when it is plain
/// ASCII with reasonable words, otherwise UTF-8 encoded words, one per folded line.
pub(super) fn unstructured(name: &str, text: &str) -> String {
    let plain = text.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !text.contains("=?")
        && text.split(' ').all(|w| w.len() <= LINE - name.len() - 2);
    if plain {
        fold_words(name.len() + 2, text)
    } else {
        encoded_words(text).join("\r\n ")
    }
}

/// Folds at spaces so lines stay under [`LINE`], given what precedes the value on line one.
fn fold_words(first_line_used: usize, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut line_len = first_line_used;
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            if line_len + 1 + word.len() > LINE {
                out.push_str("\r\n ");
                line_len = 1;
            } else {
                out.push(' ');
                line_len += 1;
            }
        }
        out.push_str(word);
        line_len += word.len();
    }
    out
}

/// `=?UTF-8?B?...?=` words covering `text`, split on character boundaries.
pub(super) fn encoded_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > WORD_BYTES {
            words.push(encode_word(&chunk));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() || words.is_empty() {
        words.push(encode_word(&chunk));
    }
    words
}

fn encode_word(chunk: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(chunk.as_bytes());
    format!("=?UTF-8?B?{b64}?=")
}

/// Whether an address is something we can put in a header as is: ASCII, one `@` with both
/// sides present, nothing that ends or restructures a header or an address list.
pub(super) fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && email.len() <= 254
        && !domain.contains('@')
        && email.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'<' | b'>' | b',' | b';' | b'"' | b'(' | b')' | b'\\' | b'[' | b']' | b':'
                )
        })
}

/// `Name <email>` (or the bare address without a name), the name quoted or encoded as needed.
/// The caller has checked the address with [`is_valid_email`].
pub(super) fn mailbox(name: Option<&str>, email: &str) -> String {
    let name = name
        .map(|n| crate::clean::one_line(n, 200))
        .unwrap_or_default();
    if name.is_empty() {
        return email.to_string();
    }
    let atext = |c: char| c.is_ascii_alphanumeric() || " !#$%&'*+-/=?^_`{|}~".contains(c);
    let phrase = if name.chars().all(atext) && !name.contains("=?") {
        name
    } else if name.chars().all(|c| c.is_ascii_graphic() || c == ' ') && !name.contains("=?") {
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\"")
    } else {
        encoded_words(&name).join("\r\n ")
    };
    format!("{phrase} <{email}>")
}

/// Mailboxes joined with commas, folded between them, for a header called `name`.
pub(super) fn address_list(name: &str, mailboxes: &[String]) -> String {
    let mut out = String::new();
    let mut line_len = name.len() + 2;
    for (i, mb) in mailboxes.iter().enumerate() {
        let first_line = mb.split("\r\n").next().unwrap_or("");
        if i > 0 {
            out.push(',');
            if line_len + 2 + first_line.len() > LINE {
                out.push_str("\r\n ");
                line_len = 1;
            } else {
                out.push(' ');
                line_len += 2;
            }
        }
        out.push_str(mb);
        line_len = match mb.rsplit_once("\r\n") {
            Some((_, last)) => last.len(),
            None => line_len + mb.len(),
        };
    }
    out
}

/// A message id as we send it: `<id>`, or `None` when the id could break the header.
pub(super) fn angle_id(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let ok = !id.is_empty()
        && id.len() <= 250
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
    ok.then(|| format!("<{id}>"))
}

/// Quoted-printable (RFC 2045) for UTF-8 text, CRLF line ends, lines of at most 76 characters.
/// A `.` or `From ` at the start of a line is encoded too, so naive relays and mbox files
/// cannot mangle the body.
pub(super) fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 3);
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    for (n, line) in normalized.split('\n').enumerate() {
        if n > 0 {
            out.push_str("\r\n");
        }
        encode_qp_line(line.as_bytes(), &mut out);
    }
    out
}

fn encode_qp_line(bytes: &[u8], out: &mut String) {
    let mut line_len = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let last = i + 1 == bytes.len();
        let token = |line_len: usize| -> String {
            let at_start = line_len == 0;
            let literal = match b {
                b'=' => false,
                b'.' | b'F' if at_start => !(b == b'.' || bytes[i..].starts_with(b"From ")),
                b' ' | b'\t' => !last,
                33..=126 => true,
                _ => false,
            };
            if literal {
                (b as char).to_string()
            } else {
                format!("={b:02X}")
            }
        };
        let mut t = token(line_len);
        // Keep room for the soft break `=` (76 in all), except on the line's last byte.
        let limit = if last { 76 } else { 75 };
        if line_len + t.len() > limit {
            out.push_str("=\r\n");
            line_len = 0;
            t = token(0);
        }
        out.push_str(&t);
        line_len += t.len();
    }
}

/// RFC 5322 date in UTC (`Tue, 04 Mar 2025 09:15:00 +0000`) from Unix milliseconds.
pub(super) fn rfc5322_date(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let day_secs = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let weekday = WEEKDAYS[days.rem_euclid(7) as usize];
    let month_name = MONTHS[(month - 1) as usize];
    format!(
        "{weekday}, {day:02} {month_name} {year:04} {:02}:{:02}:{:02} +0000",
        day_secs / 3600,
        day_secs % 3600 / 60,
        day_secs % 60
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), after Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_741_079_700_000),
            "Tue, 04 Mar 2025 09:15:00 +0000"
        );
        assert_eq!(rfc5322_date(-1000), "Wed, 31 Dec 1969 23:59:59 +0000");
        assert_eq!(
            rfc5322_date(951_782_400_000),
            "Tue, 29 Feb 2000 00:00:00 +0000"
        );
    }

    #[test]
    fn subjects_fold_or_encode() {
        assert_eq!(
            unstructured("Subject", "Login broken [#1]"),
            "Login broken [#1]"
        );
        let long = "word ".repeat(40);
        let folded = unstructured("Subject", long.trim());
        let mut lines = folded.split("\r\n");
        assert!(lines.next().unwrap().len() + 9 <= LINE, "{folded}");
        assert!(lines.all(|l| l.len() <= LINE), "{folded}");
        assert_eq!(folded.replace("\r\n ", " "), long.trim());
        let utf8 = unstructured("Subject", "Grüße aus Köln");
        assert_eq!(utf8, "=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=");
        assert!(unstructured("Subject", "=?x?").starts_with("=?UTF-8?B?"));
        let long_utf8 = unstructured("Subject", &"ü".repeat(100));
        assert!(long_utf8.split("\r\n ").all(|w| w.len() + 9 <= LINE));
        assert_eq!(long_utf8.split("\r\n ").count(), 6);
    }

    #[test]
    fn mailboxes() {
        assert_eq!(mailbox(None, "a@b.c"), "a@b.c");
        assert_eq!(
            mailbox(Some("ACME Support"), "a@b.c"),
            "ACME Support <a@b.c>"
        );
        assert_eq!(
            mailbox(Some("Smith, \"J\""), "a@b.c"),
            "\"Smith, \\\"J\\\"\" <a@b.c>"
        );
        assert_eq!(
            mailbox(Some("Jürgen"), "a@b.c"),
            "=?UTF-8?B?SsO8cmdlbg==?= <a@b.c>"
        );
        assert_eq!(
            mailbox(Some("A\r\nBcc: x@y"), "a@b.c"),
            "\"A Bcc: x@y\" <a@b.c>"
        );
        assert!(is_valid_email("ann.o'neil+tag@example.co.uk"));
        for bad in [
            "",
            "a",
            "@b",
            "a@",
            "a b@c",
            "a@b\r\nBcc: x@y",
            "a<b@c",
            "a@b@c",
            "jö@x.de",
            "a@b,c@d",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn address_lists_fold_between_mailboxes() {
        let many: Vec<String> = (0..8)
            .map(|i| format!("Person {i} <person{i}@example.com>"))
            .collect();
        let list = address_list("To", &many);
        assert!(list.split("\r\n").all(|l| l.len() <= LINE), "{list}");
        assert_eq!(list.replace("\r\n ", " ").matches(", ").count(), 7);
    }

    #[test]
    fn ids() {
        assert_eq!(angle_id("a@b").as_deref(), Some("<a@b>"));
        assert_eq!(angle_id("<a@b>").as_deref(), Some("<a@b>"));
        assert_eq!(angle_id("a b@c"), None);
        assert_eq!(angle_id("a@b>\r\nBcc: x"), None);
        assert_eq!(angle_id(""), None);
    }

    #[test]
    fn quoted_printable_rules() {
        assert_eq!(quoted_printable("a=b"), "a=3Db");
        assert_eq!(quoted_printable("trailing \nx\t"), "trailing=20\r\nx=09");
        assert_eq!(quoted_printable(".\nFrom here"), "=2E\r\n=46rom here");
        assert_eq!(quoted_printable("Grüße"), "Gr=C3=BC=C3=9Fe");
        let long = quoted_printable(&"é".repeat(100));
        assert!(long.split("\r\n").all(|l| l.len() <= 76), "{long}");
        assert!(long.split("\r\n").all(|l| !l.contains("=\r")));
        let plain = quoted_printable(&"x".repeat(200));
        assert!(plain.split("\r\n").all(|l| l.len() <= 76));
        assert_eq!(plain.replace("=\r\n", ""), "x".repeat(200));
    }
}
