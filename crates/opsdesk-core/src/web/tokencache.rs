//! A short-lived cache of checked API tokens, so a busy script's calls cost a hash and a map
//! lookup instead of a database round trip. Entries live two seconds at most, and any local change
//! that could affect a token (revocation, role change, disabling, password reset) empties the
//! cache at once through [`crate::auth::tokens::auth_generation`]; other instances see such a
//! change within the two seconds.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::auth::tokens::{Authenticated, auth_generation};

const TTL: Duration = Duration::from_secs(2);
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct TokenCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    generation: u64,
    entries: HashMap<String, (Authenticated, Instant)>,
}

impl TokenCache {
    /// The cached check for this token digest, if fresh.
    pub fn get(&self, digest: &str) -> Option<Authenticated> {
        let mut inner = self.inner.lock().ok()?;
        let generation = auth_generation();
        if inner.generation != generation {
            inner.entries.clear();
            inner.generation = generation;
            return None;
        }
        match inner.entries.get(digest) {
            Some((auth, at)) if at.elapsed() < TTL => Some(auth.clone()),
            _ => None,
        }
    }

    /// Remembers a successful check made while `generation` was current.
    pub fn put(&self, digest: String, auth: Authenticated, generation: u64) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= MAX_ENTRIES {
            inner.entries.retain(|_, (_, at)| at.elapsed() < TTL);
            if inner.entries.len() >= MAX_ENTRIES {
                inner.entries.clear();
            }
        }
        inner.entries.insert(digest, (auth, Instant::now()));
    }

    /// Records a new last-used time on a cached entry.
    pub fn touched(&self, digest: &str, at: i64) {
        if let Ok(mut inner) = self.inner.lock()
            && let Some((auth, _)) = inner.entries.get_mut(digest)
        {
            auth.last_used_at = Some(at);
        }
    }
}
