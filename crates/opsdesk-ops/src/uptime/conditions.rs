//! Gatus-style check conditions (pure): parsed once, evaluated against a response.
//!
//! A condition is `LEFT OP RIGHT`. LEFT is a placeholder (`[STATUS]`, `[RESPONSE_TIME]`,
//! `[BODY]`, `[BODY].a.b[0]`, `[CONNECTED]`, `[CERTIFICATE_EXPIRATION]`) or `len(...)` /
//! `has(...)` around a `[BODY]` placeholder. OP is one of `== != < <= > >=`. RIGHT is a
//! number, duration, boolean, bare string, placeholder, `pat(glob*)` or `any(a, b)`.
//! Failures read as Gatus shows them: `[STATUS] (503) == 200`.

use std::borrow::Cow;
use std::cell::OnceCell;

use serde_json::Value;

const UNBALANCED: &str = "unbalanced brackets or parentheses";
const MAX_LEN: usize = 1000;
const SHOW_MAX: usize = 100;
/// Two-character operators first, so `<=` is not read as `<`.
const OPS: [&str; 6] = ["==", "!=", "<=", ">=", "<", ">"];
/// Duration units and their length in ms (Go's, plus `d`).
const UNITS: [(&str, f64); 9] = [
    ("ns", 1e-6),
    ("us", 1e-3),
    ("µs", 1e-3),
    ("μs", 1e-3),
    ("ms", 1.0),
    ("s", 1e3),
    ("m", 6e4),
    ("h", 3.6e6),
    ("d", 8.64e7),
];
const PLACEHOLDERS: &str =
    "[STATUS], [RESPONSE_TIME], [BODY], [CONNECTED], [CERTIFICATE_EXPIRATION]";

/// What a condition is evaluated against.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// HTTP status; None when no response (connection failed).
    pub status: Option<u16>,
    pub response_time_ms: i64,
    /// Response body as text (may be cut).
    pub body: String,
    pub connected: bool,
    /// Time left until the TLS certificate expires, in ms; None for plain HTTP or unknown.
    pub certificate_expires_in_ms: Option<i64>,
    /// Response headers, lower-cased names.
    pub headers: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// A value-producing side: a placeholder, or `len()`/`has()` of a `[BODY]` path.
#[derive(Clone, Debug, PartialEq)]
enum Source {
    Status,
    ResponseTime,
    Connected,
    CertificateExpiration,
    Body(Vec<Seg>),
    Len(Vec<Seg>),
    Has(Vec<Seg>),
}

#[derive(Clone, Debug, PartialEq)]
enum Rhs {
    /// The value compared against (durations already converted to ms).
    Value(String),
    Source(Source),
    Pattern(String),
    Any(Vec<String>),
}

/// A parsed condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    text: String,
    left_text: String,
    left: Source,
    op: &'static str,
    right_text: String,
    right: Rhs,
}

impl Condition {
    /// Parses one condition; the error says what is wrong in words a user can act on, naming the condition.
    pub fn parse(text: &str) -> Result<Condition, String> {
        let text = text.trim();
        let fail = |msg: String| format!("condition `{}`: {msg}", shorten(text, 80));
        if text.is_empty() {
            return Err("condition is empty; write e.g. `[STATUS] == 200`".into());
        }
        if text.chars().count() > MAX_LEN {
            return Err(fail(format!("is longer than {MAX_LEN} characters")));
        }
        check_balanced(text).map_err(fail)?;
        let (at, op) = find_op(text).ok_or_else(|| {
            fail("has no operator; use one of ==, !=, <, <=, >, >= (e.g. `[STATUS] == 200`)".into())
        })?;
        let (left_text, right_text) = (text[..at].trim(), text[at + op.len()..].trim());
        for (side, empty, hint) in [
            (
                "left",
                left_text,
                "start with a placeholder such as [STATUS]",
            ),
            ("right", right_text, "add the value to compare with"),
        ] {
            if empty.is_empty() {
                return Err(fail(format!("nothing {side} of `{op}`; {hint}")));
            }
        }
        let left = parse_source(left_text).map_err(fail)?;
        let right = parse_rhs(right_text, &left, op).map_err(fail)?;
        Ok(Condition {
            text: text.to_string(),
            left_text: left_text.to_string(),
            left,
            op,
            right_text: right_text.to_string(),
            right,
        })
    }

    /// The condition as written (trimmed).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Evaluates; returns Ok(()) when it holds, else Err(description) such as
    /// `[STATUS] (503) == 200`: the condition with the observed left-hand value in parentheses
    /// (and the right-hand one too when it is a placeholder).
    pub fn check(&self, seen: &Observed) -> Result<(), String> {
        let json = OnceCell::new();
        let left =
            resolve(&self.left, seen, &json).map_err(|why| self.describe(why, None, None))?;
        let eq = self.op == "==";
        let mut right_seen = None;
        let holds = match &self.right {
            Rhs::Value(v) => compare(&left, v, self.op),
            Rhs::Pattern(p) => Ok(glob(p, &left) == eq),
            Rhs::Any(list) => Ok(list.iter().any(|v| compare(&left, v, "==") == Ok(true)) == eq),
            Rhs::Source(s) => {
                let r =
                    resolve(s, seen, &json).map_err(|why| self.describe(&left, Some(why), None))?;
                compare(&left, right_seen.insert(r), self.op)
            }
        };
        match holds {
            Ok(true) => Ok(()),
            Ok(false) => Err(self.describe(&left, right_seen.as_deref(), None)),
            Err(note) => Err(self.describe(&left, right_seen.as_deref(), Some(note))),
        }
    }

    fn describe(&self, left: &str, right: Option<&str>, note: Option<&str>) -> String {
        let (l, op, r) = (&self.left_text, self.op, &self.right_text);
        let mut out = format!("{l} ({}) {op} {r}", shorten(left, SHOW_MAX));
        if let Some(v) = right {
            out += &format!(" ({})", shorten(v, SHOW_MAX));
        }
        if let Some(n) = note {
            out += &format!(": {n}");
        }
        out
    }
}

/// Parses many; errors are collected as (index, message).
pub fn parse_all(texts: &[String]) -> Result<Vec<Condition>, Vec<(usize, String)>> {
    let (mut ok, mut errors) = (Vec::with_capacity(texts.len()), Vec::new());
    for (i, t) in texts.iter().enumerate() {
        match Condition::parse(t) {
            Ok(c) => ok.push(c),
            Err(e) => errors.push((i, e)),
        }
    }
    if errors.is_empty() {
        Ok(ok)
    } else {
        Err(errors)
    }
}

fn shorten(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]).into(),
        None => s.into(),
    }
}

fn check_balanced(s: &str) -> Result<(), String> {
    let mut stack = Vec::new();
    for c in s.chars() {
        let open = match c {
            '(' | '[' => {
                stack.push(c);
                continue;
            }
            ')' => '(',
            ']' => '[',
            _ => continue,
        };
        if stack.pop() != Some(open) {
            return Err(format!("has an unmatched `{c}` ({UNBALANCED})"));
        }
    }
    stack.pop().map_or(Ok(()), |c| {
        Err(format!("has an unclosed `{c}` ({UNBALANCED})"))
    })
}

/// The first operator outside brackets and parentheses (the text is balanced).
fn find_op(s: &str) -> Option<(usize, &'static str)> {
    let b = s.as_bytes();
    let mut depth = 0i32;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            _ if depth == 0 => {
                if let Some(op) = OPS.iter().find(|op| b[i..].starts_with(op.as_bytes())) {
                    return Some((i, op));
                }
            }
            _ => {}
        }
    }
    None
}

/// A placeholder, `len([BODY]...)` or `has([BODY]...)`.
fn parse_source(s: &str) -> Result<Source, String> {
    if s.starts_with('[') {
        return parse_placeholder(s);
    }
    let name_end = s.find('(').filter(|&i| {
        i > 0
            && s[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    let Some(i) = name_end else {
        let s = shorten(s, 40);
        return Err(format!(
            "`{s}` is not a placeholder; use one of {PLACEHOLDERS}, len(...) or has(...)"
        ));
    };
    let name = &s[..i];
    if name != "len" && name != "has" {
        return Err(format!(
            "unknown function `{}()`; use len() or has()",
            shorten(name, 40)
        ));
    }
    let inner = s[i + 1..]
        .strip_suffix(')')
        .ok_or_else(|| format!("unexpected text after `{name}(...)`"))?
        .trim();
    if !inner.starts_with('[') {
        return Err(format!(
            "`{name}()` needs a placeholder inside, such as `{name}([BODY].items)`"
        ));
    }
    match parse_placeholder(inner)? {
        Source::Body(path) if name == "len" => Ok(Source::Len(path)),
        Source::Body(path) => Ok(Source::Has(path)),
        _ => Err(format!("`{name}()` works only with [BODY]")),
    }
}

fn parse_placeholder(s: &str) -> Result<Source, String> {
    let close = s.find(']').ok_or("unclosed `[`")?;
    let (name, rest) = (&s[1..close], &s[close + 1..]);
    let source = match name {
        "STATUS" => Source::Status,
        "RESPONSE_TIME" => Source::ResponseTime,
        "CONNECTED" => Source::Connected,
        "CERTIFICATE_EXPIRATION" => Source::CertificateExpiration,
        "BODY" => return Ok(Source::Body(parse_path(rest)?)),
        _ => {
            let name = shorten(name, 40);
            return Err(format!(
                "unknown placeholder `[{name}]`; use one of {PLACEHOLDERS}"
            ));
        }
    };
    if !rest.is_empty() {
        let rest = shorten(rest, 40);
        return Err(format!(
            "`[{name}]` cannot be followed by `{rest}`; only [BODY] takes a JSON path"
        ));
    }
    Ok(source)
}

/// `.key` and `[index]`, repeated: `.items[0].name`, `[0].x`.
fn parse_path(mut rest: &str) -> Result<Vec<Seg>, String> {
    let mut segs = Vec::new();
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let key = &after[..end];
            if key.is_empty() {
                return Err("JSON path has an empty field name (check the dots)".into());
            }
            if key
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, ']' | '(' | ')'))
            {
                return Err(format!(
                    "JSON path field `{}` is not valid",
                    shorten(key, 40)
                ));
            }
            segs.push(Seg::Key(key.to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or("JSON path has an unclosed `[`")?;
            let idx = after[..end].trim();
            let n = Some(idx)
                .filter(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|i| i.parse::<usize>().ok())
                .ok_or_else(|| {
                    let idx = shorten(idx, 40);
                    format!("JSON path index `[{idx}]` must be a whole number such as [0]")
                })?;
            segs.push(Seg::Index(n));
            rest = &after[end + 1..];
        } else {
            return Err(format!(
                "unexpected `{c}` in the JSON path; use `.field` or `[index]`"
            ));
        }
    }
    Ok(segs)
}

fn parse_rhs(s: &str, left: &Source, op: &str) -> Result<Rhs, String> {
    for name in ["pat", "any"] {
        let Some(after) = s.strip_prefix(name).and_then(|a| a.strip_prefix('(')) else {
            continue;
        };
        let inner = after
            .strip_suffix(')')
            .ok_or_else(|| format!("unexpected text after `{name}(...)`"))?;
        if op != "==" && op != "!=" {
            return Err(format!("`{name}()` works only with == and !="));
        }
        if name == "pat" {
            return Ok(Rhs::Pattern(inner.trim().to_string()));
        }
        if inner.trim().is_empty() {
            return Err("`any()` needs at least one value, e.g. any(200, 201)".into());
        }
        let items = inner.split(',').map(|v| typed_value(v.trim(), left));
        return Ok(Rhs::Any(items.collect::<Result<_, _>>()?));
    }
    if s.starts_with('[') || s.starts_with("len(") || s.starts_with("has(") {
        return Ok(Rhs::Source(parse_source(s)?));
    }
    Ok(Rhs::Value(typed_value(s, left)?))
}

/// Checks a right-hand literal against what the left side produces.
fn typed_value(v: &str, left: &Source) -> Result<String, String> {
    let shown = shorten(v, 40);
    match left {
        Source::Status | Source::ResponseTime | Source::Len(_) if number(v).is_none() => {
            Err(format!("`{shown}` is not a number"))
        }
        Source::Connected | Source::Has(_) if v != "true" && v != "false" => {
            Err(format!("`{shown}` must be true or false"))
        }
        Source::CertificateExpiration => duration_ms(v).map(|ms| ms.to_string()).ok_or_else(|| {
            format!("`{shown}` is not a duration; write e.g. 48h, 30m, 7d, 1h30m or 90s")
        }),
        _ => Ok(v.to_string()),
    }
}

/// A plain decimal number (no `inf`/`NaN`).
fn number(s: &str) -> Option<f64> {
    let plain = |b: u8| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E');
    if s.is_empty() || !s.bytes().all(plain) {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A Go-style duration (`1h30m`, `90s`, `1.5h`) plus `d` for days, in ms; a bare number is ms.
fn duration_ms(s: &str) -> Option<i64> {
    let to_i64 = |v: f64| (v.is_finite() && v.abs() < 9e18).then(|| v.round() as i64);
    if let Some(n) = number(s) {
        return to_i64(n);
    }
    let (sign, mut rest) = match s.strip_prefix('-') {
        Some(r) => (-1.0, r),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..n_end].parse().ok()?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = UNITS.iter().find(|(u, _)| *u == &rest[..u_end])?;
        total += n * unit.1;
        rest = &rest[u_end..];
    }
    to_i64(sign * total)
}

/// Numbers compare numerically; otherwise only == and != apply, as strings.
fn compare(l: &str, r: &str, op: &str) -> Result<bool, &'static str> {
    match (number(l), number(r), op) {
        (Some(a), Some(b), _) => Ok(match op {
            "==" => a == b,
            "!=" => a != b,
            "<" => a < b,
            "<=" => a <= b,
            ">" => a > b,
            _ => a >= b,
        }),
        (_, _, "==") => Ok(l == r),
        (_, _, "!=") => Ok(l != r),
        _ => Err("both sides must be numbers"),
    }
}

/// Anchored glob where `*` matches any run: the iterative two-pointer algorithm
/// (O(pattern × text) at worst, never exponential). Byte-wise is fine for UTF-8,
/// since a literal run can only match at a character boundary.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if p.get(pi) == Some(&b'*') {
            star = Some((pi, ti));
            pi += 1;
        } else if p.get(pi) == t.get(ti) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            (pi, ti) = (sp + 1, st + 1);
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p.get(pi..).is_some_and(|r| r.iter().all(|&b| b == b'*'))
}

/// The value a side resolves to, or why there is none. `json` caches the parsed body
/// so it is parsed at most once per check, and only when a JSON path needs it.
fn resolve<'a>(
    src: &'a Source,
    seen: &'a Observed,
    json: &'a OnceCell<Option<Value>>,
) -> Result<Cow<'a, str>, &'static str> {
    let parsed = || {
        json.get_or_init(|| serde_json::from_str(&seen.body).ok())
            .as_ref()
    };
    let at = |path| lookup(parsed().ok_or("body is not JSON")?, path).ok_or("missing");
    let flag = |b: bool| Cow::Borrowed(if b { "true" } else { "false" });
    let count = |n: usize| Ok(n.to_string().into());
    match src {
        Source::Status => seen
            .status
            .map(|s| s.to_string().into())
            .ok_or("no response"),
        Source::ResponseTime => Ok(seen.response_time_ms.to_string().into()),
        Source::Connected => Ok(flag(seen.connected)),
        Source::CertificateExpiration => {
            let ms = seen.certificate_expires_in_ms.ok_or("no certificate")?;
            Ok(ms.to_string().into())
        }
        Source::Has(path) => Ok(flag(parsed().and_then(|j| lookup(j, path)).is_some())),
        Source::Len(path) if path.is_empty() => match parsed() {
            Some(Value::Array(a)) => count(a.len()),
            Some(Value::Object(m)) => count(m.len()),
            _ => count(seen.body.chars().count()),
        },
        Source::Len(path) => match at(path)? {
            Value::Array(a) => count(a.len()),
            Value::Object(m) => count(m.len()),
            Value::String(s) => count(s.chars().count()),
            _ => Err("not an array, object or string"),
        },
        Source::Body(path) if path.is_empty() => Ok(Cow::Borrowed(&seen.body)),
        Source::Body(path) => Ok(match at(path)? {
            Value::String(s) => Cow::Borrowed(s.as_str()),
            v => v.to_string().into(),
        }),
    }
}

fn lookup<'v>(mut v: &'v Value, path: &[Seg]) -> Option<&'v Value> {
    for seg in path {
        v = match (seg, v) {
            (Seg::Key(k), Value::Object(m)) => m.get(k)?,
            (Seg::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Checks a `[BODY]…` path as flows use it to capture a value (`[BODY].token`).
pub fn check_body_path(path: &str) -> Result<(), String> {
    let rest = path.trim().strip_prefix("[BODY]").ok_or_else(|| {
        format!(
            "`{}` must be a [BODY] path such as [BODY].token",
            shorten(path, 60)
        )
    })?;
    parse_path(rest).map(|_| ())
}

/// The value at a `[BODY]…` path in a JSON body, as text (strings without quotes): what a
/// flow's step captures for later steps.
pub fn body_value(body: &str, path: &str) -> Result<String, String> {
    check_body_path(path)?;
    let segs = parse_path(path.trim().trim_start_matches("[BODY]"))?;
    let v: Value = serde_json::from_str(body).map_err(|_| "the body is not JSON".to_string())?;
    match lookup(&v, &segs) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Null) | None => Err(format!("{} is missing", path.trim())),
        Some(other) => Ok(other.to_string()),
    }
}

#[cfg(test)]
#[path = "conditions_tests.rs"]
mod tests;
