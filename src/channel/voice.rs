//! A voice call in pure terms: the caller's own keys (`*` repeats, `9` reads the next page of
//! a long menu), silence (the question again, then a polite goodbye), the language menu of
//! the languages whose prompts are complete, and spoken answers; anything else is the engine's.

use std::borrow::Cow;

use super::Input;
use crate::engine::{self, At, Hop, HopContext, SessionState, View};
use crate::flow::CompiledFlow;
use crate::question::Invalid;
use crate::render::voice::{
    self, Collect, MORE_KEY, PAGE_OPTIONS, REPEAT_KEY, VoicePrompt, VoiceSettings,
};

/// What a wrong key becomes for the engine: no option, no navigation.
const NOT_A_KEY: &str = "-";

/// The voice channel's part of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    /// The page of a long menu being read.
    pub page: u8,
    /// Questions in a row the caller let pass without pressing anything.
    pub silences: u8,
}

/// A called number as flows declare it: `+` and digits only (`+243 900-000-001` is
/// `+243900000001`).
pub fn normalize_number(number: &str) -> Cow<'_, str> {
    let n = number.trim();
    if n.bytes().all(|b| b.is_ascii_digit() || b == b'+') {
        return Cow::Borrowed(n);
    }
    Cow::Owned(
        n.chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect(),
    )
}

/// The caller's language when only one is offered: the menu is skipped (input for it).
pub fn opening(
    flow: &CompiledFlow,
    state: &SessionState,
    settings: &VoiceSettings,
) -> Option<String> {
    if state.at != At::Language {
        return None;
    }
    match &*settings.offered_languages(flow) {
        [only] => Some((only + 1).to_string()),
        _ => None,
    }
}

fn same(state: &SessionState, reason: Option<&Invalid>) -> Hop {
    Hop {
        state: state.clone(),
        events: Vec::new(),
        reason: reason.cloned(),
    }
}

/// Takes one input of a call on the question `state` is at.
pub fn step(
    flow: &CompiledFlow,
    state: &SessionState,
    reason: Option<&Invalid>,
    memory: Memory,
    input: Input<'_>,
    ctx: &HopContext,
    settings: &VoiceSettings,
) -> (Hop, Memory) {
    if state.is_finished() || memory.silences > settings.no_input_retries {
        return (same(state, reason), memory);
    }
    let view = engine::view(flow, state, reason);
    let View::Ask(ask) = &view else {
        return (same(state, reason), memory);
    };
    let keys = match input {
        Input::Recording(rec) => {
            let spoken = matches!(ask.input, engine::InputKind::Text { .. });
            if spoken && !rec.url.trim().is_empty() {
                let hop = engine::step_recording(flow, state, rec.url.trim(), rec.secs);
                return (hop, Memory::default());
            }
            if spoken && let Some(skip) = &ask.skip {
                // Nothing said on an optional question: skipped.
                return (engine::step(flow, state, skip.key, ctx), Memory::default());
            }
            ""
        }
        Input::Keys(k) => k.trim(),
    };
    if keys.is_empty() {
        // Silence: the question again, up to the limit; then `render` says goodbye.
        let silences = memory.silences.saturating_add(1);
        return (same(state, None), Memory { silences, ..memory });
    }
    let heard = Memory {
        silences: 0,
        ..memory
    };
    if keys == REPEAT_KEY {
        return (same(state, None), heard);
    }
    match ask.asking {
        engine::Asking::Language => {
            // Keys number the offered languages, not the flow's.
            let offered = settings.offered_languages(flow);
            let picked = keys
                .parse::<usize>()
                .ok()
                .and_then(|k| k.checked_sub(1))
                .and_then(|k| offered.get(k));
            let input = match picked {
                Some(l) => (l + 1).to_string(),
                None => "0".to_owned(),
            };
            (engine::step(flow, state, &input, ctx), Memory::default())
        }
        _ if matches!(
            ask.input,
            engine::InputKind::Choice | engine::InputKind::Continue
        ) && voice::pages(ask.choices.len()) > 1 =>
        {
            let (range, more) = voice::page_range(ask.choices.len(), memory.page as usize);
            if keys == MORE_KEY && more {
                let page = Memory {
                    page: memory.page + 1,
                    silences: 0,
                };
                return (same(state, None), page);
            }
            // Keys 1..8 pick among this page's options.
            let on_page = keys
                .parse::<usize>()
                .ok()
                .filter(|k| (1..=PAGE_OPTIONS).contains(k) && range.start + k <= range.end);
            let input = match on_page {
                Some(k) => Cow::Owned((range.start + k).to_string()),
                // A single key that is not on this page nor the back key: a wrong key (the
                // engine would read it as an option of the whole list).
                None if keys.len() == 1 && Some(keys) != ask.back.map(|b| b.key) => {
                    Cow::Borrowed(NOT_A_KEY)
                }
                None => Cow::Borrowed(keys),
            };
            let hop = engine::step(flow, state, &input, ctx);
            let page = if hop.state == *state { memory.page } else { 0 };
            (hop, Memory { page, silences: 0 })
        }
        _ => (engine::step(flow, state, keys, ctx), Memory::default()),
    }
}

/// What the caller hears for the session as it stands.
pub fn render(
    flow: &CompiledFlow,
    view: &View<'_>,
    memory: Memory,
    turn: u32,
    settings: &VoiceSettings,
) -> VoicePrompt {
    let lang = match view {
        View::Ask(a) => a.lang,
        View::End(c) => c.lang,
    };
    if memory.silences > settings.no_input_retries {
        // The caller is gone or cannot answer: goodbye; the session stays for a resume.
        let goodbye = voice::Script {
            parts: vec![voice::Speaker::new(flow, lang).engine("voice-no-input-goodbye")],
            expect: voice::Expect::Hangup,
            asking: "end",
        };
        return voice::speak(goodbye, turn, settings);
    }
    let offered = match view {
        View::Ask(a) if a.asking == engine::Asking::Language => {
            let offered = settings.offered_languages(flow);
            if offered.is_empty() {
                tracing::error!(flow = %flow.id, "no language of this flow has complete voice prompts: call refused (see `sauti check --voice`)");
                return VoicePrompt {
                    turn,
                    ..VoicePrompt::reject()
                };
            }
            offered
        }
        _ => std::sync::Arc::from([]),
    };
    let script = voice::script(flow, view, memory.page, &offered);
    let prompt = voice::speak(script, turn, settings);
    debug_assert!(!matches!(prompt.collect, Collect::Reject));
    prompt
}
