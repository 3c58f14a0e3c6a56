//! The threading decision: does an inbound message repeat one we have, continue a ticket, or
//! start a new one?
//!
//! The decision is pure. Everything it needs from the database goes through the small
//! [`Lookups`] trait, and [`InboundKeys`] lists exactly what to fetch, so the caller can load it
//! in one or two queries beforehand (see [`Prefetched`]) and keep the rule free of I/O.

use std::collections::{HashMap, HashSet};

use super::{Signer, find_marker, find_tag};

/// What threading reads from an inbound message (see [`crate::Inbound::thread_keys`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundKeys {
    /// The message's own id, without angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    /// Oldest first, as in the header.
    pub references: Vec<String>,
    /// The sender's address, lowercase.
    pub from: Option<String>,
    pub subject: String,
    /// The full text, quotes included: the body marker usually sits in the quoted part.
    pub text: String,
}

impl InboundKeys {
    /// Referenced ids in the order [`decide`] tries them: In-Reply-To first (the direct
    /// parent), then References newest first.
    pub fn referenced_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        let newest_refs = self.references.iter().rev();
        for id in self.in_reply_to.iter().chain(newest_refs) {
            if !ids.contains(&id.as_str()) {
                ids.push(id.as_str());
            }
        }
        ids
    }

    /// Every id the caller should answer [`Lookups::seen`] and [`Lookups::ticket_of`] for:
    /// the message's own id and all referenced ids.
    pub fn lookup_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.message_id.iter().map(String::as_str).collect();
        for id in self.referenced_ids() {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }

    /// The ticket named by a subject tag: the caller should answer
    /// [`Lookups::is_participant`] for it and [`InboundKeys::from`].
    pub fn tagged_ticket(&self) -> Option<i64> {
        find_tag(&self.subject)
    }
}

/// The answers threading needs from the store, asked synchronously.
pub trait Lookups {
    /// Whether a message with this Message-ID was already stored (inbound or outbound).
    fn seen(&self, message_id: &str) -> bool;
    /// The ticket number of a stored message with this Message-ID.
    fn ticket_of(&self, message_id: &str) -> Option<i64>;
    /// Whether `email` (lowercase) is the requester of, or a participant in, the ticket.
    fn is_participant(&self, ticket: i64, email: &str) -> bool;
}

/// [`Lookups`] answered from data fetched before the decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prefetched {
    /// Ids from [`InboundKeys::lookup_ids`] that exist in the store.
    pub seen: HashSet<String>,
    /// Ticket numbers of the stored ones among them.
    pub tickets: HashMap<String, i64>,
    /// (ticket, lowercase email) pairs that are requester or participant.
    pub participants: HashSet<(i64, String)>,
}

impl Lookups for Prefetched {
    fn seen(&self, message_id: &str) -> bool {
        self.seen.contains(message_id) || self.tickets.contains_key(message_id)
    }

    fn ticket_of(&self, message_id: &str) -> Option<i64> {
        self.tickets.get(message_id).copied()
    }

    fn is_participant(&self, ticket: i64, email: &str) -> bool {
        self.participants
            .contains(&(ticket, email.trim().to_lowercase()))
    }
}

/// How a message was matched to its ticket (kept for the audit trail and debugging).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    /// One of our signed Message-IDs in In-Reply-To or References.
    SignedId,
    /// A referenced Message-ID we stored earlier.
    StoredId,
    /// A verified `[ref:...]` marker in the text.
    BodyMarker,
    /// A `[#n]` subject tag from someone already on the ticket.
    SubjectTag,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::SignedId => "signed_id",
            Via::StoredId => "stored_id",
            Via::BodyMarker => "body_marker",
            Via::SubjectTag => "subject_tag",
        }
    }
}

/// Where an inbound message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thread {
    /// Already stored (redelivery, IMAP re-poll), or our own message coming back: ignore.
    Duplicate,
    /// A follow-up on this ticket.
    Existing { ticket: i64, via: Via },
    /// Opens a new ticket.
    New,
}

/// Decides, first match wins:
/// 1. the message's own id is stored, or is one of our signed ids (a loop) → `Duplicate`;
/// 2. a signed id of ours in In-Reply-To/References → its ticket;
/// 3. a referenced id we stored → its ticket;
/// 4. a verified body marker → its ticket;
/// 5. a subject tag, only when the sender is the requester or a participant of that ticket
///    (the tag is unsigned: anyone could type `[#1042]` to read along otherwise);
/// 6. otherwise `New`.
pub fn decide(msg: &InboundKeys, lookups: &impl Lookups, signer: &Signer) -> Thread {
    if let Some(id) = &msg.message_id
        && (lookups.seen(id) || signer.verify(id).is_some())
    {
        return Thread::Duplicate;
    }
    let referenced = msg.referenced_ids();
    if let Some(ticket) = referenced.iter().find_map(|id| signer.verify(id)) {
        return existing(ticket, Via::SignedId);
    }
    if let Some(ticket) = referenced.iter().find_map(|id| lookups.ticket_of(id)) {
        return existing(ticket, Via::StoredId);
    }
    if let Some(ticket) = find_marker(&msg.text, signer) {
        return existing(ticket, Via::BodyMarker);
    }
    if let (Some(ticket), Some(from)) = (msg.tagged_ticket(), &msg.from)
        && lookups.is_participant(ticket, from)
    {
        return existing(ticket, Via::SubjectTag);
    }
    Thread::New
}

fn existing(ticket: i64, via: Via) -> Thread {
    Thread::Existing { ticket, via }
}

#[cfg(test)]
mod tests {
    use super::super::body_marker;
    use super::*;

    fn signer() -> Signer {
        Signer::new(b"s3cret".to_vec(), "desk.example")
    }

    fn keys() -> InboundKeys {
        InboundKeys {
            message_id: Some("new@client.example".into()),
            from: Some("ann@example.com".into()),
            subject: "Help".into(),
            text: "Hello".into(),
            ..InboundKeys::default()
        }
    }

    fn lookups() -> Prefetched {
        let mut l = Prefetched::default();
        l.tickets.insert("stored@client.example".into(), 55);
        l.participants.insert((1042, "ann@example.com".into()));
        l
    }

    #[test]
    fn plain_new_message() {
        assert_eq!(decide(&keys(), &lookups(), &signer()), Thread::New);
        let no_id = InboundKeys {
            message_id: None,
            ..keys()
        };
        assert_eq!(decide(&no_id, &lookups(), &signer()), Thread::New);
    }

    #[test]
    fn duplicates_and_loops() {
        let mut l = lookups();
        l.seen.insert("new@client.example".into());
        assert_eq!(decide(&keys(), &l, &signer()), Thread::Duplicate);
        let stored = InboundKeys {
            message_id: Some("stored@client.example".into()),
            ..keys()
        };
        assert_eq!(decide(&stored, &lookups(), &signer()), Thread::Duplicate);
        let ours = InboundKeys {
            message_id: Some(signer().message_id(3, "abc")),
            ..keys()
        };
        assert_eq!(decide(&ours, &lookups(), &signer()), Thread::Duplicate);
    }

    #[test]
    fn signed_ids_win_over_stored_ids() {
        let s = signer();
        let k = InboundKeys {
            in_reply_to: vec!["stored@client.example".into()],
            references: vec![s.root_id(1042), "stored@client.example".into()],
            ..keys()
        };
        assert_eq!(
            decide(&k, &lookups(), &s),
            Thread::Existing {
                ticket: 1042,
                via: Via::SignedId
            }
        );
    }

    #[test]
    fn forged_signed_ids_fall_through() {
        let s = signer();
        let forged = s.message_id(1042, "k").replace("1042", "1041");
        let k = InboundKeys {
            in_reply_to: vec![forged],
            ..keys()
        };
        assert_eq!(decide(&k, &lookups(), &s), Thread::New);
    }

    #[test]
    fn stored_ids_then_markers_then_tags() {
        let s = signer();
        let stored = InboundKeys {
            references: vec!["unknown@x".into(), "stored@client.example".into()],
            ..keys()
        };
        assert_eq!(
            decide(&stored, &lookups(), &s),
            Thread::Existing {
                ticket: 55,
                via: Via::StoredId
            }
        );
        let marked = InboundKeys {
            text: format!("Thanks\n> {}", body_marker(77, &s)),
            subject: "Re: [#1042]".into(),
            ..keys()
        };
        assert_eq!(
            decide(&marked, &lookups(), &s),
            Thread::Existing {
                ticket: 77,
                via: Via::BodyMarker
            }
        );
        let tagged = InboundKeys {
            subject: "Re: Help [#1042]".into(),
            ..keys()
        };
        assert_eq!(
            decide(&tagged, &lookups(), &s),
            Thread::Existing {
                ticket: 1042,
                via: Via::SubjectTag
            }
        );
    }

    #[test]
    fn subject_tags_need_a_participant() {
        let s = signer();
        let stranger = InboundKeys {
            subject: "Re: [#1042]".into(),
            from: Some("mallory@evil.example".into()),
            ..keys()
        };
        assert_eq!(decide(&stranger, &lookups(), &s), Thread::New);
        let nobody = InboundKeys {
            subject: "Re: [#1042]".into(),
            from: None,
            ..keys()
        };
        assert_eq!(decide(&nobody, &lookups(), &s), Thread::New);
    }

    #[test]
    fn in_reply_to_is_tried_before_newest_references() {
        let k = InboundKeys {
            in_reply_to: vec!["c@x".into()],
            references: vec!["a@x".into(), "b@x".into(), "c@x".into()],
            ..keys()
        };
        assert_eq!(k.referenced_ids(), vec!["c@x", "b@x", "a@x"]);
        assert_eq!(
            k.lookup_ids(),
            vec!["new@client.example", "c@x", "b@x", "a@x"]
        );
        let mut l = Prefetched::default();
        l.tickets.insert("a@x".into(), 1);
        l.tickets.insert("b@x".into(), 2);
        assert_eq!(
            decide(&k, &l, &signer()),
            Thread::Existing {
                ticket: 2,
                via: Via::StoredId
            }
        );
    }

    #[test]
    fn prefetched_participants_ignore_case() {
        let l = lookups();
        assert!(l.is_participant(1042, "Ann@Example.com"));
        assert!(!l.is_participant(1043, "ann@example.com"));
        assert_eq!(Via::SubjectTag.as_str(), "subject_tag");
        assert_eq!(keys().tagged_ticket(), None);
    }
}
