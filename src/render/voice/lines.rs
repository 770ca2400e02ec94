//! What the voice renderer says for one flow, made once when the flow is loaded (kept in
//! `CompiledFlow::voice_lines`): the engine's texts per language, every option line ("Accident,
//! appuyez sur 1."), the language menu's lines, and the fragments of prompts that echo answers.
//! A call's hop formats nothing with Fluent unless it explains a wrong answer.

use std::collections::HashMap;

use fluent_bundle::FluentArgs;

use crate::flow::{CompiledFlow, FlowLocale, Prompt};
use crate::question::Question;

/// The clips that spell numbers and codes, one per digit or letter.
pub const DIGIT_IDS: [&str; 10] = [
    "voice-digit-0",
    "voice-digit-1",
    "voice-digit-2",
    "voice-digit-3",
    "voice-digit-4",
    "voice-digit-5",
    "voice-digit-6",
    "voice-digit-7",
    "voice-digit-8",
    "voice-digit-9",
];
pub const LETTER_IDS: [&str; 26] = [
    "voice-letter-a",
    "voice-letter-b",
    "voice-letter-c",
    "voice-letter-d",
    "voice-letter-e",
    "voice-letter-f",
    "voice-letter-g",
    "voice-letter-h",
    "voice-letter-i",
    "voice-letter-j",
    "voice-letter-k",
    "voice-letter-l",
    "voice-letter-m",
    "voice-letter-n",
    "voice-letter-o",
    "voice-letter-p",
    "voice-letter-q",
    "voice-letter-r",
    "voice-letter-s",
    "voice-letter-t",
    "voice-letter-u",
    "voice-letter-v",
    "voice-letter-w",
    "voice-letter-x",
    "voice-letter-y",
    "voice-letter-z",
];

/// The voice's own engine texts (`sauti.ftl`).
pub const VOICE_MESSAGES: &[&str] = &[
    "voice-press",
    "voice-language",
    "voice-more",
    "voice-back",
    "voice-back-typed",
    "voice-skip",
    "voice-repeat",
    "voice-number",
    "voice-date",
    "voice-multi",
    "voice-record",
    "voice-no-input-goodbye",
];

/// Engine texts a call says as they are (no arguments).
const SAID_AS_IS: &[&str] = &[
    "invalid-option",
    "invalid-empty",
    "invalid-number",
    "invalid-integer",
    "too-many-attempts",
    "resume-prompt",
    "resume-continue",
    "resume-restart",
    "nav-continue",
];

/// Options read out per page when a menu is longer than the keypad: keys `1`..`8`, `9` reads on.
pub const PAGE_OPTIONS: usize = 8;

/// The key of option `i` of a menu of `n` options: its place on its page.
pub fn menu_key(n: usize, i: usize) -> usize {
    if n <= 9 { i + 1 } else { i % PAGE_OPTIONS + 1 }
}

/// A message with arguments, cut at its arguments: the text between them and the arguments
/// (by their index in the message's argument list), in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fragment {
    /// The `n`-th text fragment: recorded as `<message>.<n>` (its `id`).
    Text {
        id: String,
        text: String,
    },
    Arg(usize),
}

const MARK_OPEN: char = '\u{E000}';
const MARK_CLOSE: char = '\u{E001}';

/// The fragments of message `id` (the flow's texts first, then the engine's) whose arguments
/// are `names`: formatted with a marker for each argument, then cut at the markers.
pub fn fragments(loc: &FlowLocale, id: &str, names: &[&str]) -> Vec<Fragment> {
    let mut args = FluentArgs::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        args.set(*name, format!("{MARK_OPEN}{i}{MARK_CLOSE}"));
    }
    let text = crate::i18n::format(&loc.flow_chain, id, Some(&args))
        .or_else(|| crate::i18n::format(&loc.engine_chain, id, Some(&args)))
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut n = 0;
    let mut push_text = |out: &mut Vec<Fragment>, t: &str| {
        // A lone `.` between two arguments says nothing: it is not recorded.
        if t.chars().any(char::is_alphanumeric) {
            n += 1;
            out.push(Fragment::Text {
                id: format!("{id}.{n}"),
                text: t.to_owned(),
            });
        }
    };
    let mut rest = text.as_str();
    while let Some(open) = rest.find(MARK_OPEN) {
        push_text(&mut out, rest[..open].trim());
        let after = &rest[open + MARK_OPEN.len_utf8()..];
        let Some(close) = after.find(MARK_CLOSE) else {
            break;
        };
        if let Ok(i) = after[..close].parse() {
            out.push(Fragment::Arg(i));
        }
        rest = &after[close + MARK_CLOSE.len_utf8()..];
    }
    push_text(&mut out, rest.trim());
    out
}

/// Everything the voice renderer says for one flow, per language.
#[derive(Debug, Clone, Default)]
pub struct VoiceLines {
    /// Per step, per option: its label's message id (`incident-accident`; `nav-continue` for
    /// an info step).
    label_ids: Vec<Vec<String>>,
    by_lang: Vec<LangLines>,
}

#[derive(Debug, Clone, Default)]
struct LangLines {
    /// Engine texts said as they are, by message id.
    texts: HashMap<&'static str, String>,
    digits: Vec<String>,
    letters: Vec<String>,
    /// Per step, per option: "Accident, appuyez sur 1.", keyed by its place on its page.
    options: Vec<Vec<String>>,
    /// "Continuer, appuyez sur 1.", "Recommencer, appuyez sur 2."
    resume: Vec<String>,
    /// Per key (1, 2, ...): this language's line on the language menu.
    language: Vec<String>,
    /// Per step: the fragments of a prompt that echoes answers.
    prompt_fragments: Vec<Option<Vec<Fragment>>>,
}

fn line(label: &str, press: &str, key: usize) -> String {
    format!("{label}, {press} {key}.")
}

impl VoiceLines {
    /// The lines of `flow` (its texts must be bound already).
    pub fn of(flow: &CompiledFlow) -> VoiceLines {
        let label_ids = flow
            .steps
            .iter()
            .map(|s| match (&s.question, s.question.options()) {
                (Question::Info, _) => vec!["nav-continue".to_owned()],
                (_, Some(o)) => (0..o.len()).map(|i| o.message_id(i)).collect(),
                _ => Vec::new(),
            })
            .collect();
        let by_lang = flow
            .locales
            .iter()
            .map(|loc| {
                let text = |id: &str| loc.engine_text(id, None);
                let texts: HashMap<&'static str, String> = VOICE_MESSAGES
                    .iter()
                    .chain(SAID_AS_IS)
                    .map(|&id| (id, text(id)))
                    .collect();
                let press = texts["voice-press"].clone();
                let options = flow
                    .steps
                    .iter()
                    .zip(&loc.steps)
                    .map(|(step, texts)| match &step.question {
                        Question::Info => vec![line(&loc.nav.next.text, &press, 1)],
                        Question::Multi(_) => texts
                            .labels
                            .iter()
                            .enumerate()
                            .map(|(i, l)| line(&l.text, &press, i + 1))
                            .collect(),
                        _ => texts
                            .labels
                            .iter()
                            .enumerate()
                            .map(|(i, l)| line(&l.text, &press, menu_key(texts.labels.len(), i)))
                            .collect(),
                    })
                    .collect();
                let prompt_fragments = loc
                    .steps
                    .iter()
                    .map(|t| match &t.prompt {
                        Prompt::Static(_) => None,
                        Prompt::Dynamic { id, args } => {
                            let names: Vec<&str> = args.iter().map(|(n, _)| n.as_str()).collect();
                            Some(fragments(loc, id, &names))
                        }
                    })
                    .collect();
                LangLines {
                    digits: DIGIT_IDS.iter().map(|id| text(id)).collect(),
                    letters: LETTER_IDS.iter().map(|id| text(id)).collect(),
                    options,
                    resume: loc
                        .nav
                        .resume_options
                        .iter()
                        .enumerate()
                        .map(|(i, l)| line(&l.text, &press, i + 1))
                        .collect(),
                    language: (1..=flow.languages.len())
                        .map(|k| line(&texts["voice-language"], &press, k))
                        .collect(),
                    prompt_fragments,
                    texts,
                }
            })
            .collect();
        VoiceLines { label_ids, by_lang }
    }

    fn lang(&self, lang: u8) -> &LangLines {
        &self.by_lang[lang as usize]
    }

    /// An engine text said as it is (see [`VOICE_MESSAGES`]).
    pub fn text(&self, lang: u8, id: &'static str) -> &str {
        self.lang(lang).texts.get(id).map_or("", String::as_str)
    }

    /// What digit `d` or letter (`A` = 0) `i` is called.
    pub fn digit(&self, lang: u8, d: usize) -> &str {
        &self.lang(lang).digits[d]
    }

    pub fn letter(&self, lang: u8, i: usize) -> &str {
        &self.lang(lang).letters[i]
    }

    /// "`label`, press `key`." for option `option` of `step`.
    pub fn option_line(&self, lang: u8, step: u16, option: usize) -> &str {
        &self.lang(lang).options[step as usize][option]
    }

    pub fn resume_line(&self, lang: u8, option: usize) -> &str {
        &self.lang(lang).resume[option]
    }

    /// "Pour le français, appuyez sur `key`." in language `lang`.
    pub fn language_line(&self, lang: u8, key: usize) -> &str {
        &self.lang(lang).language[key - 1]
    }

    /// The message id of option `option` of `step`'s label.
    pub fn label_id(&self, step: u16, option: usize) -> &str {
        self.label_ids[step as usize]
            .get(option)
            .map_or("", String::as_str)
    }

    /// The fragments of `step`'s prompt when it echoes answers.
    pub fn prompt_fragments(&self, lang: u8, step: u16) -> Option<&[Fragment]> {
        self.lang(lang).prompt_fragments[step as usize].as_deref()
    }
}
