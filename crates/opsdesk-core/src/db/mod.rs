//! The store: one `AnyPool`-based handle over SQLite or PostgreSQL, chosen by the URL scheme.
//! Portable SQL rules: timestamps are Unix milliseconds (`BIGINT`), booleans 0/1 `BIGINT`,
//! ids and JSON are `TEXT`, placeholders are `$1`. Backend-specific SQL goes through [`Backend::pick`].

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor as _};

use crate::config::DatabaseUrl;

pub mod batch;
pub mod pipeline;

pub use pipeline::Pipeline;

/// A write transaction on the writer connection(s).
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Chooses the statement written for this backend, where the two must differ.
    pub fn pick(self, sqlite: &'static str, postgres: &'static str) -> &'static str {
        match self {
            Backend::Sqlite => sqlite,
            Backend::Postgres => postgres,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Pools for one database. On SQLite all writes go through a single connection (SQLite allows
/// one writer at a time; queueing in the pool beats spinning on `SQLITE_BUSY`) and reads use the
/// others. On PostgreSQL both are the same pool.
#[derive(Clone, Debug)]
pub struct Db {
    backend: Backend,
    read: AnyPool,
    write: AnyPool,
    /// The group-commit writer, started on first use (see [`batch`]).
    batcher: std::sync::Arc<std::sync::OnceLock<batch::Batcher>>,
    /// See [`Db::identity`].
    id: usize,
}

/// A number per connected database handle, never reused within the process.
fn next_id() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Db {
    /// Connects (creating the SQLite file and its directory if absent). Does not migrate.
    pub async fn connect(url: &DatabaseUrl) -> anyhow::Result<Db> {
        install_default_drivers();
        if url.is_postgres() {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .min_connections(0)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url.expose())
                .await
                .with_context(|| format!("connecting to {url}"))?;
            return Ok(Db {
                backend: Backend::Postgres,
                read: pool.clone(),
                write: pool,
                batcher: Default::default(),
                id: next_id(),
            });
        }
        if !url.expose().starts_with("sqlite:") {
            anyhow::bail!("unsupported database URL {url}: use sqlite://PATH or postgres://…");
        }
        if let Some(dir) = sqlite_path(url.expose()).and_then(|p| p.parent().map(Path::to_path_buf))
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let write = sqlite_pool(url, true).await?;
        // WAL must be on before readers open the file.
        let read = sqlite_pool(url, false).await?;
        Ok(Db {
            backend: Backend::Sqlite,
            read,
            write,
            batcher: Default::default(),
            id: next_id(),
        })
    }

    /// An identity of this database handle, shared by its clones and never given to another
    /// handle (an address could be, once this one is dropped): the key of per-database caches in
    /// a process that holds several (tests do).
    pub fn identity(&self) -> usize {
        self.id
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Pool for reads.
    pub fn read(&self) -> &AnyPool {
        &self.read
    }

    /// Pool for single-statement writes outside a transaction.
    pub fn write(&self) -> &AnyPool {
        &self.write
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so a transaction that reads and then writes never fails half-way on a lock upgrade.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.write.begin().await,
        }
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies pending migrations. Safe to run from several instances at once: sqlx takes a lock.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        self.migrator()
            .run(&self.write)
            .await
            .context("applying database migrations")?;
        Ok(())
    }

    /// How many known migrations are not yet applied (0 when current).
    pub async fn pending_migrations(&self) -> Result<usize, sqlx::Error> {
        let applied: Vec<i64> =
            match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = $1")
                .bind(true)
                .fetch_all(&self.read)
                .await
            {
                Ok(v) => v,
                Err(sqlx::Error::Database(_)) => Vec::new(),
                Err(e) => return Err(e),
            };
        Ok(self
            .migrator()
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count())
    }

    /// Runs `body` in a transaction shared with other callers (group commit on SQLite, where
    /// every commit is an fsync on the one writer); its value comes back once that transaction
    /// committed. On PostgreSQL, which overlaps concurrent transactions and groups WAL flushes
    /// itself, the body runs in its own transaction. The body must only use the transaction it
    /// gets.
    pub async fn batched<T, F>(&self, body: F) -> Result<T, crate::error::AppError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(
                &'t mut Tx,
            )
                -> futures::future::BoxFuture<'t, Result<T, crate::error::AppError>>
            + Send
            + 'static,
    {
        if self.backend == Backend::Postgres {
            let mut tx = self.begin().await?;
            let v = body(&mut tx).await?;
            tx.commit().await?;
            return Ok(v);
        }
        self.batcher().run(body).await
    }

    fn batcher(&self) -> &batch::Batcher {
        self.batcher
            .get_or_init(|| batch::Batcher::start(self.write.clone(), self.backend))
    }

    /// [`Db::batched`] for one statement of store code that reports sqlx errors (the job
    /// queue's claims and completions): on SQLite it shares the group commit's transaction and
    /// fsync instead of committing on its own.
    pub async fn batched_query(
        &self,
        sql: &'static str,
        args: Vec<pipeline::Arg>,
    ) -> Result<Vec<sqlx::any::AnyRow>, sqlx::Error> {
        let failed = batch::Failed::default();
        let body = batch::statement(sql, args, failed.clone());
        let result = match self.backend {
            Backend::Sqlite => self.batcher().run_single(body).await,
            Backend::Postgres => self.batched(body).await,
        };
        result.map_err(|app| failed.take(app))
    }

    /// Refreshes the query planner's statistics where they are stale (SQLite `PRAGMA optimize`;
    /// PostgreSQL's autovacuum does this itself). Without them SQLite may sort a whole table
    /// instead of walking an index: the inbox of a 100k-ticket desk went from 100 ms to 1 ms.
    pub async fn optimize(&self) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA optimize").execute(&self.write).await?;
        }
        Ok(())
    }

    /// Gathers planner statistics for every table now (after a bulk load).
    pub async fn analyze(&self) -> Result<(), sqlx::Error> {
        sqlx::query("ANALYZE").execute(&self.write).await?;
        Ok(())
    }

    /// Proves the database accepts writes, without leaving anything behind.
    pub async fn check_writable(&self) -> Result<(), sqlx::Error> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        tx.rollback().await
    }

    pub fn pool_stats(&self) -> PoolStats {
        PoolStats {
            size: self.read.size(),
            idle: u32::try_from(self.read.num_idle()).unwrap_or(u32::MAX),
        }
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

#[derive(Clone, Copy, Debug)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
}

/// The one writer connection, or the readers' pool.
async fn sqlite_pool(url: &DatabaseUrl, writer: bool) -> anyhow::Result<AnyPool> {
    AnyPoolOptions::new()
        .max_connections(if writer { 1 } else { 8 })
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA busy_timeout = 5000").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                conn.execute("PRAGMA synchronous = FULL").await?;
                if writer {
                    // The writer's savepoint journals (one per group-commit body) stay off the
                    // file system; readers keep big sorts and temporary indexes on disk.
                    conn.execute("PRAGMA temp_store = MEMORY").await?;
                }
                Ok(())
            })
        })
        .connect(url.expose())
        .await
        .with_context(|| format!("opening {url}"))
}

/// The file behind a `sqlite://PATH?…` URL.
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        None
    } else {
        Some(std::path::PathBuf::from(path))
    }
}

/// Booleans are stored as 0/1 integers on both backends.
pub fn flag(b: bool) -> i64 {
    i64::from(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_are_read_from_urls() {
        assert_eq!(
            sqlite_path("sqlite://data/opsdesk.db?mode=rwc"),
            Some("data/opsdesk.db".into())
        );
        assert_eq!(sqlite_path("sqlite:///abs/x.db"), Some("/abs/x.db".into()));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }
}
