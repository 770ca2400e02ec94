//! The flat CSV export: one row per response, its metadata then one column per question in
//! flow order; a respondent's text that a spreadsheet would run as a formula is defused.

use std::borrow::Cow;

use serde_json::Value;

use crate::flow::CompiledFlow;
use crate::question::Question;
use crate::response::Response;

/// The metadata columns, before the questions.
pub const METADATA: [&str; 11] = [
    "id",
    "flow",
    "flow_version",
    "status",
    "channel",
    "gateway",
    "language",
    "respondent",
    "network",
    "started_at",
    "completed_at",
];

/// `cell`, prefixed with `'` when it starts with a character that makes Excel, LibreOffice or
/// Google Sheets read it as a formula (`=HYPERLINK(...)` would run on opening the file).
pub fn formula_safe(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The steps that hold answers (every kind but `info` and `end`), in flow order.
pub fn question_steps(flow: &CompiledFlow) -> impl Iterator<Item = &crate::flow::Step> {
    flow.steps
        .iter()
        .filter(|s| !matches!(s.question, Question::Info | Question::End))
}

/// An answer as one cell: the option code, the codes of a `multi` separated by spaces, the
/// text (made formula-safe), the number, the date; empty when skipped or not asked.
fn answer_cell(recorded: Option<&Value>) -> String {
    match recorded.and_then(|a| a.get("value")) {
        Some(Value::String(s)) => formula_safe(s).into_owned(),
        Some(Value::Array(codes)) => codes
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// The CSV of `responses` (UTF-8, a header row, RFC 4180 quoting).
pub fn flat(flow: &CompiledFlow, responses: &[&crate::response::Response]) -> Vec<u8> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let questions: Vec<&str> = question_steps(flow).map(|s| s.id.as_str()).collect();
    let header = METADATA.iter().copied().chain(questions.iter().copied());
    // Writing to memory cannot fail.
    let _ = w.write_record(header);
    for r in responses {
        let mut row: Vec<String> = metadata(r)
            .into_iter()
            .map(|cell| formula_safe(&cell).into_owned())
            .collect();
        row.extend(questions.iter().map(|q| answer_cell(r.answers.get(*q))));
        let _ = w.write_record(&row);
    }
    w.into_inner().unwrap_or_default()
}

fn metadata(r: &Response) -> [String; 11] {
    [
        r.id.clone(),
        r.flow.clone(),
        r.flow_version.to_string(),
        r.status.clone(),
        r.channel.clone(),
        r.gateway.clone(),
        r.language.clone(),
        r.respondent.clone(),
        r.network.clone().unwrap_or_default(),
        r.started_at.clone(),
        r.completed_at.clone(),
    ]
}

#[cfg(test)]
mod tests {
    use super::formula_safe;

    #[test]
    fn formulas_are_defused_and_other_text_kept() {
        assert_eq!(formula_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(formula_safe("+243"), "'+243");
        assert_eq!(formula_safe("-1"), "'-1");
        assert_eq!(formula_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(formula_safe("Mwenga, \"nord\""), "Mwenga, \"nord\"");
        assert_eq!(formula_safe("😀 a=b"), "😀 a=b");
    }
}
