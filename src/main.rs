//! The `sauti` command line: parses the arguments and hands each subcommand to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use sauti::check;
use sauti::config::{Config, Overrides};
use sauti::outbox::command::Action as OutboxAction;
use sauti::service;

/// mimalloc: a hop allocates and frees many small buffers across threads; glibc's malloc
/// showed up at about 11% of a loaded server's CPU in the profile (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use sauti::render::Budget;
use sauti::simulate;

#[derive(Parser)]
#[command(name = "sauti", version, about = "USSD and voice IVR survey engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone, Copy)]
struct BudgetArgs {
    /// Screen budget in GSM-7 septets.
    #[arg(long, default_value_t = 182)]
    gsm7_septets: u32,
    /// Screen budget in characters when a screen needs UCS-2.
    #[arg(long, default_value_t = 80)]
    ucs2_chars: u32,
}

impl From<BudgetArgs> for Budget {
    fn from(b: BudgetArgs) -> Budget {
        Budget {
            gsm7_septets: b.gsm7_septets,
            ucs2_chars: b.ucs2_chars,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve USSD gateways over HTTP (embedded defaults: sessions in memory, responses in
    /// <data-dir>/responses.jsonl), and deliver completed surveys to the sinks.
    Serve(Overrides),
    /// Only deliver queued responses to the sinks (no HTTP server).
    Deliver(Overrides),
    /// Inspect and repair the outbox: status, dead letters, replay.
    Outbox {
        #[command(subcommand)]
        action: OutboxAction,
        #[command(flatten)]
        args: Overrides,
    },
    /// Outbound surveys by SMS to a panel of informants: start one, see how it goes.
    Campaign {
        #[command(subcommand)]
        action: sauti::campaign::command::Action,
        #[command(flatten)]
        args: Overrides,
    },
    /// Export a flow as an XForm for ODK Central or KoBoToolbox.
    Xform {
        /// A flow file, or the id of a flow in `flows/`.
        flow: String,
        #[arg(long, default_value = "locales")]
        locales: PathBuf,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Check flows and translations; one line per problem, with file:line.
    Check {
        /// Flow files or directories of flows.
        #[arg(default_value = "flows")]
        paths: Vec<PathBuf>,
        #[arg(long, default_value = "locales")]
        locales: PathBuf,
        #[command(flatten)]
        budget: BudgetArgs,
        /// Also check voice calls: every prompt of a language without a text-to-speech voice
        /// ([voice.tts] in sauti.toml) must be recorded in the audio directory.
        #[arg(long)]
        voice: bool,
        /// Directory of recorded prompts (default: `audio` in sauti.toml, or audio).
        #[arg(long)]
        audio: Option<PathBuf>,
        /// Configuration file (for [voice]; default ./sauti.toml when it exists).
        #[arg(long)]
        config: Option<PathBuf>,
        /// `text` (one line per problem) or `json` (for editors and CI).
        #[arg(long, value_enum, default_value = "text")]
        format: check::Format,
    },
    /// Write (or complete) a flow's translation file for a language: every message the flow
    /// needs, still in the default language's words (kept as comments), and the engine's own
    /// texts (`sauti.ftl`) when the locales folder has none for it.
    Locales {
        /// A flow file, or the id of a flow in `flows/`.
        flow: String,
        /// The language to write (e.g. sw, ln).
        #[arg(long)]
        lang: String,
        #[arg(long, default_value = "locales")]
        locales: PathBuf,
    },
    /// Print the recording script of a flow's voice calls: every (language, message) a call
    /// may play, its file, its text and whether it is recorded, spoken by a voice or missing.
    Prompts {
        /// A flow file, or the id of a flow in `flows/`.
        flow: String,
        #[arg(long, default_value = "locales")]
        locales: PathBuf,
        /// Directory of recorded prompts (default: `audio` in sauti.toml, or audio).
        #[arg(long)]
        audio: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: sauti::prompts::Format,
        /// Write synthetic stand-ins with espeak-ng for what is not recorded, in the languages
        /// espeak-ng speaks (French, Swahili), to try calls before real recordings exist.
        #[arg(long)]
        synthesize: bool,
        /// Configuration file (for [voice]; default ./sauti.toml when it exists).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Summarise the responses for researchers: sessions started and completed, a funnel of
    /// where respondents left, the answers to choice questions; small counts hidden.
    Report(sauti::report::command::Args),
    /// Export the responses as a FLOIP Flow Results package or a flat CSV (one row per
    /// response); respondents appear by pseudonym only.
    Export(sauti::export::Args),
    /// Import an XLSForm workbook (ODK, KoBoToolbox) as a flow: writes DIR/flows/<form_id>.toml
    /// and DIR/locales/<lang>/, reports every row not imported as it is, then checks the flow.
    ImportXlsform {
        /// The workbook (.xlsx) with `survey`, `choices` and `settings` sheets.
        form: PathBuf,
        /// The folder to write `flows/` and `locales/` into.
        #[arg(long)]
        out: PathBuf,
    },
    /// Walk a flow in the terminal as a respondent would see it on a phone.
    Simulate {
        /// A flow file, or the id of a flow in `flows/`.
        flow: String,
        /// Language (fr, sw, ln, or fra, swa, lin, fr-CD...); skips the language screen.
        #[arg(long)]
        lang: Option<String>,
        /// Inputs, comma-separated (`1,2,abc`); without it (or `--answer`), inputs are read
        /// from stdin.
        #[arg(long, value_delimiter = ',', conflicts_with = "answer")]
        answers: Option<Vec<String>>,
        /// One input, as typed, commas included (a multi-select `1,3,5`); repeat it for each.
        #[arg(long)]
        answer: Vec<String>,
        #[arg(long, default_value = "locales")]
        locales: PathBuf,
        #[command(flatten)]
        budget: BudgetArgs,
        /// Show each question as plain text (no screen budget, no pages) instead of USSD screens.
        #[arg(long)]
        plain: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => service::serve(config(&args)?).map(|()| ExitCode::SUCCESS),
        Command::Deliver(args) => service::deliver(config(&args)?).map(|()| ExitCode::SUCCESS),
        Command::Outbox { action, args } => {
            sauti::outbox::command::run(action, config(&args)?).map(|()| ExitCode::SUCCESS)
        }
        Command::Campaign { action, args } => {
            sauti::campaign::command::run(action, config(&args)?).map(|()| ExitCode::SUCCESS)
        }
        Command::Xform {
            flow,
            locales,
            output,
        } => sauti::xform::command(&flow, &locales, output.as_deref()).map(|()| ExitCode::SUCCESS),
        Command::Check {
            paths,
            locales,
            budget,
            voice,
            audio,
            config,
            format,
        } => {
            let voice = if voice {
                let c = Config::load(config.as_deref()).map_err(|p| anyhow::anyhow!("{p}"))?;
                let dir = audio.unwrap_or(c.audio);
                Some(check::VoiceCheck {
                    catalogue: sauti::audio::AudioCatalogue::scan(&dir, "")?,
                    tts: c.voice.tts,
                })
            } else {
                None
            };
            Ok(
                if check::run(&paths, &locales, budget.into(), voice.as_ref(), format) {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                },
            )
        }
        Command::Locales {
            flow,
            lang,
            locales,
        } => {
            let w = sauti::skeleton::write(&check::flow_path(&flow), &locales, &lang)?;
            println!(
                "{}: {} message(s) to translate added",
                w.flow_file.display(),
                w.added
            );
            if let Some(e) = &w.engine_file {
                println!("{}: the engine's texts, to translate", e.display());
            }
            if w.not_offered {
                println!("add \"{lang}\" to `languages` in the flow file to offer it");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Prompts {
            flow,
            locales,
            audio,
            format,
            synthesize,
            config,
        } => {
            let c = Config::load(config.as_deref()).map_err(|p| anyhow::anyhow!("{p}"))?;
            let dir = audio.unwrap_or(c.audio);
            sauti::prompts::command(&flow, &locales, &dir, &c.voice.tts, format, synthesize)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Report(args) => sauti::report::command::command(&args).map(|()| ExitCode::SUCCESS),
        Command::Export(args) => sauti::export::command(&args).map(|()| ExitCode::SUCCESS),
        Command::ImportXlsform { form, out } => Ok(if sauti::xlsform::command(&form, &out)? {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
        Command::Simulate {
            flow,
            lang,
            answers,
            answer,
            locales,
            budget,
            plain,
        } => {
            let display = if plain {
                simulate::Display::Plain
            } else {
                simulate::Display::Ussd(budget.into())
            };
            let answers = answers.or((!answer.is_empty()).then_some(answer));
            simulate::command(&flow, lang.as_deref(), answers, &locales, display)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `sauti.toml` (or `--config`) with the flags and `SAUTI_*` variables applied.
fn config(args: &Overrides) -> anyhow::Result<Config> {
    Config::resolve(args).map_err(|p| anyhow::anyhow!("{p}"))
}
