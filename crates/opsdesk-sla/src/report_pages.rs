//! The SLA report page (`/reports/sla`): period and grouping in a plain GET form, the numbers
//! in a table, the weekly trend and the first-response distribution as server-rendered SVG, and
//! the CSV export (`/reports/sla.csv`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State as AxState};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use crate::charts;
use crate::report::{self, GroupRow, SlaReport};
use crate::report_service::{ReportQuery, sla_report};
use opsdesk_core::web::AppState;
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{PageResult, Shell};

/// A table row as shown.
struct Line {
    name: String,
    tickets: usize,
    first_median: String,
    first_p90: String,
    resolution_median: String,
    resolution_p90: String,
    breach: String,
}

/// Minutes as people read them: "45 min", "3 h 20 min", "2 d 4 h"; "—" without data.
fn minutes(m: Option<i64>) -> String {
    let Some(m) = m else { return "—".into() };
    match (m / 1_440, m % 1_440 / 60, m % 60) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

fn line(g: &GroupRow) -> Line {
    Line {
        name: g.name.clone(),
        tickets: g.tickets,
        first_median: minutes(g.first_response.median_minutes),
        first_p90: minutes(g.first_response.p90_minutes),
        resolution_median: minutes(g.resolution.median_minutes),
        resolution_p90: minutes(g.resolution.p90_minutes),
        breach: match g.breach_rate {
            Some(r) => format!("{:.1} % ({} of {})", r * 100.0, g.breached, g.with_targets),
            None => "no targets".into(),
        },
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "sla_report.html")]
struct ReportPage {
    shell: Shell,
    from: String,
    to: String,
    group: &'static str,
    group_label: &'static str,
    lines: Vec<Line>,
    total: Line,
    trend_svg: String,
    breach_svg: String,
    distribution_svg: String,
    csv_href: String,
}

fn week_label(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%b %d").to_string())
        .unwrap_or_default()
}

fn csv_href(r: &SlaReport) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    s.append_pair("from", &r.from)
        .append_pair("to", &r.to)
        .append_pair("group", r.group_by.as_str());
    format!("/reports/sla.csv?{}", s.finish())
}

pub async fn page(
    AxState(state): AxState<AppState>,
    session: Session,
    me: PageUser,
    Query(q): Query<ReportQuery>,
) -> PageResult {
    let r = sla_report(&state.db, me.user(), &q).await?;
    let trend: Vec<(String, Option<f64>)> = r
        .weeks
        .iter()
        .map(|w| {
            (
                week_label(w.week_start),
                w.first_response_median_minutes.map(|m| m as f64),
            )
        })
        .collect();
    let breach: Vec<(String, Option<f64>)> = r
        .weeks
        .iter()
        .map(|w| (week_label(w.week_start), w.breach_rate.map(|b| b * 100.0)))
        .collect();
    let bands: Vec<(String, f64)> = r
        .first_response_distribution
        .iter()
        .map(|b| (b.label.to_string(), b.tickets as f64))
        .collect();
    let shell = Shell::load(&state, &session, Some(me.user()), "SLA report", "reports").await;
    Ok(ReportPage {
        shell,
        trend_svg: charts::line(
            "Median first response by week (business minutes)",
            &trend,
            " min",
        ),
        breach_svg: charts::line("Breach rate by week", &breach, " %"),
        distribution_svg: charts::bars("First responses by time taken", &bands, ""),
        csv_href: csv_href(&r),
        from: r.from.clone(),
        to: r.to.clone(),
        group: r.group_by.as_str(),
        group_label: match r.group_by {
            report::GroupBy::Tier => "Tier",
            report::GroupBy::Category => "Category",
            report::GroupBy::Agent => "Agent",
        },
        lines: r.groups.iter().map(line).collect(),
        total: line(&r.total),
    }
    .into_response())
}

/// The CSV response for a report, named after its period.
pub fn csv_response(r: &SlaReport) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"sla-{}-{}-by-{}.csv\"",
                    r.from,
                    r.to,
                    r.group_by.as_str()
                ),
            ),
        ],
        report::csv(r),
    )
        .into_response()
}

pub async fn csv(
    AxState(state): AxState<AppState>,
    me: PageUser,
    Query(q): Query<ReportQuery>,
) -> PageResult {
    let r = sla_report(&state.db, me.user(), &q).await?;
    Ok(csv_response(&r))
}
