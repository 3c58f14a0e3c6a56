//! Business hours: weekly opening hours in a time zone, minus holidays, and the arithmetic the
//! SLA clock needs — add business time to an instant, measure it between two instants, find the
//! next open moment. Instants are milliseconds since the Unix epoch, like every time we store.
//!
//! Opening hours are local wall-clock times; a span whose end is at or before its start runs past
//! midnight into the next day. Time is always measured as real elapsed time, so an open span
//! that contains a DST change is an hour shorter or longer that day. Holidays close a whole local
//! calendar date (including the early hours of a span that began the evening before).

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const DAY_MINUTES: u16 = 24 * 60;
/// How far ahead (in days) the arithmetic looks for open time before it gives up; a calendar is
/// refused if it has no open time within a year, so this is only reached by absurd durations.
pub const HORIZON_DAYS: i64 = 3_660;
pub const MAX_SPANS: usize = 100;
pub const MAX_HOLIDAYS: usize = 500;
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Opening hours as an admin enters them (the API's and the form's shape).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
pub struct HoursSpec {
    /// An IANA time zone, e.g. `Europe/Berlin`.
    pub time_zone: String,
    pub hours: Vec<OpenSpan>,
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

/// One span of opening hours on a weekday.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
pub struct OpenSpan {
    /// `mon` … `sun`.
    pub day: String,
    /// `09:00`.
    pub from: String,
    /// `17:30`; `24:00` for the end of the day; at or before `from` runs past midnight.
    pub to: String,
}

/// A closed day.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
pub struct Holiday {
    /// `2026-12-24` for that day only, or `12-25` for the same day every year.
    pub date: String,
    #[serde(default)]
    pub name: String,
}

/// What is wrong with a spec, by field (`time_zone`, `hours[2].to`, `holidays[0].date`, …).
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error)]
#[error("invalid business hours: {0:?}")]
pub struct Problems(pub Vec<(String, String)>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push((field.into(), message.into()));
    }
}

/// Checked business hours, ready for arithmetic.
#[derive(Clone, Debug)]
pub struct BusinessHours {
    tz: TimeZone,
    /// Open minutes of each weekday (Monday first): sorted, disjoint, within a day.
    week: [Vec<(u16, u16)>; 7],
    once: BTreeSet<Date>,
    /// (month, day) closed every year.
    yearly: BTreeSet<(i8, i8)>,
    always: bool,
}

fn parse_minute(s: &str, allow_24: bool) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) if allow_24 => Some(DAY_MINUTES),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn clock(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// A holiday's date: a single day, or a (month, day) every year.
enum HolidayDate {
    Once(Date),
    Yearly(i8, i8),
}

fn parse_holiday(s: &str) -> Result<HolidayDate, &'static str> {
    let s = s.trim();
    if s.len() == 10 {
        return s
            .parse::<Date>()
            .map(HolidayDate::Once)
            .map_err(|_| "must be a date like 2026-12-24 (or 12-25 for every year)");
    }
    let yearly = s
        .split_once('-')
        .filter(|(m, d)| m.len() == 2 && d.len() == 2)
        .and_then(|(m, d)| Some((m.parse::<i8>().ok()?, d.parse::<i8>().ok()?)));
    match yearly {
        // A leap year holds every month-day there is.
        Some((m, d)) if Date::new(2024, m, d).is_ok() => Ok(HolidayDate::Yearly(m, d)),
        _ => Err("must be a date like 2026-12-24 (or 12-25 for every year)"),
    }
}

impl BusinessHours {
    /// Round the clock, every day: business time is real time.
    pub fn always() -> BusinessHours {
        BusinessHours {
            tz: TimeZone::UTC,
            week: Default::default(),
            once: BTreeSet::new(),
            yearly: BTreeSet::new(),
            always: true,
        }
    }

    /// Checks a spec an admin entered; `today` is the date one-off holidays may not be before,
    /// and the calendar must open some day of the year from it.
    pub fn parse(spec: &HoursSpec, today: Date) -> Result<BusinessHours, Problems> {
        Self::build(spec, Some(today))
    }

    /// A spec stored earlier (checked when it was entered; its one-off holidays may be past now).
    pub fn load(spec: &HoursSpec) -> Result<BusinessHours, Problems> {
        Self::build(spec, None)
    }

    fn build(spec: &HoursSpec, today: Option<Date>) -> Result<BusinessHours, Problems> {
        let mut problems = Problems::default();
        let tz = match spec.time_zone.trim() {
            "" => {
                problems.add("time_zone", "is required (e.g. Europe/Berlin)");
                None
            }
            name => match TimeZone::get(name) {
                Ok(tz) => Some(tz),
                Err(_) => {
                    problems.add(
                        "time_zone",
                        format!("{name:?} is not a known time zone (e.g. Europe/Berlin, America/New_York)"),
                    );
                    None
                }
            },
        };
        let week = parse_week(&spec.hours, &mut problems);
        let (once, yearly) = parse_holidays(&spec.holidays, today, &mut problems);
        let (Some(tz), Some(week)) = (tz, week) else {
            return Err(problems);
        };
        if !problems.0.is_empty() {
            return Err(problems);
        }
        let hours = BusinessHours {
            tz,
            week,
            once,
            yearly,
            always: false,
        };
        let Some(today) = today else {
            return Ok(hours);
        };
        let mut day = today;
        let open_within_a_year = (0..366).any(|_| {
            let open = hours.is_open_day(day);
            day = day.tomorrow().unwrap_or(day);
            open
        });
        if !open_within_a_year {
            problems.add(
                "holidays",
                "leave no open day in the coming year: nothing could ever be due",
            );
            return Err(problems);
        }
        Ok(hours)
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    pub fn is_always(&self) -> bool {
        self.always
    }

    /// Open minutes in a week without holidays (10,080 round the clock).
    pub fn weekly_minutes(&self) -> u32 {
        if self.always {
            return 7 * u32::from(DAY_MINUTES);
        }
        self.week
            .iter()
            .flatten()
            .map(|&(a, b)| u32::from(b - a))
            .sum()
    }

    fn is_open_day(&self, date: Date) -> bool {
        let weekday = usize::from(date.weekday().to_monday_zero_offset().unsigned_abs());
        !self.week[weekday].is_empty()
            && !self.once.contains(&date)
            && !self.yearly.contains(&(date.month(), date.day()))
    }

    /// The instant a local date and minute of the day stand for (a minute in a DST gap counts
    /// as the first instant after it).
    fn instant(&self, date: Date, minute: u16) -> Option<i64> {
        let (date, minute) = if minute >= DAY_MINUTES {
            (date.tomorrow().ok()?, minute - DAY_MINUTES)
        } else {
            (date, minute)
        };
        let local = DateTime::from_parts(
            date,
            jiff::civil::time(
                i8::try_from(minute / 60).ok()?,
                i8::try_from(minute % 60).ok()?,
                0,
                0,
            ),
        );
        let ts = self.tz.to_ambiguous_timestamp(local).compatible().ok()?;
        Some(ts.as_millisecond())
    }

    /// The open windows of a local date as instants `[start, end)`, in order.
    fn windows(&self, date: Date) -> impl Iterator<Item = (i64, i64)> + '_ {
        let weekday = usize::from(date.weekday().to_monday_zero_offset().unsigned_abs());
        let spans: &[(u16, u16)] = if self.is_open_day(date) {
            &self.week[weekday]
        } else {
            &[]
        };
        spans.iter().filter_map(move |&(a, b)| {
            let (a, b) = (self.instant(date, a)?, self.instant(date, b)?);
            (b > a).then_some((a, b))
        })
    }

    fn local_date(&self, at: i64) -> Option<Date> {
        let ts = Timestamp::from_millisecond(at).ok()?;
        Some(self.tz.to_datetime(ts).date())
    }

    /// The instant `business_ms` of business time after `start`; `None` when there is not that
    /// much open time within the horizon (or the instant is out of range).
    pub fn add(&self, start: i64, business_ms: i64) -> Option<i64> {
        if business_ms <= 0 {
            return Some(start);
        }
        if self.always {
            return start.checked_add(business_ms);
        }
        let mut left = business_ms;
        let mut date = self.local_date(start)?;
        for _ in 0..HORIZON_DAYS {
            for (a, b) in self.windows(date) {
                let a = a.max(start);
                if b <= a {
                    continue;
                }
                if left <= b - a {
                    return Some(a + left);
                }
                left -= b - a;
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// Business time between two instants (zero when `to` is not after `from`).
    pub fn between(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        if self.always {
            return to - from;
        }
        let (Some(mut date), Some(last)) = (self.local_date(from), self.local_date(to)) else {
            return 0;
        };
        let mut total = 0;
        while date <= last {
            for (a, b) in self.windows(date) {
                let (a, b) = (a.max(from), b.min(to));
                if b > a {
                    total += b - a;
                }
            }
            match date.tomorrow() {
                Ok(d) => date = d,
                Err(_) => break,
            }
        }
        total
    }

    /// Whether `at` falls in open hours.
    pub fn is_open(&self, at: i64) -> bool {
        self.always
            || self
                .local_date(at)
                .is_some_and(|d| self.windows(d).any(|(a, b)| a <= at && at < b))
    }

    /// `at` if open, else the next instant the calendar opens (`None` beyond the horizon).
    pub fn next_open(&self, at: i64) -> Option<i64> {
        if self.always {
            return Some(at);
        }
        let mut date = self.local_date(at)?;
        for _ in 0..HORIZON_DAYS {
            if let Some((a, _)) = self.windows(date).find(|&(_, b)| b > at) {
                return Some(a.max(at));
            }
            date = date.tomorrow().ok()?;
        }
        None
    }
}

/// The weekly spans, split at midnight, sorted and checked for overlaps.
fn parse_week(spans: &[OpenSpan], problems: &mut Problems) -> Option<[Vec<(u16, u16)>; 7]> {
    if spans.len() > MAX_SPANS {
        problems.add("hours", format!("has more than {MAX_SPANS} spans"));
        return None;
    }
    // (weekday, from, to, index of the span it came from)
    let mut pieces: Vec<(usize, u16, u16, usize)> = Vec::new();
    let before = problems.0.len();
    for (i, s) in spans.iter().enumerate() {
        let day = DAYS
            .iter()
            .position(|d| d.eq_ignore_ascii_case(s.day.trim()));
        if day.is_none() {
            problems.add(
                format!("hours[{i}].day"),
                "must be mon, tue, wed, thu, fri, sat or sun",
            );
        }
        let from = parse_minute(&s.from, false);
        if from.is_none() {
            problems.add(format!("hours[{i}].from"), "must be a time like 09:00");
        }
        let to = parse_minute(&s.to, true);
        if to.is_none() {
            problems.add(
                format!("hours[{i}].to"),
                "must be a time like 17:30 (or 24:00)",
            );
        }
        let (Some(day), Some(from), Some(to)) = (day, from, to) else {
            continue;
        };
        if from == to {
            problems.add(
                format!("hours[{i}].to"),
                "is the same as from: a span needs some open time (00:00–24:00 is a whole day)",
            );
        } else if to > from {
            pieces.push((day, from, to, i));
        } else {
            // Past midnight: the evening part today, the rest tomorrow.
            pieces.push((day, from, DAY_MINUTES, i));
            if to > 0 {
                pieces.push(((day + 1) % 7, 0, to, i));
            }
        }
    }
    if problems.0.len() > before {
        return None;
    }
    if pieces.is_empty() {
        problems.add(
            "hours",
            "has no open hours: a calendar must be open some time each week (choose 24/7 instead for round-the-clock cover)",
        );
        return None;
    }
    pieces.sort_unstable();
    let mut week: [Vec<(u16, u16)>; 7] = Default::default();
    let mut last: Option<(usize, u16, u16, usize)> = None;
    for p in pieces {
        if let Some(prev) = last
            && prev.0 == p.0
            && p.1 < prev.2
        {
            problems.add(
                format!("hours[{}].from", p.3),
                format!(
                    "overlaps hours[{}] ({} {}–{})",
                    prev.3,
                    DAYS[prev.0],
                    clock(prev.1),
                    clock(prev.2)
                ),
            );
            continue;
        }
        match week[p.0].last_mut() {
            // Back-to-back spans (or a night span meeting the morning one) are one window.
            Some(w) if w.1 == p.1 => w.1 = p.2,
            _ => week[p.0].push((p.1, p.2)),
        }
        last = Some(p);
    }
    (problems.0.len() == before).then_some(week)
}

fn parse_holidays(
    holidays: &[Holiday],
    today: Option<Date>,
    problems: &mut Problems,
) -> (BTreeSet<Date>, BTreeSet<(i8, i8)>) {
    let (mut once, mut yearly) = (BTreeSet::new(), BTreeSet::new());
    if holidays.len() > MAX_HOLIDAYS {
        problems.add("holidays", format!("has more than {MAX_HOLIDAYS} days"));
        return (once, yearly);
    }
    for (i, h) in holidays.iter().enumerate() {
        match parse_holiday(&h.date) {
            Ok(HolidayDate::Once(d)) if today.is_some_and(|t| d < t) => problems.add(
                format!("holidays[{i}].date"),
                format!("{d} is in the past (use MM-DD for a holiday every year)"),
            ),
            Ok(HolidayDate::Once(d)) => {
                once.insert(d);
            }
            Ok(HolidayDate::Yearly(m, d)) => {
                yearly.insert((m, d));
            }
            Err(e) => problems.add(format!("holidays[{i}].date"), e),
        }
        if h.name.chars().count() > 100 {
            problems.add(
                format!("holidays[{i}].name"),
                "is longer than 100 characters",
            );
        }
    }
    (once, yearly)
}
