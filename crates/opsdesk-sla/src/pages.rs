//! The SLA page (`/sla`): every tier with its targets, calendar and breach actions, every
//! calendar with its hours and holidays. Admins change a tier's targets and warning share —
//! choosing whether open tickets move to the change —, its calendar and breach actions, add
//! tiers, and add or change calendars, in plain forms without JavaScript.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use tower_sessions::Session;

use crate::hours::{Holiday, OpenSpan};
use crate::policy::{
    BreachActionsInput, Calendar, CalendarInput, PRIORITIES, Targets, Tier, TierInput, TierUpdate,
};
use crate::service;
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiForm;
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{PageError, PageResult, Shell, flash};

#[derive(Template, WebTemplate)]
#[template(path = "sla_tiers.html")]
struct SlaPage {
    shell: Shell,
    tiers: Vec<Tier>,
    calendars: Vec<Calendar>,
    admin: bool,
    error: Option<String>,
    priorities: [&'static str; 4],
}

/// A target in minutes for a form field ("" for best effort).
fn minutes(t: Option<&Targets>, which: &str) -> String {
    let v = t.and_then(|t| match which {
        "first" => t.first_response_minutes,
        "next" => t.next_response_minutes,
        _ => t.resolution_minutes,
    });
    v.map(|m| m.to_string()).unwrap_or_default()
}

async fn render(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    error: Option<String>,
) -> Result<SlaPage, PageError> {
    let user = me.user();
    Ok(SlaPage {
        shell: Shell::load(state, session, Some(user), "SLA tiers", "sla").await,
        tiers: service::tiers(&state.db, user).await?,
        calendars: service::calendars(&state.db, user).await?,
        admin: user.role == opsdesk_core::accounts::Role::Admin,
        error,
        priorities: PRIORITIES,
    })
}

pub async fn show(AxState(state): AxState<AppState>, session: Session, me: PageUser) -> PageResult {
    Ok(render(&state, &session, &me, None).await?.into_response())
}

/// Reads a minutes field: empty is best effort; anything else must be a whole number (the
/// service checks the range).
fn field_minutes(f: &BTreeMap<String, String>, key: &str) -> Result<Option<i64>, AppError> {
    match f.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
            AppError::field(
                key,
                "must be a whole number of minutes, or empty for best effort",
            )
        }),
    }
}

/// The targets per priority a form holds (empty fields: best effort).
fn targets_from(f: &BTreeMap<String, String>) -> Result<BTreeMap<String, Targets>, AppError> {
    let mut targets = BTreeMap::new();
    for p in PRIORITIES {
        let t = Targets {
            first_response_minutes: field_minutes(f, &format!("{p}_first"))?,
            next_response_minutes: field_minutes(f, &format!("{p}_next"))?,
            resolution_minutes: field_minutes(f, &format!("{p}_resolution"))?,
        };
        if !t.is_best_effort() {
            targets.insert(p.to_string(), t);
        }
    }
    Ok(targets)
}

fn warn_from(f: &BTreeMap<String, String>, current: i64) -> Result<Option<i64>, AppError> {
    match f.get("warn_percent").map(|v| v.trim()) {
        None | Some("") => Ok(Some(current)),
        Some(v) => Ok(Some(v.parse::<i64>().map_err(|_| {
            AppError::field("warn_percent", "must be a whole number between 1 and 99")
        })?)),
    }
}

/// The calendar a form names: `""` is round the clock; absent keeps `current`.
fn calendar_from(f: &BTreeMap<String, String>, current: Option<String>) -> Option<String> {
    match f.get("calendar").map(|c| c.trim()) {
        None => current,
        Some("") => None,
        Some(c) => Some(c.to_string()),
    }
}

/// The tier as the form changed it: targets and warning share from the form; calendar,
/// breach actions and the shared space when the form carries them (the page's form does,
/// marked by `settings`); everything else as it is.
fn update_from(tier: &Tier, f: &BTreeMap<String, String>) -> Result<TierUpdate, AppError> {
    let with_settings = f.contains_key("settings");
    let current_lead = tier
        .breach_actions
        .reassign_to
        .as_ref()
        .map(|r| r.id.clone());
    Ok(TierUpdate {
        tier: TierInput {
            name: tier.name.clone(),
            calendar: calendar_from(f, tier.calendar.as_ref().map(|c| c.id.clone())),
            ticket_sla: Some(tier.ticket_sla),
            warn_percent: warn_from(f, tier.warn_percent)?,
            targets: targets_from(f)?,
            breach_actions: if with_settings {
                breach_from(f)
            } else {
                BreachActionsInput {
                    raise_priority: tier.breach_actions.raise_priority,
                    reassign_to: current_lead,
                }
            },
            shared_space: if with_settings {
                f.contains_key("shared_space")
            } else {
                tier.shared_space
            },
        },
        apply_to_open: f.contains_key("apply_to_open"),
    })
}

fn breach_from(f: &BTreeMap<String, String>) -> BreachActionsInput {
    BreachActionsInput {
        raise_priority: f.contains_key("raise_priority"),
        reassign_to: f
            .get("reassign_to")
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty()),
    }
}

/// A new tier from the page's form.
fn new_tier_from(f: &BTreeMap<String, String>) -> Result<TierInput, AppError> {
    let ticket_sla = f.contains_key("ticket_sla");
    Ok(TierInput {
        name: f.get("name").cloned().unwrap_or_default(),
        calendar: calendar_from(f, None),
        ticket_sla: Some(ticket_sla),
        warn_percent: warn_from(f, 75)?,
        targets: if ticket_sla {
            targets_from(f)?
        } else {
            BTreeMap::new()
        },
        breach_actions: breach_from(f),
        shared_space: f.contains_key("shared_space"),
    })
}

pub async fn create_tier(
    AxState(state): AxState<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(f): ApiForm<BTreeMap<String, String>>,
) -> PageResult {
    let user = me.user();
    let outcome = match new_tier_from(&f) {
        Ok(input) => service::create_tier(&state.db, &me.actor(), user, input).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(t) => {
            flash(&session, format!("Tier {} added.", t.name)).await;
            Ok(Redirect::to(&format!("/sla#tier-{}", t.id)).into_response())
        }
        Err(e) if e.status.is_client_error() && e.status != StatusCode::FORBIDDEN => {
            let mut problem = format!("New tier: {}", e.message);
            for (field, p) in &e.fields {
                problem.push_str(&format!(" {field}: {p}."));
            }
            let page = render(&state, &session, &me, Some(problem)).await?;
            Ok((e.status, page).into_response())
        }
        Err(e) => Err(PageError(e)),
    }
}

pub async fn save_tier(
    AxState(state): AxState<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
    ApiForm(f): ApiForm<BTreeMap<String, String>>,
) -> PageResult {
    let user = me.user();
    let tiers = service::tiers(&state.db, user).await?;
    let tier = tiers
        .iter()
        .find(|t| t.id == id)
        .ok_or_else(|| PageError(AppError::not_found("This tier")))?;
    let outcome = match update_from(tier, &f) {
        Ok(update) => service::update_tier(&state.db, &me.actor(), user, &id, update).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(changed) => {
            let moved = if changed.open_tickets_updated > 0 {
                format!(
                    "; {} open tickets now follow the new targets",
                    changed.open_tickets_updated
                )
            } else {
                "; open tickets keep their deadlines".to_string()
            };
            flash(&session, format!("Saved {}{moved}.", changed.tier.name)).await;
            Ok(Redirect::to(&format!("/sla#tier-{id}")).into_response())
        }
        Err(e) if e.status.is_client_error() && e.status != StatusCode::FORBIDDEN => {
            let mut problem = format!("{}: {}", tier.name, e.message);
            for (field, p) in &e.fields {
                problem.push_str(&format!(" {field}: {p}."));
            }
            let page = render(&state, &session, &me, Some(problem)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(PageError(e)),
    }
}

/// The form value of a tier's target (used by the template).
pub fn target_value(tier: &Tier, priority: &str, which: &str) -> String {
    minutes(tier.targets.get(priority), which)
}

/// Weekly hours as a form shows them: one span per line, `mon 09:00-17:00`.
pub fn hours_text(c: &Calendar) -> String {
    c.hours
        .iter()
        .map(|h| format!("{} {}-{}", h.day, h.from, h.to))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Holidays as a form shows them: one per line, `2026-12-24 Christmas Eve` or `12-25`.
pub fn holidays_text(c: &Calendar) -> String {
    c.holidays
        .iter()
        .map(|h| format!("{} {}", h.date, h.name).trim().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads a calendar form: weekly hours one span per line (`mon 09:00-17:00`), holidays one per
/// line (`2026-12-24 Christmas Eve`). Lines that do not have that shape are refused by line;
/// the spans themselves are checked by the service.
pub fn calendar_from_form(f: &BTreeMap<String, String>) -> Result<CalendarInput, AppError> {
    let mut fields = opsdesk_core::error::Fields::default();
    let mut hours = Vec::new();
    for (i, line) in f
        .get("hours")
        .map(String::as_str)
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let parsed = line
            .split_once(char::is_whitespace)
            .and_then(|(day, span)| {
                let (from, to) = span.trim().split_once('-')?;
                Some(OpenSpan {
                    day: day.trim().to_lowercase(),
                    from: from.trim().to_string(),
                    to: to.trim().to_string(),
                })
            });
        match parsed {
            Some(s) => hours.push(s),
            None => fields.add(
                &format!("hours line {}", i + 1),
                "write a day and a span, e.g. mon 09:00-17:00",
            ),
        }
    }
    let holidays = f
        .get("holidays")
        .map(String::as_str)
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (date, name) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            Holiday {
                date: date.to_string(),
                name: name.trim().to_string(),
            }
        })
        .collect();
    fields.finish()?;
    Ok(CalendarInput {
        name: f.get("name").cloned().unwrap_or_default(),
        time_zone: f.get("time_zone").cloned().unwrap_or_default(),
        hours,
        holidays,
    })
}

/// After a calendar form: back to the page with a flash, or the page again with the problem.
async fn calendar_done<T>(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    outcome: Result<T, AppError>,
    saved: impl FnOnce(T) -> String,
) -> PageResult {
    match outcome {
        Ok(v) => {
            flash(session, saved(v)).await;
            Ok(Redirect::to("/sla#calendars").into_response())
        }
        Err(e) if e.status.is_client_error() && e.status != StatusCode::FORBIDDEN => {
            let mut problem = e.message.clone();
            for (field, p) in &e.fields {
                problem.push_str(&format!(" {field}: {p}."));
            }
            let page = render(state, session, me, Some(problem)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(PageError(e)),
    }
}

pub async fn create_calendar(
    AxState(state): AxState<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(f): ApiForm<BTreeMap<String, String>>,
) -> PageResult {
    let outcome = match calendar_from_form(&f) {
        Ok(input) => service::create_calendar(&state.db, &me.actor(), me.user(), input).await,
        Err(e) => Err(e),
    };
    calendar_done(&state, &session, &me, outcome, |c| {
        format!("Added the calendar {}.", c.name)
    })
    .await
}

pub async fn save_calendar(
    AxState(state): AxState<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
    ApiForm(f): ApiForm<BTreeMap<String, String>>,
) -> PageResult {
    let outcome = match calendar_from_form(&f) {
        Ok(input) => service::update_calendar(&state.db, &me.actor(), me.user(), &id, input).await,
        Err(e) => Err(e),
    };
    calendar_done(&state, &session, &me, outcome, |c| {
        format!(
            "Saved {}; {} open tickets count in the new hours from now on.",
            c.calendar.name, c.open_tickets_updated
        )
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn calendar_forms_read_a_span_per_line() {
        let f = form(&[
            ("name", "EU team"),
            ("time_zone", "Europe/Berlin"),
            ("hours", "Mon 09:00-17:00\n\n  sun 22:00 - 06:00 \n"),
            ("holidays", "2026-12-24 Christmas Eve\n12-25\n"),
        ]);
        let c = calendar_from_form(&f).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.hours.len(), 2);
        assert_eq!(
            (
                c.hours[0].day.as_str(),
                c.hours[0].from.as_str(),
                c.hours[0].to.as_str()
            ),
            ("mon", "09:00", "17:00")
        );
        assert_eq!(
            (c.hours[1].from.as_str(), c.hours[1].to.as_str()),
            ("22:00", "06:00")
        );
        assert_eq!(c.holidays[0].name, "Christmas Eve");
        assert_eq!(
            (c.holidays[1].date.as_str(), c.holidays[1].name.as_str()),
            ("12-25", "")
        );
        let bad = calendar_from_form(&form(&[("hours", "mon 09:00-17:00\nweekdays")]));
        let e = bad.err().unwrap_or_else(|| panic!("accepted"));
        assert!(e.fields.contains_key("hours line 2"), "{:?}", e.fields);
    }
}
