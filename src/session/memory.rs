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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{At, SessionState};
    use crate::session::Consumed;

    fn record(consumed: &str) -> SessionRecord {
        SessionRecord {
            flow_id: "f".into(),
            flow_version: 1,
            response_id: uuid::Uuid::nil(),
            respondent: "p".into(),
            network: None,
            started_at_ms: 0,
            consumed: Consumed::of(consumed),
            reason: None,
            state: SessionState {
                lang: 0,
                at: At::Language,
                page: 0,
                attempts: 0,
                history: vec![],
                answers: vec![],
                receipt: String::new(),
            },
        }
    }

    #[tokio::test]
    async fn compare_and_set_refuses_a_stale_version() {
        let store = MemoryStore::new(10);
        let ttl = Duration::from_secs(60);
        assert!(store.save("k", &record("1"), 0, ttl).await.unwrap());
        // A second hop that loaded "no session" loses.
        assert!(!store.save("k", &record("2"), 0, ttl).await.unwrap());
        let v = store.load("k").await.unwrap().unwrap();
        assert_eq!((v.version, v.record.consumed), (1, Consumed::of("1")));
        assert!(store.save("k", &record("1*2"), 1, ttl).await.unwrap());
        assert!(!store.save("k", &record("1*3"), 1, ttl).await.unwrap());
        assert_eq!(store.load("k").await.unwrap().unwrap().version, 2);
    }

    #[tokio::test]
    async fn expired_sessions_are_gone_and_swept() {
        let store = MemoryStore::new(10);
        store
            .save("old", &record(""), 0, Duration::from_millis(1))
            .await
            .unwrap();
        store
            .save("live", &record(""), 0, Duration::from_secs(60))
            .await
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert!(store.load("old").await.unwrap().is_none());
        // An expired session counts as absent for compare-and-set too.
        assert!(
            store
                .save("old", &record("x"), 0, Duration::from_secs(60))
                .await
                .unwrap()
        );
        store
            .save("gone", &record(""), 0, Duration::from_millis(1))
            .await
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(sweep(&store.shared, Instant::now()), 1);
        assert_eq!(store.len(), 2);
    }

    #[tokio::test]
    async fn memory_stays_bounded() {
        let store = MemoryStore::new(2);
        let ttl = Duration::from_secs(60);
        store.save("a", &record(""), 0, ttl).await.unwrap();
        store.save("b", &record(""), 0, ttl).await.unwrap();
        assert!(matches!(
            store.save("c", &record(""), 0, ttl).await,
            Err(StoreError::Full(2))
        ));
        // Existing sessions still move on.
        assert!(store.save("a", &record("1"), 1, ttl).await.unwrap());
    }
}

#[cfg(test)]
mod progress_tests {
    use crate::session::{Consumed, Progress};

    #[test]
    fn the_new_input_is_what_follows_the_consumed_history() {
        assert_eq!(Consumed::of("").progress(""), Progress::Same);
        assert_eq!(Consumed::of("").progress("1"), Progress::New("1"));
        assert_eq!(Consumed::of("1*2").progress("1*2"), Progress::Same);
        assert_eq!(
            Consumed::of("1*2").progress("1*2*a*b#"),
            Progress::New("a*b#")
        );
        assert_eq!(Consumed::of("1*2").progress("1*2*"), Progress::New(""));
        assert_eq!(Consumed::of("1*2").progress("1"), Progress::Stale);
        assert_eq!(Consumed::of("1*2").progress("1*3*4"), Progress::Diverged);
        assert_eq!(Consumed::of("1*2").progress("1*22"), Progress::Diverged);
    }
}
