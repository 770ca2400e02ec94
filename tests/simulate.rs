//! A researcher tries a survey in the terminal with scripted answers: a multi-select answer
//! keeps its commas, and answers the survey never asked for are reported, not ignored.

use std::process::{Command, Output};

fn simulate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sauti"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("simulate")
        .args(args)
        .output()
        .unwrap()
}

/// consent, role, owns a phone, its type, coverage, mobile money, then the services used.
const UP_TO_SERVICES: [&str; 6] = ["1", "1", "1", "1", "1", "1"];

fn answers(list: &[&str]) -> Vec<String> {
    list.iter()
        .flat_map(|a| ["--answer".to_owned(), a.to_string()])
        .collect()
}

#[test]
fn a_multi_select_answer_is_given_with_its_commas() {
    let mut args = vec!["connectivity".to_owned(), "--lang".into(), "fr".into()];
    args.extend(answers(&UP_TO_SERVICES));
    args.extend(answers(&["1,3", "1", "1"]));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = simulate(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = &stdout[stdout.find("--- response ---").unwrap() + 16..];
    let response: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(
        response["answers"]["services"]["value"],
        serde_json::json!(["calls", "mobile_money"])
    );
}

#[test]
fn answers_left_over_after_the_end_are_reported() {
    let mut args = vec!["connectivity".to_owned(), "--lang".into(), "fr".into()];
    args.extend(answers(&UP_TO_SERVICES));
    args.extend(answers(&["1,3", "1", "1", "2", "oops"]));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = simulate(&args);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 answer(s) left over after the session ended: `2`, `oops`"),
        "{stderr}"
    );
}
