//! Tiers and calendars as the API shows and accepts them, and the pure checks of what an admin
//! enters: names, response and resolution targets per priority (or best effort), the warning
//! share. Calendar hours are checked by [`crate::hours`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::hours::{BusinessHours, Holiday, HoursSpec, OpenSpan};

/// Priorities by rank, as tickets rank them (0 low … 3 urgent).
pub const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];
/// The longest target an admin may set: a year of (business) minutes.
pub const MAX_TARGET_MINUTES: i64 = 365 * 24 * 60;

/// A business-hours calendar.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Calendar {
    pub id: String,
    pub name: String,
    pub time_zone: String,
    pub hours: Vec<OpenSpan>,
    pub holidays: Vec<Holiday>,
    /// Open minutes in a week without holidays.
    pub weekly_open_minutes: u32,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct CalendarInput {
    pub name: String,
    /// An IANA time zone, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// Weekly opening hours: `{"day": "mon", "from": "09:00", "to": "17:00"}`; a span ending at
    /// or before its start runs past midnight.
    pub hours: Vec<OpenSpan>,
    /// `{"date": "2026-12-24"}` for one day, `{"date": "12-25"}` for every year.
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

impl CalendarInput {
    pub fn spec(&self) -> HoursSpec {
        HoursSpec {
            time_zone: self.time_zone.trim().to_string(),
            hours: self.hours.clone(),
            holidays: self.holidays.clone(),
        }
    }
}

impl Calendar {
    pub fn from_spec(id: String, name: String, spec: HoursSpec, hours: &BusinessHours) -> Self {
        Calendar {
            id,
            name,
            time_zone: spec.time_zone,
            hours: spec.hours,
            holidays: spec.holidays,
            weekly_open_minutes: hours.weekly_minutes(),
        }
    }
}

/// Targets for one priority, in business minutes; `null` is best effort.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct Targets {
    pub first_response_minutes: Option<i64>,
    pub next_response_minutes: Option<i64>,
    pub resolution_minutes: Option<i64>,
}

impl Targets {
    pub fn is_best_effort(&self) -> bool {
        *self == Targets::default()
    }
}

/// A support tier.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Tier {
    pub id: String,
    pub name: String,
    pub position: i64,
    /// The business hours its targets count in; absent when covered round the clock (24/7).
    pub calendar: Option<Named>,
    /// Whether tickets get targets at all (self-service has none).
    pub ticket_sla: bool,
    /// Warn when this share of a target has passed.
    pub warn_percent: i64,
    /// The tier of customers who have none of their own or from their organization.
    pub default: bool,
    /// Targets by priority (`low`, `normal`, `high`, `urgent`); a missing priority is best
    /// effort.
    pub targets: BTreeMap<String, Targets>,
    /// What a breach does besides notifying.
    pub breach_actions: BreachActionsView,
    /// Organizations on this tier get a shared space in the portal: members see all the
    /// organization's requests and its open work (the Agency tier's private channel).
    pub shared_space: bool,
}

/// What a breach does besides notifying, as shown.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct BreachActionsView {
    pub raise_priority: bool,
    /// The team member breached tickets are handed to.
    pub reassign_to: Option<Named>,
}

/// What a breach does besides notifying.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreachActionsInput {
    /// Raise the ticket's priority one step (up to urgent).
    #[serde(default)]
    pub raise_priority: bool,
    /// An agent's or admin's email or id: breached tickets are assigned to them (a team lead).
    #[serde(default)]
    pub reassign_to: Option<String>,
}

/// The tier a ticket is served under, and where it comes from.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TierRef {
    pub id: String,
    pub name: String,
    pub ticket_sla: bool,
    /// `customer` (their own), `organization` (their organization's) or `default`.
    pub source: String,
}

/// Sets or clears a customer's or an organization's tier.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct TierChoice {
    /// A tier's id or name; `null` to inherit (the organization's tier, or the default).
    pub tier: Option<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TierAssignment {
    /// `user` or `organization`.
    pub kind: String,
    pub id: String,
    /// The tier set on it; absent when it inherits.
    pub tier: Option<Named>,
}

/// A tier or calendar by id and name.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Named {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct TierInput {
    pub name: String,
    /// A calendar's id or name; `null` or absent for round-the-clock cover.
    #[serde(default)]
    pub calendar: Option<String>,
    /// Default true; false for tiers without ticket targets (self-service).
    #[serde(default)]
    pub ticket_sla: Option<bool>,
    /// 1–99, default 75.
    #[serde(default)]
    pub warn_percent: Option<i64>,
    #[serde(default)]
    pub targets: BTreeMap<String, Targets>,
    /// What a breach does besides notifying (default: nothing).
    #[serde(default)]
    pub breach_actions: BreachActionsInput,
    /// Organizations on this tier get a shared space in the portal (default false).
    #[serde(default)]
    pub shared_space: bool,
}

/// A saved calendar change.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CalendarChanged {
    pub calendar: Calendar,
    /// Open tickets counting in it, moved to the new hours (the time counted so far kept).
    pub open_tickets_updated: u64,
}

/// A changed tier (`PUT /api/tiers/{id}`): the whole tier as on creation, and whether its open
/// tickets move to it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct TierUpdate {
    #[serde(flatten)]
    pub tier: TierInput,
    /// Serve the tier's open tickets under the changed targets and calendar now (the time they
    /// have counted stays). Default false: open tickets keep the deadlines they were given, and
    /// only new tickets — or a ticket whose priority changes — get the new targets.
    #[serde(default)]
    pub apply_to_open: bool,
}

/// A saved tier change.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TierChanged {
    pub tier: Tier,
    /// Open tickets moved to the changed policy (0 unless `apply_to_open`).
    pub open_tickets_updated: u64,
}

/// A tier input that passed the checks (the calendar still to be looked up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedTier {
    pub name: String,
    pub calendar: Option<String>,
    pub ticket_sla: bool,
    pub warn_percent: i64,
    /// (priority rank, targets), best-effort priorities left out.
    pub targets: Vec<(i64, Targets)>,
}

/// A one-line name of at most 60 characters.
pub fn check_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err("is required: one line, at most 60 characters");
    }
    Ok(name.to_string())
}

fn check_minutes(v: Option<i64>) -> Result<Option<i64>, &'static str> {
    match v {
        None => Ok(None),
        Some(m) if (1..=MAX_TARGET_MINUTES).contains(&m) => Ok(Some(m)),
        Some(_) => Err("must be between 1 minute and 365 days (525600), or null for best effort"),
    }
}

/// Checks a tier; problems are returned by field (`targets.urgent.first_response_minutes`, …).
pub fn check_tier(input: &TierInput) -> Result<CheckedTier, Vec<(String, String)>> {
    let mut problems: Vec<(String, String)> = Vec::new();
    let name = check_name(&input.name)
        .map_err(|p| problems.push(("name".into(), p.into())))
        .ok();
    let warn_percent = input.warn_percent.unwrap_or(75);
    if !(1..=99).contains(&warn_percent) {
        problems.push((
            "warn_percent".into(),
            "must be between 1 and 99 (the share of a target after which to warn)".into(),
        ));
    }
    let ticket_sla = input.ticket_sla.unwrap_or(true);
    let mut targets = Vec::new();
    for (priority, t) in &input.targets {
        let Some(rank) = PRIORITIES
            .iter()
            .position(|p| p.eq_ignore_ascii_case(priority.trim()))
        else {
            problems.push((
                format!("targets.{priority}"),
                "is not a priority: use low, normal, high or urgent".into(),
            ));
            continue;
        };
        let mut checked = Targets::default();
        for (field, value, slot) in [
            (
                "first_response_minutes",
                t.first_response_minutes,
                &mut checked.first_response_minutes,
            ),
            (
                "next_response_minutes",
                t.next_response_minutes,
                &mut checked.next_response_minutes,
            ),
            (
                "resolution_minutes",
                t.resolution_minutes,
                &mut checked.resolution_minutes,
            ),
        ] {
            match check_minutes(value) {
                Ok(v) => *slot = v,
                Err(p) => {
                    problems.push((format!("targets.{}.{field}", PRIORITIES[rank]), p.into()))
                }
            }
        }
        if !checked.is_best_effort() {
            targets.push((rank as i64, checked));
        }
    }
    if !ticket_sla && !targets.is_empty() {
        problems.push((
            "targets".into(),
            "must be empty for a tier without ticket targets (ticket_sla false)".into(),
        ));
    }
    let calendar = input
        .calendar
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    match name {
        Some(name) if problems.is_empty() => {
            targets.sort_by_key(|(rank, _)| *rank);
            Ok(CheckedTier {
                name,
                calendar,
                ticket_sla,
                warn_percent,
                targets,
            })
        }
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(targets: serde_json::Value) -> TierInput {
        serde_json::from_value(serde_json::json!({"name": "Gold", "targets": targets}))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn targets_are_checked_per_priority_and_best_effort_is_left_out() {
        let t = check_tier(&input(serde_json::json!({
            "Urgent": {"first_response_minutes": 30, "resolution_minutes": 240},
            "low": {"first_response_minutes": null},
        })))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(t.targets.len(), 1);
        assert_eq!(t.targets[0].0, 3);
        assert_eq!(t.targets[0].1.next_response_minutes, None);
        assert_eq!((t.warn_percent, t.ticket_sla), (75, true));
    }

    #[test]
    fn negative_absurd_and_unknown_targets_are_refused_by_field() {
        let p = check_tier(&input(serde_json::json!({
            "urgent": {"first_response_minutes": -5, "resolution_minutes": 600000},
            "whenever": {"first_response_minutes": 5},
        })))
        .err()
        .unwrap_or_default();
        let fields: Vec<&str> = p.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "targets.urgent.first_response_minutes",
                "targets.urgent.resolution_minutes",
                "targets.whenever"
            ]
        );
        let bad: TierInput = serde_json::from_value(serde_json::json!({
            "name": " ", "warn_percent": 100, "ticket_sla": false,
            "targets": {"high": {"first_response_minutes": 5}},
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let p = check_tier(&bad).err().unwrap_or_default();
        let fields: Vec<&str> = p.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, vec!["name", "warn_percent", "targets"]);
    }
}
