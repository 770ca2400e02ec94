//! The outbox: completed surveys queued durably before the respondent sees `END`, then
//! delivered to each sink at least once (de-duplicable by response id), with dead letters.
//!
//! Embedded mode reads the fsynced `responses.jsonl` as the queue and keeps each sink's
//! progress in `outbox/<sink>.acks` and `outbox/<sink>.dead`; Redis mode uses one stream
//! per sink, consumed by a consumer group.

pub mod command;
pub mod compact;
pub mod disk;
pub mod health;
pub mod redis;
pub mod worker;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::response::ResponseHead;

pub use disk::DiskQueue;
pub use redis::RedisQueue;
pub use worker::run_worker;

/// What an outbox carries: a completed survey's response to a collector, or an SMS to a
/// respondent. Each is a JSON line (or stream entry) with an id unique to it.
pub trait Item: Clone + Send + Sync + 'static {
    fn parse(body: &[u8]) -> Option<Self>;
    /// Unique: the queue takes an id once, however many times it is queued.
    fn id(&self) -> &str;
    /// The flow it belongs to (a sink may take only some flows).
    fn flow(&self) -> &str;
    /// When it was queued or completed (unix ms), when it says.
    fn queued_at_ms(&self) -> Option<i64>;
}

impl Item for ResponseHead {
    fn parse(body: &[u8]) -> Option<ResponseHead> {
        serde_json::from_slice(body).ok()
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn flow(&self) -> &str {
        &self.flow
    }
    fn queued_at_ms(&self) -> Option<i64> {
        unix_ms(&self.completed_at)
    }
}

/// A queued item, as a worker sees it.
#[derive(Debug, Clone)]
pub struct Entry<P = ResponseHead> {
    /// Where the queue keeps it (a stream entry id, or the item's id on disk).
    pub key: String,
    pub item: P,
    /// The JSON exactly as queued (what webhooks sign and send).
    pub body: Vec<u8>,
    /// When it was queued (or replayed), in unix milliseconds: its retries stop
    /// `max_age_secs` after it.
    pub queued_at_ms: i64,
}

/// A response a sink refused for good (or after every attempt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: String,
    pub flow: String,
    pub error: String,
    pub attempts: u32,
    /// When it was moved to the dead letters (RFC 3339).
    pub at: String,
}

/// What `sauti outbox status` shows for one sink.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SinkStatus {
    pub sink: String,
    /// Waiting for delivery, including what workers hold (in flight or waiting to retry).
    pub queued: u64,
    /// Held by running workers: in flight or waiting for a retry. `None` where another
    /// process cannot see it (embedded mode: the serving process exports
    /// `sauti_outbox_in_flight` at `/metrics`).
    pub in_flight: Option<u64>,
    /// Redis mode: workers that stopped (silent longer than the reclaim time) with entries
    /// still pending, which a running worker takes over.
    pub stopped: Vec<StoppedWorker>,
    pub delivered: u64,
    pub dead: u64,
    /// Age of the oldest response still waiting, in seconds.
    pub oldest_age_secs: Option<u64>,
}

/// A consumer of the group that stopped with entries pending.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StoppedWorker {
    pub name: String,
    pub pending: u64,
    pub idle_secs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("outbox in Redis: {0}")]
    Redis(String),
    #[error("no dead letter with id `{0}`")]
    NoSuchDeadLetter(String),
}

/// One sink's queue.
pub trait Queue<P: Item = ResponseHead>: Send + Sync {
    /// Up to `max` responses to deliver: new ones, and ones a dead worker left behind.
    /// Waits up to `wait` when there are none.
    fn next_batch(
        &self,
        max: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Entry<P>>, OutboxError>> + Send;
    /// Delivered: never hand them out again (one write or round trip for all of them).
    fn ack_many(
        &self,
        entries: &[Entry<P>],
    ) -> impl Future<Output = Result<(), OutboxError>> + Send;
    /// Refused for good: into the dead letters.
    fn bury(
        &self,
        entry: &Entry<P>,
        error: &str,
        attempts: u32,
    ) -> impl Future<Output = Result<(), OutboxError>> + Send;
    /// Still being retried by this worker: keep other workers from reclaiming it.
    fn keep(&self, entries: &[Entry<P>]) -> impl Future<Output = Result<(), OutboxError>> + Send;
}

/// Operator views and actions, for `sauti outbox ...` (from any process).
pub trait Admin {
    fn status(&self) -> impl Future<Output = Result<SinkStatus, OutboxError>> + Send;
    fn dead_letters(&self) -> impl Future<Output = Result<Vec<DeadLetter>, OutboxError>>;
    /// Puts dead letters back in the queue (`None`: all of them); returns how many.
    fn replay(&self, id: Option<&str>) -> impl Future<Output = Result<usize, OutboxError>>;
}

pub fn now_rfc3339() -> String {
    crate::survey::rfc3339(time::OffsetDateTime::now_utc())
}

pub fn now_unix_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// An RFC 3339 time in unix milliseconds (`None` if it does not parse).
pub fn unix_ms(at: &str) -> Option<i64> {
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// Seconds since an RFC 3339 time (0 if it does not parse).
pub fn age_secs(at: &str) -> u64 {
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .map(|t| (time::OffsetDateTime::now_utc() - t).whole_seconds().max(0) as u64)
        .unwrap_or(0)
}
