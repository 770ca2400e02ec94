//! The one shutdown path of `sauti serve` and `sauti deliver`: after SIGTERM, a hop already
//! accepted gets its whole reply, and a delivery in flight finishes and is acknowledged
//! before the process exits, so that it is never delivered again after a restart.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::collector::{Collector, Mode};
use common::server::{AtPhone, Options, Server};

fn hook_config(collector: &Collector) -> String {
    format!(
        r#"
[sinks.partners]
kind = "webhook"
url = "{}"
secret = "whsec_c2F1dGktdGVzdC13ZWJob29rLXNlY3JldC0zMmJ5dGU="
backoff_ms = 50
backoff_max_ms = 300
timeout_ms = 5000
"#,
        collector.url("/hooks/sauti")
    )
}

fn with_config(mut opts: Options, config: String) -> Options {
    opts.config = Some(config);
    opts
}

/// Completes a short kufatilia report (declined consent).
fn report(server: &Server, session: &str, number: &str) {
    let mut phone = AtPhone::new(server, session, "*384*1#", number);
    phone.dial();
    phone.send("1");
    let end = phone.send("2");
    assert!(end.starts_with("END "), "{end}");
}

fn sigterm(pid: u32) {
    Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
}

fn wait_exit(child: &mut Child, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        assert!(Instant::now() < deadline, "did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `sauti deliver` on the server's data directory and configuration, started once its
/// signal handlers are in place (it has printed its first line).
fn deliver(server: &Server) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sauti"))
        .current_dir(server.dir.path())
        .arg("deliver")
        .arg("--config")
        .arg(server.dir.path().join("sauti.toml"))
        .arg("--data-dir")
        .arg(&server.data_dir)
        .args(server.redis_args())
        .env("SAUTI_PSEUDONYM_KEY", "test-key-0123456789abcdef")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(
        first.starts_with("sauti delivering for 1 sink"),
        "{first:?}"
    );
    child
}

fn serve_finishes_the_delivery_in_flight(opts: Options) {
    // The collector answers after 1.5 s: SIGTERM arrives while the delivery is in flight.
    let collector = Collector::start(Mode::Delay(200, 1500));
    let mut server = Server::start_with(with_config(opts, hook_config(&collector)));
    report(&server, "ATUid_stop_serve", "+243810000371");
    collector.wait_for("the delivery in flight", 10, |r| !r.is_empty());
    assert!(server.terminate(), "exit status: {}", server.logs());
    let received = collector.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].answered, Some(200), "answered before the exit");
    assert!(
        server.logs_eventually_contain("stopped", 5),
        "{}",
        server.logs()
    );
    // Acknowledged before the exit: a new process does not deliver it again.
    collector.set_mode(Mode::Status(200));
    server.restart();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        collector.received().len(),
        1,
        "delivered again after restart"
    );
}

fn deliver_finishes_the_delivery_in_flight(opts: Options) {
    // `serve` queues the response while the collector is down, and stops.
    let collector = Collector::start(Mode::Drop);
    let mut server = Server::start_with(with_config(opts, hook_config(&collector)));
    report(&server, "ATUid_stop_deliver", "+243810000372");
    collector.wait_for("an attempt", 10, |r| !r.is_empty());
    assert!(server.terminate(), "exit status: {}", server.logs());
    let before = collector.received().len();
    // `sauti deliver` takes it; SIGTERM arrives while the collector holds the request.
    collector.set_mode(Mode::Delay(200, 1500));
    let mut worker = deliver(&server);
    collector.wait_for("the delivery in flight", 10, |r| r.len() > before);
    sigterm(worker.id());
    assert!(
        wait_exit(&mut worker, 20),
        "`sauti deliver` did not exit cleanly"
    );
    assert_eq!(collector.accepted().len(), 1, "{:?}", collector.received());
    assert_eq!(collector.received().len(), before + 1);
    // Acknowledged before the exit: the next `sauti deliver` has nothing to send.
    collector.set_mode(Mode::Status(200));
    let mut again = deliver(&server);
    std::thread::sleep(Duration::from_secs(3));
    sigterm(again.id());
    assert!(wait_exit(&mut again, 20));
    assert_eq!(collector.received().len(), before + 1, "delivered again");
}

macro_rules! on_every_store {
    ($($store:ident => $opts:expr),* $(,)?) => {$(
        mod $store {
            use super::*;
            #[test]
            fn serve_finishes_the_delivery_in_flight() {
                super::serve_finishes_the_delivery_in_flight($opts)
            }
            #[test]
            fn deliver_finishes_the_delivery_in_flight() {
                super::deliver_finishes_the_delivery_in_flight($opts)
            }
        }
    )*};
}

on_every_store! {
    embedded => Options::default(),
    redis => common::redis::options(),
}

#[test]
fn a_hop_accepted_before_sigterm_gets_its_whole_reply() {
    let mut server = Server::start();
    let body = serde_html_form::to_string([
        ("sessionId", "ATUid_stop_hop"),
        ("serviceCode", "*384*1#"),
        ("phoneNumber", "+243810000373"),
        ("networkCode", "63001"),
        ("text", ""),
    ])
    .unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut conn = TcpStream::connect(server.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // The request's head and half its body: accepted, not yet answered.
    write!(
        conn,
        "POST /ussd/africastalking HTTP/1.1\r\nHost: sauti.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let addr = server.addr;
    let rest = rest.to_owned();
    let respondent = std::thread::spawn(move || {
        // SIGTERM is sent meanwhile: no new connection is accepted...
        std::thread::sleep(Duration::from_millis(800));
        let refused = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err();
        // ...but the accepted hop finishes.
        conn.write_all(rest.as_bytes()).unwrap();
        let mut reply = Vec::new();
        let _ = conn.read_to_end(&mut reply);
        (refused, String::from_utf8_lossy(&reply).into_owned())
    });
    assert!(server.terminate(), "exit status: {}", server.logs());
    let (refused, reply) = respondent.join().unwrap();
    assert!(refused, "a connection was accepted after SIGTERM");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply:?}");
    let body = reply.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    assert!(body.starts_with("CON "), "{reply:?}");
}

/// A gateway's kept-alive connection: hops one after another until the server says close.
/// Returns (hops answered, hops sent but never answered, whether it was told to close).
fn gateway_connection(addr: std::net::SocketAddr, conn_no: usize) -> (usize, usize, bool) {
    let Ok(stream) = TcpStream::connect(addr) else {
        return (0, 0, false);
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let (mut answered, mut lost) = (0, 0);
    for hop in 0.. {
        let body = serde_html_form::to_string([
            ("sessionId", format!("ATUid_load_{conn_no}_{hop}").as_str()),
            ("serviceCode", "*384*1#"),
            (
                "phoneNumber",
                &format!("+24381{:03}{:04}", conn_no, hop % 10_000),
            ),
            ("networkCode", "63001"),
            ("text", ""),
        ])
        .unwrap();
        let sent = write!(
            writer,
            "POST /ussd/africastalking HTTP/1.1\r\nHost: sauti.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if sent.is_err() {
            // Closed before this hop was written: it was never accepted.
            return (answered, lost, false);
        }
        let mut status = String::new();
        if reader.read_line(&mut status).unwrap_or(0) == 0 {
            // Written, then the connection went away without an answer.
            lost += 1;
            return (answered, lost, false);
        }
        let (mut length, mut close) = (0usize, false);
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end().to_ascii_lowercase();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            close |= line == "connection: close";
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        answered += 1;
        if close {
            return (answered, lost, true);
        }
    }
    unreachable!()
}

#[test]
fn sigterm_under_load_answers_every_hop_already_sent() {
    let mut server = Server::start_with(Options {
        config: Some("respondent_rate = { per_sec = 1000, burst = 1000 }\n".into()),
        ..Options::default()
    });
    let addr = server.addr;
    let gateways: Vec<_> = (0..20)
        .map(|i| std::thread::spawn(move || gateway_connection(addr, i)))
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    assert!(server.terminate(), "{}", server.logs());
    let results: Vec<_> = gateways.into_iter().map(|g| g.join().unwrap()).collect();
    let answered: usize = results.iter().map(|r| r.0).sum();
    let lost: usize = results.iter().map(|r| r.1).sum();
    let told: usize = results.iter().filter(|r| r.2).count();
    assert!(answered > 100, "the load did not run: {results:?}");
    assert_eq!(
        lost, 0,
        "hops sent on open connections went unanswered: {results:?}"
    );
    assert!(told > 0, "no connection was drained: {results:?}");
}
