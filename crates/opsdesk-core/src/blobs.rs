//! Content-addressed blob storage for raw emails and attachments, outside the main tables and
//! deduplicated by SHA-256. PostgreSQL keeps the bytes in the `blobs` table so every instance
//! can read them. SQLite keeps small blobs (most emails) in that table too, committed with the
//! change that needs them, and large ones in files under the data directory, written and synced
//! before the row is committed, so a committed row always has its file.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::db::{Backend, Db, Tx};

/// Blobs up to this size stay in the database on SQLite (one fsync with the transaction instead
/// of a file, a sync and a directory entry each).
pub const INLINE_MAX: usize = 256 * 1024;

/// Where blobs go for one store.
#[derive(Clone, Debug)]
pub struct Blobs {
    backend: Backend,
    dir: PathBuf,
}

/// The hex SHA-256 of `bytes`, the key a blob is stored under.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn valid_key(sha: &str) -> bool {
    sha.len() == 64
        && sha
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl Blobs {
    /// Blobs of `db`; on SQLite they live in `<data_dir>/blobs`.
    pub fn new(db: &Db, data_dir: &Path) -> Blobs {
        Blobs {
            backend: db.backend(),
            dir: data_dir.join("blobs"),
        }
    }

    fn path(&self, sha: &str) -> PathBuf {
        self.dir.join(&sha[..2]).join(sha)
    }

    /// Stores `bytes` (once, however often it is put) inside `tx`; returns its key.
    pub async fn put(&self, tx: &mut Tx, bytes: &[u8], now: i64) -> anyhow::Result<String> {
        let sha = sha256_hex(bytes);
        match self.backend {
            Backend::Sqlite if bytes.len() > INLINE_MAX => {
                self.write_file(&sha, bytes).await?;
                sqlx::query(
                    "INSERT INTO blobs (sha256, size, data, created_at) VALUES ($1, $2, NULL, $3) \
                     ON CONFLICT (sha256) DO NOTHING",
                )
                .bind(&sha)
                .bind(bytes.len() as i64)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            }
            Backend::Sqlite | Backend::Postgres => {
                let exists: Option<i64> =
                    sqlx::query_scalar("SELECT size FROM blobs WHERE sha256 = $1")
                        .bind(&sha)
                        .fetch_optional(&mut **tx)
                        .await?;
                if exists.is_none() {
                    sqlx::query(
                        "INSERT INTO blobs (sha256, size, data, created_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (sha256) DO NOTHING",
                    )
                    .bind(&sha)
                    .bind(bytes.len() as i64)
                    .bind(bytes.to_vec())
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
        Ok(sha)
    }

    /// Writes the file under a temporary name, syncs it and renames it into place, so a reader
    /// never sees half a blob and a crash leaves at worst an unreferenced file.
    async fn write_file(&self, sha: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self.path(sha);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(());
        }
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.dir.clone());
        let tmp = dir.join(format!(".{sha}.{}", uuid::Uuid::new_v4().simple()));
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write as _;
            std::fs::create_dir_all(&dir)?;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            Ok(())
        })
        .await??;
        Ok(())
    }

    /// The bytes stored under `sha`, if any.
    pub async fn get(&self, db: &Db, sha: &str) -> anyhow::Result<Option<Vec<u8>>> {
        if !valid_key(sha) {
            return Ok(None);
        }
        let row =
            sqlx::query_scalar::<_, Option<Vec<u8>>>("SELECT data FROM blobs WHERE sha256 = $1")
                .bind(sha)
                .fetch_optional(db.read())
                .await?;
        match (row, self.backend) {
            (None, _) => Ok(None),
            (Some(Some(data)), _) => Ok(Some(data)),
            (Some(None), Backend::Sqlite) => match tokio::fs::read(self.path(sha)).await {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.into()),
            },
            (Some(None), Backend::Postgres) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_lowercase_sha256_hex() {
        let k = sha256_hex(b"hello");
        assert_eq!(
            k,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert!(valid_key(&k));
        assert!(!valid_key("../../etc/passwd"));
        assert!(!valid_key(&k.to_uppercase()));
        assert!(!valid_key(&k[..63]));
    }
}
