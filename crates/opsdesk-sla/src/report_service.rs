//! SLA reports for the support team: the period and grouping checked, the tickets read, each
//! measured in its own calendar.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::report::{self, GroupBy, SlaReport};
use crate::ticket::CalendarSet;
use opsdesk_core::accounts::User;
use opsdesk_core::clock::now_ms;
use opsdesk_core::db::Db;
use opsdesk_core::error::{AppError, Fields};

/// The longest period one report covers.
const MAX_DAYS: i64 = 366;
/// The default period: the last twelve weeks.
const DEFAULT_DAYS: i64 = 83;

#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First day (UTC), `YYYY-MM-DD`; default twelve weeks before `to`.
    #[serde(default)]
    pub from: Option<String>,
    /// Last day (UTC), inclusive, `YYYY-MM-DD`; default today.
    #[serde(default)]
    pub to: Option<String>,
    /// `tier` (default), `category` or `agent`.
    #[serde(default)]
    pub group: Option<String>,
    /// API only: `csv` for the CSV export instead of JSON.
    #[serde(default)]
    pub format: Option<String>,
}

fn day_ms(d: Date) -> Option<i64> {
    d.to_zoned(TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

fn parse_day(raw: Option<&str>) -> Result<Option<Date>, &'static str> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<Date>()
            .map(Some)
            .map_err(|_| "must be a date, YYYY-MM-DD"),
    }
}

/// The checked period `[from, to]` (days, UTC) and grouping.
pub fn period(q: &ReportQuery, today: Date) -> Result<(Date, Date, GroupBy), AppError> {
    let mut f = Fields::default();
    let to = f.check("to", parse_day(q.to.as_deref())).flatten();
    let from = f.check("from", parse_day(q.from.as_deref())).flatten();
    let group = match q.group.as_deref().map(str::trim) {
        None | Some("") | Some("tier") => Some(GroupBy::Tier),
        Some("category") => Some(GroupBy::Category),
        Some("agent") => Some(GroupBy::Agent),
        Some(_) => f.check("group", Err("must be tier, category or agent")),
    };
    f.finish()?;
    let to = to.unwrap_or(today);
    let from = from.unwrap_or_else(|| to.saturating_sub(jiff::Span::new().days(DEFAULT_DAYS)));
    let days = (to - from).get_days();
    if days < 0 {
        return Err(AppError::field("from", "must be on or before `to`"));
    }
    if i64::from(days) >= MAX_DAYS {
        return Err(AppError::field(
            "from",
            "the period may span at most 366 days",
        ));
    }
    Ok((from, to, group.unwrap_or_default()))
}

pub async fn sla_report(db: &Db, viewer: &User, q: &ReportQuery) -> Result<SlaReport, AppError> {
    if !viewer.role.is_staff() {
        return Err(AppError::forbidden("Reports are for the support team."));
    }
    let now = now_ms();
    let today = jiff::Timestamp::from_millisecond(now)
        .map(|t| t.to_zoned(TimeZone::UTC).date())
        .map_err(|e| AppError::internal(anyhow::anyhow!("clock: {e}")))?;
    let (from, to, group) = period(q, today)?;
    let (Some(start), Some(end)) = (day_ms(from), to.tomorrow().ok().and_then(day_ms)) else {
        return Err(AppError::field("to", "is out of range"));
    };
    let rows = crate::report_store::tickets(db, start, end).await?;
    let calendars = CalendarSet::cached(db).await?;
    let tickets: Vec<_> = rows.iter().map(|(t, _)| t.clone()).collect();
    let hours: Vec<_> = rows
        .iter()
        .map(|(_, cal)| calendars.hours(cal.as_deref()))
        .collect();
    Ok(report::build(
        &tickets,
        |i| hours[i],
        group,
        (from.to_string(), to.to_string()),
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn q(from: &str, to: &str, group: &str) -> ReportQuery {
        ReportQuery {
            from: Some(from.into()),
            to: Some(to.into()),
            group: Some(group.into()),
            format: None,
        }
    }

    #[test]
    fn periods_are_checked() {
        let today = date(2026, 11, 23);
        let (f, t, g) = period(&ReportQuery::default(), today).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((f, t, g), (date(2026, 9, 1), today, GroupBy::Tier));
        let ok = period(&q("2026-01-01", "2026-01-31", "agent"), today);
        assert!(matches!(ok, Ok((_, _, GroupBy::Agent))));
        for (bad, field) in [
            (q("2026-13-01", "", ""), "from"),
            (q("", "yesterday", ""), "to"),
            (q("2026-02-01", "2026-01-01", ""), "from"),
            (q("2024-01-01", "2026-01-01", ""), "from"),
            (q("", "", "weather"), "group"),
        ] {
            let e = period(&bad, today)
                .err()
                .unwrap_or_else(|| panic!("{bad:?}"));
            assert!(e.fields.contains_key(field), "{bad:?}: {:?}", e.fields);
        }
    }
}
