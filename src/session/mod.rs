//! Live sessions: what is kept between two hops, behind one [`SessionStore`] trait with an
//! in-memory implementation (embedded default) and, in production, Redis.

pub mod any;
pub mod codec;
pub mod locks;
pub mod memory;
pub mod redis;

use std::time::Duration;

use crate::channel::ChannelMemory;
use crate::engine::SessionState;
use crate::gateway::InputCursor;
use crate::question::Invalid;

pub use any::AnyStore;
pub use locks::SessionLocks;
pub use memory::MemoryStore;
pub use redis::{RedisConfig, RedisStore};

/// Everything kept about a live session between two hops.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub flow_id: String,
    /// The flow version the session started on (pinned until it ends).
    pub flow_version: u32,
    /// Chosen when the session starts, so that a completion written twice (a crash between
    /// the write and the save, or a race) carries the same id and can be de-duplicated.
    pub response_id: uuid::Uuid,
    /// Keyed pseudonym of the phone number (never the number).
    pub respondent: String,
    pub network: Option<String>,
    /// Unix milliseconds.
    pub started_at_ms: i64,
    /// The address the session started on (a USSD service code), as [`address_tag`]: the
    /// session stays bound to it. 0: not bound yet (a record from before format 2).
    pub address: u64,
    /// What the gateway's input has consumed so far (Africa's Talking: the cumulative `text`),
    /// to tell a new input from a retry.
    pub cursor: InputCursor,
    /// The channel's own part of the session (USSD: the page shown).
    pub channel: ChannelMemory,
    /// Why the last screen re-asked its question, so that a retried hop gets the very same
    /// screen (re-rendered from the state: screens are not stored).
    pub reason: Option<Invalid>,
    pub state: SessionState,
    /// The gateway instance of the last hop ("-" in records from before format 3): what a
    /// partial response reports as its gateway.
    pub gateway: String,
    /// Unix milliseconds of the last hop: when a survey abandoned for good was last answered.
    pub last_hop_ms: i64,
}

impl SessionRecord {
    /// The record of a survey that starts now on `key`'s session: `state` as the engine
    /// opened it, no input consumed yet. Callers set what is theirs (the network, a cursor).
    pub fn opened(
        flow: &crate::flow::CompiledFlow,
        response_id: uuid::Uuid,
        key: &SessionKey,
        address: &str,
        channel: ChannelMemory,
        state: SessionState,
        now_ms: i64,
    ) -> SessionRecord {
        SessionRecord {
            flow_id: flow.id.clone(),
            flow_version: flow.version,
            response_id,
            respondent: key.respondent.clone(),
            network: None,
            started_at_ms: now_ms,
            address: address_tag(address),
            cursor: InputCursor::START,
            channel,
            reason: None,
            state,
            gateway: key.gateway.clone(),
            last_hop_ms: now_ms,
        }
    }
}

/// A record with the version it was stored under (for compare-and-set).
#[derive(Debug, Clone)]
pub struct Versioned {
    pub record: SessionRecord,
    pub version: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    #[error("session store full ({0} live sessions)")]
    Full(usize),
    #[error(transparent)]
    Corrupt(#[from] codec::DecodeError),
}

/// Identifies a live session. The respondent's pseudonym comes first so that a session
/// and its resume record share a Redis Cluster hash slot (one atomic script for both).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey {
    pub respondent: String,
    pub gateway: String,
    pub session_id: String,
}

impl SessionKey {
    /// The tag a session is known by as the owner of a survey (its gateway and session id).
    pub fn owner_tag(&self) -> u64 {
        let mut h = crate::hash::Fnv::default();
        h.update(self.gateway.as_bytes())
            .update(&[0])
            .update(self.session_id.as_bytes());
        h.finish().max(1)
    }

    /// The shortened pseudonym used in keys (128 bits are plenty to tell respondents apart).
    pub fn tag(respondent: &str) -> &str {
        &respondent[..respondent.len().min(32)]
    }
}

/// What a save does to the respondent's resume record for this flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeWrite {
    /// Keep this record as the place to resume from (an unfinished survey).
    Keep,
    /// The survey is complete (or restarted): nothing to resume.
    Clear,
    /// Leave it as it is.
    Untouched,
}

/// What a hop finds when it opens: its session, and when there is none, the resume record
/// of the flow it dialled if the store read it in the same step (`None`: not read).
#[derive(Debug, Clone)]
pub struct Opening {
    pub session: Option<Versioned>,
    pub resume: Option<Option<SessionRecord>>,
}

/// A completed survey to queue for delivery in the same step as the save (Redis mode: the
/// stream entries are added by the save script itself, only if the save wins).
#[derive(Debug, Clone, Copy)]
pub struct Enqueue<'a> {
    pub response_id: &'a str,
    pub body: &'a [u8],
    /// Names of the sinks that take this flow's responses.
    pub sinks: &'a [String],
}

/// The outcome of a compare-and-set save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    Stored,
    /// Another hop saved first; the next load sees its record.
    Conflict,
    /// The survey belongs to another session now (the respondent resumed it elsewhere), or was
    /// completed: nothing was written.
    Superseded,
}

/// One survey, one owner: what a save does to the ownership of its response id.
///
/// A survey is held by the session that works on it. A session opened from a resume record
/// takes the survey over (the session it came from is superseded: its next save is refused);
/// a completion marks the survey done, so that no other session can complete it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ownership {
    /// The saving session's tag ([`SessionKey::owner_tag`]).
    pub tag: u64,
    pub claim: Claim,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Saves only while no other session took the survey over.
    Hold,
    /// Takes the survey over (the first save of a session resumed from a resume record),
    /// unless it was completed.
    TakeOver,
    /// Holds it, and marks it done (the completing save).
    Complete,
}

impl Ownership {
    pub fn hold(tag: u64) -> Ownership {
        Ownership {
            tag,
            claim: Claim::Hold,
        }
    }
}

/// Who holds a survey, as stored: a session, or the session that completed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Session(u64),
    Done(u64),
}

impl Owner {
    /// Whether a save by `me` with `claim` may proceed when the survey is held as `self`
    /// (`None`: nobody claimed it), and what it is held as afterwards.
    pub fn after(current: Option<Owner>, me: u64, claim: Claim) -> Option<Option<Owner>> {
        match (current, claim) {
            // Done by another session: nobody else writes to it again.
            (Some(Owner::Done(t)), _) if t != me => None,
            (Some(Owner::Done(_)), _) => Some(current),
            (_, Claim::TakeOver) => Some(Some(Owner::Session(me))),
            (Some(Owner::Session(t)), _) if t != me => None,
            (_, Claim::Complete) => Some(Some(Owner::Done(me))),
            (_, Claim::Hold) => Some(current),
        }
    }
}

/// Where sessions live between hops: the in-memory store (embedded default) or Redis.
pub trait SessionStore: Send + Sync {
    /// The live record of a session. `fresh` asks for the authoritative copy, bypassing
    /// any local cache (needed before a side effect such as recording a response).
    fn load(
        &self,
        key: &SessionKey,
        fresh: bool,
    ) -> impl Future<Output = Result<Option<Versioned>, StoreError>> + Send;

    /// Stores `record` if the stored version is still `expected` (0: no live record), to live
    /// `ttl` without a hop (the gateway's channel decides it), and updates the resume record of (respondent, flow) in the same step.
    /// `enqueue` is for stores that hold the outbox too (Redis); the in-memory store ignores
    /// it: embedded mode queues a response in the journal before saving.
    /// `owner`: what the save does to the ownership of the survey (refused with
    /// [`Saved::Superseded`] when another session holds it or completed it).
    #[allow(clippy::too_many_arguments)]
    fn save(
        &self,
        key: &SessionKey,
        record: &SessionRecord,
        expected: u64,
        ttl: Duration,
        resume: ResumeWrite,
        enqueue: Option<&Enqueue<'_>>,
        owner: Ownership,
    ) -> impl Future<Output = Result<Saved, StoreError>> + Send;

    /// Marks the survey `response_id` of `respondent` done by `tag` before its response is
    /// made durable outside the save (the journal, a Cluster's outbox); `false` when another
    /// session holds it or completed it (nothing is marked).
    fn reserve_completion(
        &self,
        respondent: &str,
        response_id: &uuid::Uuid,
        tag: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The unfinished survey a respondent may resume, if any.
    fn load_resume(
        &self,
        respondent: &str,
        flow_id: &str,
    ) -> impl Future<Output = Result<Option<SessionRecord>, StoreError>> + Send;

    /// Whether the store can serve hops now (for `/readyz`).
    fn ready(&self) -> impl Future<Output = bool> + Send;

    /// Up to `max` resume records whose resume window has passed: surveys left unfinished
    /// for good, to be delivered as partial responses. They stay in the store until
    /// [`SessionStore::forget_abandoned`]: a sweep that fails or stops half-way loses none.
    fn find_abandoned(
        &self,
        max: usize,
    ) -> impl Future<Output = Result<Vec<SessionRecord>, StoreError>> + Send;

    /// Removes an abandoned survey's record once its partial response is queued (only that
    /// record: a newer one of the same respondent and flow stays).
    fn forget_abandoned(
        &self,
        record: &SessionRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Queues a response outside a hop (partials). Only stores that hold the outbox do it.
    fn enqueue(&self, e: &Enqueue<'_>) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// How long a resume record is kept after its resume window, so that the sweeper still finds
/// it to deliver it as a partial response.
pub const ABANDONED_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

/// The tag a session keeps of its address: a stable hash, so that the record stays small and
/// copying it allocates nothing. Never 0 (0 means "not bound").
pub fn address_tag(address: &str) -> u64 {
    crate::hash::fnv1a(address.as_bytes()).max(1)
}
