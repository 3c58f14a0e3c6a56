//! Cutting the quoted history out of a reply, so a ticket shows what the customer just wrote.
//!
//! Mail clients quote in their own ways: our separator line, "On <date>, <name> wrote:" (Gmail,
//! Apple Mail, Thunderbird, in several languages and often wrapped over two lines), Outlook's
//! "-----Original Message-----" and "From: / Sent: / To:" header blocks, and plain `>` blocks.
//! The rule is to cut at the first line that starts quoted history. It is a heuristic, so it is
//! conservative where it matters: a reply is never reduced to nothing, forwarded messages are
//! kept whole, and a bottom-posted answer below the quote survives.

/// The line we put at the top of every outgoing message; customers reply above it.
pub const REPLY_SEPARATOR: &str = "-- Reply above this line --";

/// Longest signature we remove after a `-- ` line, in lines; a longer tail is probably content.
const MAX_SIGNATURE_LINES: usize = 15;

/// The new text of a reply: quoted history, a trailing `>` block, a `-- ` signature and
/// "Sent from my phone" footers removed. When that would leave nothing but the original had
/// text, the unquoted lines (a bottom-posted answer) or the original, trimmed, come back.
pub fn strip_quoted(text: &str) -> String {
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = normalized.lines().collect();
    let cut = find_cut(&lines);
    let top = finish(&lines[..cut.map_or(lines.len(), |(at, _)| at)]);
    if !top.is_empty() {
        return top;
    }
    if let Some((at, len)) = cut {
        // Nothing above the history: the answer may be below it or between quoted lines.
        let unquoted: Vec<&str> = lines[at + len..]
            .iter()
            .copied()
            .filter(|l| !is_quoted(l))
            .collect();
        let below = finish(&unquoted);
        if !below.is_empty() {
            return below;
        }
    }
    normalized.trim().to_string()
}

/// Removes the trailing quote block, signature and phone footer; joins and trims.
fn finish(lines: &[&str]) -> String {
    let mut kept = trim_trailing(lines, |l| l.trim().is_empty() || is_quoted(l) || is_rule(l));
    kept = strip_phone_footer(kept);
    kept = strip_signature(kept);
    kept = trim_trailing(kept, |l| l.trim().is_empty());
    kept.join("\n").trim().to_string()
}

fn trim_trailing<'a, 'b>(lines: &'a [&'b str], drop: impl Fn(&str) -> bool) -> &'a [&'b str] {
    let end = lines.iter().rposition(|l| !drop(l)).map_or(0, |i| i + 1);
    &lines[..end]
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// The line without leading `>` quote marks and spaces.
fn unquote(line: &str) -> &str {
    line.trim_start_matches(|c: char| c == '>' || c.is_whitespace())
}

/// Where quoted history starts, as (first line, number of lines of the marker itself).
/// Nothing after a forwarded-message marker is cut: a customer forwarding an error report to
/// support wants all of it on the ticket, headers included.
fn find_cut(lines: &[&str]) -> Option<(usize, usize)> {
    for i in 0..lines.len() {
        if is_forward_marker(lines[i]) {
            return None;
        }
        if let Some(len) = cut_at(lines, i) {
            return Some((i, len));
        }
    }
    None
}

fn is_forward_marker(line: &str) -> bool {
    let t = line.trim().to_lowercase();
    let inner = t.trim_matches(|c: char| c == '-' || c.is_whitespace());
    matches!(
        inner,
        "forwarded message"
            | "begin forwarded message:"
            | "weitergeleitete nachricht"
            | "message transféré"
            | "mensaje reenviado"
    )
}

fn cut_at(lines: &[&str], i: usize) -> Option<usize> {
    let line = lines[i];
    if unquote(line).contains(REPLY_SEPARATOR) {
        return Some(1);
    }
    if is_quoted(line) {
        return None;
    }
    if is_original_message_line(line) || is_outlook_header_block(lines, i) {
        return Some(1);
    }
    if is_underscore_rule(line)
        && next_non_blank(lines, i).is_some_and(|j| is_outlook_header_block(lines, j))
    {
        return Some(1);
    }
    if let Some(len) = attribution_len(lines, i) {
        return Some(len);
    }
    None
}

/// The next non-blank line within a few lines (bounded, so thousands of blank lines cannot
/// make the search quadratic).
fn next_non_blank(lines: &[&str], i: usize) -> Option<usize> {
    (i + 1..lines.len())
        .take(5)
        .find(|&j| !lines[j].trim().is_empty())
}

/// `-----Original Message-----` and its translations.
fn is_original_message_line(line: &str) -> bool {
    let t = line.trim();
    if !t.starts_with("--") {
        return false;
    }
    let inner = t
        .trim_matches(|c: char| c == '-' || c.is_whitespace())
        .to_lowercase();
    matches!(
        inner.as_str(),
        "original message"
            | "ursprüngliche nachricht"
            | "message d'origine"
            | "mensaje original"
            | "oorspronkelijk bericht"
            | "messaggio originale"
            | "mensagem original"
    )
}

/// A horizontal rule left above a cut (`---` from an HTML `<hr>`, `____` from Outlook).
fn is_rule(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 3 && t.chars().all(|c| matches!(c, '-' | '_' | '=' | '*'))
}

/// Outlook's separator above its header block (a row of underscores).
fn is_underscore_rule(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 10 && t.chars().all(|c| c == '_')
}

/// Header labels Outlook writes above quoted mail, by role, in the languages we meet most.
const FROM_LABELS: &[&str] = &["from:", "von:", "de:", "van:", "da:"];
const OTHER_LABELS: &[&str] = &[
    "sent:",
    "date:",
    "to:",
    "cc:",
    "subject:",
    "gesendet:",
    "datum:",
    "an:",
    "betreff:",
    "envoyé :",
    "envoyé:",
    "à :",
    "à:",
    "objet :",
    "objet:",
    "enviado:",
    "para:",
    "asunto:",
    "fecha:",
    "verzonden:",
    "aan:",
    "onderwerp:",
    "inviato:",
    "oggetto:",
    "a:",
];

/// The label a line starts with, ignoring Outlook's `*bold*` markers.
fn label_of<'l>(line: &str, labels: &[&'l str]) -> Option<&'l str> {
    let t = line.trim_start().trim_start_matches('*').to_lowercase();
    labels.iter().copied().find(|l| t.starts_with(l))
}

/// `From: ...` followed within a few lines by at least two other header labels (`Sent:`,
/// `To:`, `Subject:`): one "From:" line in a sentence is not enough.
fn is_outlook_header_block(lines: &[&str], i: usize) -> bool {
    if label_of(lines[i], FROM_LABELS).is_none() {
        return false;
    }
    let mut seen: Vec<&str> = Vec::new();
    for line in lines.iter().skip(i + 1).take(6) {
        if let Some(label) = label_of(line, OTHER_LABELS)
            && !seen.contains(&label)
        {
            seen.push(label);
        }
    }
    seen.len() >= 2
}

/// Attribution words: (how the line starts, the verb it contains), lowercase.
const ATTRIBUTIONS: &[(&str, &str)] = &[
    ("on ", "wrote"),
    ("am ", "schrieb"),
    ("le ", "écrit"),
    ("el ", "escribió"),
    ("op ", "schreef"),
    ("il ", "scritto"),
    ("em ", "escreveu"),
    ("den ", "skrev"),
];

/// "On <date>, <name> wrote:" on one to three lines (Gmail wraps long ones), or a short
/// "<name> wrote:" directly followed by `>` lines (Thunderbird without a date). Returns how
/// many lines the attribution spans.
fn attribution_len(lines: &[&str], i: usize) -> Option<usize> {
    let first = lines[i].trim().to_lowercase();
    if first.is_empty() {
        return None;
    }
    let mut joined = first.clone();
    for span in 1..=3 {
        if span > 1 {
            let Some(next) = lines.get(i + span - 1).map(|l| l.trim()) else {
                break;
            };
            if next.is_empty() || is_quoted(next) {
                break;
            }
            joined.push(' ');
            joined.push_str(&next.to_lowercase());
        }
        if is_dated_attribution(&joined) {
            return Some(span);
        }
    }
    let ends_like_attribution = ["wrote:", "schrieb:", "a écrit :", "a écrit:", "escribió:"]
        .iter()
        .any(|end| first.ends_with(end));
    let followed_by_quote = || next_non_blank(lines, i).is_some_and(|j| is_quoted(lines[j]));
    (ends_like_attribution && first.chars().count() <= 120 && followed_by_quote()).then_some(1)
}

fn is_dated_attribution(s: &str) -> bool {
    s.chars().count() <= 300
        && s.ends_with(':')
        && s.chars().any(|c| c.is_ascii_digit())
        && ATTRIBUTIONS
            .iter()
            .any(|(start, verb)| s.starts_with(start) && s.contains(verb))
}

/// Drops a trailing `-- ` signature block when it is short.
fn strip_signature<'a, 'b>(lines: &'a [&'b str]) -> &'a [&'b str] {
    match lines.iter().rposition(|l| l.trim_end() == "--") {
        Some(at) if lines.len() - at <= MAX_SIGNATURE_LINES => &lines[..at],
        _ => lines,
    }
}

/// Drops "Sent from my iPhone" and similar one-line footers at the end.
fn strip_phone_footer<'a, 'b>(lines: &'a [&'b str]) -> &'a [&'b str] {
    let lines = trim_trailing(lines, |l| l.trim().is_empty());
    match lines.split_last() {
        Some((last, rest)) if is_phone_footer(last) => rest,
        _ => lines,
    }
}

fn is_phone_footer(line: &str) -> bool {
    let t = line.trim().to_lowercase();
    t.chars().count() <= 80
        && (t.starts_with("sent from my ")
            || t.starts_with("get outlook for ")
            || (t.starts_with("von meinem ") && t.ends_with("gesendet")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_separator() {
        let text = "Thanks, that worked!\n\n-- Reply above this line --\n\nHi Ann, try this.";
        assert_eq!(strip_quoted(text), "Thanks, that worked!");
        let quoted = "Great\n> -- Reply above this line --\n> old";
        assert_eq!(strip_quoted(quoted), "Great");
    }

    #[test]
    fn gmail_attribution_on_one_or_two_lines() {
        let one = "Yes, please.\n\nOn Mon, Mar 3, 2025 at 10:15 AM Support <help@desk.example> wrote:\n\n> Shall we?\n";
        assert_eq!(strip_quoted(one), "Yes, please.");
        let two = "Yes.\r\n\r\nOn Mon, Mar 3, 2025 at 10:15 AM Very Long Name Support Team <\r\nhelp@desk.example> wrote:\r\n\r\n> Shall we?\r\n";
        assert_eq!(strip_quoted(two), "Yes.");
    }

    #[test]
    fn german_and_apple_attributions() {
        let de = "Danke!\n\nAm 03.03.2025 um 10:15 schrieb Hans Müller <hans@example.de>:\n> Hallo";
        assert_eq!(strip_quoted(de), "Danke!");
        let de_gmail = "Gut.\n\nAm Mo., 3. März 2025 um 10:15 Uhr schrieb Support <\nhelp@desk.example>:\n\n> x";
        assert_eq!(strip_quoted(de_gmail), "Gut.");
        let apple = "Works now.\n\nSent from my iPhone\n\nOn Mar 3, 2025, at 10:15, Support <help@desk.example> wrote:\n\n> Try again";
        assert_eq!(strip_quoted(apple), "Works now.");
    }

    #[test]
    fn thunderbird_without_date() {
        let text = "Fixed.\n\nSupport wrote:\n> Please check\n> again\n";
        assert_eq!(strip_quoted(text), "Fixed.");
        // "wrote:" in prose without a quote after it is kept.
        let prose = "My colleague wrote:\nthe export is empty.";
        assert_eq!(strip_quoted(prose), prose);
    }

    #[test]
    fn outlook_blocks() {
        let original =
            "See attached.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\nold";
        assert_eq!(strip_quoted(original), "See attached.");
        let header = "Done.\n\n________________________________\nFrom: Support <help@desk.example>\nSent: Monday, March 3, 2025 10:15 AM\nTo: Ann <ann@example.com>\nSubject: RE: Login\n\nold text";
        assert_eq!(strip_quoted(header), "Done.");
        let bold = "Ok\n\n*From:* Support\n*Sent:* Monday\n*To:* Ann\n\nold";
        assert_eq!(strip_quoted(bold), "Ok");
        let german = "Erledigt\n\nVon: Support\nGesendet: Montag\nAn: Ann\nBetreff: x\n\nalt";
        assert_eq!(strip_quoted(german), "Erledigt");
        // One "From:" in a sentence is not a header block.
        let prose = "From: the billing team\nwe got nothing.";
        assert_eq!(strip_quoted(prose), prose);
    }

    #[test]
    fn trailing_quote_and_signature() {
        let text = "New answer\n\n-- \nAnn Example\nACME Inc.\n\n> old\n> older\n";
        assert_eq!(strip_quoted(text), "New answer");
        let phone = "ok\n\nGet Outlook for iOS";
        assert_eq!(strip_quoted(phone), "ok");
    }

    #[test]
    fn never_empty_when_there_was_text() {
        assert_eq!(
            strip_quoted("> only quoted\n> text"),
            "> only quoted\n> text"
        );
        assert_eq!(
            strip_quoted("-- \nJust a signature"),
            "-- \nJust a signature"
        );
        assert_eq!(strip_quoted("   "), "");
        assert_eq!(strip_quoted(""), "");
    }

    #[test]
    fn bottom_posting_and_inline_answers_survive() {
        let bottom = "On Mon, Mar 3, 2025 at 10:15 AM Support <s@x> wrote:\n> Does it work?\n\nYes it does.\n\n-- \nAnn";
        assert_eq!(strip_quoted(bottom), "Yes it does.");
        let inline =
            "On 3/3/25 10:15, Support wrote:\n> Which version?\n6.2\n> Which browser?\nFirefox";
        assert_eq!(strip_quoted(inline), "6.2\nFirefox");
    }

    #[test]
    fn forwarded_messages_are_kept() {
        let fwd = "FYI\n\n---------- Forwarded message ---------\nFrom: Bob <bob@x>\nDate: Mon\nSubject: crash\nTo: Ann\n\nIt crashed.";
        assert_eq!(strip_quoted(fwd), fwd);
        let apple =
            "See below\n\nBegin forwarded message:\n\nFrom: Bob\nSubject: x\nDate: y\n\nbody";
        assert_eq!(strip_quoted(apple), apple);
        // A reply quoting a forward is still cut at its attribution.
        let reply = "Thanks\n\nOn Mon, Mar 3, 2025, Bob <b@x> wrote:\n> ---------- Forwarded message ---------\n> x";
        assert_eq!(strip_quoted(reply), "Thanks");
    }

    #[test]
    fn prose_starting_with_on_is_kept() {
        let text = "On Monday the import failed again.\nIt wrote: nothing.";
        assert_eq!(strip_quoted(text), text);
    }

    #[test]
    fn huge_inputs_stay_fast() {
        let blank = format!("x wrote:\n{}", "\n".repeat(200_000));
        assert_eq!(strip_quoted(&blank), "x wrote:");
        let rules = "__________\n\n".repeat(50_000);
        assert_eq!(strip_quoted(&format!("hi\n{rules}")), "hi");
    }
}
