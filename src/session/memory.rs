//! The embedded session store: maps in memory with a TTL per session (and per resume
//! record), swept in the background, and a cap so that memory stays bounded.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::{
    Owner, Ownership, ResumeWrite, Saved, SessionKey, SessionRecord, SessionStore, StoreError,
    Versioned,
};

struct Entry {
    /// Shared by the session and its resume record (the same record is saved in both).
    record: Arc<SessionRecord>,
    version: u64,
    expires: Instant,
}

/// A map whose entries expire, holding at most `cap` live entries.
struct Expiring<K> {
    map: HashMap<K, Entry>,
    cap: usize,
    /// When a full map last looked for expired entries: at most once a second, so that a
    /// flood at the cap costs each refused session O(1), not a scan under the lock.
    swept_when_full: Option<Instant>,
}

/// How often a full map may look for expired entries to make room.
const FULL_SWEEP_EVERY: Duration = Duration::from_secs(1);

impl<K: Hash + Eq> Expiring<K> {
    fn new(cap: usize) -> Self {
        Expiring {
            map: HashMap::new(),
            cap,
            swept_when_full: None,
        }
    }

    fn live(&self, key: &K, now: Instant) -> Option<&Entry> {
        self.map.get(key).filter(|e| e.expires > now)
    }

    fn sweep(&mut self, now: Instant) -> usize {
        let before = self.map.len();
        self.map.retain(|_, e| e.expires > now);
        before - self.map.len()
    }

    fn insert(&mut self, key: K, entry: Entry, now: Instant) -> Result<(), StoreError> {
        if !self.map.contains_key(&key) && self.map.len() >= self.cap {
            let due = self
                .swept_when_full
                .is_none_or(|t| now.saturating_duration_since(t) >= FULL_SWEEP_EVERY);
            if due {
                self.swept_when_full = Some(now);
                self.sweep(now);
            }
            if self.map.len() >= self.cap {
                return Err(StoreError::Full(self.map.len()));
            }
        }
        self.map.insert(key, entry);
        Ok(())
    }
}

struct Maps {
    sessions: Expiring<SessionKey>,
    /// Unfinished surveys by (respondent, flow).
    resumes: Expiring<(String, String)>,
    /// Who holds a survey, by (respondent, response id), once a session took it over or
    /// completed it (see [`Ownership`]).
    owners: HashMap<(String, uuid::Uuid), (Owner, Instant)>,
}

impl Maps {
    /// Applies `owner` to the survey `rid` of `respondent`; `false` when it is refused.
    fn own(
        &mut self,
        respondent: &str,
        rid: uuid::Uuid,
        owner: Ownership,
        now: Instant,
        keep: Duration,
    ) -> bool {
        let key = (respondent.to_owned(), rid);
        let current = self
            .owners
            .get(&key)
            .filter(|(_, expires)| *expires > now)
            .map(|(o, _)| *o);
        match Owner::after(current, owner.tag, owner.claim) {
            None => false,
            Some(next) => {
                if next != current
                    && let Some(o) = next
                {
                    self.owners.insert(key, (o, now + keep));
                }
                true
            }
        }
    }
}

struct Shared {
    /// A std mutex: every critical section is a map operation that never awaits.
    maps: Mutex<Maps>,
    resume_window: Duration,
}

/// A cheap handle to the in-memory store.
#[derive(Clone)]
pub struct MemoryStore {
    shared: Arc<Shared>,
}

impl MemoryStore {
    /// A store holding at most `max_sessions` live sessions (and as many resume records).
    /// Call [`MemoryStore::spawn_sweeper`] from a runtime to free expired entries.
    pub fn new(max_sessions: usize, resume_window: Duration) -> MemoryStore {
        MemoryStore {
            shared: Arc::new(Shared {
                maps: Mutex::new(Maps {
                    sessions: Expiring::new(max_sessions),
                    resumes: Expiring::new(max_sessions),
                    owners: HashMap::new(),
                }),
                resume_window,
            }),
        }
    }

    /// Sweeps expired entries every `every`; stops when the store is dropped.
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
        self.lock().sessions.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Maps> {
        // A panic while holding the lock cannot leave a map half-updated: recover it.
        self.shared.maps.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn sweep(shared: &Shared, now: Instant) -> usize {
    let mut maps = shared.maps.lock().unwrap_or_else(|p| p.into_inner());
    maps.owners.retain(|_, (_, expires)| *expires > now);
    maps.sessions.sweep(now) + maps.resumes.sweep(now)
}

impl SessionStore for MemoryStore {
    async fn load(&self, key: &SessionKey, _fresh: bool) -> Result<Option<Versioned>, StoreError> {
        let now = Instant::now();
        Ok(self.lock().sessions.live(key, now).map(|e| Versioned {
            record: SessionRecord::clone(&e.record),
            version: e.version,
        }))
    }

    async fn save(
        &self,
        key: &SessionKey,
        record: &SessionRecord,
        expected: u64,
        ttl: Duration,
        resume: ResumeWrite,
        _enqueue: Option<&super::Enqueue<'_>>,
        owner: Ownership,
    ) -> Result<Saved, StoreError> {
        let now = Instant::now();
        let mut maps = self.lock();
        let current = maps.sessions.live(key, now).map_or(0, |e| e.version);
        if current != expected {
            return Ok(Saved::Conflict);
        }
        let keep = self.shared.resume_window + super::ABANDONED_GRACE;
        if !maps.own(&key.respondent, record.response_id, owner, now, keep) {
            return Ok(Saved::Superseded);
        }
        let shared_record = Arc::new(record.clone());
        let entry = Entry {
            record: shared_record.clone(),
            version: expected + 1,
            expires: now + ttl,
        };
        maps.sessions.insert(key.clone(), entry, now)?;
        let resume_key = (key.respondent.clone(), record.flow_id.clone());
        match resume {
            ResumeWrite::Keep => {
                let entry = Entry {
                    record: shared_record,
                    version: 0,
                    expires: now + self.shared.resume_window + super::ABANDONED_GRACE,
                };
                // A full resume map only costs the respondent the resume offer.
                let _ = maps.resumes.insert(resume_key, entry, now);
            }
            ResumeWrite::Clear => {
                maps.resumes.map.remove(&resume_key);
            }
            ResumeWrite::Untouched => {}
        }
        Ok(Saved::Stored)
    }

    async fn reserve_completion(
        &self,
        respondent: &str,
        response_id: &uuid::Uuid,
        tag: u64,
    ) -> Result<bool, StoreError> {
        let keep = self.shared.resume_window + super::ABANDONED_GRACE;
        let owner = Ownership {
            tag,
            claim: super::Claim::Complete,
        };
        Ok(self
            .lock()
            .own(respondent, *response_id, owner, Instant::now(), keep))
    }

    async fn load_resume(
        &self,
        respondent: &str,
        flow_id: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let now = Instant::now();
        let key = (respondent.to_owned(), flow_id.to_owned());
        // Past its resume window, the record only waits to be delivered as a partial.
        let window_open = |e: &&Entry| e.expires > now + super::ABANDONED_GRACE;
        Ok(self
            .lock()
            .resumes
            .live(&key, now)
            .filter(window_open)
            .map(|e| SessionRecord::clone(&e.record)))
    }

    async fn ready(&self) -> bool {
        true
    }

    async fn find_abandoned(&self, max: usize) -> Result<Vec<SessionRecord>, StoreError> {
        let now = Instant::now();
        let maps = self.lock();
        Ok(maps
            .resumes
            .map
            .values()
            .filter(|e| e.expires <= now + super::ABANDONED_GRACE)
            .take(max)
            .map(|e| SessionRecord::clone(&e.record))
            .collect())
    }

    async fn forget_abandoned(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let key = (record.respondent.clone(), record.flow_id.clone());
        let mut maps = self.lock();
        if maps
            .resumes
            .map
            .get(&key)
            .is_some_and(|e| e.record.response_id == record.response_id)
        {
            maps.resumes.map.remove(&key);
        }
        Ok(())
    }

    async fn enqueue(&self, _e: &super::Enqueue<'_>) -> Result<(), StoreError> {
        // Embedded mode queues responses in the journal.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelMemory;
    use crate::engine::{At, SessionState};
    use crate::gateway::InputCursor;

    fn record(consumed: &str) -> SessionRecord {
        SessionRecord {
            flow_id: "f".into(),
            flow_version: 1,
            response_id: uuid::Uuid::nil(),
            respondent: "p".into(),
            network: None,
            started_at_ms: 0,
            address: crate::session::address_tag("*1#"),
            cursor: InputCursor::of(consumed),
            channel: ChannelMemory::Ussd { page: 0 },
            reason: None,
            state: SessionState {
                lang: 0,
                at: At::Language,
                attempts: 0,
                history: vec![],
                answers: vec![],
                receipt: String::new(),
            },
            gateway: "g".into(),
            last_hop_ms: 0,
        }
    }

    fn key(id: &str) -> SessionKey {
        SessionKey {
            respondent: "p".into(),
            gateway: "g".into(),
            session_id: id.into(),
        }
    }

    fn store(cap: usize) -> MemoryStore {
        MemoryStore::new(cap, Duration::from_secs(3600))
    }

    #[tokio::test]
    async fn compare_and_set_refuses_a_stale_version() {
        let (store, ttl) = (store(10), Duration::from_secs(60));
        let k = key("k");
        assert_eq!(
            store
                .save(
                    &k,
                    &record("1"),
                    0,
                    ttl,
                    ResumeWrite::Untouched,
                    None,
                    Ownership::hold(1)
                )
                .await
                .unwrap(),
            Saved::Stored
        );
        // A second hop that loaded "no session" loses.
        assert_eq!(
            store
                .save(
                    &k,
                    &record("2"),
                    0,
                    ttl,
                    ResumeWrite::Untouched,
                    None,
                    Ownership::hold(1)
                )
                .await
                .unwrap(),
            Saved::Conflict
        );
        let v = store.load(&k, true).await.unwrap().unwrap();
        assert_eq!((v.version, v.record.cursor), (1, InputCursor::of("1")));
        assert_eq!(
            store
                .save(
                    &k,
                    &record("1*2"),
                    1,
                    ttl,
                    ResumeWrite::Untouched,
                    None,
                    Ownership::hold(1)
                )
                .await
                .unwrap(),
            Saved::Stored
        );
        assert_eq!(
            store
                .save(
                    &k,
                    &record("1*3"),
                    1,
                    ttl,
                    ResumeWrite::Untouched,
                    None,
                    Ownership::hold(1)
                )
                .await
                .unwrap(),
            Saved::Conflict
        );
        assert_eq!(store.load(&k, false).await.unwrap().unwrap().version, 2);
    }

    #[tokio::test]
    async fn expired_sessions_are_gone_and_swept() {
        let short = Duration::from_millis(1);
        let (store, ttl) = (store(10), short);
        store
            .save(
                &key("old"),
                &record(""),
                0,
                ttl,
                ResumeWrite::Untouched,
                None,
                Ownership::hold(1),
            )
            .await
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert!(store.load(&key("old"), true).await.unwrap().is_none());
        // An expired session counts as absent for compare-and-set too.
        assert_eq!(
            store
                .save(
                    &key("old"),
                    &record("x"),
                    0,
                    ttl,
                    ResumeWrite::Untouched,
                    None,
                    Ownership::hold(1),
                )
                .await
                .unwrap(),
            Saved::Stored
        );
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(sweep(&store.shared, Instant::now()), 1);
        assert_eq!(store.len(), 0);
    }

    #[tokio::test]
    async fn memory_stays_bounded() {
        let (store, ttl) = (store(2), Duration::from_secs(60));
        store
            .save(
                &key("a"),
                &record(""),
                0,
                ttl,
                ResumeWrite::Untouched,
                None,
                Ownership::hold(1),
            )
            .await
            .unwrap();
        store
            .save(
                &key("b"),
                &record(""),
                0,
                ttl,
                ResumeWrite::Untouched,
                None,
                Ownership::hold(1),
            )
            .await
            .unwrap();
        assert!(matches!(
            store
                .save(
                    &key("c"),
                    &record(""),
                    0,
                    ttl,
                    ResumeWrite::Untouched,
                    None,
                    Ownership::hold(1)
                )
                .await,
            Err(StoreError::Full(2))
        ));
        // Existing sessions still move on.
        assert_eq!(
            store
                .save(
                    &key("a"),
                    &record("1"),
                    1,
                    ttl,
                    ResumeWrite::Untouched,
                    None,
                    Ownership::hold(1),
                )
                .await
                .unwrap(),
            Saved::Stored
        );
    }

    #[tokio::test]
    async fn the_resume_record_follows_the_saves() {
        let (store, ttl) = (store(10), Duration::from_secs(60));
        store
            .save(
                &key("a"),
                &record("1"),
                0,
                ttl,
                ResumeWrite::Keep,
                None,
                Ownership::hold(1),
            )
            .await
            .unwrap();
        assert_eq!(
            store.load_resume("p", "f").await.unwrap().unwrap().cursor,
            InputCursor::of("1")
        );
        assert!(store.load_resume("p", "other").await.unwrap().is_none());
        store
            .save(
                &key("a"),
                &record("1*2"),
                1,
                ttl,
                ResumeWrite::Clear,
                None,
                Ownership::hold(1),
            )
            .await
            .unwrap();
        assert!(store.load_resume("p", "f").await.unwrap().is_none());
    }
}
