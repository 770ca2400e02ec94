//! Hops of one session run one after the other inside a process (a gateway retry racing the
//! original); across processes the store's compare-and-set does the same job.

use std::hash::{Hash, Hasher};

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
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        self.stripes[(h.finish() as usize) % self.stripes.len()]
            .lock()
            .await
    }
}
