//! limit-sauti: a bare hyper server that sends exactly Sauti's Redis traffic per hop, for the
//! benchmark breakdown (benches/compare.sh, BENCHMARKS.md); not a product.
//!
//! Per hop it does what `sauti serve` asks of Redis and nothing else: the same store
//! (`RedisStore`: near cache, load, resume lookup on dial-in, the save script with its keys,
//! record sizes, resume writes and owner), and on the last hop the same completion write
//! (the response queued on the sink's stream inside the save). The records are the real
//! engine's, computed once at start for the benchmark survey; no gateway decoding beyond the
//! three form fields, no engine, rendering, metrics, limits or logging on the hop.
//!
//! With `LIMIT_DELIVER=1` it also runs the delivery work of Sauti's default sink: the file
//! sink's worker reading the Redis stream and appending each response to a file, fsynced.
//! With `LIMIT_STORE=memory` it does what embedded mode does instead: sessions in Sauti's
//! `MemoryStore`, each completed response appended to Sauti's journal (group-committed
//! fsync) before the `END` is answered. With `LIMIT_STORE=cas` it sends the least any
//! design keeping a compare-and-set per hop could send to Redis 7.0 (no native
//! compare-and-set before 8.4): one key per respondent's survey holding `<version>:<record>`
//! (Sauti's record bytes), one script per hop that reads it, compares the version and writes
//! it with its TTL (plus the stream entry on the last hop), and on a dial-in one GET first.
//!
//!   cargo run --release --example limit_sauti            # 127.0.0.1:8093
//! Env: PORT, REDIS_URL (loopback), REDIS_KEY_PREFIX (default sauti-limit), LIMIT_DELIVER,
//!      LIMIT_STORE (redis, memory, cas), LIMIT_DATA_DIR (where the file sink or the journal
//!      writes; default a temporary directory).

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use sauti::channel::{ChannelMemory, ussd};
use sauti::engine::{self, HopContext};
use sauti::gateway::InputCursor;
use sauti::journal::Journal;
use sauti::pseudonym::Pseudonymizer;
use sauti::render::Budget;
use sauti::session::{
    AnyStore, Claim, Enqueue, MemoryStore, Ownership, RedisConfig, RedisStore, ResumeWrite,
    SessionKey, SessionRecord, SessionStore, Versioned, address_tag,
};

const GATEWAY: &str = "africastalking";
const SERVICE_CODE: &str = "*384*1#";
/// What the benchmark driver answers, hop by hop (the records' sizes follow from them).
const ANSWERS: [&str; 5] = ["1", "1", "3", "Nyumba imeungua karibu na soko", "12"];

/// One hop of the survey as the engine leaves it: the record to save and how.
struct Step {
    record: SessionRecord,
    resume: ResumeWrite,
    screen: Bytes,
}

struct Limit {
    store: AnyStore,
    /// `LIMIT_STORE=cas`: the minimal compare-and-set layout instead of Sauti's.
    cas: Option<Cas>,
    /// Embedded mode's outbox: completions appended before `END`.
    journal: Option<Journal>,
    pseudonyms: Pseudonymizer,
    steps: Vec<Step>,
    /// The response body of a completed survey (its real size) around its id, and the sinks
    /// it goes to (the file sink writes each id once: each completion carries its own).
    body: (Vec<u8>, Vec<u8>),
    sinks: Vec<String>,
    session_ttl: Duration,
}

/// The benchmark survey walked once through the real engine: the record after each hop.
fn steps(root: &Path) -> (Vec<Step>, (Vec<u8>, Vec<u8>)) {
    let (flows, problems) =
        sauti::flow::load_dir(&[root.join("benches/flows")], &root.join("benches/locales"));
    assert!(problems.is_empty(), "{problems:?}");
    let flow = flows.into_iter().next().expect("the benchmark flow");
    let ctx = HopContext {
        today: time::OffsetDateTime::now_utc().date(),
    };
    let now = time::OffsetDateTime::now_utc();
    let response_id = uuid::Uuid::now_v7();
    let start = engine::start(&flow, None, &sauti::response::receipt_of(&response_id));
    let mut record = SessionRecord {
        flow_id: flow.id.clone(),
        flow_version: flow.version,
        response_id,
        respondent: String::new(),
        network: Some("63001".into()),
        started_at_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
        address: address_tag(SERVICE_CODE),
        cursor: InputCursor::START,
        channel: ChannelMemory::Ussd { page: 0 },
        reason: None,
        state: start.state.clone(),
        gateway: GATEWAY.into(),
        last_hop_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
    };
    let budget = Budget::default();
    let mut steps = vec![Step {
        record: record.clone(),
        resume: sauti::survey::resume_write(&start),
        screen: Bytes::from(format!(
            "CON {}",
            ussd::UssdHop {
                hop: start,
                page: 0
            }
            .screen(&flow, budget)
            .text
        )),
    }];
    let mut text = String::new();
    for answer in ANSWERS {
        let turn = ussd::step(&flow, &record.state, None, 0, answer, &ctx, budget);
        if !text.is_empty() {
            text.push('*');
        }
        text.push_str(answer);
        let screen = turn.screen(&flow, budget);
        record.state = turn.hop.state.clone();
        record.cursor = InputCursor::of(&text);
        steps.push(Step {
            record: record.clone(),
            resume: sauti::survey::resume_write(&turn.hop),
            screen: Bytes::from(format!(
                "{} {}",
                if screen.end { "END" } else { "CON" },
                screen.text
            )),
        });
    }
    let response = sauti::recorder::response(&flow, GATEWAY, &record, now);
    let json = serde_json::to_string(&response).expect("JSON");
    let at = json.find(&response.id).expect("the id in the body");
    let body = (
        json.as_bytes()[..at].to_vec(),
        json.as_bytes()[at + response.id.len()..].to_vec(),
    );
    (steps, body)
}

/// The minimal layout a per-hop compare-and-set needs: one key per respondent's survey, one
/// script per hop (GET, compare, SET with TTL; XADD on completion).
struct Cas {
    connection: sauti::redis_conn::RedisConn,
    prefix: String,
    stream: String,
    /// The version each live session saved last (as Sauti's near cache: no read per hop).
    versions: Vec<std::sync::Mutex<std::collections::HashMap<String, u64>>>,
}

static CAS: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
local cur = redis.call('GET', KEYS[1])
local seen = ARGV[1]
if cur then
  if seen == '' or string.sub(cur, 1, #seen) ~= seen then return {0, 0} end
elseif seen ~= '' then return {0, 0} end
redis.call('SET', KEYS[1], ARGV[4] .. ARGV[2], 'PX', ARGV[3])
if #KEYS > 1 then redis.call('XADD', KEYS[2], '*', 'id', ARGV[5], 'body', ARGV[6]) end
return {1, 0}
",
    )
});

impl Cas {
    fn shard(
        &self,
        session_id: &str,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, u64>> {
        let i = sauti::hash::fnv1a(session_id.as_bytes()) as usize % self.versions.len();
        self.versions[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn hop(
        &self,
        key: &SessionKey,
        record: &[u8],
        ttl: Duration,
        completion: Option<(&str, &[u8])>,
    ) -> Result<(), String> {
        let survey = format!(
            "{}:{{{}}}:f:bench",
            self.prefix,
            SessionKey::tag(&key.respondent)
        );
        let known = self.shard(&key.session_id).get(&key.session_id).copied();
        let expected = match known {
            Some(v) => v,
            None => {
                // A dial-in: what the respondent left (the resume lookup), then the save.
                let cur: Option<Vec<u8>> = self
                    .connection
                    .query(redis::cmd("GET").arg(&survey))
                    .await
                    .map_err(|e| e.to_string())?;
                cur.and_then(|c| {
                    let colon = c.iter().position(|&b| b == b':')?;
                    std::str::from_utf8(&c[..colon]).ok()?.parse().ok()
                })
                .unwrap_or(0)
            }
        };
        let mut invocation = CAS.key(&survey);
        invocation
            .arg(if expected == 0 {
                String::new()
            } else {
                format!("{expected}:")
            })
            .arg(record)
            .arg(ttl.as_millis() as u64)
            .arg(format!("{}:", expected + 1));
        if let Some((id, body)) = completion {
            invocation.key(&self.stream).arg(id).arg(body);
        }
        let (ok, _): (u64, u64) = self
            .connection
            .invoke(&invocation)
            .await
            .map_err(|e| e.to_string())?;
        if ok != 1 {
            return Err(format!("compare-and-set lost at version {expected}"));
        }
        let version = expected + 1;
        let mut versions = self.shard(&key.session_id);
        if completion.is_some() {
            versions.remove(&key.session_id);
        } else {
            versions.insert(key.session_id.clone(), version);
        }
        Ok(())
    }
}

impl Limit {
    async fn hop(&self, session_id: &str, phone: &str, text: &str) -> Result<Bytes, String> {
        let n = if text.is_empty() {
            0
        } else {
            text.split('*').count()
        };
        let step = self.steps.get(n).ok_or("past the end")?;
        let key = SessionKey {
            respondent: self.pseudonyms.of(phone),
            gateway: GATEWAY.into(),
            session_id: session_id.to_owned(),
        };
        if let Some(cas) = &self.cas {
            let mut record = step.record.clone();
            record.respondent = key.respondent.clone();
            let data = sauti::session::codec::encode(&record);
            let completed = n + 1 == self.steps.len();
            let rid = uuid::Uuid::now_v7().to_string();
            let body = [
                self.body.0.as_slice(),
                rid.as_bytes(),
                self.body.1.as_slice(),
            ]
            .concat();
            cas.hop(
                &key,
                &data,
                self.session_ttl,
                completed.then_some((rid.as_str(), body.as_slice())),
            )
            .await?;
            return Ok(step.screen.clone());
        }
        // As Sauti: the session, and on a dial-in the resume record with it (one round trip).
        let opening = self
            .store
            .load_opening(&key, false, Some(&step.record.flow_id))
            .await
            .map_err(|e| e.to_string())?;
        let (expected, response_id, claim) = match opening.session {
            Some(Versioned { record, version }) => (version, record.response_id, Claim::Hold),
            None => {
                // As Sauti: the memory store reads the resume record apart.
                let resume = match opening.resume {
                    Some(r) => r,
                    None => self
                        .store
                        .load_resume(&key.respondent, &step.record.flow_id)
                        .await
                        .map_err(|e| e.to_string())?,
                };
                let claim = if resume.is_some() {
                    Claim::TakeOver
                } else {
                    Claim::Hold
                };
                (0, uuid::Uuid::now_v7(), claim)
            }
        };
        let mut record = step.record.clone();
        record.respondent = key.respondent.clone();
        record.response_id = response_id;
        let completed = n + 1 == self.steps.len();
        let rid = response_id.to_string();
        let body = if completed {
            [
                self.body.0.as_slice(),
                rid.as_bytes(),
                self.body.1.as_slice(),
            ]
            .concat()
        } else {
            Vec::new()
        };
        if completed && let Some(journal) = &self.journal {
            // As embedded Sauti: the survey marked done, then made durable, then saved.
            self.store
                .reserve_completion(&key.respondent, &response_id, key.owner_tag())
                .await
                .map_err(|e| e.to_string())?;
            journal
                .append_line(body.clone())
                .await
                .map_err(|e| e.to_string())?;
        }
        let enqueue = Enqueue {
            response_id: &rid,
            body: &body,
            sinks: &self.sinks,
        };
        self.store
            .save(
                &key,
                &record,
                expected,
                self.session_ttl,
                step.resume,
                (completed && self.journal.is_none()).then_some(&enqueue),
                Ownership {
                    tag: key.owner_tag(),
                    claim: if completed { Claim::Complete } else { claim },
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(step.screen.clone())
    }
}

/// The three fields a hop needs, read as Sauti's gateway reads them (one pass, no map).
fn form(body: &[u8]) -> (String, String, String) {
    let [session, phone, text] =
        sauti::gateway::form_fields(body, ["sessionId", "phoneNumber", "text"]).unwrap_or_default();
    (
        session.unwrap_or_default(),
        phone.unwrap_or_default(),
        text.unwrap_or_default(),
    )
}

async fn route(limit: Arc<Limit>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: Bytes| {
        let mut r = Response::new(Full::new(body));
        *r.status_mut() = status;
        r
    };
    let Ok(body) = req.into_body().collect().await else {
        return reply(StatusCode::BAD_REQUEST, Bytes::from_static(b"bad body"));
    };
    let (session, phone, text) = form(&body.to_bytes());
    match limit.hop(&session, &phone, &text).await {
        Ok(screen) => reply(StatusCode::OK, screen),
        Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, Bytes::from(e)),
    }
}

fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8093);
    let deliver = std::env::var("LIMIT_DELIVER").is_ok_and(|v| v == "1");
    let (steps, body) = steps(&root);
    let defaults = sauti::config::Config::default();
    let mut config = defaults.clone();
    config.redis.url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    config.redis.key_prefix =
        std::env::var("REDIS_KEY_PREFIX").unwrap_or_else(|_| "sauti-limit".into());
    let keep = tempfile_dir();
    config.data_dir = std::env::var("LIMIT_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| keep.clone());
    config.apply(&sauti::config::Overrides::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let memory = std::env::var("LIMIT_STORE").is_ok_and(|v| v == "memory");
    let cas = std::env::var("LIMIT_STORE").is_ok_and(|v| v == "cas");
    runtime.block_on(async move {
        let resume_window = Duration::from_secs(config.resume_window_secs);
        let (store, journal) = if memory {
            let store = MemoryStore::new(config.max_sessions, resume_window);
            store.spawn_sweeper(Duration::from_secs(5));
            let (journal, guard) = Journal::open(&config.data_dir)?;
            // Lives as long as the process.
            std::mem::forget(guard);
            (AnyStore::Memory(store), Some(journal))
        } else {
            let redis: &RedisConfig = &config.redis;
            let store =
                RedisStore::connect(redis, config.longest_session_ttl(), resume_window).await?;
            (AnyStore::Redis(store), None)
        };
        let metrics = sauti::metrics::Metrics::default();
        let stop = sauti::shutdown::Shutdown::new();
        let _workers = if deliver && !memory {
            Some(sauti::service::start_workers(&config, None, &metrics, &stop).await?)
        } else {
            None
        };
        let cas = if cas {
            let sink = config.sinks.keys().next().cloned().unwrap_or_default();
            Some(Cas {
                connection: sauti::redis_conn::connect(
                    &config.redis.url,
                    Duration::from_secs(1),
                    None,
                )
                .await?,
                stream: sauti::outbox::redis::stream_key(&config.redis.key_prefix, &sink),
                prefix: config.redis.key_prefix.clone(),
                versions: (0..64).map(|_| Default::default()).collect(),
            })
        } else {
            None
        };
        let limit = Arc::new(Limit {
            store,
            cas,
            journal,
            pseudonyms: Pseudonymizer::new(b"bench-key-0123456789abcdef")?,
            steps,
            body,
            sinks: config.sinks.keys().cloned().collect(),
            session_ttl: Duration::from_secs(config.session_ttl_secs),
        });
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listener = tokio::net::TcpListener::bind(addr).await?;
        eprintln!(
            "limit-sauti on http://{addr}/ussd/africastalking ({})",
            match (memory, deliver) {
                (true, _) => "memory sessions, journal",
                (false, _) if limit.cas.is_some() => "the minimal compare-and-set layout",
                (false, true) => "Redis, delivery on",
                (false, false) => "Redis, delivery off",
            }
        );
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let limit = limit.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let limit = limit.clone();
                    async move { Ok::<_, Infallible>(route(limit, req).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}

/// A directory of its own under the system's temporary directory.
fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("limit-sauti-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}
