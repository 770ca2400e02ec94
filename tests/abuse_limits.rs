//! Floods do not stop real respondents: one number hopping too fast gets a polite "try later"
//! that lifts by itself, a gateway's new sessions are capped while its sessions in progress go
//! on, and requests past the in-flight limit are shed with 503 at once instead of queueing.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::server::{AtPhone, Options, Server};

fn server(config: &str) -> Server {
    Server::start_with(Options {
        config: Some(config.into()),
        ..Options::default()
    })
}

fn metric(server: &Server, name: &str) -> u64 {
    server.metric(name, &[]) as u64
}

#[test]
fn a_respondent_hopping_too_fast_is_told_to_try_later_until_the_rate_allows() {
    let server = server("respondent_rate = { per_sec = 2.0, burst = 3.0 }\n");
    let mut phone = AtPhone::new(&server, "ATUid_fast", "*384*1#", "+243810000951");
    assert!(phone.dial().starts_with("CON Langue"));
    assert!(phone.send("1").starts_with("CON"));
    assert!(phone.send("1").starts_with("CON"));
    // The burst is spent: a polite END, nothing answered.
    let refused = phone.resend();
    assert!(refused.starts_with("END Service indisponible"), "{refused}");
    assert_eq!(metric(&server, "sauti_rate_limited_total"), 1);
    // Another respondent is not held back.
    let mut other = AtPhone::new(&server, "ATUid_other", "*384*1#", "+243810000952");
    assert!(other.dial().starts_with("CON Langue"));
    // It lifts by itself.
    std::thread::sleep(Duration::from_millis(600));
    let screen = phone.resend();
    assert!(
        screen.starts_with("CON Que voulez-vous signaler?"),
        "{screen}"
    );
}

#[test]
fn a_gateway_opens_at_most_its_new_sessions_and_keeps_serving_the_others() {
    let server = server(
        r#"
[[gateway]]
name = "capped"
adapter = "africastalking"
new_sessions = { per_sec = 0.5, burst = 2.0 }
auth = { none = true }
"#,
    );
    let dial = |id: &str, n: u32| {
        let mut p = AtPhone::new(&server, id, "*384*1#", &format!("+24381000{n:04}"));
        p.path = "/ussd/capped".into();
        p
    };
    let mut first = dial("ATUid_cap1", 961);
    assert!(first.dial().starts_with("CON Langue"));
    let mut second = dial("ATUid_cap2", 962);
    assert!(second.dial().starts_with("CON Langue"));
    let mut third = dial("ATUid_cap3", 963);
    let refused = third.dial();
    assert!(refused.starts_with("END Service indisponible"), "{refused}");
    // The sessions already open go on.
    assert!(first.send("1").starts_with("CON Sauti: signalez"));
    assert!(second.send("2").starts_with("CON"));
    // Other gateways are not capped.
    let mut elsewhere = AtPhone::new(&server, "ATUid_cap4", "*384*1#", "+243810000964");
    assert!(elsewhere.dial().starts_with("CON Langue"));
}

#[test]
fn past_the_in_flight_limit_requests_are_shed_at_once() {
    let server = server("max_in_flight = 1\nbody_timeout_secs = 20\n");
    // One request holds the only slot: its body never finishes arriving.
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(
        b"POST /ussd/africastalking HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\nsessionId=slow",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let reply = server.post_form(
        "/ussd/africastalking",
        &[
            ("sessionId", "ATUid_shed"),
            ("serviceCode", "*384*1#"),
            ("phoneNumber", "+243810000971"),
            ("text", ""),
        ],
    );
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shed at once, not after the slow body's 20 s"
    );
    assert_eq!(metric(&server, "sauti_shed_total"), 1);
    drop(slow);
    // The slot frees when the slow request goes away.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut phone = AtPhone::new(&server, "ATUid_after", "*384*1#", "+243810000972");
        let r = server.post_form(
            &phone.path.clone(),
            &[
                ("sessionId", "ATUid_after"),
                ("serviceCode", "*384*1#"),
                ("phoneNumber", "+243810000972"),
                ("text", ""),
            ],
        );
        if r.status == 200 {
            assert!(phone.dial().starts_with("CON Langue"));
            break;
        }
        assert!(Instant::now() < deadline, "the slot never freed: {r:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Connections that say nothing (or nothing more) hold every slot: a real gateway's request
/// is still served promptly, because idle connections are asked to close to make room.
#[test]
fn idle_connections_do_not_starve_a_real_one() {
    let server = server("max_connections = 8\nheader_timeout_secs = 30\n");
    // Four that never send a byte, four that sent one request and keep the connection open.
    let mut idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    for _ in 0..4 {
        let mut s = TcpStream::connect(server.addr).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 256];
        let n = std::io::Read::read(&mut s, &mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).contains("200"));
        idle.push(s);
    }
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let mut phone = AtPhone::new(&server, "ATUid_idle", "*384*1#", "+243810000981");
    assert!(phone.dial().starts_with("CON Langue"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "served promptly, not after the 30 s header timeout: {:?}",
        started.elapsed()
    );
    drop(idle);
}
