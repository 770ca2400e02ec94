//! The pure engine: `step(flow, state, input, ctx) -> Hop { state, events, reason }`, and
//! [`view`] of a state: what to tell the respondent, in no channel's terms. No IO, no clock
//! (today's date comes in `ctx`), no randomness, no channel: renderers and gateways sit outside.

pub mod state;
pub mod view;

pub use state::{At, SessionState};
pub use view::{Ask, Asking, Closing, InputKind, Message, NavOption, Said, View, view};

use crate::flow::{CompiledFlow, StepIdx};
use crate::question::{Answer, Invalid, Question};

/// What the caller provides from the outside world.
#[derive(Debug, Clone, Copy)]
pub struct HopContext {
    /// Today's date, for `date` questions bounded by `today`.
    pub today: time::Date,
}

/// What happened during a hop, for logs, metrics and the outbox.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    LanguageChosen(u8),
    Answered(StepIdx),
    Skipped(StepIdx),
    WentBack(StepIdx),
    Invalid {
        step: Option<StepIdx>,
        reason: Invalid,
    },
    /// The respondent reached an `end` step: the response is complete.
    Completed(StepIdx),
    /// Too many wrong answers: the session is closed unfinished.
    GaveUp(StepIdx),
    /// The respondent continues an unfinished survey where they stopped.
    Resumed(StepIdx),
    /// The respondent chose to start the survey again: earlier answers are dropped.
    Restarted,
}

/// The result of one hop: show [`view`]`(flow, &state, reason)` next.
#[must_use]
#[derive(Debug, Clone)]
pub struct Hop {
    pub state: SessionState,
    pub events: Vec<Event>,
    /// Why the question is asked again, if it is (keep it to show the same view again).
    pub reason: Option<Invalid>,
}

impl Hop {
    /// What the respondent is told after this hop.
    pub fn view<'f>(&'f self, flow: &'f CompiledFlow) -> View<'f> {
        view(flow, &self.state, self.reason.as_ref())
    }
}

/// Opens a session: the language screen, or the first question in `lang` (or the flow's
/// default language).
pub fn start(flow: &CompiledFlow, lang: Option<u8>, receipt: &str) -> Hop {
    let mut state = SessionState {
        lang: lang.unwrap_or(flow.default_language),
        at: At::Language,
        attempts: 0,
        history: Vec::new(),
        answers: Vec::new(),
        receipt: receipt.to_owned(),
    };
    let mut events = Vec::new();
    if lang.is_some() || flow.language_screen.is_none() {
        advance(flow, &mut state, Some(0), &mut events);
    }
    Hop {
        state,
        events,
        reason: None,
    }
}

/// Opens a session on the resume offer for `saved` (see [`SessionState::resume_point`]),
/// in the language the respondent used; `None` if there is nothing to resume.
pub fn offer_resume(flow: &CompiledFlow, saved: &SessionState) -> Option<Hop> {
    let at = saved.resume_point()?;
    if at as usize >= flow.steps.len() || saved.lang as usize >= flow.languages.len() {
        return None;
    }
    let state = SessionState {
        at: At::Resume(at),
        attempts: 0,
        ..saved.clone()
    };
    Some(Hop {
        state,
        events: Vec::new(),
        reason: None,
    })
}

/// Takes one input from the respondent and moves the conversation on.
pub fn step(flow: &CompiledFlow, state: &SessionState, input: &str, ctx: &HopContext) -> Hop {
    let input = input.trim();
    let mut state = state.with_room_for_one_more();
    let mut events = Vec::new();
    let mut reason = None;
    match state.at {
        At::Done(_) | At::GaveUp(_) => {}
        At::Language => {
            let screen = flow.language_screen.as_ref();
            let n = screen.map_or(0, |s| s.options.len());
            match pick(input, n) {
                Some(lang) => {
                    state.lang = lang as u8;
                    events.push(Event::LanguageChosen(lang as u8));
                    advance(flow, &mut state, Some(0), &mut events);
                }
                None => reason = refuse(flow, &mut state, None, Invalid::NotAnOption, &mut events),
            }
        }
        At::Resume(i) => match input {
            "1" | "01" => {
                state.at = At::Step(i);
                events.push(Event::Resumed(i));
            }
            "2" | "02" => {
                state.history.clear();
                state.answers.clear();
                events.push(Event::Restarted);
                advance(flow, &mut state, Some(0), &mut events);
            }
            _ => reason = refuse(flow, &mut state, None, Invalid::NotAnOption, &mut events),
        },
        At::Step(i) => {
            let s = &flow.steps[i as usize];
            let back_key = if s.question.is_typed() {
                &flow.nav.typed_back
            } else {
                &flow.nav.back
            };
            if input == back_key {
                go_back(flow, &mut state, &mut events);
            } else if !s.required && input == flow.nav.skip {
                state.record(i, Some(Answer::Skipped));
                events.push(Event::Skipped(i));
                advance(flow, &mut state, s.next, &mut events);
            } else if matches!(s.question, Question::Info) {
                state.record(i, None);
                events.push(Event::Answered(i));
                advance(flow, &mut state, s.next, &mut events);
            } else {
                match s.question.parse(input, ctx.today) {
                    Ok(answer) => {
                        let next = match (&s.question, &answer) {
                            (Question::Choice(c), Answer::Choice(o)) => {
                                c.goto[*o as usize].or(s.next)
                            }
                            _ => s.next,
                        };
                        state.record(i, Some(answer));
                        events.push(Event::Answered(i));
                        advance(flow, &mut state, next, &mut events);
                    }
                    Err(why) => reason = refuse(flow, &mut state, Some(i), why, &mut events),
                }
            }
        }
    }
    Hop {
        state,
        events,
        reason,
    }
}

/// Takes a spoken answer to a `text` question: the recording the gateway made (its URL and
/// length). Anywhere else a recording answers nothing.
pub fn step_recording(
    flow: &CompiledFlow,
    state: &SessionState,
    url: &str,
    secs: Option<u32>,
) -> Hop {
    let mut state = state.with_room_for_one_more();
    let mut events = Vec::new();
    let mut reason = None;
    match state.at {
        At::Step(i) if matches!(flow.steps[i as usize].question, Question::Text(_)) => {
            let s = &flow.steps[i as usize];
            state.record(
                i,
                Some(Answer::Audio {
                    url: url.to_owned(),
                    secs,
                }),
            );
            events.push(Event::Answered(i));
            advance(flow, &mut state, s.next, &mut events);
        }
        At::Step(i) => {
            reason = refuse(flow, &mut state, Some(i), Invalid::NotAnOption, &mut events);
        }
        _ => reason = refuse(flow, &mut state, None, Invalid::NotAnOption, &mut events),
    }
    Hop {
        state,
        events,
        reason,
    }
}

/// `1`..`n` typed with optional leading zeros.
fn pick(input: &str, n: usize) -> Option<usize> {
    if input.is_empty() || input.len() > 4 || !input.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let k: usize = input.parse().ok()?;
    (1..=n).contains(&k).then(|| k - 1)
}

/// Counts a wrong answer; closes the session when the respondent has used every attempt.
fn refuse(
    flow: &CompiledFlow,
    state: &mut SessionState,
    step: Option<StepIdx>,
    why: Invalid,
    events: &mut Vec<Event>,
) -> Option<Invalid> {
    state.attempts = state.attempts.saturating_add(1);
    events.push(Event::Invalid {
        step,
        reason: why.clone(),
    });
    if state.attempts >= flow.max_attempts {
        // Closing on the resume offer keeps the place to resume from.
        let resume_at = match state.at {
            At::Resume(i) => Some(i),
            _ => None,
        };
        let at = step.or(resume_at).unwrap_or(0);
        state.at = At::GaveUp(at);
        events.push(Event::GaveUp(at));
        None
    } else {
        Some(why)
    }
}

fn go_back(flow: &CompiledFlow, state: &mut SessionState, events: &mut Vec<Event>) {
    state.attempts = 0;
    if let Some(prev) = state.history.pop() {
        state.answers.retain(|(s, _)| *s != prev);
        state.at = At::Step(prev);
        events.push(Event::WentBack(prev));
    } else if flow.language_screen.is_some() {
        state.at = At::Language;
    }
}

/// Moves to `target`, skipping steps whose `when` does not hold.
fn advance(
    flow: &CompiledFlow,
    state: &mut SessionState,
    mut target: Option<StepIdx>,
    events: &mut Vec<Event>,
) {
    state.attempts = 0;
    // Skips can chain but never loop for ever: bound them by the number of steps.
    for _ in 0..=flow.steps.len() {
        let Some(t) = target else { break };
        let s = &flow.steps[t as usize];
        if let Some(when) = &s.when
            && !when.eval(&|i| state.answer(i))
        {
            target = s.next;
            continue;
        }
        if matches!(s.question, Question::End) {
            state.at = At::Done(t);
            events.push(Event::Completed(t));
        } else {
            state.at = At::Step(t);
        }
        return;
    }
    // Only a flow that skips its way past every end gets here; `check` prevents it.
    let at = target.unwrap_or(0);
    state.at = At::GaveUp(at);
    events.push(Event::GaveUp(at));
}
