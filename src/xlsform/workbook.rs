//! Reading a workbook (`.xlsx`, also `.xls` and `.ods`) with calamine: each sheet the import
//! needs, as text cells with their spreadsheet row numbers. The only file reading of an import.

use std::path::Path;

use anyhow::Context;
use calamine::{Data, Reader};

use super::form::Table;

/// The `survey`, `choices` and `settings` sheets; a missing `choices` or `settings` sheet is
/// empty (a form may have no select questions, and settings are optional).
pub fn read(path: &Path) -> anyhow::Result<[Table; 3]> {
    let mut workbook = calamine::open_workbook_auto(path)
        .with_context(|| format!("{}: cannot read the workbook", path.display()))?;
    let names = workbook.sheet_names();
    let mut sheet = |wanted: &str| -> anyhow::Result<Option<Table>> {
        let Some(name) = names.iter().find(|n| n.trim().eq_ignore_ascii_case(wanted)) else {
            return Ok(None);
        };
        let range = workbook
            .worksheet_range(name)
            .with_context(|| format!("{}: sheet `{name}`", path.display()))?;
        Ok(Some(table(&range)))
    };
    let survey = sheet("survey")?
        .with_context(|| format!("{}: no `survey` sheet: not an XLSForm", path.display()))?;
    let choices = sheet("choices")?.unwrap_or_default();
    let settings = sheet("settings")?.unwrap_or_default();
    Ok([survey, choices, settings])
}

/// A range as text, its first row the header; rows numbered as the spreadsheet shows them.
fn table(range: &calamine::Range<Data>) -> Table {
    let first_row = range.start().map_or(0, |(row, _)| row as usize);
    let mut rows = range
        .rows()
        .enumerate()
        .map(|(i, r)| (first_row + i + 1, r.iter().map(text).collect::<Vec<_>>()));
    let Some((_, header)) = rows.next() else {
        return Table::default();
    };
    // Columns before the range's first one are empty: keep indexes aligned with the header.
    Table {
        header,
        rows: rows
            .filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()))
            .collect(),
    }
}

/// A cell as the text a form author typed: a whole number without `.0` (`version` 3, a
/// choice named 1), `TRUE` as `true`.
fn text(cell: &Data) -> String {
    match cell {
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => d.as_f64().to_string(),
        Data::Error(_) | Data::Empty => String::new(),
    }
}
