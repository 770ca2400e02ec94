//! `sauti prompts` and `sauti check --voice`: every (language, message) a flow's calls may
//! play, where its recording is expected, and whether it is recorded, spoken by a configured
//! voice, or missing; `--synthesize` makes stand-ins with espeak-ng where espeak-ng really
//! speaks the language (French, Swahili; never Lingala).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::audio::AudioCatalogue;
use crate::flow::CompiledFlow;
use crate::problem::Problem;
use crate::render::voice::recording_script;

/// Where a prompt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Recorded by a person.
    Recorded,
    /// Made by a speech synthesiser, to try calls before real recordings exist.
    Synthetic,
    /// Not recorded, spoken by the language's text-to-speech voice.
    Tts,
    Missing,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Recorded => "recorded",
            Status::Synthetic => "synthetic",
            Status::Tts => "tts",
            Status::Missing => "missing",
        }
    }
}

/// One line of the recording script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub lang: String,
    pub message: String,
    /// Relative to the audio directory: the recording, or where it is expected.
    pub file: String,
    pub text: String,
    pub status: Status,
}

/// Every prompt of `flow`'s calls, language by language, with its status given the recordings
/// in `catalogue` and the languages that have a voice (`tts`).
pub fn prompts(
    flow: &CompiledFlow,
    catalogue: &AudioCatalogue,
    tts: &BTreeMap<String, String>,
) -> Vec<Prompt> {
    let mut out = Vec::new();
    for lang in 0..flow.languages.len() as u8 {
        for line in recording_script(flow, lang) {
            let (file, status) = match catalogue.entry(&line.lang, &line.id) {
                Some(f) if f.synthetic => (f.path.clone(), Status::Synthetic),
                Some(f) => (f.path.clone(), Status::Recorded),
                None => {
                    let status = if tts.contains_key(&line.lang) {
                        Status::Tts
                    } else {
                        Status::Missing
                    };
                    (format!("{}/{}.wav", line.lang, line.id), status)
                }
            };
            out.push(Prompt {
                lang: line.lang,
                message: line.id,
                file,
                text: line.text,
                status,
            });
        }
    }
    out
}

/// The problems `check --voice` reports: a prompt missing in a language with no voice.
pub fn voice_problems(
    flow: &CompiledFlow,
    catalogue: &AudioCatalogue,
    tts: &BTreeMap<String, String>,
) -> Vec<Problem> {
    prompts(flow, catalogue, tts)
        .into_iter()
        .filter(|p| p.status == Status::Missing)
        .map(|p| {
            Problem::new(
                &flow.path,
                0,
                0,
                format!(
                    "voice: language `{}` has no voice and no recording of `{}` (expected {}): {:?}",
                    p.lang,
                    p.message,
                    catalogue.dir().join(&p.file).display(),
                    p.text
                ),
            )
        })
        .collect()
}

/// How the script is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `language,message,file,text,status`, one line per prompt.
    Csv,
    /// Grouped by language, for whoever records.
    Text,
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The script in `format`.
pub fn render(prompts: &[Prompt], format: Format) -> String {
    let mut out = String::new();
    match format {
        Format::Csv => {
            out.push_str("language,message,file,text,status\n");
            for p in prompts {
                let _ = writeln!(
                    out,
                    "{},{},{},{},{}",
                    csv_field(&p.lang),
                    csv_field(&p.message),
                    csv_field(&p.file),
                    csv_field(&p.text),
                    p.status.name()
                );
            }
        }
        Format::Text => {
            let mut lang = "";
            for p in prompts {
                if p.lang != lang {
                    lang = &p.lang;
                    let missing = prompts
                        .iter()
                        .filter(|q| q.lang == lang && q.status == Status::Missing)
                        .count();
                    let _ = writeln!(out, "\n== {lang} ({missing} missing)");
                }
                let _ = writeln!(
                    out,
                    "[{:9}] {:28} {}\n            {}",
                    p.status.name(),
                    p.message,
                    p.file,
                    p.text
                );
            }
        }
    }
    out
}

/// The espeak-ng voice for a language, where espeak-ng really speaks it.
pub fn espeak_voice(lang: &str) -> Option<&'static str> {
    match lang {
        "fr" => Some("fr"),
        "sw" => Some("sw"),
        "en" => Some("en"),
        _ => None,
    }
}

/// Writes a synthetic stand-in (`<lang>/<id>.synthetic.wav`) for every prompt not recorded
/// by a person, in the languages espeak-ng speaks. Returns how many were made.
pub fn synthesize(prompts: &[Prompt], audio: &Path) -> anyhow::Result<usize> {
    use anyhow::Context;
    let mut made = 0;
    for p in prompts {
        if matches!(p.status, Status::Recorded) {
            continue;
        }
        let Some(voice) = espeak_voice(&p.lang) else {
            continue;
        };
        let dir = audio.join(&p.lang);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let file = dir.join(format!("{}.synthetic.wav", p.message));
        let status = std::process::Command::new("espeak-ng")
            .arg("-v")
            .arg(voice)
            .arg("-w")
            .arg(&file)
            .arg("--")
            .arg(&p.text)
            .status()
            .context("running espeak-ng (apt install espeak-ng)")?;
        if !status.success() {
            anyhow::bail!("espeak-ng failed for {} {}", p.lang, p.message);
        }
        made += 1;
    }
    Ok(made)
}

/// `sauti prompts`.
pub fn command(
    flow: &str,
    locales: &Path,
    audio: &Path,
    tts: &BTreeMap<String, String>,
    format: Format,
    synthesize_missing: bool,
) -> anyhow::Result<()> {
    let flow = crate::check::load_one(flow, locales, crate::render::Budget::default())?;
    let mut catalogue = AudioCatalogue::scan(audio, "")?;
    if synthesize_missing {
        let made = synthesize(&prompts(&flow, &catalogue, tts), audio)?;
        eprintln!(
            "{made} synthetic prompt(s) written under {} (espeak-ng; Lingala has no voice there)",
            audio.display()
        );
        catalogue = AudioCatalogue::scan(audio, "")?;
    }
    print!("{}", render(&prompts(&flow, &catalogue, tts), format));
    Ok(())
}
