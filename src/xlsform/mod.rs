//! `sauti import-xlsform`: an XLSForm workbook (ODK, KoBoToolbox) imported as a Sauti flow
//! and its Fluent texts, with a report of every row, or part of one, that Sauti cannot ask.
//!
//! The workbook is read into text cells ([`workbook`]), then everything is pure: cells to a
//! typed form ([`form`]), conditions and constraints ([`xpath`], [`relevant`], [`constraint`]),
//! the flow and its messages ([`convert`]), their text ([`flow_file`], [`ftl`]); then files
//! are written and the result checked as `sauti check` would. See docs/xlsform.md.

pub mod constraint;
pub mod convert;
pub mod flow_file;
pub mod form;
pub mod ftl;
pub mod ids;
pub mod relevant;
pub mod workbook;
pub mod xpath;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::check;
use crate::problem::Problem;
use crate::render::Budget;

/// A sheet of the workbook, to say where a notice comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sheet {
    Survey,
    Choices,
    Settings,
}

/// Something of the form that was not imported as it is: a row skipped, a condition or a
/// constraint left out, a name changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub sheet: Sheet,
    /// The spreadsheet row (1-based, the header being row 1), when it is about one row.
    pub row: Option<usize>,
    pub message: String,
}

impl Notice {
    pub fn row(sheet: Sheet, row: usize, message: String) -> Notice {
        Notice {
            sheet,
            row: Some(row),
            message,
        }
    }

    pub fn sheet(sheet: Sheet, message: String) -> Notice {
        Notice {
            sheet,
            row: None,
            message,
        }
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sheet = match self.sheet {
            Sheet::Survey => "survey",
            Sheet::Choices => "choices",
            Sheet::Settings => "settings",
        };
        match self.row {
            Some(row) => write!(f, "{sheet} row {row}: {}", self.message),
            None => write!(f, "{sheet}: {}", self.message),
        }
    }
}

/// The text of each file an import writes, relative to the output folder.
pub fn files(import: &convert::Import) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let id = &import.flow.id;
    let mut files = vec![(
        Path::new("flows").join(format!("{id}.toml")),
        flow_file::render(&import.flow)?,
    )];
    for (lang, messages) in &import.messages {
        let mut text = ftl::comment(&format!(
            "{id} ({lang}): imported from an XLSForm by `sauti import-xlsform`. {}",
            import.title
        ));
        for (message_id, pieces) in messages {
            text.push_str(&ftl::message(message_id, pieces));
        }
        files.push((
            Path::new("locales").join(lang).join(format!("{id}.ftl")),
            text,
        ));
    }
    Ok(files)
}

/// What an import did.
pub struct Imported {
    pub flow_path: PathBuf,
    pub written: Vec<PathBuf>,
    /// Engine texts (`sauti.ftl`) already in the output folder, kept as they are.
    pub kept: Vec<PathBuf>,
    pub notices: Vec<Notice>,
    pub steps: usize,
    pub languages: Vec<String>,
    pub report: check::Report,
}

/// Imports `workbook` into `out/flows` and `out/locales`, then checks the flow there.
pub fn import(workbook: &Path, out: &Path) -> anyhow::Result<Imported> {
    let [survey, choices, settings] = workbook::read(workbook)?;
    let mut notices = Vec::new();
    let form = form::read(&survey, &choices, &settings, &mut notices);
    let stem = workbook
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let import = convert::convert(&form, &stem, &mut notices);
    let mut written = Vec::new();
    for (relative, text) in files(&import)? {
        let path = out.join(relative);
        if let Some(dir) = path.parent() {
            crate::private_fs::create_dir_all(dir)?;
        }
        crate::private_fs::replace(&path, text.as_bytes())?;
        written.push(path);
    }
    // The engine's own texts: an existing `sauti.ftl` may hold the project's edits.
    let mut kept = Vec::new();
    for lang in &import.flow.languages {
        let path = out
            .join("locales")
            .join(lang)
            .join(format!("{}.ftl", crate::i18n::ENGINE_FILE));
        if path.exists() {
            kept.push(path);
        } else {
            crate::private_fs::replace(&path, crate::skeleton::engine_texts(lang).as_bytes())?;
            written.push(path);
        }
    }
    let flow_path = written[0].clone();
    let report = check::check(
        std::slice::from_ref(&flow_path),
        &out.join("locales"),
        Budget::default(),
    );
    Ok(Imported {
        flow_path,
        written,
        kept,
        notices,
        steps: import.flow.steps.len(),
        languages: import.flow.languages,
        report,
    })
}

/// `sauti import-xlsform`: imports, prints what was written, every notice and what `check`
/// finds; returns whether the flow passes `check`.
pub fn command(workbook: &Path, out: &Path) -> anyhow::Result<bool> {
    let done = import(workbook, out)?;
    println!(
        "{}: {} steps in {}",
        workbook.display(),
        done.steps,
        done.languages.join(", ")
    );
    for path in &done.written {
        println!("wrote {}", path.display());
    }
    for path in &done.kept {
        println!("kept {} (already there)", path.display());
    }
    if done.notices.is_empty() {
        println!("every row was imported as it is");
    } else {
        println!("{} thing(s) not imported as they are:", done.notices.len());
        for n in &done.notices {
            println!("  {n}");
        }
    }
    let print = |problems: &[Problem]| {
        for p in problems {
            println!("  {p}");
        }
    };
    let ok = done.report.problems.is_empty();
    if ok {
        println!("sauti check: ok");
        for s in &done.report.summaries {
            println!("  {s}");
        }
    } else {
        println!(
            "sauti check: {} problem(s): the flow is not usable until they are fixed",
            done.report.problems.len()
        );
        print(&done.report.problems);
    }
    print(&done.report.warnings);
    println!(
        "to route a USSD code to the flow, add a line such as `ussd = [\"*384*9#\"]` to {}",
        done.flow_path.display()
    );
    Ok(ok)
}
