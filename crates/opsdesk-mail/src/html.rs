//! HTML in mail: sanitizing it for display, and turning it into plain text (in [`text`]).
//!
//! Inbound HTML is hostile (scripts, event handlers, `javascript:` links), so the only HTML we
//! keep is what ammonia lets through. Absurdly nested HTML is not sanitized at all: html5ever's
//! tree building is quadratic in nesting depth (50 000 nested `<div>`s take a minute), so such a
//! body is shown as text only.

mod text;

pub use text::html_to_text;

use std::borrow::Cow;

/// Deepest element nesting we hand to the sanitizer. Real mail stays far below (Outlook's
/// nested layout tables reach a few dozen).
pub const MAX_HTML_DEPTH: usize = 256;

/// HTML that is safe to show inside our pages: scripts, styles, event handlers and dangerous
/// URL schemes removed by ammonia. `cid:` URLs stay so the caller can point inline images at the
/// stored attachment; relative URLs (meaningless in mail) are dropped. `None` when the markup
/// nests deeper than [`MAX_HTML_DEPTH`].
pub fn sanitize_html(html: &str) -> Option<String> {
    if nesting_depth(html) > MAX_HTML_DEPTH {
        return None;
    }
    let clean = ammonia::Builder::default()
        .add_url_schemes(["cid"])
        .url_relative(ammonia::UrlRelative::Deny)
        .clean(html)
        .to_string();
    Some(clean)
}

/// Elements without content, and elements whose end tag is optional (the parser closes them
/// itself, so leaving them open does not deepen the tree).
const NOT_NESTING: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "keygen", "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup",
    "thead", "tbody", "tfoot", "colgroup", "caption", "rb", "rt", "rp", "html", "head", "body",
];

/// An upper estimate of how deep elements nest: open tags minus close tags, ignoring void
/// elements and those with optional end tags.
pub fn nesting_depth(html: &str) -> usize {
    let lower = html.to_ascii_lowercase();
    let (mut depth, mut max) = (0usize, 0usize);
    let mut pos = 0;
    while let Some(rel) = html[pos..].find('<') {
        let lt = pos + rel;
        let Some(tag) = read_tag(html, &lower, lt) else {
            pos = lt + 1;
            continue;
        };
        if let Some(end) = skip_hidden(html, &lower, &tag) {
            pos = end;
            continue;
        }
        let self_closing = tag.attrs.trim_end().ends_with('/');
        if !tag.name.is_empty() && !NOT_NESTING.contains(&tag.name.as_str()) {
            if tag.closing {
                depth = depth.saturating_sub(1);
            } else if !self_closing {
                depth += 1;
                max = max.max(depth);
            }
        }
        pos = tag.end.max(lt + 1);
    }
    max
}

/// What the scanner saw at one `<`.
struct Tag<'a> {
    name: String,
    closing: bool,
    /// The attribute text between the name and `>`.
    attrs: &'a str,
    /// Byte offset just after the tag (after `>`), or the end of the input.
    end: usize,
}

/// Reads the markup starting at `lt` (which holds `<`). Comments, doctypes and processing
/// instructions come back as a tag with an empty name so they are skipped.
fn read_tag<'a>(html: &'a str, lower: &str, lt: usize) -> Option<Tag<'a>> {
    let rest = &html[lt + 1..];
    let mut chars = rest.chars();
    let first = chars.next()?;
    if first == '!' || first == '?' {
        let end = if rest.starts_with("!--") {
            lower[lt..].find("-->").map_or(html.len(), |i| lt + i + 3)
        } else {
            rest.find('>').map_or(html.len(), |i| lt + 1 + i + 1)
        };
        return Some(Tag {
            name: String::new(),
            closing: false,
            attrs: "",
            end,
        });
    }
    let (closing, name_start) = if first == '/' {
        (true, lt + 2)
    } else {
        (false, lt + 1)
    };
    let name_len = html[name_start..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == ':'))
        .unwrap_or(html.len() - name_start);
    let name = &lower[name_start..name_start + name_len];
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let attrs_start = name_start + name_len;
    let end = find_tag_end(html, attrs_start);
    let attrs_end = if end > attrs_start && html[..end].ends_with('>') {
        end - 1
    } else {
        end
    };
    Some(Tag {
        name: name.to_string(),
        closing,
        attrs: &html[attrs_start..attrs_end],
        end,
    })
}

/// The offset after the `>` closing a tag, skipping `>` inside quoted attribute values.
fn find_tag_end(html: &str, from: usize) -> usize {
    let mut quote: Option<char> = None;
    for (i, c) in html[from..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return from + i + 1,
            _ => {}
        }
    }
    html.len()
}

/// Elements whose content is never shown as text.
const HIDDEN: &[&str] = &["script", "style", "template", "title", "noembed", "object"];

/// For an opening tag of a [`HIDDEN`] element, where its content ends (after the matching end
/// tag; an unterminated script hides the rest of the input).
fn skip_hidden(html: &str, lower: &str, tag: &Tag<'_>) -> Option<usize> {
    if tag.closing || !HIDDEN.contains(&tag.name.as_str()) {
        return None;
    }
    let close = format!("</{}", tag.name);
    Some(match lower[tag.end..].find(&close) {
        Some(i) => find_tag_end(html, tag.end + i),
        None => html.len(),
    })
}

/// Decodes `&amp;`, `&#233;`, `&#xE9;` and the named entities mail-parser knows. Anything that
/// is not a complete entity stays as written.
pub fn decode_entities(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let entity_len = rest
            .char_indices()
            .take(34)
            .find(|&(_, c)| c == ';')
            .map(|(i, _)| i + 1);
        match entity_len.and_then(|len| decode_entity(&rest[..len]).map(|c| (len, c))) {
            Some((len, c)) => {
                out.push_str(&c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// One `&...;` entity, or `None` when it is not one we can decode.
fn decode_entity(entity: &str) -> Option<String> {
    let body = entity.strip_prefix('&')?.strip_suffix(';')?;
    if let Some(num) = body.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse::<u32>().ok()?,
        };
        let c = char::from_u32(code)
            .filter(|&c| c != '\0')
            .unwrap_or(char::REPLACEMENT_CHARACTER);
        return Some(c.to_string());
    }
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    // mail-parser carries the full HTML entity table; it writes the token back unchanged when
    // the name is unknown, which we treat as "not an entity". The token is ASCII, which the
    // function requires.
    let mut decoded = String::new();
    mail_parser::decoders::html::add_html_token(&mut decoded, entity.as_bytes(), false);
    (decoded != entity).then_some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizer_removes_active_content() {
        let dirty = "<p onclick=\"steal()\">Hi</p><script>alert(1)</script>\
            <img src=\"x\" onerror=\"alert(1)\"><img src=\"cid:logo@x\">\
            <a href=\"javascript:alert(1)\">bad</a><a href=\"https://ok.example\">good</a>";
        let clean = sanitize_html(dirty).unwrap();
        assert!(!clean.contains("onclick"), "{clean}");
        assert!(!clean.contains("onerror"), "{clean}");
        assert!(!clean.contains("script"), "{clean}");
        assert!(!clean.contains("javascript"), "{clean}");
        assert!(clean.contains("src=\"cid:logo@x\""), "{clean}");
        assert!(clean.contains("href=\"https://ok.example\""), "{clean}");
        assert!(clean.contains("<p>Hi</p>"), "{clean}");
    }

    #[test]
    fn nesting_depth_counts_only_real_nesting() {
        assert_eq!(nesting_depth("<div><div><span>x</span></div></div>"), 3);
        assert_eq!(nesting_depth(&"<p>para".repeat(1000)), 0);
        assert_eq!(nesting_depth(&"<br><img src=x><li>".repeat(1000)), 0);
        assert_eq!(nesting_depth(&"<div>x</div>".repeat(1000)), 1);
        assert_eq!(nesting_depth("<div/><x-y />"), 0);
        assert_eq!(nesting_depth("<script><div><div></script>"), 0);
        assert_eq!(nesting_depth("</div></div><div>"), 1);
    }

    #[test]
    fn absurd_nesting_is_not_sanitized() {
        let deep = format!("{}x{}", "<div>".repeat(50_000), "</div>".repeat(50_000));
        assert_eq!(sanitize_html(&deep), None);
        assert_eq!(html_to_text(&deep), "x");
        let ok = format!("{}x{}", "<div>".repeat(200), "</div>".repeat(200));
        assert!(sanitize_html(&ok).is_some());
    }

    #[test]
    fn entities() {
        assert_eq!(
            decode_entities("a &lt;b&gt; &amp;amp; &euro;&#8364;&#x20AC;"),
            "a <b> &amp; €€€"
        );
        assert!(matches!(decode_entities("plain"), Cow::Borrowed("plain")));
    }
}
