//! Login lockout: failures counted in the database (so the count holds across instances) within a
//! sliding window, per account and per client IP.

use crate::clock::{new_id, now_ms};
use crate::config::Lockout;
use crate::db::{Db, Tx};

/// Whether a login attempt may go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    Open,
    AccountLocked,
    IpLocked,
}

/// The pure decision from the two counts.
pub fn gate(policy: &Lockout, account_failures: i64, ip_failures: i64) -> Gate {
    if ip_failures >= i64::from(policy.max_failures_per_ip) {
        Gate::IpLocked
    } else if account_failures >= i64::from(policy.max_failures_per_account) {
        Gate::AccountLocked
    } else {
        Gate::Open
    }
}

pub fn window_ms(policy: &Lockout) -> i64 {
    i64::from(policy.window_minutes) * 60_000
}

pub async fn check(db: &Db, policy: &Lockout, email: &str, ip: &str) -> Result<Gate, sqlx::Error> {
    let since = now_ms() - window_ms(policy);
    let account: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE email = $1 AND at > $2")
            .bind(email)
            .bind(since)
            .fetch_one(db.read())
            .await?;
    let ip_count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE client_ip = $1 AND at > $2")
            .bind(ip)
            .bind(since)
            .fetch_one(db.read())
            .await?;
    Ok(gate(policy, account, ip_count))
}

pub async fn record_failure(tx: &mut Tx, email: &str, ip: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO login_failures (id, at, email, client_ip) VALUES ($1, $2, $3, $4)")
        .bind(new_id())
        .bind(now_ms())
        .bind(email)
        .bind(ip)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A successful login clears the account's failures (not the IP's).
pub async fn clear_account(tx: &mut Tx, email: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE email = $1")
        .bind(email)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Drops failures older than the window (run by the maintenance job).
pub async fn prune(db: &Db, policy: &Lockout) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM login_failures WHERE at < $1")
        .bind(now_ms() - window_ms(policy))
        .execute(db.write())
        .await?;
    Ok(r.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_per_account_and_per_ip() {
        let p = Lockout {
            max_failures_per_account: 3,
            max_failures_per_ip: 5,
            window_minutes: 15,
        };
        assert_eq!(gate(&p, 2, 4), Gate::Open);
        assert_eq!(gate(&p, 3, 0), Gate::AccountLocked);
        assert_eq!(gate(&p, 0, 5), Gate::IpLocked);
        assert_eq!(gate(&p, 9, 9), Gate::IpLocked);
    }
}
