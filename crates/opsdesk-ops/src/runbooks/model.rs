//! What callers send to ops actions and what they get back (API and pages share these).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A request to run an action (or to run one approved earlier).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The action's name (see `GET /api/ops/actions`); may be left out with `approval`.
    #[serde(default)]
    pub action: String,
    /// Parameter values by name (strings or numbers).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: BTreeMap<String, serde_json::Value>,
    /// The ticket number it is for. Every run references a ticket or an incident.
    #[serde(default)]
    pub ticket: Option<String>,
    /// The incident it is for (`INC-12`).
    #[serde(default)]
    pub incident: Option<String>,
    /// Why: required for `data_fix` actions.
    #[serde(default)]
    pub justification: String,
    /// For irreversible actions: the action's name, typed to confirm.
    #[serde(default)]
    pub confirm: Option<String>,
    /// Runs despite a change freeze (commander of the freezing incident, or an admin): why.
    #[serde(default)]
    pub override_reason: Option<String>,
    /// Runs the request with this id, approved by someone else, with the same parameters.
    #[serde(default)]
    pub approval: Option<String>,
}

/// An approval: optionally the parameters the approver saw, which must still be the request's.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Option<BTreeMap<String, serde_json::Value>>,
}

/// An undo: why (shown on the timeline).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UndoRequest {
    #[serde(default)]
    pub justification: String,
    /// Undoes despite a change freeze (commander of the freezing incident, or an admin): why.
    #[serde(default)]
    pub override_reason: Option<String>,
}

/// A parameter as requesters see it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ParamView {
    pub name: String,
    /// enum, integer or string.
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub values: Vec<String>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub pattern: Option<String>,
    pub default: Option<String>,
    pub required: bool,
}

/// An action as requesters see it (never its secrets).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ActionView {
    pub name: String,
    pub description: String,
    pub kind: String,
    /// The program and argument template, as run (no shell).
    pub command: Vec<String>,
    pub params: Vec<ParamView>,
    /// agent or admin.
    pub role: String,
    /// A second person must approve each run.
    pub approval: bool,
    pub undo: Option<Vec<String>>,
    pub irreversible: bool,
    pub timeout_seconds: u64,
    /// Names of the environment variables filled from secrets (values are never shown).
    pub secret_env: Vec<String>,
    /// Why it is frozen now, if it is.
    pub frozen: Option<String>,
    /// Whether the caller may request it.
    pub allowed: bool,
}

/// A reference shown with a run.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RefView {
    pub number: i64,
    pub title: String,
    pub href: String,
}

/// A run.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RunView {
    pub id: String,
    pub action: String,
    pub kind: String,
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// The program and arguments, each one argument (never a shell line).
    pub argv: Vec<String>,
    pub ticket: Option<RefView>,
    pub incident: Option<RefView>,
    pub justification: String,
    pub requested_by: String,
    pub requested_by_id: String,
    pub requested_at: String,
    /// awaiting_approval, approved, running, succeeded, failed, timed_out, could_not_start,
    /// interrupted or expired.
    pub state: String,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
    pub approval_expires: Option<String>,
    pub override_reason: Option<String>,
    pub undo_of: Option<String>,
    pub undone_by: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub exit_code: Option<i64>,
    /// Captured output (stdout and stderr merged), secrets redacted; the start and the end
    /// when it was longer than kept.
    pub output: String,
    pub total_bytes: i64,
    pub truncated: bool,
    /// A successful run of an action with an undo, not undone yet.
    pub can_undo: bool,
}

/// A page of runs.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RunPage {
    pub items: Vec<RunView>,
}
