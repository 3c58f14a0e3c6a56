//! What callers send to incidents and what they get back (API and pages share these).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A component the incident affects and the status it shows while the incident is open.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Affected {
    /// The status page component's id.
    pub id: String,
    /// degraded_performance, partial_outage, major_outage or under_maintenance.
    pub impact: String,
}

/// A new incident.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncident {
    pub title: String,
    /// 1 (SEV1, worst) to 4; default 3.
    #[serde(default)]
    pub severity: Option<i64>,
    /// What is known so far, for the team.
    #[serde(default)]
    pub summary: String,
    /// Email or id of the staff member in charge, or `me`; default: whoever declares it.
    #[serde(default)]
    pub commander: Option<String>,
    /// Ticket numbers that reported it.
    #[serde(default)]
    pub tickets: Vec<String>,
    /// Heartbeat check ids involved.
    #[serde(default)]
    pub checks: Vec<String>,
    /// Monitor ids involved.
    #[serde(default)]
    pub monitors: Vec<String>,
    /// Affected status page components.
    #[serde(default)]
    pub components: Vec<Affected>,
    /// Posts the incident on the public status page with this first update.
    #[serde(default)]
    pub public_message: Option<String>,
}

/// Field changes; absent fields stay as they are.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentPatch {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub severity: Option<i64>,
    /// investigating, identified, monitoring, resolved (needs a root cause) or postmortem (set
    /// by writing the postmortem).
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub commander: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    /// What broke and why: required to resolve.
    #[serde(default)]
    pub root_cause: Option<String>,
    /// Replaces the affected components.
    #[serde(default)]
    pub components: Option<Vec<Affected>>,
}

/// An update: public (on the status page, optionally emailed to the linked tickets'
/// customers) or an internal note; it may move the status at the same time.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUpdate {
    pub body: String,
    /// Show it on the status page (and in its JSON).
    #[serde(default)]
    pub public: bool,
    /// Also send it as a reply on every linked ticket (public updates only).
    #[serde(default)]
    pub notify: bool,
    /// Also email it to the status page's confirmed subscribers (public updates only).
    #[serde(default)]
    pub subscribers: bool,
    /// A new status with the update.
    #[serde(default)]
    pub status: Option<String>,
}

/// Something to link: a ticket (its number), a heartbeat check or a monitor (their ids).
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    /// ticket, check or monitor.
    pub kind: String,
    pub id: String,
}

/// The postmortem: required for SEV1 and SEV2 once resolved.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPostmortem {
    /// Who was affected, how, for how long.
    pub impact: String,
    /// Left empty, it is filled from the incident's own timeline.
    #[serde(default)]
    pub timeline: String,
    pub root_cause: String,
    #[serde(default)]
    pub went_well: String,
    #[serde(default)]
    pub went_badly: String,
    /// Each becomes a ticket linked to the incident.
    #[serde(default)]
    pub action_items: Vec<String>,
}

/// A person, as incidents show them.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PersonView {
    pub id: String,
    pub name: String,
    pub email: String,
}

/// A linked thing with what to call it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LinkView {
    /// ticket, check, monitor, run or action_item.
    pub kind: String,
    pub id: String,
    /// `#1042 Login fails`, the check's name…
    pub label: String,
    /// Where it is seen in the web interface.
    pub href: String,
}

/// One timeline entry.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct EventView {
    /// RFC 3339.
    pub at: String,
    #[serde(skip)]
    pub at_ms: i64,
    /// Who: a person's name, `system` or `cli`.
    pub actor: String,
    /// declared, status, update, note, link, flip, action, override, severity, commander,
    /// postmortem, edit.
    pub kind: String,
    /// Shown on the status page.
    pub public: bool,
    pub body: String,
}

/// An affected component with its name.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ComponentView {
    pub id: String,
    pub name: String,
    pub impact: String,
}

/// A postmortem as written.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PostmortemView {
    pub impact: String,
    pub timeline: String,
    pub root_cause: String,
    pub went_well: String,
    pub went_badly: String,
    pub author: String,
    pub updated: String,
}

/// An incident.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct IncidentView {
    pub id: String,
    pub number: i64,
    /// `INC-<number>`.
    pub reference: String,
    pub title: String,
    pub severity: i64,
    pub severity_label: String,
    pub status: String,
    pub commander: Option<PersonView>,
    pub summary: String,
    pub root_cause: Option<String>,
    /// On the public status page.
    pub public: bool,
    /// manual, ticket, check, monitor or api.
    pub source: String,
    pub created: String,
    pub updated: String,
    pub resolved_at: Option<String>,
    /// Resolved SEV1/SEV2 without its postmortem yet.
    pub postmortem_due: bool,
    pub components: Vec<ComponentView>,
    pub links: Vec<LinkView>,
    pub timeline: Vec<EventView>,
    pub postmortem: Option<PostmortemView>,
}

/// An incident in a list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct IncidentSummary {
    pub id: String,
    pub number: i64,
    pub reference: String,
    pub title: String,
    pub severity: i64,
    pub status: String,
    pub public: bool,
    pub postmortem_due: bool,
    pub created: String,
    pub resolved_at: Option<String>,
}
