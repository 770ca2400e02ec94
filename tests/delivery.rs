//! Every completed survey reaches the collector: a real HTTP collector that fails, hangs or
//! refuses, a real `sauti serve` that is killed mid-delivery, and signatures checked with an
//! implementation of the Standard Webhooks check written here, independently of Sauti's.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::collector::{Collector, Mode, Received};
use common::server::{AtPhone, Options, Server};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const SECRET: &str = "whsec_c2F1dGktdGVzdC13ZWJob29rLXNlY3JldC0zMmJ5dGU=";

/// The receiver's side of Standard Webhooks: recompute and compare in constant time.
fn verify(secret: &str, id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    header
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|sig| {
            let Ok(sig) = STANDARD.decode(sig) else {
                return false;
            };
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body);
            mac.verify_slice(&sig).is_ok()
        })
}

fn verified(r: &Received) -> bool {
    verify(
        SECRET,
        r.header("webhook-id").unwrap_or(""),
        r.header("webhook-timestamp").unwrap_or(""),
        &r.body,
        r.header("webhook-signature").unwrap_or(""),
    )
}

#[test]
fn the_checker_used_here_accepts_the_fixture_and_rejects_a_tampered_body() {
    let raw = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/standard-webhooks/01-survey-completed.request.http"
    ))
    .unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let h = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap()
            .to_owned()
    };
    assert!(verify(
        SECRET,
        &h("webhook-id"),
        &h("webhook-timestamp"),
        body.as_bytes(),
        &h("webhook-signature")
    ));
    assert!(!verify(
        SECRET,
        &h("webhook-id"),
        &h("webhook-timestamp"),
        b"{}",
        &h("webhook-signature")
    ));
    // And Sauti's signer agrees with it on the fixture.
    let key = sauti::sink::webhook::secret_key(SECRET).unwrap();
    let ts: i64 = h("webhook-timestamp").parse().unwrap();
    assert_eq!(
        sauti::sink::webhook::signature(&key, &h("webhook-id"), ts, body.as_bytes()),
        h("webhook-signature")
    );
}

fn hook_config(collector: &Collector, extra: &str) -> String {
    format!(
        r#"
[sinks.partners]
kind = "webhook"
url = "{}"
secret = "{SECRET}"
backoff_ms = 50
backoff_max_ms = 300
timeout_ms = 2000
{extra}
"#,
        collector.url("/hooks/sauti")
    )
}

fn with_config(mut opts: Options, config: String) -> Options {
    opts.config = Some(config);
    opts
}

/// Completes a short kufatilia report (declined consent); returns the END screen.
fn report(server: &Server, session: &str, number: &str) -> String {
    let mut phone = AtPhone::new(server, session, "*384*1#", number);
    phone.dial();
    phone.send("1");
    let end = phone.send("2");
    assert!(end.starts_with("END "), "{end}");
    end
}

fn distinct_ids(received: &[Received]) -> BTreeSet<String> {
    received
        .iter()
        .filter_map(|r| r.header("webhook-id").map(str::to_owned))
        .collect()
}

fn outbox(server: &Server, args: &[&str]) -> (bool, String) {
    outbox_with(server, &server.dir.path().join("sauti.toml"), args)
}

/// `sauti outbox` on the server's data, with a configuration of its own.
fn outbox_with(server: &Server, config: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sauti"))
        .current_dir(server.dir.path())
        .arg("outbox")
        .args(args)
        .arg("--data-dir")
        .arg(&server.data_dir)
        .arg("--config")
        .arg(config)
        // Where the serving process listens: embedded mode's status asks it what is in flight.
        .arg("--listen")
        .arg(server.addr.to_string())
        .args(server.redis_args())
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn queued_while_the_collector_is_down_is_delivered_once_it_is_up(opts: Options) {
    let collector = Collector::start(Mode::Drop);
    let server = Server::start_with(with_config(opts, hook_config(&collector, "")));
    report(&server, "ATUid_down_1", "+243810000301");
    report(&server, "ATUid_down_2", "+243810000302");
    collector.wait_for("attempts while down", 10, |r| r.len() >= 2);
    collector.set_mode(Mode::Status(204));
    collector.wait_for("both delivered", 15, |_| {
        distinct_ids(&collector.accepted()).len() == 2
    });
    for r in collector.accepted() {
        assert!(verified(&r), "bad signature: {:?}", r.headers);
        let body = r.json();
        assert_eq!(
            r.header("webhook-id"),
            body["id"].as_str(),
            "webhook-id is the response id"
        );
        assert_eq!(body["flow"], "kufatilia");
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let metrics = server.get("/metrics").body;
        if metrics.contains("sauti_outbox_delivered_total{sink=\"partners\"} 2") {
            assert!(
                metrics.contains("sauti_outbox_queued_total{sink=\"partners\"} 2"),
                "{metrics}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{metrics}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn a_refused_response_goes_to_the_dead_letters_and_replay_delivers_it(opts: Options) {
    let collector = Collector::start(Mode::Status(400));
    let server = Server::start_with(with_config(opts, hook_config(&collector, "")));
    report(&server, "ATUid_dead_1", "+243810000311");
    collector.wait_for("the refused attempt", 10, |r| !r.is_empty());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let listed = loop {
        let (ok, out) = outbox(&server, &["dead", "--sink", "partners"]);
        assert!(ok, "{out}");
        if out.contains("HTTP 400") {
            break out;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no dead letter: {out}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(collector.received().len(), 1, "a 400 is not retried");
    let (ok, status) = outbox(&server, &["status"]);
    assert!(
        ok && status.contains("partners: queued 0") && status.contains("dead 1"),
        "{status}"
    );
    // The collector is fixed; the operator replays.
    collector.set_mode(Mode::Status(200));
    let id = listed.split('\t').nth(1).unwrap().to_owned();
    let (ok, out) = outbox(&server, &["replay", "no-such-id"]);
    assert!(!ok && out.contains("no dead letter"), "{out}");
    let (ok, out) = outbox(&server, &["replay", &id]);
    assert!(ok && out.contains("replayed 1"), "{out}");
    collector.wait_for("the replayed delivery", 15, |_| {
        collector.accepted().len() == 1
    });
    let (ok, out) = outbox(&server, &["replay", "--all-dead"]);
    assert!(ok && out.contains("replayed 0"), "{out}");
    assert_eq!(
        collector.accepted()[0].header("webhook-id"),
        Some(id.as_str())
    );
    let (_, status) = outbox(&server, &["status"]);
    assert!(status.contains("dead 0"), "{status}");
}

fn retries_honour_retry_after_and_keep_the_same_id(opts: Options) {
    let collector = Collector::start(Mode::RetryAfter(429, 1));
    let server = Server::start_with(with_config(opts, hook_config(&collector, "")));
    report(&server, "ATUid_429", "+243810000321");
    collector.wait_for("the first attempt", 10, |r| !r.is_empty());
    let first = std::time::Instant::now();
    collector.set_mode(Mode::Status(200));
    collector.wait_for("the retry", 10, |_| collector.accepted().len() == 1);
    // Retry-After: 1 was honoured although the backoff alone would retry within 300 ms.
    assert!(
        first.elapsed() >= std::time::Duration::from_millis(700),
        "{:?}",
        first.elapsed()
    );
    let received = collector.received();
    assert_eq!(
        distinct_ids(&received).len(),
        1,
        "the same webhook-id on every attempt"
    );
}

fn a_crash_before_the_acknowledgement_redelivers_the_same_id(opts: Options) {
    // The collector takes a while to answer: the process is killed meanwhile.
    let collector = Collector::start(Mode::Delay(200, 1500));
    let mut server = Server::start_with(with_config(opts, hook_config(&collector, "")));
    report(&server, "ATUid_crash_ack", "+243810000331");
    collector.wait_for("the delivery in flight", 10, |r| !r.is_empty());
    server.kill9();
    collector.set_mode(Mode::Status(200));
    server.restart();
    collector.wait_for("the delivery after restart", 15, |r| {
        r.len() >= 2 && r[1..].iter().any(|x| x.answered == Some(200))
    });
    let ids = distinct_ids(&collector.received());
    assert_eq!(
        ids.len(),
        1,
        "never a different id for the same survey: {ids:?}"
    );
    assert!(collector.received().len() >= 2);
}

fn a_kill_in_the_middle_of_a_batch_loses_nothing(opts: Options) {
    let collector = Collector::start(Mode::Delay(200, 150));
    let mut server = Server::start_with(with_config(
        opts,
        hook_config(&collector, "concurrency = 2"),
    ));
    let mut ends = 0;
    for i in 0..12 {
        report(
            &server,
            &format!("ATUid_batch_{i}"),
            &format!("+2438100004{i:02}"),
        );
        ends += 1;
    }
    collector.wait_for("some deliveries", 10, |r| r.len() >= 3);
    server.kill9();
    server.restart();
    for i in 12..15 {
        report(
            &server,
            &format!("ATUid_batch_{i}"),
            &format!("+2438100004{i:02}"),
        );
        ends += 1;
    }
    collector.wait_for("every response", 30, |_| {
        distinct_ids(&collector.accepted()).len() == ends
    });
    let accepted = collector.accepted();
    assert!(accepted.len() >= ends);
    assert!(accepted.iter().all(verified));
}

fn an_abandoned_survey_is_delivered_as_a_partial_response(opts: Options) {
    let collector = Collector::start(Mode::Status(200));
    let config = format!(
        "resume_window_secs = 1\npartials_sweep_secs = 1\n{}",
        hook_config(&collector, "")
    );
    let server = Server::start_with(with_config(opts, config));
    let mut phone = AtPhone::new(&server, "ATUid_partial", "*384*1#", "+243810000341");
    phone.dial();
    phone.send("1");
    phone.send("1");
    phone.send("4"); // fraud
    // Coverage fades; nobody dials again within the resume window.
    collector.wait_for("the partial response", 15, |r| !r.is_empty());
    let r = &collector.accepted()[0];
    assert!(verified(r));
    let body = r.json();
    assert_eq!(body["status"], "partial");
    assert_eq!(body["flow"], "kufatilia");
    assert_eq!(body["answers"]["consent"]["value"], "yes");
    assert_eq!(body["answers"]["incident"]["value"], "fraud");
    assert!(body["answers"].get("when").is_none());
    // The connectivity survey does not ask for partials: nothing is sent for it.
    let mut other = AtPhone::new(&server, "ATUid_no_partial", "*384*2#", "+243810000342");
    other.dial();
    other.send("1");
    other.send("1");
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(distinct_ids(&collector.received()).len(), 1);
}

fn eventually(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// How many requests arrived for each `webhook-id`.
fn per_id(received: &[Received]) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for r in received {
        *counts
            .entry(r.header("webhook-id").unwrap_or("").to_owned())
            .or_insert(0) += 1;
    }
    counts
}

fn accepted_per_id(collector: &Collector) -> std::collections::BTreeMap<String, usize> {
    per_id(&collector.accepted())
}

/// Respondents `first..first + n` of a story each complete a report.
fn reports(server: &Server, story: &str, first: usize, n: usize) {
    for i in first..first + n {
        report(
            server,
            &format!("ATUid_{story}_{i}"),
            &format!("+24381{:07}", 1_000_000 + story.len() * 10_000 + i),
        );
    }
}

fn an_outage_longer_than_the_old_give_up_time_loses_nothing(opts: Options) {
    // An old configuration: 8 attempts used to be the limit (about 2 s at these timings).
    let collector = Collector::start(Mode::Drop);
    let server = Server::start_with(with_config(
        opts,
        hook_config(&collector, "max_attempts = 8\nfailing_warn_secs = 1"),
    ));
    reports(&server, "outage", 0, 3);
    // The collector stays down until every response was tried more often than the old limit.
    collector.wait_for("more attempts than the old limit", 60, |r| {
        let attempts = per_id(r);
        attempts.len() == 3 && attempts.values().all(|&n| n > 8)
    });
    // The operator is warned, and sees what waits and who holds it.
    assert!(server.logs_eventually_contain("sink failing", 5));
    assert!(server.metric("sauti_sink_failing_seconds", &["sink=\"partners\""]) >= 1.0);
    let mut seen = Vec::new();
    let held = || {
        server.metric("sauti_outbox_in_flight", &["sink=\"partners\""])
            + server.metric("sauti_outbox_retrying", &["sink=\"partners\""])
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while held() != 3.0 {
        seen.push(held());
        assert!(
            std::time::Instant::now() < deadline,
            "the worker's gauges never counted the 3 it holds: {seen:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (ok, status) = outbox(&server, &["status"]);
    let held = "queued 3 in_flight 3 held_by_stopped_workers 0";
    assert!(ok && status.contains(held), "{status}");
    collector.set_mode(Mode::Status(200));
    collector.wait_for("every response, without a replay", 30, |_| {
        distinct_ids(&collector.accepted()).len() == 3
    });
    assert!(server.logs_eventually_contain("sink recovered", 5));
    eventually("the failing time to return to 0", 5, || {
        server.metric("sauti_sink_failing_seconds", &["sink=\"partners\""]) == 0.0
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let per_id = accepted_per_id(&collector);
    assert!(per_id.values().all(|&n| n == 1), "exactly once: {per_id:?}");
    let (ok, dead) = outbox(&server, &["dead"]);
    assert!(ok && dead.trim().is_empty(), "no dead letter: {dead}");
    assert!(
        server.logs().contains("max_attempts is no longer a limit"),
        "the old setting is reported as ignored"
    );
}

fn a_retry_after_pauses_the_whole_sink(opts: Options) {
    let collector = Collector::start(Mode::RetryAfter(429, 2));
    let server = Server::start_with(with_config(
        opts,
        hook_config(&collector, "concurrency = 4"),
    ));
    reports(&server, "pause", 0, 1);
    collector.wait_for("the first attempt", 10, |r| !r.is_empty());
    let asked_at = collector.received()[0].at;
    collector.set_mode(Mode::Status(200));
    // More surveys are completed while the collector asked for quiet.
    reports(&server, "pause", 1, 4);
    collector.wait_for("every response after the pause", 20, |_| {
        distinct_ids(&collector.accepted()).len() == 5
    });
    let tolerance = std::time::Duration::from_millis(250);
    let quiet = std::time::Duration::from_secs(2) - tolerance;
    let during_pause: Vec<_> = collector
        .received()
        .iter()
        .map(|r| r.at.duration_since(asked_at))
        .filter(|since| *since > tolerance && *since < quiet)
        .collect();
    assert!(
        during_pause.is_empty(),
        "requests during the 2 s asked for: {during_pause:?}"
    );
}

macro_rules! on_every_store {
    ($($store:ident => $opts:expr),* $(,)?) => {$(
        mod $store {
            use super::*;
            #[test]
            fn queued_while_the_collector_is_down_is_delivered_once_it_is_up() {
                super::queued_while_the_collector_is_down_is_delivered_once_it_is_up($opts)
            }
            #[test]
            fn a_refused_response_goes_to_the_dead_letters_and_replay_delivers_it() {
                super::a_refused_response_goes_to_the_dead_letters_and_replay_delivers_it($opts)
            }
            #[test]
            fn retries_honour_retry_after_and_keep_the_same_id() {
                super::retries_honour_retry_after_and_keep_the_same_id($opts)
            }
            #[test]
            fn a_crash_before_the_acknowledgement_redelivers_the_same_id() {
                super::a_crash_before_the_acknowledgement_redelivers_the_same_id($opts)
            }
            #[test]
            fn an_abandoned_survey_is_delivered_as_a_partial_response() {
                super::an_abandoned_survey_is_delivered_as_a_partial_response($opts)
            }
            #[test]
            fn a_kill_in_the_middle_of_a_batch_loses_nothing() {
                super::a_kill_in_the_middle_of_a_batch_loses_nothing($opts)
            }
            #[test]
            fn an_outage_longer_than_the_old_give_up_time_loses_nothing() {
                super::an_outage_longer_than_the_old_give_up_time_loses_nothing($opts)
            }
            #[test]
            fn a_retry_after_pauses_the_whole_sink() {
                super::a_retry_after_pauses_the_whole_sink($opts)
            }
        }
    )*};
}

on_every_store! {
    embedded => Options::default(),
    redis => common::redis::options(),
}

#[test]
fn two_processes_on_redis_one_killed_deliver_everything() {
    let collector = Collector::start(Mode::Delay(200, 100));
    let a = Server::start_with(with_config(
        common::redis::options(),
        hook_config(&collector, "concurrency = 2"),
    ));
    let mut b = a.sibling();
    let mut ends = 0;
    for i in 0..10 {
        let server = if i % 2 == 0 { &a } else { &b };
        report(
            server,
            &format!("ATUid_pair_{i}"),
            &format!("+2438100005{i:02}"),
        );
        ends += 1;
    }
    collector.wait_for("some deliveries", 10, |r| r.len() >= 2);
    b.kill9();
    // Whatever b held is reclaimed by a (after the idle time), or by b once restarted.
    b.restart();
    collector.wait_for("every response", 90, |_| {
        distinct_ids(&collector.accepted()).len() == ends
    });
}

#[test]
fn the_webhook_shortcut_sends_every_flow_signed_with_the_secret_from_the_environment() {
    let collector = Collector::start(Mode::Status(200));
    let mut opts = Options::default();
    opts.args
        .extend(["--webhook".to_owned(), collector.url("/in")]);
    opts.env
        .push(("SAUTI_WEBHOOK_SECRET".into(), SECRET.into()));
    let server = Server::start_with(opts);
    report(&server, "ATUid_shortcut", "+243810000351");
    let mut phone = AtPhone::new(&server, "ATUid_shortcut_2", "*384*2#", "+243810000352");
    phone.dial();
    phone.send("1");
    assert!(phone.send("2").starts_with("END "));
    collector.wait_for("both flows", 10, |_| collector.accepted().len() == 2);
    let flows: BTreeSet<String> = collector
        .accepted()
        .iter()
        .map(|r| r.json()["flow"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        flows.into_iter().collect::<Vec<_>>(),
        ["connectivity", "kufatilia"]
    );
    assert!(
        collector
            .accepted()
            .iter()
            .all(|r| verified(r) && r.path == "/in")
    );
    // The default file sink still records everything.
    assert_eq!(server.responses().len(), 2);
}

#[test]
fn sauti_xform_exports_the_flow_for_odk() {
    let out = Command::new(env!("CARGO_BIN_EXE_sauti"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["xform", "kufatilia"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(
        xml.contains(r#"<data id="kufatilia" version="2""#),
        "{}",
        &xml[..xml.len().min(400)]
    );
    for field in ["consent", "incident", "incident_other", "people", "contact"] {
        assert!(
            xml.contains(&format!("nodeset=\"/data/{field}\"")),
            "{field}"
        );
    }
    assert!(xml.contains(r#"lang="Swahili (sw)""#) && xml.contains(r#"lang="Lingala (ln)""#));
}

/// `sauti serve` with `sauti_toml` as its configuration: it must refuse to start; its stderr.
fn refused(sauti_toml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sauti.toml");
    std::fs::write(&config, sauti_toml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sauti"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("SAUTI_PSEUDONYM_KEY", "test-key-0123456789abcdef")
        .output()
        .unwrap();
    assert!(!out.status.success(), "started with {sauti_toml}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_misspelt_sink_field_is_refused_with_its_line() {
    let stderr = refused(
        "[sinks.partners]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\nsecret = \"whsec_c2F1dGktdGVzdC13ZWJob29rLXNlY3JldC0zMmJ5dGU=\"\nmax_attemps = 3\n",
    );
    assert!(
        stderr.contains("sauti.toml:5: sink `partners`: unknown field `max_attemps`"),
        "{stderr}"
    );
}

#[test]
fn intervals_that_would_overflow_the_clock_are_refused_with_their_line() {
    for (toml, expected) in [
        (
            "[sinks.archive]\nkind = \"file\"\npath = \"a.jsonl\"\nlinger_ms = 86400000\n",
            "sauti.toml:4:1: sink `archive`: linger_ms must be at most 60000",
        ),
        (
            "log = \"info\"\nactivity_log_secs = 9223372036854775807\n",
            "sauti.toml:2:1: activity_log_secs must be at most 86400",
        ),
    ] {
        let stderr = refused(toml);
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn sauti_deliver_delivers_what_serve_queued() {
    let collector = Collector::start(Mode::Drop);
    let mut server =
        Server::start_with(with_config(Options::default(), hook_config(&collector, "")));
    report(&server, "ATUid_deliver", "+243810000361");
    collector.wait_for("an attempt", 10, |r| !r.is_empty());
    assert!(server.terminate());
    // The collector is back; only the delivery workers run now.
    collector.set_mode(Mode::Status(200));
    let mut deliver = std::process::Command::new(env!("CARGO_BIN_EXE_sauti"))
        .current_dir(server.dir.path())
        .arg("deliver")
        .arg("--config")
        .arg(server.dir.path().join("sauti.toml"))
        .arg("--data-dir")
        .arg(&server.data_dir)
        .env("SAUTI_PSEUDONYM_KEY", "test-key-0123456789abcdef")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    collector.wait_for("the delivery by `sauti deliver`", 15, |_| {
        collector.accepted().len() == 1
    });
    let _ = deliver.kill();
    let _ = deliver.wait();
    assert!(verified(&collector.accepted()[0]));
}

#[test]
fn the_rate_limit_spaces_deliveries_out() {
    let collector = Collector::start(Mode::Drop);
    let server = Server::start_with(with_config(
        Options::default(),
        hook_config(&collector, "rate_per_sec = 4"),
    ));
    for i in 0..6 {
        report(
            &server,
            &format!("ATUid_rate_{i}"),
            &format!("+2438100006{i:02}"),
        );
    }
    collector.set_mode(Mode::Status(200));
    collector.wait_for("six deliveries", 20, |_| {
        distinct_ids(&collector.accepted()).len() == 6
    });
    // At 4 starts per second, the accepted deliveries cannot all fall within one second.
    let times: Vec<std::time::Instant> = collector.accepted_times();
    let span = *times.iter().max().unwrap() - *times.iter().min().unwrap();
    assert!(span >= std::time::Duration::from_millis(1000), "{span:?}");
}

/// Puts `n` responses in a sink's stream, as a process named `consumer` that took them for
/// delivery and then died: they stay pending in the group, held by nobody alive.
fn leave_pending_for_a_dead_process(
    server: &Server,
    template: &Received,
    n: usize,
    consumer: &str,
) {
    let port: u16 = common::redis::shared_url()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let prefix = server.redis_args()[3].clone();
    let stream = format!("{prefix}:{{outbox:partners}}");
    let body = String::from_utf8(template.body.clone()).unwrap();
    let id = template.header("webhook-id").unwrap();
    let (before, after) = body.split_once(id).unwrap();
    let script = r"
for i = 1, tonumber(ARGV[3]) do
  local id = ARGV[4] .. string.format('%06d', i)
  redis.call('XADD', KEYS[1], '*', 'id', id, 'body', ARGV[1] .. id .. ARGV[2])
end
local r = redis.call('XREADGROUP', 'GROUP', 'sauti', ARGV[5], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
return #r[1][2]
";
    let n_text = n.to_string();
    let reply = common::redis::command_args(
        port,
        &[
            b"EVAL",
            script.as_bytes(),
            b"1",
            stream.as_bytes(),
            before.as_bytes(),
            after.as_bytes(),
            n_text.as_bytes(),
            b"0199aaaa-0000-7000-8000-",
            consumer.as_bytes(),
        ],
    )
    .unwrap();
    assert_eq!(reply.trim(), format!(":{n}"), "{reply}");
}

#[test]
fn a_stopped_process_thousands_of_pending_responses_are_taken_over_within_a_minute() {
    const PENDING: usize = 3000;
    let collector = Collector::start(Mode::Status(200));
    let config = format!(
        "reclaim_idle_secs = 5\n{}",
        hook_config(&collector, "concurrency = 16")
    );
    let survivor = Server::start_with(with_config(common::redis::options(), config.clone()));
    report(&survivor, "ATUid_takeover", "+243810000900");
    collector.wait_for("a first delivery", 10, |_| collector.accepted().len() == 1);
    let template = collector.accepted()[0].clone();
    // Another process took 3,000 responses for delivery, and was killed.
    let left_at = std::time::Instant::now();
    leave_pending_for_a_dead_process(&survivor, &template, PENDING, "stopped-host-0badf00d");
    // An operator looks (with a shorter reclaim time than the survivor's, so that the
    // dead process shows as stopped before the survivor takes its responses over).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let status_config = survivor.dir.path().join("status.toml");
    std::fs::write(
        &status_config,
        config.replace("reclaim_idle_secs = 5", "reclaim_idle_secs = 1"),
    )
    .unwrap();
    let (ok, status) = outbox_with(&survivor, &status_config, &["status"]);
    assert!(
        ok && status.contains(&format!("held_by_stopped_workers {PENDING}"))
            && status.contains(&format!(
                "stopped worker stopped-host-0badf00d: {PENDING} pending"
            )),
        "{status}"
    );
    collector.wait_for("every response of the dead process", 120, |_| {
        distinct_ids(&collector.accepted()).len() == PENDING + 1
    });
    let took = left_at.elapsed();
    let times: Vec<std::time::Instant> = collector.accepted_times()[1..].to_vec();
    let first = *times.iter().min().unwrap();
    let last = *times.iter().max().unwrap();
    let rate = PENDING as f64 / (last - first).as_secs_f64().max(0.001);
    eprintln!(
        "takeover: {PENDING} entries delivered {:.1} s after the process died ({:.1} s after the reclaim idle time), first to last {:.2} s: {rate:.0} entries/s",
        took.as_secs_f64(),
        took.as_secs_f64() - 5.0,
        (last - first).as_secs_f64()
    );
    assert!(took < std::time::Duration::from_secs(60), "{took:?}");
    let per_id = accepted_per_id(&collector);
    assert!(per_id.values().all(|&n| n == 1), "each delivered once");
    // The last acknowledgements follow the last answers by a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (ok, status) = outbox(&survivor, &["status"]);
        assert!(ok, "{status}");
        if status.contains("queued 0 in_flight 0 held_by_stopped_workers 0") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn after_a_restart_no_response_is_posted_twice_at_once() {
    let collector = Collector::start(Mode::Delay(200, 400));
    let mut server = Server::start_with(with_config(
        common::redis::options(),
        hook_config(&collector, "concurrency = 8"),
    ));
    let surveys = 30;
    reports(&server, "restart", 0, surveys);
    collector.wait_for("deliveries in flight", 10, |r| r.len() >= 8);
    server.kill9();
    // What the killed process had sent is answered before the new one starts.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while collector.answering() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.restart();
    collector.wait_for("every response", 60, |_| {
        distinct_ids(&collector.accepted()).len() == surveys
    });
    assert_eq!(
        collector.concurrent_duplicates(),
        Vec::<String>::new(),
        "an id sent again while its first delivery was still in flight"
    );
}

/// Secrets of every kind a sink can carry, each one distinct so that a leak names its source.
const KEY_TOKEN: &str = "Ktok3nOfTheAppUser8421";
const URL_PASSWORD: &str = "UrlPassw0rd7713";
const QUERY_TOKEN: &str = "QueryT0ken5527";
const WEBHOOK_PASSWORD: &str = "HookPassw0rd9902";
const WEBHOOK_QUERY_TOKEN: &str = "HookQueryT0ken3318";

fn no_secret_reaches_logs_dead_letters_status_or_metrics(opts: Options) {
    let odk = Collector::start(Mode::Drop);
    let refused_port = common::redis::free_port();
    let config = format!(
        r#"
[sinks.odk]
kind = "openrosa"
url = "http://enumerator:{URL_PASSWORD}@{}/v1/key/{KEY_TOKEN}/projects/1/submission?access_token={QUERY_TOKEN}"
backoff_ms = 50
backoff_max_ms = 200
timeout_ms = 2000

[sinks.partners]
kind = "webhook"
url = "http://hooks:{WEBHOOK_PASSWORD}@127.0.0.1:{refused_port}/hooks/sauti?token={WEBHOOK_QUERY_TOKEN}"
secret = "{SECRET}"
backoff_ms = 50
backoff_max_ms = 200
max_age_secs = 2
"#,
        odk.addr
    );
    let server = Server::start_with(with_config(opts, config));
    report(&server, "ATUid_secrets", "+243810001100");
    // The collector hangs up, fails, then refuses; the other one is not even listening.
    odk.wait_for("attempts it hung up on", 10, |r| r.len() >= 2);
    odk.set_mode(Mode::Status(500));
    odk.wait_for("failed attempts", 10, |r| r.len() >= 4);
    odk.set_mode(Mode::Status(400));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let dead = loop {
        let (ok, out) = outbox(&server, &["dead"]);
        assert!(ok, "{out}");
        if out.contains("HTTP 400") && out.contains(&format!("127.0.0.1:{refused_port}")) {
            break out;
        }
        assert!(std::time::Instant::now() < deadline, "dead letters: {out}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    // The connection errors name the URLs, masked.
    assert!(dead.contains("/hooks/sauti?token=***"), "{dead}");
    assert!(
        server.logs_eventually_contain("/v1/key/***/projects/1/submission?access_token=***", 5),
        "{}",
        server.logs()
    );
    let (_, status) = outbox(&server, &["status"]);
    let mut seen = vec![
        ("the logs", server.logs()),
        ("`sauti outbox dead`", dead),
        ("`sauti outbox status`", status),
        ("/metrics", server.get("/metrics").body),
    ];
    let mut files = vec![server.data_dir.clone()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            // A probe or temporary file may go between the listing and the reading.
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes).into_owned();
            seen.push(("a data file", format!("{}: {text}", path.display())));
        }
    }
    let secret_key = SECRET.strip_prefix("whsec_").unwrap();
    for (what, text) in &seen {
        for secret in [
            KEY_TOKEN,
            URL_PASSWORD,
            QUERY_TOKEN,
            WEBHOOK_PASSWORD,
            WEBHOOK_QUERY_TOKEN,
            secret_key,
        ] {
            assert!(!text.contains(secret), "{secret} in {what}:\n{text}");
        }
    }
}

#[test]
fn no_secret_reaches_logs_dead_letters_status_or_metrics_embedded() {
    no_secret_reaches_logs_dead_letters_status_or_metrics(Options::default())
}

#[test]
fn no_secret_reaches_logs_dead_letters_status_or_metrics_on_redis() {
    no_secret_reaches_logs_dead_letters_status_or_metrics(common::redis::options())
}
