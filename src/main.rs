//! The `sauti` command line: `check`, `simulate` (and, next, `serve`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use sauti::check;
use sauti::engine::HopContext;
use sauti::render::Budget;
use sauti::simulate::{self, Inputs};

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
    /// Check flows and translations; one line per problem, with file:line.
    Check {
        /// Flow files or directories of flows.
        #[arg(default_value = "flows")]
        paths: Vec<PathBuf>,
        #[arg(long, default_value = "locales")]
        locales: PathBuf,
        #[command(flatten)]
        budget: BudgetArgs,
    },
    /// Walk a flow in the terminal as a respondent would see it on a phone.
    Simulate {
        /// A flow file, or the id of a flow in `flows/`.
        flow: String,
        /// Language (fr, sw, ln, or fra, swa, lin, fr-CD...); skips the language screen.
        #[arg(long)]
        lang: Option<String>,
        /// Inputs, comma-separated (`1,2,abc`); without it, inputs are read from stdin.
        #[arg(long, value_delimiter = ',')]
        answers: Option<Vec<String>>,
        #[arg(long, default_value = "locales")]
        locales: PathBuf,
        #[command(flatten)]
        budget: BudgetArgs,
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
        Command::Check {
            paths,
            locales,
            budget,
        } => {
            let report = check::check(&paths, &locales, budget.into());
            for p in &report.problems {
                println!("{p}");
            }
            if !report.problems.is_empty() {
                eprintln!("{} problem(s) found", report.problems.len());
                return Ok(ExitCode::FAILURE);
            }
            for s in &report.summaries {
                println!("{s}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate {
            flow,
            lang,
            answers,
            locales,
            budget,
        } => {
            let path = flow_path(&flow);
            let report = check::check(std::slice::from_ref(&path), &locales, budget.into());
            if !report.problems.is_empty() {
                for p in &report.problems {
                    eprintln!("{p}");
                }
                bail!(
                    "{} has problems; fix them first (sauti check)",
                    path.display()
                );
            }
            let flow = report.flows.into_iter().next().context("no flow loaded")?;
            let lang = match lang {
                Some(tag) => Some(flow.language_index(&tag).with_context(|| {
                    format!(
                        "flow `{}` is not offered in `{tag}` (offered: {})",
                        flow.id,
                        flow.languages.join(", ")
                    )
                })?),
                None => None,
            };
            let now = time::OffsetDateTime::now_utc();
            let ctx = HopContext {
                today: now.date(),
                budget: budget.into(),
            };
            let stamp = now
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            let stdin = std::io::stdin();
            let mut lock = stdin.lock();
            let inputs = match answers {
                Some(list) => Inputs::List(list),
                None => Inputs::Reader(&mut lock),
            };
            let mut out = std::io::stdout().lock();
            simulate::run(&flow, lang, inputs, &mut out, &ctx, &stamp)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `flows/kufatilia.toml`, or `kufatilia` for the flow of that id in `flows/`.
fn flow_path(arg: &str) -> PathBuf {
    let p = Path::new(arg);
    if p.exists() || arg.ends_with(".toml") {
        p.to_path_buf()
    } else {
        Path::new("flows").join(format!("{arg}.toml"))
    }
}
