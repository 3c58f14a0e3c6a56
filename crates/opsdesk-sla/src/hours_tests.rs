//! Business-hours arithmetic: worked examples (DST in three zones, holidays, night shifts, long
//! targets) and properties over random calendars (round trips, never due in closed hours).

use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use proptest::prelude::*;

use crate::hours::{BusinessHours, HORIZON_DAYS, Holiday, HoursSpec, OpenSpan};

const HOUR: i64 = 3_600_000;
const TODAY: Date = date(2026, 1, 1);

fn span(day: &str, from: &str, to: &str) -> OpenSpan {
    OpenSpan {
        day: day.into(),
        from: from.into(),
        to: to.into(),
    }
}

fn spec(tz: &str, hours: Vec<OpenSpan>, holidays: &[&str]) -> HoursSpec {
    HoursSpec {
        time_zone: tz.into(),
        hours,
        holidays: holidays
            .iter()
            .map(|d| Holiday {
                date: (*d).into(),
                name: String::new(),
            })
            .collect(),
    }
}

fn office(tz: &str, holidays: &[&str]) -> BusinessHours {
    let hours = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| span(d, "09:00", "17:00"))
        .collect();
    BusinessHours::parse(&spec(tz, hours, holidays), TODAY).unwrap_or_else(|e| panic!("{e}"))
}

fn all_day(tz: &str) -> BusinessHours {
    let hours = crate::hours::DAYS
        .iter()
        .map(|d| span(d, "00:00", "24:00"))
        .collect();
    BusinessHours::parse(&spec(tz, hours, &[]), TODAY).unwrap_or_else(|e| panic!("{e}"))
}

/// The instant of a local wall-clock time in `tz`.
fn at(tz: &str, y: i16, mo: i8, d: i8, h: i8, mi: i8) -> i64 {
    let tz = TimeZone::get(tz).unwrap_or_else(|e| panic!("{e}"));
    date(y, mo, d)
        .at(h, mi, 0, 0)
        .to_zoned(tz)
        .unwrap_or_else(|e| panic!("{e}"))
        .timestamp()
        .as_millisecond()
}

fn problems(s: &HoursSpec) -> Vec<String> {
    match BusinessHours::parse(s, TODAY) {
        Ok(_) => panic!("{s:?} was accepted"),
        Err(p) => p.0.into_iter().map(|(f, m)| format!("{f}: {m}")).collect(),
    }
}

#[test]
fn office_hours_carry_over_to_the_next_open_day() {
    let tz = "Europe/Berlin";
    let h = office(tz, &[]);
    // Monday 16:00 + 2 h → Tuesday 10:00.
    let mon = at(tz, 2026, 3, 2, 16, 0);
    assert_eq!(h.add(mon, 2 * HOUR), Some(at(tz, 2026, 3, 3, 10, 0)));
    // Friday 16:30 + 1 h → Monday 09:30; a Saturday start counts from Monday 09:00.
    let fri = at(tz, 2026, 3, 6, 16, 30);
    assert_eq!(h.add(fri, HOUR), Some(at(tz, 2026, 3, 9, 9, 30)));
    let sat = at(tz, 2026, 3, 7, 11, 0);
    assert_eq!(h.add(sat, HOUR), Some(at(tz, 2026, 3, 9, 10, 0)));
    assert_eq!(h.between(sat, at(tz, 2026, 3, 9, 10, 0)), HOUR);
    // Ending exactly at closing time is allowed; a zero target is due at once.
    assert_eq!(h.add(mon, HOUR), Some(at(tz, 2026, 3, 2, 17, 0)));
    assert_eq!(h.add(sat, 0), Some(sat));
    assert!(h.is_open(mon) && !h.is_open(sat));
    assert_eq!(h.next_open(sat), Some(at(tz, 2026, 3, 9, 9, 0)));
    assert_eq!(h.next_open(mon), Some(mon));
}

#[test]
fn targets_longer_than_a_week() {
    let tz = "America/New_York";
    let h = office(tz, &[]);
    // 100 business hours from Monday 09:00: two 40-hour weeks, then Mon 8 + Tue 8 + Wed 4.
    let start = at(tz, 2026, 6, 1, 9, 0);
    let due = at(tz, 2026, 6, 17, 13, 0);
    assert_eq!(h.add(start, 100 * HOUR), Some(due));
    assert_eq!(h.between(start, due), 100 * HOUR);
}

#[test]
fn dst_changes_make_days_shorter_or_longer_in_three_zones() {
    // Berlin springs forward on 2026-03-29 (02:00 → 03:00): that Sunday has 23 hours.
    let b = all_day("Europe/Berlin");
    let sat = at("Europe/Berlin", 2026, 3, 28, 12, 0);
    assert_eq!(
        b.add(sat, 24 * HOUR),
        Some(at("Europe/Berlin", 2026, 3, 29, 13, 0))
    );
    let (sun, mon) = (
        at("Europe/Berlin", 2026, 3, 29, 0, 0),
        at("Europe/Berlin", 2026, 3, 30, 0, 0),
    );
    assert_eq!(b.between(sun, mon), 23 * HOUR);
    // New York falls back on 2026-11-01 (02:00 → 01:00): 25 hours.
    let ny = all_day("America/New_York");
    let (sun, mon) = (
        at("America/New_York", 2026, 11, 1, 0, 0),
        at("America/New_York", 2026, 11, 2, 0, 0),
    );
    assert_eq!(ny.between(sun, mon), 25 * HOUR);
    // Lord Howe shifts by 30 minutes: 23.5 hours on 2026-10-04, 24.5 on 2026-04-05.
    let lh = all_day("Australia/Lord_Howe");
    let z = "Australia/Lord_Howe";
    assert_eq!(
        lh.between(at(z, 2026, 10, 4, 0, 0), at(z, 2026, 10, 5, 0, 0)),
        47 * HOUR / 2
    );
    assert_eq!(
        lh.between(at(z, 2026, 4, 5, 0, 0), at(z, 2026, 4, 6, 0, 0)),
        49 * HOUR / 2
    );
    // Office hours away from the change are untouched by it.
    let o = office("Europe/Berlin", &[]);
    let fri = at("Europe/Berlin", 2026, 3, 27, 16, 0);
    assert_eq!(
        o.add(fri, 2 * HOUR),
        Some(at("Europe/Berlin", 2026, 3, 30, 10, 0))
    );
}

#[test]
fn holidays_close_whole_days_and_weekend_holidays_change_nothing() {
    let tz = "Europe/Berlin";
    // 2026-12-25 is a Friday, 2026-12-26 a Saturday.
    let h = office(tz, &["12-25", "12-26", "2026-12-31"]);
    let thu = at(tz, 2026, 12, 24, 16, 0);
    assert_eq!(h.add(thu, 2 * HOUR), Some(at(tz, 2026, 12, 28, 10, 0)));
    assert!(!h.is_open(at(tz, 2026, 12, 25, 10, 0)));
    assert!(h.is_open(at(tz, 2026, 12, 28, 10, 0)));
    // The one-off holiday, and the yearly one again next year.
    assert!(!h.is_open(at(tz, 2026, 12, 31, 10, 0)));
    assert!(h.is_open(at(tz, 2027, 12, 24, 10, 0)));
    assert_eq!(
        h.between(at(tz, 2027, 12, 24, 0, 0), at(tz, 2027, 12, 28, 0, 0)),
        2 * 8 * HOUR,
        "Fri 24th and Mon 27th are open; the 25th is a Saturday in 2027"
    );
}

#[test]
fn night_shifts_run_past_midnight() {
    let tz = "Asia/Kolkata";
    let hours = vec![span("mon", "22:00", "06:00"), span("tue", "09:00", "12:00")];
    let h = BusinessHours::parse(&spec(tz, hours, &[]), TODAY).unwrap_or_else(|e| panic!("{e}"));
    let mon_23 = at(tz, 2026, 3, 2, 23, 0);
    assert_eq!(h.add(mon_23, 3 * HOUR), Some(at(tz, 2026, 3, 3, 2, 0)));
    // Mon 21:00 → Tue 07:00 holds the whole shift, 8 hours.
    assert_eq!(
        h.between(at(tz, 2026, 3, 2, 21, 0), at(tz, 2026, 3, 3, 7, 0)),
        8 * HOUR
    );
    // 7 hours from Mon 23:00 use the rest of the shift; the 8th is Tuesday 09:00–10:00.
    assert_eq!(h.add(mon_23, 8 * HOUR), Some(at(tz, 2026, 3, 3, 10, 0)));
    // A holiday on Tuesday closes the early part of Monday's shift too.
    let hol = vec![span("mon", "22:00", "06:00")];
    let h = BusinessHours::parse(&spec(tz, hol, &["2026-03-03"]), TODAY)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        h.between(at(tz, 2026, 3, 2, 21, 0), at(tz, 2026, 3, 3, 7, 0)),
        2 * HOUR
    );
}

#[test]
fn round_the_clock_is_real_time() {
    let h = BusinessHours::always();
    assert_eq!(h.add(1_000, 5_000), Some(6_000));
    assert_eq!(h.between(1_000, 6_000), 5_000);
    assert_eq!(h.between(6_000, 1_000), 0);
    assert!(h.is_open(0));
}

#[test]
fn bad_calendars_are_refused_with_the_field_at_fault() {
    let ok = vec![span("mon", "09:00", "17:00")];
    let p = problems(&spec("", ok.clone(), &[]));
    assert!(p[0].starts_with("time_zone: is required"), "{p:?}");
    let p = problems(&spec("Mars/Olympus", ok.clone(), &[]));
    assert!(p[0].contains("not a known time zone"), "{p:?}");
    let p = problems(&spec("UTC", vec![span("monday", "9", "25:00")], &[]));
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p[0].starts_with("hours[0].day"), "{p:?}");
    assert!(p[1].starts_with("hours[0].from"), "{p:?}");
    assert!(p[2].starts_with("hours[0].to"), "{p:?}");
    let p = problems(&spec("UTC", vec![span("mon", "09:00", "09:00")], &[]));
    assert!(p[0].contains("same as from"), "{p:?}");
    let p = problems(&spec("UTC", vec![], &[]));
    assert!(p[0].starts_with("hours: has no open hours"), "{p:?}");
    // Overlaps, including a night shift running into the next morning's span.
    let p = problems(&spec(
        "UTC",
        vec![span("mon", "09:00", "17:00"), span("mon", "16:00", "18:00")],
        &[],
    ));
    assert!(p[0].contains("overlaps hours[0]"), "{p:?}");
    let p = problems(&spec(
        "UTC",
        vec![span("mon", "22:00", "07:00"), span("tue", "06:00", "12:00")],
        &[],
    ));
    assert!(p[0].contains("overlaps"), "{p:?}");
    // Holidays: in the past, impossible dates, and ones that close every open day.
    let p = problems(&spec(
        "UTC",
        ok.clone(),
        &["2025-12-24", "02-30", "2026-13-01"],
    ));
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p[0].contains("in the past"), "{p:?}");
    let mondays: Vec<String> = (0..53)
        .map(|w| {
            date(2026, 1, 5)
                .checked_add(jiff::Span::new().weeks(w))
                .unwrap_or_else(|e| panic!("{e}"))
                .to_string()
        })
        .collect();
    let refs: Vec<&str> = mondays.iter().map(String::as_str).collect();
    let p = problems(&spec("UTC", ok.clone(), &refs));
    assert!(p[0].contains("no open day"), "{p:?}");
    // Back-to-back spans are fine, and so is a leap day every year.
    let fine = spec(
        "UTC",
        vec![span("mon", "09:00", "12:00"), span("mon", "12:00", "17:00")],
        &["02-29"],
    );
    assert!(BusinessHours::parse(&fine, TODAY).is_ok());
}

const ZONES: [&str; 5] = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "UTC",
];

/// Random weekly hours: for each day maybe a span (possibly past midnight) on 15-minute steps.
fn calendars() -> impl Strategy<Value = BusinessHours> {
    (
        0..ZONES.len(),
        proptest::collection::vec(proptest::option::of((0u16..96, 1u16..96)), 7),
        proptest::collection::vec(0i64..730, 0..6),
    )
        .prop_filter_map("a valid calendar", |(z, days, holidays)| {
            let hours: Vec<OpenSpan> = days
                .iter()
                .enumerate()
                .filter_map(|(d, s)| {
                    let (from, len) = (*s)?;
                    let to = (from + len) % 96;
                    let fmt = |q: u16| format!("{:02}:{:02}", q / 4, (q % 4) * 15);
                    Some(span(crate::hours::DAYS[d], &fmt(from), &fmt(to)))
                })
                .collect();
            let holidays: Vec<String> = holidays
                .iter()
                .filter_map(|n| TODAY.checked_add(jiff::Span::new().days(*n)).ok())
                .map(|d| d.to_string())
                .collect();
            let refs: Vec<&str> = holidays.iter().map(String::as_str).collect();
            BusinessHours::parse(&spec(ZONES[z], hours, &refs), TODAY).ok()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn adding_then_measuring_round_trips(
        h in calendars(),
        start in 1_767_225_600_000i64..1_830_297_600_000,
        dur in 0i64..(30 * 24 * HOUR),
    ) {
        match h.add(start, dur) {
            Some(due) => {
                prop_assert!(due >= start);
                prop_assert_eq!(h.between(start, due), dur);
            }
            // Only a target the calendar cannot hold within the horizon has no due time.
            None => prop_assert!(h.between(start, start + HORIZON_DAYS * 24 * HOUR) < dur),
        }
    }

    #[test]
    fn nothing_is_ever_due_in_closed_hours(
        h in calendars(),
        start in 1_767_225_600_000i64..1_830_297_600_000,
        dur in 1i64..(10 * 24 * HOUR),
    ) {
        // The last millisecond before the due instant was open time.
        if let Some(due) = h.add(start, dur) {
            prop_assert!(h.is_open(due - 1), "due {} is not at the end of open time", due);
        }
        let next = h.next_open(start).unwrap_or_default();
        prop_assert!(next >= start && h.is_open(next));
    }

    #[test]
    fn business_time_adds_up_over_consecutive_ranges(
        h in calendars(),
        a in 1_767_225_600_000i64..1_830_297_600_000,
        x in 0i64..(20 * 24 * HOUR),
        y in 0i64..(20 * 24 * HOUR),
    ) {
        let (b, c) = (a + x, a + x + y);
        prop_assert_eq!(h.between(a, b) + h.between(b, c), h.between(a, c));
        prop_assert!(h.between(a, c) <= c - a);
    }
}
