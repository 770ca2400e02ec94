//! A report as text for people, or as CSV or JSON for programs; every count below the minimum
//! is hidden the same way in all three (see [`MinCount`]).

use serde_json::{Value, json};

use super::tally::{FlowReport, Segment};
use super::{MinCount, ResponseSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Csv,
    Json,
}

/// What reading the file left out, told with the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    pub unreadable: u64,
    pub duplicates: u64,
}

impl From<&ResponseSet> for Skipped {
    fn from(set: &ResponseSet) -> Self {
        Skipped {
            unreadable: set.unreadable,
            duplicates: set.duplicates,
        }
    }
}

pub fn render(reports: &[FlowReport], k: MinCount, skipped: Skipped, format: Format) -> String {
    match format {
        Format::Text => text(reports, k, skipped),
        Format::Csv => csv(reports, k),
        Format::Json => {
            let mut out =
                serde_json::to_string_pretty(&json_value(reports, k, skipped)).unwrap_or_default();
            out.push('\n');
            out
        }
    }
}

/// `1m 05s`, `45s`, `2h 03m`.
pub fn duration(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// The days the responses span, for titles.
pub fn date_range(report: &FlowReport) -> String {
    match (&report.first_day, &report.last_day) {
        (Some(first), Some(last)) if first == last => first.clone(),
        (Some(first), Some(last)) => format!("{first} to {last}"),
        _ => "no responses".into(),
    }
}

fn median(segment: &Segment, k: MinCount) -> Option<u64> {
    // The median of fewer than k durations is close to one respondent's own.
    segment
        .median_duration_ms
        .filter(|_| !k.hides(segment.completed))
}

fn text(reports: &[FlowReport], k: MinCount, skipped: Skipped) -> String {
    let mut out = String::new();
    if skipped.unreadable > 0 || skipped.duplicates > 0 {
        out.push_str(&format!(
            "read: {} unreadable lines skipped, {} duplicate ids (the last line of each kept)\n",
            skipped.unreadable, skipped.duplicates
        ));
    }
    if k.0 > 1 {
        out.push_str(&format!(
            "counts from 1 to {} are shown as <{} (--min-count)\n",
            k.0 - 1,
            k.0
        ));
    }
    for report in reports {
        out.push('\n');
        let versions: Vec<String> = report.versions.iter().map(u32::to_string).collect();
        out.push_str(&format!(
            "{}: {}, flow version {}\n",
            report.flow,
            date_range(report),
            versions.join(", ")
        ));
        let all = &report.overall;
        out.push_str(&format!(
            "started {}, completed {}, completion rate {}, median duration {}\n",
            k.show(all.started),
            k.show(all.completed),
            k.rate(all.completed, all.started),
            median(all, k).map_or_else(|| "-".into(), duration)
        ));
        for (title, segments) in [
            ("language", &report.by_language),
            ("channel", &report.by_channel),
        ] {
            out.push('\n');
            let rows = segments
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        k.show(s.started),
                        k.show(s.completed),
                        k.rate(s.completed, s.started),
                        median(s, k).map_or_else(|| "-".into(), duration),
                    ]
                })
                .collect();
            out.push_str(&table(
                &[title, "started", "completed", "rate", "median"],
                rows,
            ));
        }
        if let Some(funnel) = &report.funnel {
            out.push_str("\nfunnel: respondents who reached each step (shown it, or passed it by its `when`), were asked it, left on it\n");
            let mut header = vec!["step", "reached", "asked", "left"];
            header.extend(funnel.segments.iter().map(String::as_str));
            let rows = funnel
                .steps
                .iter()
                .map(|s| {
                    let mut row = vec![
                        s.step.clone(),
                        k.show(s.reached),
                        k.show(s.asked),
                        k.show(s.left),
                    ];
                    row.extend(s.reached_by_segment.iter().map(|&c| k.show(c)));
                    row
                })
                .collect();
            out.push_str(&table(&header, rows));
        }
        for d in &report.distributions {
            out.push_str(&format!(
                "\nanswers to {} ({}, {} answered; labels in the flow's first language)\n",
                d.step,
                if d.multi {
                    "several choices"
                } else {
                    "one choice"
                },
                k.show(d.answered)
            ));
            let rows = d
                .options
                .iter()
                .map(|o| {
                    vec![
                        o.code.clone(),
                        o.label.clone(),
                        k.show(o.count),
                        k.rate(o.count, d.answered),
                    ]
                })
                .collect();
            out.push_str(&table(&["option", "label", "count", "share"], rows));
        }
    }
    out
}

/// Columns separated by two spaces, the first two left-aligned when the second is a label,
/// numbers right-aligned; widths in characters.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let left_columns = if header.get(1) == Some(&"label") {
        2
    } else {
        1
    };
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (c, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if c > 0 {
                out.push_str("  ");
            }
            let pad = " ".repeat(w - cell.chars().count());
            if c < left_columns {
                out.push_str(cell);
                out.push_str(&pad);
            } else {
                out.push_str(&pad);
                out.push_str(cell);
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// Long form, one number a row: `flow,table,row,column,value`.
fn csv(reports: &[FlowReport], k: MinCount) -> String {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let mut row = |cells: [&str; 5]| {
        // Writing to memory cannot fail.
        let _ = w.write_record(cells);
    };
    row(["flow", "table", "row", "column", "value"]);
    for r in reports {
        let f = r.flow.as_str();
        for (table, segments) in [
            ("overall", std::slice::from_ref(&r.overall)),
            ("language", &r.by_language[..]),
            ("channel", &r.by_channel[..]),
        ] {
            for s in segments {
                row([f, table, &s.name, "started", &k.show(s.started)]);
                row([f, table, &s.name, "completed", &k.show(s.completed)]);
                row([
                    f,
                    table,
                    &s.name,
                    "completion_rate",
                    &k.rate(s.completed, s.started),
                ]);
                let median = median(s, k).map_or_else(|| "-".into(), |ms| (ms / 1000).to_string());
                row([f, table, &s.name, "median_duration_secs", &median]);
            }
        }
        if let Some(funnel) = &r.funnel {
            for s in &funnel.steps {
                row([f, "funnel", &s.step, "reached", &k.show(s.reached)]);
                row([f, "funnel", &s.step, "asked", &k.show(s.asked)]);
                row([f, "funnel", &s.step, "left", &k.show(s.left)]);
                for (name, &c) in funnel.segments.iter().zip(&s.reached_by_segment) {
                    row([f, "funnel", &s.step, &format!("reached_{name}"), &k.show(c)]);
                }
            }
        }
        for d in &r.distributions {
            row([f, "answers", &d.step, "answered", &k.show(d.answered)]);
            for o in &d.options {
                row([f, "answers", &d.step, &o.code, &k.show(o.count)]);
            }
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A count as JSON: the number, or the string `"<k"` when hidden.
fn count(k: MinCount, c: u64) -> Value {
    if k.hides(c) {
        Value::String(k.show(c))
    } else {
        json!(c)
    }
}

/// A rate as a JSON number (one decimal), `null` where the text shows `-`.
fn rate_percent(k: MinCount, part: u64, whole: u64) -> Option<f64> {
    (k.rate(part, whole) != "-").then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

fn json_value(reports: &[FlowReport], k: MinCount, skipped: Skipped) -> Value {
    let segment = |s: &Segment| {
        json!({
            "name": s.name,
            "started": count(k, s.started),
            "completed": count(k, s.completed),
            "completion_rate_percent": rate_percent(k, s.completed, s.started),
            "median_duration_secs": median(s, k).map(|ms| ms / 1000),
        })
    };
    let flows: Vec<Value> = reports
        .iter()
        .map(|r| {
            json!({
                "flow": r.flow,
                "versions": r.versions,
                "first_day": r.first_day,
                "last_day": r.last_day,
                "overall": segment(&r.overall),
                "by_language": r.by_language.iter().map(segment).collect::<Vec<_>>(),
                "by_channel": r.by_channel.iter().map(segment).collect::<Vec<_>>(),
                "funnel": r.funnel.as_ref().map(|f| f.steps.iter().map(|s| json!({
                    "step": s.step,
                    "kind": s.kind,
                    "reached": count(k, s.reached),
                    "asked": count(k, s.asked),
                    "left": count(k, s.left),
                    "reached_by_segment": f.segments.iter().zip(&s.reached_by_segment)
                        .map(|(name, &c)| (name.clone(), count(k, c)))
                        .collect::<serde_json::Map<_, _>>(),
                })).collect::<Vec<_>>()),
                "answers": r.distributions.iter().map(|d| json!({
                    "step": d.step,
                    "multi": d.multi,
                    "answered": count(k, d.answered),
                    "options": d.options.iter().map(|o| json!({
                        "code": o.code,
                        "label": o.label,
                        "count": count(k, o.count),
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "min_count": k.0,
        "unreadable_lines": skipped.unreadable,
        "duplicate_ids": skipped.duplicates,
        "flows": flows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(45_999), "45s");
        assert_eq!(duration(65_000), "1m 05s");
        assert_eq!(duration(7_380_000), "2h 03m");
    }

    #[test]
    fn tables_align_numbers_right() {
        let t = table(
            &["step", "reached"],
            vec![
                vec!["consent".into(), "52".into()],
                vec!["a".into(), "<5".into()],
            ],
        );
        assert_eq!(t, "step     reached\nconsent       52\na             <5\n");
    }
}
