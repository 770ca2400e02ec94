//! The outbox in Redis: one stream per sink (`<prefix>:{outbox:<sink>}`, hash-tagged so that
//! the stream, its dead letters and its counters share a Cluster slot), read by the consumer
//! group `sauti`; entries a dead worker left pending are reclaimed with XAUTOCLAIM.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use redis::{Script, Value};

use super::{Admin, DeadLetter, Entry, OutboxError, Queue, SinkStatus, now_rfc3339, parse};
use crate::redis_conn::{RedisConn, connect, within};

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
    /// Whether this consumer's own pending entries (left by its previous run) were taken back.
    recovered: std::sync::atomic::AtomicBool,
    /// Whether the consumer group is known to exist (checked again after a NOGROUP error, e.g.
    /// when Redis restarted without its data).
    group_ready: std::sync::atomic::AtomicBool,
    /// When XAUTOCLAIM last ran: it scans the pending list, so not on every batch.
    last_reclaim: std::sync::Mutex<Option<std::time::Instant>>,
}

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
            recovered: std::sync::atomic::AtomicBool::new(false),
            last_reclaim: std::sync::Mutex::new(None),
            group_ready: std::sync::atomic::AtomicBool::new(false),
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
        for (key, fields) in raw {
            match fields
                .get("body")
                .and_then(|b| parse(b).map(|r| (r, b.clone())))
            {
                Some((response, body)) => out.push(Entry {
                    key,
                    response,
                    body,
                }),
                None => bad.push(key),
            }
        }
        out
    }

    async fn read_batch(&self, max: usize, wait: Duration) -> Result<Vec<Entry>, OutboxError> {
        let mut bad = Vec::new();
        // First, what dead workers left behind (looked for every few seconds).
        let reclaim_due = {
            let mut last = self.last_reclaim.lock().unwrap_or_else(|p| p.into_inner());
            let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(5));
            if due {
                *last = Some(std::time::Instant::now());
            }
            due
        };
        let mut batch = Vec::new();
        if reclaim_due {
            let mut claim = redis::cmd("XAUTOCLAIM");
            claim
                .arg(&self.stream)
                .arg(GROUP)
                .arg(&self.consumer)
                .arg(self.reclaim_idle.as_millis() as u64)
                .arg("0-0")
                .arg("COUNT")
                .arg(max);
            let claimed = self.run(&claim).await?;
            batch = self.entries(
                stream_entries(items(&claimed).get(1).unwrap_or(&Value::Nil)),
                &mut bad,
            );
        }
        if batch.is_empty() && !self.recovered.load(std::sync::atomic::Ordering::Relaxed) {
            // What this consumer held when its previous run stopped: deliver it again now.
            let mut own = redis::cmd("XREADGROUP");
            own.arg("GROUP")
                .arg(GROUP)
                .arg(&self.consumer)
                .arg("COUNT")
                .arg(max)
                .arg("STREAMS")
                .arg(&self.stream)
                .arg("0");
            let reply = self.run(&own).await?;
            for stream in items(&reply) {
                if let Some(entries) = items(stream).get(1) {
                    batch.extend(self.entries(stream_entries(entries), &mut bad));
                }
            }
            if batch.len() < max {
                self.recovered
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        if batch.is_empty() {
            let mut read = redis::cmd("XREADGROUP");
            read.arg("GROUP")
                .arg(GROUP)
                .arg(&self.consumer)
                .arg("COUNT")
                .arg(max)
                .arg("BLOCK")
                .arg(wait.as_millis().max(1) as u64)
                .arg("STREAMS")
                .arg(&self.stream)
                .arg(">");
            let reply = within(
                wait + Duration::from_secs(5),
                self.blocking.query::<Value>(&read),
            )
            .await
            .map_err(fail)?;
            for stream in items(&reply) {
                let parts = items(stream);
                if let Some(entries) = parts.get(1) {
                    batch.extend(self.entries(stream_entries(entries), &mut bad));
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
        within(self.deadline, self.conn.invoke::<Value>(&inv))
            .await
            .map_err(fail)?;
        Ok(())
    }

    async fn bury(&self, entry: &Entry, error: &str, attempts: u32) -> Result<(), OutboxError> {
        let mut inv = BURY.key(&self.stream);
        inv.key(&self.dead)
            .arg(&entry.key)
            .arg(&entry.response.id)
            .arg(&entry.response.flow)
            .arg(error)
            .arg(attempts)
            .arg(now_rfc3339())
            .arg(&entry.body);
        within(self.deadline, self.conn.invoke::<Value>(&inv))
            .await
            .map_err(fail)?;
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
        let pending = self
            .run(redis::cmd("XPENDING").arg(&self.stream).arg(GROUP))
            .await?;
        let in_flight = items(&pending).first().map_or(0, int);
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
            in_flight,
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
