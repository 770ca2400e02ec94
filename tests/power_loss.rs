//! The power goes in a mining town: what Sauti wrote before it must still be there and
//! readable. A journal torn mid-record is repaired at the next start without swallowing the
//! next survey, and every file and directory Sauti creates is made durable in its parent
//! (checked on a traced first start: `strace` sees each parent directory fsynced).

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::collector::{Collector, Mode};
use common::server::{AtPhone, Options, Server};

/// A short kufatilia report (consent declined): `END`, and a response in the journal.
fn report(server: &Server, session: &str, number: &str) {
    let mut phone = AtPhone::new(server, session, "*384*1#", number);
    phone.dial();
    phone.send("1");
    assert!(phone.send("2").starts_with("END"));
}

fn hook(collector: &Collector, name: &str) -> String {
    format!(
        "[sinks.{name}]\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"whsec_c2F1dGktdGVzdC13ZWJob29rLXNlY3JldC0zMmJ5dGU=\"\nbackoff_ms = 50\nbackoff_max_ms = 200\n",
        collector.url(&format!("/{name}"))
    )
}

#[test]
fn a_journal_torn_mid_record_is_repaired_and_the_next_survey_is_delivered() {
    let collector = Collector::start(Mode::Status(200));
    let mut server = Server::start_with(Options {
        // Every line stays, delivered or not, to be looked at after the restart.
        config: Some(format!(
            "journal_compact_bytes = 0
{}",
            hook(&collector, "partners")
        )),
        ..Options::default()
    });
    report(&server, "ATUid_before_cut", "+243810000401");
    collector.wait_for("the first report", 10, |r| !r.is_empty());
    // The power goes while the next record is half written.
    server.kill9();
    let journal = server.data_dir.join("responses.jsonl");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    f.write_all(br#"{"schema":1,"id":"01a2b3c4","flow":"kufatilia","network":"63902"#)
        .unwrap();
    drop(f);

    server.restart();
    report(&server, "ATUid_after_cut", "+243810000402");
    collector.wait_for("the report made after the restart", 10, |r| {
        r.iter()
            .map(|x| x.json()["id"].to_string())
            .collect::<BTreeSet<_>>()
            .len()
            == 2
    });
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.ends_with('\n'));
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("an unreadable line in the journal ({e}): {line}"));
    }
    assert_eq!(text.lines().count(), 2);
    let quarantine =
        std::fs::read_to_string(server.data_dir.join("responses.jsonl.quarantine")).unwrap();
    assert!(
        quarantine.starts_with(r#"{"schema":1,"id":"01a2b3c4""#),
        "{quarantine}"
    );
    assert!(
        server.logs_eventually_contain("moved it aside", 5),
        "{}",
        server.logs()
    );
}

/// What `strace -y` shows of the calls that create things and make them durable.
#[derive(Debug)]
enum Call {
    Created(PathBuf),
    Synced(PathBuf),
}

/// The quoted path arguments of a traced call, in order.
fn quoted(line: &str) -> Vec<&str> {
    line.split('"').skip(1).step_by(2).collect()
}

fn calls(trace: &str, within: &Path) -> Vec<Call> {
    let mut calls = Vec::new();
    // A creation interrupted by another thread's call (`<unfinished ...>`), by thread: its
    // result comes on a later `<... resumed>` line.
    let mut unfinished: std::collections::HashMap<&str, usize> = Default::default();
    for full in trace.lines() {
        let (pid, line) = full.split_once(' ').unwrap_or(("", full));
        let line = line.trim_start();
        if line.starts_with("<...") {
            // A creation that failed (two threads making one directory: the loser's mkdir
            // says EEXIST) created nothing.
            if let Some(i) = unfinished.remove(pid)
                && line.contains(" = -1 ")
            {
                calls.remove(i);
                unfinished
                    .values_mut()
                    .filter(|j| **j > i)
                    .for_each(|j| *j -= 1);
            }
            continue;
        }
        if line.contains(" = -1 ") {
            continue;
        }
        let before = calls.len();
        let under = |p: &str| Path::new(p).starts_with(within) || Path::new(p) == within;
        if line.starts_with("mkdir(") || line.starts_with("mkdirat(") {
            if let Some(p) = quoted(line).into_iter().find(|p| under(p)) {
                calls.push(Call::Created(p.into()));
            }
        } else if line.starts_with("openat(") && line.contains("O_CREAT") {
            if let Some(p) = quoted(line).into_iter().find(|p| under(p)) {
                calls.push(Call::Created(p.into()));
            }
        } else if line.starts_with("link(") || line.starts_with("linkat(") {
            if let Some(p) = quoted(line).into_iter().rev().find(|p| under(p)) {
                calls.push(Call::Created(p.into()));
            }
        } else if line.starts_with("fsync(") || line.starts_with("fdatasync(") {
            let fd_path = line.split_once('<').and_then(|(_, r)| r.split_once('>'));
            if let Some((p, _)) = fd_path {
                calls.push(Call::Synced(p.into()));
            }
        }
        if calls.len() > before
            && matches!(calls[before], Call::Created(_))
            && line.ends_with("<unfinished ...>")
        {
            unfinished.insert(pid, before);
        }
    }
    calls
}

#[test]
fn the_first_start_makes_every_new_file_and_directory_durable_in_its_parent() {
    assert!(
        Command::new("strace").arg("-V").output().is_ok(),
        "needs strace (scripts/test installs it)"
    );
    let accepting = Collector::start(Mode::Status(200));
    let refusing = Collector::start(Mode::Status(400));
    let trace_dir = tempfile::tempdir().unwrap();
    let trace = trace_dir.path().join("trace");
    let mut server = Server::start_with(Options {
        config: Some(format!(
            "{}{}",
            hook(&accepting, "partners"),
            hook(&refusing, "strict")
        )),
        // The dev profile's own key, generated at first start.
        env: Vec::new(),
        wrapper: [
            "strace",
            "-f",
            "-y",
            "-qq",
            "-s",
            "4096",
            "-e",
            "trace=mkdir,mkdirat,openat,link,linkat,fsync,fdatasync",
            "-o",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([trace.display().to_string()])
        .collect(),
        ..Options::default()
    });
    report(&server, "ATUid_traced", "+243810000403");
    accepting.wait_for("the delivery", 15, |r| !r.is_empty());
    refusing.wait_for("the refusal", 15, |r| !r.is_empty());
    let dead = server.data_dir.join("outbox/strict.dead");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !dead.exists() || !server.data_dir.join("outbox/partners.acks").exists() {
        assert!(std::time::Instant::now() < deadline, "{}", server.logs());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SIGTERM to Sauti itself (strace, its parent, would only detach), then strace exits too.
    Command::new("pkill")
        .args(["-TERM", "-P", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(server.terminate(), "{}", server.logs());

    let trace = std::fs::read_to_string(&trace).unwrap();
    let within = server.data_dir.parent().unwrap().to_path_buf();
    let calls = calls(&trace, &within);
    let mut created: Vec<PathBuf> = Vec::new();
    for (i, call) in calls.iter().enumerate() {
        let Call::Created(path) = call else { continue };
        let name = path.file_name().unwrap().to_string_lossy();
        // Probes and temporaries are removed again; the config is the test's own file.
        if name.ends_with(".tmp") || name.starts_with(".sauti-ready-probe") || name == "sauti.toml"
        {
            continue;
        }
        let parent = path.parent().unwrap();
        let synced = calls[i + 1..]
            .iter()
            .any(|c| matches!(c, Call::Synced(p) if p == parent));
        assert!(
            synced,
            "{} was created but its directory was never fsynced after",
            path.display()
        );
        created.push(path.clone());
    }
    for expected in [
        "data",
        "data/responses.jsonl",
        "data/pseudonym.key",
        "data/outbox",
        "data/outbox/partners.acks",
        "data/outbox/strict.dead",
    ] {
        assert!(
            created.contains(&within.join(expected)),
            "{expected} not seen created: {created:?}"
        );
    }
}
