//! A flow's texts in one language, resolved from Fluent at load time: static prompts and
//! option labels are formatted and measured once; only prompts that echo earlier answers are
//! formatted per hop. No channel's numbering or layout is baked in: renderers add those.

use std::sync::Arc;

use super::StepIdx;
use crate::gsm7::Text;
use crate::i18n::Bundle;

/// A step's prompt in one language.
#[derive(Debug, Clone)]
pub enum Prompt {
    Static(String),
    /// A message with `{ $step }` arguments, formatted at each hop from the answers.
    Dynamic {
        id: String,
        args: Vec<(String, Arg)>,
    },
}

/// Where a Fluent argument of a prompt comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// The answer to this step.
    Answer(StepIdx),
    /// The session's short receipt code (`{ $receipt }`), which a respondent can quote when
    /// a partner follows the report up; it is not linked to the phone number.
    Receipt,
}

/// The argument name of the receipt code.
pub const RECEIPT_ARG: &str = "receipt";

#[derive(Debug, Clone)]
pub struct StepTexts {
    pub prompt: Prompt,
    /// Option labels, in option order, without numbers (`Oui`).
    pub labels: Vec<Text>,
    /// The flow's own explanation for a wrong answer (`<step>-invalid`), if it has one.
    pub invalid: Option<String>,
}

/// The engine's labels for navigation, in one language (`Retour`); the keys that go with
/// them are the flow's ([`NavKeys`](super::NavKeys)).
#[derive(Debug, Clone)]
pub struct NavTexts {
    pub back: Text,
    /// Next page of a long screen (channels that paginate).
    pub more: Text,
    /// Previous page.
    pub prev: Text,
    pub skip: Text,
    /// `Continuer`, the one choice of an info screen.
    pub next: Text,
    /// The offer made to a respondent who comes back with a survey unfinished.
    pub resume_prompt: String,
    /// `Continuer`, `Recommencer`.
    pub resume_options: Vec<Text>,
}

#[derive(Clone)]
pub struct FlowLocale {
    pub lang: String,
    /// This flow's bundles, in fallback order (respondent's language first).
    pub flow_chain: Vec<Arc<Bundle>>,
    /// The engine's bundles (`sauti.ftl`), in the same order.
    pub engine_chain: Vec<Arc<Bundle>>,
    pub steps: Vec<StepTexts>,
    pub nav: NavTexts,
}

impl FlowLocale {
    /// An engine message in this language (falling back along the chain).
    pub fn engine_text(&self, id: &str, args: Option<&fluent_bundle::FluentArgs<'_>>) -> String {
        crate::i18n::format(&self.engine_chain, id, args).unwrap_or_else(|| id.to_owned())
    }
}

impl std::fmt::Debug for FlowLocale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowLocale")
            .field("lang", &self.lang)
            .field("steps", &self.steps)
            .field("nav", &self.nav)
            .finish_non_exhaustive()
    }
}
