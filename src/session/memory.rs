//! The embedded session store: a map in memory with a TTL per session, swept in the
//! background, and a cap on live sessions so that memory stays bounded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::{SessionRecord, SessionStore, StoreError, Versioned};

struct Entry {
    record: SessionRecord,
    version: u64,
    expires: Instant,
}

struct Shared {
    /// A std mutex: every critical section is a map operation that never awaits.
    sessions: Mutex<HashMap<String, Entry>>,
    max_sessions: usize,
}

/// A cheap handle to the in-memory store.
#[derive(Clone)]
pub struct MemoryStore {
    shared: Arc<Shared>,
}

impl MemoryStore {
    /// A store holding at most `max_sessions` live sessions. Call [`MemoryStore::spawn_sweeper`]
    /// from a runtime to free expired sessions in the background.
    pub fn new(max_sessions: usize) -> MemoryStore {
        MemoryStore {
            shared: Arc::new(Shared {
                sessions: Mutex::new(HashMap::new()),
                max_sessions,
            }),
        }
    }

    /// Sweeps expired sessions every `every`; stops when the store is dropped.
    pub fn spawn_sweeper(&self, every: Duration) {
        let weak: Weak<Shared> = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(shared) = weak.upgrade() else { break };
                sweep(&shared, Instant::now());
            }
        });
    }

    /// Live sessions (expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave a map half-updated: recover it.
        self.shared
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

fn sweep(shared: &Shared, now: Instant) -> usize {
    let mut map = shared.sessions.lock().unwrap_or_else(|p| p.into_inner());
    let before = map.len();
    map.retain(|_, e| e.expires > now);
    before - map.len()
}

impl SessionStore for MemoryStore {
    async fn load(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        let now = Instant::now();
        Ok(self
            .lock()
            .get(key)
            .filter(|e| e.expires > now)
            .map(|e| Versioned {
                record: e.record.clone(),
                version: e.version,
            }))
    }

    async fn save(
        &self,
        key: &str,
        record: &SessionRecord,
        expected: u64,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut map = self.lock();
        let current = map
            .get(key)
            .filter(|e| e.expires > now)
            .map_or(0, |e| e.version);
        if current != expected {
            return Ok(false);
        }
        if current == 0 && !map.contains_key(key) && map.len() >= self.shared.max_sessions {
            map.retain(|_, e| e.expires > now);
            if map.len() >= self.shared.max_sessions {
                return Err(StoreError::Full(map.len()));
            }
        }
        map.insert(
            key.to_owned(),
            Entry {
                record: record.clone(),
                version: expected + 1,
                expires: now + ttl,
            },
        );
        Ok(true)
    }

    async fn ready(&self) -> bool {
        true
    }
}
