//! The record of a survey: metadata plus every answer keyed by step id, with option codes
//! and labels in the flow's first language. Schema: docs/response-schema.md.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::engine::SessionState;
use crate::flow::CompiledFlow;
use crate::question::{Answer, Question};

/// Version of the response schema written in every record.
pub const SCHEMA_VERSION: u32 = 1;

/// A finished (or, later, partial) survey as it is written and delivered.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Response {
    pub schema: u32,
    /// UUIDv7: time-ordered, and the idempotency key downstream.
    pub id: String,
    pub flow: String,
    pub flow_version: u32,
    /// `complete` or `partial`.
    pub status: String,
    /// The channel's name (`ussd`; `voice` and `sms` next), or `simulator`.
    pub channel: String,
    pub gateway: String,
    pub language: String,
    /// Keyed HMAC of the phone number; never the number itself.
    pub respondent: String,
    pub network: Option<String>,
    pub started_at: String,
    pub completed_at: String,
    pub answers: Map<String, Value>,
}

/// What delivery reads of a queued response: its id, flow and completion time, enough to
/// schedule it, filter it by flow and dead-letter it. The bytes go to the sink as they were
/// queued, so a worker does not parse what it only forwards; only a sink that rebuilds the
/// response (OpenRosa's XML) reads it whole. A full parse of each entry was a third of a
/// worker's instructions (BENCHMARKS.md).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ResponseHead {
    pub id: String,
    pub flow: String,
    pub completed_at: String,
}

/// Answers in the order they were given, keyed by step id.
pub fn answers_json(flow: &CompiledFlow, state: &SessionState) -> Map<String, Value> {
    let first = &flow.locales[0];
    let mut out = Map::new();
    for &step in &state.history {
        let Some(answer) = state.answer(step) else {
            continue;
        };
        let s = &flow.steps[step as usize];
        let labels = &first.steps[step as usize].labels;
        let codes = s.question.options().map(|o| &o.codes);
        let value = match answer {
            Answer::Choice(o) => json!({
                "value": codes.map(|c| c[*o as usize].clone()),
                "label": labels.get(*o as usize).map(|l| &l.text),
            }),
            Answer::Multi(os) => json!({
                "value": os.iter().map(|o| codes.map(|c| c[*o as usize].clone())).collect::<Vec<_>>(),
                "labels": os.iter().map(|o| labels.get(*o as usize).map(|l| &l.text)).collect::<Vec<_>>(),
            }),
            Answer::Text(t) => json!({ "value": t }),
            // Marked as audio: collectors fetch the recording from the gateway's URL.
            Answer::Audio { url, secs } => {
                json!({ "value": url, "audio": true, "duration_secs": secs })
            }
            Answer::Integer(n) => json!({ "value": n }),
            Answer::Decimal(n) => json!({ "value": n }),
            Answer::Date(d) => {
                json!({ "value": format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day()) })
            }
            Answer::Skipped => json!({ "value": null, "skipped": true }),
        };
        if !matches!(s.question, Question::Info) {
            out.insert(s.id.clone(), value);
        }
    }
    out
}

/// The letters a receipt code may hold (Crockford base32: no I, L, O, U).
pub const RECEIPT_LETTERS: &str = "ABCDEFGHJKMNPQRSTVWXYZ";

/// A short code for the closing screen, derived from the random part of the response id:
/// four characters of Crockford base32 (no I, L, O, U), easy to read out on the phone.
pub fn receipt_of(id: &uuid::Uuid) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bytes = id.as_bytes();
    let mut bits = u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    let mut out = String::with_capacity(4);
    for _ in 0..4 {
        out.push(ALPHABET[(bits & 31) as usize] as char);
        bits >>= 5;
    }
    out
}
