//! The voice renderer: a view becomes what a caller hears, as parts (the question, "for X
//! press 1" per option, navigation hints), each played from a recording of its message in the
//! caller's language or spoken by a text-to-speech voice configured for that language.
//!
//! A part is recorded as one or more clips: a message without arguments is one clip (its
//! Fluent id); a message with arguments is recorded in fragments (`<id>.1`, `<id>.2`, the text
//! between its arguments) and the arguments are spoken with clips too (the option label of an
//! echoed choice, one clip per digit or letter of a number or receipt code). A language with
//! no configured voice is never read by another language's voice: what is not recorded is left
//! out (and `sauti check --voice` reports it).

pub mod lines;
pub mod prompt;
pub mod recording;

use std::borrow::Cow;

use crate::audio::AudioFile;
use crate::engine::{Ask, Asking, InputKind, Message, Said, View};
use crate::flow::CompiledFlow;

pub use lines::{
    DIGIT_IDS, Fragment, LETTER_IDS, PAGE_OPTIONS, VOICE_MESSAGES, VoiceLines, fragments, menu_key,
};
pub use prompt::{Collect, Sound, TtsVoice, VoicePrompt, VoiceSettings};
pub use recording::{ScriptLine, language_complete, recording_script};

/// The key that reads the next page of a long menu.
pub const MORE_KEY: &str = "9";
/// The key that repeats the question.
pub const REPEAT_KEY: &str = "*";

/// One recordable message (or fragment) in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clip<'a> {
    pub lang: &'a str,
    /// Its Fluent id (`incident`, `incident-accident`), or `<id>.<n>` for the n-th fragment of
    /// a message with arguments; the recording is `<lang>/<id>.wav`.
    pub id: Cow<'a, str>,
    /// What the recording says (the script for whoever records it).
    pub text: Cow<'a, str>,
}

/// A unit of a prompt: spoken whole by text-to-speech, or played as its clips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    pub lang: &'a str,
    /// The whole text, for a text-to-speech voice.
    pub text: Cow<'a, str>,
    /// The recordings that say the same.
    pub clips: Vec<Piece<'a>>,
}

/// What a part is played with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Clip(Clip<'a>),
    /// The caller's own recorded answer, played back.
    Audio(&'a str),
    /// Text only a text-to-speech voice can say (a typed answer echoed).
    Unrecordable,
}

/// What the renderer makes of a view before choosing recordings or voices.
#[derive(Debug, Clone, PartialEq)]
pub struct Script<'a> {
    pub parts: Vec<Part<'a>>,
    pub expect: Expect,
    /// What is asked: `lang`, `resume`, a step id, `end`.
    pub asking: &'a str,
}

/// What a view waits for, before the gateway's timeouts are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// One key (`Some(1)`), or keys ended by `#` (`None`).
    Keys {
        digits: Option<u8>,
    },
    Record,
    Hangup,
}

/// Builds the parts of one language of one flow from its prepared lines.
#[derive(Clone, Copy)]
pub struct Speaker<'a> {
    pub flow: &'a CompiledFlow,
    pub lang: u8,
    pub tag: &'a str,
}

impl<'a> Speaker<'a> {
    pub fn new(flow: &'a CompiledFlow, lang: u8) -> Speaker<'a> {
        Speaker {
            flow,
            lang,
            tag: &flow.languages[lang as usize],
        }
    }

    fn lines(&self) -> &'a VoiceLines {
        &self.flow.voice_lines
    }

    pub fn clip(&self, id: impl Into<Cow<'a, str>>, text: impl Into<Cow<'a, str>>) -> Piece<'a> {
        Piece::Clip(Clip {
            lang: self.tag,
            id: id.into(),
            text: text.into(),
        })
    }

    /// An engine text said as it is, one clip.
    pub fn engine(&self, id: &'static str) -> Part<'a> {
        let text = self.lines().text(self.lang, id);
        Part {
            lang: self.tag,
            text: Cow::Borrowed(text),
            clips: vec![self.clip(id, text)],
        }
    }

    /// A message without arguments, one clip.
    pub fn simple(&self, id: &'a str, text: &'a str) -> Part<'a> {
        Part {
            lang: self.tag,
            text: Cow::Borrowed(text),
            clips: vec![self.clip(id, text)],
        }
    }

    /// Digits and letters, one clip each (anything else is not said).
    pub fn spell(&self, s: &str, out: &mut Vec<Piece<'a>>) {
        for c in s.chars() {
            if let Some(d) = c.to_digit(10) {
                let d = d as usize;
                out.push(self.clip(DIGIT_IDS[d], self.lines().digit(self.lang, d)));
            } else if c.is_ascii_alphabetic() {
                let i = (c.to_ascii_lowercase() as u8 - b'a') as usize;
                out.push(self.clip(LETTER_IDS[i], self.lines().letter(self.lang, i)));
            }
        }
    }

    /// "`label`, press `key`.": the label's clip, `voice-press`, the key's digits.
    fn line(&self, label_id: &'a str, label: &'a str, text: &'a str, key: usize) -> Part<'a> {
        let mut clips = vec![
            self.clip(label_id, label),
            self.clip("voice-press", self.lines().text(self.lang, "voice-press")),
        ];
        self.spell(&key.to_string(), &mut clips);
        Part {
            lang: self.tag,
            text: Cow::Borrowed(text),
            clips,
        }
    }

    /// Option `i` of `step`, keyed by its place on its page.
    pub fn option(&self, step: u16, i: usize, label: &'a str, key: usize) -> Part<'a> {
        let lines = self.lines();
        self.line(
            lines.label_id(step, i),
            label,
            lines.option_line(self.lang, step, i),
            key,
        )
    }

    fn resume_option(&self, i: usize, label: &'a str) -> Part<'a> {
        let id = if i == 0 {
            "resume-continue"
        } else {
            "resume-restart"
        };
        self.line(id, label, self.lines().resume_line(self.lang, i), i + 1)
    }

    /// This language's line on the language menu, at `key`.
    pub fn language(&self, key: usize) -> Part<'a> {
        let lines = self.lines();
        let text = lines.text(self.lang, "voice-language");
        self.line(
            "voice-language",
            text,
            lines.language_line(self.lang, key),
            key,
        )
    }

    /// A message as a part: one clip, or its fragments and its arguments' clips.
    fn message<'v>(&self, message: &'v Message<'a>, step: Option<u16>) -> Part<'v>
    where
        'a: 'v,
    {
        let args = message.args();
        if args.is_empty() {
            return Part {
                lang: self.tag,
                text: Cow::Borrowed(&message.text),
                clips: vec![Piece::Clip(Clip {
                    lang: self.tag,
                    id: Cow::Borrowed(&message.id),
                    text: Cow::Borrowed(&message.text),
                })],
            };
        }
        let prepared = step.and_then(|s| self.lines().prompt_fragments(self.lang, s));
        let computed;
        let fragments: &[Fragment] = match prepared {
            Some(f) => f,
            None => {
                let names: Vec<&str> = args.iter().map(|(n, _)| n.as_ref()).collect();
                computed = fragments(&self.flow.locales[self.lang as usize], &message.id, &names);
                &computed
            }
        };
        let mut clips: Vec<Piece<'v>> = Vec::with_capacity(fragments.len() + 2);
        for f in fragments {
            match f {
                Fragment::Text { id, text } => clips.push(Piece::Clip(Clip {
                    lang: self.tag,
                    id: Cow::Owned(id.clone()),
                    text: Cow::Owned(text.clone()),
                })),
                Fragment::Arg(i) => {
                    if let Some((_, said)) = args.get(*i) {
                        self.said(said, &mut clips);
                    }
                }
            }
        }
        Part {
            lang: self.tag,
            text: Cow::Borrowed(&message.text),
            clips,
        }
    }

    /// An argument as clips: a choice by its label's recording, numbers and codes spelt.
    fn said<'v>(&self, said: &Said<'a>, out: &mut Vec<Piece<'v>>)
    where
        'a: 'v,
    {
        let lines = self.lines();
        match said {
            Said::Choice {
                step,
                option,
                label,
            } => out.push(self.clip(lines.label_id(*step, *option as usize), *label)),
            Said::Choices {
                step,
                options,
                labels,
            } => {
                for (o, label) in options.iter().zip(labels) {
                    out.push(self.clip(lines.label_id(*step, *o as usize), *label));
                }
            }
            Said::Audio(url) => out.push(Piece::Audio(url)),
            Said::Text(_) => out.push(Piece::Unrecordable),
            Said::Integer(n) => self.spell(&n.to_string(), out),
            Said::Number(n) => self.spell(&n.to_string(), out),
            Said::Date(d) => self.spell(d, out),
            Said::Receipt(r) => self.spell(r, out),
            Said::Nothing => {}
        }
    }
}

/// The pages of a menu of `n` options: one page when the keypad holds them all.
pub fn pages(n: usize) -> usize {
    if n <= 9 { 1 } else { n.div_ceil(PAGE_OPTIONS) }
}

/// The options of `page` (indices into the choices) and whether a next page follows.
pub fn page_range(n: usize, page: usize) -> (std::ops::Range<usize>, bool) {
    if n <= 9 {
        return (0..n, false);
    }
    let start = (page * PAGE_OPTIONS).min(n);
    let end = (start + PAGE_OPTIONS).min(n);
    (start..end, end < n)
}

/// What `view` sounds like on `page` of its menu. `languages` are the languages offered on
/// the language menu (indices into the flow's, each read in its own language).
pub fn script<'v, 'f: 'v>(
    flow: &'f CompiledFlow,
    view: &'v View<'f>,
    page: u8,
    languages: &[u8],
) -> Script<'v> {
    match view {
        View::End(closing) => {
            let speaker = Speaker::new(flow, closing.lang);
            let step = match flow.step_index(&closing.message.id) {
                Some(s) if closing.complete => Some(s),
                _ => None,
            };
            Script {
                parts: vec![speaker.message(&closing.message, step)],
                expect: Expect::Hangup,
                asking: "end",
            }
        }
        View::Ask(ask) => ask_script(flow, ask, page as usize, languages),
    }
}

fn ask_script<'v, 'f: 'v>(
    flow: &'f CompiledFlow,
    ask: &'v Ask<'f>,
    page: usize,
    languages: &[u8],
) -> Script<'v> {
    let speaker = Speaker::new(flow, ask.lang);
    let mut parts: Vec<Part<'v>> = Vec::with_capacity(ask.choices.len() + 6);
    if let Some(reason) = &ask.reason {
        parts.push(speaker.message(reason, None));
    }
    let asking: &'v str = match ask.asking {
        Asking::Language => "lang",
        Asking::Resume => "resume",
        Asking::Step(s) => &flow.steps[s as usize].id,
    };
    // Every key the question takes is one digit: it is collected without `#`.
    let mut one_key = true;
    let mut typed = false;
    match ask.asking {
        Asking::Language => {
            // Each language's line in that language: "Pour le français, appuyez sur 1".
            for (k, &l) in languages.iter().enumerate() {
                parts.push(Speaker::new(flow, l).language(k + 1));
            }
        }
        _ => {
            let step = match ask.asking {
                Asking::Step(s) => Some(s),
                _ => None,
            };
            parts.push(speaker.message(&ask.prompt, step));
            match ask.input {
                InputKind::Choice | InputKind::Continue | InputKind::Choices { .. } => {
                    let multi = matches!(ask.input, InputKind::Choices { .. });
                    let n = ask.choices.len();
                    let (range, more) = if multi {
                        (0..n, false)
                    } else {
                        page_range(n, page)
                    };
                    for i in range {
                        let label = ask.choices[i].text.as_str();
                        parts.push(match step {
                            Some(s) => {
                                let key = if multi { i + 1 } else { menu_key(n, i) };
                                speaker.option(s, i, label, key)
                            }
                            None => speaker.resume_option(i, label),
                        });
                    }
                    if more {
                        parts.push(speaker.engine("voice-more"));
                    }
                    if multi {
                        parts.push(speaker.engine("voice-multi"));
                        typed = true;
                    }
                }
                InputKind::Number { .. } => {
                    parts.push(speaker.engine("voice-number"));
                    typed = true;
                }
                InputKind::Date => {
                    parts.push(speaker.engine("voice-date"));
                    typed = true;
                }
                InputKind::Text { .. } => parts.push(speaker.engine("voice-record")),
            }
        }
    }
    if let Some(back) = &ask.back {
        one_key &= back.key.len() == 1;
        parts.push(speaker.engine(if back.key.len() > 1 {
            "voice-back-typed"
        } else {
            "voice-back"
        }));
    }
    if let Some(skip) = &ask.skip
        && !matches!(ask.input, InputKind::Text { .. })
    {
        one_key &= skip.key.len() == 1;
        parts.push(speaker.engine("voice-skip"));
    }
    // On the language menu every line is in its own language: no hint in one of them.
    if ask.asking != Asking::Language {
        parts.push(speaker.engine("voice-repeat"));
    }
    let expect = match ask.input {
        InputKind::Text { .. } if ask.asking != Asking::Language => Expect::Record,
        _ if typed => Expect::Keys { digits: None },
        _ => Expect::Keys {
            digits: one_key.then_some(1),
        },
    };
    Script {
        parts,
        expect,
        asking,
    }
}

/// Chooses, part by part, a person's recording, else the language's voice, else synthetic
/// stand-ins; applies the gateway's timeouts. Consecutive spoken parts become one `Say`.
pub fn speak(script: Script<'_>, turn: u32, settings: &VoiceSettings) -> VoicePrompt {
    let catalogue = &settings.catalogue;
    let mut sounds: Vec<Sound> = Vec::with_capacity(4);
    // Each clip's recording, looked up once.
    let mut files: Vec<Option<&AudioFile>> = Vec::new();
    for part in &script.parts {
        files.clear();
        files.extend(part.clips.iter().map(|p| match p {
            Piece::Clip(c) => catalogue.entry(c.lang, &c.id),
            _ => None,
        }));
        let recorded = part.clips.iter().zip(&files).all(|(p, f)| match p {
            Piece::Clip(_) => f.is_some_and(|f| !f.synthetic),
            Piece::Audio(_) => true,
            Piece::Unrecordable => false,
        });
        match settings.tts(part.lang) {
            Some(voice) if !recorded => {
                if part.clips.iter().any(|p| matches!(p, Piece::Audio(_))) {
                    // A caller's own recording echoed: the voice says the words around it.
                    for piece in &part.clips {
                        match piece {
                            Piece::Clip(c) => say(&mut sounds, voice, &c.text),
                            Piece::Audio(url) => sounds.push(Sound::Play { url: (*url).into() }),
                            Piece::Unrecordable => {}
                        }
                    }
                } else {
                    say(&mut sounds, voice, &part.text);
                }
            }
            _ => {
                for (piece, file) in part.clips.iter().zip(&files) {
                    match piece {
                        Piece::Clip(c) => match file {
                            Some(file) => sounds.push(Sound::Play {
                                url: file.url.clone(),
                            }),
                            None => {
                                tracing::warn!(language = %c.lang, message = %c.id, "no recording and no voice for this language: left out")
                            }
                        },
                        Piece::Audio(url) => sounds.push(Sound::Play { url: (*url).into() }),
                        Piece::Unrecordable => {}
                    }
                }
            }
        }
    }
    let collect = match script.expect {
        Expect::Keys { digits } => Collect::Keys {
            digits,
            timeout_secs: if digits.is_some() {
                settings.key_timeout_secs
            } else {
                settings.typed_timeout_secs
            },
        },
        Expect::Record => Collect::Record {
            max_secs: settings.max_record_secs,
            timeout_secs: settings.record_timeout_secs,
        },
        Expect::Hangup => Collect::Hangup,
    };
    VoicePrompt {
        sounds,
        collect,
        asking: script.asking.to_owned(),
        turn,
    }
}

/// Says `text` with `voice`, in the same `Say` as the sound before when it has that voice.
fn say(sounds: &mut Vec<Sound>, voice: &std::sync::Arc<TtsVoice>, text: &str) {
    if let Some(Sound::Say {
        text: said,
        voice: v,
    }) = sounds.last_mut()
        && v == voice
    {
        said.push(' ');
        said.push_str(text);
    } else {
        sounds.push(Sound::Say {
            text: text.to_owned(),
            voice: voice.clone(),
        });
    }
}
