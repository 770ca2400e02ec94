//! `POST /simulator/hop` bodies, read as hostile: bounded, strictly shaped JSON, checked
//! against the flows and budgets served before anything runs; each refusal says why.

use std::sync::Arc;

use serde::Deserialize;

use super::catalogue::BudgetChoice;
use crate::flow::{CompiledFlow, FlowSet};
use crate::gsm7::Budget;

/// The largest hop body taken: a few short fields.
pub const MAX_BODY_BYTES: usize = 2048;
/// The longest input: a USSD message holds at most 182 characters.
pub const MAX_INPUT_CHARS: usize = 182;
const MAX_SESSION_CHARS: usize = 64;

/// A request refused with a 4xx status and a reason for the person at the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
}

impl Refusal {
    pub fn bad(reason: impl Into<String>) -> Refusal {
        Refusal {
            status: 400,
            reason: reason.into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHop {
    session: String,
    flow: String,
    #[serde(default)]
    lang: Option<String>,
    budget: String,
    /// Absent or null: dial (a new session).
    #[serde(default)]
    input: Option<String>,
}

/// A checked hop: who, on which flow, language and budget, and what was typed.
#[derive(Debug)]
pub struct HopRequest {
    pub session: String,
    pub flow: Arc<CompiledFlow>,
    /// `None`: the language screen, as a dialled gateway shows it.
    pub lang: Option<u8>,
    pub budget: Budget,
    /// `None`: dial.
    pub input: Option<String>,
}

/// `unknown <what> "<given>" (offered: a, b)`: the given value quoted and escaped.
fn unknown<'a>(what: &str, given: &str, offered: impl Iterator<Item = &'a str>) -> Refusal {
    let offered: Vec<&str> = offered.collect();
    Refusal::bad(format!(
        "unknown {what} {given:?} (offered: {})",
        offered.join(", ")
    ))
}

/// Reads and checks a hop body.
pub fn parse_hop(
    body: &[u8],
    flows: &FlowSet,
    budgets: &[BudgetChoice],
) -> Result<HopRequest, Refusal> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Refusal {
            status: 413,
            reason: format!("body larger than {MAX_BODY_BYTES} bytes"),
        });
    }
    let raw: RawHop = serde_json::from_slice(body)
        .map_err(|e| Refusal::bad(format!("invalid JSON body: {e}")))?;
    let session_ok = (1..=MAX_SESSION_CHARS).contains(&raw.session.len())
        && raw
            .session
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !session_ok {
        return Err(Refusal::bad(format!(
            "field `session`: 1 to {MAX_SESSION_CHARS} letters, digits, `-` or `_`"
        )));
    }
    let flow = flows
        .current()
        .find(|f| f.id == raw.flow)
        .cloned()
        .ok_or_else(|| unknown("flow", &raw.flow, flows.current().map(|f| f.id.as_str())))?;
    let lang = match raw.lang.as_deref() {
        None | Some("") => None,
        Some(tag) => Some(
            (tag.len() <= 35)
                .then(|| flow.language_index(tag))
                .flatten()
                .ok_or_else(|| {
                    Refusal::bad(format!(
                        "flow `{}` is not offered in {tag:?} (offered: {})",
                        flow.id,
                        flow.languages.join(", ")
                    ))
                })?,
        ),
    };
    let budget = budgets
        .iter()
        .find(|b| b.id == raw.budget)
        .map(BudgetChoice::budget)
        .ok_or_else(|| unknown("budget", &raw.budget, budgets.iter().map(|b| b.id.as_str())))?;
    if let Some(input) = &raw.input {
        if input.chars().count() > MAX_INPUT_CHARS {
            return Err(Refusal::bad(format!(
                "field `input`: longer than a USSD message ({MAX_INPUT_CHARS} characters)"
            )));
        }
        if input.chars().any(char::is_control) {
            return Err(Refusal::bad(
                "field `input`: control characters cannot be typed on a phone",
            ));
        }
    }
    Ok(HopRequest {
        session: raw.session,
        flow,
        lang,
        budget,
        input: raw.input,
    })
}
