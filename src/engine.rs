//! The pure engine: `step(flow, state, input, ctx) -> Hop { screen, state, events }`.
//! No IO, no clock (today's date comes in `ctx`), no randomness: the same inputs always
//! give the same screen, which makes gateway retries and tests trivial.

use fluent_bundle::{FluentArgs, FluentValue};

use crate::flow::{Arg, CompiledFlow, FlowLocale, Prompt, StepIdx};
use crate::question::{Answer, Invalid, Question};
use crate::render::{self, Budget, Footer, Page, Text};

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// On the language screen.
    Language,
    /// Asking this step.
    Step(StepIdx),
    /// Reached this `end` step: the survey is complete.
    Done(StepIdx),
    /// Closed after too many wrong answers to this step.
    GaveUp(StepIdx),
    /// Offering a respondent who dialled again to continue at this step, or start again.
    Resume(StepIdx),
}

/// Everything the engine needs to continue a conversation; small enough to store per hop.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionState {
    /// Index into the flow's languages.
    pub lang: u8,
    pub at: At,
    /// Page of the current screen (long menus).
    pub page: u8,
    /// Wrong answers given to the current question.
    pub attempts: u8,
    /// Steps answered (or seen) in order; `back` walks it backwards.
    pub history: Vec<StepIdx>,
    /// Answers of the steps in `history`.
    pub answers: Vec<(StepIdx, Answer)>,
    /// Short code shown on the closing screen (`{ $receipt }`), chosen by the caller.
    pub receipt: String,
}

impl SessionState {
    pub fn answer(&self, step: StepIdx) -> Option<&Answer> {
        self.answers
            .iter()
            .find(|(s, _)| *s == step)
            .map(|(_, a)| a)
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.at, At::Done(_) | At::GaveUp(_))
    }

    /// Whether every index in this state exists in `flow` (a state read from storage is
    /// checked before the engine trusts it: an index out of range would be a crash).
    pub fn fits(&self, flow: &CompiledFlow) -> bool {
        let step_ok = |i: StepIdx| (i as usize) < flow.steps.len();
        let at_ok = match self.at {
            At::Language => flow.language_screen.is_some(),
            At::Step(i) | At::Done(i) | At::GaveUp(i) | At::Resume(i) => step_ok(i),
        };
        let answer_ok = |(i, a): &(StepIdx, Answer)| {
            step_ok(*i) && {
                let n = flow.steps[*i as usize]
                    .question
                    .options()
                    .map_or(0, |o| o.len());
                match a {
                    Answer::Choice(o) => (*o as usize) < n,
                    Answer::Multi(os) => os.iter().all(|o| (*o as usize) < n),
                    _ => true,
                }
            }
        };
        (self.lang as usize) < flow.locales.len()
            && at_ok
            && self.history.iter().all(|&i| step_ok(i))
            && self.answers.iter().all(answer_ok)
    }

    /// The step a later session could continue at: an unfinished survey with answers.
    pub fn resume_point(&self) -> Option<StepIdx> {
        if self.history.is_empty() {
            return None;
        }
        match self.at {
            At::Step(i) | At::GaveUp(i) | At::Resume(i) => Some(i),
            At::Language | At::Done(_) => None,
        }
    }

    fn record(&mut self, step: StepIdx, answer: Option<Answer>) {
        self.answers.retain(|(s, _)| *s != step);
        if let Some(a) = answer {
            self.answers.push((step, a));
        }
        self.history.push(step);
    }
}

/// What the caller provides from the outside world.
#[derive(Debug, Clone, Copy)]
pub struct HopContext {
    /// Today's date, for `date` questions bounded by `today`.
    pub today: time::Date,
    /// The gateway's screen budget.
    pub budget: Budget,
}

/// What the respondent sees after a hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    /// `END`: the network closes the session after showing it.
    pub end: bool,
    pub text: String,
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

/// The result of one hop.
#[must_use]
#[derive(Debug, Clone)]
pub struct Hop {
    pub screen: Screen,
    pub state: SessionState,
    pub events: Vec<Event>,
    /// Why the screen re-asks its question, if it does (keep it to render it again).
    pub reason: Option<Invalid>,
}

/// Opens a session: the language screen, or the first question in `lang` (or the flow's
/// default language).
pub fn start(flow: &CompiledFlow, lang: Option<u8>, receipt: &str, ctx: &HopContext) -> Hop {
    let mut state = SessionState {
        lang: lang.unwrap_or(flow.default_language),
        at: At::Language,
        page: 0,
        attempts: 0,
        history: Vec::new(),
        answers: Vec::new(),
        receipt: receipt.to_owned(),
    };
    let mut events = Vec::new();
    if lang.is_some() || flow.language_screen.is_none() {
        advance(flow, &mut state, Some(0), &mut events);
    }
    let screen = render(flow, &state, ctx, None);
    Hop {
        screen,
        state,
        events,
        reason: None,
    }
}

/// Opens a session on the resume offer for `saved` (see [`SessionState::resume_point`]),
/// in the language the respondent used; `None` if there is nothing to resume.
pub fn offer_resume(flow: &CompiledFlow, saved: &SessionState, ctx: &HopContext) -> Option<Hop> {
    let at = saved.resume_point()?;
    if at as usize >= flow.steps.len() || saved.lang as usize >= flow.languages.len() {
        return None;
    }
    let state = SessionState {
        at: At::Resume(at),
        page: 0,
        attempts: 0,
        ..saved.clone()
    };
    let screen = render(flow, &state, ctx, None);
    Some(Hop {
        screen,
        state,
        events: Vec::new(),
        reason: None,
    })
}

/// Takes one input from the respondent and moves the conversation on.
pub fn step(flow: &CompiledFlow, state: &SessionState, input: &str, ctx: &HopContext) -> Hop {
    let input = input.trim();
    let mut state = state.clone();
    let mut events = Vec::new();
    let mut reason = None;
    match state.at {
        At::Done(_) | At::GaveUp(_) => {}
        At::Language => {
            let screen = flow.language_screen.as_ref();
            let n = screen.map_or(0, |s| s.options.len());
            if !turn_page(flow, &mut state, input, ctx) {
                match pick(input, n) {
                    Some(lang) => {
                        state.lang = lang as u8;
                        events.push(Event::LanguageChosen(lang as u8));
                        advance(flow, &mut state, Some(0), &mut events);
                    }
                    None => {
                        reason = refuse(flow, &mut state, None, Invalid::NotAnOption, &mut events)
                    }
                }
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
            _ if turn_page(flow, &mut state, input, ctx) => {}
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
            } else if turn_page(flow, &mut state, input, ctx) {
                // Same question, another page.
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
    let screen = render(flow, &state, ctx, reason.as_ref());
    Hop {
        screen,
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
    state.page = 0;
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

/// `98`/`99` on a screen that has another page in that direction.
fn turn_page(flow: &CompiledFlow, state: &mut SessionState, input: &str, ctx: &HopContext) -> bool {
    let forward = input == flow.nav.more;
    if !forward && input != flow.nav.prev {
        return false;
    }
    let pages = with_layout(flow, state, ctx, None, |_, _, _, pages, _| pages.len());
    let page = state.page as usize;
    if forward && page + 1 < pages {
        state.page += 1;
        true
    } else if !forward && page > 0 {
        state.page -= 1;
        true
    } else {
        false
    }
}

fn go_back(flow: &CompiledFlow, state: &mut SessionState, events: &mut Vec<Event>) {
    state.page = 0;
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
    state.page = 0;
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

/// Formats a prompt that echoes earlier answers (`{ $incident }`).
fn dynamic_prompt(
    flow: &CompiledFlow,
    loc: &FlowLocale,
    state: &SessionState,
    id: &str,
    args: &[(String, Arg)],
) -> String {
    let mut fargs = FluentArgs::new();
    for (name, arg) in args {
        let step = match arg {
            Arg::Answer(step) => step,
            Arg::Receipt => {
                fargs.set(name.clone(), state.receipt.clone());
                continue;
            }
        };
        let value: FluentValue = match state.answer(*step) {
            Some(Answer::Choice(o)) => loc.steps[*step as usize].labels[*o as usize].clone().into(),
            Some(Answer::Multi(os)) => os
                .iter()
                .map(|o| loc.steps[*step as usize].labels[*o as usize].as_str())
                .collect::<Vec<_>>()
                .join(", ")
                .into(),
            Some(Answer::Text(t)) => t.clone().into(),
            Some(Answer::Integer(n)) => (*n).into(),
            Some(Answer::Decimal(n)) => (*n).into(),
            Some(Answer::Date(d)) => match &flow.steps[*step as usize].question {
                Question::Date(q) => q.format.write(*d).into(),
                _ => d.to_string().into(),
            },
            Some(Answer::Skipped) | None => "".into(),
        };
        fargs.set(name.clone(), value);
    }
    crate::i18n::format(&loc.flow_chain, id, Some(&fargs)).unwrap_or_default()
}

fn prompt_text(
    flow: &CompiledFlow,
    loc: &FlowLocale,
    state: &SessionState,
    step: StepIdx,
) -> String {
    match &loc.steps[step as usize].prompt {
        Prompt::Static(s) => s.clone(),
        Prompt::Dynamic { id, args } => dynamic_prompt(flow, loc, state, id, args),
    }
}

fn reason_text(loc: &FlowLocale, step: Option<StepIdx>, why: &Invalid) -> String {
    if let Some(custom) = step.and_then(|s| loc.steps[s as usize].invalid.as_ref()) {
        return custom.clone();
    }
    let args = crate::i18n::args_from(why.args());
    loc.engine_text(why.message_id(), Some(&args))
}

/// Lays out the current screen and hands (prompt, options, footer, pages) to `f`.
fn with_layout<R>(
    flow: &CompiledFlow,
    state: &SessionState,
    ctx: &HopContext,
    reason: Option<&Invalid>,
    f: impl FnOnce(&str, &[Text], &Footer<'_>, &[Page], bool) -> R,
) -> R {
    let loc = &flow.locales[state.lang as usize];
    let (mut prompt, options, back, skip, step) = match state.at {
        At::Language => {
            let ls = flow
                .language_screen
                .as_ref()
                .expect("only flows with a language screen are on it");
            (ls.prompt.clone(), &ls.options[..], None, None, None)
        }
        At::Step(i) => {
            let s = &flow.steps[i as usize];
            let can_go_back = !state.history.is_empty() || flow.language_screen.is_some();
            let back_line = if s.question.is_typed() {
                &loc.nav.typed_back
            } else {
                &loc.nav.back
            };
            let options: &[Text] = match s.question {
                Question::Info => std::slice::from_ref(&loc.nav.next),
                _ => &loc.steps[i as usize].lines,
            };
            (
                prompt_text(flow, loc, state, i),
                options,
                can_go_back.then_some(back_line),
                (!s.required).then_some(&loc.nav.skip),
                Some(i),
            )
        }
        At::Resume(_) => (
            loc.nav.resume_prompt.clone(),
            &loc.nav.resume_options[..],
            None,
            None,
            None,
        ),
        At::Done(_) | At::GaveUp(_) => unreachable!("end screens are not laid out"),
    };
    if let Some(why) = reason {
        prompt = format!("{}\n{}", reason_text(loc, step, why), prompt);
    }
    let footer = Footer {
        more: &loc.nav.more,
        prev: &loc.nav.prev,
        back,
        skip,
    };
    let mut degraded = false;
    let pages = match render::paginate(&prompt, options, &footer, ctx.budget) {
        Ok(p) => p,
        // `check` proves shipped flows fit; with a smaller gateway budget, degrade to one
        // option per page with the prompt cut, rather than send an over-long screen.
        Err(_) => {
            degraded = true;
            fallback_pages(&prompt, options)
        }
    };
    f(&prompt, options, &footer, &pages, degraded)
}

fn fallback_pages(prompt: &str, options: &[Text]) -> Vec<Page> {
    let mut pages = vec![Page {
        prompt: 0..prompt.len(),
        options: 0..0,
    }];
    pages.extend((0..options.len()).map(|i| Page {
        prompt: 0..0,
        options: i..i + 1,
    }));
    pages
}

/// The full closing text of a finished session, before any cut to the budget.
pub fn end_text(flow: &CompiledFlow, state: &SessionState) -> String {
    let loc = &flow.locales[state.lang as usize];
    match state.at {
        At::Done(i) => prompt_text(flow, loc, state, i),
        _ => loc.engine_text("too-many-attempts", None),
    }
}

/// Why the current screen cannot be laid out within the budget, if it cannot.
pub fn layout_error(
    flow: &CompiledFlow,
    state: &SessionState,
    ctx: &HopContext,
) -> Option<render::Unfit> {
    if state.is_finished() {
        return None;
    }
    let mut err = None;
    with_layout(flow, state, ctx, None, |prompt, options, footer, _, _| {
        err = render::paginate(prompt, options, footer, ctx.budget).err();
    });
    err
}

/// The screen for the current position (with `reason` above the question when re-asking).
pub fn render(
    flow: &CompiledFlow,
    state: &SessionState,
    ctx: &HopContext,
    reason: Option<&Invalid>,
) -> Screen {
    match state.at {
        At::Done(_) | At::GaveUp(_) => Screen {
            end: true,
            text: render::truncate(&end_text(flow, state), ctx.budget).to_owned(),
        },
        At::Language | At::Step(_) | At::Resume(_) => with_layout(
            flow,
            state,
            ctx,
            reason,
            |prompt, options, footer, pages, degraded| {
                let page = (state.page as usize).min(pages.len() - 1);
                let mut text = String::with_capacity(200);
                render::render_page(&mut text, prompt, options, footer, pages, page);
                // A degraded layout may still overflow a tiny budget: never send more than fits.
                if degraded {
                    let fitted = render::truncate(&text, ctx.budget);
                    text.truncate(fitted.len());
                }
                Screen { end: false, text }
            },
        ),
    }
}

/// Every page of the current screen (for `check` and the budget tests).
pub fn all_pages(
    flow: &CompiledFlow,
    state: &SessionState,
    ctx: &HopContext,
    reason: Option<&Invalid>,
) -> Vec<String> {
    match state.at {
        At::Done(_) | At::GaveUp(_) => vec![render(flow, state, ctx, reason).text],
        _ => with_layout(
            flow,
            state,
            ctx,
            reason,
            |prompt, options, footer, pages, _| {
                (0..pages.len())
                    .map(|i| {
                        let mut s = String::new();
                        render::render_page(&mut s, prompt, options, footer, pages, i);
                        s
                    })
                    .collect()
            },
        ),
    }
}
