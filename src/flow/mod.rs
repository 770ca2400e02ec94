//! Survey flows: the TOML model, loading with file:line errors, and compilation into an
//! indexed [`CompiledFlow`] (steps by index, texts pre-formatted per language).

pub mod compile;
pub mod expr;
pub mod raw;
pub mod set;
pub mod texts;

use std::path::PathBuf;
use std::sync::Arc;

use crate::gsm7::Text;
use crate::i18n::Bundle;
use crate::question::Question;

pub use compile::{compile_file, load_dir};
pub use expr::Expr;
pub use set::{FlowSet, LiveFlows, Reloaded};
pub use texts::{Arg, FlowLocale, NavTexts, Prompt, RECEIPT_ARG, StepTexts};

/// Index of a step in its flow; every reference is resolved to one at load time.
pub type StepIdx = u16;

/// The flow format this build reads.
pub const SPEC_VERSION: u32 = 1;

/// The keys respondents type to move around; see docs/flow-format.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NavKeys {
    /// Back to the previous question, on menus.
    pub back: String,
    /// Back on questions answered by typing (where `0` may be an answer).
    pub typed_back: String,
    /// Next page of a long screen.
    pub more: String,
    /// Previous page.
    pub prev: String,
    /// Skip an optional question.
    pub skip: String,
}

impl Default for NavKeys {
    fn default() -> Self {
        NavKeys {
            back: "0".into(),
            typed_back: "00".into(),
            more: "98".into(),
            prev: "99".into(),
            skip: "000".into(),
        }
    }
}

/// One step of a flow, checked and resolved.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub question: Question,
    /// Asked only when this holds (skip logic).
    pub when: Option<Expr>,
    /// Where to go after this step (unless a choice's `goto` says otherwise); `None` for `end`.
    pub next: Option<StepIdx>,
    pub required: bool,
    /// Line of the step in its flow file, for messages.
    pub line: usize,
}

/// Where a respondent agrees to take part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consent {
    /// A choice step.
    pub step: StepIdx,
    /// The option index that means "I agree".
    pub agree: u16,
    /// Whether a refusal is delivered (status `declined`, no answers) or not at all.
    pub count_refusals: bool,
}

impl Consent {
    /// Whether `state` holds a refusal.
    pub fn declined(&self, state: &crate::engine::SessionState) -> bool {
        state.answers.iter().any(|(step, a)| {
            *step == self.step
                && matches!(a, crate::question::Answer::Choice(o) if *o != self.agree)
        })
    }

    /// Whether `state` holds the respondent's agreement.
    pub fn given(&self, state: &crate::engine::SessionState) -> bool {
        state.answers.iter().any(|(step, a)| {
            *step == self.step
                && matches!(a, crate::question::Answer::Choice(o) if *o == self.agree)
        })
    }
}

/// The language screen, shown first when a flow offers several languages.
#[derive(Debug, Clone)]
pub struct LanguageScreen {
    pub prompt: String,
    /// Each language's name, in its own language, in the order of `languages`.
    pub options: Vec<Text>,
}

/// A flow ready for the hot path: no string look-ups, no parsing, texts measured.
#[derive(Debug, Clone)]
pub struct CompiledFlow {
    pub id: String,
    pub version: u32,
    pub path: PathBuf,
    /// Offered languages (two-letter codes), in the order of the language screen.
    pub languages: Vec<String>,
    /// Index into `languages`.
    pub default_language: u8,
    pub ask_language: bool,
    /// USSD service codes routed to this flow.
    pub ussd: Vec<String>,
    /// Called numbers routed to this flow (voice), `+` and digits.
    pub voice: Vec<String>,
    /// Life of an SMS conversation on this flow after its last message, when the flow sets
    /// one (otherwise the gateway's).
    pub sms_session_ttl: Option<std::time::Duration>,
    /// Wrong answers to one question before the session is closed.
    pub max_attempts: u8,
    /// Whether unfinished surveys are delivered as partial responses.
    pub partials: bool,
    /// The consent step, when the flow names one: nothing is asked before it, and a refusal
    /// records no answer.
    pub consent: Option<Consent>,
    pub nav: NavKeys,
    pub steps: Vec<Step>,
    /// Texts per language, in the order of `languages`.
    pub locales: Vec<FlowLocale>,
    pub language_screen: Option<LanguageScreen>,
    /// Hash of the flow file (its structure): a flow whose structure changed without a new
    /// `version` is refused at reload, since sessions pinned to that version would break.
    pub fingerprint: u64,
    /// Hash of every translation it uses: texts may be corrected in place, without a new version.
    pub texts_fingerprint: u64,
    /// The USSD renderer's numbered lines for this flow, made once at load time (the engine
    /// never reads them; other renderers work from `locales`).
    pub ussd_lines: crate::render::ussd::UssdLines,
    /// The voice renderer's lines and engine texts for this flow, made once at load time.
    pub voice_lines: crate::render::voice::VoiceLines,
}

impl CompiledFlow {
    pub fn step_index(&self, id: &str) -> Option<StepIdx> {
        self.steps
            .iter()
            .position(|s| s.id == id)
            .map(|i| i as StepIdx)
    }

    pub fn language_index(&self, tag: &str) -> Option<u8> {
        let lang = crate::i18n::normalize(tag)?;
        self.languages
            .iter()
            .position(|l| *l == lang)
            .map(|i| i as u8)
    }

    /// Bundles of this flow's texts, in fallback order for language `lang`.
    pub fn flow_chain(&self, lang: u8) -> &[Arc<Bundle>] {
        &self.locales[lang as usize].flow_chain
    }
}
