//! The hop orchestrator: routes a gateway hop to its flow, loads the session, runs the
//! pure engine, records a completed survey durably, saves the session. IO lives here,
//! around [`engine::step`], never inside it.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::engine::{self, At, Event, HopContext, Screen};
use crate::flow::CompiledFlow;
use crate::gateway::UssdRequest;
use crate::journal::{Journal, JournalError};
use crate::pseudonym::Pseudonymizer;
use crate::render::{Budget, truncate};
use crate::response::{Response, SCHEMA_VERSION, answers_json, receipt_of};
use crate::session::{Consumed, MemoryStore, Progress, SessionRecord, SessionStore, StoreError};

/// The session stores Sauti can run on.
#[derive(Clone)]
pub enum AnyStore {
    Memory(MemoryStore),
}

impl SessionStore for AnyStore {
    async fn load(&self, key: &str) -> Result<Option<crate::session::Versioned>, StoreError> {
        match self {
            AnyStore::Memory(s) => s.load(key).await,
        }
    }

    async fn save(
        &self,
        key: &str,
        record: &SessionRecord,
        expected: u64,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        match self {
            AnyStore::Memory(s) => s.save(key, record, expected, ttl).await,
        }
    }

    async fn ready(&self) -> bool {
        match self {
            AnyStore::Memory(s) => s.ready().await,
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
    #[error("flow `{0}` v{1} is no longer loaded")]
    FlowGone(String, u32),
}

/// Number of stripes serialising the hops of one session inside this process.
const LOCK_STRIPES: usize = 1024;

pub struct Survey {
    flows: Vec<Arc<CompiledFlow>>,
    by_code: HashMap<String, usize>,
    store: AnyStore,
    journal: Journal,
    pseudonyms: Pseudonymizer,
    session_ttl: Duration,
    /// Two hops of one session (a gateway retry racing the original) run one after the
    /// other; striped so that memory stays bounded whatever the number of sessions.
    locks: Box<[tokio::sync::Mutex<()>]>,
}

impl Survey {
    pub fn new(
        flows: Vec<CompiledFlow>,
        store: AnyStore,
        journal: Journal,
        pseudonyms: Pseudonymizer,
        session_ttl: Duration,
    ) -> Survey {
        let flows: Vec<Arc<CompiledFlow>> = flows.into_iter().map(Arc::new).collect();
        let mut by_code = HashMap::new();
        for (i, f) in flows.iter().enumerate() {
            for code in &f.ussd {
                by_code.insert(code.clone(), i);
            }
        }
        Survey {
            flows,
            by_code,
            store,
            journal,
            pseudonyms,
            session_ttl,
            locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }

    pub fn flows(&self) -> &[Arc<CompiledFlow>] {
        &self.flows
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn store(&self) -> &AnyStore {
        &self.store
    }

    pub fn pseudonym(&self, phone_number: &str) -> String {
        self.pseudonyms.of(phone_number)
    }

    fn flow(&self, id: &str, version: u32) -> Option<&Arc<CompiledFlow>> {
        self.flows
            .iter()
            .find(|f| f.id == id && f.version == version)
    }

    fn lock_for(&self, key: &str) -> &tokio::sync::Mutex<()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        &self.locks[(h.finish() as usize) % self.locks.len()]
    }

    /// An engine text in every language Sauti speaks, one per line (for replies given
    /// before the respondent has chosen a language).
    pub fn multilingual(&self, message: &str, budget: Budget) -> String {
        let mut seen: Vec<&str> = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        for f in &self.flows {
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
        let key = format!("{}:{}", gateway.name, req.session_id);
        let _serial = self.lock_for(&key).lock().await;
        let ctx = HopContext {
            today: now.date(),
            budget: gateway.budget,
        };
        // A conflict means another process saved this session first: reload and redo.
        for _ in 0..3 {
            let current = self.store.load(&key).await?;
            let (record, expected, events, screen) = match current {
                None => {
                    let Some(&i) = self.by_code.get(req.service_code.trim()) else {
                        tracing::info!(gateway = %gateway.name, service_code = %req.service_code, "unknown service code");
                        return Ok(Screen {
                            end: true,
                            text: self.multilingual("unknown-service", gateway.budget),
                        });
                    };
                    let flow = &self.flows[i];
                    let response_id = uuid::Uuid::now_v7();
                    let mut hop = engine::start(flow, None, &receipt_of(&response_id), &ctx);
                    let mut events = std::mem::take(&mut hop.events);
                    // A first hop may already carry input (a shared code's extension, or a
                    // session the gateway opened earlier): it answers the first screen.
                    if !req.text.is_empty() {
                        hop = engine::step(flow, &hop.state, &req.text, &ctx);
                        events.append(&mut hop.events);
                    }
                    let record = SessionRecord {
                        flow_id: flow.id.clone(),
                        flow_version: flow.version,
                        response_id,
                        respondent: self.pseudonyms.of(&req.phone_number),
                        network: req.network.clone(),
                        started_at_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
                        consumed: Consumed::of(&req.text),
                        reason: hop.reason,
                        state: hop.state,
                    };
                    (record, 0, events, hop.screen)
                }
                Some(v) => {
                    let rec = v.record;
                    let flow = self
                        .flow(&rec.flow_id, rec.flow_version)
                        .ok_or_else(|| HopError::FlowGone(rec.flow_id.clone(), rec.flow_version))?;
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
                    let record = SessionRecord {
                        consumed: Consumed::of(&req.text),
                        reason: hop.reason,
                        state: hop.state,
                        ..rec
                    };
                    (record, v.version, hop.events, hop.screen)
                }
            };
            let flow = self
                .flow(&record.flow_id, record.flow_version)
                .ok_or_else(|| HopError::FlowGone(record.flow_id.clone(), record.flow_version))?;
            if let At::Done(_) = record.state.at {
                // Durable before the respondent sees END.
                self.journal
                    .append(&self.response(flow, gateway, &record, now))
                    .await?;
            }
            if self
                .store
                .save(&key, &record, expected, self.session_ttl)
                .await?
            {
                if expected == 0 {
                    let respondent = &record.respondent[..16];
                    tracing::info!(gateway = %gateway.name, respondent, flow = %flow.id, version = flow.version, "session started");
                }
                log_events(flow, gateway, &record, &events);
                return Ok(screen);
            }
        }
        Err(HopError::Contended)
    }

    fn response(
        &self,
        flow: &CompiledFlow,
        gateway: &GatewaySettings,
        rec: &SessionRecord,
        now: OffsetDateTime,
    ) -> Response {
        let started =
            OffsetDateTime::from_unix_timestamp_nanos(rec.started_at_ms as i128 * 1_000_000)
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
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Logs carry the pseudonym (shortened), flow and step ids: never answers or numbers.
fn log_events(
    flow: &CompiledFlow,
    gateway: &GatewaySettings,
    rec: &SessionRecord,
    events: &[Event],
) {
    let respondent = &rec.respondent[..rec.respondent.len().min(16)];
    let step_id = |i: u16| flow.steps.get(i as usize).map_or("?", |s| s.id.as_str());
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
                tracing::debug!(gateway = %gateway.name, respondent, flow = %flow.id, step = step.map_or("language", step_id), "invalid input")
            }
            Event::Completed(s) => {
                tracing::info!(gateway = %gateway.name, respondent, flow = %flow.id, version = flow.version, step = step_id(*s), response = %rec.response_id, "survey completed")
            }
            Event::GaveUp(s) => {
                tracing::info!(gateway = %gateway.name, respondent, flow = %flow.id, step = step_id(*s), "session closed after too many wrong answers")
            }
        }
    }
}
