//! Admin-editable email templates: `{{name}}`-style placeholders filled from the ticket, and
//! the check that tells an admin about a placeholder that does not exist before it is saved.

/// The placeholders every template may use.
pub const PLACEHOLDERS: [&str; 5] = ["name", "email", "ref", "subject", "brand"];

/// The longest template subject and body (characters).
pub const MAX_SUBJECT: usize = 200;
pub const MAX_BODY: usize = 20_000;

/// Fills `{{key}}` placeholders from `vars`; unknown ones are left as they are.
pub fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let key = after[..end].trim();
                match vars.iter().find(|(k, _)| *k == key) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Placeholders used in `template` that are not in [`PLACEHOLDERS`].
pub fn unknown_placeholders(template: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let key = after[..end].trim();
        if !PLACEHOLDERS.contains(&key) && !found.iter().any(|f| f == key) {
            found.push(key.to_string());
        }
        rest = &after[end + 2..];
    }
    found
}

/// Checks an edited template: subject one line, both within limits, known placeholders only.
pub fn check(subject: &str, body: &str) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    let known = PLACEHOLDERS.map(|p| format!("{{{{{p}}}}}")).join(", ");
    for (field, text, max) in [("subject", subject, MAX_SUBJECT), ("body", body, MAX_BODY)] {
        if text.trim().is_empty() {
            problems.push((field, "is required".to_string()));
        } else if text.chars().count() > max {
            problems.push((field, format!("is longer than {max} characters")));
        } else if let Some(bad) = unknown_placeholders(text).first() {
            problems.push((
                field,
                format!("uses {{{{{bad}}}}}, which is not a placeholder (use {known})"),
            ));
        }
    }
    if subject.chars().any(char::is_control) {
        problems.push(("subject", "must be one line".to_string()));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_unknown_ones_kept() {
        let vars = [("name", "Ana"), ("ref", "#1001")];
        assert_eq!(
            render("Hi {{name}}, {{ ref }} {{nope}} {{", &vars),
            "Hi Ana, #1001 {{nope}} {{"
        );
        assert_eq!(render("no placeholders", &vars), "no placeholders");
        // A value that looks like a placeholder is not expanded again.
        assert_eq!(render("{{name}}", &[("name", "{{ref}}")]), "{{ref}}");
    }

    #[test]
    fn edits_are_checked() {
        assert!(check("Re: {{subject}}", "Hello {{name}}").is_empty());
        let p = check("", "Hello {{nmae}}");
        assert_eq!(p[0], ("subject", "is required".to_string()));
        assert!(p[1].1.contains("{{nmae}}"), "{p:?}");
        assert_eq!(check("a\r\nBcc: x@y", "b")[0].1, "must be one line");
    }
}
