//! The hop, end to end: a decoded gateway hop is routed to its flow by address, its session
//! loaded (or a resume offered), the input read as the gateway sends it, the channel and the
//! pure engine step, a finished survey recorded, the session saved, the view rendered.

mod sms;

pub use sms::{Invitation, Invited};

use std::sync::Arc;

use time::OffsetDateTime;

use crate::channel::{self, ChannelMemory, Input, Rendered};
use crate::engine::{self, At, Event, Hop, HopContext};
use crate::flow::{CompiledFlow, FlowSet, LiveFlows, Reloaded};
use crate::gateway::{ConfiguredGateway, Inbound, InputCursor, Progress};
use crate::journal::{Journal, JournalError};
use crate::metrics::{HopResult, Metrics};
use crate::pseudonym::Pseudonymizer;
use crate::recorder::{Recorder, response};
use crate::response::receipt_of;
use crate::session::{
    Claim, Enqueue, Ownership, ResumeWrite, Saved, SessionKey, SessionLocks, SessionRecord,
    SessionStore, StoreError, address_tag,
};

pub use crate::recorder::rfc3339;
pub use crate::session::AnyStore;

/// Why a hop could not be served.
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
    /// The gateway sent something that is not a phone number: a client error.
    #[error("field `phone number` is invalid: {0}")]
    BadNumber(#[from] crate::phone::NotANumber),
    /// The gateway's session id is live on another address: a client error, not ours.
    /// (The id is the caller's: quoted and escaped wherever it is written.)
    #[error("session {0:?} was opened on another service code")]
    WrongAddress(String),
    /// The SMS opt-out list could not be written: the stop word is not taken yet.
    #[error("cannot write the SMS opt-out list: {0}")]
    OptOuts(std::io::Error),
}

/// Serves hops. Each part is its own type: the flows served ([`LiveFlows`]), the session
/// store, per-session locks, the [`Recorder`] of finished surveys, the pseudonyms, metrics.
pub struct Survey {
    flows: LiveFlows,
    /// Each respondent's hops per second.
    respondent_rate: crate::limits::KeyedLimiter,
    /// What one number may make Sauti send by SMS.
    sms_limits: sms::SmsLimits,
    sessions: AnyStore,
    locks: SessionLocks,
    recorder: Recorder,
    pseudonyms: Pseudonymizer,
    pub metrics: Arc<Metrics>,
    /// Who opted out of SMS (stop words), when an SMS gateway is served.
    opt_outs: Option<Arc<crate::campaign::optouts::OptOuts>>,
    /// The surveys campaigns opened, whose answers the SMS hop reports to them.
    campaigns: Option<Arc<crate::campaign::tracker::Tracker>>,
}

impl Survey {
    pub fn new(
        flows: Vec<CompiledFlow>,
        store: AnyStore,
        journal: Option<Journal>,
        pseudonyms: Pseudonymizer,
        sinks: Vec<(String, Vec<String>)>,
        metrics: Arc<Metrics>,
    ) -> Survey {
        Survey {
            respondent_rate: crate::limits::KeyedLimiter::new(crate::limits::Rate::UNLIMITED, 1),
            sms_limits: sms::SmsLimits::default(),
            flows: LiveFlows::new(flows),
            sessions: store,
            locks: SessionLocks::default(),
            recorder: Recorder::new(journal, sinks, metrics.clone()),
            pseudonyms,
            metrics,
            opt_outs: None,
            campaigns: None,
        }
    }

    /// Keeps the SMS opt-out list and reports campaign members' answers to `campaigns`.
    pub fn keep_sms_records(
        &mut self,
        opt_outs: Arc<crate::campaign::optouts::OptOuts>,
        campaigns: Arc<crate::campaign::tracker::Tracker>,
    ) {
        self.opt_outs = Some(opt_outs);
        self.campaigns = Some(campaigns);
    }

    /// The SMS opt-out list, when kept.
    pub fn opt_outs(&self) -> Option<&Arc<crate::campaign::optouts::OptOuts>> {
        self.opt_outs.as_ref()
    }

    /// The respondent's pseudonym of `number` (E.164).
    pub fn pseudonym_of(&self, number: &str) -> String {
        self.pseudonyms.of(number)
    }

    /// Limits each respondent to `rate` hops (tracking at most `respondents` at once).
    pub fn limit_respondents(&mut self, rate: crate::limits::Rate, respondents: usize) {
        self.respondent_rate = crate::limits::KeyedLimiter::new(rate, respondents);
    }

    /// Limits what one number may make Sauti send by SMS: `rate` messages taken (tracking at
    /// most `respondents` at once), `max_per_session` replies per conversation.
    pub fn limit_sms(
        &mut self,
        rate: crate::limits::Rate,
        respondents: usize,
        max_per_session: std::num::NonZeroU16,
    ) {
        self.sms_limits = sms::SmsLimits {
            rate: crate::limits::KeyedLimiter::new(rate, respondents),
            max_per_session,
        };
    }

    /// The flows served now (a snapshot: a reload does not change it under a hop).
    pub fn flows(&self) -> Arc<FlowSet> {
        self.flows.snapshot()
    }

    /// Serves `flows` from now on (see [`LiveFlows::reload`]).
    pub fn reload(&self, flows: Vec<CompiledFlow>) -> Reloaded {
        self.flows.reload(flows)
    }

    /// Embedded mode's journal (none with Redis).
    pub fn journal(&self) -> Option<&Journal> {
        self.recorder.journal()
    }

    pub fn store(&self) -> &AnyStore {
        &self.sessions
    }

    /// An engine text in every language Sauti speaks, one per line (for replies given
    /// before the respondent's language is known).
    pub fn multilingual(&self, message: &str) -> String {
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
        lines.join("\n")
    }

    /// A closing notice in every language, as `gateway`'s channel delivers it.
    pub fn notice(&self, gateway: &ConfiguredGateway, message: &str) -> Rendered {
        channel::notice(
            gateway.channel(),
            &self.multilingual(message),
            &gateway.render,
        )
    }

    /// Serves one hop, and counts it (by gateway, flow and result) with its latency.
    pub async fn hop(
        &self,
        gateway: &ConfiguredGateway,
        inbound: &Inbound,
        now: OffsetDateTime,
    ) -> Result<Rendered, HopError> {
        self.hop_with_result(gateway, inbound, now)
            .await
            .map(|(rendered, _)| rendered)
    }

    /// [`Survey::hop`], with how the hop ended (the SMS hop reports completions).
    async fn hop_with_result(
        &self,
        gateway: &ConfiguredGateway,
        inbound: &Inbound,
        now: OffsetDateTime,
    ) -> Result<(Rendered, HopResult), HopError> {
        let started = std::time::Instant::now();
        // A span per hop (debug level: free at the default `info` unless exported to OTLP);
        // events inside carry it.
        let span = tracing::debug_span!(
            "hop",
            gateway = %gateway.name,
            channel = gateway.channel().name(),
            respondent = tracing::field::Empty,
            flow = tracing::field::Empty,
            result = tracing::field::Empty,
        );
        let served =
            tracing::Instrument::instrument(self.serve(gateway, inbound, now), span.clone()).await;
        let (result, flow) = match &served {
            Ok((_, result, flow)) => (*result, flow.as_deref().unwrap_or("-")),
            Err(_) => (HopResult::Failed, "-"),
        };
        if !span.is_disabled() {
            span.record("flow", flow);
            span.record("result", result.label());
        }
        self.metrics
            .hop(&gateway.name, flow, result, started.elapsed());
        served.map(|(rendered, result, _)| (rendered, result))
    }

    /// One hop: what to answer, how it ended, and the flow it was on.
    async fn serve(
        &self,
        gateway: &ConfiguredGateway,
        inbound: &Inbound,
        now: OffsetDateTime,
    ) -> Result<(Rendered, HopResult, Option<String>), HopError> {
        let flows = self.flows();
        let address = gateway.channel().normalize_address(&inbound.address);
        let address = &*address;
        // One person, one pseudonym: every form of a number reduced to E.164 first.
        let number = gateway.numbers.e164(&inbound.phone_number)?;
        let key = SessionKey {
            respondent: self.pseudonyms.of(&number),
            gateway: gateway.name.clone(),
            session_id: inbound.session_id.clone(),
        };
        let clock = std::time::Instant::now();
        let short = SessionKey::tag(&key.respondent);
        tracing::Span::current().record("respondent", &short[..short.len().min(16)]);
        // SMS messages were limited by their own rate before they came here (a limited one
        // gets no reply at all, not a "try later").
        if gateway.channel() != channel::Channel::Sms
            && !self.respondent_rate.allow(&key.respondent, clock)
        {
            // One number hopping faster than anyone types: a spoofing gateway or a loop.
            self.metrics.rate_limited("respondent");
            return Ok((
                self.notice(gateway, "service-unavailable"),
                HopResult::RateLimited,
                None,
            ));
        }
        let _serial = self.locks.serialise(&key).await;
        let ctx = HopContext { today: now.date() };
        let mut fresh = false;
        // The flow a new session would open, so that its resume record is read with the
        // session (one round trip to Redis on a dial-in).
        let dialled = flows
            .route(gateway.channel(), address)
            .map(|f| f.id.as_str());
        // A conflict means another process saved this session first: redo from its record.
        for _ in 0..4 {
            let opening = self.sessions.load_opening(&key, fresh, dialled).await?;
            let current = opening.session;
            let expected = current.as_ref().map_or(0, |v| v.version);
            // A session opened from a resume record takes the survey over with its first save.
            let mut claim = Claim::Hold;
            let (mut record, mut hop) = match current {
                None => {
                    if !gateway.new_sessions.allow(clock) {
                        self.metrics.rate_limited("new_sessions");
                        tracing::warn!(gateway = %gateway.name, "new sessions over the gateway's cap: answered \"try later\"");
                        return Ok((
                            self.notice(gateway, "service-unavailable"),
                            HopResult::RateLimited,
                            None,
                        ));
                    }
                    let Some(flow) = flows.route(gateway.channel(), address) else {
                        tracing::info!(gateway = %gateway.name, address = %address.escape_debug(), "no flow at this address");
                        return Ok((
                            self.notice(gateway, "unknown-service"),
                            HopResult::UnknownAddress,
                            None,
                        ));
                    };
                    let (record, hop, resumed) = self
                        .open(
                            &flows,
                            flow,
                            &key,
                            gateway,
                            inbound,
                            address,
                            &ctx,
                            now,
                            opening.resume,
                        )
                        .await?;
                    if resumed {
                        claim = Claim::TakeOver;
                    }
                    (record, hop)
                }
                Some(v) => {
                    let rec = v.record;
                    // Sessions before format 2 carry no address: they take this one.
                    // Gateways that name the address only when a session opens are not held to it.
                    if gateway.adapter.repeats_address()
                        && rec.address != 0
                        && rec.address != address_tag(address)
                    {
                        return Err(HopError::WrongAddress(inbound.session_id.clone()));
                    }
                    let flow = flows
                        .version(&rec.flow_id, rec.flow_version)
                        .ok_or_else(|| HopError::FlowGone(rec.flow_id.clone(), rec.flow_version))?;
                    if !rec.state.fits(flow) {
                        return Err(HopError::Corrupt(rec.flow_id.clone()));
                    }
                    let input = match gateway.adapter.progress(&rec.cursor, inbound) {
                        // A finished session only ever shows its end again.
                        _ if rec.state.is_finished() => None,
                        Progress::New(input) => Some(input),
                        // A retry or a late copy of an older hop: the same screen again,
                        // nothing advances, nothing is recorded twice.
                        Progress::Same | Progress::Stale => None,
                        Progress::Diverged => {
                            tracing::warn!(gateway = %gateway.name, session = %inbound.session_id.escape_debug(), "input history does not extend the previous one; showing the screen again");
                            None
                        }
                    };
                    let Some(input) = input else {
                        let rendered = rec.channel.render(
                            flow,
                            &rec.state,
                            rec.reason.as_ref(),
                            rec.cursor.len,
                            &gateway.render,
                        );
                        return Ok((rendered, HopResult::Served, Some(flow.id.clone())));
                    };
                    let (hop, memory) = rec.channel.step(
                        flow,
                        &rec.state,
                        rec.reason.as_ref(),
                        heard(inbound, input),
                        &ctx,
                        &gateway.render,
                    );
                    let mut rec = rec;
                    rec.channel = memory;
                    (rec, hop)
                }
            };
            record.cursor = gateway.adapter.cursor(&record.cursor, inbound);
            if record.address == 0 {
                record.address = address_tag(address);
            }
            if hop.events.contains(&Event::Restarted)
                && let Some(flow) = flows.current().find(|f| f.id == record.flow_id).cloned()
            {
                (record, hop) = restart(
                    &flow,
                    flows.version(&record.flow_id, record.flow_version),
                    record,
                    now,
                );
            }
            record.reason = hop.reason.clone();
            record.state = hop.state.clone();
            if record.gateway != gateway.name {
                record.gateway = gateway.name.clone();
            }
            record.last_hop_ms = unix_ms(now);
            let flow = flows
                .version(&record.flow_id, record.flow_version)
                .ok_or_else(|| HopError::FlowGone(record.flow_id.clone(), record.flow_version))?;
            let completed = matches!(record.state.at, At::Done(_));
            // On a Redis Cluster the response is queued before the save, not inside it: never
            // queue one computed from a cached copy; redo from the store's.
            if completed && self.sessions.queues_apart() && !fresh && expected != 0 {
                fresh = true;
                continue;
            }
            let mut body = None;
            let mut sinks: Vec<String> = Vec::new();
            let owner_tag = key.owner_tag();
            if completed {
                claim = Claim::Complete;
                // Made durable before the save (the journal, a Cluster's outbox): the survey
                // is marked done first, so that no other session can complete it too.
                if (!self.sessions.holds_outbox() || self.sessions.queues_apart())
                    && !self
                        .sessions
                        .reserve_completion(&key.respondent, &record.response_id, owner_tag)
                        .await?
                {
                    return Ok((
                        self.superseded(gateway, flow, &record),
                        HopResult::Superseded,
                        Some(flow.id.clone()),
                    ));
                }
                let mut response = response(flow, &gateway.name, &record, now);
                let declined = flow.consent.filter(|c| c.declined(&record.state));
                if declined.is_some() {
                    // A refusal records no answer: at most that someone declined.
                    response.status = "declined".into();
                    response.answers.clear();
                }
                if declined.is_none_or(|c| c.count_refusals) {
                    sinks = self.recorder.sinks_for(&flow.id);
                    // Embedded mode: durable in the journal before the respondent sees the end.
                    body = self
                        .recorder
                        .record(&response, self.sessions.holds_outbox())
                        .await?;
                }
            }
            // Only a completion queues anything: no id formatted on the other hops.
            let rid = body.as_ref().map(|_| record.response_id.to_string());
            let enqueue = body
                .as_deref()
                .zip(rid.as_deref())
                .map(|(body, rid)| Enqueue {
                    response_id: rid,
                    body,
                    sinks: &sinks,
                });
            match self
                .sessions
                .save(
                    &key,
                    &record,
                    expected,
                    gateway.session_ttl_for(flow),
                    resume_write(&hop),
                    enqueue.as_ref(),
                    Ownership {
                        tag: owner_tag,
                        claim,
                    },
                )
                .await?
            {
                Saved::Stored => {
                    if expected == 0 {
                        self.metrics.session_started(&gateway.name, &flow.id);
                    }
                    if completed {
                        self.metrics.completed(&gateway.name, &flow.id);
                        self.recorder.queued(&sinks);
                    }
                    log_events(
                        flow,
                        gateway,
                        &record,
                        expected == 0,
                        &hop.events,
                        &self.metrics.activity,
                    );
                    let rendered = record.channel.render(
                        flow,
                        &record.state,
                        record.reason.as_ref(),
                        record.cursor.len,
                        &gateway.render,
                    );
                    let result = if completed {
                        HopResult::Completed
                    } else {
                        HopResult::Served
                    };
                    return Ok((rendered, result, Some(flow.id.clone())));
                }
                Saved::Conflict => fresh = false,
                Saved::Superseded => {
                    return Ok((
                        self.superseded(gateway, flow, &record),
                        HopResult::Superseded,
                        Some(flow.id.clone()),
                    ));
                }
            }
        }
        Err(HopError::Contended)
    }

    /// The end of a session whose survey went on in another session (or was completed there).
    fn superseded(
        &self,
        gateway: &ConfiguredGateway,
        flow: &CompiledFlow,
        record: &SessionRecord,
    ) -> Rendered {
        let respondent = SessionKey::tag(&record.respondent);
        tracing::debug!(gateway = %gateway.name, respondent = &respondent[..respondent.len().min(16)], flow = %flow.id, response = %record.response_id, "session superseded: the survey went on in another session");
        let text = flow
            .locales
            .get(record.state.lang as usize)
            .map(|loc| loc.engine_text("survey-superseded", None))
            .unwrap_or_default();
        channel::notice(gateway.channel(), &text, &gateway.render)
    }

    /// Delivers surveys abandoned for good (resume window over) as partial responses, for
    /// the flows that ask for them (`partials = true`). Returns how many were queued.
    ///
    /// A record leaves the store only after its response is queued: a failure or a stop
    /// half-way leaves the rest for the next sweep, and a crash between the two queues the
    /// same response id again (at least once, never a different id).
    pub async fn sweep_abandoned(&self, now: OffsetDateTime) -> Result<usize, HopError> {
        let flows = self.flows();
        let mut queued = 0;
        for record in self.sessions.find_abandoned(1000).await? {
            let flow = flows.version(&record.flow_id, record.flow_version);
            let Some(flow) = flow.filter(|f| {
                f.partials
                    && !record.state.history.is_empty()
                    && record.state.fits(f)
                    && f.consent.is_none_or(|c| c.given(&record.state))
            }) else {
                // Nothing to deliver (no partials wanted, nothing answered, no consent given
                // yet, or a flow version no longer loaded).
                self.sessions.forget_abandoned(&record).await?;
                continue;
            };
            // As it was left: the gateway and the time of its last answer, not of the sweep.
            let left_at =
                OffsetDateTime::from_unix_timestamp_nanos(record.last_hop_ms as i128 * 1_000_000)
                    .unwrap_or(now);
            let mut response = response(flow, &record.gateway, &record, left_at);
            response.status = "partial".into();
            let sinks = self.recorder.sinks_for(&flow.id);
            if let Some(body) = self
                .recorder
                .record(&response, self.sessions.holds_outbox())
                .await?
            {
                self.sessions
                    .enqueue(&Enqueue {
                        response_id: &response.id,
                        body: &body,
                        sinks: &sinks,
                    })
                    .await?;
            }
            self.sessions.forget_abandoned(&record).await?;
            self.recorder.queued(&sinks);
            let step = record
                .state
                .resume_point()
                .and_then(|i| flow.steps.get(i as usize))
                .map_or("-", |s| s.id.as_str());
            let language = flow
                .languages
                .get(record.state.lang as usize)
                .map_or("-", String::as_str);
            self.metrics.abandoned(&flow.id, language, step);
            tracing::info!(flow = %flow.id, response = %response.id, "unfinished survey queued as a partial response");
            queued += 1;
        }
        Ok(queued)
    }

    /// A new session: the resume offer when the respondent left this survey unfinished
    /// (and its version is still served), else the first screen. Input already carried by
    /// the first hop answers that screen.
    #[allow(clippy::too_many_arguments)]
    async fn open(
        &self,
        flows: &FlowSet,
        flow: &Arc<CompiledFlow>,
        key: &SessionKey,
        gateway: &ConfiguredGateway,
        inbound: &Inbound,
        address: &str,
        ctx: &HopContext,
        now: OffsetDateTime,
        prefetched: Option<Option<SessionRecord>>,
    ) -> Result<(SessionRecord, Hop, bool), HopError> {
        let saved = match prefetched {
            Some(saved) => saved.filter(|s| s.flow_id == flow.id),
            None => self.sessions.load_resume(&key.respondent, &flow.id).await?,
        };
        let resumed = saved.and_then(|saved| {
            let pinned = flows.version(&saved.flow_id, saved.flow_version)?;
            if !saved.state.fits(pinned) {
                return None;
            }
            let hop = engine::offer_resume(pinned, &saved.state)?;
            Some((pinned.clone(), saved, hop))
        });
        let fresh_memory = ChannelMemory::fresh(gateway.channel());
        let taken_over = resumed.is_some();
        let (flow, record, mut hop) = match resumed {
            Some((pinned, saved, hop)) => {
                // Resumed on this gateway's session: its address, cursor and channel.
                let record = SessionRecord {
                    network: inbound.network.clone(),
                    address: address_tag(address),
                    cursor: InputCursor::START,
                    channel: fresh_memory,
                    ..saved
                };
                (pinned, record, hop)
            }
            None => {
                let response_id = uuid::Uuid::now_v7();
                let hop = engine::start(flow, None, &receipt_of(&response_id));
                let record = SessionRecord {
                    network: inbound.network.clone(),
                    ..SessionRecord::opened(
                        flow,
                        response_id,
                        key,
                        address,
                        fresh_memory,
                        hop.state.clone(),
                        unix_ms(now),
                    )
                };
                (flow.clone(), record, hop)
            }
        };
        // A first hop may already carry input (a shared code's extension, or a session the
        // gateway opened earlier): it answers the first screen.
        let mut record = record;
        // Each input taken on the first screen keeps the events of the opening.
        let take = |record: &mut SessionRecord, hop: &mut Hop, input: Input<'_>| {
            let (mut next, memory) =
                record
                    .channel
                    .step(&flow, &hop.state, None, input, ctx, &gateway.render);
            let mut events = std::mem::take(&mut hop.events);
            events.append(&mut next.events);
            next.events = events;
            *hop = next;
            record.channel = memory;
        };
        if let Progress::New(input) = gateway.adapter.progress(&InputCursor::START, inbound) {
            take(&mut record, &mut hop, heard(inbound, input));
        }
        // The channel may answer for the respondent (one language offered on a call).
        if let Some(input) = record.channel.opening(&flow, &hop.state, &gateway.render) {
            take(&mut record, &mut hop, Input::Keys(&input));
        }
        Ok((record, hop, taken_over))
    }
}

/// The input of a hop as its channel takes it: a recording when the gateway made one.
fn heard<'h>(inbound: &'h Inbound, keys: &'h str) -> Input<'h> {
    match &inbound.recording {
        Some(recording) => Input::Recording(recording),
        None => Input::Keys(keys),
    }
}

/// What a save does to the resume record: it follows the answers; a re-ask or a page turn
/// changes nothing worth resuming and is not written again. (The browser simulator keeps
/// its resume state by the same rule.)
pub fn resume_write(hop: &Hop) -> ResumeWrite {
    let completed = matches!(hop.state.at, At::Done(_));
    let answered = hop.events.iter().any(|e| {
        matches!(
            e,
            Event::Answered(_) | Event::Skipped(_) | Event::WentBack(_) | Event::Resumed(_)
        )
    });
    if completed || hop.events.contains(&Event::Restarted) {
        ResumeWrite::Clear
    } else if answered && hop.state.resume_point().is_some() {
        ResumeWrite::Keep
    } else {
        ResumeWrite::Untouched
    }
}

/// "Start again": a new response (new id and receipt) on the newest version of the flow
/// (`newest`), in the language the respondent already chose on the version they were on.
fn restart(
    newest: &CompiledFlow,
    old: Option<&Arc<CompiledFlow>>,
    record: SessionRecord,
    now: OffsetDateTime,
) -> (SessionRecord, Hop) {
    let response_id = uuid::Uuid::now_v7();
    let lang = old
        .and_then(|f| f.languages.get(record.state.lang as usize))
        .and_then(|tag| newest.language_index(tag));
    let mut hop = engine::start(newest, lang, &receipt_of(&response_id));
    hop.events.insert(0, Event::Restarted);
    let record = SessionRecord {
        flow_version: newest.version,
        response_id,
        started_at_ms: unix_ms(now),
        channel: record.channel.restarted(),
        ..record
    };
    (record, hop)
}

fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Logs carry the pseudonym (shortened), flow and step ids: never answers or numbers. Every
/// line is at `debug`: `info` has the periodic summary ([`crate::activity`]) instead, which
/// costs a hop nothing.
fn log_events(
    flow: &CompiledFlow,
    gateway: &ConfiguredGateway,
    rec: &SessionRecord,
    new_session: bool,
    events: &[Event],
    activity: &crate::activity::Activity,
) {
    for e in events {
        match e {
            Event::Resumed(_) => activity.resumed(),
            Event::GaveUp(_) => activity.gave_up(),
            _ => {}
        }
    }
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
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
                tracing::debug!(gateway = %gateway.name, respondent, flow = %flow.id, version = flow.version, step = step_id(*s), response = %rec.response_id, "survey completed")
            }
            Event::GaveUp(s) => {
                tracing::debug!(gateway = %gateway.name, respondent, flow = %flow.id, step = step_id(*s), "session closed after too many wrong answers")
            }
            Event::Resumed(s) => {
                tracing::debug!(gateway = %gateway.name, respondent, flow = %flow.id, step = step_id(*s), "survey resumed")
            }
            Event::Restarted => {
                tracing::debug!(gateway = %gateway.name, respondent, flow = %flow.id, "survey started again")
            }
        }
    }
}
