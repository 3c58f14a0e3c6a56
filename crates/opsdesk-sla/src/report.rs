//! SLA reports (pure): first-response and resolution times (median, p90) and breach rate per
//! tier, category or agent over a period, the weekly trend and the distribution of first
//! response times; and the same numbers as CSV.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::{Clock, TicketClocks};
use crate::deadlines::TargetsMs;
use crate::hours::BusinessHours;

const MINUTE: i64 = 60_000;
const WEEK: i64 = 7 * 24 * 60 * MINUTE;

/// What the rows are grouped by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    #[default]
    Tier,
    Category,
    Agent,
}

impl GroupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Tier => "tier",
            GroupBy::Category => "category",
            GroupBy::Agent => "agent",
        }
    }
}

/// One ticket of the period, as the store reads it.
#[derive(Clone, Debug)]
pub struct ReportTicket {
    pub created_at: i64,
    pub tier: String,
    pub category: Option<String>,
    pub agent: Option<String>,
    pub clocks: TicketClocks,
    pub targets: TargetsMs,
}

/// What one ticket contributes: its times (business ms) and whether it missed a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Measured {
    first_response: Option<i64>,
    resolution: Option<i64>,
    has_targets: bool,
    breached: bool,
}

/// The first response time counts only when a reply met it (a ticket resolved without a reply
/// stops the clock too, at the resolution instant).
fn responded(c: &TicketClocks) -> Option<i64> {
    let stop = c.first_response.stopped_at?;
    let by_resolution = c.resolution.stopped_at == Some(stop);
    (!by_resolution).then_some(c.first_response.elapsed_ms)
}

fn measure(t: &ReportTicket, hours: &BusinessHours, now: i64) -> Measured {
    let c = &t.clocks;
    let missed = |clock: &Clock, target: Option<i64>| {
        target.is_some_and(|limit| clock.is_breached(limit, now, hours))
    };
    Measured {
        first_response: responded(c),
        resolution: c.resolution.stopped_at.map(|_| c.resolution.elapsed_ms),
        has_targets: t.targets != TargetsMs::default(),
        breached: missed(&c.first_response, t.targets.first_response)
            || missed(&c.next_response, t.targets.next_response)
            || missed(&c.resolution, t.targets.resolution),
    }
}

/// Median and 90th percentile (nearest rank) in minutes, over the values present.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Spread {
    /// How many tickets the figures are over.
    pub count: usize,
    pub median_minutes: Option<i64>,
    pub p90_minutes: Option<i64>,
}

fn spread(mut v: Vec<i64>) -> Spread {
    v.sort_unstable();
    let rank = |p: usize| -> Option<i64> {
        // Nearest rank: the smallest value with at least p % of the values at or below it.
        let n = v.len();
        (n > 0).then(|| v[(n * p).div_ceil(100).clamp(1, n) - 1] / MINUTE)
    };
    Spread {
        count: v.len(),
        median_minutes: rank(50),
        p90_minutes: rank(90),
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct GroupRow {
    /// The tier, category or agent (`Uncategorized`, `Unassigned` when none).
    pub name: String,
    pub tickets: usize,
    pub first_response: Spread,
    pub resolution: Spread,
    /// Tickets that missed a target, of those with targets.
    pub breached: usize,
    pub with_targets: usize,
    /// `breached / with_targets`, 0–1; absent without targeted tickets.
    pub breach_rate: Option<f64>,
}

#[derive(Default)]
struct Acc {
    tickets: usize,
    first: Vec<i64>,
    resolution: Vec<i64>,
    breached: usize,
    with_targets: usize,
}

impl Acc {
    fn add(&mut self, m: &Measured) {
        self.tickets += 1;
        self.first.extend(m.first_response);
        self.resolution.extend(m.resolution);
        if m.has_targets {
            self.with_targets += 1;
            self.breached += usize::from(m.breached);
        }
    }

    fn row(self, name: String) -> GroupRow {
        GroupRow {
            name,
            tickets: self.tickets,
            first_response: spread(self.first),
            resolution: spread(self.resolution),
            breached: self.breached,
            with_targets: self.with_targets,
            breach_rate: (self.with_targets > 0)
                .then(|| self.breached as f64 / self.with_targets as f64),
        }
    }
}

/// One week of the trend (weeks start on Monday, UTC).
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct WeekRow {
    /// Unix milliseconds of the Monday 00:00 UTC the week starts.
    pub week_start: i64,
    pub tickets: usize,
    pub first_response_median_minutes: Option<i64>,
    pub breach_rate: Option<f64>,
}

/// How many first responses fell in each band.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Band {
    pub label: &'static str,
    pub tickets: usize,
}

/// First response bands, upper bounds in minutes (the last is open).
const BANDS: [(&str, i64); 6] = [
    ("< 1 h", 60),
    ("1–4 h", 240),
    ("4–8 h", 480),
    ("8–24 h", 1_440),
    ("1–3 d", 4_320),
    ("> 3 d", i64::MAX),
];

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct SlaReport {
    pub from: String,
    pub to: String,
    pub group_by: GroupBy,
    /// All tickets of the period.
    pub total: GroupRow,
    /// One row per tier, category or agent, most tickets first.
    pub groups: Vec<GroupRow>,
    pub weeks: Vec<WeekRow>,
    pub first_response_distribution: Vec<Band>,
}

/// The Monday 00:00 UTC on or before `at`.
pub fn week_start(at: i64) -> i64 {
    // 1970-01-01 was a Thursday: Mondays fall 4 days into the epoch's weeks.
    let monday0 = 4 * 24 * 60 * MINUTE;
    at - (at - monday0).rem_euclid(WEEK)
}

/// Builds the report over `tickets` (created within the period), each measured in its
/// calendar (`hours_of`) at `now`.
pub fn build<'a>(
    tickets: &[ReportTicket],
    hours_of: impl Fn(usize) -> &'a BusinessHours,
    group_by: GroupBy,
    (from, to): (String, String),
    now: i64,
) -> SlaReport {
    let mut total = Acc::default();
    let mut groups: std::collections::BTreeMap<String, Acc> = Default::default();
    let mut weeks: std::collections::BTreeMap<i64, Acc> = Default::default();
    let mut bands = vec![0usize; BANDS.len()];
    for (i, t) in tickets.iter().enumerate() {
        let m = measure(t, hours_of(i), now);
        total.add(&m);
        let key = match group_by {
            GroupBy::Tier => t.tier.clone(),
            GroupBy::Category => t.category.clone().unwrap_or_else(|| "Uncategorized".into()),
            GroupBy::Agent => t.agent.clone().unwrap_or_else(|| "Unassigned".into()),
        };
        groups.entry(key).or_default().add(&m);
        weeks.entry(week_start(t.created_at)).or_default().add(&m);
        if let Some(fr) = m.first_response {
            let minutes = fr / MINUTE;
            if let Some(b) = BANDS.iter().position(|(_, upper)| minutes < *upper) {
                bands[b] += 1;
            }
        }
    }
    let mut groups: Vec<GroupRow> = groups.into_iter().map(|(k, a)| a.row(k)).collect();
    groups.sort_by(|a, b| b.tickets.cmp(&a.tickets).then(a.name.cmp(&b.name)));
    SlaReport {
        from,
        to,
        group_by,
        total: total.row("All tickets".into()),
        groups,
        weeks: weeks
            .into_iter()
            .map(|(week_start, a)| {
                let row = a.row(String::new());
                WeekRow {
                    week_start,
                    tickets: row.tickets,
                    first_response_median_minutes: row.first_response.median_minutes,
                    breach_rate: row.breach_rate,
                }
            })
            .collect(),
        first_response_distribution: BANDS
            .iter()
            .zip(bands)
            .map(|((label, _), tickets)| Band { label, tickets })
            .collect(),
    }
}

/// A CSV field, quoted when it needs to be; a leading `=`, `+`, `-` or `@` is neutralised so a
/// spreadsheet does not run a name as a formula.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn opt(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The groups (and the total) as CSV, one row each.
pub fn csv(r: &SlaReport) -> String {
    let mut out = format!(
        "{},tickets,first_response_count,first_response_median_minutes,first_response_p90_minutes,\
         resolution_count,resolution_median_minutes,resolution_p90_minutes,with_targets,breached,breach_rate\r\n",
        r.group_by.as_str()
    );
    for g in r.groups.iter().chain(std::iter::once(&r.total)) {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{}\r\n",
            field(&g.name),
            g.tickets,
            g.first_response.count,
            opt(g.first_response.median_minutes),
            opt(g.first_response.p90_minutes),
            g.resolution.count,
            opt(g.resolution.median_minutes),
            opt(g.resolution.p90_minutes),
            g.with_targets,
            g.breached,
            g.breach_rate.map(|b| format!("{b:.4}")).unwrap_or_default()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Event;

    fn ticket(tier: &str, events: &[Event], targets: TargetsMs) -> ReportTicket {
        let h = BusinessHours::always();
        let mut clocks = TicketClocks::default();
        for e in events {
            clocks.apply(*e, &h);
        }
        ReportTicket {
            created_at: match events.first() {
                Some(Event::Opened(at)) => *at,
                _ => 0,
            },
            tier: tier.into(),
            category: None,
            agent: None,
            clocks,
            targets,
        }
    }

    #[test]
    fn spreads_use_nearest_rank() {
        let s = spread((1..=10).map(|m| m * MINUTE).collect());
        assert_eq!((s.median_minutes, s.p90_minutes), (Some(5), Some(9)));
        let one = spread(vec![7 * MINUTE]);
        assert_eq!((one.median_minutes, one.p90_minutes), (Some(7), Some(7)));
        assert_eq!(spread(Vec::new()).median_minutes, None);
    }

    #[test]
    fn a_report_counts_times_breaches_weeks_and_bands() {
        let h = BusinessHours::always();
        let hour = 60 * MINUTE;
        let t = TargetsMs {
            first_response: Some(hour),
            next_response: None,
            resolution: Some(8 * hour),
        };
        let monday = week_start(10 * WEEK) + hour;
        let tickets = vec![
            // Answered in 30 minutes, resolved in 2 hours: met.
            ticket(
                "Priority",
                &[
                    Event::Opened(monday),
                    Event::PublicReply(monday + hour / 2),
                    Event::Resolved(monday + 2 * hour),
                ],
                t,
            ),
            // Answered after 3 hours: first response missed; still open.
            ticket(
                "Priority",
                &[Event::Opened(monday), Event::PublicReply(monday + 3 * hour)],
                t,
            ),
            // Resolved without a reply: no first response time; no targets.
            ticket(
                "Community",
                &[
                    Event::Opened(monday + WEEK),
                    Event::Resolved(monday + WEEK + hour),
                ],
                TargetsMs::default(),
            ),
        ];
        let r = build(
            &tickets,
            |_| &h,
            GroupBy::Tier,
            ("a".into(), "b".into()),
            monday + 2 * WEEK,
        );
        assert_eq!(r.total.tickets, 3);
        assert_eq!(r.total.first_response.count, 2);
        assert_eq!(r.total.first_response.median_minutes, Some(30));
        assert_eq!(r.total.first_response.p90_minutes, Some(180));
        assert_eq!((r.total.breached, r.total.with_targets), (1, 2));
        assert_eq!(r.groups[0].name, "Priority");
        assert_eq!(r.groups[0].breach_rate, Some(0.5));
        assert_eq!(r.groups[1].breach_rate, None, "no targets, no rate");
        assert_eq!(r.groups[1].resolution.median_minutes, Some(60));
        assert_eq!(r.weeks.len(), 2);
        assert_eq!(r.weeks[0].tickets, 2);
        let bands: Vec<usize> = r
            .first_response_distribution
            .iter()
            .map(|b| b.tickets)
            .collect();
        assert_eq!(bands, [1, 1, 0, 0, 0, 0]);
        let text = csv(&r);
        assert!(text.starts_with("tier,tickets,"));
        assert!(
            text.contains("\r\nPriority,2,2,30,180,1,120,120,2,1,0.5000\r\n"),
            "{text}"
        );
        assert!(
            text.ends_with("All tickets,3,2,30,180,2,60,120,2,1,0.5000\r\n"),
            "{text}"
        );
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }

    #[test]
    fn weeks_start_on_monday_utc() {
        // 2026-11-23 is a Monday; 2026-11-25 12:00 UTC belongs to its week.
        let monday = 1_795_392_000_000;
        assert_eq!(
            week_start(monday + 2 * 24 * 60 * MINUTE + 12 * 60 * MINUTE),
            monday
        );
        assert_eq!(week_start(monday), monday);
        assert_eq!(week_start(monday - 1), monday - WEEK);
    }
}
