//! Small text cleaners shared by parsing and building: one-line header text, body text and
//! attachment file names.
//!
//! Inbound text is attacker-controlled and ends up in page titles, download names, logs and
//! outgoing headers, so it is made boring here once: no line breaks in one-line values, no
//! control or bidi-override characters, bounded lengths, no path tricks in file names.

/// Longest subject we keep, in characters.
pub const MAX_SUBJECT_CHARS: usize = 250;
/// Longest attachment file name we keep, in characters.
pub const MAX_FILENAME_CHARS: usize = 200;
/// Name used when an attachment has no usable file name.
pub const FALLBACK_FILENAME: &str = "attachment";

/// Characters that reorder or hide text when displayed (bidi overrides and isolates, BOM):
/// `invoice\u{202E}fdp.exe` shows as `invoiceexe.pdf`.
fn is_invisible_trick(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Whitespace-like characters that would break a one-line value apart.
fn is_line_break_like(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}')
}

/// One-line header text: every control character (CR, LF, TAB, NUL, C1, ...) becomes a space,
/// runs of whitespace collapse to one, invisible reordering characters go, the ends are trimmed
/// and the result is cut to `max_chars` characters.
pub fn one_line(value: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(value.len().min(max_chars.saturating_mul(4)));
    let mut pending_space = false;
    let mut count = 0;
    for c in value.chars() {
        if is_invisible_trick(c) {
            continue;
        }
        if is_line_break_like(c) || c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if pending_space && !out.is_empty() {
            if count + 1 >= max_chars {
                break;
            }
            out.push(' ');
            count += 1;
        }
        pending_space = false;
        if count >= max_chars {
            break;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// A subject as stored and shown: decoded text on one line, at most [`MAX_SUBJECT_CHARS`].
pub fn clean_subject(subject: &str) -> String {
    one_line(subject, MAX_SUBJECT_CHARS)
}

/// Body text as stored: LF line ends, no control characters except newline and tab, no
/// invisible reordering characters. Content is otherwise left alone.
pub fn clean_body(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                // CRLF and a lone CR both end a line.
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\n' | '\t' => out.push(c),
            '\u{2028}' | '\u{2029}' => out.push('\n'),
            c if c.is_control() || is_invisible_trick(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// An ASCII stand-in for a file name, safe inside a quoted header parameter: letters, digits
/// and `._- ()` stay, anything else becomes `_` (the exact name goes in [`rfc2231`]).
pub fn ascii_filename(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A UTF-8 file name percent-encoded for `filename*=UTF-8''…` (RFC 2231 / RFC 5987).
pub fn rfc2231(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A declared media type as lowercase `type/subtype`, or `application/octet-stream` when it
/// does not look like one (parameters, odd characters, too long).
pub fn content_type(declared: &str) -> String {
    let t = declared.trim().to_ascii_lowercase();
    let ok = t.len() <= 100
        && t.split_once('/').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/.+-_".contains(c))
        });
    if ok {
        t
    } else {
        "application/octet-stream".into()
    }
}

/// A file name that is safe to offer as a download and to write to disk: only the last path
/// component, no `..`, no control or reordering characters, none of the characters Windows
/// refuses, no leading dots (hidden files), at most [`MAX_FILENAME_CHARS`] with the extension
/// kept when shortened; [`FALLBACK_FILENAME`] when nothing usable is left.
pub fn sanitize_filename(name: &str) -> String {
    // Senders' clients put whole paths in file names (`C:\Users\x\report.pdf`); the last
    // component is what the person meant, and it cannot walk out of a directory.
    let last = name
        .split(['/', '\\'])
        .rev()
        .find(|part| !part.trim().is_empty())
        .unwrap_or("");
    let mut cleaned = String::with_capacity(last.len());
    for c in last.chars() {
        if is_invisible_trick(c) {
            continue;
        }
        if c.is_control() || matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|') {
            cleaned.push('_');
        } else {
            cleaned.push(c);
        }
    }
    while cleaned.contains("..") {
        cleaned = cleaned.replace("..", ".");
    }
    // Leading dots hide files on Unix; trailing dots and spaces are dropped by Windows.
    let trimmed = cleaned
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    let trimmed = one_line(trimmed, usize::MAX);
    if trimmed.is_empty() || trimmed.chars().all(|c| c == '_') {
        return FALLBACK_FILENAME.to_string();
    }
    shorten_keeping_extension(&trimmed, MAX_FILENAME_CHARS)
}

fn shorten_keeping_extension(name: &str, max_chars: usize) -> String {
    if name.chars().count() <= max_chars {
        return name.to_string();
    }
    let ext = name
        .rfind('.')
        .map(|i| &name[i..])
        .filter(|ext| ext.chars().count() <= 16);
    match ext {
        Some(ext) => {
            let keep = max_chars - ext.chars().count();
            let stem: String = name.chars().take(keep).collect();
            format!("{}{ext}", stem.trim_end_matches('.'))
        }
        None => name.chars().take(max_chars).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_removes_breaks_and_controls() {
        assert_eq!(
            one_line("Hello\r\nBcc: victim@example.com", 100),
            "Hello Bcc: victim@example.com"
        );
        assert_eq!(one_line("  a\t\tb \u{0}c\u{85}d  ", 100), "a b c d");
        assert_eq!(one_line("pay\u{202E}fdp.exe", 100), "payfdp.exe");
        assert_eq!(one_line("", 10), "");
    }

    #[test]
    fn one_line_limits_characters_not_bytes() {
        let s = "ä".repeat(300);
        let cut = one_line(&s, 250);
        assert_eq!(cut.chars().count(), 250);
        assert_eq!(clean_subject(&"x ".repeat(400)).chars().count(), 249);
    }

    #[test]
    fn body_line_ends_are_normalized() {
        assert_eq!(clean_body("a\r\nb\rc\nd\u{0}e\u{7}\tf"), "a\nb\nc\nde\tf");
    }

    #[test]
    fn filenames_cannot_escape() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_filename("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(
            sanitize_filename("C:\\Users\\ann\\report.pdf"),
            "report.pdf"
        );
        assert_eq!(sanitize_filename("a..b.txt"), "a.b.txt");
        assert_eq!(sanitize_filename(".."), FALLBACK_FILENAME);
        assert_eq!(sanitize_filename("../"), FALLBACK_FILENAME);
        assert_eq!(sanitize_filename(""), FALLBACK_FILENAME);
        assert_eq!(sanitize_filename(".bashrc"), "bashrc");
        assert_eq!(sanitize_filename("in\r\nvoice.pdf"), "in__voice.pdf");
        assert_eq!(sanitize_filename("what?.pdf"), "what_.pdf");
        assert_eq!(sanitize_filename("inv\u{202E}fdp.exe"), "invfdp.exe");
        assert_eq!(sanitize_filename("Bericht März.pdf"), "Bericht März.pdf");
    }

    #[test]
    fn long_filenames_keep_their_extension() {
        let long = format!("{}.pdf", "a".repeat(500));
        let short = sanitize_filename(&long);
        assert_eq!(short.chars().count(), MAX_FILENAME_CHARS);
        assert!(short.ends_with(".pdf"));
        let no_ext = sanitize_filename(&"b".repeat(500));
        assert_eq!(no_ext.chars().count(), MAX_FILENAME_CHARS);
    }
}
