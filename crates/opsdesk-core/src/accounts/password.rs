//! Password hashing with argon2id, run off the async threads because each hash costs ~20 ms of CPU.

use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{LazyLock, Mutex};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use tokio::sync::oneshot;

use super::model::NewPassword;

type Work = Box<dyn FnOnce() + Send>;

/// Argon2 runs on a few dedicated threads, one per core. Each run takes ~19 MiB and a core for
/// tens of milliseconds: more at once only adds latency, and running them on the blocking pool
/// would leave a 19 MiB heap behind in every thread's allocator arena (hundreds of MiB after a
/// burst of logins). A fixed pool keeps memory flat.
static POOL: LazyLock<Mutex<SyncSender<Work>>> = LazyLock::new(|| {
    let (tx, rx) = sync_channel::<Work>(1024);
    let rx = std::sync::Arc::new(Mutex::new(rx));
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    for i in 0..threads {
        let rx = rx.clone();
        let _ = std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                loop {
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
    }
    Mutex::new(tx)
});

async fn on_pool<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let (tx, rx) = oneshot::channel();
    let work: Work = Box::new(move || {
        let _ = tx.send(f());
    });
    let sender = POOL
        .lock()
        .map_err(|_| anyhow::anyhow!("password pool poisoned"))?
        .clone();
    // `send` blocks only when 1024 hashes are already waiting; do that wait off the async threads.
    tokio::task::spawn_blocking(move || sender.send(work))
        .await?
        .map_err(|_| anyhow::anyhow!("password pool stopped"))?;
    Ok(rx.await?)
}

/// Hashes a new password (argon2id, random salt, PHC string).
pub async fn hash(password: &NewPassword) -> anyhow::Result<String> {
    let pw = password.expose().to_owned();
    on_pool(move || {
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
    let pw = password.to_owned();
    on_pool(move || {
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
