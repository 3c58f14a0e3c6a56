//! API tokens: `odt_<prefix>_<secret>`, shown once, stored as SHA-256, found by their prefix so a
//! check costs one indexed lookup and one hash instead of a password-hashing round.

use base64::Engine as _;
use rand::RngCore as _;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row as _;

use crate::accounts::{Role, User, service as accounts};
use crate::audit::{self, Actor};
use crate::clock::{new_id, now_ms};
use crate::db::Db;
use crate::error::AppError;

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Read,
    Write,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        match s.trim() {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }
}

/// A freshly generated token; `secret` is the whole token and exists only until it is shown.
pub struct Generated {
    pub prefix: String,
    pub secret: String,
    pub hash: String,
}

pub fn generate() -> Generated {
    let mut rng = rand::rng();
    let mut p = [0u8; 6];
    rng.fill_bytes(&mut p);
    let mut s = [0u8; 32];
    rng.fill_bytes(&mut s);
    let prefix = hex::encode(p);
    let secret = format!(
        "odt_{prefix}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    );
    let hash = digest(&secret);
    Generated {
        prefix,
        secret,
        hash,
    }
}

pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The prefix of a well-formed token, or `None`.
pub fn prefix_of(token: &str) -> Option<&str> {
    let rest = token.strip_prefix("odt_")?;
    let (prefix, secret) = rest.split_once('_')?;
    (prefix.len() == 12 && prefix.bytes().all(|b| b.is_ascii_hexdigit()) && secret.len() == 43)
        .then_some(prefix)
}

/// Constant-time comparison of two hex digests.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A token as listed (never with its secret).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub prefix: String,
    pub scope: Scope,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub async fn create(
    db: &Db,
    actor: &Actor,
    user_email_or_id: &str,
    name: &str,
    scope: Scope,
) -> Result<(TokenInfo, String), AppError> {
    let user = accounts::find(db, user_email_or_id).await?;
    if user.disabled {
        return Err(AppError::conflict(
            "user_disabled",
            "The account is disabled.",
        ));
    }
    let name = if name.trim().is_empty() {
        "API token"
    } else {
        name.trim()
    };
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::field(
            "name",
            "must be at most 100 characters without control characters",
        ));
    }
    let g = generate();
    let info = TokenInfo {
        id: new_id(),
        user_id: user.id.clone(),
        name: name.to_string(),
        prefix: g.prefix.clone(),
        scope,
        created_at: now_ms(),
        last_used_at: None,
        revoked_at: None,
    };
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, name, prefix, secret_hash, scope, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&info.id)
    .bind(&info.user_id)
    .bind(&info.name)
    .bind(&info.prefix)
    .bind(&g.hash)
    .bind(scope.as_str())
    .bind(info.created_at)
    .execute(&mut *tx)
    .await?;
    let summary = format!(
        "user={} scope={} prefix={}",
        user.email,
        scope.as_str(),
        info.prefix
    );
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("token.create", format!("token:{}", info.id), summary),
    )
    .await?;
    tx.commit().await?;
    Ok((info, g.secret))
}

/// Revokes by id or prefix. `owner` limits revocation to the caller's own tokens.
pub async fn revoke(
    db: &Db,
    actor: &Actor,
    id_or_prefix: &str,
    owner: Option<&str>,
) -> Result<TokenInfo, AppError> {
    let key = id_or_prefix.trim();
    let key = prefix_of(key).unwrap_or(key);
    let mut tx = db.begin().await?;
    let row = sqlx::query(
        "SELECT id, user_id, name, prefix, scope, created_at, last_used_at, revoked_at FROM api_tokens WHERE id = $1 OR prefix = $1",
    )
    .bind(key)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(AppError::not_found("The token"));
    };
    let mut info = info_from_row(&row)?;
    if owner.is_some_and(|o| o != info.user_id) {
        return Err(AppError::not_found("The token"));
    }
    if info.revoked_at.is_none() {
        let now = now_ms();
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&info.id)
            .execute(&mut *tx)
            .await?;
        audit::store::append(
            &mut tx,
            db.backend(),
            actor.entry(
                "token.revoke",
                format!("token:{}", info.id),
                format!("prefix={}", info.prefix),
            ),
        )
        .await?;
        info.revoked_at = Some(now);
    }
    tx.commit().await?;
    invalidate_cached_checks();
    Ok(info)
}

fn info_from_row(row: &sqlx::any::AnyRow) -> Result<TokenInfo, sqlx::Error> {
    let scope: String = row.try_get("scope")?;
    Ok(TokenInfo {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        scope: Scope::parse(&scope).unwrap_or(Scope::Read),
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

pub async fn list_for(db: &Db, user_id: &str) -> Result<Vec<TokenInfo>, AppError> {
    let rows = sqlx::query(
        "SELECT id, user_id, name, prefix, scope, created_at, last_used_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC",
    )
    .bind(user_id)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(info_from_row).collect::<Result<_, _>>()?)
}

/// A token that checked out, with its owner.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub token_id: String,
    pub scope: Scope,
    pub last_used_at: Option<i64>,
    pub user: User,
}

/// Checks a presented token: well-formed, known prefix, matching hash, not revoked, owner active.
/// One indexed query fetches the token and its owner together: this runs on every API call.
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<Authenticated>, AppError> {
    let Some(prefix) = prefix_of(token) else {
        return Ok(None);
    };
    let row = sqlx::query(
        "SELECT t.id AS token_id, t.secret_hash, t.scope, t.last_used_at, t.revoked_at, \
                u.id, u.email, u.name, u.role, u.security, u.organization_id, o.name AS organization, u.disabled, u.created_at \
         FROM api_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN organizations o ON o.id = u.organization_id \
         WHERE t.prefix = $1",
    )
    .bind(prefix)
    .fetch_optional(db.read())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let stored: String = row.try_get("secret_hash")?;
    let revoked: Option<i64> = row.try_get("revoked_at")?;
    if !same(&digest(token), &stored) || revoked.is_some() {
        return Ok(None);
    }
    let user = crate::accounts::store::user_from_row(&row)?;
    if user.disabled {
        return Ok(None);
    }
    let scope: String = row.try_get("scope")?;
    Ok(Some(Authenticated {
        token_id: row.try_get("token_id")?,
        scope: Scope::parse(&scope).unwrap_or(Scope::Read),
        last_used_at: row.try_get("last_used_at")?,
        user,
    }))
}

static AUTH_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Bumped by every change that could make a cached token check wrong.
pub fn auth_generation() -> u64 {
    AUTH_GENERATION.load(std::sync::atomic::Ordering::Acquire)
}

/// Invalidates cached token checks in this process.
pub fn invalidate_cached_checks() {
    AUTH_GENERATION.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
}

/// Last-used times are recorded at most once a minute per token, so reads stay reads.
pub const LAST_USED_GRANULARITY_MS: i64 = 60_000;

pub fn needs_touch(last_used_at: Option<i64>, now: i64) -> bool {
    last_used_at.is_none_or(|t| now - t >= LAST_USED_GRANULARITY_MS)
}

pub async fn touch(db: &Db, token_id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(token_id)
        .execute(db.write())
        .await?;
    Ok(())
}

/// Whether `role` may hold a token of `scope` — customers get read-only tokens.
pub fn scope_allowed(role: Role, scope: Scope) -> bool {
    role.is_staff() || scope == Scope::Read
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_hash() {
        let g = generate();
        assert_eq!(prefix_of(&g.secret), Some(g.prefix.as_str()));
        assert_eq!(digest(&g.secret), g.hash);
        assert_eq!(g.hash.len(), 64);
        assert_ne!(generate().secret, g.secret);
    }

    #[test]
    fn malformed_tokens_have_no_prefix() {
        for bad in [
            "",
            "odt_",
            "odt_abc_def",
            "xyz_0123456789ab_",
            "odt_0123456789ag_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert_eq!(prefix_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn touches_are_throttled() {
        assert!(needs_touch(None, 0));
        assert!(!needs_touch(Some(1_000), 30_000));
        assert!(needs_touch(Some(1_000), 61_000));
    }
}
