//! Ticket types parsed once at the edge: references, states, priorities, channels, and the
//! ticket, message and timeline records the store hands back.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A ticket's public reference: its number (`1042`), shown as `#1042` and in subject tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TicketRef(pub i64);

impl TicketRef {
    /// Accepts `1042` and `#1042`.
    pub fn parse(input: &str) -> Option<TicketRef> {
        let s = input.trim();
        let digits = s.strip_prefix('#').unwrap_or(s);
        if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().filter(|n| *n > 0).map(TicketRef)
    }
}

impl fmt::Display for TicketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where a ticket is in the escalation flow (see `flow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    New,
    Triaged,
    Reproducing,
    Investigating,
    Fixed,
    Responded,
    Resolved,
    WaitingOnCustomer,
    Closed,
}

impl State {
    pub const ALL: [State; 9] = [
        State::New,
        State::Triaged,
        State::Reproducing,
        State::Investigating,
        State::Fixed,
        State::Responded,
        State::Resolved,
        State::WaitingOnCustomer,
        State::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Triaged => "triaged",
            State::Reproducing => "reproducing",
            State::Investigating => "investigating",
            State::Fixed => "fixed",
            State::Responded => "responded",
            State::Resolved => "resolved",
            State::WaitingOnCustomer => "waiting_on_customer",
            State::Closed => "closed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            State::New => "New",
            State::Triaged => "Triaged",
            State::Reproducing => "Reproducing",
            State::Investigating => "Investigating",
            State::Fixed => "Fixed",
            State::Responded => "Responded",
            State::Resolved => "Resolved",
            State::WaitingOnCustomer => "Waiting on customer",
            State::Closed => "Closed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        let s = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Still needs work from the team (not resolved, closed or waiting on the customer).
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            State::Resolved | State::Closed | State::WaitingOnCustomer
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// Stored as a number so the inbox can sort by it.
    pub fn rank(self) -> i64 {
        match self {
            Priority::Low => 0,
            Priority::Normal => 1,
            Priority::High => 2,
            Priority::Urgent => 3,
        }
    }

    pub fn from_rank(n: i64) -> Priority {
        match n {
            i64::MIN..=0 => Priority::Low,
            1 => Priority::Normal,
            2 => Priority::High,
            _ => Priority::Urgent,
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        let s = s.trim().to_ascii_lowercase();
        Priority::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a ticket reached us.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Web,
    Email,
    Api,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Email => "email",
            Channel::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        [Channel::Web, Channel::Email, Channel::Api]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// A ticket category (Account, Billing, …). Tickets in a `security` category are private.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Category {
    pub id: String,
    pub name: String,
    pub security: bool,
    pub position: i64,
}

/// What the agent recorded when reproducing the problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Reproduced,
    NotReproduced,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Reproduced => "reproduced",
            Outcome::NotReproduced => "not_reproduced",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        match s.trim() {
            "reproduced" => Some(Outcome::Reproduced),
            "not_reproduced" => Some(Outcome::NotReproduced),
            _ => None,
        }
    }
}

/// A person on a ticket, as shown to others.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Person {
    pub id: String,
    pub email: String,
    pub name: String,
}

/// A ticket with everything the flow has recorded so far.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Ticket {
    pub id: String,
    /// The public reference number (shown as `#number`).
    pub number: i64,
    pub subject: String,
    pub state: State,
    /// The working state a ticket waiting on the customer returns to.
    pub resume_state: Option<State>,
    pub category: Option<Category>,
    pub priority: Priority,
    pub channel: Channel,
    pub requester: Person,
    pub organization: Option<String>,
    #[serde(skip)]
    pub organization_id: Option<String>,
    pub assignee: Option<Person>,
    /// Private security report: visible only to admins and agents with the security flag.
    pub security: bool,
    pub reproduction_outcome: Option<Outcome>,
    pub reproduction_steps: Option<String>,
    pub evidence: Option<String>,
    pub root_cause: Option<String>,
    pub fix: Option<String>,
    pub resolution: Option<String>,
    pub close_reason: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
    /// When the ticket entered `fixed` (a reply after this is what `responded` needs).
    pub fixed_at: Option<i64>,
    /// When the team last replied to the customer.
    pub last_reply_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub closed_at: Option<i64>,
    /// The requester's organization lets its members see each other's requests.
    #[serde(skip)]
    pub organization_shared: bool,
    /// The earliest running SLA deadline (staff only: for the inbox's time to target).
    #[serde(skip)]
    pub sla_due: Option<SlaDue>,
}

/// A ticket's earliest running SLA deadline and what it takes to show the time left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlaDue {
    pub due: opsdesk_sla::countdown::Due,
    /// The business-hours calendar it counts in (none: round the clock).
    pub calendar_id: Option<String>,
}

/// Who wrote a message and who may read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    /// From the requester (or another customer on the ticket).
    Customer,
    /// The team's public reply.
    Reply,
    /// Internal note: never shown to customers.
    Note,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Customer => "customer",
            MessageKind::Reply => "reply",
            MessageKind::Note => "note",
        }
    }

    pub fn parse(s: &str) -> Option<MessageKind> {
        match s {
            "customer" => Some(MessageKind::Customer),
            "reply" => Some(MessageKind::Reply),
            "note" => Some(MessageKind::Note),
            _ => None,
        }
    }

    pub fn is_public(self) -> bool {
        self != MessageKind::Note
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Message {
    pub id: String,
    pub kind: MessageKind,
    pub author: Option<Person>,
    /// Plain text.
    pub body: String,
    /// How it arrived: `web`, `api` or `email`.
    pub source: String,
    pub created_at: i64,
}

/// One line of a ticket's timeline: a state change, an assignment, a field change.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Event {
    pub at: i64,
    /// The actor, as in the audit log (`user:<id>`, `system`, `anonymous`).
    pub actor: String,
    pub kind: String,
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_parse_with_or_without_hash() {
        assert_eq!(TicketRef::parse("1042"), Some(TicketRef(1042)));
        assert_eq!(TicketRef::parse(" #7 "), Some(TicketRef(7)));
        for bad in [
            "",
            "#",
            "0",
            "-3",
            "12a",
            "1e3",
            "9999999999999999999",
            "' OR 1=1",
        ] {
            assert_eq!(TicketRef::parse(bad), None, "{bad:?}");
        }
        assert_eq!(TicketRef(1042).to_string(), "#1042");
    }

    #[test]
    fn states_and_priorities_round_trip() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(
            State::parse("Waiting on customer"),
            Some(State::WaitingOnCustomer)
        );
        for p in Priority::ALL {
            assert_eq!(Priority::from_rank(p.rank()), p);
            assert_eq!(Priority::parse(p.as_str()), Some(p));
        }
    }
}
