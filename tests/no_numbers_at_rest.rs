//! After real conversations, in embedded mode and in Redis mode, no raw phone number is to be
//! found anywhere Sauti writes: Redis, the data directory, its logs, the webhook payloads; and
//! the data directory is readable by Sauti's user only.

mod common;

use std::path::Path;
use std::process::Command;

use common::collector::{Collector, Mode};
use common::redis::{RedisServer, options_on};
use common::server::{AtPhone, Options, Server};

/// The numbers the respondents call from, in the forms gateways send them.
const NUMBERS: [&str; 3] = ["+243810000931", "243810000932", "00243 810 000 933"];
/// What must never appear: each number's national digits.
const NEEDLES: [&str; 3] = ["810000931", "810000932", "810000933"];

fn conversations(server: &Server) {
    for (i, number) in NUMBERS.iter().enumerate() {
        let mut phone = AtPhone::new(server, &format!("ATUid_rest{i}"), "*384*1#", number);
        phone.dial();
        for input in ["1", "1", "2", "1", "1", "Mwenga", "000", "3", "2"] {
            phone.send(input);
        }
    }
    // One left unfinished: a resume record stays.
    let mut phone = AtPhone::new(server, "ATUid_rest_open", "*384*1#", "+243810000934");
    phone.dial();
    phone.send("1");
    phone.send("1");
}

fn webhook(collector: &Collector) -> String {
    format!(
        "[sinks.partners]\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"whsec_c2F1dGktdGVzdC13ZWJob29rLXNlY3JldC0zMmJ5dGU=\"\n\n[sinks.file]\nkind = \"file\"\npath = \"data/copy.jsonl\"\n",
        collector.url("/hooks")
    )
}

fn assert_clean(what: &str, text: &str) {
    for needle in NEEDLES.iter().chain(["810000934"].iter()) {
        assert!(
            !text.contains(needle),
            "{what} holds the number {needle}:\n{text}"
        );
    }
}

/// Every file under `dir`: none holds a number; files are 0600, directories 0700.
fn scan_dir(dir: &Path) -> usize {
    use std::os::unix::fs::PermissionsExt;
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        if path.is_dir() {
            assert_eq!(mode, 0o700, "{}", path.display());
            files += scan_dir(&path);
        } else {
            assert_eq!(mode, 0o600, "{}", path.display());
            let bytes = std::fs::read(&path).unwrap();
            assert_clean(
                &path.display().to_string(),
                &String::from_utf8_lossy(&bytes),
            );
            files += 1;
        }
    }
    files
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .arg("--raw")
        .args(args)
        .output()
        .expect("redis-cli (scripts/test installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn embedded_mode_keeps_no_number_and_private_files() {
    let collector = Collector::start(Mode::Status(200));
    let server = Server::start_with(Options {
        config: Some(webhook(&collector)),
        ..Options::default()
    });
    conversations(&server);
    collector.wait_for("three deliveries", 10, |r| r.len() >= 3);
    assert!(server.logs_eventually_contain("survey completed", 5));
    assert_clean("the logs", &server.logs());
    for r in collector.received() {
        assert_clean("a webhook payload", &String::from_utf8_lossy(&r.body));
        assert_clean("webhook headers", &format!("{:?}", r.headers));
    }
    let files = scan_dir(&server.data_dir);
    assert!(
        files >= 3,
        "the journal, the copy and the outbox files: {files}"
    );
}

#[test]
fn redis_mode_keeps_no_number_in_redis() {
    let redis = RedisServer::start();
    let collector = Collector::start(Mode::Status(200));
    let mut opts = options_on(&redis.url(), "rest");
    opts.config = Some(webhook(&collector));
    let server = Server::start_with(opts);
    conversations(&server);
    collector.wait_for("three deliveries", 10, |r| r.len() >= 3);
    let keys = redis_cli(redis.port, &["--scan"]);
    let keys: Vec<&str> = keys.lines().filter(|k| !k.is_empty()).collect();
    assert!(
        keys.len() >= 3,
        "sessions, a resume record, streams: {keys:?}"
    );
    for key in keys {
        assert_clean("a Redis key", key);
        let value = match redis_cli(redis.port, &["TYPE", key]).trim() {
            "string" => redis_cli(redis.port, &["GET", key]),
            "stream" => redis_cli(redis.port, &["XRANGE", key, "-", "+"]),
            "hash" => redis_cli(redis.port, &["HGETALL", key]),
            "zset" => redis_cli(redis.port, &["ZRANGE", key, "0", "-1"]),
            "set" => redis_cli(redis.port, &["SMEMBERS", key]),
            "list" => redis_cli(redis.port, &["LRANGE", key, "0", "-1"]),
            other => panic!("{key}: unexpected type {other}"),
        };
        assert_clean(&format!("Redis {key}"), &value);
    }
    assert_clean("the logs", &server.logs());
    scan_dir(&server.data_dir);
}

/// The key that undoes every pseudonym is refused when others could read or swap it, or when
/// it is guessable.
#[cfg(unix)]
#[test]
fn a_readable_linked_or_weak_pseudonym_key_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let serve = |data: &Path, env_key: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sauti"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .arg("--flows")
            .arg(Path::new(common::REPO).join("flows"))
            .arg("--locales")
            .arg(Path::new(common::REPO).join("locales"))
            .env_remove("SAUTI_PSEUDONYM_KEY")
            .env_remove("SAUTI_PROFILE");
        if let Some(k) = env_key {
            cmd.env("SAUTI_PSEUDONYM_KEY", k);
        }
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = data.join("pseudonym.key");
    std::fs::write(&key, "0123456789abcdef0123456789abcdef").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, err) = serve(&data, None);
    assert!(!ok);
    assert!(err.contains("chmod 600"), "{err}");
    std::fs::remove_file(&key).unwrap();
    let elsewhere = dir.path().join("key");
    std::fs::write(&elsewhere, "0123456789abcdef0123456789abcdef").unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &key).unwrap();
    let (ok, err) = serve(&data, None);
    assert!(!ok);
    assert!(err.contains("not a regular file"), "{err}");
    let (ok, err) = serve(&dir.path().join("other"), Some("aaaaaaaaaaaaaaaaaaaaaaaa"));
    assert!(!ok);
    assert!(err.contains("different ones"), "{err}");
}
