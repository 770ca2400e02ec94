//! The recording script of a flow's calls: every clip a call in one language may play, built
//! by the same code that builds prompts (so that the script and the calls never disagree), and
//! whether a language is complete (every clip recorded, or a voice for it).

use super::{Fragment, Part, Piece, Speaker, VoiceSettings, fragments};
use crate::flow::{Arg, CompiledFlow, Prompt};
use crate::question::{ENGINE_MESSAGE_ARGS, Question};

/// One line of a recording script: a clip a call in `lang` may play.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScriptLine {
    pub lang: String,
    pub id: String,
    pub text: String,
}

/// The engine reasons a question may give for a wrong answer.
fn reasons_of(q: &Question) -> &'static [&'static str] {
    match q {
        Question::Choice(_) => &["invalid-option"],
        Question::Multi(_) => &["invalid-option", "invalid-selection"],
        Question::Number(_) => &[
            "invalid-number",
            "invalid-integer",
            "invalid-range",
            "invalid-min",
            "invalid-max",
        ],
        Question::Date(_) => &[
            "invalid-date",
            "invalid-date-range",
            "invalid-date-min",
            "invalid-date-max",
        ],
        Question::Text(_) => &["invalid-empty"],
        Question::Info | Question::End => &[],
    }
}

/// Every clip a call of `flow` in language `lang` may play, each once, in a stable order:
/// the flow's prompts, labels and explanations, then the engine's texts, then the digits and
/// letters that spell numbers and codes.
pub fn recording_script(flow: &CompiledFlow, lang: u8) -> Vec<ScriptLine> {
    let loc = &flow.locales[lang as usize];
    let speaker = Speaker::new(flow, lang);
    let mut lines: Vec<ScriptLine> = Vec::new();
    let mut add = |piece: &Piece<'_>| {
        if let Piece::Clip(c) = piece
            && !lines.iter().any(|l| l.id == c.id)
        {
            lines.push(ScriptLine {
                lang: c.lang.to_owned(),
                id: c.id.to_string(),
                text: c.text.to_string(),
            });
        }
    };
    let add_part = |part: Part<'_>, add: &mut dyn FnMut(&Piece<'_>)| {
        for p in &part.clips {
            add(p);
        }
    };
    let mut spelt = false;
    let mut letters = false;
    let mut engine: Vec<&'static str> = vec!["voice-repeat"];
    for (i, step) in flow.steps.iter().enumerate() {
        let texts = &loc.steps[i];
        match &texts.prompt {
            Prompt::Static(text) => add_part(speaker.simple(&step.id, text), &mut add),
            Prompt::Dynamic { args, .. } => {
                for f in flow
                    .voice_lines
                    .prompt_fragments(lang, i as u16)
                    .unwrap_or_default()
                {
                    match f {
                        Fragment::Text { id, text } => {
                            add(&speaker.clip(id.as_str(), text.as_str()))
                        }
                        Fragment::Arg(a) => match args[*a].1 {
                            Arg::Receipt => {
                                spelt = true;
                                letters = true;
                            }
                            Arg::Answer(s) => {
                                spelt |= matches!(
                                    flow.steps[s as usize].question,
                                    Question::Number(_) | Question::Date(_)
                                );
                            }
                        },
                    }
                }
            }
        }
        if step.question.options().is_some() || matches!(step.question, Question::Info) {
            let labels: Vec<&str> = match step.question {
                Question::Info => vec![loc.nav.next.text.as_str()],
                _ => texts.labels.iter().map(|l| l.text.as_str()).collect(),
            };
            let n = labels.len();
            for (k, label) in labels.into_iter().enumerate() {
                // The label's clip and `voice-press` (the key's digit comes with the digits).
                for p in speaker.option(i as u16, k, label, 1).clips.iter().take(2) {
                    add(p);
                }
            }
            if n > 9 && !matches!(step.question, Question::Multi(_)) {
                engine.push("voice-more");
            }
        }
        if let Some(text) = &texts.invalid {
            add(&speaker.clip(format!("{}-invalid", step.id), text.as_str()));
        }
        if !step.required && !matches!(step.question, Question::Text(_) | Question::End) {
            engine.push("voice-skip");
        }
        let hint = match &step.question {
            Question::Number(_) => Some("voice-number"),
            Question::Date(_) => Some("voice-date"),
            Question::Multi(_) => Some("voice-multi"),
            Question::Text(_) => Some("voice-record"),
            _ => None,
        };
        engine.extend(hint);
        if step.question.is_typed() {
            engine.push("voice-back-typed");
        }
    }
    engine.extend(["voice-back", "invalid-option"]);
    if flow.language_screen.is_some() {
        engine.push("voice-language");
    }
    engine.extend([
        "too-many-attempts",
        "voice-no-input-goodbye",
        "resume-prompt",
    ]);
    for id in engine {
        add_part(speaker.engine(id), &mut add);
    }
    add_part(
        speaker.resume_option(0, &loc.nav.resume_options[0].text),
        &mut add,
    );
    add_part(
        speaker.resume_option(1, &loc.nav.resume_options[1].text),
        &mut add,
    );
    // Wrong answers, explained by the engine (their numbers spelt).
    for step in &flow.steps {
        for &id in reasons_of(&step.question) {
            let names: &[&str] = ENGINE_MESSAGE_ARGS
                .iter()
                .find(|(m, _)| *m == id)
                .map_or(&[], |(_, a)| a);
            if names.is_empty() {
                add_part(speaker.engine(id), &mut add);
                continue;
            }
            spelt = true;
            for f in fragments(loc, id, names) {
                if let Fragment::Text { id, text } = f {
                    add(&speaker.clip(id, text));
                }
            }
        }
    }
    // Keys are digits; numbers and codes are spelt digit by digit, letter by letter.
    let digits = if spelt { "0123456789" } else { "123456789" };
    let mut pieces = Vec::new();
    speaker.spell(digits, &mut pieces);
    if letters {
        speaker.spell(crate::response::RECEIPT_LETTERS, &mut pieces);
    }
    for p in &pieces {
        add(p);
    }
    lines
}

/// Whether every clip a call in `lang` may play is recorded, or the language has a voice.
pub fn language_complete(flow: &CompiledFlow, lang: u8, settings: &VoiceSettings) -> bool {
    let tag = &flow.languages[lang as usize];
    settings.tts(tag).is_some()
        || recording_script(flow, lang)
            .iter()
            .all(|l| settings.catalogue.file(&l.lang, &l.id).is_some())
}
