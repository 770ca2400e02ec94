//! The embedded session store: maps in memory with a TTL per session (and per resume
//! record), swept in the background, and a cap so that memory stays bounded.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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

/// Shards of the store, each a lock over one respondent's share of every map: two hops
/// rarely meet on one, and a map growing by doubling rehashes a 64th of the sessions. With
/// one lock over maps of 100k sessions, a rehash or a sweep held every hop for milliseconds,
/// and a worker thread blocked on the lock held all its connections with it.
const SHARDS: usize = 64;

/// How often a full store may look for expired entries to make room.
const FULL_SWEEP_EVERY: Duration = Duration::from_secs(1);

/// One respondent's share of the maps: a session, its resume record and its owner all live
/// in the shard of the respondent, so that a save locks one shard.
#[derive(Default)]
struct Shard {
    sessions: HashMap<SessionKey, Entry>,
    /// Unfinished surveys by (respondent, flow).
    resumes: HashMap<(String, String), Entry>,
    /// Who holds a survey, by (respondent, response id), once a session took it over or
    /// completed it (see [`Ownership`]).
    owners: HashMap<(String, uuid::Uuid), (Owner, Instant)>,
}

fn live<'m, K: std::hash::Hash + Eq>(
    map: &'m HashMap<K, Entry>,
    key: &K,
    now: Instant,
) -> Option<&'m Entry> {
    map.get(key).filter(|e| e.expires > now)
}

impl Shard {
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

    /// Drops expired entries: (sessions, resume records) dropped.
    fn sweep(&mut self, now: Instant) -> (usize, usize) {
        self.owners.retain(|_, (_, expires)| *expires > now);
        let (sessions, resumes) = (self.sessions.len(), self.resumes.len());
        self.sessions.retain(|_, e| e.expires > now);
        self.resumes.retain(|_, e| e.expires > now);
        (sessions - self.sessions.len(), resumes - self.resumes.len())
    }
}

/// How many entries a map kind holds across the shards, against its cap.
struct Count {
    held: AtomicUsize,
    cap: usize,
}

impl Count {
    /// Takes a place for one more entry, if the cap allows.
    fn take(&self) -> bool {
        if self.held.fetch_add(1, Ordering::Relaxed) >= self.cap {
            self.held.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn give_back(&self, n: usize) {
        self.held.fetch_sub(n, Ordering::Relaxed);
    }

    fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }
}

struct Shared {
    /// Std mutexes: every critical section is a map operation that never awaits.
    shards: Box<[Mutex<Shard>]>,
    sessions: Count,
    resumes: Count,
    /// When a full store last looked for expired entries (ms since `epoch`, plus one; 0:
    /// never): at most once a second, so that a flood at the cap costs each refused session
    /// O(1), not a scan of every shard.
    swept_when_full: AtomicU64,
    epoch: Instant,
    resume_window: Duration,
}

impl Shared {
    fn shard(&self, respondent: &str) -> std::sync::MutexGuard<'_, Shard> {
        let i = (crate::hash::fnv1a(respondent.as_bytes()) as usize) % self.shards.len();
        // A panic while holding the lock cannot leave a map half-updated: recover it.
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sweeps every shard, one lock at a time; returns the sessions and resume records dropped.
    fn sweep(&self, now: Instant) -> usize {
        let mut dropped = 0;
        for shard in &self.shards {
            let (sessions, resumes) = shard.lock().unwrap_or_else(|p| p.into_inner()).sweep(now);
            self.sessions.give_back(sessions);
            self.resumes.give_back(resumes);
            dropped += sessions + resumes;
        }
        dropped
    }

    /// Whether a full store may sweep now (and, if so, that it is sweeping).
    fn full_sweep_due(&self, now: Instant) -> bool {
        let at = now.saturating_duration_since(self.epoch).as_millis() as u64 + 1;
        let last = self.swept_when_full.load(Ordering::Relaxed);
        let every = FULL_SWEEP_EVERY.as_millis() as u64;
        (last == 0 || at.saturating_sub(last) >= every)
            && self
                .swept_when_full
                .compare_exchange(last, at, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
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
        let count = |cap| Count {
            held: AtomicUsize::new(0),
            cap,
        };
        MemoryStore {
            shared: Arc::new(Shared {
                shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
                sessions: count(max_sessions),
                resumes: count(max_sessions),
                swept_when_full: AtomicU64::new(0),
                epoch: Instant::now(),
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
                shared.sweep(Instant::now());
            }
        });
    }

    /// Live sessions (expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.shared.sessions.held()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, respondent: &str) -> std::sync::MutexGuard<'_, Shard> {
        self.shared.shard(respondent)
    }

    /// One save under the respondent's shard lock; `Full` before anything changed when a new
    /// session finds the store full.
    #[allow(clippy::too_many_arguments)]
    fn save_once(
        &self,
        key: &SessionKey,
        record: &SessionRecord,
        expected: u64,
        ttl: Duration,
        resume: ResumeWrite,
        owner: Ownership,
        now: Instant,
    ) -> Result<Saved, StoreError> {
        let shared = &*self.shared;
        let mut shard = self.shard(&key.respondent);
        let current = live(&shard.sessions, key, now).map_or(0, |e| e.version);
        if current != expected {
            return Ok(Saved::Conflict);
        }
        let new = !shard.sessions.contains_key(key);
        if new && !shared.sessions.take() {
            return Err(StoreError::Full(shared.sessions.held()));
        }
        let keep = shared.resume_window + super::ABANDONED_GRACE;
        if !shard.own(&key.respondent, record.response_id, owner, now, keep) {
            if new {
                shared.sessions.give_back(1);
            }
            return Ok(Saved::Superseded);
        }
        let shared_record = Arc::new(record.clone());
        let entry = Entry {
            record: shared_record.clone(),
            version: expected + 1,
            expires: now + ttl,
        };
        shard.sessions.insert(key.clone(), entry);
        let resume_key = (key.respondent.clone(), record.flow_id.clone());
        match resume {
            ResumeWrite::Keep => {
                let entry = Entry {
                    record: shared_record,
                    version: 0,
                    expires: now + keep,
                };
                // A full resume map only costs the respondent the resume offer.
                let room = shard.resumes.contains_key(&resume_key) || shared.resumes.take();
                if room {
                    shard.resumes.insert(resume_key, entry);
                }
            }
            ResumeWrite::Clear => {
                if shard.resumes.remove(&resume_key).is_some() {
                    shared.resumes.give_back(1);
                }
            }
            ResumeWrite::Untouched => {}
        }
        Ok(Saved::Stored)
    }
}

impl SessionStore for MemoryStore {
    async fn load(&self, key: &SessionKey, _fresh: bool) -> Result<Option<Versioned>, StoreError> {
        let now = Instant::now();
        Ok(
            live(&self.shard(&key.respondent).sessions, key, now).map(|e| Versioned {
                record: SessionRecord::clone(&e.record),
                version: e.version,
            }),
        )
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
        match self.save_once(key, record, expected, ttl, resume, owner, now) {
            // Full: expired entries may make room (every shard is swept, no lock held here).
            Err(StoreError::Full(_)) if self.shared.full_sweep_due(now) => {
                self.shared.sweep(now);
                self.save_once(key, record, expected, ttl, resume, owner, now)
            }
            saved => saved,
        }
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
            .shard(respondent)
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
        Ok(live(&self.shard(respondent).resumes, &key, now)
            .filter(window_open)
            .map(|e| SessionRecord::clone(&e.record)))
    }

    async fn ready(&self) -> bool {
        true
    }

    async fn find_abandoned(&self, max: usize) -> Result<Vec<SessionRecord>, StoreError> {
        let now = Instant::now();
        let mut found = Vec::new();
        for shard in &self.shared.shards {
            if found.len() >= max {
                break;
            }
            let shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            found.extend(
                shard
                    .resumes
                    .values()
                    .filter(|e| e.expires <= now + super::ABANDONED_GRACE)
                    .take(max - found.len())
                    .map(|e| SessionRecord::clone(&e.record)),
            );
        }
        Ok(found)
    }

    async fn forget_abandoned(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let key = (record.respondent.clone(), record.flow_id.clone());
        let mut shard = self.shard(&record.respondent);
        if shard
            .resumes
            .get(&key)
            .is_some_and(|e| e.record.response_id == record.response_id)
        {
            shard.resumes.remove(&key);
            self.shared.resumes.give_back(1);
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
        assert_eq!(store.shared.sweep(Instant::now()), 1);
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

    /// Respondents spread over every shard: the cap counts them all, and a full store makes
    /// room from sessions expired in other shards than the new one's.
    #[tokio::test]
    async fn the_cap_holds_across_shards_and_a_full_store_sweeps_them_all() {
        let store = store(100);
        let respondent = |n: usize| SessionKey {
            respondent: format!("p{n}"),
            gateway: "g".into(),
            session_id: format!("s{n}"),
        };
        let save = |k: SessionKey, ttl: Duration| {
            let store = store.clone();
            async move {
                store
                    .save(
                        &k,
                        &record(""),
                        0,
                        ttl,
                        ResumeWrite::Keep,
                        None,
                        Ownership::hold(1),
                    )
                    .await
            }
        };
        // 60 short-lived sessions, then 40 that stay: the store is full.
        for n in 0..60 {
            assert_eq!(
                save(respondent(n), Duration::from_millis(1)).await.unwrap(),
                Saved::Stored
            );
        }
        for n in 60..100 {
            assert_eq!(
                save(respondent(n), Duration::from_secs(60)).await.unwrap(),
                Saved::Stored
            );
        }
        assert_eq!(store.len(), 100);
        std::thread::sleep(Duration::from_millis(5));
        // The 101st finds the store full, sweeps every shard once and gets a place.
        assert_eq!(
            save(respondent(100), Duration::from_secs(60))
                .await
                .unwrap(),
            Saved::Stored
        );
        assert_eq!(store.len(), 41);
        for n in 101..160 {
            assert_eq!(
                save(respondent(n), Duration::from_secs(60)).await.unwrap(),
                Saved::Stored
            );
        }
        assert!(matches!(
            save(respondent(160), Duration::from_secs(60)).await,
            Err(StoreError::Full(100))
        ));
        // Every session is where its respondent's shard keeps it.
        for n in 60..160 {
            assert!(
                store.load(&respondent(n), false).await.unwrap().is_some(),
                "{n}"
            );
        }
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
