//! An SMS conversation in pure terms: keywords that start a survey, stop words that end it,
//! and any other text, an answer to the question last sent.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Where a keyword leads: a flow, in a language (none: the flow's language screen).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordTarget {
    pub flow: String,
    #[serde(default)]
    pub lang: Option<String>,
}

/// The SMS channel's settings: its keywords (normalised with [`normalize_keyword`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsSettings {
    pub keywords: BTreeMap<String, KeywordTarget>,
}

impl Default for SmsSettings {
    fn default() -> Self {
        SmsSettings::new(default_keywords())
    }
}

impl SmsSettings {
    /// Settings over `keywords` as configured (any case, accents allowed).
    pub fn new(keywords: BTreeMap<String, KeywordTarget>) -> SmsSettings {
        SmsSettings {
            keywords: keywords
                .into_iter()
                .map(|(k, t)| (normalize_keyword(&k), t))
                .collect(),
        }
    }

    /// What a text means: a keyword, a stop word, or an answer.
    pub fn classify<'t>(&self, text: &'t str) -> SmsText<'t, '_> {
        let word = normalize_keyword(text);
        if STOP_WORDS.contains(&word.as_str()) {
            return SmsText::Stop;
        }
        match self.keywords.get(&word) {
            Some(target) => SmsText::Start(target),
            None => SmsText::Answer(text.trim()),
        }
    }

    /// The keyword a respondent is told to text to start `flow` (the first that leads to it
    /// with its language screen, else any), for the "text … to start" notice.
    pub fn keyword_of(&self, flow: &str) -> Option<&str> {
        let leading: Vec<_> = self
            .keywords
            .iter()
            .filter(|(_, t)| t.flow == flow)
            .collect();
        leading
            .iter()
            .find(|(_, t)| t.lang.is_none())
            .or(leading.first())
            .map(|(k, _)| k.as_str())
    }
}

/// The keywords shipped for the kufatilia flow: with its language screen, Swahili, French.
pub fn default_keywords() -> BTreeMap<String, KeywordTarget> {
    let target = |lang: Option<&str>| KeywordTarget {
        flow: "kufatilia".into(),
        lang: lang.map(str::to_owned),
    };
    BTreeMap::from([
        ("KUFATILIA".to_owned(), target(None)),
        ("RIPOTI".to_owned(), target(Some("sw"))),
        ("ALERTE".to_owned(), target(Some("fr"))),
    ])
}

/// Words that end a conversation (English, French, Swahili), as normalised.
pub const STOP_WORDS: [&str; 3] = ["STOP", "ARRET", "ACHA"];

/// What an inbound text means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsText<'t, 's> {
    /// A keyword: (re)start this survey.
    Start(&'s KeywordTarget),
    /// A stop word: end the conversation.
    Stop,
    /// An answer to the question last sent (trimmed).
    Answer(&'t str),
}

/// A text as keywords are compared: trimmed, upper case, accents stripped (`Arrêt` is
/// `ARRET`), so that phones that capitalise or accent on their own still match.
pub fn normalize_keyword(text: &str) -> String {
    text.trim()
        .chars()
        .map(strip_accent)
        .flat_map(char::to_uppercase)
        .collect()
}

/// The base letter of the accented Latin letters of French, Swahili and Lingala.
fn strip_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' => 'a',
        'À' | 'Á' | 'Â' | 'Ä' | 'Ã' => 'A',
        'è' | 'é' | 'ê' | 'ë' | 'ɛ' => 'e',
        'È' | 'É' | 'Ê' | 'Ë' | 'Ɛ' => 'E',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'Ì' | 'Í' | 'Î' | 'Ï' => 'I',
        'ò' | 'ó' | 'ô' | 'ö' | 'õ' | 'ɔ' => 'o',
        'Ò' | 'Ó' | 'Ô' | 'Ö' | 'Õ' | 'Ɔ' => 'O',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'Ù' | 'Ú' | 'Û' | 'Ü' => 'U',
        'ç' => 'c',
        'Ç' => 'C',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_whatever_the_case_accents_and_blanks() {
        let s = SmsSettings::default();
        assert_eq!(
            s.classify("  kufatilia\n"),
            SmsText::Start(&s.keywords["KUFATILIA"])
        );
        assert_eq!(
            s.classify("Alerte").clone(),
            SmsText::Start(&s.keywords["ALERTE"])
        );
        assert_eq!(s.classify("Arrêt"), SmsText::Stop);
        assert_eq!(s.classify("acha"), SmsText::Stop);
        assert_eq!(s.classify(" 2 "), SmsText::Answer("2"));
        assert_eq!(s.keyword_of("kufatilia"), Some("KUFATILIA"));
    }
}

#[cfg(test)]
mod config_tests {
    use crate::config::Config;

    #[test]
    fn keywords_configured_replace_the_shipped_ones() {
        let c: Config = toml::from_str(
            "[sms]\nsession_ttl_secs = 3600\n[sms.keywords]\n\"Habari\" = { flow = \"connectivity\", lang = \"sw\" }\n",
        )
        .unwrap();
        assert_eq!(c.sms.session_ttl_secs, 3600);
        let s = super::SmsSettings::new(c.sms.keywords);
        assert!(
            matches!(s.classify("habari"), super::SmsText::Start(t) if t.flow == "connectivity")
        );
        assert!(matches!(s.classify("KUFATILIA"), super::SmsText::Answer(_)));
        let shipped: Config = toml::from_str("").unwrap();
        assert_eq!(shipped.sms.session_ttl_secs, 24 * 60 * 60);
        assert_eq!(shipped.sms.keywords.len(), 3);
    }
}
