//! Instance settings and the first-run setup wizard: until an admin, the team name, the support
//! address and the time zone are set, every page leads to `/setup`. Setup completes exactly once,
//! even when two requests race: the `setup.completed_at` row can be inserted only once.

pub mod logo;

use std::collections::HashMap;

use sqlx::Row as _;

use crate::accounts::service::{NewUserInput, create_user_in};
use crate::accounts::{DisplayName, EmailAddress, NewPassword, User};
use crate::audit::{self, Actor};
use crate::clock::now_ms;
use crate::db::{Db, Tx};
use crate::error::{AppError, Fields};

pub const KEY_COMPLETED: &str = "setup.completed_at";
pub const KEY_BRAND: &str = "brand.name";
pub const KEY_SUPPORT_EMAIL: &str = "support.email";
pub const KEY_TIMEZONE: &str = "default.timezone";

/// What the wizard asks for.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupInput {
    pub brand_name: String,
    pub support_email: String,
    pub timezone: String,
    pub admin_name: String,
    pub admin_email: String,
    pub admin_password: String,
}

/// The settings everyone sees (brand, support address, time zone).
#[derive(Clone, Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Instance {
    pub brand_name: String,
    pub support_email: String,
    pub timezone: String,
    pub setup_complete: bool,
}

pub fn parse_timezone(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.is_empty() {
        return Err("is required");
    }
    jiff::tz::TimeZone::get(name)
        .map(|_| name.to_string())
        .map_err(|_| "is not a known IANA time zone such as Europe/Berlin")
}

/// Time zone names offered in the wizard.
pub fn timezone_names() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.to_string())
        .filter(|n| n.contains('/') || n == "UTC")
        .collect();
    names.sort();
    names
}

pub async fn is_complete(db: &Db) -> Result<bool, sqlx::Error> {
    let found: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(KEY_COMPLETED)
        .fetch_optional(db.read())
        .await?;
    Ok(found.is_some())
}

pub async fn instance(db: &Db) -> Result<Instance, sqlx::Error> {
    let rows = sqlx::query("SELECT key, value FROM settings")
        .fetch_all(db.read())
        .await?;
    let mut map = HashMap::new();
    for r in rows {
        map.insert(
            r.try_get::<String, _>("key")?,
            r.try_get::<String, _>("value")?,
        );
    }
    Ok(Instance {
        brand_name: map
            .get(KEY_BRAND)
            .cloned()
            .unwrap_or_else(|| "opsdesk".into()),
        support_email: map.get(KEY_SUPPORT_EMAIL).cloned().unwrap_or_default(),
        timezone: map
            .get(KEY_TIMEZONE)
            .cloned()
            .unwrap_or_else(|| "UTC".into()),
        setup_complete: map.contains_key(KEY_COMPLETED),
    })
}

async fn put(tx: &mut Tx, key: &str, value: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)")
        .bind(key)
        .bind(value)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Completes setup: settings (and the team's logo, when one is given) and the first admin in
/// one transaction with its audit record.
pub async fn complete(
    db: &Db,
    actor: &Actor,
    input: SetupInput,
    team_logo: Option<&[u8]>,
) -> Result<User, AppError> {
    let mut fields = Fields::default();
    let brand = fields.check("brand_name", DisplayName::parse(&input.brand_name));
    let support = fields.check("support_email", EmailAddress::parse(&input.support_email));
    let tz = fields.check("timezone", parse_timezone(&input.timezone));
    fields.check("admin_name", DisplayName::parse(&input.admin_name));
    fields.check("admin_email", EmailAddress::parse(&input.admin_email));
    fields.check("admin_password", NewPassword::parse(&input.admin_password));
    let team_logo = team_logo.filter(|b| !b.is_empty());
    if let Some(b) = team_logo {
        fields.check("logo", logo::check(b));
    }
    fields.finish()?;
    let (Some(brand), Some(support), Some(tz)) = (brand, support, tz) else {
        return Err(AppError::bad_request("invalid_input", "invalid setup"));
    };
    if is_complete(db).await? {
        return Err(already_done());
    }
    let admin = NewUserInput {
        email: input.admin_email,
        name: input.admin_name,
        role: "admin".into(),
        password: input.admin_password,
        organization: String::new(),
        security: true,
    };
    let prepared = crate::accounts::service::prepare(admin).await?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    // The one row that can be written only once decides the race.
    if let Err(e) = put(&mut tx, KEY_COMPLETED, &now.to_string(), now).await {
        return Err(match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => already_done(),
            _ => AppError::from(e),
        });
    }
    put(&mut tx, KEY_BRAND, brand.as_str(), now).await?;
    put(&mut tx, KEY_SUPPORT_EMAIL, support.as_str(), now).await?;
    put(&mut tx, KEY_TIMEZONE, &tz, now).await?;
    if let Some(b) = team_logo {
        logo::store(&mut tx, b, now).await?;
    }
    let user_id = create_user_in(&mut tx, db, actor, &prepared).await?;
    let summary = format!("brand={} support={support} tz={tz}", brand.as_str());
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("setup.complete", "instance", summary),
    )
    .await?;
    tx.commit().await?;
    crate::accounts::service::find(db, &user_id).await
}

fn already_done() -> AppError {
    AppError::conflict(
        "setup_already_complete",
        "Setup has already been completed; sign in instead.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_checked_against_the_bundled_database() {
        assert_eq!(
            parse_timezone(" Europe/Berlin "),
            Ok("Europe/Berlin".into())
        );
        assert!(parse_timezone("Mars/Olympus").is_err());
        assert!(parse_timezone("").is_err());
        assert!(timezone_names().iter().any(|n| n == "America/New_York"));
    }
}
