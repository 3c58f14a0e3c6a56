//! Tiers and calendars: list them, and create them the way every change is made — check the
//! input, then one transaction with its audit record.

use std::collections::BTreeMap;

use opsdesk_core::accounts::{Role, User};
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::{new_id, now_ms};
use opsdesk_core::db::Db;
use opsdesk_core::error::{AppError, Fields, on_unique};

use crate::hours::{BusinessHours, HoursSpec};
use crate::policy::{
    self, BreachActionsView, Calendar, CalendarChanged, CalendarInput, CheckedTier, Named,
    PRIORITIES, Targets, Tier, TierAssignment, TierChanged, TierChoice, TierInput, TierRef,
    TierUpdate,
};
use crate::store::{self, CalendarRow, NewTier};

fn admin_only(viewer: &User) -> Result<(), AppError> {
    if viewer.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "Only admins can change tiers and calendars.",
        ))
    }
}

fn staff_only(viewer: &User) -> Result<(), AppError> {
    if viewer.role.is_staff() {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "Only the support team can see tiers and calendars.",
        ))
    }
}

fn fields_from(problems: Vec<(String, String)>) -> AppError {
    let mut f = Fields::default();
    for (field, problem) in &problems {
        f.add(field, problem);
    }
    f.finish()
        .err()
        .unwrap_or_else(|| AppError::bad_request("invalid_input", "invalid input"))
}

fn view(row: CalendarRow) -> Result<Calendar, AppError> {
    let spec: HoursSpec = serde_json::from_str(&row.spec)
        .map_err(|e| AppError::internal(unreadable(&row.id, e.to_string())))?;
    let hours = BusinessHours::load(&spec)
        .map_err(|e| AppError::internal(unreadable(&row.id, e.to_string())))?;
    Ok(Calendar::from_spec(row.id, row.name, spec, &hours))
}

fn unreadable(id: &str, e: String) -> std::io::Error {
    std::io::Error::other(format!("stored calendar {id} is unreadable: {e}"))
}

pub async fn calendars(db: &Db, viewer: &User) -> Result<Vec<Calendar>, AppError> {
    staff_only(viewer)?;
    store::list_calendars(db)
        .await?
        .into_iter()
        .map(view)
        .collect()
}

/// Today in the calendar's own time zone (UTC when the zone is unknown: it is refused anyway).
fn today_in(zone: &str) -> jiff::civil::Date {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::now().to_zoned(tz).date()
}

/// A calendar's name and hours, checked: every problem by field.
fn checked_calendar(input: &CalendarInput) -> Result<(String, HoursSpec, BusinessHours), AppError> {
    let mut problems = Vec::new();
    let name = policy::check_name(&input.name)
        .map_err(|p| problems.push(("name".to_string(), p.to_string())))
        .ok();
    let spec = input.spec();
    let hours = BusinessHours::parse(&spec, today_in(&spec.time_zone))
        .map_err(|p| problems.extend(p.0))
        .ok();
    match (name, hours) {
        (Some(name), Some(hours)) => Ok((name, spec, hours)),
        _ => Err(fields_from(problems)),
    }
}

pub async fn create_calendar(
    db: &Db,
    actor: &Actor,
    viewer: &User,
    input: CalendarInput,
) -> Result<Calendar, AppError> {
    admin_only(viewer)?;
    let (name, spec, hours) = checked_calendar(&input)?;
    let row = CalendarRow {
        id: new_id(),
        name,
        spec: serde_json::to_string(&spec).map_err(AppError::internal)?,
    };
    let mut tx = db.begin().await?;
    store::insert_calendar(&mut tx, &row, now_ms())
        .await
        .map_err(|e| on_unique(e, "name", "is already used by another calendar"))?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "sla.calendar.create",
            format!("calendar:{}", row.id),
            format!(
                "name={} time_zone={} weekly_open_minutes={}",
                row.name,
                spec.time_zone,
                hours.weekly_minutes()
            ),
        ),
    )
    .await?;
    tx.commit().await?;
    crate::ticket::CalendarSet::forget(db);
    Ok(Calendar::from_spec(row.id, row.name, spec, &hours))
}

/// Changes a calendar's name and hours. The open tickets counting in it keep the business time
/// they counted so far and count on in the new hours (their deadlines move); tickets done stay
/// as they were.
pub async fn update_calendar(
    db: &Db,
    actor: &Actor,
    viewer: &User,
    key: &str,
    input: CalendarInput,
) -> Result<CalendarChanged, AppError> {
    admin_only(viewer)?;
    let old_row = store::find_calendar(db, key)
        .await?
        .ok_or_else(|| AppError::not_found("This calendar"))?;
    let old_spec: HoursSpec = serde_json::from_str(&old_row.spec)
        .map_err(|e| AppError::internal(unreadable(&old_row.id, e.to_string())))?;
    let old = BusinessHours::load(&old_spec)
        .map_err(|e| AppError::internal(unreadable(&old_row.id, e.to_string())))?;
    let (name, spec, hours) = checked_calendar(&input)?;
    let row = CalendarRow {
        id: old_row.id.clone(),
        name,
        spec: serde_json::to_string(&spec).map_err(AppError::internal)?,
    };
    let now = now_ms();
    let mut tx = db.begin().await?;
    store::update_calendar(&mut tx, &row, now)
        .await
        .map_err(|e| on_unique(e, "name", "is already used by another calendar"))?;
    tx.commit().await?;
    crate::ticket::CalendarSet::forget(db);
    let moved = crate::apply::apply_calendar(db, &row.id, &old, &hours, now).await?;
    let mut tx = db.begin().await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "sla.calendar.update",
            format!("calendar:{}", row.id),
            format!(
                "name={} time_zone={} weekly_open_minutes={} open_tickets_updated={moved}",
                row.name,
                spec.time_zone,
                hours.weekly_minutes()
            ),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(CalendarChanged {
        calendar: Calendar::from_spec(row.id, row.name, spec, &hours),
        open_tickets_updated: moved,
    })
}

pub async fn tiers(db: &Db, viewer: &User) -> Result<Vec<Tier>, AppError> {
    staff_only(viewer)?;
    let mut targets: BTreeMap<String, BTreeMap<String, Targets>> = BTreeMap::new();
    for (tier, rank, t) in store::list_targets(db).await? {
        if let Some(p) = usize::try_from(rank).ok().and_then(|r| PRIORITIES.get(r)) {
            targets.entry(tier).or_default().insert((*p).to_string(), t);
        }
    }
    Ok(store::list_tiers(db)
        .await?
        .into_iter()
        .map(|r| Tier {
            targets: targets.remove(&r.id).unwrap_or_default(),
            calendar: r
                .calendar_id
                .zip(r.calendar_name)
                .map(|(id, name)| Named { id, name }),
            id: r.id,
            name: r.name,
            position: r.position,
            ticket_sla: r.ticket_sla,
            warn_percent: r.warn_percent,
            default: r.is_default,
            breach_actions: BreachActionsView {
                raise_priority: r.breach_raise_priority,
                reassign_to: r.breach_reassign_to.map(|(id, name)| Named { id, name }),
            },
            shared_space: r.shared_space,
        })
        .collect())
}

pub async fn create_tier(
    db: &Db,
    actor: &Actor,
    viewer: &User,
    input: TierInput,
) -> Result<Tier, AppError> {
    admin_only(viewer)?;
    let checked = policy::check_tier(&input).map_err(fields_from)?;
    let calendar = calendar_of(db, &checked).await?;
    let reassign = reassign_of(db, &input).await?;
    let id = new_id();
    let mut tx = db.begin().await?;
    store::insert_tier(
        &mut tx,
        &NewTier {
            id: &id,
            name: &checked.name,
            calendar_id: calendar.as_ref().map(|c| c.id.as_str()),
            ticket_sla: checked.ticket_sla,
            warn_percent: checked.warn_percent,
            breach_raise_priority: input.breach_actions.raise_priority,
            breach_reassign_to: reassign.as_deref(),
            shared_space: input.shared_space,
        },
        now_ms(),
    )
    .await
    .map_err(|e| on_unique(e, "name", "is already used by another tier"))?;
    for (rank, t) in &checked.targets {
        store::insert_targets(&mut tx, &id, *rank, t).await?;
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "sla.tier.create",
            format!("tier:{id}"),
            format!(
                "name={} calendar={} targets={}",
                checked.name,
                calendar.as_ref().map_or("24/7", |c| c.name.as_str()),
                checked.targets.len()
            ),
        ),
    )
    .await?;
    tx.commit().await?;
    tiers(db, viewer)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| AppError::not_found("This tier"))
}

/// The team member breached tickets go to, checked.
async fn reassign_of(db: &Db, input: &TierInput) -> Result<Option<String>, AppError> {
    match input
        .breach_actions
        .reassign_to
        .as_deref()
        .filter(|k| !k.trim().is_empty())
    {
        None => Ok(None),
        Some(key) => Ok(Some(
            store::find_staff(db, key)
                .await?
                .ok_or_else(|| {
                    AppError::field(
                        "breach_actions.reassign_to",
                        "is not an active agent or admin (give an email or id)",
                    )
                })?
                .0,
        )),
    }
}

async fn calendar_of(db: &Db, checked: &CheckedTier) -> Result<Option<CalendarRow>, AppError> {
    match &checked.calendar {
        None => Ok(None),
        Some(key) => Ok(Some(store::find_calendar(db, key).await?.ok_or_else(
            || {
                AppError::field(
                    "calendar",
                    "is not a known calendar (see GET /api/calendars), or null for 24/7",
                )
            },
        )?)),
    }
}

/// Changes a tier. Its open tickets keep their deadlines unless `apply_to_open` moves them to
/// the changed policy (after the change is saved, in batches).
pub async fn update_tier(
    db: &Db,
    actor: &Actor,
    viewer: &User,
    key: &str,
    input: TierUpdate,
) -> Result<TierChanged, AppError> {
    admin_only(viewer)?;
    let (id, _) = store::find_tier(db, key)
        .await?
        .ok_or_else(|| AppError::not_found("This tier"))?;
    let checked = policy::check_tier(&input.tier).map_err(fields_from)?;
    let calendar = calendar_of(db, &checked).await?;
    let reassign = reassign_of(db, &input.tier).await?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    store::update_tier(
        &mut tx,
        &NewTier {
            id: &id,
            name: &checked.name,
            calendar_id: calendar.as_ref().map(|c| c.id.as_str()),
            ticket_sla: checked.ticket_sla,
            warn_percent: checked.warn_percent,
            breach_raise_priority: input.tier.breach_actions.raise_priority,
            breach_reassign_to: reassign.as_deref(),
            shared_space: input.tier.shared_space,
        },
        now,
    )
    .await
    .map_err(|e| on_unique(e, "name", "is already used by another tier"))?;
    for (rank, t) in &checked.targets {
        store::insert_targets(&mut tx, &id, *rank, t).await?;
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "sla.tier.update",
            format!("tier:{id}"),
            format!(
                "name={} calendar={} targets={} apply_to_open={}",
                checked.name,
                calendar.as_ref().map_or("24/7", |c| c.name.as_str()),
                checked.targets.len(),
                input.apply_to_open
            ),
        ),
    )
    .await?;
    tx.commit().await?;
    let open_tickets_updated = if input.apply_to_open {
        apply_to_open(db, actor, &id, now).await?
    } else {
        0
    };
    let tier = tiers(db, viewer)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| AppError::not_found("This tier"))?;
    Ok(TierChanged {
        tier,
        open_tickets_updated,
    })
}

/// Serves a tier's open tickets under its current policy, with an audit record of how many.
pub async fn apply_to_open(
    db: &Db,
    actor: &Actor,
    tier_id: &str,
    now: i64,
) -> Result<u64, AppError> {
    let n = crate::apply::apply_tier(db, tier_id, now, crate::apply::BATCH, |_| {}).await?;
    record_applied(db, actor, tier_id, n).await?;
    Ok(n)
}

/// The audit record of a tier applied to its open tickets.
pub async fn record_applied(db: &Db, actor: &Actor, tier_id: &str, n: u64) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "sla.tier.apply",
            format!("tier:{tier_id}"),
            format!("{n} open tickets now served under the tier's current targets"),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The tier a requester's tickets are served under (everyone who may see the ticket may see it).
pub async fn tier_for(db: &Db, requester_id: &str) -> Result<Option<TierRef>, AppError> {
    Ok(store::tier_of_requester(db, requester_id)
        .await?
        .map(|(id, name, ticket_sla, source)| TierRef {
            id,
            name,
            ticket_sla,
            source,
        }))
}

/// Whose tier is being set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    Customer,
    Organization,
}

impl Holder {
    fn as_str(self) -> &'static str {
        match self {
            Holder::Customer => "user",
            Holder::Organization => "organization",
        }
    }
}

/// Sets (or clears, to inherit) the tier of a customer (by id or email) or an organization (by
/// id or name).
pub async fn assign(
    db: &Db,
    actor: &Actor,
    viewer: &User,
    holder: Holder,
    key: &str,
    choice: TierChoice,
) -> Result<TierAssignment, AppError> {
    admin_only(viewer)?;
    let id = match holder {
        Holder::Customer => store::find_customer(db, key.trim())
            .await?
            .ok_or_else(|| AppError::not_found("A customer with this id or email"))?,
        Holder::Organization => store::find_organization(db, key.trim())
            .await?
            .ok_or_else(|| AppError::not_found("An organization with this id or name"))?,
    };
    let tier = match choice
        .tier
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => None,
        Some(t) => Some(store::find_tier(db, t).await?.ok_or_else(|| {
            AppError::field(
                "tier",
                "is not a known tier (see GET /api/tiers), or null to inherit",
            )
        })?),
    };
    let tier_id = tier.as_ref().map(|(id, _)| id.as_str());
    let mut tx = db.begin().await?;
    match holder {
        Holder::Customer => store::set_user_tier(&mut tx, &id, tier_id).await?,
        Holder::Organization => store::set_organization_tier(&mut tx, &id, tier_id).await?,
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            &format!("sla.tier.assign.{}", holder.as_str()),
            format!("{}:{id}", holder.as_str()),
            format!(
                "tier={}",
                tier.as_ref().map_or("(inherited)", |(_, n)| n.as_str())
            ),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(TierAssignment {
        kind: holder.as_str().to_string(),
        id,
        tier: tier.map(|(id, name)| Named { id, name }),
    })
}
