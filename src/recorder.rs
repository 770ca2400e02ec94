//! Where a finished survey goes: built into a [`Response`], made durable before the
//! respondent hears the end (the journal in embedded mode, the save's own outbox write with
//! Redis), and counted for each sink that takes its flow.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::flow::CompiledFlow;
use crate::journal::{Journal, JournalError};
use crate::metrics::Metrics;
use crate::response::{Response, SCHEMA_VERSION, answers_json};
use crate::session::SessionRecord;

/// Records finished (and abandoned) surveys.
pub struct Recorder {
    /// Embedded mode's outbox; none with Redis, whose streams are the outbox.
    journal: Option<Journal>,
    /// Sinks by name, with the flows each takes (empty: every flow).
    sinks: Vec<(String, Vec<String>)>,
    metrics: Arc<Metrics>,
}

impl Recorder {
    pub fn new(
        journal: Option<Journal>,
        sinks: Vec<(String, Vec<String>)>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Recorder {
            journal,
            sinks,
            metrics,
        }
    }

    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    /// The sinks that take `flow_id`'s responses.
    pub fn sinks_for(&self, flow_id: &str) -> Vec<String> {
        self.sinks
            .iter()
            .filter(|(_, flows)| flows.is_empty() || flows.iter().any(|f| f == flow_id))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Makes `response` durable. Without an outbox in the session store it is appended to the
    /// journal (fsynced) now and `None` is returned; with one, its body is returned, to be
    /// queued by the same write that saves the session.
    pub async fn record(
        &self,
        response: &Response,
        store_holds_outbox: bool,
    ) -> Result<Option<Vec<u8>>, JournalError> {
        if !store_holds_outbox {
            let journal = self.journal.as_ref().ok_or(JournalError::Closed)?;
            journal.append(response).await?;
            return Ok(None);
        }
        serde_json::to_vec(response)
            .map(Some)
            .map_err(|e| JournalError::Write(std::io::Error::other(e)))
    }

    /// Counts a response queued for `sinks`.
    pub fn queued(&self, sinks: &[String]) {
        for s in sinks {
            self.metrics.sink(s).queued.increment(1);
        }
    }
}

/// The response for a session's record: `complete` when it reached an end step.
pub fn response(
    flow: &CompiledFlow,
    gateway: &str,
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
        channel: rec.channel.channel().name().into(),
        gateway: gateway.to_owned(),
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
