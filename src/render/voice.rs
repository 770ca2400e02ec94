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

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use fluent_bundle::FluentArgs;

use crate::audio::AudioCatalogue;
use crate::engine::{Ask, Asking, InputKind, Message, Said, View};
use crate::flow::{CompiledFlow, FlowLocale};
use crate::question::Question;

/// Options read out per page: keys `1`..`8`, and `9` for the next page.
pub const PAGE_OPTIONS: usize = 8;
/// The key that reads the next page of a long menu.
pub const MORE_KEY: &str = "9";
/// The key that repeats the question.
pub const REPEAT_KEY: &str = "*";

/// How a caller's language is spoken by a text-to-speech engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtsVoice {
    /// The gateway's voice name (`Polly.Lea`).
    pub voice: String,
    /// The BCP 47 tag the gateway expects with it (`fr-FR`).
    pub language: String,
}

/// Everything the voice channel of one gateway speaks with.
#[derive(Debug, Clone)]
pub struct VoiceSettings {
    /// Text-to-speech voices by language (two-letter code). No entry: recordings only.
    pub tts: BTreeMap<String, TtsVoice>,
    /// The recorded prompts.
    pub catalogue: Arc<AudioCatalogue>,
    /// Where the recordings are fetched from (`https://host/audio`, or a CDN), no trailing `/`.
    pub audio_url: String,
    /// Seconds to wait for a key on a menu.
    pub key_timeout_secs: u16,
    /// Seconds to wait for a typed number or date (ended by `#`).
    pub typed_timeout_secs: u16,
    /// Longest spoken answer, in seconds.
    pub max_record_secs: u16,
    /// Seconds of silence that end a spoken answer.
    pub record_timeout_secs: u16,
    /// How many times a question is asked again when the caller presses nothing.
    pub no_input_retries: u8,
}

impl Default for VoiceSettings {
    fn default() -> Self {
        VoiceSettings {
            tts: BTreeMap::new(),
            catalogue: Arc::new(AudioCatalogue::default()),
            audio_url: String::new(),
            key_timeout_secs: 8,
            typed_timeout_secs: 15,
            max_record_secs: 60,
            record_timeout_secs: 5,
            no_input_retries: 2,
        }
    }
}

impl VoiceSettings {
    pub fn tts(&self, lang: &str) -> Option<&TtsVoice> {
        self.tts.get(lang)
    }
}

/// One recordable message (or fragment) in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clip {
    pub lang: String,
    /// Its Fluent id (`incident`, `incident-accident`), or `<id>.<n>` for the n-th fragment of
    /// a message with arguments; the recording is `<lang>/<id>.wav`.
    pub id: String,
    /// What the recording says (the script for whoever records it).
    pub text: String,
}

/// A unit of a prompt: spoken whole by text-to-speech, or played as its clips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub lang: String,
    /// The whole text, for a text-to-speech voice.
    pub text: String,
    /// The recordings that say the same.
    pub clips: Vec<Piece>,
}

/// What a part is played with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Clip(Clip),
    /// The caller's own recorded answer, played back.
    Audio(String),
    /// Text only a text-to-speech voice can say (a typed answer echoed).
    Unrecordable,
}

/// What the gateway waits for after the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collect {
    /// Keys: `digits` of them (`None`: until `#` or the timeout).
    Keys {
        digits: Option<u8>,
        timeout_secs: u16,
    },
    /// A spoken answer, ended by `#`, silence or `max_secs`.
    Record { max_secs: u16, timeout_secs: u16 },
    /// The call ends after the prompt.
    Hangup,
    /// The call is refused (nothing to play).
    Reject,
}

/// A sound a gateway plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sound {
    Play { url: String },
    Say { text: String, voice: TtsVoice },
}

/// What a caller hears and what is collected next: the voice channel's [`Rendered`].
///
/// [`Rendered`]: crate::channel::Rendered
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoicePrompt {
    pub sounds: Vec<Sound>,
    pub collect: Collect,
    /// What is asked (`lang`, `resume`, a step id, `end`): written into the callback URL, for
    /// whoever reads the gateway's logs.
    pub asking: String,
    /// The input count the callback must carry back (a retry of an older one changes nothing).
    pub turn: u32,
}

impl VoicePrompt {
    /// A call refused before any conversation (no flow at this number, service down).
    pub fn reject() -> VoicePrompt {
        VoicePrompt {
            sounds: Vec::new(),
            collect: Collect::Reject,
            asking: "end".into(),
            turn: 0,
        }
    }
}

/// What the renderer makes of a view before choosing recordings or voices.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub parts: Vec<Part>,
    pub expect: Expect,
    pub asking: String,
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

/// The message ids of engine texts a voice call may use, besides the invalid-answer reasons.
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

/// The characters of a receipt code (Crockford base32) and the digits of numbers are spoken
/// one clip each: `voice-digit-0`..`9`, `voice-letter-a`...
fn char_clip_id(c: char) -> Option<String> {
    match c {
        '0'..='9' => Some(format!("voice-digit-{c}")),
        'A'..='Z' | 'a'..='z' => Some(format!("voice-letter-{}", c.to_ascii_lowercase())),
        _ => None,
    }
}

/// The letters a receipt code can hold.
pub const RECEIPT_LETTERS: &str = "ABCDEFGHJKMNPQRSTVWXYZ";

fn engine_text(loc: &FlowLocale, id: &str) -> String {
    loc.engine_text(id, None)
}

/// A message without arguments, as one clip.
fn simple(loc: &FlowLocale, id: &str, text: &str) -> Part {
    Part {
        lang: loc.lang.clone(),
        text: text.to_owned(),
        clips: vec![Piece::Clip(Clip {
            lang: loc.lang.clone(),
            id: id.to_owned(),
            text: text.to_owned(),
        })],
    }
}

fn engine_part(loc: &FlowLocale, id: &str) -> Part {
    simple(loc, id, &engine_text(loc, id))
}

fn chars_clips(loc: &FlowLocale, s: &str) -> Vec<Piece> {
    s.chars()
        .filter_map(|c| {
            let id = char_clip_id(c)?;
            let text = engine_text(loc, &id);
            Some(Piece::Clip(Clip {
                lang: loc.lang.clone(),
                id,
                text,
            }))
        })
        .collect()
}

/// The text of a message with each argument replaced by a marker, split into the fragments
/// between arguments (`Text`) and the arguments (`Arg(i)`), in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fragment {
    Text(String),
    Arg(usize),
}

const MARK_OPEN: char = '\u{E000}';
const MARK_CLOSE: char = '\u{E001}';

/// The fragments of message `id` (flow texts first, then the engine's) with arguments `names`.
pub fn fragments(loc: &FlowLocale, id: &str, names: &[&str]) -> Vec<Fragment> {
    let mut args = FluentArgs::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        args.set(*name, format!("{MARK_OPEN}{i}{MARK_CLOSE}"));
    }
    let text = crate::i18n::format(&loc.flow_chain, id, Some(&args))
        .or_else(|| crate::i18n::format(&loc.engine_chain, id, Some(&args)))
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(open) = rest.find(MARK_OPEN) {
        let before = rest[..open].trim();
        if speakable(before) {
            out.push(Fragment::Text(before.to_owned()));
        }
        let after = &rest[open + MARK_OPEN.len_utf8()..];
        let Some(close) = after.find(MARK_CLOSE) else {
            break;
        };
        if let Ok(i) = after[..close].parse() {
            out.push(Fragment::Arg(i));
        }
        rest = &after[close + MARK_CLOSE.len_utf8()..];
    }
    let tail = rest.trim();
    if speakable(tail) {
        out.push(Fragment::Text(tail.to_owned()));
    }
    out
}

/// Whether a fragment says anything (a lone `.` between arguments is not recorded).
fn speakable(fragment: &str) -> bool {
    fragment.chars().any(char::is_alphanumeric)
}

/// The clip of the `n`-th (1-based) text fragment of message `id`.
pub fn fragment_id(id: &str, n: usize) -> String {
    format!("{id}.{n}")
}

/// A message as a part: one clip, or its fragments and its arguments' clips.
fn message_part(flow: &CompiledFlow, loc: &FlowLocale, message: &Message<'_>) -> Part {
    let args = message.args();
    if args.is_empty() {
        return simple(loc, &message.id, &message.text);
    }
    let names: Vec<&str> = args.iter().map(|(n, _)| n.as_ref()).collect();
    let mut clips = Vec::new();
    let mut n = 0;
    for f in fragments(loc, &message.id, &names) {
        match f {
            Fragment::Text(text) => {
                n += 1;
                clips.push(Piece::Clip(Clip {
                    lang: loc.lang.clone(),
                    id: fragment_id(&message.id, n),
                    text,
                }));
            }
            Fragment::Arg(i) => {
                if let Some((_, said)) = args.get(i) {
                    clips.extend(said_clips(flow, loc, said));
                }
            }
        }
    }
    Part {
        lang: loc.lang.clone(),
        text: message.text.to_string(),
        clips,
    }
}

/// An argument as clips: a choice by its label's recording, numbers and codes digit by digit.
fn said_clips(flow: &CompiledFlow, loc: &FlowLocale, said: &Said<'_>) -> Vec<Piece> {
    let label = |step: u16, option: u16, text: &str| {
        let id = flow.steps[step as usize]
            .question
            .options()
            .map(|o| o.message_id(option as usize))
            .unwrap_or_default();
        Piece::Clip(Clip {
            lang: loc.lang.clone(),
            id,
            text: text.to_owned(),
        })
    };
    match said {
        Said::Choice {
            step,
            option,
            label: text,
        } => vec![label(*step, *option, text)],
        Said::Choices {
            step,
            options,
            labels,
        } => options
            .iter()
            .zip(labels)
            .map(|(o, text)| label(*step, *o, text))
            .collect(),
        Said::Audio(url) => vec![Piece::Audio((*url).to_owned())],
        Said::Text(_) => vec![Piece::Unrecordable],
        Said::Integer(n) => chars_clips(loc, &n.to_string()),
        Said::Number(n) => chars_clips(loc, &n.to_string()),
        Said::Date(d) => chars_clips(loc, d),
        Said::Receipt(r) => chars_clips(loc, r),
        Said::Nothing => Vec::new(),
    }
}

/// "`label`, press `key`": the label's clip, then `voice-press`, then the key's digit.
fn option_line(loc: &FlowLocale, label_id: &str, label: &str, key: usize) -> Part {
    let press = engine_text(loc, "voice-press");
    let mut clips = vec![
        Piece::Clip(Clip {
            lang: loc.lang.clone(),
            id: label_id.to_owned(),
            text: label.to_owned(),
        }),
        Piece::Clip(Clip {
            lang: loc.lang.clone(),
            id: "voice-press".into(),
            text: press.clone(),
        }),
    ];
    clips.extend(chars_clips(loc, &key.to_string()));
    Part {
        lang: loc.lang.clone(),
        text: format!("{label}, {press} {key}."),
        clips,
    }
}

/// The message id of option `i` of what `ask` is about.
fn choice_id(flow: &CompiledFlow, asking: Asking, i: usize) -> Cow<'static, str> {
    match asking {
        Asking::Resume => Cow::Borrowed(if i == 0 {
            "resume-continue"
        } else {
            "resume-restart"
        }),
        Asking::Step(s) => match flow.steps[s as usize].question.options() {
            Some(o) => Cow::Owned(o.message_id(i)),
            None => Cow::Borrowed("nav-continue"),
        },
        Asking::Language => Cow::Borrowed("voice-language"),
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
pub fn script(flow: &CompiledFlow, view: &View<'_>, page: u8, languages: &[u8]) -> Script {
    match view {
        View::End(closing) => {
            let loc = &flow.locales[closing.lang as usize];
            Script {
                parts: vec![message_part(flow, loc, &closing.message)],
                expect: Expect::Hangup,
                asking: "end".into(),
            }
        }
        View::Ask(ask) => ask_script(flow, ask, page as usize, languages),
    }
}

fn ask_script(flow: &CompiledFlow, ask: &Ask<'_>, page: usize, languages: &[u8]) -> Script {
    let loc = &flow.locales[ask.lang as usize];
    let mut parts = Vec::new();
    if let Some(reason) = &ask.reason {
        parts.push(message_part(flow, loc, reason));
    }
    let asking = match ask.asking {
        Asking::Language => "lang".to_owned(),
        Asking::Resume => "resume".to_owned(),
        Asking::Step(s) => flow.steps[s as usize].id.clone(),
    };
    let mut keys: Vec<&str> = Vec::new();
    let mut typed = false;
    match ask.asking {
        Asking::Language => {
            // Each language's line in that language: "Pour le français, appuyez sur 1".
            for (k, &l) in languages.iter().enumerate() {
                let lloc = &flow.locales[l as usize];
                let text = engine_text(lloc, "voice-language");
                parts.push(option_line(lloc, "voice-language", &text, k + 1));
            }
            keys.push("1");
        }
        _ => {
            parts.push(message_part(flow, loc, &ask.prompt));
            match ask.input {
                InputKind::Choice | InputKind::Continue | InputKind::Choices { .. } => {
                    let multi = matches!(ask.input, InputKind::Choices { .. });
                    let n = ask.choices.len();
                    let (range, more) = if multi {
                        (0..n, false)
                    } else {
                        page_range(n, page)
                    };
                    for i in range.clone() {
                        let key = if multi { i + 1 } else { i - range.start + 1 };
                        let id = choice_id(flow, ask.asking, i);
                        parts.push(option_line(loc, &id, &ask.choices[i].text, key));
                        keys.push(if key > 9 { "10" } else { "1" });
                    }
                    if more {
                        parts.push(engine_part(loc, "voice-more"));
                    }
                    if multi {
                        parts.push(engine_part(loc, "voice-multi"));
                        typed = true;
                    }
                }
                InputKind::Number { .. } => {
                    parts.push(engine_part(loc, "voice-number"));
                    typed = true;
                }
                InputKind::Date => {
                    parts.push(engine_part(loc, "voice-date"));
                    typed = true;
                }
                InputKind::Text { .. } => parts.push(engine_part(loc, "voice-record")),
            }
        }
    }
    if let Some(back) = &ask.back {
        let id = if back.key.len() > 1 {
            "voice-back-typed"
        } else {
            "voice-back"
        };
        parts.push(engine_part(loc, id));
        keys.push(back.key);
    }
    if let Some(skip) = &ask.skip
        && !matches!(ask.input, InputKind::Text { .. })
    {
        parts.push(engine_part(loc, "voice-skip"));
        keys.push(skip.key);
    }
    // On the language menu every line is in its own language: no hint in one of them.
    if ask.asking != Asking::Language {
        parts.push(engine_part(loc, "voice-repeat"));
    }
    let expect = match ask.input {
        InputKind::Text { .. } if ask.asking != Asking::Language => Expect::Record,
        _ if typed => Expect::Keys { digits: None },
        // One key when every key is one digit; else typed and ended by `#`.
        _ => Expect::Keys {
            digits: keys.iter().all(|k| k.len() == 1).then_some(1),
        },
    };
    Script {
        parts,
        expect,
        asking,
    }
}

/// Chooses, part by part, a recording or the language's voice, and applies the gateway's
/// timeouts. Consecutive spoken parts become one `Say`.
pub fn speak(script: Script, turn: u32, settings: &VoiceSettings) -> VoicePrompt {
    let mut sounds: Vec<Sound> = Vec::new();
    for part in script.parts {
        let tts = settings.tts(&part.lang);
        // A person's recording first, then the language's voice, then synthetic stand-ins.
        let recorded = part.clips.iter().all(|p| match p {
            Piece::Clip(c) => settings
                .catalogue
                .entry(&c.lang, &c.id)
                .is_some_and(|f| !f.synthetic),
            Piece::Audio(_) => true,
            Piece::Unrecordable => false,
        });
        let plays_audio = part.clips.iter().any(|p| matches!(p, Piece::Audio(_)));
        match tts {
            // A caller's own recording echoed: the voice says the words around it.
            Some(voice) if !recorded && plays_audio => {
                for piece in &part.clips {
                    match piece {
                        Piece::Clip(c) => say(&mut sounds, voice, &c.text),
                        Piece::Audio(url) => sounds.push(Sound::Play { url: url.clone() }),
                        Piece::Unrecordable => {}
                    }
                }
            }
            Some(voice) if !recorded => say(&mut sounds, voice, &part.text),
            _ => {
                for piece in &part.clips {
                    match piece {
                        Piece::Clip(c) => match settings.catalogue.file(&c.lang, &c.id) {
                            Some(file) => sounds.push(Sound::Play {
                                url: format!("{}/{file}", settings.audio_url),
                            }),
                            None => {
                                tracing::warn!(language = %c.lang, message = %c.id, "no recording and no voice for this language: left out")
                            }
                        },
                        Piece::Audio(url) => sounds.push(Sound::Play { url: url.clone() }),
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
        asking: script.asking,
        turn,
    }
}

/// Says `text` with `voice`, in the same `Say` as the sound before when it has that voice.
fn say(sounds: &mut Vec<Sound>, voice: &TtsVoice, text: &str) {
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

/// One line of a recording script: a clip a call in `lang` may play.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScriptLine {
    pub lang: String,
    pub id: String,
    pub text: String,
}

/// Every clip a call of `flow` in language `lang` may play, each once, in a stable order:
/// the flow's prompts, labels and explanations, then the engine's texts.
pub fn recording_script(flow: &CompiledFlow, lang: u8) -> Vec<ScriptLine> {
    let loc = &flow.locales[lang as usize];
    let mut lines: Vec<ScriptLine> = Vec::new();
    let mut add = |piece: &Piece| {
        if let Piece::Clip(c) = piece
            && !lines.iter().any(|l| l.id == c.id)
        {
            lines.push(ScriptLine {
                lang: c.lang.clone(),
                id: c.id.clone(),
                text: c.text.clone(),
            });
        }
    };
    let mut any_more = false;
    let mut any_typed_back = false;
    let mut any_skip = false;
    let mut numbers = false;
    let mut letters = false;
    let mut kinds: Vec<&'static str> = Vec::new();
    for (i, step) in flow.steps.iter().enumerate() {
        let texts = &loc.steps[i];
        match &texts.prompt {
            crate::flow::Prompt::Static(text) => add(&simple(loc, &step.id, text).clips[0]),
            crate::flow::Prompt::Dynamic { id, args } => {
                let names: Vec<&str> = args.iter().map(|(n, _)| n.as_str()).collect();
                let mut n = 0;
                for f in fragments(loc, id, &names) {
                    match f {
                        Fragment::Text(text) => {
                            n += 1;
                            add(&Piece::Clip(Clip {
                                lang: loc.lang.clone(),
                                id: fragment_id(id, n),
                                text,
                            }));
                        }
                        Fragment::Arg(a) => match args[a].1 {
                            crate::flow::Arg::Receipt => {
                                numbers = true;
                                letters = true;
                            }
                            crate::flow::Arg::Answer(s) => {
                                if matches!(
                                    flow.steps[s as usize].question,
                                    Question::Number(_) | Question::Date(_)
                                ) {
                                    numbers = true;
                                }
                            }
                        },
                    }
                }
            }
        }
        if let Some(o) = step.question.options() {
            for (k, label) in texts.labels.iter().enumerate() {
                add(&simple(loc, &o.message_id(k), &label.text).clips[0]);
            }
            any_more |= o.len() > 9 && !matches!(step.question, Question::Multi(_));
        }
        if let Some(text) = &texts.invalid {
            add(&simple(loc, &format!("{}-invalid", step.id), text).clips[0]);
        }
        any_skip |= !step.required && !matches!(step.question, Question::Text(_) | Question::End);
        any_typed_back |= step.question.is_typed();
        let kind = match &step.question {
            Question::Choice(_) => Some("invalid-option"),
            Question::Multi(_) => Some("voice-multi"),
            Question::Number(_) => Some("voice-number"),
            Question::Date(_) => Some("voice-date"),
            Question::Text(_) => Some("voice-record"),
            Question::Info => Some("nav-continue"),
            Question::End => None,
        };
        if let Some(k) = kind
            && !kinds.contains(&k)
        {
            kinds.push(k);
        }
    }
    // Engine texts: what the questions of this flow may need.
    let mut engine: Vec<&str> = vec![
        "voice-press",
        "voice-repeat",
        "voice-back",
        "invalid-option",
    ];
    engine.extend(kinds.iter().copied());
    if flow.language_screen.is_some() {
        engine.push("voice-language");
    }
    if any_more {
        engine.push("voice-more");
    }
    if any_typed_back {
        engine.push("voice-back-typed");
    }
    if any_skip {
        engine.push("voice-skip");
    }
    engine.extend([
        "too-many-attempts",
        "voice-no-input-goodbye",
        "resume-prompt",
        "resume-continue",
        "resume-restart",
    ]);
    for id in engine {
        add(&engine_part(loc, id).clips[0]);
    }
    // Wrong answers, explained with the engine's reasons (their numbers read digit by digit).
    for step in &flow.steps {
        for id in reasons_of(&step.question) {
            let names: &[&str] = crate::question::ENGINE_MESSAGE_ARGS
                .iter()
                .find(|(m, _)| *m == id)
                .map_or(&[], |(_, a)| a);
            if names.is_empty() {
                add(&engine_part(loc, id).clips[0]);
                continue;
            }
            numbers = true;
            let mut n = 0;
            for f in fragments(loc, id, names) {
                if let Fragment::Text(text) = f {
                    n += 1;
                    add(&Piece::Clip(Clip {
                        lang: loc.lang.clone(),
                        id: fragment_id(id, n),
                        text,
                    }));
                }
            }
        }
    }
    // Options are keyed 1..9; numbers and codes are spelt.
    for d in '0'..='9' {
        if numbers || d != '0' {
            for p in chars_clips(loc, &d.to_string()) {
                add(&p);
            }
        }
    }
    if letters {
        for p in chars_clips(loc, RECEIPT_LETTERS) {
            add(&p);
        }
    }
    lines
}

/// The engine reasons a question may give for a wrong answer.
fn reasons_of(q: &Question) -> Vec<&'static str> {
    match q {
        Question::Choice(_) => vec!["invalid-option"],
        Question::Multi(_) => vec!["invalid-option", "invalid-selection"],
        Question::Number(_) => vec![
            "invalid-number",
            "invalid-integer",
            "invalid-range",
            "invalid-min",
            "invalid-max",
        ],
        Question::Date(_) => vec![
            "invalid-date",
            "invalid-date-range",
            "invalid-date-min",
            "invalid-date-max",
        ],
        Question::Text(_) => vec!["invalid-empty"],
        Question::Info | Question::End => Vec::new(),
    }
}

/// Whether every clip a call in `lang` may play is recorded, or the language has a voice.
pub fn language_complete(flow: &CompiledFlow, lang: u8, settings: &VoiceSettings) -> bool {
    let tag = &flow.languages[lang as usize];
    settings.tts(tag).is_some()
        || recording_script(flow, lang)
            .iter()
            .all(|l| settings.catalogue.file(&l.lang, &l.id).is_some())
}
