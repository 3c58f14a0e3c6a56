//! Leader election for periodic schedulers. On PostgreSQL the leader is the instance holding a
//! session-level advisory lock on a dedicated connection: when that process dies its connection
//! closes, the server drops the lock, and another instance takes it at its next try. SQLite runs
//! one instance, which always leads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::{AnyConnection, Connection as _};

use crate::config::DatabaseUrl;
use crate::db::{Backend, Db};

/// Advisory lock key: "opsdesk" in ASCII.
const LOCK_KEY: i64 = 0x006f_7073_6465_736b;

#[derive(Clone, Debug)]
pub struct Leadership {
    flag: Arc<AtomicBool>,
}

impl Leadership {
    pub fn is_leader(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}

/// Starts campaigning; returns the shared flag. Stops when `shutdown` flips.
pub fn campaign(
    db: &Db,
    url: DatabaseUrl,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Leadership {
    let flag = Arc::new(AtomicBool::new(db.backend() == Backend::Sqlite));
    let leadership = Leadership { flag: flag.clone() };
    if db.backend() == Backend::Sqlite {
        metrics::gauge!("opsdesk_leader").set(1.0);
        return leadership;
    }
    tokio::spawn(async move {
        let mut conn: Option<AnyConnection> = None;
        loop {
            let leading = hold_or_take(&url, &mut conn).await;
            if leading != flag.swap(leading, Ordering::Relaxed) {
                tracing::info!(leader = leading, "leadership changed");
            }
            metrics::gauge!("opsdesk_leader").set(if leading { 1.0 } else { 0.0 });
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => break,
            }
        }
        flag.store(false, Ordering::Relaxed);
        if let Some(c) = conn {
            let _ = c.close().await;
        }
    });
    leadership
}

/// Keeps the lock if we hold it (and the connection is alive), else tries to take it.
async fn hold_or_take(url: &DatabaseUrl, conn: &mut Option<AnyConnection>) -> bool {
    if let Some(c) = conn.as_mut() {
        match sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
            .bind(LOCK_KEY)
            .fetch_one(&mut *c)
            .await
        {
            // Session-level advisory locks stack; release the extra hold so one unlock frees it.
            Ok(true) => {
                let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(LOCK_KEY)
                    .execute(&mut *c)
                    .await;
                return true;
            }
            Ok(false) => return false,
            Err(e) => {
                tracing::warn!(error = %e, "leader connection lost");
                *conn = None;
            }
        }
    }
    match AnyConnection::connect(url.expose()).await {
        Ok(mut c) => {
            let got = sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                .bind(LOCK_KEY)
                .fetch_one(&mut c)
                .await;
            *conn = Some(c);
            got.unwrap_or(false)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot reach the database for the leader lock");
            false
        }
    }
}
