//! A campaign as an operator runs one: a panel of 50 informants, five of whom texted STOP
//! before, started with `sauti campaign start` against a real server and the fake Africa's
//! Talking API, the server killed mid-campaign and restarted, one member answering by SMS.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::server::{Options, Server};
use common::sms_api::SmsApi;
use serde_json::Value;

const SHORT_CODE: &str = "20880";
const CONFIG: &str = "[[gateway]]\nname = \"africastalking\"\nadapter = \"africastalking-sms\"\n";
const KEY: &str = "test-key-0123456789abcdef";
/// First messages a minute: one every 200 ms, 45 in about 9 s.
const RATE: u32 = 300;

/// Panel member `i`'s number, in E.164.
fn number(i: usize) -> String {
    format!("+2438100{:05}", 200 + i)
}

/// The members who texted STOP before the campaign.
fn opted_out(i: usize) -> bool {
    i % 10 == 3
}

/// Runs `sauti campaign ...` on the server's data directory and configuration.
fn campaign(server: &Server, args: &[&str]) -> std::process::Output {
    let repo = Path::new(common::REPO);
    Command::new(env!("CARGO_BIN_EXE_sauti"))
        .current_dir(server.dir.path())
        .arg("campaign")
        .args(args)
        .arg("--config")
        .arg(server.dir.path().join("sauti.toml"))
        .arg("--data-dir")
        .arg(&server.data_dir)
        .arg("--flows")
        .arg(repo.join("flows"))
        .arg("--locales")
        .arg(repo.join("locales"))
        .env_remove("SAUTI_PROFILE")
        .env("SAUTI_PSEUDONYM_KEY", KEY)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Texts `text` from `from` to the short code, as Africa's Talking delivers it.
fn text(server: &Server, from: &str, text: &str, id: &str) {
    let reply = server.post_form(
        "/sms/africastalking",
        &[
            ("from", from),
            ("to", SHORT_CODE),
            ("text", text),
            ("date", "2026-01-01 10:00:00"),
            ("id", id),
            ("linkId", "link-1"),
        ],
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// Messages accepted by the API for each panel number.
fn received(api: &SmsApi) -> BTreeMap<String, Vec<(String, Instant)>> {
    let mut out: BTreeMap<String, Vec<(String, Instant)>> = BTreeMap::new();
    for s in api.accepted() {
        out.entry(s.to).or_default().push((s.message, s.at));
    }
    out
}

/// The campaign's first messages seen so far: each member's messages, the five opted out
/// excepted (the only other messages they got are their keyword's and STOP's replies).
fn first_messages(api: &SmsApi) -> Vec<(String, Instant)> {
    let all = received(api);
    let mut firsts: Vec<(String, Instant)> = (0..50)
        .filter(|i| !opted_out(*i))
        .filter_map(|i| all.get(&number(i)).and_then(|m| m.first().cloned()))
        .collect();
    firsts.sort_by_key(|(_, at)| *at);
    firsts
}

fn status(server: &Server) -> Value {
    let out = campaign(server, &["status", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    all[0].clone()
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_campaign_texts_each_member_once_across_a_crash_and_skips_those_who_opted_out() {
    let api = SmsApi::start();
    let mut opts = Options {
        config: Some(CONFIG.into()),
        ..Default::default()
    };
    opts.env.extend([
        ("SAUTI_AT_SMS_URL".to_owned(), api.url()),
        ("SAUTI_AT_USERNAME".to_owned(), "sauti-test".to_owned()),
        ("SAUTI_AT_API_KEY".to_owned(), "at-key-123".to_owned()),
    ]);
    let mut server = Server::start_with(opts);

    // Five informants stop before the campaign: they must never be texted by it.
    for i in (0..50).filter(|i| opted_out(*i)) {
        text(&server, &number(i), "KUFATILIA", &format!("k-{i}"));
        text(&server, &number(i), "STOP", &format!("s-{i}"));
    }
    api.wait_for("the keyword and STOP replies", 20, |_| {
        (0..50)
            .filter(|i| opted_out(*i))
            .all(|i| api.accepted_to(&number(i)).len() == 2)
    });

    // A few numbers as an operator's spreadsheet has them (national form, spaces).
    let mut panel = String::from("phone,lang\n");
    for i in 0..50 {
        let n = number(i);
        match i % 7 {
            0 => panel.push_str(&format!("0{},\n", &n[4..])),
            1 => panel.push_str(&format!("{n},sw\n")),
            _ => panel.push_str(&format!("{n},\n")),
        }
    }
    let panel_path = server.dir.path().join("panel.csv");
    std::fs::write(&panel_path, &panel).unwrap();
    let rate = RATE.to_string();
    let out = campaign(
        &server,
        &[
            "start",
            "kufatilia",
            "--panel",
            panel_path.to_str().unwrap(),
            "--rate",
            &rate,
            "--from",
            SHORT_CODE,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(!id.is_empty());

    // Killed mid-campaign, between two paced messages (just after one went out).
    api.wait_for("ten first messages", 30, |_| {
        first_messages(&api).len() >= 10
    });
    std::thread::sleep(Duration::from_millis(60));
    server.kill9();
    let before = first_messages(&api).len();
    assert!(
        before < 45,
        "the campaign was over before the crash: {before}"
    );
    server.restart();
    api.wait_for("45 first messages", 60, |_| {
        first_messages(&api).len() >= 45
    });
    // Nothing more comes: no member texted twice, nobody opted out texted at all.
    std::thread::sleep(Duration::from_millis(1500));

    let all = received(&api);
    for i in 0..50 {
        let got = all.get(&number(i)).map_or(0, Vec::len);
        if opted_out(i) {
            assert_eq!(got, 2, "member {i} opted out: only their own replies");
        } else {
            assert_eq!(got, 1, "member {i}: exactly one first message");
        }
    }
    let firsts = first_messages(&api);
    assert_eq!(firsts.len(), 45);
    // Swahili where the panel says so; the language screen otherwise.
    assert!(
        all[&number(1)][0].0.contains("Unakubali?"),
        "{:?}",
        all[&number(1)]
    );
    assert!(
        all[&number(2)][0].0.contains("1. "),
        "{:?}",
        all[&number(2)]
    );
    // Paced, the crash included: 11 messages are 10 intervals of 200 ms (loosely).
    for w in firsts.windows(11) {
        let span = w[10].1 - w[0].1;
        assert!(
            span >= Duration::from_millis(1500),
            "11 first messages within {span:?}: faster than {RATE}/min"
        );
    }

    let s = status(&server);
    assert_eq!(s["id"], id.as_str());
    assert_eq!(s["members"], 50);
    assert_eq!(s["sent"], 45, "{s}");
    assert_eq!(s["opted_out"], 5, "{s}");
    assert_eq!(s["failed"], 0, "{s}");
    assert_eq!(s["pending"], 0, "{s}");
    assert_eq!(s["started"], 0, "{s}");

    // The last member (texted after the restart: sessions are in memory) answers it all.
    let member = number(49);
    let answers = ["1", "1", "2", "1", "1", "Kalehe", "Nyabibwe", "3", "2"];
    for (n, answer) in answers.iter().enumerate() {
        text(&server, &member, answer, &format!("m49-{n}"));
        api.nth_to(&member, n + 2);
    }
    let responses = server.responses();
    assert_eq!(responses.len(), 1, "{responses:?}");
    let response = &responses[0];
    assert_eq!(response["channel"], "sms");
    assert_eq!(response["status"], "complete", "{response}");
    assert_eq!(response["answers"]["site"]["value"], "Nyabibwe");
    let pseudonyms = sauti::pseudonym::Pseudonymizer::new(KEY.as_bytes()).unwrap();
    assert_eq!(response["respondent"], pseudonyms.of(&member).as_str());
    assert!(!response.to_string().contains(&member[1..]));
    let s = status(&server);
    assert_eq!(s["started"], 1, "{s}");
    assert_eq!(s["completed"], 1, "{s}");
    assert_eq!(s["sent"], 45, "{s}");

    // No number in clear at rest, but in the SMS send queue: on this branch
    // `sms-outbox.jsonl` still holds each recipient's number to send to (its encryption is
    // the queue's own work, docs/sms.md).
    for path in files(&server.data_dir) {
        if path.file_name().is_some_and(|n| n == "sms-outbox.jsonl") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let content = String::from_utf8_lossy(&bytes);
        for i in 0..50 {
            // The national significant number: in any form it was written.
            let national = &number(i)[4..];
            assert!(
                !content.contains(national),
                "{} holds member {i}'s number in clear",
                path.display()
            );
        }
    }
    let dir = server.data_dir.join("campaigns").join(&id);
    assert!(dir.join("panel.jsonl").is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("panel.jsonl")), 0o600);
        assert_eq!(mode(&dir.join("progress")), 0o600);
    }
    let logs = server.logs();
    assert!(!logs.contains(&member[4..]), "a number in the logs");
}

#[test]
fn a_panel_with_a_bad_row_writes_nothing_and_says_which_line() {
    let server = Server::start_with(Options {
        config: Some(CONFIG.into()),
        ..Default::default()
    });
    let panel = server.dir.path().join("panel.csv");
    std::fs::write(&panel, "phone\n+243810000301\n12345\n+243810000301\n").unwrap();
    let out = campaign(
        &server,
        &[
            "start",
            "kufatilia",
            "--panel",
            panel.to_str().unwrap(),
            "--from",
            SHORT_CODE,
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3: not a phone number"), "{err}");
    assert!(err.contains("line 4: the same number as line 2"), "{err}");
    assert!(!err.contains("810000301"), "{err}");
    assert!(!server.data_dir.join("campaigns").exists());
    let names: BTreeSet<_> = std::fs::read_dir(&server.data_dir)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(!names.iter().any(|n| n == "campaigns"), "{names:?}");
}

/// An informant in the middle of a report of their own when the campaign reaches them is not
/// texted: the invitation would have replaced the report they were telling.
#[test]
fn a_member_in_the_middle_of_a_report_is_not_interrupted() {
    let api = SmsApi::start();
    let mut opts = Options {
        config: Some(CONFIG.into()),
        ..Default::default()
    };
    opts.env.extend([
        ("SAUTI_AT_SMS_URL".to_owned(), api.url()),
        ("SAUTI_AT_API_KEY".to_owned(), "at-key-123".to_owned()),
    ]);
    let server = Server::start_with(opts);
    let (busy, free) = (number(60), number(61));
    text(&server, &busy, "ALERTE", "b-1");
    text(&server, &busy, "1", "b-2");
    api.wait_for("the report's first two replies", 20, |_| {
        api.accepted_to(&busy).len() == 2
    });
    let panel_path = server.dir.path().join("panel.csv");
    std::fs::write(&panel_path, format!("phone\n{busy}\n{free}\n")).unwrap();
    let out = campaign(
        &server,
        &[
            "start",
            "kufatilia",
            "--panel",
            panel_path.to_str().unwrap(),
            "--rate",
            "600",
            "--from",
            SHORT_CODE,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    api.wait_for("the free member's invitation", 20, |_| {
        !api.accepted_to(&free).is_empty()
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&server)["pending"] != 0 {
        assert!(Instant::now() < deadline, "{}", status(&server));
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = status(&server);
    assert_eq!(
        (s["sent"].as_u64(), s["busy"].as_u64()),
        (Some(1), Some(1)),
        "{s}"
    );
    // Nothing more was sent to the busy member, and their report goes on where it was.
    assert_eq!(api.accepted_to(&busy).len(), 2);
    text(&server, &busy, "1", "b-3");
    api.wait_for("the report's next question", 20, |_| {
        api.accepted_to(&busy).len() == 3
    });
    let next = &api.accepted_to(&busy)[2];
    assert!(next.contains("Quand cela s'est-il passé?"), "{next}");
}
