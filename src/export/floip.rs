//! A FLOIP Flow Results package (specification 1.0.0): `datapackage.json` describing the
//! flow's questions, and its one resource, a row per answer of seven columns.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::flow::{CompiledFlow, Prompt};
use crate::question::Question;
use crate::response::Response;

use super::csv::{formula_safe, question_steps};

pub const SPEC_VERSION: &str = "1.0.0";

/// The file of the package's resource, beside `datapackage.json`.
pub const DATA_FILE: &str = "flow-results-data.json";

/// The seven columns of a row, in order.
pub const FIELDS: [(&str, &str, &str); 7] = [
    ("timestamp", "Timestamp", "datetime"),
    ("row_id", "Row ID", "string"),
    ("contact_id", "Contact ID", "string"),
    ("session_id", "Session ID", "string"),
    ("question_id", "Question ID", "string"),
    ("response", "Response", "any"),
    ("response_metadata", "Response Metadata", "object"),
];

pub type Row = [Value; 7];

pub struct Package {
    pub descriptor: Value,
    pub rows: Vec<Row>,
}

/// The package of `responses` to `flow`, made at `now`.
pub fn package(flow: &CompiledFlow, responses: &[&Response], now: OffsetDateTime) -> Package {
    let now = timestamp(
        &now.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    );
    let name = package_name(flow);
    let mut schema = Map::new();
    if let Some(language) = iso639_3(&flow.languages[0]) {
        schema.insert("language".into(), language.into());
    }
    schema.insert(
        "fields".into(),
        FIELDS
            .iter()
            .map(|(name, title, kind)| json!({ "name": name, "title": title, "type": kind }))
            .collect(),
    );
    schema.insert("questions".into(), Value::Object(questions(flow)));
    let descriptor = json!({
        "profile": "flow-results-package",
        "flow_results_specification_version": SPEC_VERSION,
        // The name some readers (Ona, Verboice, Surveda) look for.
        "flow-results-specification": SPEC_VERSION,
        "created": now,
        "modified": now,
        "id": package_id(flow).to_string(),
        "name": name,
        "title": format!("{} (Sauti flow, version {})", flow.id, flow.version),
        "resources": [{
            "name": format!("{name}-data"),
            "path": DATA_FILE,
            "mediatype": "application/json",
            "encoding": "utf-8",
            "schema": schema,
        }],
    });
    let rows = responses.iter().flat_map(|r| rows_of(flow, r)).collect();
    Package { descriptor, rows }
}

/// The rows as the resource file: a JSON array of seven-element arrays.
pub fn rows_json(rows: &[Row]) -> Vec<u8> {
    let mut out = b"[\n".to_vec();
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b",\n");
        }
        out.extend_from_slice(&serde_json::to_vec(row).unwrap_or_default());
    }
    out.extend_from_slice(b"\n]\n");
    out
}

/// The same rows as CSV, with the field names as header, for spreadsheets: strings as they
/// are (formula-safe), other values as JSON.
pub fn rows_csv(rows: &[Row]) -> Vec<u8> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = w.write_record(FIELDS.iter().map(|f| f.0));
    for row in rows {
        let cells = row.iter().map(|v| match v {
            Value::String(s) => formula_safe(s).into_owned(),
            Value::Null => String::new(),
            other => other.to_string(),
        });
        let _ = w.write_record(cells);
    }
    w.into_inner().unwrap_or_default()
}

/// A Version 4 UUID, as the specification asks, derived from the flow and its version: each
/// export of one version is the same package (newer `modified`), a new version a new package.
pub fn package_id(flow: &CompiledFlow) -> uuid::Uuid {
    let digest = Sha256::digest(format!("sauti-floip\n{}\n{}", flow.id, flow.version));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// Lower-case letters, digits, `.`, `_`, `-`, as Data Package names must be.
fn package_name(flow: &CompiledFlow) -> String {
    let id: String = flow
        .id
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{id}-v{}", flow.version)
}

/// RFC 3339 with `+00:00` for UTC, which the specification asks for instead of `Z`.
fn timestamp(rfc3339: &str) -> String {
    match rfc3339.strip_suffix('Z') {
        Some(utc) => format!("{utc}+00:00"),
        None => rfc3339.to_owned(),
    }
}

fn iso639_3(lang: &str) -> Option<&'static str> {
    Some(match lang {
        "fr" => "fra",
        "sw" => "swa",
        "ln" => "lin",
        "en" => "eng",
        _ => return None,
    })
}

/// A text step's type: `open` when the flow answers calls, where a text may come as a
/// recording (each row then says which in its metadata); `text` otherwise.
fn text_type(flow: &CompiledFlow) -> &'static str {
    if flow.voice.is_empty() {
        "text"
    } else {
        "open"
    }
}

fn questions(flow: &CompiledFlow) -> Map<String, Value> {
    let first = &flow.locales[0];
    question_steps(flow)
        .map(|step| {
            let i = flow.step_index(&step.id).map_or(0, usize::from);
            let label = match &first.steps[i].prompt {
                Prompt::Static(text) => text.clone(),
                Prompt::Dynamic { id, .. } => crate::i18n::format(&first.flow_chain, id, None)
                    .unwrap_or_else(|| step.id.clone()),
            };
            let (kind, options) = match &step.question {
                Question::Choice(c) => ("select_one", json!({ "choices": c.options.codes })),
                Question::Multi(m) => ("select_many", json!({ "choices": m.options.codes })),
                Question::Number(n) => match (n.min, n.max) {
                    (Some(min), Some(max)) => ("numeric", json!({ "range": [min, max] })),
                    _ => ("numeric", json!({})),
                },
                Question::Date(_) => ("date", json!({})),
                _ => (text_type(flow), json!({})),
            };
            (
                step.id.clone(),
                json!({ "type": kind, "label": label, "type_options": options }),
            )
        })
        .collect()
}

/// One row per answer of `response`, in flow order; answers to steps this version of the flow
/// does not have are left out (their question would not be in the schema).
fn rows_of(flow: &CompiledFlow, response: &Response) -> Vec<Row> {
    let at = timestamp(&response.completed_at);
    question_steps(flow)
        .filter_map(|step| {
            let recorded = response.answers.get(&step.id)?;
            let value = recorded.get("value").cloned().unwrap_or(Value::Null);
            let skipped = recorded.get("skipped").and_then(Value::as_bool) == Some(true);
            let audio = recorded.get("audio").and_then(Value::as_bool) == Some(true);
            let metadata = if skipped {
                json!({ "skipped": true })
            } else if matches!(step.question, Question::Text(_)) && text_type(flow) == "open" {
                if audio {
                    json!({ "type": "audio", "type_options": {}, "duration_s": recorded.get("duration_secs") })
                } else {
                    json!({ "type": "text", "type_options": {} })
                }
            } else {
                Value::Null
            };
            Some([
                Value::String(at.clone()),
                Value::String(format!("{}/{}", response.id, step.id)),
                Value::String(response.respondent.clone()),
                Value::String(response.id.clone()),
                Value::String(step.id.clone()),
                value,
                metadata,
            ])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::timestamp;

    #[test]
    fn utc_is_written_as_an_offset() {
        assert_eq!(
            timestamp("2026-11-23T11:36:16.664Z"),
            "2026-11-23T11:36:16.664+00:00"
        );
    }
}
