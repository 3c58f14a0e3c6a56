//! Account use cases: parse → check → one transaction with its audit record.

use super::model::{DisplayName, EmailAddress, NewPassword, Organization, Role, User};
use super::{password, store};
use crate::audit::{self, Actor};
use crate::clock::{new_id, now_ms};
use crate::db::{Db, Tx};
use crate::error::{AppError, Fields, on_unique};

/// Raw input for a new user, as it comes from a form, JSON or the CLI.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserInput {
    pub email: String,
    #[serde(default)]
    pub name: String,
    pub role: String,
    /// Leave empty to create an account that cannot log in until a password is set.
    #[serde(default)]
    pub password: String,
    /// Organization name; created if it does not exist yet.
    #[serde(default)]
    pub organization: String,
    /// May read private security reports (staff only).
    #[serde(default)]
    pub security: bool,
}

/// A new user that passed validation, with its password already hashed.
pub struct PreparedUser {
    email: EmailAddress,
    name: DisplayName,
    role: Role,
    security: bool,
    organization: Option<DisplayName>,
    password_hash: Option<String>,
}

/// Validates the input and hashes the password (outside any transaction: hashing is slow).
pub async fn prepare(input: NewUserInput) -> Result<PreparedUser, AppError> {
    let mut fields = Fields::default();
    let email = fields.check("email", EmailAddress::parse(&input.email));
    let fallback_name = input.email.split('@').next().unwrap_or("").to_string();
    let name_src = if input.name.trim().is_empty() {
        fallback_name
    } else {
        input.name.clone()
    };
    let name = fields.check("name", DisplayName::parse(&name_src));
    let role = fields.check(
        "role",
        Role::parse(&input.role).ok_or("must be admin, agent or customer"),
    );
    let password = if input.password.is_empty() {
        None
    } else {
        fields.check("password", NewPassword::parse(&input.password))
    };
    let organization = if input.organization.trim().is_empty() {
        None
    } else {
        fields.check("organization", DisplayName::parse(&input.organization))
    };
    if input.security && role == Some(Role::Customer) {
        fields.add(
            "security",
            "only agents and admins can read security reports",
        );
    }
    fields.finish()?;
    let (Some(email), Some(name), Some(role)) = (email, name, role) else {
        return Err(AppError::bad_request("invalid_input", "invalid user"));
    };
    let password_hash = match &password {
        Some(p) => Some(password::hash(p).await?),
        None => None,
    };
    Ok(PreparedUser {
        email,
        name,
        role,
        security: input.security,
        organization,
        password_hash,
    })
}

/// Inserts a prepared user inside `tx`, with its audit record; returns the new id.
pub async fn create_user_in(
    tx: &mut Tx,
    db: &Db,
    actor: &Actor,
    u: &PreparedUser,
) -> Result<String, AppError> {
    let id = new_id();
    let org_id = match &u.organization {
        Some(org) => Some(ensure_org(tx, db, actor, org).await?.id),
        None => None,
    };
    let row = store::NewUserRow {
        id: &id,
        email: u.email.as_str(),
        name: u.name.as_str(),
        role: u.role,
        security: u.security,
        organization_id: org_id.as_deref(),
        password_hash: u.password_hash.as_deref(),
        now: now_ms(),
    };
    store::insert_user(tx, &row)
        .await
        .map_err(|e| on_unique(e, "email", "is already used by another account"))?;
    let org = u
        .organization
        .as_ref()
        .map(|o| format!(" org={}", o.as_str()))
        .unwrap_or_default();
    let summary = format!("email={} role={}{org}", u.email, u.role);
    audit::store::append(
        tx,
        db.backend(),
        actor.entry("user.create", format!("user:{id}"), summary),
    )
    .await?;
    Ok(id)
}

pub async fn create_user(db: &Db, actor: &Actor, input: NewUserInput) -> Result<User, AppError> {
    let prepared = prepare(input).await?;
    let mut tx = db.begin().await?;
    let id = create_user_in(&mut tx, db, actor, &prepared).await?;
    tx.commit().await?;
    find(db, &id).await
}

async fn ensure_org(
    tx: &mut Tx,
    db: &Db,
    actor: &Actor,
    name: &DisplayName,
) -> Result<Organization, AppError> {
    if let Some(org) = store::find_org_by_name(tx, name.as_str()).await? {
        return Ok(org);
    }
    let org = Organization {
        id: new_id(),
        name: name.as_str().to_string(),
        created_at: now_ms(),
    };
    store::insert_org(tx, &org).await?;
    audit::store::append(
        tx,
        db.backend(),
        actor.entry(
            "org.create",
            format!("org:{}", org.id),
            format!("name={}", org.name),
        ),
    )
    .await?;
    Ok(org)
}

/// Looks a user up by id or email.
pub async fn find(db: &Db, id_or_email: &str) -> Result<User, AppError> {
    let found = if id_or_email.contains('@') {
        store::find_by_email(db, &id_or_email.trim().to_lowercase()).await?
    } else {
        store::find_by_id(db, id_or_email.trim()).await?
    };
    found.ok_or_else(|| AppError::not_found("The user"))
}

pub async fn set_role(
    db: &Db,
    actor: &Actor,
    id_or_email: &str,
    role: Role,
    security: bool,
) -> Result<User, AppError> {
    if security && role == Role::Customer {
        return Err(AppError::field(
            "security",
            "only agents and admins can read security reports",
        ));
    }
    let user = find(db, id_or_email).await?;
    let mut tx = db.begin().await?;
    store::set_role(&mut tx, &user.id, role, security, now_ms()).await?;
    if user.role == Role::Admin
        && role != Role::Admin
        && store::count_active_admins(&mut tx).await? == 0
    {
        return Err(AppError::conflict(
            "last_admin",
            "This is the last admin; make another admin first.",
        ));
    }
    let summary = format!(
        "role {} -> {role}; security {} -> {security}",
        user.role, user.security
    );
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("user.set_role", format!("user:{}", user.id), summary),
    )
    .await?;
    tx.commit().await?;
    crate::auth::tokens::invalidate_cached_checks();
    find(db, &user.id).await
}

/// Sets a new password and signs the user out everywhere.
pub async fn reset_password(
    db: &Db,
    actor: &Actor,
    id_or_email: &str,
    new: &NewPassword,
) -> Result<User, AppError> {
    let user = find(db, id_or_email).await?;
    let hash = password::hash(new).await?;
    let mut tx = db.begin().await?;
    store::set_password(&mut tx, &user.id, &hash, now_ms()).await?;
    let ended = store::delete_sessions_of(&mut tx, &user.id).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "user.reset_password",
            format!("user:{}", user.id),
            format!("sessions ended={ended}"),
        ),
    )
    .await?;
    tx.commit().await?;
    crate::auth::tokens::invalidate_cached_checks();
    Ok(user)
}

pub async fn set_disabled(
    db: &Db,
    actor: &Actor,
    id_or_email: &str,
    disabled: bool,
) -> Result<User, AppError> {
    let user = find(db, id_or_email).await?;
    let mut tx = db.begin().await?;
    store::set_disabled(&mut tx, &user.id, disabled, now_ms()).await?;
    if disabled && user.role == Role::Admin && store::count_active_admins(&mut tx).await? == 0 {
        return Err(AppError::conflict(
            "last_admin",
            "This is the last admin; make another admin first.",
        ));
    }
    store::delete_sessions_of(&mut tx, &user.id).await?;
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(action, format!("user:{}", user.id), String::new()),
    )
    .await?;
    tx.commit().await?;
    crate::auth::tokens::invalidate_cached_checks();
    find(db, &user.id).await
}

/// One page of users ordered by email.
pub async fn list(
    db: &Db,
    role: Option<Role>,
    after: &str,
    limit: i64,
) -> Result<Vec<User>, AppError> {
    Ok(store::list(db, role, after, limit.clamp(1, 200)).await?)
}

pub async fn list_orgs(db: &Db) -> Result<Vec<Organization>, AppError> {
    Ok(store::list_orgs(db).await?)
}
