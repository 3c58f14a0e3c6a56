//! HTML to plain text for agents to read, search and quote-strip.
//!
//! Keeps the structure that matters in a ticket: paragraphs and line breaks, list items, quoted
//! blocks as `> ` lines (so a reply's history can be cut like in plain-text mail) and link
//! targets. A small forgiving scanner, linear in the input: broken markup degrades, never fails.

use super::{Tag, decode_entities, read_tag, skip_hidden};

/// Most `> ` prefixes written for nested quotes.
const MAX_QUOTE_PREFIX: usize = 8;

/// Plain text from HTML: tags stripped, entities decoded, block elements on their own lines,
/// `<blockquote>` content prefixed with `> `, script/style/head content dropped.
pub fn html_to_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut out = Out::default();
    let mut pos = 0;
    while pos < html.len() {
        let Some(rel) = html[pos..].find('<') else {
            out.text(&decode_entities(&html[pos..]));
            break;
        };
        let lt = pos + rel;
        if lt > pos {
            out.text(&decode_entities(&html[pos..lt]));
        }
        pos = match read_tag(html, &lower, lt) {
            Some(tag) => handle_tag(&mut out, html, &lower, &tag),
            None => {
                // A `<` that does not start a tag (`a < b`) is just text.
                out.text("<");
                lt + 1
            }
        };
    }
    out.finish()
}

/// Elements that end a paragraph (blank line around them).
const PARAGRAPHS: &[&str] = &[
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "dl", "figure",
];

/// Elements that start a new line.
const LINES: &[&str] = &[
    "div",
    "tr",
    "dt",
    "dd",
    "section",
    "article",
    "header",
    "footer",
    "address",
    "center",
    "form",
    "fieldset",
    "nav",
    "main",
    "aside",
    "figcaption",
    "caption",
    "details",
    "summary",
];

/// Applies one tag to the output and returns where scanning continues.
fn handle_tag(out: &mut Out, html: &str, lower: &str, tag: &Tag<'_>) -> usize {
    let name = tag.name.as_str();
    if name.is_empty() {
        return tag.end;
    }
    if let Some(end) = skip_hidden(html, lower, tag) {
        return end;
    }
    if !tag.closing && name == "head" && !out.head_never_ends {
        // Broken mail often never closes <head>; then only the tag itself is dropped, and
        // later <head> tags do not search again (that would be quadratic).
        let end = lower[tag.end..]
            .find("</head")
            .or_else(|| lower[tag.end..].find("<body"));
        out.head_never_ends = end.is_none();
        return end.map_or(tag.end, |i| tag.end + i);
    }
    match (name, tag.closing) {
        ("br", _) => out.newline(),
        ("hr", _) => {
            out.block(1);
            out.text("---");
            out.block(1);
        }
        ("li", false) => {
            out.block(1);
            out.text("- ");
        }
        ("li", true) => out.block(1),
        ("blockquote", false) => {
            out.block(1);
            out.quote_depth += 1;
        }
        ("blockquote", true) => {
            out.block(1);
            out.quote_depth = out.quote_depth.saturating_sub(1);
        }
        ("pre", false) => {
            out.block(2);
            out.pre_depth += 1;
        }
        ("pre", true) => {
            out.pre_depth = out.pre_depth.saturating_sub(1);
            out.block(2);
        }
        ("td" | "th", false) => out.pending_space = true,
        ("a", false) => {
            out.link = attribute(tag.attrs, "href")
                .map(|href| decode_entities(href.trim()).into_owned())
                .filter(|href| {
                    let h = href.to_ascii_lowercase();
                    h.starts_with("http://") || h.starts_with("https://")
                })
                .map(|href| (href, out.buf.len()));
        }
        ("a", true) => {
            if let Some((href, start)) = out.link.take() {
                let shown = out.buf.get(start..).unwrap_or("").trim();
                // A link around nothing (an image) is usually tracking or decoration.
                if shown != href && !shown.is_empty() {
                    out.text(&format!(" <{href}>"));
                }
            }
        }
        (n, _) if PARAGRAPHS.contains(&n) => out.block(2),
        (n, _) if LINES.contains(&n) => out.block(1),
        _ => {}
    }
    tag.end
}

/// The value of one attribute in a tag's attribute text.
fn attribute<'a>(attrs: &'a str, wanted: &str) -> Option<&'a str> {
    let mut rest = attrs;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            return None;
        }
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        rest = rest[name_end..].trim_start();
        let value = if let Some(after_eq) = rest.strip_prefix('=') {
            let after_eq = after_eq.trim_start();
            let (value, next) = match after_eq.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let body = &after_eq[1..];
                    let end = body.find(q).unwrap_or(body.len());
                    (&body[..end], body.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after_eq.find(char::is_whitespace).unwrap_or(after_eq.len());
                    (&after_eq[..end], &after_eq[end..])
                }
            };
            rest = next;
            value
        } else {
            ""
        };
        if name.eq_ignore_ascii_case(wanted) {
            return Some(value);
        }
        if name.is_empty() {
            // Cannot make progress on stray characters such as a lone `=`.
            rest = rest.get(1..).unwrap_or("");
        }
    }
}

/// The text being built, with the little state line layout needs.
#[derive(Default)]
struct Out {
    buf: String,
    quote_depth: usize,
    pre_depth: usize,
    pending_space: bool,
    /// The open link's target and where its text starts in `buf`.
    link: Option<(String, usize)>,
    /// A `<head>` was seen with neither `</head>` nor `<body>` after it.
    head_never_ends: bool,
}

impl Out {
    fn at_line_start(&self) -> bool {
        self.buf.is_empty() || self.buf.ends_with('\n')
    }

    fn push_char(&mut self, c: char) {
        if self.at_line_start() {
            // Capped: a hostile message nesting thousands of blockquotes must not multiply
            // every line by thousands of prefixes.
            for _ in 0..self.quote_depth.min(MAX_QUOTE_PREFIX) {
                self.buf.push_str("> ");
            }
        }
        self.buf.push(c);
    }

    fn text(&mut self, text: &str) {
        for c in text.chars() {
            if self.pre_depth > 0 {
                match c {
                    '\n' => self.buf.push('\n'),
                    '\r' => {}
                    '\u{a0}' => self.push_char(' '),
                    c => self.push_char(c),
                }
            } else if c.is_whitespace() {
                self.pending_space = true;
            } else {
                if self.pending_space && !self.at_line_start() && !self.buf.ends_with(' ') {
                    self.buf.push(' ');
                }
                self.pending_space = false;
                self.push_char(c);
            }
        }
    }

    fn newline(&mut self) {
        self.buf.push('\n');
        self.pending_space = false;
    }

    /// Makes sure the output ends with at least `n` line breaks (not at the very start).
    fn block(&mut self, n: usize) {
        self.pending_space = false;
        if self.buf.is_empty() {
            return;
        }
        let have = self.buf.len() - self.buf.trim_end_matches('\n').len();
        for _ in have..n {
            self.buf.push('\n');
        }
    }

    fn finish(self) -> String {
        let mut out = String::with_capacity(self.buf.len());
        let mut blank_run = 0;
        for line in self.buf.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                blank_run += 1;
                if blank_run > 1 {
                    continue;
                }
            } else {
                blank_run = 0;
            }
            out.push_str(line);
            out.push('\n');
        }
        out.trim_matches('\n').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_breaks_and_entities() {
        let html = "<html><head><title>T</title><style>p{color:red}</style></head>\
            <body><p>Hello&nbsp;Ann,</p><p>it&#39;s <b>broken</b> &amp; slow &lt;3 &eacute;&#xE9;</p>\
            line one<br>line two</body></html>";
        assert_eq!(
            html_to_text(html),
            "Hello Ann,\n\nit's broken & slow <3 éé\n\nline one\nline two"
        );
    }

    #[test]
    fn scripts_and_comments_are_dropped() {
        let html = "<div>Hi<script>alert('x')</script><!-- secret --> there</div>\
            <SCRIPT type=x>document.write(1)</SCRIPT>ok";
        assert_eq!(html_to_text(html), "Hi there\nok");
        assert_eq!(html_to_text("before<script>never closed"), "before");
    }

    #[test]
    fn lists_links_and_quotes() {
        let html = "<ul><li>one</li><li>two</li></ul>\
            <p><a href=\"https://example.com/x?a=1&amp;b=2\">the page</a> and \
            <a href='https://example.com'>https://example.com</a></p>\
            <div>On Mon, Ann wrote:</div><blockquote>old <b>text</b><br>more</blockquote>";
        assert_eq!(
            html_to_text(html),
            "- one\n- two\n\nthe page <https://example.com/x?a=1&b=2> and https://example.com\n\n\
             On Mon, Ann wrote:\n> old text\n> more"
        );
    }

    #[test]
    fn javascript_links_are_not_shown() {
        assert_eq!(
            html_to_text("<a href=\"javascript:alert(1)\">click</a>"),
            "click"
        );
    }

    #[test]
    fn pre_keeps_whitespace() {
        assert_eq!(
            html_to_text("<p>log:</p><pre>a  b\n  c</pre>end"),
            "log:\n\na  b\n  c\n\nend"
        );
    }

    #[test]
    fn broken_markup_degrades() {
        assert_eq!(html_to_text("a < b and c > d"), "a < b and c > d");
        assert_eq!(html_to_text("<p attr=\"x>y\">text"), "text");
        assert_eq!(html_to_text("<div"), "");
        assert_eq!(
            html_to_text("&bogus; &amp &#xZZ; &#0;"),
            "&bogus; &amp &#xZZ; \u{FFFD}"
        );
        assert_eq!(html_to_text("<head><p>no end of head"), "no end of head");
        assert_eq!(html_to_text("<"), "<");
        assert_eq!(html_to_text("<a href=>x</a><a =>y</a>"), "xy");
    }

    #[test]
    fn quote_prefixes_are_capped() {
        let deep = format!("{}line", "<blockquote>".repeat(10_000));
        assert_eq!(
            html_to_text(&deep),
            format!("{}line", "> ".repeat(MAX_QUOTE_PREFIX))
        );
    }

    #[test]
    fn many_unclosed_heads_stay_linear() {
        let html = format!("{}text", "<head>".repeat(200_000));
        assert_eq!(html_to_text(&html), "text");
    }
}
