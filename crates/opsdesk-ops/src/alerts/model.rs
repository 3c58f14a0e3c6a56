//! Alert channels (where news of a flip goes) and what an alert says, as pure functions.

use serde::Serialize;
use serde_json::{Value, json};

/// How a channel is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Email,
    /// A generic JSON webhook.
    Webhook,
    /// A Slack-compatible incoming webhook (`{"text": …}`; Mattermost and Rocket.Chat take it).
    Slack,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Webhook => "webhook",
            Kind::Slack => "slack",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s.trim() {
            "email" => Some(Kind::Email),
            "webhook" => Some(Kind::Webhook),
            "slack" => Some(Kind::Slack),
            _ => None,
        }
    }
}

/// A channel as listed by the API (`{"id", "name", "kind"}`, as Healthchecks.io).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Channel {
    pub id: String,
    pub name: String,
    /// `email`, `webhook` or `slack`.
    pub kind: String,
    #[serde(skip)]
    pub target: String,
}

/// Checks a channel's target for its kind: an address, or an http(s) URL.
pub fn check_target(kind: Kind, target: &str) -> Result<String, &'static str> {
    match kind {
        Kind::Email => opsdesk_core::accounts::model::EmailAddress::parse(target)
            .map(|e| e.as_str().to_string()),
        Kind::Webhook | Kind::Slack => opsdesk_desk::webhooks::check_url(target),
    }
}

/// What happened, in the words an alert uses.
#[derive(Clone, Debug)]
pub struct News {
    pub check_id: String,
    pub check_name: String,
    pub tags: String,
    /// `down` or `up`.
    pub new_status: String,
    pub old_status: String,
    pub reason: String,
    pub at_ms: i64,
    pub last_ping_ms: Option<i64>,
    /// Link to the check's page, when the public URL is known.
    pub link: Option<String>,
}

impl News {
    fn is_down(&self) -> bool {
        self.new_status == "down"
    }

    /// One line, for Slack and for the email subject.
    pub fn headline(&self) -> String {
        let why = match self.reason.as_str() {
            "fail" => " (it reported a failure)",
            "timeout" => " (no ping in time)",
            _ => "",
        };
        if self.reason == "reminder" {
            format!("STILL DOWN: \"{}\" is still down", self.check_name)
        } else if self.is_down() {
            format!("DOWN: \"{}\" is down{why}", self.check_name)
        } else {
            format!("UP: \"{}\" is up again", self.check_name)
        }
    }

    /// The email text.
    pub fn text(&self) -> String {
        let mut s = self.headline();
        s.push_str("\n\n");
        s.push_str(&format!("Check: {}\n", self.check_name));
        if !self.tags.is_empty() {
            s.push_str(&format!("Tags: {}\n", self.tags));
        }
        s.push_str(&format!(
            "Changed: {} -> {} at {}\n",
            self.old_status,
            self.new_status,
            iso(self.at_ms)
        ));
        match self.last_ping_ms {
            Some(t) => s.push_str(&format!("Last ping: {}\n", iso(t))),
            None => s.push_str("Last ping: never\n"),
        }
        if let Some(link) = &self.link {
            s.push_str(&format!("\n{link}\n"));
        }
        s
    }

    /// The body posted to a channel of this kind.
    pub fn payload(&self, kind: Kind) -> Value {
        let text = match &self.link {
            Some(link) => format!("{} <{link}|details>", self.headline()),
            None => self.headline(),
        };
        match kind {
            Kind::Slack => json!({ "text": text }),
            Kind::Webhook | Kind::Email => json!({
                "event": if self.is_down() { "check.down" } else { "check.up" },
                "text": self.headline(),
                "check": {
                    "uuid": self.check_id,
                    "name": self.check_name,
                    "tags": self.tags,
                    "status": self.new_status,
                    "last_ping": self.last_ping_ms.map(iso),
                    "url": self.link,
                },
                "flip": {
                    "from": self.old_status,
                    "to": self.new_status,
                    "reason": self.reason,
                    "at": iso(self.at_ms),
                },
            }),
        }
    }
}

/// `2026-11-23T19:15:33+00:00`, as Healthchecks.io writes times.
pub fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn news(status: &str) -> News {
        News {
            check_id: "c".into(),
            check_name: "Backups".into(),
            tags: "prod".into(),
            new_status: status.into(),
            old_status: "up".into(),
            reason: "timeout".into(),
            at_ms: 0,
            last_ping_ms: None,
            link: Some("https://ops.example.com/checks/c".into()),
        }
    }

    #[test]
    fn alerts_say_what_happened() {
        let down = news("down");
        assert_eq!(
            down.headline(),
            "DOWN: \"Backups\" is down (no ping in time)"
        );
        assert!(down.text().contains("Last ping: never"));
        assert!(down.text().contains("https://ops.example.com/checks/c"));
        assert_eq!(down.payload(Kind::Webhook)["event"], "check.down");
        assert_eq!(
            down.payload(Kind::Webhook)["flip"]["at"],
            "1970-01-01T00:00:00+00:00"
        );
        let slack = down.payload(Kind::Slack);
        assert!(
            slack["text"]
                .as_str()
                .is_some_and(|t| t.contains("|details>"))
        );
        assert_eq!(slack.as_object().map(|o| o.len()), Some(1));
        assert_eq!(news("up").headline(), "UP: \"Backups\" is up again");
    }

    #[test]
    fn targets_match_their_kind() {
        assert!(check_target(Kind::Email, "ops@example.com").is_ok());
        assert!(check_target(Kind::Email, "not an address").is_err());
        assert!(check_target(Kind::Slack, "https://hooks.slack.com/services/x").is_ok());
        assert!(check_target(Kind::Webhook, "ftp://x").is_err());
        assert_eq!(Kind::parse("pagerduty"), None);
    }
}
