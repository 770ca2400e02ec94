//! Live USSD sessions: what is kept between two hops, behind one [`SessionStore`] trait
//! with an in-memory implementation (embedded default) and, in production, Redis.

pub mod memory;

use std::time::Duration;

use crate::engine::{Screen, SessionState};

pub use memory::MemoryStore;

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
    /// The gateway's cumulative input already consumed (Africa's Talking `text`).
    pub consumed: String,
    /// The last screen sent, returned again when the gateway retries a hop.
    pub screen: Screen,
    pub state: SessionState,
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
}

/// Where sessions live between hops.
pub trait SessionStore: Send + Sync {
    /// The live (unexpired) record of a session, if any.
    fn load(&self, key: &str)
    -> impl Future<Output = Result<Option<Versioned>, StoreError>> + Send;

    /// Stores `record` if the stored version is still `expected` (0: no record), with a
    /// fresh TTL. `Ok(false)` when another hop saved first: reload and try again.
    fn save(
        &self,
        key: &str,
        record: &SessionRecord,
        expected: u64,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Whether the store can serve hops now (for `/readyz`).
    fn ready(&self) -> impl Future<Output = bool> + Send;
}
