//! Sessions in Redis (single node or Cluster), shared by every `sauti serve` process.
//!
//! Keys carry the respondent's pseudonym as hash tag, so a session and its resume record
//! live in one Cluster slot: `<prefix>:{<pseudonym>}:s:<gateway>:<session-id>` (a hash
//! `v` version, `d` compact record) and `<prefix>:{<pseudonym>}:r:<flow>` (the record to
//! resume). A save is one Lua script: compare-and-set on `v`, TTL, resume record. A local
//! near-cache of the last record saved by this process makes the common hop one round trip.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, FromRedisValue, RedisResult, Script};
use serde::Deserialize;

use super::{
    ResumeWrite, Saved, SessionKey, SessionRecord, SessionStore, StoreError, Versioned, codec,
};

/// `[redis]` in sauti.toml.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`, `rediss://` for TLS, or
    /// `redis+cluster://host1:port1,host2:port2` (`rediss+cluster://` with TLS).
    pub url: String,
    /// First part of every key, so that several deployments can share one Redis.
    pub key_prefix: String,
    /// Longest a hop may wait for Redis before the respondent is told to try later.
    pub deadline_ms: u64,
    /// Longest to open a connection.
    pub connect_timeout_ms: u64,
    /// Sessions this process remembers locally to save a round trip (0 disables it).
    pub near_cache_entries: usize,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: String::new(),
            key_prefix: "sauti".into(),
            deadline_ms: 300,
            connect_timeout_ms: 1000,
            near_cache_entries: 100_000,
        }
    }
}

/// KEYS: session, resume. ARGV: expected version, record, session TTL (ms),
/// resume mode (0 untouched, 1 keep, 2 clear), resume TTL (ms).
/// Returns {1, new version} or {0, current version, current record}.
static SAVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local cur = redis.call('HMGET', KEYS[1], 'v', 'd')
local v = tonumber(cur[1]) or 0
if v ~= tonumber(ARGV[1]) then
  return {0, v, cur[2] or ''}
end
redis.call('HSET', KEYS[1], 'v', v + 1, 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if ARGV[4] == '1' then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[5])
elseif ARGV[4] == '2' then
  redis.call('DEL', KEYS[2])
end
return {1, v + 1}
",
    )
});

#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Records this process saved last, by session (see the module doc).
struct NearCache {
    entries: Mutex<HashMap<SessionKey, (Versioned, Instant)>>,
    cap: usize,
    ttl: Duration,
}

impl NearCache {
    fn get(&self, key: &SessionKey) -> Option<Versioned> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(v, _)| v.clone())
    }

    fn put(&self, key: &SessionKey, v: Versioned) {
        if self.cap == 0 {
            return;
        }
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.cap && !map.contains_key(key) {
            let ttl = self.ttl;
            map.retain(|_, (_, at)| at.elapsed() < ttl);
            if map.len() >= self.cap {
                return;
            }
        }
        map.insert(key.clone(), (v, Instant::now()));
    }

    fn forget(&self, key: &SessionKey) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

pub struct RedisStore {
    connection: Connection,
    prefix: String,
    deadline: Duration,
    session_ttl: Duration,
    resume_window: Duration,
    near: NearCache,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl RedisStore {
    /// Connects (lazily for a single node: the process starts, and reports not ready,
    /// while Redis is down; a Cluster needs its nodes reachable at start).
    pub async fn connect(
        config: &RedisConfig,
        session_ttl: Duration,
        resume_window: Duration,
    ) -> Result<RedisStore, StoreError> {
        let deadline = Duration::from_millis(config.deadline_ms);
        let connect_timeout = Duration::from_millis(config.connect_timeout_ms);
        let url = config.url.trim();
        let connection = if let Some((scheme, rest)) = url
            .strip_prefix("redis+cluster://")
            .map(|r| ("redis", r))
            .or_else(|| url.strip_prefix("rediss+cluster://").map(|r| ("rediss", r)))
        {
            let (auth, hosts) = match rest.rsplit_once('@') {
                Some((auth, hosts)) => (format!("{auth}@"), hosts),
                None => (String::new(), rest),
            };
            let nodes: Vec<String> = hosts
                .trim_end_matches('/')
                .split(',')
                .filter(|h| !h.is_empty())
                .map(|h| format!("{scheme}://{auth}{h}"))
                .collect();
            let client = redis::cluster::ClusterClientBuilder::new(nodes)
                .connection_timeout(connect_timeout)
                .response_timeout(deadline)
                .retries(1)
                .build()
                .map_err(unavailable)?;
            Connection::Cluster(client.get_async_connection().await.map_err(unavailable)?)
        } else {
            let client = redis::Client::open(url).map_err(unavailable)?;
            let cfg = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(connect_timeout))
                .set_response_timeout(Some(deadline))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_millis(500));
            Connection::Single(
                client
                    .get_connection_manager_lazy(cfg)
                    .map_err(unavailable)?,
            )
        };
        let _ = AsyncConnectionConfig::new; // the connection manager config covers the timeouts
        Ok(RedisStore {
            connection,
            prefix: config.key_prefix.clone(),
            deadline,
            session_ttl,
            resume_window,
            near: NearCache {
                entries: Mutex::new(HashMap::new()),
                cap: config.near_cache_entries,
                ttl: session_ttl,
            },
        })
    }

    fn session_key(&self, key: &SessionKey) -> String {
        format!(
            "{}:{{{}}}:s:{}:{}",
            self.prefix,
            SessionKey::tag(&key.respondent),
            key.gateway,
            key.session_id
        )
    }

    fn resume_key(&self, respondent: &str, flow_id: &str) -> String {
        format!(
            "{}:{{{}}}:r:{}",
            self.prefix,
            SessionKey::tag(respondent),
            flow_id
        )
    }

    /// Runs a command within the hop deadline.
    async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StoreError> {
        let run = async {
            match self.connection.clone() {
                Connection::Single(mut c) => cmd.query_async::<T>(&mut c).await,
                Connection::Cluster(mut c) => cmd.query_async::<T>(&mut c).await,
            }
        };
        within(self.deadline, run).await
    }

    async fn save_script(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<redis::Value, StoreError> {
        let run = async {
            match self.connection.clone() {
                Connection::Single(mut c) => invocation.invoke_async::<redis::Value>(&mut c).await,
                Connection::Cluster(mut c) => invocation.invoke_async::<redis::Value>(&mut c).await,
            }
        };
        within(self.deadline, run).await
    }
}

async fn within<T>(
    deadline: Duration,
    f: impl Future<Output = RedisResult<T>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(deadline, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(unavailable(e)),
        Err(_) => Err(StoreError::Unavailable(format!(
            "no answer within {} ms",
            deadline.as_millis()
        ))),
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis().max(1) as u64
}

impl SessionStore for RedisStore {
    async fn load(&self, key: &SessionKey, fresh: bool) -> Result<Option<Versioned>, StoreError> {
        if !fresh && let Some(v) = self.near.get(key) {
            return Ok(Some(v));
        }
        let (version, data): (Option<u64>, Option<Vec<u8>>) = self
            .query(
                redis::cmd("HMGET")
                    .arg(self.session_key(key))
                    .arg("v")
                    .arg("d"),
            )
            .await?;
        match (version, data) {
            (Some(version), Some(data)) => {
                let v = Versioned {
                    record: codec::decode(&data)?,
                    version,
                };
                self.near.put(key, v.clone());
                Ok(Some(v))
            }
            _ => {
                self.near.forget(key);
                Ok(None)
            }
        }
    }

    async fn save(
        &self,
        key: &SessionKey,
        record: &SessionRecord,
        expected: u64,
        resume: ResumeWrite,
    ) -> Result<Saved, StoreError> {
        let data = codec::encode(record);
        let mode = match resume {
            ResumeWrite::Untouched => 0,
            ResumeWrite::Keep => 1,
            ResumeWrite::Clear => 2,
        };
        let mut invocation = SAVE.key(self.session_key(key));
        invocation
            .key(self.resume_key(&key.respondent, &record.flow_id))
            .arg(expected)
            .arg(&data)
            .arg(ms(self.session_ttl))
            .arg(mode)
            .arg(ms(self.resume_window));
        let reply = self.save_script(&invocation).await;
        let reply = match reply {
            Ok(r) => r,
            Err(e) => {
                // The save may or may not have happened: the next hop must ask Redis.
                self.near.forget(key);
                return Err(e);
            }
        };
        let items: Vec<redis::Value> =
            FromRedisValue::from_redis_value(reply).map_err(unavailable)?;
        let int = |v: Option<&redis::Value>| -> u64 {
            v.and_then(|v| u64::from_redis_value_ref(v).ok())
                .unwrap_or(0)
        };
        if int(items.first()) == 1 {
            self.near.put(
                key,
                Versioned {
                    record: record.clone(),
                    version: int(items.get(1)),
                },
            );
            return Ok(Saved::Stored);
        }
        // Lost the race: remember what won, so the retry computes from it without a reload.
        let current: Option<Vec<u8>> = items
            .get(2)
            .and_then(|v| Vec::<u8>::from_redis_value_ref(v).ok());
        match current.filter(|d| !d.is_empty()) {
            Some(d) => self.near.put(
                key,
                Versioned {
                    record: codec::decode(&d)?,
                    version: int(items.get(1)),
                },
            ),
            None => self.near.forget(key),
        }
        Ok(Saved::Conflict)
    }

    async fn load_resume(
        &self,
        respondent: &str,
        flow_id: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let data: Option<Vec<u8>> = self
            .query(redis::cmd("GET").arg(self.resume_key(respondent, flow_id)))
            .await?;
        match data {
            Some(d) => match codec::decode(&d) {
                Ok(r) => Ok(Some(r)),
                Err(e) => {
                    // An unreadable resume record only costs the respondent the offer.
                    tracing::warn!(error = %e, flow = flow_id, "ignoring an unreadable resume record");
                    Ok(None)
                }
            },
            None => Ok(None),
        }
    }

    async fn ready(&self) -> bool {
        self.query::<String>(&redis::cmd("PING")).await.is_ok()
    }
}
