//! Incident rules (pure): the lifecycle and what each move needs, severities and what they
//! mean on the status page, the change freeze, and the postmortem's prefilled timeline.

/// The lifecycle, in order (Statuspage's incident statuses).
pub const STATUSES: [&str; 5] = [
    "investigating",
    "identified",
    "monitoring",
    "resolved",
    "postmortem",
];

/// Severities: 1 (SEV1, worst) to 4.
pub const SEVERITIES: [i64; 4] = [1, 2, 3, 4];

/// Impacts an affected component can show while the incident is open.
pub const COMPONENT_IMPACTS: [&str; 4] = [
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
];

/// Still being worked on (not resolved, no postmortem yet).
pub fn is_live(status: &str) -> bool {
    matches!(status, "investigating" | "identified" | "monitoring")
}

/// SEV1 and SEV2 incidents need a postmortem once resolved.
pub fn needs_postmortem(severity: i64) -> bool {
    severity <= 2
}

/// What the incident knows when a move is asked for.
#[derive(Clone, Copy, Debug)]
pub struct Known<'a> {
    pub status: &'a str,
    pub root_cause: Option<&'a str>,
    pub has_postmortem: bool,
}

/// Whether the incident may move to `to`; the refusal says why, in words for the person asking.
pub fn can_move(k: Known<'_>, to: &str) -> Result<(), &'static str> {
    if !STATUSES.contains(&to) {
        return Err("must be investigating, identified, monitoring, resolved or postmortem");
    }
    let has_cause = k.root_cause.is_some_and(|c| !c.trim().is_empty());
    match (k.status, to) {
        (from, to) if from == to => Ok(()),
        ("postmortem", _) => Err("the postmortem is written: the incident is closed"),
        (_, "resolved") if !has_cause => {
            Err("resolving needs a root-cause summary (what broke and why)")
        }
        (_, "postmortem") if !k.has_postmortem => {
            Err("write the postmortem first: it moves the incident to postmortem")
        }
        (_, "postmortem") if k.status != "resolved" => Err("resolve the incident first"),
        _ => Ok(()),
    }
}

/// The status-page impact an incident of this severity has.
pub fn impact_of(severity: i64) -> &'static str {
    match severity {
        1 => "critical",
        2 => "major",
        3 => "minor",
        _ => "none",
    }
}

/// `INC-12`, or a bare `12`, or an id: the number when it is one.
pub fn parse_number(reference: &str) -> Option<i64> {
    let r = reference.trim();
    let digits = r
        .strip_prefix("INC-")
        .or_else(|| r.strip_prefix("inc-"))
        .unwrap_or(r);
    digits.parse().ok().filter(|n| *n > 0)
}

/// A live incident as the freeze sees it.
#[derive(Clone, Debug)]
pub struct LiveIncident {
    pub number: i64,
    pub title: String,
    pub severity: i64,
}

/// A scheduled freeze as the freeze sees it.
#[derive(Clone, Debug)]
pub struct Window {
    pub starts_at: i64,
    pub ends_at: i64,
    pub reason: String,
}

/// Why changes are frozen now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Freeze {
    /// A live incident at or above the freeze severity.
    Incident { number: i64, title: String },
    /// A scheduled window.
    Window { reason: String, ends_at: i64 },
}

impl Freeze {
    /// The refusal, naming the incident or window.
    pub fn message(&self) -> String {
        match self {
            Freeze::Incident { number, title } => format!(
                "changes are frozen while INC-{number} \"{title}\" is live; the incident commander \
                 or an admin can override for this one action with a written reason"
            ),
            Freeze::Window { reason, ends_at } => format!(
                "changes are frozen until {} ({reason}); the incident commander or an admin can \
                 override for this one action with a written reason",
                opsdesk_core::clock::rfc3339_ms(*ends_at)
            ),
        }
    }
}

/// Action kinds the freeze stops.
pub fn frozen_kind(kind: &str) -> bool {
    matches!(kind, "config_change" | "deploy")
}

/// Whether an action of `kind` is frozen at `now`: by the worst live incident at or above
/// `freeze_severity` (0: incidents never freeze), else by a window covering `now`.
pub fn freeze(
    kind: &str,
    live: &[LiveIncident],
    windows: &[Window],
    freeze_severity: i64,
    now: i64,
) -> Option<Freeze> {
    if !frozen_kind(kind) {
        return None;
    }
    let incident = live
        .iter()
        .filter(|i| freeze_severity > 0 && i.severity <= freeze_severity)
        .min_by_key(|i| (i.severity, i.number));
    if let Some(i) = incident {
        return Some(Freeze::Incident {
            number: i.number,
            title: i.title.clone(),
        });
    }
    windows
        .iter()
        .find(|w| w.starts_at <= now && now < w.ends_at)
        .map(|w| Freeze::Window {
            reason: w.reason.clone(),
            ends_at: w.ends_at,
        })
}

/// One line of the timeline as the postmortem's prefill shows it.
#[derive(Clone, Debug)]
pub struct Line<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub kind: &'a str,
    pub body: &'a str,
}

/// The postmortem's timeline section, prefilled from the incident's own timeline (UTC times,
/// one line per event).
pub fn timeline_text(lines: &[Line<'_>]) -> String {
    let mut out = String::new();
    for l in lines {
        let at = jiff::Timestamp::from_millisecond(l.at)
            .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        let body: String = l
            .body
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        out.push_str(&format!("- {at} · {} · {}: {body}\n", l.actor, l.kind));
    }
    out
}

/// Action items from the postmortem form: one per non-empty line, leading list marks dropped.
pub fn action_items(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            l.trim()
                .trim_start_matches(['-', '*', '•'])
                .trim()
                .to_string()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k<'a>(status: &'a str, cause: Option<&'a str>, pm: bool) -> Known<'a> {
        Known {
            status,
            root_cause: cause,
            has_postmortem: pm,
        }
    }

    #[test]
    fn resolving_needs_a_root_cause() {
        assert!(can_move(k("investigating", None, false), "resolved").is_err());
        assert!(can_move(k("investigating", Some("  "), false), "resolved").is_err());
        assert!(can_move(k("monitoring", Some("disk full"), false), "resolved").is_ok());
    }

    #[test]
    fn the_postmortem_status_follows_a_written_postmortem_of_a_resolved_incident() {
        assert!(can_move(k("resolved", Some("x"), false), "postmortem").is_err());
        assert!(can_move(k("monitoring", Some("x"), true), "postmortem").is_err());
        assert!(can_move(k("resolved", Some("x"), true), "postmortem").is_ok());
        assert!(can_move(k("postmortem", Some("x"), true), "investigating").is_err());
    }

    #[test]
    fn open_statuses_move_freely_and_a_resolved_incident_reopens() {
        assert!(can_move(k("investigating", None, false), "monitoring").is_ok());
        assert!(can_move(k("monitoring", None, false), "identified").is_ok());
        assert!(can_move(k("resolved", Some("x"), false), "investigating").is_ok());
        assert!(can_move(k("investigating", None, false), "closed").is_err());
    }

    #[test]
    fn numbers_parse_with_or_without_the_prefix() {
        assert_eq!(parse_number("INC-12"), Some(12));
        assert_eq!(parse_number("12"), Some(12));
        assert_eq!(parse_number("0"), None);
        assert_eq!(parse_number("0190a3c4-uuid"), None);
    }

    fn live(n: i64, sev: i64) -> LiveIncident {
        LiveIncident {
            number: n,
            title: format!("t{n}"),
            severity: sev,
        }
    }

    #[test]
    fn a_live_incident_at_or_above_the_freeze_severity_freezes_changes_and_deploys_only() {
        let l = [live(3, 3), live(7, 2)];
        let f = freeze("deploy", &l, &[], 2, 0).unwrap_or_else(|| panic!("not frozen"));
        assert_eq!(
            f,
            Freeze::Incident {
                number: 7,
                title: "t7".into()
            }
        );
        assert!(f.message().contains("INC-7"));
        assert!(freeze("config_change", &l, &[], 2, 0).is_some());
        assert!(freeze("restart", &l, &[], 2, 0).is_none());
        assert!(freeze("diagnostic", &l, &[], 2, 0).is_none());
        assert!(freeze("deploy", &[live(3, 3)], &[], 2, 0).is_none());
        assert!(freeze("deploy", &l, &[], 0, 0).is_none());
    }

    #[test]
    fn a_window_freezes_only_while_it_runs() {
        let w = [Window {
            starts_at: 100,
            ends_at: 200,
            reason: "Black Friday".into(),
        }];
        assert!(freeze("deploy", &[], &w, 2, 99).is_none());
        let f = freeze("deploy", &[], &w, 2, 100).unwrap_or_else(|| panic!("not frozen"));
        assert!(f.message().contains("Black Friday"));
        assert!(freeze("deploy", &[], &w, 2, 200).is_none());
    }

    #[test]
    fn the_prefilled_timeline_has_one_line_per_event() {
        let t = timeline_text(&[
            Line {
                at: 0,
                actor: "Ann",
                kind: "declared",
                body: "API down\nmore",
            },
            Line {
                at: 60_000,
                actor: "Bob",
                kind: "status",
                body: "identified",
            },
        ]);
        assert_eq!(
            t,
            "- 1970-01-01 00:00 UTC · Ann · declared: API down\n- 1970-01-01 00:01 UTC · Bob · status: identified\n"
        );
    }

    #[test]
    fn action_items_are_the_non_empty_lines() {
        assert_eq!(
            action_items("- add a disk alert\n\n* rotate logs\n  •  page on-call\n"),
            vec!["add a disk alert", "rotate logs", "page on-call"]
        );
    }

    #[test]
    fn severity_maps_to_the_page_impact() {
        assert_eq!(impact_of(1), "critical");
        assert_eq!(impact_of(4), "none");
        assert!(needs_postmortem(2) && !needs_postmortem(3));
    }
}
