//! What callers send and get back for single tickets: new tickets, edits, flow moves and
//! messages as parsed from JSON or forms, and a ticket's detail view.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::flow::NextStep;
use super::model::{Event, Message, State, Ticket};

/// A new ticket as it comes from the API or the support form.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicket {
    pub subject: String,
    /// The request itself (plain text).
    pub body: String,
    /// Category name or id (see `GET /api/categories`).
    #[serde(default)]
    pub category: Option<String>,
    /// low, normal (default), high or urgent. Staff only.
    #[serde(default)]
    pub priority: Option<String>,
    /// Requester's email: needed when staff file a ticket for a customer, or on the public
    /// form; customers always file for themselves.
    #[serde(default)]
    pub email: Option<String>,
    /// Requester's name, for a requester new to the desk.
    #[serde(default)]
    pub name: Option<String>,
}

/// Field edits; absent fields stay as they are. `assignee: null` unassigns.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketPatch {
    #[serde(default)]
    pub subject: Option<String>,
    /// Category name or id.
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub priority: Option<String>,
    /// Email or id of an agent or admin, `me`, or null to unassign.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub assignee: Option<Option<String>>,
    /// Keep the ticket private to the security team (admins and agents with the flag).
    #[serde(default)]
    pub security: Option<bool>,
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A move in the escalation flow with the fields the target state needs.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionInput {
    /// The state to move to.
    pub to: String,
    /// triaged: the category (name or id), unless the ticket has one.
    #[serde(default)]
    pub category: Option<String>,
    /// reproducing: `reproduced` or `not_reproduced`.
    #[serde(default)]
    pub outcome: Option<String>,
    /// reproducing: the steps tried.
    #[serde(default)]
    pub steps: Option<String>,
    /// investigating: logs, health checks, links.
    #[serde(default)]
    pub evidence: Option<String>,
    /// fixed: the root cause (required: no fix without it).
    #[serde(default)]
    pub root_cause: Option<String>,
    /// fixed: the fix or workaround.
    #[serde(default)]
    pub fix: Option<String>,
    /// resolved: the resolution note.
    #[serde(default)]
    pub note: Option<String>,
    /// closed: why (e.g. an unsupported request type).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A message body for replies, customer messages and notes.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageInput {
    pub body: String,
    /// Send a team reply even though the communication rules found something in it (the
    /// confirmation is recorded on the timeline). Ignored for notes and customer messages.
    #[serde(default)]
    pub confirm: bool,
}

/// One allowed next move and the fields it needs.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Step {
    pub to: State,
    pub label: &'static str,
    pub needs: Vec<&'static str>,
}

impl From<NextStep> for Step {
    fn from(s: NextStep) -> Step {
        Step {
            to: s.to,
            label: s.to.label(),
            needs: s.needs.to_vec(),
        }
    }
}

/// A ticket with its conversation and timeline, as the viewer may see it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub ticket: Ticket,
    /// The support tier the requester is served under (their own, their organization's, or the
    /// default).
    pub tier: Option<opsdesk_sla::policy::TierRef>,
    /// Staff only: the response and resolution targets and where each stands (absent for
    /// best-effort tiers without targets, and for customers).
    pub sla: Option<opsdesk_sla::ticket::SlaView>,
    /// Public messages; internal notes too for staff.
    pub messages: Vec<Message>,
    /// Staff only (empty for customers).
    pub timeline: Vec<Event>,
    /// Staff only (empty for customers).
    pub next_steps: Vec<Step>,
    /// Files that came with the messages shown (download at
    /// `/api/tickets/{ref}/attachments/{id}`).
    pub attachments: Vec<crate::mail::AttachmentInfo>,
    /// Outgoing email about this ticket and its delivery state (staff only).
    pub deliveries: Vec<crate::mail::Delivery>,
    /// Related tickets: (number, kind), e.g. a follow-up opened by a late reply.
    pub links: Vec<LinkedTicket>,
}

/// A ticket related to this one.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LinkedTicket {
    pub number: i64,
    /// `follow_up` (opened by a reply to this ticket after it was closed).
    pub kind: String,
}
