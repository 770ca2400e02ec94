//! `sauti export`: the responses of a flow as a FLOIP Flow Results package or a flat CSV,
//! written durably and readable by this user only; IO here, the formats in their files.

pub mod csv;
pub mod floip;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::private_fs;
use crate::report::command::{Selection, Source};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// FLOIP Flow Results: <out>/<flow>/datapackage.json and its data (JSON, with a CSV copy).
    Floip,
    /// One row per response: <out>/<flow>.csv.
    Csv,
}

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    #[command(flatten)]
    pub source: Source,
    #[arg(long, value_enum)]
    pub format: Format,
    /// Directory to write into (created, readable by this user only).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn command(args: &Args) -> anyhow::Result<()> {
    let selection = Selection::load(&args.source)?;
    write_dir(&args.out)?;
    for (id, flow) in &selection.flows {
        let Some(flow) = flow else {
            eprintln!("flow {id}: not exported (no flows/{id}.toml to describe its questions)");
            continue;
        };
        let responses = selection.set.of_flow(id);
        match args.format {
            Format::Floip => {
                let dir = args.out.join(id);
                write_dir(&dir)?;
                let package = floip::package(flow, &responses, time::OffsetDateTime::now_utc());
                let mut descriptor = serde_json::to_vec_pretty(&package.descriptor)?;
                descriptor.push(b'\n');
                write(&dir.join("datapackage.json"), &descriptor)?;
                write(
                    &dir.join(floip::DATA_FILE),
                    &floip::rows_json(&package.rows),
                )?;
                write(
                    &dir.join("flow-results-data.csv"),
                    &floip::rows_csv(&package.rows),
                )?;
                eprintln!(
                    "flow {id}: {} responses, {} rows in {}",
                    responses.len(),
                    package.rows.len(),
                    dir.display()
                );
            }
            Format::Csv => {
                let path = args.out.join(format!("{id}.csv"));
                write(&path, &csv::flat(flow, &responses))?;
                eprintln!(
                    "flow {id}: {} responses in {}",
                    responses.len(),
                    path.display()
                );
            }
        }
    }
    Ok(())
}

fn write_dir(dir: &Path) -> anyhow::Result<()> {
    private_fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Temporary file, fsync, rename, fsync of the directory: a crash leaves the old file or the
/// new one, never half of it.
fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    private_fs::replace(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
