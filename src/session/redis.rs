//! Sessions in Redis (single node or Cluster), shared by every `sauti serve` process.
//!
//! Keys carry the respondent's pseudonym as hash tag, so a session and its resume record
//! live in one Cluster slot: `<prefix>:{<pseudonym>}:s:<gateway>:<session-id>` (a string
//! `<version>:<compact record>`) and `<prefix>:{<pseudonym>}:r:<flow>` (the record to
//! resume). A save is one Lua script: compare-and-set on `v`, TTL, resume record. A local
//! near-cache of the last record saved by this process makes the common hop one round trip.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use redis::{FromRedisValue, Script};
use serde::Deserialize;

use super::{
    Claim, Enqueue, Ownership, ResumeWrite, Saved, SessionKey, SessionRecord, SessionStore,
    StoreError, Versioned, codec,
};
use crate::redis_conn::{RedisConn, within};

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

/// Takes or renews the partials sweep lock for `ARGV[1]` (a process): 1 if it is ours.
const SWEEP_LOCK: &str = "local v = redis.call('GET', KEYS[1]) \
    if v == false or v == ARGV[1] then \
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end \
    return 0";
const SWEEP_LOCK_MS: u64 = 60_000;

/// Deletes a resume record only while it is still past its resume window.
const FORGET_ABANDONED: &str = "local t = redis.call('PTTL', KEYS[1]) \
    if t >= 0 and t <= tonumber(ARGV[1]) then return redis.call('DEL', KEYS[1]) end \
    return 0";

/// KEYS: session, resume, the survey's owner, then the outbox streams of a completed survey.
/// ARGV: the expected version as the value starts with it (`<v>:`, empty for none), record,
/// session TTL (ms), resume mode (0 untouched, 1 keep, 2 clear), resume TTL (ms), response
/// id, response JSON, claim (0 hold, 1 take over, 2 complete), the saving session's owner
/// tag, owner TTL (ms), the resume record's header naming this session and the survey
/// (`#<n>:<session key><response id>`; empty unless the resume record is kept or the survey
/// taken over), the new version's prefix (`<v + 1>:`).
/// Every string the script writes is made by the client: a number formatted in Lua costs
/// a `printf` of a double, and the header a concatenation more (measured with callgrind,
/// BENCHMARKS.md).
/// The session is one string, `<version>:<record>` (`x<version>:<record>` once another
/// session took its survey over): one GET and one SET with its TTL. The resume record is
/// `#<n>:<the holding session's key><response id><record>`. A hop that only holds its survey
/// (every hop but a takeover and a completion) reads no owner key: a takeover marks the
/// session it takes over from instead. So the common hop is GET, SET, and SET of the resume
/// record after an answer.
/// Returns {1} (stored as version expected + 1), {0, current version, current value} when
/// another hop saved first, or {2} when another session holds or completed the survey. The
/// stream entries are added only when the save wins: a stale computation queues nothing.
static SAVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
local cur = redis.call('GET', KEYS[1])
local seen = ARGV[1]
if cur then
  if string.byte(cur, 1) == 120 then return {{2}} end
  if seen == '' or string.sub(cur, 1, #seen) ~= seen then
    return {{0, tonumber(string.match(cur, '^(%d+):')) or 0, cur}}
  end
elseif seen ~= '' then
  return {{0, 0, ''}}
end
local claim = ARGV[8]
local own, me_s, me_d
if claim ~= '0' then
{OWNER_CHECK}
end
if claim == '1' then
{TAKE_OVER}
end
redis.call('SET', KEYS[1], ARGV[12] .. ARGV[2], 'PX', ARGV[3])
if ARGV[4] == '1' then
  redis.call('SET', KEYS[2], ARGV[11] .. ARGV[2], 'PX', ARGV[5])
elseif ARGV[4] == '2' then
  redis.call('DEL', KEYS[2])
end
if claim ~= '0' then
{OWNER_WRITE}
end
for i = 4, #KEYS do
  redis.call('XADD', KEYS[i], '*', 'id', ARGV[6], 'body', ARGV[7])
end
return {{1}}
",
        OWNER_CHECK = owner_check(3, 8, 9),
        TAKE_OVER = TAKE_OVER,
        OWNER_WRITE = owner_write(3, 8, 10),
    ))
});

/// Lua, in [`SAVE`], for a session taking a survey over from its resume record: the session
/// the resume record names as the survey's holder (`#<n>:<its session key><response id>`) is
/// marked superseded (its value prefixed with `x`, its TTL kept), so that its next save is
/// refused without any save reading the owner key; and the resume record names this session
/// from now on, even before it writes a record of its own. Only when the resume record is of
/// this very survey (same response id, the end of `ARGV[11]`).
const TAKE_OVER: &str = r"
local r = redis.call('GET', KEYS[2])
if r and string.byte(r, 1) == 35 then
  local n, at = string.match(r, '^#(%d+):()')
  if n then
    local held = string.sub(r, at, at + tonumber(n) - 1)
    local body = at + tonumber(n) + 32
    if string.sub(r, body - 32, body - 1) == string.sub(ARGV[11], -32) then
      if held ~= KEYS[1] then
        local h = redis.call('GET', held)
        if h and string.byte(h, 1) ~= 120 then
          redis.call('SET', held, 'x' .. h, 'KEEPTTL')
        end
      end
      if ARGV[4] == '0' then
        redis.call('SET', KEYS[2], ARGV[11] .. string.sub(r, body), 'KEEPTTL')
      end
    end
  end
end";

/// Marks a survey done by a session before its response is queued apart from the save (a
/// Cluster). KEYS: the owner. ARGV: the owner tag, the owner TTL (ms). Returns 1, or 2 when
/// another session holds or completed it.
static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
local claim = '2'
local own, me_s, me_d
{OWNER_CHECK}
{OWNER_WRITE}
return 1
",
        OWNER_CHECK = owner_check(1, 0, 1)
            .replace("ARGV[0]", "claim")
            .replace("return {2}", "return 2"),
        OWNER_WRITE = owner_write(1, 0, 2).replace("ARGV[0]", "claim"),
    ))
});

/// Lua: returns {2} unless the session tagged `ARGV[tag]` may save under the claim
/// `ARGV[claim]` (see `Owner::after`): a survey done by another session, or held by another
/// session (unless taken over), is refused. Owners are `s:<tag>` (holding) or `d:<tag>` (done).
fn owner_check(key: usize, claim: usize, tag: usize) -> String {
    format!(
        r"
own = redis.call('GET', KEYS[{key}])
me_s = 's:' .. ARGV[{tag}]
me_d = 'd:' .. ARGV[{tag}]
if own and own ~= me_d then
  if string.sub(own, 1, 2) == 'd:' then return {{2}} end
  if ARGV[{claim}] ~= '1' and own ~= me_s then return {{2}} end
end"
    )
}

/// Lua: records the owner after a save that passed [`owner_check`].
fn owner_write(key: usize, claim: usize, ttl: usize) -> String {
    format!(
        r"
if own ~= me_d then
  if ARGV[{claim}] == '1' then
    redis.call('SET', KEYS[{key}], me_s, 'PX', ARGV[{ttl}])
  elseif ARGV[{claim}] == '2' then
    redis.call('SET', KEYS[{key}], me_d, 'PX', ARGV[{ttl}])
  end
end"
    )
}

/// Records this process saved last, by session (see the module doc), in shards: a shard
/// growing by doubling rehashes a few thousand entries, not a hundred thousand records behind
/// one lock every other hop waits on.
struct NearCache {
    shards: Box<[Mutex<NearEntries>]>,
    /// Entries per shard.
    cap: usize,
    ttl: Duration,
}

/// Shards of the near cache.
const NEAR_SHARDS: usize = 64;

#[derive(Default)]
struct NearEntries {
    map: HashMap<SessionKey, (Versioned, Instant)>,
    /// When a full cache may next be swept of its expired entries: at most a few times per
    /// TTL, so that a cache full of live sessions costs a lookup per hop, not a sweep.
    next_sweep: Option<Instant>,
}

impl NearCache {
    /// At most `entries` records (0: none) kept `ttl` at most, in `shards` shards.
    fn new(entries: usize, ttl: Duration, shards: usize) -> NearCache {
        let shards = shards.max(1);
        NearCache {
            shards: (0..shards).map(|_| Mutex::default()).collect(),
            cap: if entries == 0 {
                0
            } else {
                (entries / shards).max(1)
            },
            ttl,
        }
    }

    fn shard(&self, key: &SessionKey) -> std::sync::MutexGuard<'_, NearEntries> {
        let hash = crate::hash::fnv1a(key.session_id.as_bytes())
            ^ crate::hash::fnv1a(key.respondent.as_bytes());
        self.shards[(hash as usize) % self.shards.len()]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, key: &SessionKey) -> Option<Versioned> {
        let entries = self.shard(key);
        entries
            .map
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(v, _)| v.clone())
    }

    fn put(&self, key: &SessionKey, v: Versioned) {
        if self.cap == 0 {
            return;
        }
        let mut entries = self.shard(key);
        let now = Instant::now();
        if entries.map.len() >= self.cap && !entries.map.contains_key(key) {
            // Full: sweep the expired ones, but not on every hop (a sweep walks the whole
            // map). Until the next sweep, new sessions are not cached: their next hop reads
            // Redis, which is always right.
            if entries.next_sweep.is_some_and(|at| now < at) {
                return;
            }
            let ttl = self.ttl;
            entries.map.retain(|_, (_, at)| at.elapsed() < ttl);
            entries.next_sweep = Some(now + (ttl / 8).max(Duration::from_secs(1)));
            if entries.map.len() >= self.cap {
                return;
            }
        }
        entries.map.insert(key.clone(), (v, now));
    }

    fn forget(&self, key: &SessionKey) {
        self.shard(key).map.remove(key);
    }
}

pub struct RedisStore {
    connection: RedisConn,
    prefix: String,
    deadline: Duration,
    resume_window: Duration,
    near: NearCache,
    /// This process, as the holder of the partials sweep lock.
    sweeper: String,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl RedisStore {
    /// Connects (lazily for a single node: the process starts, and reports not ready,
    /// while Redis is down; a Cluster needs its nodes reachable at start). A copy of a
    /// record this process saved is trusted for `near_ttl` at most (a stale one costs a
    /// refused compare-and-set, never a wrong hop).
    pub async fn connect(
        config: &RedisConfig,
        near_ttl: Duration,
        resume_window: Duration,
    ) -> Result<RedisStore, StoreError> {
        let deadline = Duration::from_millis(config.deadline_ms);
        let connect_timeout = Duration::from_millis(config.connect_timeout_ms);
        let connection = crate::redis_conn::connect(&config.url, connect_timeout, Some(deadline))
            .await
            .map_err(unavailable)?;
        Ok(RedisStore {
            connection,
            prefix: config.key_prefix.clone(),
            deadline,
            resume_window,
            sweeper: uuid::Uuid::now_v7().simple().to_string(),
            near: NearCache::new(config.near_cache_entries, near_ttl, NEAR_SHARDS),
        })
    }

    /// On a Cluster the outbox streams are in other slots than the session: they are
    /// written just before the save, not inside it.
    pub fn is_cluster(&self) -> bool {
        self.connection.is_cluster()
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn session_key(&self, key: &SessionKey) -> String {
        self.key(&key.respondent, "s:", &[&key.gateway, ":", &key.session_id])
    }

    /// Who holds the survey `response_id` (in the respondent's hash slot, with its session).
    fn owner_key(&self, respondent: &str, response_id: &uuid::Uuid) -> String {
        let mut id = uuid::Uuid::encode_buffer();
        self.key(
            respondent,
            "o:",
            &[response_id.simple().encode_lower(&mut id)],
        )
    }

    fn resume_key(&self, respondent: &str, flow_id: &str) -> String {
        self.key(respondent, "r:", &[flow_id])
    }

    /// `<prefix>:{<tag>}:<kind><rest...>`, built without the formatting machinery: keys are
    /// made on every hop (a `format!` per key was a tenth of the hop's client-side work).
    fn key(&self, respondent: &str, kind: &str, rest: &[&str]) -> String {
        let tag = SessionKey::tag(respondent);
        let mut key = String::with_capacity(
            self.prefix.len()
                + tag.len()
                + 4
                + kind.len()
                + rest.iter().map(|r| r.len()).sum::<usize>(),
        );
        key.push_str(&self.prefix);
        key.push_str(":{");
        key.push_str(tag);
        key.push_str("}:");
        key.push_str(kind);
        for part in rest {
            key.push_str(part);
        }
        key
    }

    /// Runs a command within the hop deadline.
    async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StoreError> {
        within(self.deadline, self.connection.query(cmd))
            .await
            .map_err(unavailable)
    }
}

/// Splits a stored session value, `<version>:<record>`, or `x<version>:<record>` once
/// another session took its survey over (the save that follows is refused as superseded).
fn versioned(value: &[u8]) -> Result<(u64, &[u8]), StoreError> {
    let value = value.strip_prefix(b"x").unwrap_or(value);
    let colon = value
        .iter()
        .position(|&b| b == b':')
        .ok_or(codec::DecodeError("no version"))?;
    let version = std::str::from_utf8(&value[..colon])
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or(codec::DecodeError("bad version"))?;
    Ok((version, &value[colon + 1..]))
}

/// The record in a stored resume record: `#<n>:<holder's session key><response id><record>`
/// (see [`SAVE`]), or the bare record as written before the holder was named.
fn resume_record(value: &[u8]) -> Result<SessionRecord, codec::DecodeError> {
    let Some(rest) = value.strip_prefix(b"#") else {
        return codec::decode(value);
    };
    let colon = rest
        .iter()
        .position(|&b| b == b':')
        .ok_or(codec::DecodeError("no holder"))?;
    let held: usize = std::str::from_utf8(&rest[..colon])
        .ok()
        .and_then(|n| n.parse().ok())
        .ok_or(codec::DecodeError("bad holder"))?;
    // What Redis holds is not trusted to be sane: no arithmetic that can overflow on it.
    let start = held
        .checked_add(colon + 1 + 32)
        .ok_or(codec::DecodeError("bad holder"))?;
    let record = rest
        .get(start..)
        .ok_or(codec::DecodeError("short resume record"))?;
    codec::decode(record)
}

/// A resume record read with its PTTL, if it may still be offered.
fn resumable(data: Option<Vec<u8>>, pttl: i64, flow_id: &str) -> Option<SessionRecord> {
    // Past its resume window, the record only waits to be delivered as a partial.
    let data = data.filter(|_| pttl > super::ABANDONED_GRACE.as_millis() as i64)?;
    match resume_record(&data) {
        Ok(r) => Some(r),
        Err(e) => {
            // An unreadable resume record only costs the respondent the offer.
            tracing::warn!(error = %e, flow = flow_id, "ignoring an unreadable resume record");
            None
        }
    }
}

impl RedisStore {
    /// [`SessionStore::load`], and when there is no session and `flow_id` is given, the
    /// respondent's resume record of that flow read in the same round trip (one pipeline:
    /// both keys share the respondent's hash slot), so that a dial-in costs one round trip
    /// before its save, not two.
    pub async fn load_opening(
        &self,
        key: &SessionKey,
        fresh: bool,
        flow_id: Option<&str>,
    ) -> Result<super::Opening, StoreError> {
        let Some(flow_id) = flow_id else {
            return Ok(super::Opening {
                session: self.load(key, fresh).await?,
                resume: None,
            });
        };
        if !fresh && let Some(v) = self.near.get(key) {
            return Ok(super::Opening {
                session: Some(v),
                resume: None,
            });
        }
        let resume_key = self.resume_key(&key.respondent, flow_id);
        let mut pipe = redis::pipe();
        pipe.cmd("GET")
            .arg(self.session_key(key))
            .cmd("GET")
            .arg(&resume_key)
            .cmd("PTTL")
            .arg(&resume_key);
        let (value, data, pttl): (Option<Vec<u8>>, Option<Vec<u8>>, i64) =
            within(self.deadline, self.connection.query_pipe(&pipe))
                .await
                .map_err(unavailable)?;
        match value.as_deref().map(versioned).transpose()? {
            Some((version, bytes)) => {
                let v = Versioned {
                    record: codec::decode(bytes)?,
                    version,
                };
                self.near.put(key, v.clone());
                Ok(super::Opening {
                    session: Some(v),
                    resume: None,
                })
            }
            None => {
                self.near.forget(key);
                Ok(super::Opening {
                    session: None,
                    resume: Some(resumable(data, pttl, flow_id)),
                })
            }
        }
    }
}

/// `<version>:`, as a session value starts.
fn version_prefix(version: u64) -> String {
    let mut prefix = String::with_capacity(21);
    push_decimal(&mut prefix, version);
    prefix.push(':');
    prefix
}

fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).expect("ASCII digits"));
}

/// Lower-case hexadecimal without leading zeros, as `{:x}` writes it.
fn hex_u64(n: u64) -> String {
    let bytes = n.to_be_bytes();
    let hex = hex::encode(bytes);
    let start = hex.find(|c| c != '0').unwrap_or(hex.len() - 1);
    hex[start..].to_owned()
}

fn ms(d: Duration) -> u64 {
    d.as_millis().max(1) as u64
}

impl SessionStore for RedisStore {
    async fn load(&self, key: &SessionKey, fresh: bool) -> Result<Option<Versioned>, StoreError> {
        if !fresh && let Some(v) = self.near.get(key) {
            return Ok(Some(v));
        }
        let value: Option<Vec<u8>> = self
            .query(redis::cmd("GET").arg(self.session_key(key)))
            .await?;
        match value.as_deref().map(versioned).transpose()? {
            Some((version, data)) => {
                let v = Versioned {
                    record: codec::decode(data)?,
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
        ttl: Duration,
        resume: ResumeWrite,
        enqueue: Option<&Enqueue<'_>>,
        owner: Ownership,
    ) -> Result<Saved, StoreError> {
        let data = codec::encode(record);
        let streams: Vec<String> = enqueue
            .map(|e| {
                e.sinks
                    .iter()
                    .map(|s| crate::outbox::redis::stream_key(&self.prefix, s))
                    .collect()
            })
            .unwrap_or_default();
        if self.is_cluster()
            && let Some(e) = enqueue
        {
            // Queued before the save (at least once; a lost race leaves a copy with the same id).
            self.enqueue(e).await?;
        }
        let mode = match resume {
            ResumeWrite::Untouched => 0,
            ResumeWrite::Keep => 1,
            ResumeWrite::Clear => 2,
        };
        let session_key = self.session_key(key);
        // The resume record's header, for the saves that write it or take a survey over
        // (the script reads it nowhere else): not built nor sent on the other hops.
        let mut holder = String::new();
        if resume == ResumeWrite::Keep || owner.claim == Claim::TakeOver {
            let mut id = uuid::Uuid::encode_buffer();
            let id = record.response_id.simple().encode_lower(&mut id);
            holder.reserve(session_key.len() + id.len() + 8);
            holder.push('#');
            push_decimal(&mut holder, session_key.len() as u64);
            holder.push(':');
            holder.push_str(&session_key);
            holder.push_str(id);
        }
        let mut invocation = SAVE.key(&session_key);
        invocation
            .key(self.resume_key(&key.respondent, &record.flow_id))
            .key(self.owner_key(&key.respondent, &record.response_id))
            .arg(if expected == 0 {
                String::new()
            } else {
                version_prefix(expected)
            })
            .arg(&data)
            .arg(ms(ttl))
            .arg(mode)
            .arg(ms(self.resume_window + super::ABANDONED_GRACE));
        match enqueue {
            Some(e) if !self.is_cluster() => {
                for stream in &streams {
                    invocation.key(stream);
                }
                invocation.arg(e.response_id).arg(e.body);
            }
            _ => {
                invocation.arg("").arg("");
            }
        }
        let claim = match owner.claim {
            Claim::Hold => 0,
            Claim::TakeOver => 1,
            Claim::Complete => 2,
        };
        invocation
            .arg(claim)
            .arg(hex_u64(owner.tag))
            .arg(ms(self.resume_window + super::ABANDONED_GRACE))
            .arg(holder)
            .arg(version_prefix(expected + 1));
        let reply = within(
            self.deadline,
            self.connection.invoke::<redis::Value>(&invocation),
        )
        .await
        .map_err(unavailable);
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
        if int(items.first()) == 2 {
            self.near.forget(key);
            return Ok(Saved::Superseded);
        }
        if int(items.first()) == 1 {
            self.near.put(
                key,
                Versioned {
                    record: record.clone(),
                    version: expected + 1,
                },
            );
            return Ok(Saved::Stored);
        }
        // Lost the race: remember what won, so the retry computes from it without a reload.
        let current: Option<Vec<u8>> = items
            .get(2)
            .and_then(|v| Vec::<u8>::from_redis_value_ref(v).ok());
        match current.filter(|d| !d.is_empty()) {
            Some(d) => {
                let (version, data) = versioned(&d)?;
                self.near.put(
                    key,
                    Versioned {
                        record: codec::decode(data)?,
                        version,
                    },
                )
            }
            None => self.near.forget(key),
        }
        Ok(Saved::Conflict)
    }

    async fn reserve_completion(
        &self,
        respondent: &str,
        response_id: &uuid::Uuid,
        tag: u64,
    ) -> Result<bool, StoreError> {
        let mut invocation = RESERVE.key(self.owner_key(respondent, response_id));
        invocation
            .arg(hex_u64(tag))
            .arg(ms(self.resume_window + super::ABANDONED_GRACE));
        let reply: i64 = within(self.deadline, self.connection.invoke(&invocation))
            .await
            .map_err(unavailable)?;
        Ok(reply == 1)
    }

    async fn load_resume(
        &self,
        respondent: &str,
        flow_id: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let key = self.resume_key(respondent, flow_id);
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(&key).cmd("PTTL").arg(&key);
        let (data, pttl): (Option<Vec<u8>>, i64) =
            within(self.deadline, self.connection.query_pipe(&pipe))
                .await
                .map_err(unavailable)?;
        Ok(resumable(data, pttl, flow_id))
    }

    async fn find_abandoned(&self, max: usize) -> Result<Vec<SessionRecord>, StoreError> {
        // One sweeper at a time across processes: the lock is this process's until it lapses,
        // so its own next sweep goes on while another process's waits.
        let mut lock = redis::cmd("EVAL");
        lock.arg(SWEEP_LOCK)
            .arg(1)
            .arg(format!("{}:partials-sweep", self.prefix))
            .arg(&self.sweeper)
            .arg(SWEEP_LOCK_MS);
        if self.query::<i64>(&lock).await? == 0 {
            return Ok(Vec::new());
        }
        let pattern = format!("{}:{{*}}:r:*", self.prefix);
        let grace = super::ABANDONED_GRACE.as_millis() as i64;
        let mut found = Vec::new();
        let nodes = within(self.deadline, self.connection.nodes())
            .await
            .map_err(unavailable)?;
        // Every node to the end of its keys (a Cluster answers SCAN for one node only).
        'nodes: for node in &nodes {
            let mut cursor: u64 = 0;
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(500);
                let (next, keys): (u64, Vec<String>) =
                    within(self.deadline, self.connection.query_on(node, &scan))
                        .await
                        .map_err(unavailable)?;
                for key in keys {
                    let mut pipe = redis::pipe();
                    pipe.cmd("PTTL").arg(&key).cmd("GET").arg(&key);
                    let (pttl, data): (i64, Option<Vec<u8>>) =
                        within(self.deadline, self.connection.query_pipe(&pipe))
                            .await
                            .map_err(unavailable)?;
                    if pttl < 0 || pttl > grace {
                        continue;
                    }
                    match data.map(|d| resume_record(&d)) {
                        Some(Ok(record)) => found.push(record),
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "an unreadable abandoned survey is left to expire")
                        }
                        None => {}
                    }
                    if found.len() >= max {
                        break 'nodes;
                    }
                }
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
        }
        Ok(found)
    }

    async fn forget_abandoned(&self, record: &SessionRecord) -> Result<(), StoreError> {
        // Still past its resume window: the record that was found, not a newer one (a new
        // save would have given it a whole window again).
        let mut forget = redis::cmd("EVAL");
        forget
            .arg(FORGET_ABANDONED)
            .arg(1)
            .arg(self.resume_key(&record.respondent, &record.flow_id))
            .arg(super::ABANDONED_GRACE.as_millis() as u64);
        self.query::<i64>(&forget).await.map(|_| ())
    }

    async fn enqueue(&self, e: &Enqueue<'_>) -> Result<(), StoreError> {
        for sink in e.sinks {
            let mut cmd = redis::cmd("XADD");
            cmd.arg(crate::outbox::redis::stream_key(&self.prefix, sink))
                .arg("*")
                .arg("id")
                .arg(e.response_id)
                .arg("body")
                .arg(e.body);
            self.query::<String>(&cmd).await?;
        }
        Ok(())
    }

    async fn ready(&self) -> bool {
        self.query::<String>(&redis::cmd("PING")).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelMemory;
    use crate::engine::{At, SessionState};
    use crate::gateway::InputCursor;

    fn versioned() -> Versioned {
        Versioned {
            record: SessionRecord {
                flow_id: "f".into(),
                flow_version: 1,
                response_id: uuid::Uuid::nil(),
                respondent: "p".into(),
                network: None,
                started_at_ms: 0,
                address: 1,
                cursor: InputCursor::START,
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
            },
            version: 1,
        }
    }

    fn key(id: &str) -> SessionKey {
        SessionKey {
            respondent: "p".into(),
            gateway: "g".into(),
            session_id: id.into(),
        }
    }

    /// A resume record names its holder before the record; one written before the header
    /// existed is the bare record; a damaged header is an error, never a panic.
    #[test]
    fn resume_records_are_read_with_and_without_their_holder() {
        let bare = codec::encode(&versioned().record);
        let record = codec::decode(&bare).unwrap();
        assert_eq!(resume_record(&bare).unwrap(), record);
        let key = "sauti:{p}:s:g:ATUid_1";
        let mut headed = format!("#{}:{key}{}", key.len(), "0".repeat(32)).into_bytes();
        headed.extend_from_slice(&bare);
        assert_eq!(resume_record(&headed).unwrap(), record);
        for damaged in [
            &b"#"[..],
            b"#x:abc",
            b"#99:short",
            b"#18446744073709551615:a",
            b"#99999999999999999999999:a",
        ] {
            assert!(resume_record(damaged).is_err(), "{damaged:?}");
        }
    }

    #[test]
    fn hand_made_numbers_read_as_formatted_ones() {
        for n in [0u64, 1, 9, 10, 255, 4096, 123_456_789, u64::MAX] {
            assert_eq!(version_prefix(n), format!("{n}:"));
            assert_eq!(hex_u64(n), format!("{n:x}"));
        }
    }

    /// A cache full of live sessions is swept at most once in a while, not on every hop (a
    /// sweep walks the whole map); meanwhile new sessions are simply not cached.
    #[test]
    fn a_full_near_cache_is_swept_at_most_once_in_a_while() {
        let near = NearCache::new(2, Duration::from_millis(50), 1);
        near.put(&key("a"), versioned());
        near.put(&key("b"), versioned());
        std::thread::sleep(Duration::from_millis(60));
        // Full of expired entries: swept, and the new one cached.
        near.put(&key("c"), versioned());
        assert!(near.get(&key("c")).is_some());
        assert!(near.get(&key("a")).is_none());
        near.put(&key("d"), versioned());
        std::thread::sleep(Duration::from_millis(60));
        // Full again (expired, but the last sweep was just now): not swept, not cached.
        near.put(&key("e"), versioned());
        assert!(near.get(&key("e")).is_none());
        assert_eq!(near.shards[0].lock().unwrap().map.len(), 2);
    }
}
