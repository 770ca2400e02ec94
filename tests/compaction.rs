//! A server left running for a whole fieldwork season in embedded mode: `responses.jsonl` and
//! the acknowledgement files keep only what is still to deliver, and `kill -9` in the middle
//! of a compaction loses no survey.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::collector::{Collector, Mode};
use common::server::{AtPhone, Options, Server};

fn config(collector: &Collector) -> String {
    format!(
        r#"journal_compact_bytes = 2000

[sinks.partners]
kind = "webhook"
url = "{}"
secret = "whsec_c2F1dGktdGVzdC13ZWJob29rLXNlY3JldC0zMmJ5dGU="
backoff_ms = 50
backoff_max_ms = 200
# Each response acknowledged as soon as it is delivered: with a linger, more responses are
# pending when a compaction runs, and its threshold (twice what it kept) rises with them.
linger_ms = 0
"#,
        collector.url("/hooks/sauti")
    )
}

/// A short report (consent declined): returns its END screen.
fn report(server: &Server, n: usize) -> String {
    let mut phone = AtPhone::new(
        server,
        &format!("ATUid_season_{n}"),
        "*384*1#",
        &format!("+24381{n:07}"),
    );
    phone.dial();
    phone.send("1");
    phone.send("2")
}

fn delivered(collector: &Collector) -> BTreeSet<String> {
    collector
        .accepted()
        .iter()
        .filter_map(|r| r.header("webhook-id").map(str::to_owned))
        .collect()
}

fn wait_delivered(collector: &Collector, n: usize, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while delivered(collector).len() < n {
        assert!(
            Instant::now() < deadline,
            "{} of {n} delivered",
            delivered(collector).len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

#[test]
fn delivered_responses_leave_the_journal_and_the_acknowledgements() {
    let collector = Collector::start(Mode::Status(200));
    let server = Server::start_with(Options {
        config: Some(config(&collector)),
        ..Options::default()
    });
    let n = 40;
    for i in 0..n {
        assert!(report(&server, 700_000 + i).starts_with("END"));
    }
    wait_delivered(&collector, n, 30);
    assert!(
        server.logs_eventually_contain("journal compacted", 10),
        "{}",
        server.logs()
    );
    // Let the last acknowledgements land and one more compaction run.
    std::thread::sleep(Duration::from_millis(500));
    let journal = server.data_dir.join("responses.jsonl");
    let size = std::fs::metadata(&journal).unwrap().len();
    assert!(size < 2 * 2000, "responses.jsonl still holds {size} bytes");
    let acks = lines(&server.data_dir.join("outbox/partners.acks"));
    assert!(
        acks < n,
        "{acks} acknowledgements for {n} responses, most gone"
    );
    // Each survey went out once.
    assert_eq!(collector.accepted().len(), n);
}

#[test]
fn kill_9_in_the_middle_of_compactions_loses_no_survey() {
    let collector = Collector::start(Mode::Status(200));
    let mut opts = Options {
        config: Some(config(&collector)),
        ..Options::default()
    };
    // Each compaction waits 200 ms between its new file and the rename (a failpoint), so that
    // kills land there, not only by chance.
    opts.env
        .push(("SAUTI_FAILPOINT_COMPACTION_PAUSE_MS".into(), "200".into()));
    let mut server = Server::start_with(opts);
    let mut ended = 0;
    let mut mid_compaction = 0;
    let mut n = 710_000;
    for round in 0..60 {
        // Surveys keep arriving while responses are delivered and compactions run.
        for _ in 0..8 {
            assert!(report(&server, n).starts_with("END"));
            n += 1;
            ended += 1;
        }
        std::thread::sleep(Duration::from_millis(100 + (round * 37) % 200));
        server.kill9();
        // A compaction cut off half-way leaves its new file beside the old one.
        let leftovers = std::fs::read_dir(&server.data_dir)
            .unwrap()
            .chain(std::fs::read_dir(server.data_dir.join("outbox")).unwrap())
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        mid_compaction += usize::from(leftovers > 0);
        server.restart();
        if mid_compaction >= 2 && round >= 10 {
            break;
        }
    }
    assert!(
        mid_compaction > 0,
        "no kill landed in a compaction: the test proved nothing"
    );
    // Every survey whose respondent saw the end reaches the collector, whatever was cut.
    wait_delivered(&collector, ended, 60);
    let journal = std::fs::read_to_string(server.data_dir.join("responses.jsonl")).unwrap();
    for line in journal.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    eprintln!("{ended} surveys, {mid_compaction} kills in the middle of a compaction");
}
