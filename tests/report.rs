//! `sauti report` and `sauti export` run on generated responses to the shipped kufatilia flow
//! whose drop-offs are known: the funnel, the hidden small counts, the chart, and the FLOIP and
//! CSV exports are checked against what was generated.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// A hostile text answer: a formula, quotes, a comma, a newline and an emoji.
const HOSTILE: &str = "=HYPERLINK(\"http://x.test\",\"click\"), \"quoted\"\nline two 😀";

/// Who a generated respondent is and how far they got.
struct Respondent {
    n: usize,
    language: &'static str,
    channel: &'static str,
    status: &'static str,
    day: &'static str,
    seconds: u64,
    answers: Value,
}

impl Respondent {
    fn line(&self) -> String {
        let id = format!("01930000-0000-7000-8000-{:012x}", self.n);
        let start = format!("{}T08:00:00.000Z", self.day);
        let end = format!(
            "{}T08:{:02}:{:02}.000Z",
            self.day,
            self.seconds / 60,
            self.seconds % 60
        );
        let gateway = if self.channel == "voice" {
            "twilio"
        } else {
            "africastalking"
        };
        let record = json!({
            "schema": 1, "id": id, "flow": "kufatilia", "flow_version": 1,
            "status": self.status, "channel": self.channel, "gateway": gateway,
            "language": self.language, "respondent": format!("{:064x}", self.n + 1000),
            "network": "63001", "started_at": start, "completed_at": end,
            "answers": self.answers,
        });
        format!("{record}\n")
    }
}

fn choice(code: &str) -> Value {
    json!({ "value": code, "label": code })
}

/// The answers of the path up to (not including) `stop`, in flow order.
fn answers(i: usize, incident: &str, when: &str, province: &str, stop: &str) -> Value {
    let mut a = serde_json::Map::new();
    let mut put = |step: &str, v: Value| -> bool {
        if step == stop {
            return false;
        }
        a.insert(step.into(), v);
        true
    };
    let _ = put("consent", choice("yes"))
        && put("incident", choice(incident))
        && (incident != "other" || put("incident_other", json!({ "value": "landslide" })))
        && put("when", choice(when))
        && (when != "earlier" || put("date", json!({ "value": "2026-03-14" })))
        && put("province", choice(province))
        && (province != "other" || put("province_other", json!({ "value": "Kasai" })))
        && put(
            "territory",
            json!({ "value": if i == 0 { HOSTILE } else { "Mwenga" } }),
        )
        && put(
            "site",
            if i.is_multiple_of(3) {
                json!({ "value": null, "skipped": true })
            } else {
                json!({ "value": "Kamituga" })
            },
        )
        && put("people", json!({ "value": i }))
        && put(
            "contact",
            choice(if i.is_multiple_of(2) { "yes" } else { "no" }),
        );
    Value::Object(a)
}

/// 40 complete (fr 24, sw 16; voice 10), 4 declined at consent, and 21 partials that left at
/// incident (6), when (7), territory (3) and people (5); plus two unreadable lines and a
/// duplicate of the first complete response.
fn generated() -> String {
    let mut out = Vec::new();
    let mut n = 0;
    let mut push = |r: Respondent| out.push(r.line());
    for i in 0..40 {
        let incident = if i % 10 == 9 {
            "other"
        } else if i < 20 {
            "violence"
        } else {
            "accident"
        };
        push(Respondent {
            n: i,
            language: if i < 24 { "fr" } else { "sw" },
            channel: if i % 4 == 3 { "voice" } else { "ussd" },
            status: "complete",
            day: "2026-11-02",
            seconds: 60 + i as u64,
            answers: answers(
                i,
                incident,
                if i < 10 { "earlier" } else { "today" },
                if i < 2 { "other" } else { "south_kivu" },
                "",
            ),
        });
    }
    n += 40;
    for d in 0..4 {
        push(Respondent {
            n: n + d,
            language: if d < 2 { "fr" } else { "sw" },
            channel: "ussd",
            status: "complete",
            day: "2026-11-03",
            seconds: 10,
            answers: json!({ "consent": choice("no") }),
        });
    }
    n += 4;
    // (left at, how many, [fr count], voice count)
    for (stop, count, fr, voice) in [
        ("incident", 6, 3, 0),
        ("when", 7, 4, 3),
        ("territory", 3, 0, 0),
        ("people", 5, 5, 5),
    ] {
        for p in 0..count {
            push(Respondent {
                n,
                language: if p < fr { "fr" } else { "sw" },
                channel: if p >= count - voice { "voice" } else { "ussd" },
                status: "partial",
                day: "2026-11-03",
                seconds: 30,
                answers: answers(40 + p, "illegal_tax", "yesterday", "north_kivu", stop),
            });
            n += 1;
        }
    }
    // The first complete response written twice (a redelivery): counted once.
    let first = out[0].clone();
    out.push(first);
    out.insert(3, "{\"schema\":1,\"id\":\"broken\n".into());
    out.insert(10, "not json at all\n".into());
    out.concat()
}

fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("responses.jsonl"), generated()).unwrap();
    dir
}

fn sauti(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_sauti"))
        .args(args)
        .current_dir(REPO)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sauti {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn report(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "report",
        "--data-dir",
        dir.to_str().unwrap(),
        "--flow",
        "kufatilia",
    ];
    args.extend_from_slice(extra);
    String::from_utf8(sauti(&args).stdout).unwrap()
}

/// A table line as the report aligns it: the first cell left, the others right.
fn row(widths: &[usize], cells: &[&str]) -> String {
    let mut line = format!("{:<w$}", cells[0], w = widths[0]);
    for (cell, w) in cells[1..].iter().zip(&widths[1..]) {
        line.push_str(&format!("  {cell:>w$}"));
    }
    line.trim_end().to_owned()
}

fn has_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "missing line {line:?} in:\n{text}"
    );
}

const FUNNEL: [usize; 8] = [14, 7, 5, 4, 2, 2, 4, 5];

#[test]
fn the_funnel_counts_how_far_each_respondent_got() {
    let dir = data_dir();
    let text = report(dir.path(), &["--min-count", "1"]);
    has_line(
        &text,
        "read: 2 unreadable lines skipped, 1 duplicate ids (the last line of each kept)",
    );
    has_line(&text, "kufatilia: 2026-11-02 to 2026-11-03, flow version 1");
    has_line(
        &text,
        "started 65, completed 44, completion rate 67.7%, median duration 1m 17s",
    );
    let lang = [8, 7, 9, 5, 6];
    has_line(
        &text,
        &row(
            &lang,
            &["language", "started", "completed", "rate", "median"],
        ),
    );
    has_line(&text, &row(&lang, &["fr", "38", "26", "68.4%", "1m 10s"]));
    has_line(&text, &row(&lang, &["sw", "27", "18", "66.7%", "1m 30s"]));
    let chan = [7, 7, 9, 5, 6];
    has_line(&text, &row(&chan, &["ussd", "47", "34", "72.3%", "1m 16s"]));
    has_line(
        &text,
        &row(&chan, &["voice", "18", "10", "55.6%", "1m 21s"]),
    );
    let f = &FUNNEL;
    has_line(
        &text,
        &row(
            f,
            &[
                "step", "reached", "asked", "left", "fr", "sw", "ussd", "voice",
            ],
        ),
    );
    for cells in [
        ["consent", "65", "65", "0", "38", "27", "47", "18"],
        ["incident", "61", "61", "6", "36", "25", "43", "18"],
        ["incident_other", "55", "4", "0", "33", "22", "37", "18"],
        ["when", "55", "55", "7", "33", "22", "37", "18"],
        ["date", "48", "10", "0", "29", "19", "33", "15"],
        ["province", "48", "48", "0", "29", "19", "33", "15"],
        ["province_other", "48", "2", "0", "29", "19", "33", "15"],
        ["territory", "48", "48", "3", "29", "19", "33", "15"],
        ["site", "45", "45", "0", "29", "16", "30", "15"],
        ["people", "45", "45", "5", "29", "16", "30", "15"],
        ["contact", "40", "40", "0", "24", "16", "30", "10"],
        ["thanks", "40", "40", "0", "24", "16", "30", "10"],
        ["declined", "4", "4", "0", "2", "2", "4", "0"],
    ] {
        has_line(&text, &row(f, &cells));
    }
    // Labels in French, the flow's first language, whatever language was used.
    has_line(
        &text,
        "answers to incident (one choice, 55 answered; labels in the flow's first language)",
    );
    has_line(&text, "accident       Accident              18  32.7%");
    has_line(&text, "illegal_tax    Taxe illégale         15  27.3%");
    has_line(&text, "other          Autre                  4   7.3%");
}

#[test]
fn counts_below_five_are_hidden_unless_asked() {
    let dir = data_dir();
    let text = report(dir.path(), &[]);
    has_line(&text, "counts from 1 to 4 are shown as <5 (--min-count)");
    let f = &FUNNEL;
    has_line(
        &text,
        &row(
            f,
            &["incident_other", "55", "<5", "0", "33", "22", "37", "18"],
        ),
    );
    has_line(
        &text,
        &row(f, &["territory", "48", "48", "<5", "29", "19", "33", "15"]),
    );
    has_line(
        &text,
        &row(f, &["declined", "<5", "<5", "0", "<5", "<5", "<5", "0"]),
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("declined ") && l.contains(" 4 "))
    );
    // Since the 3rd only 4 surveys were completed: the count, its rate and median are hidden.
    let later = report(dir.path(), &["--since", "2026-11-03"]);
    has_line(
        &later,
        "started 25, completed <5, completion rate -, median duration -",
    );
}

#[test]
fn csv_and_json_formats_parse_and_hide_the_same_counts() {
    let dir = data_dir();
    let csv_text = report(dir.path(), &["--format", "csv"]);
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["flow", "table", "row", "column", "value"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let value = |table: &str, row: &str, column: &str| {
        rows.iter()
            .find(|r| r[1] == *table && r[2] == *row && r[3] == *column)
            .map(|r| r[4].to_owned())
            .unwrap_or_else(|| panic!("no {table}/{row}/{column}"))
    };
    assert_eq!(value("overall", "all", "started"), "65");
    assert_eq!(value("funnel", "incident", "left"), "6");
    assert_eq!(value("funnel", "declined", "reached"), "<5");
    assert_eq!(value("answers", "consent", "yes"), "61");

    let json: Value = serde_json::from_str(&report(dir.path(), &["--format", "json"])).unwrap();
    let flow = &json["flows"][0];
    assert_eq!(json["unreadable_lines"], 2);
    assert_eq!(flow["overall"]["completed"], 44);
    assert_eq!(flow["overall"]["completion_rate_percent"], 67.7);
    let step = |id: &str| {
        flow["funnel"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(step("people")["left"], 5);
    assert_eq!(step("territory")["left"], "<5");
    assert_eq!(step("when")["reached_by_segment"]["voice"], 18);
}

#[test]
fn the_chart_is_an_svg_naming_every_step_with_its_count() {
    let dir = data_dir();
    let chart = dir.path().join("funnel.svg");
    report(dir.path(), &["--chart", chart.to_str().unwrap()]);
    let svg = std::fs::read_to_string(&chart).unwrap();
    // Kept for docs/funnel.svg, which is this chart (see docs/reports.md).
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("funnel.svg"),
        &svg,
    );
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_owned())
        .collect();
    for step in [
        "consent",
        "incident",
        "territory",
        "people",
        "thanks",
        "declined",
    ] {
        assert!(
            texts.iter().any(|t| t == step),
            "no label {step} in {texts:?}"
        );
    }
    assert!(texts.iter().any(|t| t == "65"), "{texts:?}");
    assert!(
        texts.iter().any(|t| t == "<5"),
        "the hidden marker: {texts:?}"
    );
    assert!(texts.iter().any(|t| t.contains("kufatilia")), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.contains("2026-11-02 to 2026-11-03")),
        "{texts:?}"
    );
    // One bar per step with a count shown, none for the hidden one.
    let bars = doc.descendants().filter(|n| n.has_tag_name("rect")).count();
    assert_eq!(bars, 1 + 12, "background plus 12 visible bars");

    let refused = Command::new(env!("CARGO_BIN_EXE_sauti"))
        .args([
            "report",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--flow",
            "kufatilia",
        ])
        .args(["--chart", dir.path().join("funnel.png").to_str().unwrap()])
        .current_dir(REPO)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("only SVG"));
}

fn export(dir: &Path, format: &str) -> std::path::PathBuf {
    let out = dir.join("export");
    sauti(&[
        "export",
        "--data-dir",
        dir.to_str().unwrap(),
        "--format",
        format,
        "--out",
        out.to_str().unwrap(),
    ]);
    out
}

/// RFC 3339 with an explicit offset, `+00:00` rather than `Z`, as the specification asks.
fn valid_floip_timestamp(t: &str) -> bool {
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_ok()
        && !t.ends_with('Z')
}

#[test]
fn the_floip_package_has_what_the_flow_results_specification_requires() {
    let dir = data_dir();
    let out = export(dir.path(), "floip").join("kufatilia");
    let descriptor: Value =
        serde_json::from_slice(&std::fs::read(out.join("datapackage.json")).unwrap()).unwrap();
    assert_eq!(descriptor["profile"], "flow-results-package");
    assert_eq!(descriptor["flow_results_specification_version"], "1.0.0");
    for field in ["created", "modified"] {
        assert!(
            valid_floip_timestamp(descriptor[field].as_str().unwrap()),
            "{field}"
        );
    }
    let id = uuid::Uuid::parse_str(descriptor["id"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 4, "package ids are Version 4 UUIDs");
    let name = descriptor["name"].as_str().unwrap();
    assert!(
        name.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
    );

    let resources = descriptor["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 1, "exactly one resource");
    let resource = &resources[0];
    assert!(resource.get("data").is_none(), "no inline data");
    let path = resource["path"].as_str().unwrap();
    let schema = &resource["schema"];
    let fields: Vec<&str> = schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "timestamp",
            "row_id",
            "contact_id",
            "session_id",
            "question_id",
            "response",
            "response_metadata"
        ]
    );
    let questions = schema["questions"].as_object().unwrap();
    let valid_types = [
        "select_one",
        "select_many",
        "numeric",
        "open",
        "text",
        "image",
        "video",
        "audio",
        "geo_point",
        "date",
        "time",
        "datetime",
    ];
    for (id, q) in questions {
        assert!(
            valid_types.contains(&q["type"].as_str().unwrap()),
            "{id}: {q}"
        );
        assert!(
            q["label"].as_str().is_some_and(|l| !l.is_empty()),
            "{id} label"
        );
        assert!(q["type_options"].is_object(), "{id} type_options");
    }
    assert_eq!(questions["incident"]["type"], "select_one");
    assert_eq!(
        questions["incident"]["type_options"]["choices"][1],
        "violence"
    );
    assert_eq!(questions["people"]["type"], "numeric");
    assert_eq!(
        questions["people"]["type_options"]["range"],
        json!([0.0, 9999.0])
    );
    assert_eq!(questions["date"]["type"], "date");
    // kufatilia answers calls too, where a text may be a recording.
    assert_eq!(questions["territory"]["type"], "open");
    assert!(
        !questions.contains_key("thanks"),
        "end steps are no questions"
    );

    let rows: Vec<Vec<Value>> =
        serde_json::from_slice(&std::fs::read(out.join(path)).unwrap()).unwrap();
    let csv_rows: Vec<csv::StringRecord> =
        csv::Reader::from_path(out.join("flow-results-data.csv"))
            .unwrap()
            .records()
            .map(Result::unwrap)
            .collect();
    assert_eq!(rows.len(), csv_rows.len());
    let mut row_ids = std::collections::HashSet::new();
    for row in &rows {
        assert_eq!(row.len(), 7, "{row:?}");
        assert!(valid_floip_timestamp(row[0].as_str().unwrap()), "{row:?}");
        assert!(
            row_ids.insert(row[1].as_str().unwrap().to_owned()),
            "row ids are unique"
        );
        assert_eq!(
            row[2].as_str().unwrap().len(),
            64,
            "contact id: the pseudonym"
        );
        assert!(questions.contains_key(row[4].as_str().unwrap()), "{row:?}");
        let q = &questions[row[4].as_str().unwrap()];
        if q["type"] == "select_one" {
            assert!(
                q["type_options"]["choices"]
                    .as_array()
                    .unwrap()
                    .contains(&row[5]),
                "{row:?}"
            );
        }
    }
    for record in &csv_rows {
        assert_eq!(record.len(), 7);
        assert!(valid_floip_timestamp(&record[0]));
    }
    // A row for every answer of the 65 responses (the broken and duplicate lines left out).
    let answers: std::collections::HashMap<String, usize> = generated()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["answers"].as_object().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(answers.len(), 65);
    assert_eq!(rows.len(), answers.values().sum::<usize>());
}

#[test]
fn the_csv_export_has_a_row_per_response_and_defuses_formulas() {
    let dir = data_dir();
    let path = export(dir.path(), "csv").join("kufatilia.csv");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "responses stay private to the account");
    }
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[..3], ["id", "flow", "flow_version"]);
    assert!(header.contains(&"respondent".to_owned()));
    let steps = [
        "consent",
        "incident",
        "incident_other",
        "when",
        "date",
        "province",
        "province_other",
        "territory",
        "site",
        "people",
        "contact",
    ];
    assert_eq!(header[header.len() - steps.len()..], steps);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 65, "one row per response, duplicates once");
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let first = &records[0];
    // The hostile answer comes back whole, quotes, comma, newline and emoji included, with
    // the one quote mark that keeps a spreadsheet from running it.
    assert_eq!(&first[column("territory")], format!("'{HOSTILE}"));
    assert_eq!(&first[column("incident")], "violence");
    assert_eq!(&first[column("site")], "", "skipped");
    assert_eq!(&first[column("people")], "0");
    assert_eq!(first[column("respondent")].len(), 64);
    for record in &records {
        assert_eq!(record.len(), header.len());
        for cell in record.iter() {
            assert!(!cell.starts_with(['=', '+', '-', '@']), "{cell:?}");
            assert!(!cell.starts_with("+243"), "never a phone number");
        }
    }
}
