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
    let t = t.to_offset(time::UtcOffset::UTC);
    let year = t.year();
    if !(0..=9999).contains(&year) {
        let fmt = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        return t.format(&fmt).unwrap_or_default();
    }
    // Digits into a fixed buffer: every completion stamps two of these, and going through a
    // format description cost 1.9k instructions each (BENCHMARKS.md).
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, u8::from(t.month()).into());
    put(8, 2, t.day().into());
    put(11, 2, t.hour().into());
    put(14, 2, t.minute().into());
    put(17, 2, t.second().into());
    put(20, 3, t.millisecond().into());
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    /// What `time`'s own formatting gives: the written stamp must not change.
    fn reference(t: OffsetDateTime) -> String {
        let fmt = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        t.to_offset(time::UtcOffset::UTC).format(&fmt).unwrap()
    }

    #[test]
    fn stamps_are_rfc3339_utc_with_milliseconds_as_before() {
        let at = |ms: i128| OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).unwrap();
        assert_eq!(
            super::rfc3339(at(1_773_480_067_123)),
            "2026-03-14T09:21:07.123Z"
        );
        assert_eq!(super::rfc3339(at(0)), "1970-01-01T00:00:00.000Z");
        // Other offsets are written in UTC.
        let kinshasa = at(1_773_480_067_005).to_offset(time::UtcOffset::from_hms(1, 0, 0).unwrap());
        assert_eq!(super::rfc3339(kinshasa), "2026-03-14T09:21:07.005Z");
        // A spread of instants, leap days and year ends included.
        let mut ms: i128 = -62_135_596_800_000; // 0001-01-01
        while ms < 253_402_300_799_999 {
            assert_eq!(super::rfc3339(at(ms)), reference(at(ms)), "{ms}");
            ms += 7_919_777_777_777;
        }
        for ms in [951_782_400_000, 1_709_164_800_999, 253_402_300_799_999] {
            assert_eq!(super::rfc3339(at(ms)), reference(at(ms)), "{ms}");
        }
    }
}
