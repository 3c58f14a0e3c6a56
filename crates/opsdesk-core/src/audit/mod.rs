//! The append-only, hash-chained audit log: every state change records who did what to which
//! object, from where, in the same transaction as the change.

pub mod rules;
pub mod store;

pub use rules::{AuditEntry, AuditRecord, ChainBreak};

/// Who is acting and from where; carried from the request (or the CLI) into every service call.
#[derive(Clone, Debug)]
pub struct Actor {
    /// `user:<id>`, `cli`, `system`, or `anonymous`.
    pub label: String,
    pub user_id: Option<String>,
    pub client_ip: String,
    pub request_id: String,
}

impl Actor {
    pub fn system() -> Actor {
        Actor {
            label: "system".into(),
            user_id: None,
            client_ip: String::new(),
            request_id: String::new(),
        }
    }

    pub fn cli() -> Actor {
        Actor {
            label: "cli".into(),
            user_id: None,
            client_ip: String::new(),
            request_id: String::new(),
        }
    }

    pub fn entry(
        &self,
        action: &str,
        target: impl Into<String>,
        summary: impl Into<String>,
    ) -> AuditEntry {
        AuditEntry {
            actor: self.label.clone(),
            action: action.to_string(),
            target: target.into(),
            summary: truncate(summary.into(), 500),
            client_ip: self.client_ip.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

fn truncate(mut s: String, max_chars: usize) -> String {
    if let Some((idx, _)) = s.char_indices().nth(max_chars) {
        s.truncate(idx);
        s.push('…');
    }
    s
}
