//! The fail2ban line: one per failed login, in a fixed format that the shipped filter
//! (`contrib/fail2ban/filter.d/opsdesk.conf`) matches. The user name is escaped so that nothing
//! typed into it can look like another field.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::clock::{now_ms, rfc3339_ms};

/// Why a login failed; one word in the log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    BadPassword,
    UnknownUser,
    Disabled,
    Locked,
    BadToken,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BadPassword => "bad_password",
            Reason::UnknownUser => "unknown_user",
            Reason::Disabled => "disabled",
            Reason::Locked => "locked",
            Reason::BadToken => "bad_token",
        }
    }
}

/// Escapes `\`, `"` and every control or non-ASCII-printable character.
pub fn escape(user: &str) -> String {
    let mut out = String::with_capacity(user.len());
    for c in user.chars().take(200) {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Keeps the path one token: anything not URL-safe becomes `_`.
fn clean_path(path: &str) -> String {
    path.chars()
        .take(200)
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub fn format_line(at_ms: i64, user: &str, client_ip: &str, reason: Reason, path: &str) -> String {
    format!(
        "{} level=WARN event=auth_failure user=\"{}\" client_ip={} reason={} path={}",
        rfc3339_ms(at_ms),
        escape(user),
        client_ip,
        reason.as_str(),
        clean_path(path)
    )
}

/// Where the lines go: a file opened for append, or standard error.
#[derive(Debug)]
pub struct AuthLog {
    target: Mutex<Option<std::fs::File>>,
    path: Option<PathBuf>,
}

impl AuthLog {
    pub fn open(path: PathBuf) -> anyhow::Result<AuthLog> {
        if path.as_os_str() == "-" {
            return Ok(AuthLog {
                target: Mutex::new(None),
                path: None,
            });
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        Ok(AuthLog {
            target: Mutex::new(Some(file)),
            path: Some(path),
        })
    }

    pub fn path(&self) -> Option<&PathBuf> {
        self.path.as_ref()
    }

    /// Writes one line; a logging failure never fails the request.
    pub fn failure(&self, user: &str, client_ip: &str, reason: Reason, path: &str) {
        let line = format_line(now_ms(), user, client_ip, reason, path);
        tracing::warn!(
            event = "auth_failure",
            reason = reason.as_str(),
            client_ip,
            path,
            "login failed"
        );
        let Ok(mut guard) = self.target.lock() else {
            return;
        };
        let written = match guard.as_mut() {
            Some(file) => writeln!(file, "{line}"),
            None => writeln!(std::io::stderr(), "{line}"),
        };
        if let Err(e) = written {
            tracing::error!(error = %e, "cannot write the auth log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_the_documented_shape() {
        let line = format_line(
            1_795_408_200_123,
            "ada@example.com",
            "203.0.113.7",
            Reason::BadPassword,
            "/login",
        );
        assert_eq!(
            line,
            "2026-11-23T04:30:00.123Z level=WARN event=auth_failure user=\"ada@example.com\" client_ip=203.0.113.7 reason=bad_password path=/login"
        );
    }

    #[test]
    fn smuggled_fields_stay_inside_the_quotes() {
        let line = format_line(
            0,
            "x\" client_ip=6.6.6.6 reason=x\nfoo\\",
            "198.51.100.9",
            Reason::UnknownUser,
            "/api/login x",
        );
        assert!(
            line.contains(r#"user="x\" client_ip=6.6.6.6 reason=x\nfoo\\" client_ip=198.51.100.9"#),
            "{line}"
        );
        assert!(line.ends_with("path=/api/login_x"));
        assert!(!line.contains('\n'));
        assert_eq!(escape("\u{1b}[31m"), "\\u{1b}[31m");
    }
}
