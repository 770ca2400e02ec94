//! The hop orchestrator: routes a gateway hop to its flow, loads the session (or offers to
//! resume an unfinished survey), runs the pure engine, records a completed survey durably,
//! and saves the session. All IO lives here, around [`engine::step`], never inside it.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

use crate::engine::{self, At, Event, Hop, HopContext, Screen};
use crate::flow::CompiledFlow;
use crate::gateway::UssdRequest;
use crate::journal::{Journal, JournalError};
use crate::metrics::Metrics;
use crate::pseudonym::Pseudonymizer;
use crate::render::{Budget, truncate};
use crate::response::{Response, SCHEMA_VERSION, answers_json, receipt_of};
use crate::session::{
    Consumed, Enqueue, MemoryStore, Progress, RedisStore, ResumeWrite, Saved, SessionKey,
    SessionRecord, SessionStore, StoreError, Versioned,
};

/// The session stores Sauti can run on.
pub enum AnyStore {
    Memory(MemoryStore),
    Redis(RedisStore),
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
        resume: ResumeWrite,
        enqueue: Option<&Enqueue<'_>>,
    ) -> Result<Saved, StoreError> {
        match self {
            AnyStore::Memory(s) => s.save(key, record, expected, resume, enqueue).await,
            AnyStore::Redis(s) => s.save(key, record, expected, resume, enqueue).await,
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

    async fn take_abandoned(&self, max: usize) -> Result<Vec<SessionRecord>, StoreError> {
        match self {
            AnyStore::Memory(s) => s.take_abandoned(max).await,
            AnyStore::Redis(s) => s.take_abandoned(max).await,
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

/// A gateway instance as the engine sees it.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    pub name: String,
    pub budget: Budget,
}

/// Why a hop could not be served; the respondent still gets a polite `END`.
#[derive(Debug, thiserror::Error)]
pub enum HopError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("the session kept changing under this hop")]
    Contended,
    #[error("flow `{0}` v{1} is not loaded in this process")]
    FlowGone(String, u32),
    #[error("a stored session of flow `{0}` does not match the flow")]
    Corrupt(String),
}

/// Every flow version this process can serve: sessions pin the version they started on,
/// so versions replaced by a reload stay here until the process ends.
#[derive(Default)]
pub struct FlowSet {
    all: Vec<Arc<CompiledFlow>>,
    /// Service code -> the newest version of the flow it routes to.
    by_code: HashMap<String, Arc<CompiledFlow>>,
}

impl FlowSet {
    pub fn current(&self) -> impl Iterator<Item = &Arc<CompiledFlow>> {
        let mut seen: Vec<&Arc<CompiledFlow>> = Vec::new();
        for f in self.by_code.values() {
            if !seen.iter().any(|s| Arc::ptr_eq(s, f)) {
                seen.push(f);
            }
        }
        seen.sort_by(|a, b| a.id.cmp(&b.id));
        seen.into_iter()
    }

    pub fn version(&self, id: &str, version: u32) -> Option<&Arc<CompiledFlow>> {
        self.all.iter().find(|f| f.id == id && f.version == version)
    }

    pub fn route(&self, service_code: &str) -> Option<&Arc<CompiledFlow>> {
        self.by_code.get(service_code.trim())
    }

    pub fn versions(&self) -> usize {
        self.all.len()
    }
}

/// What a reload did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// `id vN` newly served.
    pub added: Vec<String>,
    /// Flows whose texts were corrected (same structure and version): updated in place.
    pub updated: Vec<String>,
    /// Flows whose structure changed without a new version: kept as they were.
    pub refused: Vec<String>,
}

/// Number of stripes serialising the hops of one session inside this process.
const LOCK_STRIPES: usize = 1024;

pub struct Survey {
    flows: RwLock<Arc<FlowSet>>,
    store: AnyStore,
    journal: Journal,
    pseudonyms: Pseudonymizer,
    /// Two hops of one session (a gateway retry racing the original) run one after the
    /// other; striped so that memory stays bounded whatever the number of sessions.
    /// Across processes, the store's compare-and-set does the same job.
    locks: Box<[tokio::sync::Mutex<()>]>,
    /// Sinks by name, with the flows each takes (empty: every flow).
    sinks: Vec<(String, Vec<String>)>,
    pub metrics: Arc<Metrics>,
}

impl Survey {
    pub fn new(
        flows: Vec<CompiledFlow>,
        store: AnyStore,
        journal: Journal,
        pseudonyms: Pseudonymizer,
        sinks: Vec<(String, Vec<String>)>,
        metrics: Arc<Metrics>,
    ) -> Survey {
        let survey = Survey {
            flows: RwLock::new(Arc::new(FlowSet::default())),
            store,
            journal,
            pseudonyms,
            locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            sinks,
            metrics,
        };
        survey.reload(flows);
        survey
    }

    /// The flows served now (a snapshot: a reload does not change it under a hop).
    pub fn flows(&self) -> Arc<FlowSet> {
        self.flows.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Serves `flows` from now on. Conversations in flight finish on the version they
    /// started on; a flow changed without a version bump is refused (its old build stays).
    pub fn reload(&self, flows: Vec<CompiledFlow>) -> Reloaded {
        let mut guard = self.flows.write().unwrap_or_else(|p| p.into_inner());
        let old = guard.clone();
        let mut set = FlowSet {
            all: old.all.clone(),
            by_code: HashMap::new(),
        };
        let mut report = Reloaded::default();
        for flow in flows {
            let chosen = match old.version(&flow.id, flow.version) {
                Some(existing)
                    if existing.fingerprint == flow.fingerprint
                        && existing.texts_fingerprint == flow.texts_fingerprint =>
                {
                    existing.clone()
                }
                Some(existing) if existing.fingerprint == flow.fingerprint => {
                    // Same structure, corrected texts: sessions on this version can use them.
                    report
                        .updated
                        .push(format!("{} v{}", flow.id, flow.version));
                    let f = Arc::new(flow);
                    for slot in set.all.iter_mut().filter(|a| Arc::ptr_eq(a, existing)) {
                        *slot = f.clone();
                    }
                    f
                }
                Some(existing) => {
                    tracing::error!(flow = %flow.id, version = flow.version, "flow changed without a new `version`: keeping the one already served; bump `version` to publish the change");
                    report
                        .refused
                        .push(format!("{} v{}", flow.id, flow.version));
                    existing.clone()
                }
                None => {
                    report.added.push(format!("{} v{}", flow.id, flow.version));
                    let f = Arc::new(flow);
                    set.all.push(f.clone());
                    f
                }
            };
            for code in &chosen.ussd {
                set.by_code.insert(code.clone(), chosen.clone());
            }
        }
        *guard = Arc::new(set);
        report
    }

    fn sinks_for(&self, flow_id: &str) -> Vec<String> {
        self.sinks
            .iter()
            .filter(|(_, flows)| flows.is_empty() || flows.iter().any(|f| f == flow_id))
            .map(|(name, _)| name.clone())
            .collect()
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn store(&self) -> &AnyStore {
        &self.store
    }

    fn lock_for(&self, key: &SessionKey) -> &tokio::sync::Mutex<()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        &self.locks[(h.finish() as usize) % self.locks.len()]
    }

    /// An engine text in every language Sauti speaks, one per line (for replies given
    /// before the respondent's language is known).
    pub fn multilingual(&self, message: &str, budget: Budget) -> String {
        let flows = self.flows();
        let mut seen: Vec<&str> = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        for f in flows.current() {
            for loc in &f.locales {
                if !seen.contains(&loc.lang.as_str()) {
                    seen.push(&loc.lang);
                    lines.push(loc.engine_text(message, None));
                }
            }
        }
        if lines.is_empty() {
            lines.push(message.to_owned());
        }
        truncate(&lines.join("\n"), budget).to_owned()
    }

    /// The `END` screen for a hop that could not be served.
    pub fn unavailable(&self, budget: Budget) -> Screen {
        Screen {
            end: true,
            text: self.multilingual("service-unavailable", budget),
        }
    }

    /// Serves one USSD hop.
    pub async fn hop(
        &self,
        gateway: &GatewaySettings,
        req: &UssdRequest,
        now: OffsetDateTime,
    ) -> Result<Screen, HopError> {
        let flows = self.flows();
        let key = SessionKey {
            respondent: self.pseudonyms.of(&req.phone_number),
            gateway: gateway.name.clone(),
            session_id: req.session_id.clone(),
        };
        let _serial = self.lock_for(&key).lock().await;
        let ctx = HopContext {
            today: now.date(),
            budget: gateway.budget,
        };
        let mut fresh = false;
        // A conflict means another process saved this session first: redo from its record.
        for _ in 0..4 {
            let current = self.store.load(&key, fresh).await?;
            let expected = current.as_ref().map_or(0, |v| v.version);
            let (mut record, mut hop) = match current {
                None => {
                    let Some(flow) = flows.route(&req.service_code) else {
                        tracing::info!(gateway = %gateway.name, service_code = %req.service_code, "unknown service code");
                        return Ok(Screen {
                            end: true,
                            text: self.multilingual("unknown-service", gateway.budget),
                        });
                    };
                    self.open(&flows, flow, &key, req, &ctx, now).await?
                }
                Some(v) => {
                    let rec = v.record;
                    let flow = flows
                        .version(&rec.flow_id, rec.flow_version)
                        .ok_or_else(|| HopError::FlowGone(rec.flow_id.clone(), rec.flow_version))?;
                    if !rec.state.fits(flow) {
                        return Err(HopError::Corrupt(rec.flow_id.clone()));
                    }
                    let input = match rec.consumed.progress(&req.text) {
                        // A finished session only ever shows its END again.
                        _ if rec.state.is_finished() => None,
                        Progress::New(input) => Some(input),
                        // A retry or a late copy of an older hop: the same screen again,
                        // nothing advances, nothing is recorded twice.
                        Progress::Same | Progress::Stale => None,
                        Progress::Diverged => {
                            tracing::warn!(gateway = %gateway.name, session = %req.session_id, "input history does not extend the previous one; showing the screen again");
                            None
                        }
                    };
                    let Some(input) = input else {
                        return Ok(engine::render(flow, &rec.state, &ctx, rec.reason.as_ref()));
                    };
                    let hop = engine::step(flow, &rec.state, input, &ctx);
                    (rec, hop)
                }
            };
            record.consumed = Consumed::of(&req.text);
            if hop.events.contains(&Event::Restarted)
                && let Some(flow) = flows.current().find(|f| f.id == record.flow_id).cloned()
            {
                (record, hop) = restart(
                    &flow,
                    flows.version(&record.flow_id, record.flow_version),
                    record,
                    &ctx,
                    now,
                );
            }
            record.reason = hop.reason.clone();
            record.state = hop.state.clone();
            let flow = flows
                .version(&record.flow_id, record.flow_version)
                .ok_or_else(|| HopError::FlowGone(record.flow_id.clone(), record.flow_version))?;
            let completed = matches!(record.state.at, At::Done(_));
            // On a Redis Cluster the response is queued before the save, not inside it: never
            // queue one computed from a cached copy; redo from the store's.
            let queued_apart = matches!(&self.store, AnyStore::Redis(r) if r.is_cluster());
            if completed && queued_apart && !fresh && expected != 0 {
                fresh = true;
                continue;
            }
            let mut body = Vec::new();
            let mut sinks: Vec<String> = Vec::new();
            if completed {
                let response = response(flow, gateway, &record, now);
                sinks = self.sinks_for(&flow.id);
                if let AnyStore::Memory(_) = &self.store {
                    // The embedded outbox: durable before the respondent sees END.
                    self.journal.append(&response).await?;
                } else {
                    body = serde_json::to_vec(&response).map_err(|e| {
                        HopError::Journal(JournalError::Write(std::io::Error::other(e)))
                    })?;
                }
            }
            let rid = record.response_id.to_string();
            let enqueue = (completed && !body.is_empty()).then_some(Enqueue {
                response_id: &rid,
                body: &body,
                sinks: &sinks,
            });
            // The resume record follows the answers; a re-ask or a page turn changes nothing
            // worth resuming and is not written again.
            let answered = hop.events.iter().any(|e| {
                matches!(
                    e,
                    Event::Answered(_) | Event::Skipped(_) | Event::WentBack(_) | Event::Resumed(_)
                )
            });
            let resume = if completed || hop.events.contains(&Event::Restarted) {
                ResumeWrite::Clear
            } else if answered && record.state.resume_point().is_some() {
                ResumeWrite::Keep
            } else {
                ResumeWrite::Untouched
            };
            match self
                .store
                .save(&key, &record, expected, resume, enqueue.as_ref())
                .await?
            {
                Saved::Stored => {
                    self.metrics
                        .hops
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if completed {
                        self.metrics
                            .completed
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        for s in &sinks {
                            self.metrics
                                .sink(s)
                                .queued
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    log_events(flow, gateway, &record, expected == 0, &hop.events);
                    return Ok(hop.screen);
                }
                Saved::Conflict => fresh = false,
            }
        }
        Err(HopError::Contended)
    }

    /// Delivers surveys abandoned for good (resume window over) as partial responses, for
    /// the flows that ask for them (`partials = true`). Returns how many were queued.
    pub async fn sweep_abandoned(&self, now: OffsetDateTime) -> Result<usize, HopError> {
        let flows = self.flows();
        let mut queued = 0;
        for record in self.store.take_abandoned(1000).await? {
            let Some(flow) = flows.version(&record.flow_id, record.flow_version) else {
                continue;
            };
            if !flow.partials || record.state.history.is_empty() || !record.state.fits(flow) {
                continue;
            }
            let gateway = GatewaySettings {
                name: String::new(),
                budget: Budget::default(),
            };
            let mut response = response(flow, &gateway, &record, now);
            response.status = "partial".into();
            response.gateway = "-".into();
            let sinks = self.sinks_for(&flow.id);
            if let AnyStore::Memory(_) = &self.store {
                self.journal.append(&response).await?;
            } else {
                let body = serde_json::to_vec(&response).map_err(|e| {
                    HopError::Journal(JournalError::Write(std::io::Error::other(e)))
                })?;
                self.store
                    .enqueue(&Enqueue {
                        response_id: &response.id,
                        body: &body,
                        sinks: &sinks,
                    })
                    .await?;
            }
            for s in &sinks {
                self.metrics
                    .sink(s)
                    .queued
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            tracing::info!(flow = %flow.id, response = %response.id, "unfinished survey queued as a partial response");
            queued += 1;
        }
        Ok(queued)
    }

    /// A new session: the resume offer when the respondent left this survey unfinished
    /// (and its version is still served), else the first screen. Input already carried by
    /// the first hop answers that screen.
    async fn open(
        &self,
        flows: &FlowSet,
        flow: &Arc<CompiledFlow>,
        key: &SessionKey,
        req: &UssdRequest,
        ctx: &HopContext,
        now: OffsetDateTime,
    ) -> Result<(SessionRecord, Hop), HopError> {
        let saved = self.store.load_resume(&key.respondent, &flow.id).await?;
        let resumed = saved.and_then(|saved| {
            let pinned = flows.version(&saved.flow_id, saved.flow_version)?;
            if !saved.state.fits(pinned) {
                return None;
            }
            let hop = engine::offer_resume(pinned, &saved.state, ctx)?;
            Some((pinned.clone(), saved, hop))
        });
        let (flow, record, mut hop) = match resumed {
            Some((pinned, saved, hop)) => {
                let record = SessionRecord {
                    network: req.network.clone(),
                    ..saved
                };
                (pinned, record, hop)
            }
            None => {
                let response_id = uuid::Uuid::now_v7();
                let hop = engine::start(flow, None, &receipt_of(&response_id), ctx);
                let record = SessionRecord {
                    flow_id: flow.id.clone(),
                    flow_version: flow.version,
                    response_id,
                    respondent: key.respondent.clone(),
                    network: req.network.clone(),
                    started_at_ms: unix_ms(now),
                    consumed: Consumed::of(""),
                    reason: None,
                    state: hop.state.clone(),
                };
                (flow.clone(), record, hop)
            }
        };
        // A first hop may already carry input (a shared code's extension, or a session the
        // gateway opened earlier): it answers the first screen.
        if !req.text.is_empty() {
            let mut next = engine::step(&flow, &hop.state, &req.text, ctx);
            let mut events = std::mem::take(&mut hop.events);
            events.append(&mut next.events);
            next.events = events;
            hop = next;
        }
        Ok((record, hop))
    }
}

/// "Start again": a new response (new id and receipt) on the newest version of the flow
/// (`newest`), in the language the respondent already chose on the version they were on.
fn restart(
    newest: &CompiledFlow,
    old: Option<&Arc<CompiledFlow>>,
    record: SessionRecord,
    ctx: &HopContext,
    now: OffsetDateTime,
) -> (SessionRecord, Hop) {
    let response_id = uuid::Uuid::now_v7();
    let lang = old
        .and_then(|f| f.languages.get(record.state.lang as usize))
        .and_then(|tag| newest.language_index(tag));
    let mut hop = engine::start(newest, lang, &receipt_of(&response_id), ctx);
    hop.events.insert(0, Event::Restarted);
    let record = SessionRecord {
        flow_version: newest.version,
        response_id,
        started_at_ms: unix_ms(now),
        ..record
    };
    (record, hop)
}

fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn response(
    flow: &CompiledFlow,
    gateway: &GatewaySettings,
    rec: &SessionRecord,
    now: OffsetDateTime,
) -> Response {
    let started = OffsetDateTime::from_unix_timestamp_nanos(rec.started_at_ms as i128 * 1_000_000)
        .unwrap_or(now);
    Response {
        schema: SCHEMA_VERSION,
        id: rec.response_id.to_string(),
        flow: flow.id.clone(),
        flow_version: flow.version,
        status: "complete".into(),
        channel: "ussd".into(),
        gateway: gateway.name.clone(),
        language: flow.languages[rec.state.lang as usize].clone(),
        respondent: rec.respondent.clone(),
        network: rec.network.clone(),
        started_at: rfc3339(started),
        completed_at: rfc3339(now),
        answers: answers_json(flow, &rec.state),
    }
}

/// RFC 3339 in UTC with milliseconds, always the same width (`2026-03-14T09:21:07.123Z`),
/// so that timestamps also sort as text.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

/// Logs carry the pseudonym (shortened), flow and step ids: never answers or numbers.
fn log_events(
    flow: &CompiledFlow,
    gateway: &GatewaySettings,
    rec: &SessionRecord,
    new_session: bool,
    events: &[Event],
) {
    let respondent = SessionKey::tag(&rec.respondent);
    let respondent = &respondent[..respondent.len().min(16)];
    let step_id = |i: u16| flow.steps.get(i as usize).map_or("?", |s| s.id.as_str());
    if new_session {
        tracing::debug!(gateway = %gateway.name, respondent, flow = %flow.id, version = flow.version, "session started");
    }
    for e in events {
        match e {
            Event::Answered(s) => {
                tracing::debug!(gateway = %gateway.name, respondent, flow = %flow.id, step = step_id(*s), "answered")
            }
            Event::Skipped(s) => {
                tracing::debug!(gateway = %gateway.name, respondent, flow = %flow.id, step = step_id(*s), "skipped")
            }
            Event::WentBack(s) => {
                tracing::debug!(gateway = %gateway.name, respondent, flow = %flow.id, step = step_id(*s), "back")
            }
            Event::LanguageChosen(l) => {
                tracing::debug!(gateway = %gateway.name, respondent, flow = %flow.id, language = %flow.languages[*l as usize], "language")
            }
            Event::Invalid { step, .. } => {
                tracing::debug!(gateway = %gateway.name, respondent, flow = %flow.id, step = step.map_or("-", step_id), "invalid input")
            }
            Event::Completed(s) => {
                tracing::info!(gateway = %gateway.name, respondent, flow = %flow.id, version = flow.version, step = step_id(*s), response = %rec.response_id, "survey completed")
            }
            Event::GaveUp(s) => {
                tracing::info!(gateway = %gateway.name, respondent, flow = %flow.id, step = step_id(*s), "session closed after too many wrong answers")
            }
            Event::Resumed(s) => {
                tracing::info!(gateway = %gateway.name, respondent, flow = %flow.id, step = step_id(*s), "survey resumed")
            }
            Event::Restarted => {
                tracing::info!(gateway = %gateway.name, respondent, flow = %flow.id, "survey started again")
            }
        }
    }
}
