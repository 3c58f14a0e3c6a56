//! SQL for users and organizations.

use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::model::{Organization, Role, User};
use crate::db::{Db, Tx, flag};

const USER_SELECT: &str = "SELECT u.id, u.email, u.name, u.role, u.security, u.organization_id, o.name AS organization, \
     u.disabled, u.created_at, u.password_hash FROM users u LEFT JOIN organizations o ON o.id = u.organization_id";

/// Reads a user from a row with the user columns (and `organization`).
pub fn user_from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: Role::parse(&role)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown role {role:?}").into()))?,
        security: row.try_get::<i64, _>("security")? != 0,
        organization_id: row.try_get("organization_id")?,
        organization: row.try_get("organization")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

/// A user with the stored password hash, for logging in.
pub struct Credentials {
    pub user: User,
    pub password_hash: Option<String>,
}

pub async fn find_credentials(db: &Db, email: &str) -> Result<Option<Credentials>, sqlx::Error> {
    let row = sqlx::query(const_format(USER_SELECT, " WHERE u.email = $1"))
        .bind(email)
        .fetch_optional(db.read())
        .await?;
    row.map(|r| {
        Ok(Credentials {
            user: user_from_row(&r)?,
            password_hash: r.try_get("password_hash")?,
        })
    })
    .transpose()
}

pub async fn find_by_id(db: &Db, id: &str) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query(const_format(USER_SELECT, " WHERE u.id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<User>, sqlx::Error> {
    Ok(find_credentials(db, email).await?.map(|c| c.user))
}

/// Users ordered by email, after `after_email` (the cursor), at most `limit`.
pub async fn list(
    db: &Db,
    role: Option<Role>,
    after_email: &str,
    limit: i64,
) -> Result<Vec<User>, sqlx::Error> {
    let rows = sqlx::query(const_format(
        USER_SELECT,
        " WHERE ($1 = '' OR u.role = $1) AND u.email > $2 ORDER BY u.email LIMIT $3",
    ))
    .bind(role.map(Role::as_str).unwrap_or(""))
    .bind(after_email)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter().map(user_from_row).collect()
}

pub async fn count_users(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(db.read())
        .await
}

/// The fields of a new user row.
pub struct NewUserRow<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub security: bool,
    pub organization_id: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub now: i64,
}

pub async fn insert_user(tx: &mut Tx, u: &NewUserRow<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, email, name, role, security, organization_id, password_hash, disabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8)",
    )
    .bind(u.id)
    .bind(u.email)
    .bind(u.name)
    .bind(u.role.as_str())
    .bind(flag(u.security))
    .bind(u.organization_id)
    .bind(u.password_hash)
    .bind(u.now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn set_role(
    tx: &mut Tx,
    id: &str,
    role: Role,
    security: bool,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("UPDATE users SET role = $1, security = $2, updated_at = $3 WHERE id = $4")
        .bind(role.as_str())
        .bind(flag(security))
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected())
}

pub async fn set_password(tx: &mut Tx, id: &str, hash: &str, now: i64) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected())
}

pub async fn set_disabled(
    tx: &mut Tx,
    id: &str,
    disabled: bool,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3")
        .bind(flag(disabled))
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected())
}

pub async fn count_active_admins(tx: &mut Tx) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0")
        .fetch_one(&mut **tx)
        .await
}

pub async fn find_org_by_name(
    tx: &mut Tx,
    name: &str,
) -> Result<Option<Organization>, sqlx::Error> {
    let row = sqlx::query("SELECT id, name, created_at FROM organizations WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| {
        Ok(Organization {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            created_at: r.try_get("created_at")?,
        })
    })
    .transpose()
}

pub async fn insert_org(tx: &mut Tx, org: &Organization) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&org.id)
        .bind(&org.name)
        .bind(org.created_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn list_orgs(db: &Db) -> Result<Vec<Organization>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, name, created_at FROM organizations ORDER BY name")
        .fetch_all(db.read())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Organization {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

pub async fn delete_sessions_of(tx: &mut Tx, user_id: &str) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected())
}

/// Glues a fixed SELECT to a fixed tail at compile time-like cost (both are `'static`).
fn const_format(head: &'static str, tail: &'static str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!("{head}{tail}"))
}
