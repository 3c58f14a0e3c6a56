//! The status page's rules (pure): a component's Statuspage status from what it follows, the
//! page's overall indicator, maintenance windows' phases and the 90-day bars.

/// Statuspage's component statuses, worst last.
pub const COMPONENT_STATUSES: [&str; 5] = [
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
];

/// Incident statuses as Statuspage names them.
pub const INCIDENT_STATUSES: [&str; 4] = ["investigating", "identified", "monitoring", "resolved"];
/// Incident impacts.
pub const IMPACTS: [&str; 4] = ["none", "minor", "major", "critical"];

/// A component's status from the status of the heartbeat check or monitor it follows (as those
/// show it: up, grace, started, new, paused, down).
pub fn from_check(shown: &str) -> &'static str {
    match shown {
        "down" => "major_outage",
        "grace" => "degraded_performance",
        _ => "operational",
    }
}

/// Whether an incident with this status is still open on the page.
pub fn is_open(status: &str) -> bool {
    !matches!(status, "resolved" | "postmortem" | "completed")
}

/// The worse of two component statuses (as `COMPONENT_STATUSES` orders them).
pub fn worse<'a>(a: &'a str, b: &'a str) -> &'static str {
    let r = rank(a).max(rank(b));
    COMPONENT_STATUSES[r]
}

fn rank(status: &str) -> usize {
    COMPONENT_STATUSES
        .iter()
        .position(|s| *s == status)
        .unwrap_or(0)
}

/// The page's indicator and description from its components' statuses and the open incidents'
/// impacts (Statuspage's words).
pub fn overall(components: &[&str], impacts: &[&str]) -> (&'static str, &'static str) {
    let worst = components.iter().map(|s| rank(s)).max().unwrap_or(0);
    let down = components.iter().filter(|s| **s == "major_outage").count();
    let by_components = match worst {
        4 if down * 2 > components.len() => "critical",
        4 => "major",
        2 | 3 => "minor",
        _ => "none",
    };
    let by_incidents = impacts
        .iter()
        .map(|i| IMPACTS.iter().position(|x| x == i).unwrap_or(0))
        .max()
        .unwrap_or(0);
    let level = IMPACTS
        .iter()
        .position(|x| *x == by_components)
        .unwrap_or(0)
        .max(by_incidents);
    let indicator = IMPACTS[level];
    let description = match (indicator, worst) {
        ("none", 1) => "Service Under Maintenance",
        ("none", _) => "All Systems Operational",
        ("minor", 2) => "Partially Degraded Service",
        ("minor", _) => "Minor Service Outage",
        ("major", _) => "Partial System Outage",
        _ => "Major System Outage",
    };
    (indicator, description)
}

/// A maintenance window's Statuspage status at `now`.
pub fn maintenance_phase(starts: i64, ends: i64, resolved: Option<i64>, now: i64) -> &'static str {
    if resolved.is_some() || now >= ends {
        "completed"
    } else if now >= starts {
        "in_progress"
    } else {
        "scheduled"
    }
}

/// Share of each of the last `days` days (oldest first, the last being today) a check spent
/// down, from its status changes (time, went down?) and whether it was down before them.
pub fn down_share_per_day(
    changes: &[(i64, bool)],
    down_before: bool,
    today: i64,
    days: i64,
) -> Vec<f64> {
    const DAY: i64 = 86_400_000;
    let first = (today - days + 1) * DAY;
    let mut out = vec![0.0; usize::try_from(days).unwrap_or(0)];
    let mut down = down_before;
    let mut since = first;
    let add = |from: i64, to: i64, out: &mut Vec<f64>| {
        let mut t = from.max(first);
        while t < to {
            let day = t.div_euclid(DAY);
            let end = ((day + 1) * DAY).min(to);
            if let Some(slot) = usize::try_from(day - (today - days + 1))
                .ok()
                .and_then(|i| out.get_mut(i))
            {
                *slot += (end - t) as f64 / DAY as f64;
            }
            t = end;
        }
    };
    for (at, went_down) in changes {
        if *at < first {
            down = *went_down;
            continue;
        }
        if down {
            add(since, *at, &mut out);
        }
        down = *went_down;
        since = *at;
    }
    let now_end = (today + 1) * DAY;
    if down {
        add(since, now_end, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_reads_its_worst_component() {
        assert_eq!(
            overall(&["operational", "operational"], &[]),
            ("none", "All Systems Operational")
        );
        assert_eq!(
            overall(&["operational", "under_maintenance"], &[]),
            ("none", "Service Under Maintenance")
        );
        assert_eq!(
            overall(&["operational", "degraded_performance"], &[]).0,
            "minor"
        );
        assert_eq!(
            overall(&["operational", "major_outage", "operational"], &[]),
            ("major", "Partial System Outage")
        );
        assert_eq!(
            overall(&["major_outage", "major_outage", "operational"], &[]),
            ("critical", "Major System Outage")
        );
        assert_eq!(
            overall(&["operational"], &["major"]).0,
            "major",
            "an incident's impact counts"
        );
        assert_eq!(overall(&[], &[]).0, "none");
        assert_eq!(from_check("down"), "major_outage");
        assert_eq!(from_check("paused"), "operational");
    }

    #[test]
    fn maintenance_moves_through_its_phases() {
        assert_eq!(maintenance_phase(10, 20, None, 5), "scheduled");
        assert_eq!(maintenance_phase(10, 20, None, 15), "in_progress");
        assert_eq!(maintenance_phase(10, 20, None, 25), "completed");
        assert_eq!(maintenance_phase(10, 20, Some(12), 15), "completed");
    }

    #[test]
    fn downtime_is_spread_over_the_days_it_covers() {
        const DAY: i64 = 86_400_000;
        let today = 100;
        // Down from noon of day 98 to 06:00 of day 99, never before.
        let changes = [(98 * DAY + DAY / 2, true), (99 * DAY + DAY / 4, false)];
        let s = down_share_per_day(&changes, false, today, 3);
        assert_eq!(s, vec![0.5, 0.25, 0.0]);
        // Down since before the window and still down: every day fully down.
        assert_eq!(down_share_per_day(&[], true, today, 2), vec![1.0, 1.0]);
    }
}
