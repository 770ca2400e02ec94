//! `sauti report`: reads `<data-dir>/responses.jsonl` and the flows, prints the report, draws
//! the chart. IO only; the numbers come from [`super::build`].

use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::read::{ResponseSet, started_since};
use super::render::{Format, Skipped, render};
use super::{FlowReport, MinCount, build};
use crate::flow::CompiledFlow;

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    #[command(flatten)]
    pub source: Source,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Draw the funnel of the flow to this SVG file (PNG is not offered: it would need system
    /// fonts; convert the SVG, e.g. `rsvg-convert -o funnel.png funnel.svg`).
    #[arg(long, value_name = "FILE.svg")]
    pub chart: Option<PathBuf>,
    /// Counts from 1 to K-1 are shown as `<K`: in a small territory a count of 1 to 4 can
    /// identify an informant. `--min-count 1` shows every count.
    #[arg(long, value_name = "K", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub min_count: u64,
    /// Accepted for symmetry with `serve`; adds nothing: in Redis mode the default file sink
    /// writes <data-dir>/responses.jsonl too, and the report reads only that file (surveys in
    /// progress are not responses; their live counts are on /metrics).
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
}

/// Which responses a report or an export reads.
#[derive(clap::Args, Debug, Clone)]
pub struct Source {
    /// Directory holding responses.jsonl (`data_dir` of sauti.toml).
    #[arg(long, env = "SAUTI_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Only this flow (a flow file, or the id of a flow in `flows/`); default: every flow
    /// in the responses.
    #[arg(long)]
    pub flow: Option<String>,
    /// Only surveys started on or after this day (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    #[arg(long, default_value = "locales")]
    pub locales: PathBuf,
}

pub fn command(args: &Args) -> anyhow::Result<()> {
    if args.redis.is_some() {
        eprintln!(
            "note: --redis adds nothing to a report: it reads {}, which the file sink writes in Redis mode too",
            args.source.data_dir.join("responses.jsonl").display()
        );
    }
    let chart = args.chart.as_deref().map(chart_path).transpose()?;
    let selection = Selection::load(&args.source)?;
    let k = MinCount(args.min_count);
    let reports: Vec<FlowReport> = selection
        .flows
        .iter()
        .map(|(id, flow)| build(id, &selection.set.of_flow(id), flow.as_ref()))
        .collect();
    print!(
        "{}",
        render(&reports, k, Skipped::from(&selection.set), args.format)
    );
    if let Some(path) = chart {
        let [report] = &reports[..] else {
            bail!(
                "--chart draws one flow, and the responses hold {}: choose one with --flow",
                reports.len()
            );
        };
        let svg = super::chart::funnel_svg(report, k).map_err(anyhow::Error::msg)?;
        crate::private_fs::replace(&path, svg.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("chart written to {}", path.display());
    }
    Ok(())
}

fn chart_path(path: &Path) -> anyhow::Result<PathBuf> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("svg") => Ok(path.to_path_buf()),
        Some("png") => bail!(
            "--chart {}: only SVG charts are drawn (a PNG needs system fonts to draw its text); write {} and convert it, e.g. rsvg-convert -o {} {}",
            path.display(),
            path.with_extension("svg").display(),
            path.display(),
            path.with_extension("svg").display()
        ),
        _ => bail!("--chart {}: the chart is an .svg file", path.display()),
    }
}

/// The responses chosen by `--flow` and `--since`, and the definitions of their flows.
pub struct Selection {
    pub set: ResponseSet,
    /// Each flow id of the responses (or the one asked for), with its definition when
    /// `flows/` has it.
    pub flows: Vec<(String, Option<CompiledFlow>)>,
}

impl Selection {
    pub fn load(source: &Source) -> anyhow::Result<Selection> {
        let (since, locales) = (source.since.as_deref(), source.locales.as_path());
        if let Some(day) = since {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(day, format)
                .with_context(|| format!("--since {day}: a day is written YYYY-MM-DD"))?;
        }
        let budget = crate::gsm7::Budget::default();
        let chosen = source
            .flow
            .as_deref()
            .map(|f| crate::check::load_one(f, locales, budget))
            .transpose()?;
        let path = source.data_dir.join("responses.jsonl");
        let file = std::fs::File::open(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let set = ResponseSet::read(BufReader::with_capacity(64 * 1024, file), |r| {
            chosen.as_ref().is_none_or(|f| r.flow == f.id) && started_since(r, since)
        })
        .with_context(|| format!("cannot read {}", path.display()))?;
        if set.unreadable > 0 {
            eprintln!(
                "{}: {} unreadable lines skipped",
                path.display(),
                set.unreadable
            );
        }
        let flows = match chosen {
            Some(f) => vec![(f.id.clone(), Some(f))],
            None => set
                .flows()
                .into_iter()
                .map(|id| {
                    let definition = crate::check::flow_path(&id)
                        .exists()
                        .then(|| crate::check::load_one(&id, locales, budget))
                        .transpose()?;
                    if definition.is_none() {
                        eprintln!(
                            "flow {id}: no flows/{id}.toml, so no funnel or answers (counts only)"
                        );
                    }
                    Ok((id, definition))
                })
                .collect::<anyhow::Result<_>>()?,
        };
        Ok(Selection { set, flows })
    }
}
