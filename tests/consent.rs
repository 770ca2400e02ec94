//! A respondent who says no is not a data point: the incident report records no answer of a
//! refusal (only that someone declined, when the flow counts refusals), and a survey left
//! before consent was given is never delivered as a partial.

mod common;

use std::path::Path;

use common::server::{AtPhone, Options, Server};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The shipped incident report with refusals not counted.
fn uncounted_project() -> (tempfile::TempDir, Options) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("flows")).unwrap();
    let flow = std::fs::read_to_string(Path::new(REPO).join("flows/kufatilia.toml"))
        .unwrap()
        .replace("count_refusals = true", "count_refusals = false");
    assert!(flow.contains("count_refusals = false"));
    std::fs::write(dir.path().join("flows/kufatilia.toml"), flow).unwrap();
    let opts = Options {
        flows: dir.path().join("flows"),
        config: Some("resume_window_secs = 1\npartials_sweep_secs = 1\n".into()),
        ..Options::default()
    };
    (dir, opts)
}

#[test]
fn a_refusal_is_counted_without_a_single_answer() {
    let server = Server::start();
    let mut phone = AtPhone::new(&server, "ATUid_no", "*384*1#", "+243810000501");
    phone.dial();
    phone.send("1"); // French
    assert!(phone.send("2").starts_with("END ")); // no
    let responses = server.responses();
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0]["status"], "declined");
    assert_eq!(responses[0]["answers"], serde_json::json!({}));
}

#[test]
fn a_refusal_not_counted_leaves_nothing_and_no_partial_comes_before_consent() {
    let (_dir, opts) = uncounted_project();
    let server = Server::start_with(opts);
    let mut refuses = AtPhone::new(&server, "ATUid_no2", "*384*1#", "+243810000502");
    refuses.dial();
    refuses.send("1");
    assert!(refuses.send("2").starts_with("END "));
    // Another picks a language and leaves at the consent question.
    let mut leaves = AtPhone::new(&server, "ATUid_gone", "*384*1#", "+243810000503");
    leaves.dial();
    leaves.send("1");
    // A third agrees, answers one question and leaves: that partial is delivered.
    let mut agrees = AtPhone::new(&server, "ATUid_yes", "*384*1#", "+243810000504");
    agrees.dial();
    agrees.send("1");
    agrees.send("1");
    agrees.send("2");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while server.responses().is_empty() {
        assert!(std::time::Instant::now() < deadline, "{}", server.logs());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    std::thread::sleep(std::time::Duration::from_secs(3));
    let responses = server.responses();
    assert_eq!(responses.len(), 1, "{responses:#?}");
    assert_eq!(responses[0]["status"], "partial");
    assert_eq!(responses[0]["answers"]["consent"]["value"], "yes");
}
