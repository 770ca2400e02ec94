//! What only Redis sessions give: several `sauti serve` processes sharing conversations,
//! compact records, a polite answer while Redis is down and recovery when it returns, and
//! Redis Cluster. Every Redis here is a real `redis-server`, started by the test.

mod common;

use std::time::{Duration, Instant};

use common::redis::{
    RedisCluster, RedisServer, command, have_redis_cli, options, options_on, unique_prefix,
};
use common::server::{AtPhone, Server};

fn total_responses(servers: &[&Server]) -> Vec<serde_json::Value> {
    servers.iter().flat_map(|s| s.responses()).collect()
}

#[test]
fn two_processes_share_every_conversation_hop_by_hop() {
    let a = Server::start_with(options());
    let b = a.sibling();
    assert!(a.logs().contains("sessions: redis"), "{}", a.logs());
    let mut phone = AtPhone::new(&a, "ATUid_two", "*384*1#", "+243810000101");
    phone.dial();
    // Each hop goes to the other process, as a load balancer may send them.
    let inputs = ["1", "1", "2", "1", "1", "Kalehe", "Nyabibwe", "5", "1"];
    for (i, input) in inputs.iter().enumerate() {
        phone.server = if i % 2 == 0 { &b } else { &a };
        let screen = phone.send(input);
        assert!(
            screen.starts_with("CON ") || i == inputs.len() - 1,
            "hop {i}: {screen}"
        );
    }
    let responses = total_responses(&[&a, &b]);
    assert_eq!(responses.len(), 1, "{responses:?}");
    assert_eq!(responses[0]["answers"]["site"]["value"], "Nyabibwe");
    assert_eq!(responses[0]["answers"]["people"]["value"], 5);
}

#[test]
fn the_same_hop_sent_to_both_processes_at_once_advances_once() {
    let a = Server::start_with(options());
    let b = a.sibling();
    for round in 0..5 {
        let session = format!("ATUid_race_{round}");
        // A new respondent each round (the same one would be offered to resume).
        let number = format!("+24381000011{round}");
        let mut phone = AtPhone::new(&a, &session, "*384*1#", &number);
        phone.dial();
        phone.send("1");
        phone.send("1");
        // The same "violence" hop, five copies to each process, all at once.
        phone.text = Some("1*1*2".into());
        let replies: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..10)
                .map(|i| {
                    let mut p = AtPhone::new(
                        if i % 2 == 0 { &a } else { &b },
                        &session,
                        "*384*1#",
                        &number,
                    );
                    p.text = Some("1*1*2".into());
                    s.spawn(move || p.resend())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(replies.iter().all(|r| r == &replies[0]), "{replies:?}");
        assert!(replies[0].starts_with("CON Quand cela"), "{}", replies[0]);
        // One advance: "when" is the next question, and answering it moves on once.
        phone.server = &b;
        assert!(phone.send("1").starts_with("CON Dans quelle province?"));
    }
    // And the completing hop, raced: one response.
    let mut phone = AtPhone::new(&a, "ATUid_race_end", "*384*1#", "+243810000103");
    phone.dial();
    phone.send("1");
    phone.text = Some("1*2".into());
    let replies: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let mut p = AtPhone::new(
                    if i % 2 == 0 { &a } else { &b },
                    "ATUid_race_end",
                    "*384*1#",
                    "+243810000103",
                );
                p.text = Some("1*2".into());
                s.spawn(move || p.resend())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(replies.iter().all(|r| r.starts_with("END ")), "{replies:?}");
    // At least once, de-duplicable by id: every copy carries the same response id.
    let responses = total_responses(&[&a, &b]);
    let ids: std::collections::BTreeSet<&str> = responses
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{responses:?}");
}

#[test]
fn a_session_ten_answers_in_takes_under_300_bytes_in_redis() {
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let server = Server::start_with(options_on(&redis.url(), &prefix));
    let mut phone = AtPhone::new(&server, "ATUid_size", "*384*1#", "+243810000104");
    phone.dial();
    for input in [
        "1",
        "1",
        "9",
        "Des hommes armés ont pris le puits",
        "5",
        "14032026",
        "1",
        "Mwenga",
        "Kamituga centre",
    ] {
        assert!(phone.send(input).starts_with("CON "));
    }
    let keys = command(redis.port, &format!("KEYS {prefix}:*")).unwrap();
    let session_key = keys
        .lines()
        .find(|l| l.contains(":s:africastalking:ATUid_size"))
        .unwrap_or_else(|| panic!("no session key in {keys}"))
        .to_owned();
    assert!(
        session_key.starts_with(&format!("{prefix}:{{")),
        "hash-tagged: {session_key}"
    );
    let len = command(redis.port, &format!("STRLEN {session_key}")).unwrap();
    // The value is `<version>:<record>`.
    let bytes: usize = len.trim().trim_start_matches(':').parse::<usize>().unwrap() - "10:".len();
    assert!(bytes <= 300, "{bytes} bytes");
    let ttl = command(redis.port, &format!("PTTL {session_key}")).unwrap();
    let ttl: i64 = ttl.trim().trim_start_matches(':').parse().unwrap();
    assert!(ttl > 170_000 && ttl <= 180_000, "ttl {ttl}");
    // The resume record lives in the same hash slot, for 48 hours.
    assert!(keys.contains(":r:kufatilia"), "{keys}");
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn while_redis_is_down_respondents_are_told_to_try_later_and_service_resumes_by_itself() {
    let mut redis = RedisServer::start();
    let server = Server::start_with(options_on(&redis.url(), &unique_prefix()));
    let mut phone = AtPhone::new(&server, "ATUid_down", "*384*1#", "+243810000105");
    phone.dial();
    phone.send("1");
    assert_eq!(server.get("/readyz").status, 200);

    redis.stop();
    let started = Instant::now();
    let screen = phone.send("1");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "hop took {:?}",
        started.elapsed()
    );
    assert!(
        screen.starts_with("END Service indisponible. Réessayez plus tard.\n"),
        "{screen}"
    );
    assert!(screen.contains("Huduma haipatikani sasa."), "{screen}");
    let ready = server.get("/readyz");
    assert_eq!(ready.status, 503, "{ready:?}");
    assert!(ready.body.contains("session store"), "{ready:?}");

    redis.restart();
    // The very first hop after Redis is back is served (the lost connection is replaced and
    // the command sent again), without restarting Sauti.
    let mut fresh = AtPhone::new(&server, "ATUid_after_down", "*384*1#", "+243810000106");
    let first = fresh.dial();
    assert!(first.starts_with("CON Langue"), "{first}");
    assert_eq!(server.get("/readyz").status, 200);
    fresh.send("1");
    assert!(fresh.send("2").starts_with("END "));
    // The delivery worker recovers by itself too.
    wait_for("the response delivered to the file", || {
        server.responses().len() == 1
    });
}

#[test]
fn sessions_work_on_a_three_master_redis_cluster() {
    if !have_redis_cli() {
        eprintln!(
            "SKIPPED: redis-cli is not installed (apt-get install redis-tools); .ci/run installs it"
        );
        return;
    }
    let cluster = RedisCluster::start();
    let a = Server::start_with(options_on(&cluster.url(), &unique_prefix()));
    let b = a.sibling();
    // Many respondents, so that sessions land on every master.
    for n in 0..12 {
        let session = format!("ATUid_cluster_{n}");
        let number = format!("+2438100002{n:02}");
        let mut phone = AtPhone::new(&a, &session, "*384*2#", &number);
        phone.dial();
        for (i, input) in ["1", "1", "2", "2", "2", "3", "1"].iter().enumerate() {
            phone.server = if i % 2 == 0 { &b } else { &a };
            phone.send(input);
        }
        phone.send("1");
        assert!(phone.send("1").starts_with("END "), "{n}");
    }
    assert_eq!(total_responses(&[&a, &b]).len(), 12);
    let keys_per_node: Vec<usize> = cluster
        .nodes
        .iter()
        .map(|n| {
            command(n.port, "DBSIZE")
                .unwrap()
                .trim()
                .trim_start_matches(':')
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        keys_per_node.iter().filter(|&&k| k > 0).count() >= 2,
        "{keys_per_node:?}"
    );
    assert_eq!(a.get("/readyz").status, 200);
}

/// Calls of each Redis command since the last `CONFIG RESETSTAT`.
fn command_calls(port: u16) -> std::collections::BTreeMap<String, u64> {
    let info = command(port, "INFO commandstats").unwrap();
    info.lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let calls = rest
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

#[test]
fn a_hop_in_the_middle_of_a_survey_is_one_redis_round_trip() {
    let redis = RedisServer::start();
    let server = Server::start_with(options_on(&redis.url(), &unique_prefix()));
    let mut phone = AtPhone::new(&server, "ATUid_rtt", "*384*1#", "+243810000107");
    phone.dial();
    phone.send("1");
    command(redis.port, "CONFIG RESETSTAT").unwrap();
    // Five answers and one wrong key (re-asked: the resume record is not rewritten).
    for input in ["1", "2", "99", "1", "1", "Kabare"] {
        assert!(phone.send(input).starts_with("CON "));
    }
    let mut calls = command_calls(redis.port);
    // The outbox workers poll their streams meanwhile: those are not the hops' commands.
    calls.retain(|name, _| {
        !name.starts_with("xreadgroup")
            && !name.starts_with("xautoclaim")
            && !name.starts_with("xgroup")
    });
    // Command stats also count the commands a script runs: each save script runs one GET and
    // one SET of the session and (an answer to an unfinished survey) the SET of the resume
    // record. A hop that holds its survey reads no owner key (a takeover marks the session it
    // takes over from instead). Nothing else reached Redis: no read before the save, no
    // second round trip.
    let expected: std::collections::BTreeMap<String, u64> = [
        ("config|resetstat", 1),
        ("evalsha", 6),
        ("get", 6),
        ("set", 11),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(calls, expected);
}

#[test]
fn with_redis_a_shared_pseudonym_key_is_required_even_in_the_dev_profile() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sauti"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--redis",
            &common::redis::shared_url(),
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("SAUTI_PSEUDONYM_KEY")
        .env_remove("SAUTI_PROFILE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SAUTI_PSEUDONYM_KEY") && stderr.contains("same"),
        "{stderr}"
    );
}

/// With Redis the streams are the outbox: the banner says so and names each sink and where it
/// delivers (never a token), and no `responses.jsonl` is made that nobody writes.
#[test]
fn the_banner_names_the_outbox_and_sinks_really_in_use() {
    let mut opts = options();
    opts.config = Some(
        "[sinks.odk]\nkind = \"openrosa\"\nurl = \"http://127.0.0.1:9/v1/key/s3cretAppUserToken/projects/1/submission\"\n"
            .into(),
    );
    let server = Server::start_with(opts);
    assert!(
        server.logs_eventually_contain("outbox: Redis streams", 5),
        "{}",
        server.logs()
    );
    let logs = server.logs();
    assert!(
        logs.contains("sink odk: OpenRosa submissions to http://127.0.0.1:9"),
        "{logs}"
    );
    assert!(!logs.contains("s3cretAppUserToken"), "{logs}");
    assert!(!logs.contains("responses.jsonl"), "{logs}");
    let mut phone = AtPhone::new(&server, "ATUid_banner", "*384*1#", "+243810000391");
    phone.dial();
    phone.send("1");
    assert!(phone.send("2").starts_with("END"));
    assert!(
        !server.data_dir.join("responses.jsonl").exists(),
        "an empty responses.jsonl was made"
    );
}

#[test]
fn a_burst_of_completions_is_delivered_in_a_few_reads_of_the_outbox() {
    let redis = RedisServer::start();
    let server = Server::start_with(options_on(&redis.url(), &unique_prefix()));
    command(redis.port, "CONFIG RESETSTAT").unwrap();
    let started = Instant::now();
    // Eight respondents at once, ten short reports each (consent declined: three hops).
    std::thread::scope(|s| {
        for t in 0..8 {
            let server = &server;
            s.spawn(move || {
                for i in 0..10 {
                    let number = format!("+2438100020{t}{i}");
                    let mut phone =
                        AtPhone::new(server, &format!("ATUid_burst_{t}_{i}"), "*384*1#", &number);
                    phone.dial();
                    phone.send("1");
                    assert!(phone.send("2").starts_with("END "));
                }
            });
        }
    });
    let burst = started.elapsed();
    assert_eq!(server.responses().len(), 80, "every survey delivered once");
    let reads: u64 = command_calls(redis.port)
        .iter()
        .filter(|(name, _)| name.starts_with("xreadgroup"))
        .map(|(_, calls)| calls)
        .sum();
    // The file sink lingers 100 ms after a read that emptied the stream: a read per tenth of
    // a second of the burst, plus the blocking reads that waited for it and the one after it
    // (reading as each response arrives made one read per completion or two).
    let most = burst.as_millis() as u64 / 100 + 6;
    assert!(
        reads <= most,
        "{reads} reads of the outbox for 80 completions in {burst:?} (at most {most})"
    );
}
