//! Hops of one session run one after the other inside a process (a gateway retry racing the
//! original); across processes the store's compare-and-set does the same job.

use super::SessionKey;

/// Number of stripes: memory stays bounded whatever the number of sessions.
const STRIPES: usize = 1024;

/// Striped per-session mutexes.
pub struct SessionLocks {
    stripes: Box<[tokio::sync::Mutex<()>]>,
}

impl Default for SessionLocks {
    fn default() -> Self {
        SessionLocks {
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }
}

impl SessionLocks {
    /// Waits until no other hop of `key`'s session runs in this process.
    pub async fn serialise(&self, key: &SessionKey) -> tokio::sync::MutexGuard<'_, ()> {
        // By respondent (a keyed pseudonym, not chosen by the caller): a person's hops are
        // serialised with all of that person's sessions, which costs nothing, and one FNV
        // over 64 bytes is cheaper than SipHash over the whole key.
        let h = crate::hash::fnv1a(key.respondent.as_bytes());
        self.stripes[(h as usize) % self.stripes.len()].lock().await
    }
}
