//! The session store a process runs on, chosen at start: in memory (embedded) or Redis.
//! One enum rather than a trait object, so that the hot path stays statically dispatched.

use std::time::Duration;

use super::{
    Enqueue, MemoryStore, Ownership, RedisStore, ResumeWrite, Saved, SessionKey, SessionRecord,
    SessionStore, StoreError, Versioned,
};

/// The session stores Sauti can run on.
pub enum AnyStore {
    Memory(MemoryStore),
    Redis(RedisStore),
}

impl AnyStore {
    /// Whether the store holds the outbox too (Redis), so that a completed survey is queued
    /// by the save itself; in memory, the journal does that job.
    pub fn holds_outbox(&self) -> bool {
        matches!(self, AnyStore::Redis(_))
    }

    /// A hop's session and, when there is none, the resume record of `flow_id` (in one
    /// round trip with Redis).
    pub async fn load_opening(
        &self,
        key: &SessionKey,
        fresh: bool,
        flow_id: Option<&str>,
    ) -> Result<super::Opening, StoreError> {
        match self {
            AnyStore::Memory(s) => Ok(super::Opening {
                session: s.load(key, fresh).await?,
                resume: None,
            }),
            AnyStore::Redis(s) => s.load_opening(key, fresh, flow_id).await,
        }
    }

    /// On a Redis Cluster a response is queued before the save, not inside it.
    pub fn queues_apart(&self) -> bool {
        matches!(self, AnyStore::Redis(r) if r.is_cluster())
    }
}

impl SessionStore for AnyStore {
    async fn load(&self, key: &SessionKey, fresh: bool) -> Result<Option<Versioned>, StoreError> {
        match self {
            AnyStore::Memory(s) => s.load(key, fresh).await,
            AnyStore::Redis(s) => s.load(key, fresh).await,
        }
    }

    async fn save(
        &self,
        key: &SessionKey,
        record: &SessionRecord,
        expected: u64,
        ttl: Duration,
        resume: ResumeWrite,
        enqueue: Option<&Enqueue<'_>>,
        owner: Ownership,
    ) -> Result<Saved, StoreError> {
        match self {
            AnyStore::Memory(s) => {
                s.save(key, record, expected, ttl, resume, enqueue, owner)
                    .await
            }
            AnyStore::Redis(s) => {
                s.save(key, record, expected, ttl, resume, enqueue, owner)
                    .await
            }
        }
    }

    async fn reserve_completion(
        &self,
        respondent: &str,
        response_id: &uuid::Uuid,
        tag: u64,
    ) -> Result<bool, StoreError> {
        match self {
            AnyStore::Memory(s) => s.reserve_completion(respondent, response_id, tag).await,
            AnyStore::Redis(s) => s.reserve_completion(respondent, response_id, tag).await,
        }
    }

    async fn load_resume(
        &self,
        respondent: &str,
        flow_id: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        match self {
            AnyStore::Memory(s) => s.load_resume(respondent, flow_id).await,
            AnyStore::Redis(s) => s.load_resume(respondent, flow_id).await,
        }
    }

    async fn find_abandoned(&self, max: usize) -> Result<Vec<SessionRecord>, StoreError> {
        match self {
            AnyStore::Memory(s) => s.find_abandoned(max).await,
            AnyStore::Redis(s) => s.find_abandoned(max).await,
        }
    }

    async fn forget_abandoned(&self, record: &SessionRecord) -> Result<(), StoreError> {
        match self {
            AnyStore::Memory(s) => s.forget_abandoned(record).await,
            AnyStore::Redis(s) => s.forget_abandoned(record).await,
        }
    }

    async fn enqueue(&self, e: &Enqueue<'_>) -> Result<(), StoreError> {
        match self {
            AnyStore::Memory(s) => s.enqueue(e).await,
            AnyStore::Redis(s) => s.enqueue(e).await,
        }
    }

    async fn ready(&self) -> bool {
        match self {
            AnyStore::Memory(s) => s.ready().await,
            AnyStore::Redis(s) => s.ready().await,
        }
    }
}
