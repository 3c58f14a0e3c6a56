//! Password hashing with argon2id, run off the async threads because each hash costs ~20 ms of CPU.

use std::sync::LazyLock;

use tokio::sync::Semaphore;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

use super::model::NewPassword;

/// Each argon2 run takes ~19 MiB and a core for tens of milliseconds; running more at once than
/// there are cores only adds memory and latency, so hashing waits its turn here.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
    )
});

/// Hashes a new password (argon2id, random salt, PHC string).
pub async fn hash(password: &NewPassword) -> anyhow::Result<String> {
    let _turn = HASHING.acquire().await?;
    let pw = password.expose().to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(pw.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
    })
    .await?
}

/// A hash of a random password, verified against when the account does not exist so that
/// "no such user" costs as long as "wrong password".
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let random = uuid::Uuid::new_v4().to_string();
    Argon2::default()
        .hash_password(random.as_bytes())
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// Checks `password` against a stored hash, or burns the same time when there is none.
pub async fn verify(password: &str, stored: Option<String>) -> bool {
    if password.len() > NewPassword::MAX_BYTES {
        return false;
    }
    let Ok(_turn) = HASHING.acquire().await else {
        return false;
    };
    let pw = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let exists = stored.is_some();
        let hash = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let ok = Argon2::default()
            .verify_password(pw.as_bytes(), hash.as_str())
            .is_ok();
        ok && exists
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let pw =
            NewPassword::parse("correct horse battery staple").unwrap_or_else(|e| panic!("{e}"));
        let stored = hash(&pw).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(verify("correct horse battery staple", Some(stored.clone())).await);
        assert!(!verify("correct horse battery stapl", Some(stored)).await);
        assert!(!verify("anything", None).await);
    }
}
