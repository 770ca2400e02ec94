//! The flow file as written: serde structures that keep the position of every field,
//! so that `compile` can point at file:line. Nothing here is used on the hot path.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    /// Version of the flow format itself; this build reads spec 1.
    pub spec: Spanned<u32>,
    pub id: Spanned<String>,
    /// The survey's own version, pinned by sessions and written into every response.
    pub version: Spanned<u32>,
    pub languages: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub default_language: Option<Spanned<String>>,
    #[serde(default)]
    pub ask_language: Option<bool>,
    #[serde(default)]
    pub ussd: Vec<Spanned<String>>,
    /// Phone numbers whose calls this flow answers (voice).
    #[serde(default)]
    pub voice: Vec<Spanned<String>>,
    /// How long an SMS conversation on this flow waits for the next answer (default the
    /// gateway's, `[sms] session_ttl_secs`).
    #[serde(default)]
    pub sms_session_ttl_secs: Option<Spanned<u64>>,
    #[serde(default)]
    pub max_attempts: Option<Spanned<u8>>,
    #[serde(default)]
    pub partials: bool,
    /// The step where the respondent agrees to take part (`consent = { step = "consent" }`).
    #[serde(default)]
    pub consent: Option<Spanned<RawConsent>>,
    #[serde(default)]
    pub nav: Option<Spanned<RawNav>>,
    #[serde(default)]
    pub lists: BTreeMap<String, Spanned<RawList>>,
    #[serde(default, rename = "step")]
    pub steps: Vec<Spanned<RawStep>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsent {
    /// A choice step.
    pub step: Spanned<String>,
    /// Its option that means "I agree" (default `yes`); any other declines.
    #[serde(default)]
    pub agree: Option<Spanned<String>>,
    /// Whether a refusal is recorded (as a response with status `declined` and no answers).
    #[serde(default)]
    pub count_refusals: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNav {
    pub back: Option<String>,
    pub typed_back: Option<String>,
    pub more: Option<String>,
    pub prev: Option<String>,
    pub skip: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawList {
    pub options: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RawKind {
    Choice,
    Multi,
    Text,
    Number,
    Date,
    Info,
    End,
}

impl RawKind {
    pub fn name(self) -> &'static str {
        match self {
            RawKind::Choice => "choice",
            RawKind::Multi => "multi",
            RawKind::Text => "text",
            RawKind::Number => "number",
            RawKind::Date => "date",
            RawKind::Info => "info",
            RawKind::End => "end",
        }
    }
}

/// One `[[step]]` table. Every kind shares this shape so that serde keeps field positions
/// (an internally tagged enum would lose them); `compile` rejects fields a kind does not use.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub id: Spanned<String>,
    pub kind: Spanned<RawKind>,
    #[serde(default)]
    pub required: Option<Spanned<bool>>,
    #[serde(default)]
    pub when: Option<Spanned<String>>,
    #[serde(default)]
    pub next: Option<Spanned<String>>,
    // choice, multi
    #[serde(default)]
    pub options: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub list: Option<Spanned<String>>,
    #[serde(default)]
    pub goto: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    #[serde(default)]
    pub min_selected: Option<Spanned<u16>>,
    #[serde(default)]
    pub max_selected: Option<Spanned<u16>>,
    // text
    #[serde(default)]
    pub min_len: Option<Spanned<u16>>,
    #[serde(default)]
    pub max_len: Option<Spanned<u16>>,
    // number, date
    #[serde(default)]
    pub min: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub max: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub decimal: Option<Spanned<bool>>,
    #[serde(default)]
    pub format: Option<Spanned<String>>,
}
