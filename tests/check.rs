//! `sauti check` on broken flows: each kind of problem is reported with the file and line
//! where the researcher has to look.

use std::path::{Path, PathBuf};
use std::process::Command;

use sauti::check;
use sauti::render::Budget;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Lays out `tests/broken/<case>.toml` and its `<case>.<lang>.ftl` files as a project
/// (`flows/`, `locales/<lang>/`, with the shipped engine texts) in a temporary directory.
fn project(case: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let broken = Path::new(REPO).join("tests/broken");
    std::fs::create_dir_all(dir.path().join("flows")).unwrap();
    std::fs::copy(
        broken.join(format!("{case}.toml")),
        dir.path().join(format!("flows/{case}.toml")),
    )
    .unwrap();
    for lang in ["fr", "sw", "ln"] {
        let locale = dir.path().join("locales").join(lang);
        std::fs::create_dir_all(&locale).unwrap();
        std::fs::copy(
            Path::new(REPO).join(format!("locales/{lang}/sauti.ftl")),
            locale.join("sauti.ftl"),
        )
        .unwrap();
        let ftl = broken.join(format!("{case}.{lang}.ftl"));
        if ftl.exists() {
            std::fs::copy(ftl, locale.join(format!("{case}.ftl"))).unwrap();
        }
    }
    dir
}

/// The problems `check` reports for a case, with paths relative to the project.
fn problems(case: &str) -> Vec<String> {
    everything(case).0
}

#[track_caller]
fn assert_reports(case: &str, expected: &[&str]) {
    let found = problems(case);
    for e in expected {
        assert!(
            found.iter().any(|p| p.starts_with(e)),
            "expected a problem starting with\n  {e}\nfound:\n  {}",
            found.join("\n  ")
        );
    }
}

#[test]
fn the_shipped_flows_pass() {
    let report = check::check(
        &[PathBuf::from(REPO).join("flows")],
        &Path::new(REPO).join("locales"),
        Budget::default(),
    );
    let problems: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let ids: Vec<&str> = report.summaries.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["connectivity", "kufatilia"]);
}

/// The benchmark's flow and its copies of the engine texts stay servable (a new engine text
/// missing there once stopped `benches/compare.sh` from starting Sauti).
#[test]
fn the_benchmark_flow_passes() {
    let report = check::check(
        &[PathBuf::from(REPO).join("benches/flows")],
        &Path::new(REPO).join("benches/locales"),
        Budget::default(),
    );
    let errors: Vec<String> = report
        .problems
        .iter()
        .filter(|p| p.severity == sauti::problem::Severity::Error)
        .map(|p| p.to_string())
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn a_toml_syntax_error_points_at_its_line() {
    assert_reports("toml-syntax", &["flows/toml-syntax.toml:9:"]);
}

#[test]
fn a_misspelt_field_is_named_with_its_line() {
    assert_reports(
        "unknown-field",
        &["flows/unknown-field.toml:10:1: unknown field `promt`"],
    );
}

#[test]
fn unknown_steps_options_and_lists_are_named() {
    assert_reports(
        "unknown-ids",
        &[
            "flows/unknown-ids.toml:11:18: step `q` field `goto`: unknown option `maybe`",
            "flows/unknown-ids.toml:11:30: field `goto`: unknown step `nowhere`",
            "flows/unknown-ids.toml:16:8: step `r` field `list`: unknown list `colours`",
            "flows/unknown-ids.toml:17:8: field `next`: unknown step `fim`",
        ],
    );
}

#[test]
fn an_unreachable_step_is_reported() {
    assert_reports(
        "unreachable",
        &["flows/unreachable.toml:16:6: step `orphan` is unreachable"],
    );
}

#[test]
fn a_loop_without_a_way_out_is_reported() {
    assert_reports(
        "loop",
        &[
            "flows/loop.toml:14:6: step `l1` is in a loop with no way out",
            "flows/loop.toml:18:6: step `l2` is in a loop with no way out",
        ],
    );
}

#[test]
fn a_condition_on_a_later_or_unknown_step_is_refused() {
    assert_reports(
        "when-later",
        &[
            "flows/when-later.toml:10:8: step `first` field `when`: step `second` is not earlier in the flow",
            "flows/when-later.toml:15:8: step `second` field `when`: unknown step `ghost`",
        ],
    );
}

#[test]
fn a_message_missing_in_one_language_is_reported_per_message() {
    assert_reports(
        "missing-message",
        &[
            "flows/missing-message.toml:7:1: list `yes_no`: message `yes_no-no` is missing in ",
            "flows/missing-message.toml:16:1: step `people`: message `people` is missing in ",
        ],
    );
    let found = problems("missing-message");
    assert!(
        found.iter().all(|p| !p.contains("locales/fr/")),
        "French is complete: {found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.ends_with("locales/sw/missing-message.ftl"))
    );
}

#[test]
fn a_fluent_syntax_error_points_into_the_ftl_file() {
    assert_reports("fluent-syntax", &["locales/fr/fluent-syntax.ftl:3:"]);
}

#[test]
fn a_fluent_argument_the_flow_never_provides_is_refused() {
    let found = problems("fluent-arg");
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("locales/fr/fluent-arg.ftl:2:1: message `fin` uses `$nobody`")),
        "{found:?}"
    );
    // `$name` is an answer of the flow: that one is fine.
    assert!(found.iter().all(|p| !p.contains("$name")), "{found:?}");
}

#[test]
fn a_screen_that_cannot_fit_is_reported_with_the_language() {
    assert_reports(
        "too-long",
        &[
            "flows/too-long.toml:8:1: step `q` in `fr`: cannot fit the USSD screen: option 2 `long` is too long",
            "flows/too-long.toml:13:1: end step `fin` in `fr` is too long for one screen",
        ],
    );
}

#[test]
fn the_command_fails_with_one_line_per_problem() {
    let dir = project("loop");
    let out = Command::new(env!("CARGO_BIN_EXE_sauti"))
        .current_dir(dir.path())
        .arg("check")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with("flows/loop.toml:14:6: step `l1`"),
        "{stdout}"
    );
}

#[test]
fn the_command_summarises_good_flows() {
    let out = Command::new(env!("CARGO_BIN_EXE_sauti"))
        .current_dir(REPO)
        .args(["check", "flows"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stdout.contains("flows/kufatilia.toml: ok: flow `kufatilia` v2"),
        "{stdout}"
    );
    assert!(stdout.contains(" fr "), "{stdout}");
}

/// Every line `check` prints for a case (problems, then warnings), paths relative.
fn everything(case: &str) -> (Vec<String>, Vec<String>) {
    let dir = project(case);
    let report = check::check(
        &[dir.path().join("flows")],
        &dir.path().join("locales"),
        Budget::default(),
    );
    let prefix = format!("{}/", dir.path().display());
    let show = |ps: &[sauti::problem::Problem]| -> Vec<String> {
        ps.iter()
            .map(|p| p.to_string().replace(&prefix, ""))
            .collect()
    };
    (show(&report.problems), show(&report.warnings))
}

#[test]
fn one_run_reports_every_planted_mistake_each_once() {
    let (problems, warnings) = everything("planted");
    let expected_problems = [
        "flows/planted.toml:9:8: unknown kind `choise`: did you mean `choice`?",
        "flows/planted.toml:15:1: unknown field `maxlen`: did you mean `max_len`?",
        "locales/fr/planted.ftl:4:1: message `place` uses `$illness`, but step `illness` is never answered before step `place` is shown",
        "flows/planted.toml:23:1: step `illness`: message `illness` is missing in ",
    ];
    let expected_warnings = [
        "locales/fr/planted.ftl:5:1: warning: message `burn` in `fr`: `û` (\\u{fb}) makes its screen UCS-2",
        "locales/fr/planted.ftl:8:1: warning: message `burn-non` is not used by flow `planted`",
        "locales/fr/planted.ftl:11:1: warning: message `fin`: `[zero]` is never selected in `fr`",
    ];
    for (found, expected) in [
        (&problems, &expected_problems[..]),
        (&warnings, &expected_warnings[..]),
    ] {
        for e in expected {
            assert!(
                found.iter().any(|p| p.starts_with(e)),
                "expected a line starting with\n  {e}\nfound:\n  {}",
                found.join("\n  ")
            );
        }
    }
    assert!(
        warnings.iter().any(|w| w.contains("write `u` instead")),
        "{warnings:?}"
    );
    let mut unique = problems.clone();
    unique.dedup();
    assert_eq!(unique, problems, "a problem reported twice");
    assert_eq!(problems.len(), expected_problems.len(), "{problems:#?}");
}

/// The researcher's `û`: on a flow that compiles, the warning measures the real screen.
#[test]
fn a_character_that_forces_ucs2_is_named_with_its_gsm7_alternative() {
    let (problems, warnings) = everything("ucs2");
    assert!(problems.is_empty(), "{problems:?}");
    let e = "locales/fr/ucs2.ftl:2:1: warning: step `burn` in `fr`: `û` (\\u{fb}) makes the screen UCS-2: ";
    assert!(
        warnings.iter().any(|w| w.starts_with(e)
            && w.contains("split over 2 pages")
            && w.ends_with("write `u` instead to keep it GSM-7")),
        "{warnings:#?}"
    );
}

#[test]
fn check_speaks_json_for_editors_and_ci() {
    let dir = project("planted");
    let out = Command::new(env!("CARGO_BIN_EXE_sauti"))
        .current_dir(dir.path())
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    let problems = doc["problems"].as_array().unwrap();
    assert!(problems.iter().any(
        |p| p["path"].as_str().unwrap().ends_with("flows/planted.toml")
            && p["line"] == 15
            && p["severity"] == "error"
            && p["message"].as_str().unwrap().contains("max_len")
    ));
    assert!(
        doc["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["severity"] == "warning")
    );
}

#[test]
fn nothing_may_be_asked_before_consent_and_a_refusal_must_end_the_survey() {
    assert_reports(
        "consent",
        &[
            "flows/consent.toml:9:1: step `mine` can be answered before consent is given at step `agree`",
            "flows/consent.toml:13:1: consent: answering `no` at step `agree` goes on to step `age`, which asks a question",
        ],
    );
}
