//! What the respondent is to be told next, in no channel's terms: a question with its
//! choices, input kind and allowed navigation, or the closing message. Renderers (USSD
//! screens, voice prompts, SMS) turn a [`View`] into what their channel delivers.

use std::borrow::Cow;

use fluent_bundle::{FluentArgs, FluentValue};

use super::state::{At, SessionState};
use crate::flow::{Arg, CompiledFlow, FlowLocale, Prompt, StepIdx};
use crate::gsm7::Text;
use crate::question::{Answer, Invalid, Question};

/// The next thing the respondent is told.
#[derive(Debug, Clone)]
pub enum View<'f> {
    /// A question (or the language menu, or the resume offer) waiting for an input.
    Ask(Ask<'f>),
    /// The conversation is over.
    End(Closing<'f>),
}

/// A question waiting for an input.
#[derive(Debug, Clone)]
pub struct Ask<'f> {
    /// Index of the respondent's language in the flow.
    pub lang: u8,
    /// What is asked: a step, the language menu or the resume offer.
    pub asking: Asking,
    /// Why the previous input was refused, to say before the question again.
    pub reason: Option<Message<'f>>,
    pub prompt: Message<'f>,
    /// The choices, answered with keys `1`..`n` in this order (empty for typed answers).
    pub choices: &'f [Text],
    pub input: InputKind,
    /// Back to the previous question, when there is one.
    pub back: Option<NavOption<'f>>,
    /// Skip this question, when it is optional.
    pub skip: Option<NavOption<'f>>,
}

/// What an [`Ask`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asking {
    Language,
    Resume,
    Step(StepIdx),
}

/// The closing message of a conversation.
#[derive(Debug, Clone)]
pub struct Closing<'f> {
    pub lang: u8,
    pub message: Message<'f>,
    /// The survey reached an `end` step (rather than being closed after wrong answers).
    pub complete: bool,
}

/// How the respondent answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InputKind {
    /// One of the choices.
    Choice,
    /// Several of the choices.
    Choices { min: u16, max: u16 },
    /// A number, typed.
    Number { decimal: bool },
    /// A date, typed as digits.
    Date,
    /// Free text (spoken, where a channel records).
    Text { max_len: u16 },
    /// Anything goes on: an information screen.
    Continue,
}

/// A navigation key the step accepts besides its answers.
#[derive(Debug, Clone, Copy)]
pub struct NavOption<'f> {
    pub key: &'f str,
    pub label: &'f Text,
}

/// A translated message: its Fluent id (for channels that play a recording per message)
/// and its text in the respondent's language, arguments filled in.
#[derive(Debug, Clone)]
pub struct Message<'f> {
    pub id: Cow<'f, str>,
    pub text: Cow<'f, str>,
    args: Args<'f>,
}

/// Where a message's arguments come from.
#[derive(Debug, Clone)]
enum Args<'f> {
    /// A prompt's: read from the answers only when a renderer asks ([`Message::args`]), since
    /// a screen needs only the text.
    Answers {
        flow: &'f CompiledFlow,
        loc: &'f FlowLocale,
        state: &'f SessionState,
        spec: &'f [(String, Arg)],
    },
    Given(Vec<(Cow<'f, str>, Said<'f>)>),
}

impl<'f> Message<'f> {
    /// The arguments the text was formatted with, for channels that say them piece by piece.
    pub fn args(&self) -> Vec<(Cow<'f, str>, Said<'f>)> {
        match &self.args {
            Args::Given(given) => given.clone(),
            Args::Answers {
                flow,
                loc,
                state,
                spec,
            } => spec
                .iter()
                .map(|(name, arg)| (Cow::Borrowed(name.as_str()), said(flow, loc, state, *arg)))
                .collect(),
        }
    }
}

/// An argument of a message, as the respondent gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum Said<'f> {
    /// The option picked in a choice step.
    Choice {
        step: StepIdx,
        option: u16,
        label: &'f str,
    },
    /// The options picked in a multi step.
    Choices {
        step: StepIdx,
        options: &'f [u16],
        labels: Vec<&'f str>,
    },
    Text(Cow<'f, str>),
    Integer(i64),
    Number(f64),
    /// As the respondent typed it (`14032026`).
    Date(String),
    /// The session's receipt code.
    Receipt(&'f str),
    /// A spoken answer: where its recording is (a text channel cannot echo it).
    Audio(&'f str),
    /// No answer (skipped, or not asked).
    Nothing,
}

impl<'f> Said<'f> {
    fn into_fluent(self) -> FluentValue<'f> {
        match self {
            Said::Choice { label, .. } => label.into(),
            Said::Choices { labels, .. } => labels.join(", ").into(),
            Said::Text(t) => FluentValue::String(t),
            Said::Integer(n) => n.into(),
            Said::Number(n) => n.into(),
            Said::Date(d) => d.into(),
            Said::Receipt(r) => r.into(),
            Said::Audio(_) | Said::Nothing => "".into(),
        }
    }
}

impl<'f> Message<'f> {
    fn fixed(id: impl Into<Cow<'f, str>>, text: impl Into<Cow<'f, str>>) -> Message<'f> {
        Message {
            id: id.into(),
            text: text.into(),
            args: Args::Given(Vec::new()),
        }
    }
}

/// What the respondent is told in `state` (with `reason` before the question when the last
/// input was refused).
#[inline]
pub fn view<'f>(
    flow: &'f CompiledFlow,
    state: &'f SessionState,
    reason: Option<&Invalid>,
) -> View<'f> {
    let lang = state.lang;
    let loc = &flow.locales[lang as usize];
    match state.at {
        At::Done(i) => View::End(Closing {
            lang,
            message: prompt(flow, loc, state, i),
            complete: true,
        }),
        At::GaveUp(_) => View::End(Closing {
            lang,
            message: Message::fixed(
                "too-many-attempts",
                loc.engine_text("too-many-attempts", None),
            ),
            complete: false,
        }),
        At::Language => {
            let ls = flow
                .language_screen
                .as_ref()
                .expect("only flows with a language screen are on it");
            View::Ask(Ask {
                lang,
                asking: Asking::Language,
                reason: reason.map(|why| reason_message(loc, None, why)),
                prompt: Message::fixed("language-prompt", ls.prompt.as_str()),
                choices: &ls.options,
                input: InputKind::Choice,
                back: None,
                skip: None,
            })
        }
        At::Resume(_) => View::Ask(Ask {
            lang,
            asking: Asking::Resume,
            reason: reason.map(|why| reason_message(loc, None, why)),
            prompt: Message::fixed("resume-prompt", loc.nav.resume_prompt.as_str()),
            choices: &loc.nav.resume_options,
            input: InputKind::Choice,
            back: None,
            skip: None,
        }),
        At::Step(i) => {
            let s = &flow.steps[i as usize];
            let can_go_back = !state.history.is_empty() || flow.language_screen.is_some();
            let back_key = if s.question.is_typed() {
                &flow.nav.typed_back
            } else {
                &flow.nav.back
            };
            let (choices, input): (&[Text], InputKind) = match &s.question {
                Question::Info => (std::slice::from_ref(&loc.nav.next), InputKind::Continue),
                Question::Choice(_) => (&loc.steps[i as usize].labels, InputKind::Choice),
                Question::Multi(m) => (
                    &loc.steps[i as usize].labels,
                    InputKind::Choices {
                        min: m.min_selected,
                        max: m.max_selected,
                    },
                ),
                Question::Number(n) => (&[], InputKind::Number { decimal: n.decimal }),
                Question::Date(_) => (&[], InputKind::Date),
                Question::Text(t) => (&[], InputKind::Text { max_len: t.max_len }),
                Question::End => (&[], InputKind::Continue),
            };
            View::Ask(Ask {
                lang,
                asking: Asking::Step(i),
                reason: reason.map(|why| reason_message(loc, Some((i, &s.id)), why)),
                prompt: prompt(flow, loc, state, i),
                choices,
                input,
                back: can_go_back.then_some(NavOption {
                    key: back_key,
                    label: &loc.nav.back,
                }),
                skip: (!s.required).then_some(NavOption {
                    key: &flow.nav.skip,
                    label: &loc.nav.skip,
                }),
            })
        }
    }
}

/// A step's prompt: static texts are borrowed; prompts that echo answers are formatted now.
fn prompt<'f>(
    flow: &'f CompiledFlow,
    loc: &'f FlowLocale,
    state: &'f SessionState,
    step: StepIdx,
) -> Message<'f> {
    let id = flow.steps[step as usize].id.as_str();
    let (msg, args) = match &loc.steps[step as usize].prompt {
        Prompt::Static(s) => return Message::fixed(id, s.as_str()),
        Prompt::Dynamic { id, args } => (id, args),
    };
    let mut fargs = FluentArgs::with_capacity(args.len());
    for (name, arg) in args {
        fargs.set(name.as_str(), said(flow, loc, state, *arg).into_fluent());
    }
    let text = crate::i18n::format(&loc.flow_chain, msg, Some(&fargs)).unwrap_or_default();
    Message {
        id: Cow::Borrowed(id),
        text: Cow::Owned(text),
        args: Args::Answers {
            flow,
            loc,
            state,
            spec: args,
        },
    }
}

fn said<'f>(
    flow: &'f CompiledFlow,
    loc: &'f FlowLocale,
    state: &'f SessionState,
    arg: Arg,
) -> Said<'f> {
    let step = match arg {
        Arg::Receipt => return Said::Receipt(&state.receipt),
        Arg::Answer(step) => step,
    };
    let label = |o: u16| loc.steps[step as usize].labels[o as usize].text.as_str();
    match state.answer(step) {
        Some(Answer::Choice(o)) => Said::Choice {
            step,
            option: *o,
            label: label(*o),
        },
        Some(Answer::Multi(os)) => Said::Choices {
            step,
            options: os,
            labels: os.iter().map(|&o| label(o)).collect(),
        },
        Some(Answer::Text(t)) => Said::Text(Cow::Borrowed(t)),
        Some(Answer::Audio { url, .. }) => Said::Audio(url),
        Some(Answer::Integer(n)) => Said::Integer(*n),
        Some(Answer::Decimal(n)) => Said::Number(*n),
        Some(Answer::Date(d)) => Said::Date(match &flow.steps[step as usize].question {
            Question::Date(q) => q.format.write(*d),
            _ => d.to_string(),
        }),
        Some(Answer::Skipped) | None => Said::Nothing,
    }
}

/// The flow's own explanation (`<step>-invalid`) or the engine's, in the respondent's language.
fn reason_message<'f>(
    loc: &'f FlowLocale,
    step: Option<(StepIdx, &str)>,
    why: &Invalid,
) -> Message<'f> {
    if let Some((i, id)) = step
        && let Some(custom) = &loc.steps[i as usize].invalid
    {
        return Message::fixed(format!("{id}-invalid"), custom.as_str());
    }
    let pairs = why.args();
    let args = crate::i18n::args_from(pairs.iter().cloned());
    let text = loc.engine_text(why.message_id(), Some(&args));
    Message {
        id: Cow::Borrowed(why.message_id()),
        text: Cow::Owned(text),
        args: Args::Given(
            pairs
                .into_iter()
                .map(|(name, v)| {
                    let said = match v {
                        crate::question::ArgValue::Number(n) => Said::Number(n),
                        crate::question::ArgValue::Text(t) => Said::Text(Cow::Owned(t)),
                    };
                    (Cow::Borrowed(name), said)
                })
                .collect(),
        ),
    }
}
