//! An ops action's typed parameters (pure): parsed from the configuration once, values checked
//! against them, and the argument list rendered so that each template argument stays exactly one
//! argument whatever the values hold (the program is never run through a shell).

use std::collections::BTreeMap;

use opsdesk_core::config::ParamConfig;
use regex::Regex;

/// The longest value accepted, in characters.
pub const MAX_VALUE_CHARS: usize = 1000;
/// The longest parameter name.
const MAX_NAME_CHARS: usize = 40;

/// What values a parameter takes.
#[derive(Clone, Debug)]
pub enum ParamKind {
    /// One of these values, exactly.
    Enum(Vec<String>),
    /// A whole number, within the range when given.
    Integer { min: Option<i64>, max: Option<i64> },
    /// Text the whole of which matches `pattern` (`source` wrapped in anchors).
    Text { pattern: Regex, source: String },
}

/// A parameter of an action, checked.
#[derive(Clone, Debug)]
pub struct Param {
    pub name: String,
    pub description: String,
    pub kind: ParamKind,
    /// Used when the requester leaves the parameter out (already a valid value).
    pub default: Option<String>,
}

impl Param {
    /// The parameter is required: it has no default.
    pub fn required(&self) -> bool {
        self.default.is_none()
    }
}

/// Reads a parameter from the configuration; the error says what is wrong with it.
pub fn param_from_config(c: &ParamConfig) -> Result<Param, String> {
    if !is_name(&c.name) {
        return Err(format!(
            "parameter name `{}` must be a lower-case letter followed by up to 39 lower-case \
             letters, digits or underscores",
            c.name
        ));
    }
    let mut param = Param {
        name: c.name.clone(),
        description: c.description.clone(),
        kind: kind_from_config(c)?,
        default: None,
    };
    if let Some(d) = &c.default {
        let d = check_value(&param, d)
            .map_err(|e| format!("parameter `{}`: the default `{d}` {e}", c.name))?;
        param.default = Some(d);
    }
    Ok(param)
}

fn kind_from_config(c: &ParamConfig) -> Result<ParamKind, String> {
    let name = &c.name;
    let values = ("values", !c.values.is_empty(), "enum");
    let range = ("min/max", c.min.is_some() || c.max.is_some(), "integer");
    let pattern = ("pattern", c.pattern.is_some(), "string");
    let stray = match c.kind.as_str() {
        "enum" => [range, pattern],
        "integer" => [values, pattern],
        "string" => [values, range],
        other => {
            return Err(format!(
                "parameter `{name}`: type `{other}` is unknown; use enum, integer or string"
            ));
        }
    };
    // A field of another type is most likely a mistake about this one's type.
    if let Some((field, _, kind)) = stray.iter().find(|(_, set, _)| *set) {
        return Err(format!(
            "parameter `{name}`: `{field}` applies only to {kind} parameters"
        ));
    }
    match (c.kind.as_str(), c.min, c.max) {
        ("enum", ..) if c.values.is_empty() => {
            Err(format!("enum parameter `{name}` needs at least one value"))
        }
        ("enum", ..) => {
            for v in &c.values {
                plain(v).map_err(|e| format!("parameter `{name}`: value `{v}` {e}"))?;
            }
            Ok(ParamKind::Enum(c.values.clone()))
        }
        ("integer", Some(min), Some(max)) if min > max => Err(format!(
            "parameter `{name}`: min ({min}) is above max ({max})"
        )),
        ("integer", min, max) => Ok(ParamKind::Integer { min, max }),
        _ => text_kind(name, c.pattern.as_deref()),
    }
}

/// A string parameter's kind: its pattern is required, and anchored to the whole value.
fn text_kind(name: &str, pattern: Option<&str>) -> Result<ParamKind, String> {
    let pat = pattern.ok_or_else(|| {
        format!(
            "string parameter `{name}` needs a `pattern` its values must match, \
             e.g. \"[a-z0-9-]+\""
        )
    })?;
    let source = format!("^(?:{pat})$");
    let pattern = Regex::new(&source).map_err(|e| {
        format!("parameter `{name}`: pattern `{pat}` is not a valid regular expression: {e}")
    })?;
    Ok(ParamKind::Text { pattern, source })
}

/// Reads all of an action's parameters, refusing a name used twice.
pub fn params_from_config(cs: &[ParamConfig]) -> Result<Vec<Param>, String> {
    let mut params: Vec<Param> = Vec::with_capacity(cs.len());
    for c in cs {
        let p = param_from_config(c)?;
        if params.iter().any(|q| q.name == p.name) {
            return Err(format!("parameter `{}` is defined twice", p.name));
        }
        params.push(p);
    }
    Ok(params)
}

/// Checks the values a requester gave: the full map of values (defaults filled in, integers in
/// their canonical form), or every problem as (parameter, message). A value left empty counts as
/// left out. Shell metacharacters are no concern here: values only ever become plain arguments.
pub fn check_values(
    params: &[Param],
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Vec<(String, String)>> {
    let mut problems = Vec::new();
    for name in given.keys() {
        if !params.iter().any(|p| &p.name == name) {
            problems.push((
                name.clone(),
                "is not a parameter of this action".to_string(),
            ));
        }
    }
    let mut values = BTreeMap::new();
    for p in params {
        let value = given.get(&p.name).filter(|v| !v.is_empty());
        match value.or(p.default.as_ref()) {
            None => problems.push((p.name.clone(), "is required".to_string())),
            Some(v) => match check_value(p, v) {
                Ok(v) => {
                    values.insert(p.name.clone(), v);
                }
                Err(e) => problems.push((p.name.clone(), e)),
            },
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

/// One value against its parameter: the value as it will be used, or what is wrong with it.
fn check_value(p: &Param, v: &str) -> Result<String, String> {
    plain(v)?;
    match &p.kind {
        ParamKind::Enum(allowed) if allowed.iter().any(|a| a == v) => Ok(v.to_string()),
        ParamKind::Enum(allowed) => Err(format!("must be one of {}", allowed.join(", "))),
        ParamKind::Integer { min, max } => {
            let n: i64 = v
                .parse()
                .map_err(|_| "must be a whole number".to_string())?;
            match (min, max) {
                (Some(lo), Some(hi)) if n < *lo || n > *hi => {
                    Err(format!("must be between {lo} and {hi}"))
                }
                (Some(lo), _) if n < *lo => Err(format!("must be at least {lo}")),
                (_, Some(hi)) if n > *hi => Err(format!("must be at most {hi}")),
                _ => Ok(n.to_string()),
            }
        }
        ParamKind::Text { pattern, .. } if pattern.is_match(v) => Ok(v.to_string()),
        ParamKind::Text { source, .. } => Err(format!("must match {source}")),
    }
}

/// What no value may be, whatever its type: too long, or holding a NUL or a line break.
fn plain(v: &str) -> Result<(), String> {
    if v.chars().count() > MAX_VALUE_CHARS {
        return Err(format!("must be at most {MAX_VALUE_CHARS} characters"));
    }
    if v.contains(['\0', '\n', '\r']) {
        return Err("must not contain a NUL or a line break".to_string());
    }
    Ok(())
}

/// `^[a-z][a-z0-9_]{0,39}$`, without compiling a regex.
fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && s.len() <= MAX_NAME_CHARS
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A piece of a template argument.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Value(&'a str),
}

/// Splits one template argument into text and `{name}` placeholders (`{{`/`}}` are braces).
fn pieces(arg: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = arg;
    while !rest.is_empty() {
        let at = rest.find(['{', '}']).unwrap_or(rest.len());
        if at > 0 {
            out.push(Piece::Text(&rest[..at]));
        }
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("{{") {
            out.push(Piece::Text("{"));
            rest = after;
        } else if let Some(after) = rest.strip_prefix("}}") {
            out.push(Piece::Text("}"));
            rest = after;
        } else if rest.starts_with('}') {
            return Err(format!(
                "argument `{arg}` has a `}}` without its `{{` (write `}}}}` for a brace)"
            ));
        } else if let Some(after) = rest.strip_prefix('{') {
            let end = after.find('}').ok_or_else(|| {
                format!("argument `{arg}` has a `{{` without its `}}` (write `{{{{` for a brace)")
            })?;
            let name = &after[..end];
            if !is_name(name) {
                return Err(format!(
                    "argument `{arg}`: `{{{name}}}` is not a parameter name (write `{{{{` for a brace)"
                ));
            }
            out.push(Piece::Value(name));
            rest = &after[end + 1..];
        }
    }
    Ok(out)
}

/// The parameter names a template uses, each once, in order of first use; checks the template's
/// braces (for the configuration's load).
pub fn placeholders(template: &[String]) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    for arg in template {
        for piece in pieces(arg)? {
            if let Piece::Value(name) = piece
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_string());
            }
        }
    }
    Ok(names)
}

/// The program's arguments: each template argument becomes exactly one argument, its
/// placeholders replaced by the values (once: a value holding `{x}` is not expanded again).
pub fn render_args(
    template: &[String],
    values: &BTreeMap<String, String>,
) -> Result<Vec<String>, String> {
    template
        .iter()
        .map(|arg| {
            let mut out = String::with_capacity(arg.len());
            for piece in pieces(arg)? {
                match piece {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Value(name) => out.push_str(values.get(name).ok_or_else(|| {
                        format!("argument `{arg}` uses `{{{name}}}`, which has no value")
                    })?),
                }
            }
            Ok(out)
        })
        .collect()
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
