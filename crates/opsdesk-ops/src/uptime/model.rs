//! What a monitor is: ordered steps (one for a plain HTTP check), each a request with its own
//! conditions, able to capture a value from its JSON response into later steps (`{{token}}`);
//! its interval, timeout and thresholds; checked here so the API and pages agree on validity.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::conditions::Condition;

/// One request of a monitor.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Step {
    /// Shown in results ("login", "me"); defaults to step 1, 2, ….
    pub name: String,
    /// GET (default), HEAD, POST, PUT, PATCH, DELETE or OPTIONS.
    pub method: String,
    /// http:// or https://; may use `{{name}}` of values captured by earlier steps.
    pub url: String,
    /// Request headers; values may use `{{name}}`.
    pub headers: BTreeMap<String, String>,
    /// Request body; may use `{{name}}`.
    pub body: String,
    /// Follow redirects (up to 10); when off, a redirect is the response.
    pub follow_redirects: Option<bool>,
    /// Gatus-style conditions, all of which must hold (default `[STATUS] < 400`).
    pub conditions: Vec<String>,
    /// Values to keep for later steps: name → `[BODY].json.path`.
    pub capture: BTreeMap<String, String>,
}

impl Step {
    pub fn follows(&self) -> bool {
        self.follow_redirects.unwrap_or(true)
    }
}

pub const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
pub const MAX_STEPS: usize = 10;
pub const MIN_INTERVAL_S: i64 = 10;
pub const MAX_INTERVAL_S: i64 = 86_400;
pub const MIN_TIMEOUT_MS: i64 = 100;
pub const MAX_TIMEOUT_MS: i64 = 60_000;

/// A step after checking: method upper-cased, conditions parsed.
#[derive(Clone, Debug)]
pub struct Checked {
    pub step: Step,
    pub conditions: Vec<Condition>,
}

/// Checks steps; problems come back by field name (`steps[1].url`).
pub fn check_steps(steps: &[Step]) -> Result<Vec<Checked>, BTreeMap<String, String>> {
    let mut problems = BTreeMap::new();
    if steps.is_empty() {
        problems.insert("steps".into(), "needs at least one step (a URL)".into());
    }
    if steps.len() > MAX_STEPS {
        problems.insert("steps".into(), format!("at most {MAX_STEPS} steps"));
    }
    let mut out = Vec::new();
    let mut captured: Vec<String> = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let at = |f: &str| format!("steps[{i}].{f}");
        let mut step = s.clone();
        step.method = if s.method.trim().is_empty() {
            "GET".into()
        } else {
            s.method.trim().to_ascii_uppercase()
        };
        if !METHODS.contains(&step.method.as_str()) {
            problems.insert(
                at("method"),
                format!("must be one of {}", METHODS.join(", ")),
            );
        }
        if step.name.trim().is_empty() {
            step.name = format!("step {}", i + 1);
        }
        step.url = s.url.trim().to_string();
        let probe = fill(
            &step.url,
            &captured
                .iter()
                .map(|c| (c.as_str(), "x"))
                .collect::<Vec<_>>(),
        );
        match url::Url::parse(&probe) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            Ok(_) => {
                problems.insert(at("url"), "must be an http:// or https:// URL".into());
            }
            Err(_) => {
                problems.insert(at("url"), "is not a URL".into());
            }
        }
        if step.url.len() > 2_000 || step.body.len() > 100_000 {
            problems.insert(at("url"), "URL or body too long".into());
        }
        for (k, v) in &step.headers {
            if k.is_empty()
                || !k
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                || v.chars().any(|c| c == '\r' || c == '\n')
            {
                problems.insert(
                    at("headers"),
                    format!("header \"{k}\" is not a valid header"),
                );
            }
        }
        if step.conditions.is_empty() {
            step.conditions = vec!["[STATUS] < 400".into()];
        }
        let mut conditions = Vec::new();
        for (k, c) in step.conditions.iter().enumerate() {
            match Condition::parse(c) {
                Ok(c) => conditions.push(c),
                Err(e) => {
                    problems.insert(format!("steps[{i}].conditions[{k}]"), e);
                }
            }
        }
        for (name, path) in &step.capture {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                problems.insert(
                    at("capture"),
                    format!("\"{name}\" must be letters, digits and _"),
                );
            }
            if let Err(e) = super::conditions::check_body_path(path) {
                problems.insert(at("capture"), e);
            }
        }
        captured.extend(step.capture.keys().cloned());
        out.push(Checked { step, conditions });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Replaces `{{name}}` by captured values.
pub fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    out
}

/// A monitor's status as stored: the same four as a heartbeat check's.
pub use crate::heartbeats::model::Status;

/// Consecutive results and the status they lead to: `failure_threshold` failed runs in a row
/// turn a monitor down, `success_threshold` passed runs in a row turn it up (a new monitor's
/// first result decides at once).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    pub status: Status,
    pub fails: i64,
    pub passes: i64,
}

/// The tally after one more run; and the flip, if the status changed.
pub fn after_run(
    t: Tally,
    ok: bool,
    failure_threshold: i64,
    success_threshold: i64,
) -> (Tally, Option<(Status, Status)>) {
    let (fails, passes) = if ok {
        (0, t.passes + 1)
    } else {
        (t.fails + 1, 0)
    };
    let new = match (t.status, ok) {
        (Status::Paused, _) => Status::Paused,
        (Status::New, true) => Status::Up,
        (Status::New, false) if fails >= failure_threshold => Status::Down,
        (Status::New, false) => Status::New,
        (Status::Up, false) if fails >= failure_threshold => Status::Down,
        (Status::Down, true) if passes >= success_threshold => Status::Up,
        (s, _) => s,
    };
    let flip = (new != t.status).then_some((t.status, new));
    (
        Tally {
            status: new,
            fails,
            passes,
        },
        flip,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(url: &str) -> Step {
        Step {
            url: url.into(),
            ..Step::default()
        }
    }

    #[test]
    fn steps_are_checked_with_field_names() {
        let ok =
            check_steps(&[step("https://example.com/health")]).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(ok[0].step.method, "GET");
        assert_eq!(ok[0].step.conditions, vec!["[STATUS] < 400".to_string()]);
        let bad = check_steps(&[
            step("ftp://example.com"),
            Step {
                method: "BREW".into(),
                conditions: vec!["[STATUS] 200".into()],
                ..step("not a url")
            },
        ])
        .err()
        .unwrap_or_default();
        assert!(bad.contains_key("steps[0].url"), "{bad:?}");
        assert!(bad.contains_key("steps[1].method"), "{bad:?}");
        assert!(bad.contains_key("steps[1].conditions[0]"), "{bad:?}");
        assert!(check_steps(&[]).is_err());
        // A captured value may be used in a later step's URL.
        let flow = vec![
            Step {
                capture: [("token".to_string(), "[BODY].token".to_string())].into(),
                ..step("https://app.example.com/login")
            },
            step("https://app.example.com/api/me?t={{token}}"),
        ];
        assert!(check_steps(&flow).is_ok());
    }

    #[test]
    fn thresholds_decide_flips() {
        let t = Tally {
            status: Status::New,
            fails: 0,
            passes: 0,
        };
        let (t, f) = after_run(t, true, 3, 2);
        assert_eq!(f, Some((Status::New, Status::Up)));
        let (t, f) = after_run(t, false, 3, 2);
        assert_eq!((t.status, f), (Status::Up, None));
        let (t, _) = after_run(t, false, 3, 2);
        let (t, f) = after_run(t, false, 3, 2);
        assert_eq!(f, Some((Status::Up, Status::Down)));
        let (t, f) = after_run(t, true, 3, 2);
        assert_eq!((t.status, f), (Status::Down, None));
        let (_, f) = after_run(t, true, 3, 2);
        assert_eq!(f, Some((Status::Down, Status::Up)));
        assert_eq!(fill("a {{x}} b {{x}}", &[("x", "1")]), "a 1 b 1");
    }
}
