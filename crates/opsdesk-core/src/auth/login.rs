//! Logging in with email and password: lockout check, verification, failure counting and audit.

use super::authlog::Reason;
use super::lockout::{self, Gate};
use crate::accounts::{User, password, store};
use crate::audit::{self, Actor};
use crate::config::Lockout;
use crate::db::Db;
use crate::error::AppError;

/// A refused login, with the word for the fail2ban line.
#[derive(Debug)]
pub enum LoginError {
    Refused(Reason),
    Store(AppError),
}

impl From<sqlx::Error> for LoginError {
    fn from(e: sqlx::Error) -> Self {
        LoginError::Store(AppError::from(e))
    }
}

/// Checks credentials. Every outcome is audited; failures are counted towards the lockout.
pub async fn login(
    db: &Db,
    policy: &Lockout,
    actor: &Actor,
    email: &str,
    password_in: &str,
) -> Result<User, LoginError> {
    let email = email.trim().to_lowercase();
    let gate = lockout::check(db, policy, &email, &actor.client_ip).await?;
    let result = if gate == Gate::Open {
        let creds = store::find_credentials(db, &email).await?;
        let (user, hash) = match creds {
            Some(c) => (Some(c.user), c.password_hash),
            None => (None, None),
        };
        let ok = password::verify(password_in, hash).await;
        match user {
            None => Err(Reason::UnknownUser),
            Some(_) if !ok => Err(Reason::BadPassword),
            Some(u) if u.disabled => Err(Reason::Disabled),
            Some(u) => Ok(u),
        }
    } else {
        Err(Reason::Locked)
    };
    let mut tx = db.begin().await?;
    match &result {
        Ok(user) => {
            lockout::clear_account(&mut tx, &email).await?;
            let who = Actor {
                label: format!("user:{}", user.id),
                user_id: Some(user.id.clone()),
                ..actor.clone()
            };
            audit::store::append(
                &mut tx,
                db.backend(),
                who.entry("auth.login", format!("user:{}", user.id), "password"),
            )
            .await?;
        }
        Err(reason) => {
            if *reason != Reason::Locked {
                lockout::record_failure(&mut tx, &email, &actor.client_ip).await?;
            }
            let summary = format!("email={} reason={}", truncate(&email, 120), reason.as_str());
            audit::store::append(
                &mut tx,
                db.backend(),
                actor.entry("auth.login_failed", String::new(), summary),
            )
            .await?;
        }
    }
    tx.commit().await?;
    result.map_err(LoginError::Refused)
}

pub async fn logout(db: &Db, actor: &Actor) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("auth.logout", actor.label.clone(), String::new()),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
