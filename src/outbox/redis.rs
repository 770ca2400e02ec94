//! The outbox in Redis: one stream per sink (`<prefix>:{outbox:<sink>}`, hash-tagged so that
//! the stream, its dead letters and its counters share a Cluster slot), read by the consumer
//! group `sauti`; entries a dead worker left pending are reclaimed with XAUTOCLAIM.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;
use std::time::Duration;

use redis::{Script, Value};

use super::{
    Admin, DeadLetter, Entry, Item, OutboxError, Queue, SinkStatus, StoppedWorker, now_rfc3339,
};
use crate::redis_conn::{RedisConn, connect, within};
use crate::response::ResponseHead;

pub fn stream_key(prefix: &str, sink: &str) -> String {
    format!("{prefix}:{{outbox:{sink}}}")
}

const GROUP: &str = "sauti";

/// KEYS: stream, stats. ARGV: entry ids.
static ACK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = redis.call('XACK', KEYS[1], 'sauti', unpack(ARGV))
redis.call('XDEL', KEYS[1], unpack(ARGV))
if n > 0 then redis.call('HINCRBY', KEYS[2], 'delivered', n) end
return n
",
    )
});

/// KEYS: stream, dead. ARGV: entry id, then the dead letter's fields.
static BURY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('XADD', KEYS[2], '*', 'id', ARGV[2], 'flow', ARGV[3], 'error', ARGV[4], 'attempts', ARGV[5], 'at', ARGV[6], 'body', ARGV[7])
redis.call('XACK', KEYS[1], 'sauti', ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
return 1
",
    )
});

/// KEYS: stream, dead. ARGV: dead entry id, response id, body.
static REPLAY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('XADD', KEYS[1], '*', 'id', ARGV[2], 'body', ARGV[3])
return redis.call('XDEL', KEYS[2], ARGV[1])
",
    )
});

pub struct RedisQueue {
    sink: String,
    stream: String,
    dead: String,
    stats: String,
    consumer: String,
    /// Commands with the usual deadline.
    conn: RedisConn,
    /// XREADGROUP BLOCK waits longer than any command deadline: its own connection.
    blocking: RedisConn,
    deadline: Duration,
    /// Pending entries idle this long belong to a dead worker and are taken over.
    reclaim_idle: Duration,
    /// Where reading this consumer's own pending entries (left by its previous run) has got
    /// to; `None` once all were taken back. Read once, page by page: re-reading them from
    /// the start would hand out entries still in flight a second time.
    own_pending_after: std::sync::Mutex<Option<String>>,
    /// Entries handed to the worker and not yet acknowledged or buried: never handed out
    /// twice, whatever XAUTOCLAIM or a re-read returns.
    held: std::sync::Mutex<HashSet<String>>,
    /// Whether the consumer group is known to exist (checked again after a NOGROUP error, e.g.
    /// when Redis restarted without its data).
    group_ready: std::sync::atomic::AtomicBool,
    reclaim: std::sync::Mutex<ReclaimScan>,
}

/// XAUTOCLAIM's walk through the group's pending entries: continued at once while it finds
/// any (a dead consumer's entries are taken over as fast as they are delivered), started
/// again every [`RECLAIM_EVERY`] once it reached the end.
struct ReclaimScan {
    cursor: String,
    next_walk: Option<std::time::Instant>,
}

impl ReclaimScan {
    fn due(&self) -> bool {
        self.next_walk
            .is_none_or(|at| std::time::Instant::now() >= at)
    }

    fn walking(&self) -> bool {
        self.cursor != "0-0"
    }

    /// After a call that returned `cursor` and claimed `claimed` entries.
    fn advanced(&mut self, cursor: String, claimed: usize) {
        let finished = cursor == "0-0" && claimed == 0;
        self.cursor = cursor;
        self.next_walk = finished.then(|| std::time::Instant::now() + RECLAIM_EVERY);
    }
}

/// How often the pending entries are looked through for ones a dead worker left behind,
/// when the last walk found none.
const RECLAIM_EVERY: Duration = Duration::from_secs(5);

fn fail(e: impl std::fmt::Display) -> OutboxError {
    OutboxError::Redis(e.to_string())
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        Value::Int(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    bytes(v).and_then(|b| String::from_utf8(b).ok())
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        _ => &[],
    }
}

/// `[[id, [k, v, ...]], ...]` into (id, fields).
fn stream_entries(v: &Value) -> Vec<(String, HashMap<String, Vec<u8>>)> {
    items(v)
        .iter()
        .filter_map(|e| {
            let parts = items(e);
            let id = text(parts.first()?)?;
            let kv = items(parts.get(1)?);
            let fields = kv
                .chunks(2)
                .filter_map(|c| Some((text(c.first()?)?, bytes(c.get(1)?)?)))
                .collect();
            Some((id, fields))
        })
        .collect()
}

/// When a stream entry was added: the milliseconds part of its id.
fn queued_at_ms(entry_id: &str) -> i64 {
    entry_id
        .split('-')
        .next()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(super::now_unix_ms)
}

fn int(v: &Value) -> u64 {
    match v {
        Value::Int(i) => (*i).max(0) as u64,
        other => text(other).and_then(|t| t.parse().ok()).unwrap_or(0),
    }
}

impl RedisQueue {
    /// `consumer` names this worker in the group; keep it stable across restarts (host and
    /// data directory) so that a restarted process resumes what it held at once.
    pub async fn connect(
        url: &str,
        prefix: &str,
        sink: &str,
        consumer: &str,
        deadline: Duration,
        reclaim_idle: Duration,
    ) -> Result<RedisQueue, OutboxError> {
        let stream = stream_key(prefix, sink);
        let connect_timeout = Duration::from_secs(2);
        let q = RedisQueue {
            sink: sink.to_owned(),
            dead: format!("{stream}:dead"),
            stats: format!("{stream}:stats"),
            stream,
            consumer: consumer.to_owned(),
            conn: connect(url, connect_timeout, Some(deadline))
                .await
                .map_err(fail)?,
            blocking: connect(url, connect_timeout, None).await.map_err(fail)?,
            deadline,
            reclaim_idle,
            own_pending_after: std::sync::Mutex::new(Some("0".to_owned())),
            held: std::sync::Mutex::new(HashSet::new()),
            group_ready: std::sync::atomic::AtomicBool::new(false),
            reclaim: std::sync::Mutex::new(ReclaimScan {
                cursor: "0-0".to_owned(),
                next_walk: None,
            }),
        };
        Ok(q)
    }

    /// Creates the consumer group (and the stream) if needed; an existing group is fine.
    pub async fn ensure_group(&self) -> Result<(), OutboxError> {
        let mut cmd = redis::cmd("XGROUP");
        cmd.arg("CREATE")
            .arg(&self.stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM");
        match within(self.deadline, self.conn.query::<Value>(&cmd)).await {
            Ok(_) => Ok(()),
            Err(e) if e.0.contains("BUSYGROUP") => Ok(()),
            Err(e) => Err(fail(e)),
        }
    }

    async fn run(&self, cmd: &redis::Cmd) -> Result<Value, OutboxError> {
        within(self.deadline, self.conn.query::<Value>(cmd))
            .await
            .map_err(fail)
    }

    fn entries(
        &self,
        raw: Vec<(String, HashMap<String, Vec<u8>>)>,
        bad: &mut Vec<String>,
    ) -> Vec<Entry> {
        let mut out = Vec::new();
        for (key, mut fields) in raw {
            // Only the head is parsed; the body is forwarded as it was queued.
            match fields
                .remove("body")
                .and_then(|b| ResponseHead::parse(&b).map(|head| (head, b)))
            {
                Some((item, body)) => out.push(Entry {
                    queued_at_ms: queued_at_ms(&key),
                    key,
                    item,
                    body,
                }),
                None => bad.push(key),
            }
        }
        out
    }

    /// Entries not already held by this process; the rest become held.
    fn take(&self, entries: Vec<Entry>) -> Vec<Entry> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .into_iter()
            .filter(|e| held.insert(e.key.clone()))
            .collect()
    }

    fn release(&self, keys: impl IntoIterator<Item = String>) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            held.remove(&key);
        }
    }

    /// The next page of what this consumer held when its previous run stopped.
    async fn own_pending(
        &self,
        max: usize,
        bad: &mut Vec<String>,
    ) -> Result<Vec<Entry>, OutboxError> {
        let after = self
            .own_pending_after
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some(after) = after else {
            return Ok(Vec::new());
        };
        let mut own = redis::cmd("XREADGROUP");
        own.arg("GROUP")
            .arg(GROUP)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(max)
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(&after);
        let reply = self.run(&own).await?;
        let raw: Vec<_> = items(&reply)
            .iter()
            .filter_map(|stream| items(stream).get(1))
            .flat_map(stream_entries)
            .collect();
        *self
            .own_pending_after
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = raw.last().map(|(id, _)| id.clone());
        Ok(self.entries(raw, bad))
    }

    /// Up to `max` entries idle longer than the reclaim time (a dead worker's), claimed.
    async fn reclaimed(
        &self,
        max: usize,
        bad: &mut Vec<String>,
    ) -> Result<Vec<Entry>, OutboxError> {
        let cursor = {
            let scan = self.reclaim.lock().unwrap_or_else(|p| p.into_inner());
            if !scan.due() {
                return Ok(Vec::new());
            }
            scan.cursor.clone()
        };
        let mut claim = redis::cmd("XAUTOCLAIM");
        claim
            .arg(&self.stream)
            .arg(GROUP)
            .arg(&self.consumer)
            .arg(self.reclaim_idle.as_millis() as u64)
            .arg(&cursor)
            .arg("COUNT")
            .arg(max);
        let claimed = self.run(&claim).await?;
        let parts = items(&claimed);
        let next = parts.first().and_then(text).unwrap_or_else(|| "0-0".into());
        let raw = stream_entries(parts.get(1).unwrap_or(&Value::Nil));
        self.reclaim
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .advanced(next, raw.len());
        if !raw.is_empty() {
            tracing::info!(sink = %self.sink, entries = raw.len(), "taking over responses a stopped worker held");
        }
        Ok(self.entries(raw, bad))
    }

    async fn read_batch(&self, max: usize, wait: Duration) -> Result<Vec<Entry>, OutboxError> {
        let mut bad = Vec::new();
        let mut batch = self.take(self.own_pending(max, &mut bad).await?);
        if batch.len() < max {
            let more = self.reclaimed(max - batch.len(), &mut bad).await?;
            batch.extend(self.take(more));
        }
        if batch.is_empty() {
            // While a walk through the pending entries goes on, new entries do not wait for it.
            let walking = self
                .reclaim
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .walking();
            let mut read = redis::cmd("XREADGROUP");
            read.arg("GROUP")
                .arg(GROUP)
                .arg(&self.consumer)
                .arg("COUNT")
                .arg(max);
            if !walking {
                read.arg("BLOCK").arg(wait.as_millis().max(1) as u64);
            }
            read.arg("STREAMS").arg(&self.stream).arg(">");
            let reply = within(
                wait + Duration::from_secs(5),
                self.blocking.query::<Value>(&read),
            )
            .await
            .map_err(fail)?;
            for stream in items(&reply) {
                let parts = items(stream);
                if let Some(entries) = parts.get(1) {
                    let fresh = self.entries(stream_entries(entries), &mut bad);
                    batch.extend(self.take(fresh));
                }
            }
        }
        for key in bad {
            tracing::error!(sink = %self.sink, entry = %key, "unreadable outbox entry moved to the dead letters");
            let mut inv = BURY.key(&self.stream);
            inv.key(&self.dead)
                .arg(&key)
                .arg("")
                .arg("")
                .arg("unreadable entry")
                .arg(0)
                .arg(now_rfc3339())
                .arg("");
            within(self.deadline, self.conn.invoke::<Value>(&inv))
                .await
                .map_err(fail)?;
        }
        Ok(batch)
    }
}

impl RedisQueue {
    /// What running consumers hold, and the consumers that stopped with entries pending
    /// (silent for longer than the reclaim time).
    async fn holders(&self) -> Result<(u64, Vec<StoppedWorker>), OutboxError> {
        let consumers = self
            .run(
                redis::cmd("XINFO")
                    .arg("CONSUMERS")
                    .arg(&self.stream)
                    .arg(GROUP),
            )
            .await?;
        let mut live = 0;
        let mut stopped = Vec::new();
        for consumer in items(&consumers) {
            let info = fields(consumer);
            let get = |k: &str| info.get(k).map_or(0, int);
            let (pending, idle_ms) = (get("pending"), get("idle"));
            if idle_ms <= self.reclaim_idle.as_millis() as u64 {
                live += pending;
            } else if pending > 0 {
                stopped.push(StoppedWorker {
                    name: info.get("name").and_then(text).unwrap_or_default(),
                    pending,
                    idle_secs: idle_ms / 1000,
                });
            }
        }
        Ok((live, stopped))
    }
}

/// A reply's field-value pairs (a RESP2 flat array or a RESP3 map).
fn fields(v: &Value) -> HashMap<String, Value> {
    match v {
        Value::Map(pairs) => pairs
            .iter()
            .filter_map(|(k, v)| Some((text(k)?, v.clone())))
            .collect(),
        other => items(other)
            .chunks(2)
            .filter_map(|c| Some((text(c.first()?)?, c.get(1)?.clone())))
            .collect(),
    }
}

impl Queue for RedisQueue {
    async fn next_batch(&self, max: usize, wait: Duration) -> Result<Vec<Entry>, OutboxError> {
        if !self.group_ready.load(std::sync::atomic::Ordering::Relaxed) {
            self.ensure_group().await?;
            self.group_ready
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let result = self.read_batch(max, wait).await;
        if let Err(OutboxError::Redis(e)) = &result
            && e.contains("NOGROUP")
        {
            self.group_ready
                .store(false, std::sync::atomic::Ordering::Relaxed);
        }
        result
    }

    async fn ack_many(&self, entries: &[Entry]) -> Result<(), OutboxError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut inv = ACK.key(&self.stream);
        inv.key(&self.stats);
        for e in entries {
            inv.arg(&e.key);
        }
        let acked = within(self.deadline, self.conn.invoke::<Value>(&inv)).await;
        // Released even if the acknowledgement failed: still pending, they come back (after
        // the reclaim time) and must not be skipped then.
        self.release(entries.iter().map(|e| e.key.clone()));
        acked.map_err(fail)?;
        Ok(())
    }

    async fn bury(&self, entry: &Entry, error: &str, attempts: u32) -> Result<(), OutboxError> {
        let mut inv = BURY.key(&self.stream);
        inv.key(&self.dead)
            .arg(&entry.key)
            .arg(&entry.item.id)
            .arg(&entry.item.flow)
            .arg(error)
            .arg(attempts)
            .arg(now_rfc3339())
            .arg(&entry.body);
        let buried = within(self.deadline, self.conn.invoke::<Value>(&inv)).await;
        self.release([entry.key.clone()]);
        buried.map_err(fail)?;
        Ok(())
    }

    async fn keep(&self, entries: &[Entry]) -> Result<(), OutboxError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("XCLAIM");
        cmd.arg(&self.stream).arg(GROUP).arg(&self.consumer).arg(0);
        for e in entries {
            cmd.arg(&e.key);
        }
        cmd.arg("JUSTID");
        self.run(&cmd).await.map(|_| ())
    }
}

impl Admin for RedisQueue {
    async fn status(&self) -> Result<SinkStatus, OutboxError> {
        self.ensure_group().await?;
        let queued = int(&self.run(redis::cmd("XLEN").arg(&self.stream)).await?);
        let (in_flight, stopped) = self.holders().await?;
        let delivered = int(&self
            .run(redis::cmd("HGET").arg(&self.stats).arg("delivered"))
            .await?);
        let dead = int(&self.run(redis::cmd("XLEN").arg(&self.dead)).await?);
        let first = self
            .run(
                redis::cmd("XRANGE")
                    .arg(&self.stream)
                    .arg("-")
                    .arg("+")
                    .arg("COUNT")
                    .arg(1),
            )
            .await?;
        let oldest_age_secs = stream_entries(&first).first().and_then(|(id, _)| {
            let ms: i64 = id.split('-').next()?.parse().ok()?;
            let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
            Some(((now as i64 - ms).max(0) / 1000) as u64)
        });
        Ok(SinkStatus {
            sink: self.sink.clone(),
            queued,
            in_flight: Some(in_flight),
            stopped,
            delivered,
            dead,
            oldest_age_secs,
        })
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, OutboxError> {
        let all = self
            .run(redis::cmd("XRANGE").arg(&self.dead).arg("-").arg("+"))
            .await?;
        Ok(stream_entries(&all)
            .into_iter()
            .map(|(_, f)| {
                let get = |k: &str| {
                    f.get(k)
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .unwrap_or_default()
                };
                DeadLetter {
                    id: get("id"),
                    flow: get("flow"),
                    error: get("error"),
                    attempts: get("attempts").parse().unwrap_or(0),
                    at: get("at"),
                }
            })
            .collect())
    }

    async fn replay(&self, id: Option<&str>) -> Result<usize, OutboxError> {
        self.ensure_group().await?;
        let all = self
            .run(redis::cmd("XRANGE").arg(&self.dead).arg("-").arg("+"))
            .await?;
        let mut n = 0;
        for (entry, fields) in stream_entries(&all) {
            let rid = fields
                .get("id")
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            let body = fields.get("body").cloned().unwrap_or_default();
            if id.is_some_and(|i| i != rid) || body.is_empty() {
                continue;
            }
            let mut inv = REPLAY.key(&self.stream);
            inv.key(&self.dead).arg(&entry).arg(&rid).arg(&body);
            within(self.deadline, self.conn.invoke::<Value>(&inv))
                .await
                .map_err(fail)?;
            n += 1;
        }
        if let (Some(i), 0) = (id, n) {
            return Err(OutboxError::NoSuchDeadLetter(i.to_owned()));
        }
        Ok(n)
    }
}
