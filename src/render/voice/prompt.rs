//! What the voice renderer hands a gateway: sounds (a recording to play, or text for a
//! language's voice) and what to collect next; and the settings it chooses them with.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use crate::audio::AudioCatalogue;
use crate::flow::CompiledFlow;

/// How a caller's language is spoken by a text-to-speech engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtsVoice {
    /// The gateway's voice name (`Polly.Lea`).
    pub voice: String,
    /// The BCP 47 tag the gateway expects with it (`fr-FR`).
    pub language: String,
}

/// Everything the voice channel of one gateway speaks with.
#[derive(Debug)]
pub struct VoiceSettings {
    /// Text-to-speech voices by language (two-letter code). No entry: recordings only.
    pub tts: BTreeMap<String, Arc<TtsVoice>>,
    /// The recorded prompts, with the URLs gateways fetch them at.
    pub catalogue: Arc<AudioCatalogue>,
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
    /// The languages each flow offers on calls, worked out once per flow version and texts.
    pub offered: OfferedLanguages,
}

/// The languages offered on calls, per flow (id, version, texts): working them out reads every
/// prompt of every language, so it is done once.
#[derive(Debug, Default)]
pub struct OfferedLanguages(RwLock<HashMap<FlowKey, Arc<[u8]>>>);

/// A flow's id, version and texts fingerprint.
type FlowKey = (String, u32, u64);

impl Default for VoiceSettings {
    fn default() -> Self {
        VoiceSettings {
            tts: BTreeMap::new(),
            catalogue: Arc::new(AudioCatalogue::default()),
            key_timeout_secs: 8,
            typed_timeout_secs: 15,
            max_record_secs: 60,
            record_timeout_secs: 5,
            no_input_retries: 2,
            offered: OfferedLanguages::default(),
        }
    }
}

impl VoiceSettings {
    pub fn tts(&self, lang: &str) -> Option<&Arc<TtsVoice>> {
        self.tts.get(lang)
    }

    /// The languages a call of `flow` offers: those whose prompts are all recorded, or that
    /// have a voice (indices into the flow's languages).
    pub fn offered_languages(&self, flow: &CompiledFlow) -> Arc<[u8]> {
        let key = (flow.id.clone(), flow.version, flow.texts_fingerprint);
        if let Some(found) = self
            .offered
            .0
            .read()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return found;
        }
        let offered: Arc<[u8]> = (0..flow.languages.len() as u8)
            .filter(|&l| super::recording::language_complete(flow, l, self))
            .collect();
        if let Ok(mut m) = self.offered.0.write() {
            m.insert(key, offered.clone());
        }
        offered
    }
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
    Play { url: Arc<str> },
    Say { text: String, voice: Arc<TtsVoice> },
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
