//! One-time sign-in links for the customer portal: a random token mailed to the customer, its
//! SHA-256 stored with a 15-minute expiry, consumed once. Asking for a link never reveals
//! whether an account exists.

use sha2::{Digest, Sha256};
use sqlx::Row as _;

use opsdesk_core::accounts::Role;
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::now_ms;
use opsdesk_core::config::MailConfig;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;
use opsdesk_mail::Address;

use crate::mail::outbox;

/// How long a link works.
pub const VALID_MS: i64 = 15 * 60_000;
/// Links a customer may ask for per hour (more are silently not sent).
pub const PER_HOUR: i64 = 5;

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh token: 244 random bits as 64 hex digits.
fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Whether a path segment can be a token at all (cheap check before the database).
pub fn plausible(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Mails a sign-in link to `email` when it belongs to an active customer account.
pub async fn request(
    db: &Db,
    mail: &MailConfig,
    base_url: &str,
    actor: &Actor,
    email: &str,
) -> Result<(), AppError> {
    let email = email.trim().to_lowercase();
    let row = sqlx::query("SELECT id, name, role, disabled FROM users WHERE lower(email) = $1")
        .bind(&email)
        .fetch_optional(db.read())
        .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let role: String = row.try_get("role")?;
    if row.try_get::<i64, _>("disabled")? != 0 || Role::parse(&role) != Some(Role::Customer) {
        return Ok(());
    }
    let user_id: String = row.try_get("id")?;
    let name: String = row.try_get("name")?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    let recent: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM login_links WHERE user_id = $1 AND created_at > $2",
    )
    .bind(&user_id)
    .bind(now - 3_600_000)
    .fetch_one(&mut *tx)
    .await?;
    if recent >= PER_HOUR {
        return Ok(());
    }
    let token = new_token();
    sqlx::query(
        "INSERT INTO login_links (hash, user_id, expires_at, used_at, created_at) VALUES ($1, $2, $3, NULL, $4)",
    )
    .bind(digest(&token))
    .bind(&user_id)
    .bind(now + VALID_MS)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let sender = outbox::identity(&mut tx).await?;
    let link = format!("{}/portal/login/{token}", base_url.trim_end_matches('/'));
    let text = format!(
        "Hello {name},\n\nopen this link to see your requests with {brand}:\n\n{link}\n\n\
         The link works once, for 15 minutes. If you did not ask for it, ignore this email.\n\n\
         {brand} support",
        brand = sender.brand
    );
    outbox::queue_notice(
        &mut tx,
        mail,
        &sender,
        &Address {
            email: email.clone(),
            name: Some(name),
        },
        "signin",
        &format!("Your sign-in link for {}", sender.brand),
        &text,
        now,
    )
    .await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "portal.link",
            format!("user:{user_id}"),
            "sign-in link sent",
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Uses a link: the user it signs in, or `None` when it is unknown, used or expired.
pub async fn consume(db: &Db, actor: &Actor, token: &str) -> Result<Option<String>, AppError> {
    if !plausible(token) {
        return Ok(None);
    }
    let now = now_ms();
    let mut tx = db.begin().await?;
    let user: Option<String> = sqlx::query_scalar(
        "UPDATE login_links SET used_at = $2 WHERE hash = $1 AND used_at IS NULL AND expires_at > $2 \
         RETURNING user_id",
    )
    .bind(digest(token))
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let active: Option<String> = match &user {
        Some(id) => {
            sqlx::query_scalar("SELECT id FROM users WHERE id = $1 AND disabled = 0")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
        }
        None => None,
    };
    if let Some(id) = &active {
        audit::store::append(
            &mut tx,
            db.backend(),
            actor.entry("user.login", format!("user:{id}"), "portal sign-in link"),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(active)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_hex_and_only_their_digest_is_kept() {
        let t = new_token();
        assert!(plausible(&t), "{t}");
        assert_ne!(new_token(), t);
        assert_eq!(digest(&t).len(), 64);
        assert_ne!(digest(&t), t);
        assert!(!plausible("../etc"));
        assert!(!plausible(&t[..63]));
    }
}
