//! What an operator needs to trust before putting `sauti serve` on the internet: nothing a
//! caller sends (a broken gateway, a scanner, a fuzzer, a slow or hostile client) crashes
//! the server or gets anything but the documented answer, a 4xx with a short reason.
//! Every test talks to the real binary over real TCP.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::REPO;
use common::server::{AtPhone, HttpReply, Options, Server};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};

const FORM: &str = "application/x-www-form-urlencoded";
const HOP: &str = "/ussd/africastalking";
const EVENTS: &str = "/ussd/africastalking/events";
const LIMIT: usize = 8192;
/// The respondent of the arbitrary sessions: they leave surveys unfinished, which a later
/// dial from the same number is offered to resume, so nobody else uses this number.
const FUZZ_PHONE: &str = "+243819999999";

/// Short timeouts so that slow clients are dealt with in about a second.
const FAST_TIMEOUTS: &str =
    "header_timeout_secs = 1\nbody_timeout_secs = 1\nmax_body_bytes = 8192\n";

fn server() -> Server {
    Server::start_with(Options {
        config: Some(FAST_TIMEOUTS.into()),
        ..Options::default()
    })
}

/// A well-formed first hop on the kufatilia flow, as Africa's Talking sends it.
fn hop_fields(session_id: &str) -> Vec<(&str, &str)> {
    vec![
        ("sessionId", session_id),
        ("serviceCode", "*384*1#"),
        ("phoneNumber", "+243810000001"),
        ("networkCode", "63001"),
        ("text", ""),
    ]
}

fn without<'a>(fields: &[(&'a str, &'a str)], key: &str) -> Vec<(&'a str, &'a str)> {
    fields.iter().copied().filter(|(k, _)| *k != key).collect()
}

fn with<'a>(
    fields: &[(&'a str, &'a str)],
    key: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    fields
        .iter()
        .map(|&(k, v)| if k == key { (k, value) } else { (k, v) })
        .collect()
}

fn post_bytes(server: &Server, path: &str, body: &[u8]) -> HttpReply {
    server.request("POST", path, Some(FORM), body)
}

/// A refusal: exactly `status`, a plain-text reason that mentions `reason`, never a 5xx.
#[track_caller]
fn assert_refused(reply: &HttpReply, status: u16, reason: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8"),
        "{reply:?}"
    );
    assert!(
        reply.body.contains(reason),
        "the reason should mention {reason:?}: {reply:?}"
    );
}

#[track_caller]
fn assert_first_screen(reply: &HttpReply) {
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        reply.body.starts_with("CON Langue / Lugha / Monoko:"),
        "{reply:?}"
    );
}

/// A respondent dials and sees the language menu: the server is alive and serving. A
/// number of their own, so that no unfinished survey of another test is offered back.
#[track_caller]
fn assert_still_serves_a_dial(server: &Server, session_id: &str, phone_number: &str) {
    let mut phone = AtPhone::new(server, session_id, "*384*1#", phone_number);
    let screen = phone.dial();
    assert!(
        screen.starts_with("CON Langue / Lugha / Monoko:"),
        "{screen}"
    );
}

/// The bytes of a recorded gateway request, with `Connection: close` added so that the
/// server hangs up after answering (the recording keeps the connection alive).
fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(REPO)
        .join("tests/fixtures/africastalking-ussd")
        .join(name);
    let bytes = std::fs::read(&path).unwrap();
    let end_of_line = bytes.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    let mut out = bytes[..end_of_line].to_vec();
    out.extend_from_slice(b"Connection: close\r\n");
    out.extend_from_slice(&bytes[end_of_line..]);
    out
}

fn replace_target(request: &[u8], from: &str, to: &str) -> Vec<u8> {
    let line_end = request.windows(2).position(|w| w == b"\r\n").unwrap();
    let line = std::str::from_utf8(&request[..line_end]).unwrap();
    assert!(line.contains(from), "{line}");
    let mut out = line.replacen(from, to, 1).into_bytes();
    out.extend_from_slice(&request[line_end..]);
    out
}

// ---------------------------------------------------------------------------------------
// The scenarios, each usable on its own server or all on one.

fn hops_missing_a_field_are_refused_with_its_name(server: &Server) {
    // A recorded gateway request without `sessionId`, on the alias path and the main one.
    let recorded = fixture("90-malformed-missing-sessionId.request.http");
    assert_refused(&server.raw(&recorded), 400, "sessionId");
    let on_main_path = replace_target(&recorded, "/gateways/africastalking/ussd", HOP);
    assert_refused(&server.raw(&on_main_path), 400, "missing field `sessionId`");

    let hop = hop_fields("ATUid_missing");
    for field in ["sessionId", "serviceCode", "phoneNumber"] {
        let reply = server.post_form(HOP, &without(&hop, field));
        assert_refused(&reply, 400, &format!("missing field `{field}`"));
        // Blank is as good as missing.
        let reply = server.post_form(HOP, &with(&hop, field, "   "));
        assert_refused(&reply, 400, &format!("missing field `{field}`"));
    }
    // `networkCode` and `text` are optional: `text` is absent on some gateways' first hop.
    assert_first_screen(&server.post_form(HOP, &without(&hop, "networkCode")));
    assert_first_screen(&server.post_form(HOP, &without(&hop, "text")));

    for not_a_number in ["hello", "+243-abc", "++", "+243\u{663}\u{664}", "<script>"] {
        let reply = server.post_form(HOP, &with(&hop, "phoneNumber", not_a_number));
        assert_refused(&reply, 400, "field `phoneNumber` is invalid");
    }
    let too_long = "x".repeat(300);
    let reply = server.post_form(HOP, &with(&hop, "sessionId", &too_long));
    assert_refused(&reply, 400, "field `sessionId` is invalid: too long");

    // The end-of-session notification needs a sessionId too.
    let reply = server.post_form(EVENTS, &[("status", "Success"), ("hopsCount", "3")]);
    assert_refused(&reply, 400, "sessionId");
}

fn malformed_bodies_get_a_400_never_a_5xx_or_a_dropped_connection(server: &Server) {
    let valid = "sessionId=ATUid_bad&serviceCode=%2A384%2A1%23&phoneNumber=%2B243810000001&text=";
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("bad percent-encoding only", b"%zz".to_vec(), "missing field"),
        (
            "bad percent-encoding everywhere",
            b"%zz%=%&%%sessionId%zz=%g1&==&%".to_vec(),
            "missing field",
        ),
        (
            "percent-encoded garbage in the phone number",
            b"sessionId=a&serviceCode=%2A1%23&phoneNumber=%zz%FF%00".to_vec(),
            "field `phoneNumber` is invalid",
        ),
        (
            "binary garbage",
            (0u8..=255).rev().cycle().take(700).collect(),
            "missing field",
        ),
        (
            "non-UTF-8 keys",
            b"\xffsessionId\xfe=a&\xc3\x28=\x80\x80&phoneNumber\xff=1".to_vec(),
            "missing field",
        ),
        (
            "non-UTF-8 bytes in the phone number",
            b"sessionId=a&serviceCode=%2A1%23&phoneNumber=\xff\xfe\xfd".to_vec(),
            "field `phoneNumber` is invalid",
        ),
        (
            "a JSON body sent as a form",
            br#"{"sessionId":"ATUid_1","serviceCode":"*384*1#","phoneNumber":"+243810000001","text":""}"#
                .to_vec(),
            "missing field",
        ),
        (
            "a field given twice",
            format!("{valid}&sessionId=ATUid_other").into_bytes(),
            "malformed form body",
        ),
        ("an empty body", Vec::new(), "missing field"),
        ("only separators", b"&&&===&=&".to_vec(), "missing field"),
    ];
    for (what, body, reason) in &cases {
        for path in [HOP, "/gateways/africastalking/ussd"] {
            let reply = post_bytes(server, path, body);
            assert_ne!(reply.status, 0, "{what}: connection dropped");
            assert!(reply.status < 500, "{what}: {reply:?}");
            assert_refused(&reply, 400, reason);
        }
    }
    let reply = post_bytes(server, EVENTS, b"%zz\xff\x00");
    assert_refused(&reply, 400, "sessionId");

    // Like browsers and Africa's Talking, a stray `%` is taken literally and undecodable
    // bytes become U+FFFD: a hop whose required fields survive that is a normal hop.
    assert_first_screen(&post_bytes(
        server,
        HOP,
        b"sessionId=ATUid_%zz&serviceCode=%2A384%2A1%23&phoneNumber=%2B243810000001&text=",
    ));
    assert_first_screen(&post_bytes(
        server,
        HOP,
        b"sessionId=ATUid_\xff\xfe&serviceCode=%2A384%2A1%23&phoneNumber=%2B243810000001&text=",
    ));

    // Requests that are not even HTTP are refused by the HTTP layer, still with a 4xx.
    let too_many_headers = [
        b"POST /ussd/africastalking HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".as_slice(),
        &b"X-Pad: 1\r\n".repeat(200),
        b"\r\n",
    ]
    .concat();
    let not_http: [(&[u8], u16); 6] = [
        (b"\x00\x01\x02\xff\xfe garbage\r\n\r\n", 400),
        (
            b"POST /ussd/africastalking HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n",
            400,
        ),
        (
            b"POST /ussd/africastalking HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello!",
            400,
        ),
        (
            b"POST /ussd/africastalking HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
            400,
        ),
        (
            b"POST /ussd/africastalking HTTP/1.1\r\nHost: x\r\nBad Header Name: 1\r\nConnection: close\r\n\r\n",
            400,
        ),
        (&too_many_headers, 431),
    ];
    for (request, status) in not_http {
        let reply = server.raw(request);
        assert_eq!(
            reply.status,
            status,
            "{:?}: {reply:?}",
            String::from_utf8_lossy(request)
        );
    }
}

fn bodies_over_the_limit_get_a_413(server: &Server) {
    let too_large = format!("body larger than {LIMIT} bytes");

    // Content-Length 9000 and 9000 bytes: refused without being read.
    let mut request = format!(
        "POST {HOP} HTTP/1.1\r\nHost: sauti.test\r\nConnection: close\r\nContent-Type: {FORM}\r\nContent-Length: 9000\r\n\r\n"
    )
    .into_bytes();
    request.extend(std::iter::repeat_n(b'a', 9000));
    assert_refused(&server.raw(&request), 413, &too_large);

    // A Content-Length that lies about a huge body is refused before anything is read.
    let request = format!(
        "POST {HOP} HTTP/1.1\r\nHost: sauti.test\r\nConnection: close\r\nContent-Type: {FORM}\r\nContent-Length: 1000000000000\r\n\r\n"
    );
    assert_refused(&server.raw(request.as_bytes()), 413, &too_large);

    // Chunked, no Content-Length: the limit holds on the bytes actually received.
    let chunked = |chunks: &[Vec<u8>]| {
        let mut request = format!(
            "POST {HOP} HTTP/1.1\r\nHost: sauti.test\r\nConnection: close\r\nContent-Type: {FORM}\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .into_bytes();
        for chunk in chunks {
            request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            request.extend_from_slice(chunk);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"0\r\n\r\n");
        request
    };
    let ten_kib: Vec<Vec<u8>> = (0..10).map(|_| vec![b'b'; 1024]).collect();
    assert_refused(&server.raw(&chunked(&ten_kib)), 413, &too_large);

    // Right at the limit a padded hop is still a hop; one byte more is not.
    let base = serde_html_form::to_string(hop_fields("ATUid_limit")).unwrap() + "&pad=";
    let at_limit = format!("{base}{}", "p".repeat(LIMIT - base.len()));
    assert_eq!(at_limit.len(), LIMIT);
    assert_first_screen(&post_bytes(server, HOP, at_limit.as_bytes()));
    let over = format!("{at_limit}p");
    assert_refused(&post_bytes(server, HOP, over.as_bytes()), 413, &too_large);
    let halves = [
        at_limit.as_bytes()[..4000].to_vec(),
        at_limit.as_bytes()[4000..].to_vec(),
    ];
    let reply = server.raw(&chunked(&halves));
    assert_first_screen(&reply);
    let halves = [halves[0].clone(), [&halves[1][..], b"p"].concat()];
    assert_refused(&server.raw(&chunked(&halves)), 413, &too_large);
}

fn a_wrong_content_type_gets_a_415(server: &Server) {
    let body = serde_html_form::to_string(hop_fields("ATUid_ct")).unwrap();
    for content_type in [
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form",
        "",
    ] {
        let reply = server.request("POST", HOP, Some(content_type), body.as_bytes());
        assert_refused(&reply, 415, "application/x-www-form-urlencoded");
    }
    let json = br#"{"sessionId":"ATUid_1","serviceCode":"*384*1#","phoneNumber":"+243810000001"}"#;
    let reply = server.request("POST", HOP, Some("application/json"), json);
    assert_refused(
        &reply,
        415,
        "expected Content-Type: application/x-www-form-urlencoded",
    );
    let reply = server.request("POST", EVENTS, Some("application/json"), json);
    assert_refused(&reply, 415, "application/x-www-form-urlencoded");

    // Parameters and case do not matter; Africa's Talking may add a charset.
    for content_type in [
        "application/x-www-form-urlencoded; charset=UTF-8",
        "Application/X-WWW-Form-Urlencoded",
    ] {
        let reply = server.request("POST", HOP, Some(content_type), body.as_bytes());
        assert_first_screen(&reply);
    }
}

fn wrong_paths_and_methods_get_404_and_405(server: &Server) {
    for path in [
        "/",
        "/ussd",
        "/ussd/",
        "/ussd/africastalking/",
        "/ussd/africastalking/events/extra",
        "/ussd/../healthz",
        "/ussd/africa%20stalking",
        "/gateways/africastalking",
        "/gateways/africastalking/fax",
        "/healthz/",
        "/favicon.ico",
        "/wp-login.php",
    ] {
        let reply = post_bytes(server, path, b"");
        assert_refused(&reply, 404, "not found");
    }
    for path in [
        "/ussd/nope",
        "/ussd/nope/events",
        "/gateways/nope/ussd",
        "/gateways/nope/ussd/events",
    ] {
        let reply = server.post_form(path, &hop_fields("ATUid_nope"));
        assert_refused(&reply, 404, "unknown gateway `nope`");
    }
    // SMS is a channel, but this server declares no SMS gateway.
    let reply = post_bytes(server, "/gateways/africastalking/sms", b"");
    assert_refused(&reply, 404, "unknown gateway `africastalking` on sms");

    for path in [HOP, EVENTS, "/gateways/africastalking/ussd"] {
        for method in ["GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"] {
            let reply = server.request(method, path, None, b"");
            assert_eq!(reply.status, 405, "{method} {path}: {reply:?}");
            assert_eq!(reply.header("allow"), Some("POST"), "{method} {path}");
            if method != "HEAD" {
                assert!(reply.body.contains("use POST"), "{reply:?}");
            }
        }
    }
    for path in ["/healthz", "/readyz"] {
        for method in ["POST", "PUT", "DELETE"] {
            let reply = server.request(method, path, Some(FORM), b"a=1");
            assert_refused(&reply, 405, "method not allowed");
            assert_eq!(reply.header("allow"), Some("GET, HEAD"), "{method} {path}");
        }
    }
}

fn health_checks_answer_200(server: &Server) {
    let reply = server.get("/healthz");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "ok\n"),
        "{reply:?}"
    );
    let reply = server.get("/readyz");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "ready\n"),
        "{reply:?}"
    );
    for path in ["/healthz", "/readyz"] {
        let reply = server.request("HEAD", path, None, b"");
        assert_eq!((reply.status, reply.body.as_str()), (200, ""), "{reply:?}");
    }
    // A query string does not change the route.
    assert_eq!(server.get("/healthz?probe=kubelet").status, 200);
}

// ---------------------------------------------------------------------------------------
// Slow clients.

/// What a slow client saw: how long until the server hung up, and what it said first.
struct HangUp {
    after: Duration,
    said: Vec<u8>,
}

/// Connects, sends `first`, then trickles `drip` one byte every `every` (if any) while
/// waiting for the server to close the connection. Fails if it is still open after 6 s.
fn slow_client(server: &Server, first: &[u8], drip: &[u8], every: Duration) -> HangUp {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(6)))
        .unwrap();
    let start = Instant::now();
    stream.write_all(first).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let drip = drip.to_vec();
    let dripping = std::thread::spawn(move || {
        for byte in drip {
            std::thread::sleep(every);
            // Once the server has hung up, writing fails: that is the point.
            if writer.write_all(&[byte]).is_err() {
                break;
            }
        }
    });
    let mut said = Vec::new();
    let mut buf = [0u8; 4096];
    let after = loop {
        match stream.read(&mut buf) {
            Ok(0) => break start.elapsed(),
            Ok(n) => said.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!(
                    "the server kept a slow client for {:?} (sent {:?})",
                    start.elapsed(),
                    String::from_utf8_lossy(first)
                )
            }
            // Writing after the server closed may earn a reset: it hung up all the same.
            Err(_) => break start.elapsed(),
        }
    };
    let _ = stream.shutdown(std::net::Shutdown::Both);
    dripping.join().unwrap();
    HangUp { after, said }
}

fn slow_clients_are_cut_off_within_seconds(server: &Server) {
    let headers_then_body: &[u8] = b"POST /ussd/africastalking HTTP/1.1\r\nHost: sauti.test\r\n\
        Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n0123456789";
    let drip = Duration::from_millis(150);
    let long_header: &[u8] = b"X-Slow: zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz";
    let half_line: &[u8] = b"POST /ussd/africas";
    let half_headers: &[u8] = b"POST /ussd/africastalking HTTP/1.1\r\nHost: sauti.test\r\nContent-";
    let body_drip: &[u8] = &[b'x'; 90];
    // All at once, so that the whole test takes about one timeout.
    let (silent, half_line, half_headers, trickled_headers, short_body, trickled_body) =
        std::thread::scope(|s| {
            let client = |first: &'static [u8], drip_bytes: &'static [u8]| {
                s.spawn(move || slow_client(server, first, drip_bytes, drip))
            };
            let handles = [
                client(b"", b""),
                client(half_line, b""),
                client(half_headers, b""),
                client(half_headers, long_header),
                client(headers_then_body, b""),
                client(headers_then_body, body_drip),
            ];
            let [a, b, c, d, e, f] = handles.map(|h| h.join().unwrap());
            (a, b, c, d, e, f)
        });

    // Headers that never complete, even those arriving byte by byte: the connection is
    // closed once `header_timeout_secs` is over, without an answer.
    for (what, hang_up) in [
        ("a client that sends nothing", &silent),
        ("half a request line", &half_line),
        ("half the headers", &half_headers),
        ("headers trickled a byte at a time", &trickled_headers),
    ] {
        assert!(
            hang_up.after >= Duration::from_millis(500) && hang_up.after < Duration::from_secs(5),
            "{what}: closed after {:?}",
            hang_up.after
        );
        assert!(
            hang_up.said.is_empty() || hang_up.said.starts_with(b"HTTP/1.1 408"),
            "{what}: {:?}",
            String::from_utf8_lossy(&hang_up.said)
        );
    }

    // A body that stops short of its Content-Length: 408 once `body_timeout_secs` is over.
    let said = String::from_utf8_lossy(&short_body.said);
    assert!(
        short_body.after >= Duration::from_millis(500) && short_body.after < Duration::from_secs(5),
        "closed after {:?}",
        short_body.after
    );
    assert!(said.starts_with("HTTP/1.1 408 "), "{said:?}");
    assert!(
        said.ends_with("\r\n\r\nbody not received in time\n"),
        "{said:?}"
    );

    // A body trickled a byte at a time is no way around it: the timeout is for the whole
    // body, not between bytes.
    let said = String::from_utf8_lossy(&trickled_body.said);
    assert!(
        trickled_body.after < Duration::from_secs(5),
        "closed after {:?}",
        trickled_body.after
    );
    assert!(
        said.is_empty() || said.starts_with("HTTP/1.1 408 "),
        "{said:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Arbitrary bodies.

/// Arbitrary requests to one gateway path: a single body, or the hops of one session.
#[derive(Debug, Clone)]
struct Arbitrary {
    path: &'static str,
    content_type: Option<&'static str>,
    bodies: Vec<Vec<u8>>,
}

/// `k=v&k=v` from `pairs`, percent-encoded or, as a sloppy client would, not at all (then
/// `*`, `#`, `%`, `&`, `=`, `+` and UTF-8 go on the wire as they are).
fn form(pairs: &[(&str, &str)], encode: bool) -> Vec<u8> {
    if encode {
        serde_html_form::to_string(pairs).unwrap().into_bytes()
    } else {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes()
    }
}

/// Random keys, some of them the real ones, with random values.
fn form_like_body() -> impl Strategy<Value = Vec<u8>> {
    let key = prop::sample::select(vec![
        "sessionId",
        "serviceCode",
        "phoneNumber",
        "networkCode",
        "text",
        "sessionid",
        "status",
        "",
        "%zz",
        "t\u{e9}xt",
    ]);
    let value = prop_oneof![
        prop::sample::select(vec![
            "",
            "*384*1#",
            "*384*2#",
            FUZZ_PHONE,
            "ATUid_fuzz",
            "1",
            "1*1*2",
            "*",
            "#",
            "**##",
            "%",
            "%zz",
            "\u{1F600}",
            "Kamituga *7# \u{e0} c\u{f4}t\u{e9}",
        ])
        .prop_map(String::from),
        proptest::string::string_regex("[0-9*#+ ]{0,24}").unwrap(),
        proptest::string::string_regex("[\\PC&=%]{0,40}").unwrap(),
        any::<String>(),
    ];
    (prop::collection::vec((key, value), 0..8), any::<bool>()).prop_map(|(pairs, encode)| {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form(&pairs, encode)
    })
}

/// A session that is mostly right: real field names, often valid values, and a `text`
/// that grows hop by hop as the gateway sends it, walking into the survey and then
/// typing anything at all.
fn session_like_bodies() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let session_id = prop_oneof![
        3 => proptest::string::string_regex("ATUid_fuzz_[0-9a-f]{8}").unwrap(),
        1 => proptest::string::string_regex("[\\PC]{0,20}").unwrap(),
    ];
    let service_code = prop_oneof![
        3 => Just("*384*1#".to_owned()),
        1 => Just("*384*2#".to_owned()),
        1 => proptest::string::string_regex("[0-9*#]{0,12}").unwrap(),
    ];
    let phone = prop_oneof![
        3 => Just(FUZZ_PHONE.to_owned()),
        1 => proptest::string::string_regex("[0-9+ ()-]{0,16}").unwrap(),
    ];
    let text = prop_oneof![
        proptest::string::string_regex("[0-9*#]{0,30}").unwrap(),
        proptest::string::string_regex("([0-9]{1,3}\\*){0,12}[0-9]{0,3}").unwrap(),
        proptest::string::string_regex("[\\PC]{0,60}").unwrap(),
        (
            prop::sample::select(vec![
                "1",
                "1*1",
                "1*1*2",
                "2*1*9",
                "3*1*5*1",
                "1*1*2*1*1*Mwenga",
                "1*1*2*1*1*Mwenga*000",
            ]),
            proptest::string::string_regex("(\\*[\\PC]{0,12}){0,4}").unwrap(),
        )
            .prop_map(|(walk, then)| format!("{walk}{then}")),
    ];
    (session_id, service_code, phone, text, any::<bool>()).prop_map(
        |(session_id, service_code, phone, text, encode)| {
            let inputs: Vec<&str> = if text.is_empty() {
                Vec::new()
            } else {
                text.split('*').take(16).collect()
            };
            (0..=inputs.len())
                .map(|n| {
                    let text = inputs[..n].join("*");
                    form(
                        &[
                            ("sessionId", &session_id),
                            ("serviceCode", &service_code),
                            ("phoneNumber", &phone),
                            ("networkCode", "63001"),
                            ("text", &text),
                        ],
                        encode,
                    )
                })
                .collect()
        },
    )
}

fn arbitrary_requests() -> impl Strategy<Value = Arbitrary> {
    let path = prop::sample::select(vec![HOP, HOP, EVENTS, "/gateways/africastalking/ussd"]);
    let content_type = prop_oneof![
        6 => Just(Some(FORM)),
        1 => Just(Some("application/x-www-form-urlencoded; charset=utf-8")),
        1 => Just(None),
        1 => Just(Some("application/json")),
        1 => Just(Some("text/plain")),
    ];
    let bodies = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2000).prop_map(|b| vec![b]),
        form_like_body().prop_map(|b| vec![b]),
        session_like_bodies(),
    ];
    (path, content_type, bodies).prop_map(|(path, content_type, bodies)| Arbitrary {
        path,
        content_type,
        bodies,
    })
}

/// Sends `cases` arbitrary requests (or sessions); each reply is a documented one.
fn arbitrary_bodies_get_documented_answers(server: &Server, cases: u32) {
    let mut runner = TestRunner::new(RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let result = runner.run(&arbitrary_requests(), |req| {
        let is_form = req
            .content_type
            .is_none_or(|c| c.starts_with("application/x-www-form-urlencoded"));
        for body in &req.bodies {
            let reply = server.request("POST", req.path, req.content_type, body);
            let shown = || {
                format!(
                    "{} {:?} {:?} -> {reply:?}",
                    req.path,
                    req.content_type,
                    String::from_utf8_lossy(body)
                )
            };
            prop_assert!(
                [200, 400, 413, 415].contains(&reply.status),
                "undocumented status: {}",
                shown()
            );
            if !is_form {
                prop_assert_eq!(reply.status, 415, "{}", shown());
            } else if reply.status == 200 {
                if req.path == EVENTS {
                    prop_assert_eq!(reply.body.as_str(), "OK", "{}", shown());
                } else {
                    prop_assert!(
                        reply.body.starts_with("CON ") || reply.body.starts_with("END "),
                        "{}",
                        shown()
                    );
                }
            } else {
                // Under 2 KB, a form body is either a hop or a 400 with its reason.
                prop_assert_eq!(reply.status, 400, "{}", shown());
                prop_assert!(
                    !reply.body.trim().is_empty(),
                    "400 without a reason: {}",
                    shown()
                );
            }
        }
        Ok::<(), TestCaseError>(())
    });
    if let Err(e) = result {
        panic!("{e}\n--- server log ---\n{}", server.logs());
    }
}

// ---------------------------------------------------------------------------------------
// The tests.

#[test]
fn a_hop_missing_a_field_is_refused_with_a_400_naming_it() {
    let server = server();
    hops_missing_a_field_are_refused_with_its_name(&server);
}

#[test]
fn malformed_bodies_are_refused_with_a_400_and_never_crash_the_server() {
    let server = server();
    malformed_bodies_get_a_400_never_a_5xx_or_a_dropped_connection(&server);
    assert_still_serves_a_dial(&server, "ATUid_after_malformed", "+243820000001");
}

#[test]
fn a_body_over_the_limit_is_refused_with_a_413_with_or_without_content_length() {
    let server = server();
    bodies_over_the_limit_get_a_413(&server);
    assert_still_serves_a_dial(&server, "ATUid_after_oversized", "+243820000002");
}

#[test]
fn a_body_that_is_not_a_form_is_refused_with_a_415() {
    let server = server();
    a_wrong_content_type_gets_a_415(&server);
}

#[test]
fn unknown_paths_gateways_and_methods_get_404_and_405() {
    let server = server();
    wrong_paths_and_methods_get_404_and_405(&server);
}

#[test]
fn health_and_readiness_checks_answer_200() {
    let server = server();
    health_checks_answer_200(&server);
}

#[test]
fn two_hundred_arbitrary_bodies_get_documented_answers_and_the_server_keeps_serving() {
    let server = server();
    arbitrary_bodies_get_documented_answers(&server, 200);
    assert_still_serves_a_dial(&server, "ATUid_after_fuzz", "+243820000003");
    health_checks_answer_200(&server);
}

#[test]
fn slow_clients_are_cut_off_by_the_header_and_body_timeouts() {
    let server = server();
    slow_clients_are_cut_off_within_seconds(&server);
    assert_still_serves_a_dial(&server, "ATUid_after_slow", "+243820000004");
}

#[test]
fn after_every_kind_of_abuse_the_same_server_still_completes_a_report() {
    let server = server();
    std::thread::scope(|s| {
        // The slow clients wait in the background while everything else hits the server.
        let slow = s.spawn(|| slow_clients_are_cut_off_within_seconds(&server));
        hops_missing_a_field_are_refused_with_its_name(&server);
        malformed_bodies_get_a_400_never_a_5xx_or_a_dropped_connection(&server);
        bodies_over_the_limit_get_a_413(&server);
        a_wrong_content_type_gets_a_415(&server);
        wrong_paths_and_methods_get_404_and_405(&server);
        arbitrary_bodies_get_documented_answers(&server, 100);
        slow.join().unwrap();
    });
    health_checks_answer_200(&server);

    // A miner reports violence, start to finish, on the server that took all that.
    let mut phone = AtPhone::new(&server, "ATUid_survivor", "*384*1#", "+243820000005");
    assert!(phone.dial().starts_with("CON Langue / Lugha / Monoko:"));
    let walk = [
        ("1", "CON Sauti: signalez un incident"),
        ("1", "CON Que voulez-vous signaler?"),
        ("2", "CON Quand cela s'est-il passé?"),
        ("1", "CON Dans quelle province?"),
        ("1", "CON Territoire ou ville?"),
        ("Shabunda", "CON Nom du site minier?"),
        ("000", "CON Violence: combien de personnes"),
        ("0", "CON La société civile peut-elle vous appeler"),
        ("2", "END Merci. Votre signalement est enregistré"),
    ];
    for (input, screen) in walk {
        let shown = phone.send(input);
        assert!(shown.starts_with(screen), "{input:?} -> {shown}");
    }
    let reply = server.raw(&fixture("20-event-success.request.http"));
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "OK"),
        "{reply:?}"
    );

    // The report is on disk, and nothing ever panicked.
    let deadline = Instant::now() + Duration::from_secs(5);
    let report = loop {
        let found = server.responses().into_iter().find(|r| {
            r["status"] == "complete" && r["answers"]["territory"]["value"] == "Shabunda"
        });
        if let Some(r) = found {
            break r;
        }
        assert!(Instant::now() < deadline, "the report was not journaled");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(report["answers"]["incident"]["value"], "violence");
    let logs = server.logs();
    assert!(!logs.contains("panicked"), "{logs}");
}
