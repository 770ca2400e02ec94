//! Respondents who walk away mid-survey still count: every abandoned survey reaches the
//! collectors once as a partial response, even when queueing fails half-way through a sweep,
//! when Sauti is stopped in the middle of one, and on a Cluster with surveys on every master.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::redis::{RedisCluster, RedisServer, options_on, unique_prefix};
use common::server::{AtPhone, Options, Server};

const SWEEP_FAST: &str = "resume_window_secs = 1\npartials_sweep_secs = 1\n";

/// `n` respondents each answer two questions of the incident report, then lose coverage.
fn abandon(server: &Server, first: usize, n: usize) {
    for i in first..first + n {
        let mut phone = AtPhone::new(
            server,
            &format!("ATUid_left_{i}"),
            "*384*1#",
            &format!("+24381{i:07}"),
        );
        phone.dial();
        phone.send("1");
        phone.send("1");
    }
}

/// Partial responses in `responses.jsonl` (the file sink), by id: how often each arrived.
fn partials(server: &Server) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for r in server.responses() {
        assert_eq!(r["status"], "partial", "{r}");
        // As left: the gateway of the last answer, and its time (not the sweep's, seconds on).
        assert_eq!(r["gateway"], "africastalking", "{r}");
        let at = |k: &str| {
            time::OffsetDateTime::parse(
                r[k].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        };
        assert!(
            at("completed_at") - at("started_at") < time::Duration::seconds(1),
            "{r}"
        );
        *seen
            .entry(r["id"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    seen
}

fn wait_for_partials(server: &Server, n: usize, secs: u64) -> BTreeMap<String, usize> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let seen = partials(server);
        if seen.len() >= n || Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Resume records (`<prefix>:{…}:r:<flow>`) on one Redis node.
fn resume_records(port: u16, prefix: &str) -> usize {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--raw", "KEYS"])
        .arg(format!("{prefix}:{{*}}:r:*"))
        .output()
        .expect("redis-cli (scripts/test installs it)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .count()
}

fn on(url: &str, prefix: &str) -> Options {
    Options {
        config: Some(SWEEP_FAST.into()),
        ..options_on(url, prefix)
    }
}

#[test]
fn a_sweep_that_cannot_queue_drops_nothing_and_delivers_everything_once_queueing_works() {
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let server = Server::start_with(on(&redis.url(), &prefix));
    // The file sink's stream is unusable (a key of the wrong type): every enqueue fails.
    let stream = format!("{prefix}:{{outbox:file}}");
    assert!(common::redis::command(redis.port, &format!("SET {stream} broken")).is_some());
    abandon(&server, 500_100, 5);
    assert!(
        server.logs_eventually_contain("partial responses not swept this time", 10),
        "{}",
        server.logs()
    );
    assert_eq!(
        resume_records(redis.port, &prefix),
        5,
        "a failed sweep took surveys out of the store"
    );
    assert!(partials(&server).is_empty());
    // Queueing works again: the next sweeps deliver every one of them, once.
    assert!(common::redis::command(redis.port, &format!("DEL {stream}")).is_some());
    let seen = wait_for_partials(&server, 5, 15);
    assert_eq!(seen.len(), 5, "{seen:?}\n{}", server.logs());
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(partials(&server), seen, "delivered again by a later sweep");
    assert_eq!(resume_records(redis.port, &prefix), 0);
}

#[test]
fn stopping_sauti_in_the_middle_of_a_sweep_loses_no_partial_and_doubles_none() {
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    // Left unfinished while no sweep runs (one every minute), then swept by a process that
    // is stopped as soon as it starts queueing them.
    let mut server = Server::start_with(Options {
        config: Some("resume_window_secs = 1\npartials_sweep_secs = 60\n".into()),
        ..options_on(&redis.url(), &prefix)
    });
    let n = 200;
    abandon(&server, 500_200, n);
    assert!(server.terminate(), "{}", server.logs());
    std::thread::sleep(Duration::from_secs(2));

    let mut sweeping = Server::start_with(on(&redis.url(), &prefix));
    assert!(
        sweeping.logs_eventually_contain("queued as a partial response", 15),
        "{}",
        sweeping.logs()
    );
    assert!(sweeping.terminate(), "{}", sweeping.logs());
    // The sweep finished its batch before the process exited: no survey is left in the store,
    // whether or not its partial already reached the file.
    assert_eq!(
        resume_records(redis.port, &prefix),
        0,
        "{}",
        sweeping.logs()
    );
    let before = partials(&sweeping).len();
    // The next start delivers the rest.
    sweeping.restart();
    let seen = wait_for_partials(&sweeping, n, 30);
    assert_eq!(seen.len(), n, "{} before the stop", before);
    assert!(seen.values().all(|&c| c == 1), "{seen:?}");
    assert_eq!(resume_records(redis.port, &prefix), 0);
}

#[test]
fn a_cluster_delivers_the_partials_kept_on_every_master() {
    let cluster = RedisCluster::start();
    let prefix = unique_prefix();
    let server = Server::start_with(on(&cluster.url(), &prefix));
    let n = 30;
    abandon(&server, 500_500, n);
    let on_each: Vec<usize> = cluster
        .nodes
        .iter()
        .map(|node| resume_records(node.port, &prefix))
        .collect();
    assert!(
        on_each.iter().all(|&k| k > 0),
        "the surveys should be spread over every master: {on_each:?}"
    );
    let seen = wait_for_partials(&server, n, 20);
    assert_eq!(seen.len(), n, "{seen:?}\n{}", server.logs());
    assert!(seen.values().all(|&c| c == 1), "{seen:?}");
    let left: usize = cluster
        .nodes
        .iter()
        .map(|node| resume_records(node.port, &prefix))
        .sum();
    assert_eq!(left, 0);
}
