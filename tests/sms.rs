//! Conversations by SMS against a real server, as Africa's Talking calls it: each inbound
//! message a form POST acknowledged empty, each reply read back from the SMS outbox.

mod common;

use common::server::Server;
use serde_json::Value;

const SHORT_CODE: &str = "20880";

/// The SMS gateway is declared, never there by default.
const CONFIG: &str = "[[gateway]]\nname = \"africastalking\"\nadapter = \"africastalking-sms\"\n";

fn start(env: &[(&str, &str)]) -> Server {
    let mut opts = common::server::Options {
        config: Some(CONFIG.into()),
        ..Default::default()
    };
    opts.env
        .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Server::start_with(opts)
}

/// A respondent texting the short code; every message gets a new id unless resent.
struct Texter<'s> {
    server: &'s Server,
    number: &'s str,
    sent: u32,
    read: usize,
}

impl<'s> Texter<'s> {
    fn new(server: &'s Server, number: &'s str) -> Texter<'s> {
        Texter {
            server,
            number,
            sent: 0,
            read: 0,
        }
    }

    /// Posts `text` with message id `id`; the callback is acknowledged `200` and empty.
    fn post(&self, text: &str, id: &str) {
        let reply = self.server.post_form(
            "/sms/africastalking",
            &[
                ("from", self.number),
                ("to", SHORT_CODE),
                ("text", text),
                ("date", "2026-01-01 10:00:00"),
                ("id", id),
                ("linkId", "link-1"),
            ],
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body, "");
    }

    /// Texts `text`; returns what the respondent receives (the next queued message).
    fn text(&mut self, text: &str) -> String {
        self.sent += 1;
        self.post(text, &format!("{}-{}", self.number, self.sent));
        self.received().expect("a reply was queued")
    }

    /// The next message queued for this respondent, parts joined, if any.
    fn received(&mut self) -> Option<String> {
        let queued: Vec<Value> = outbox(self.server)
            .into_iter()
            .filter(|m| m["to"] == self.number)
            .collect();
        let next = queued.get(self.read)?;
        self.read += 1;
        assert_eq!(next["from"], SHORT_CODE);
        let parts = next["parts"].as_array().expect("parts");
        Some(parts.iter().map(|p| p.as_str().unwrap()).collect())
    }
}

fn outbox(server: &Server) -> Vec<Value> {
    std::fs::read_to_string(server.data_dir.join("sms-outbox.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[test]
fn no_sms_gateway_unless_declared() {
    let server = Server::start();
    let reply = server.post_form("/sms/africastalking", &[("from", "+243810000100")]);
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert!(!server.data_dir.join("sms-outbox.jsonl").exists());
}

#[test]
fn a_whole_report_by_sms_with_a_wrong_answer_and_a_back() {
    let server = start(&[]);
    let mut phone = Texter::new(&server, "+243810000101");
    let languages = phone.text("Kufatilia");
    assert!(languages.contains("Langue"), "{languages}");
    assert!(languages.contains("1. "), "{languages}");
    let consent = phone.text("1");
    assert!(consent.contains("Acceptez-vous?"), "{consent}");
    assert!(consent.contains("1. Oui"), "{consent}");
    let incident = phone.text("1");
    assert!(incident.contains("Que voulez-vous signaler?"), "{incident}");
    // The whole question goes out: all nine options, no pages.
    assert!(incident.contains("9. Autre"), "{incident}");
    let wrong = phone.text("42");
    assert!(wrong.contains("Choix invalide."), "{wrong}");
    assert!(wrong.contains("Que voulez-vous signaler?"), "{wrong}");
    let when = phone.text("1");
    assert!(when.contains("Quand cela s'est-il passé?"), "{when}");
    assert!(when.contains("0. Retour"), "{when}");
    let back = phone.text("0");
    assert!(back.contains("Que voulez-vous signaler?"), "{back}");
    phone.text("2");
    let province = phone.text("1");
    assert!(province.contains("Dans quelle province?"), "{province}");
    phone.text("1");
    phone.text("Kalehe");
    phone.text("Nyabibwe");
    phone.text("3");
    let thanks = phone.text("2");
    assert!(server.responses().len() == 1, "{thanks}");
    let response = &server.responses()[0];
    assert_eq!(response["channel"], "sms");
    assert_eq!(response["status"], "complete", "{response}");
    assert_eq!(response["answers"]["incident"]["value"], "violence");
    assert_eq!(response["answers"]["site"]["value"], "Nyabibwe");
    // The raw number is in the outbox only (it is needed to send), never in a response.
    assert!(!response.to_string().contains("810000101"));
}

#[test]
fn ripoti_starts_in_swahili_and_stop_ends_the_conversation() {
    let server = start(&[]);
    let mut phone = Texter::new(&server, "+243810000102");
    let consent = phone.text("RIPOTI");
    assert!(consent.contains("Unakubali?"), "{consent}");
    let stopped = phone.text("acha");
    assert!(stopped.contains("Imesimamishwa"), "{stopped}");
    let not_started = phone.text("1");
    assert!(
        not_started.contains("Envoyez KUFATILIA pour commencer."),
        "{not_started}"
    );
    assert!(
        not_started.contains("Tuma KUFATILIA kuanza."),
        "{not_started}"
    );
    // A keyword starts again, whatever was before.
    let consent = phone.text("alerte");
    assert!(consent.contains("Acceptez-vous?"), "{consent}");
    assert!(server.responses().is_empty());
}

#[test]
fn a_message_delivered_twice_is_taken_once() {
    let server = start(&[]);
    let mut phone = Texter::new(&server, "+243810000103");
    phone.text("ALERTE");
    let incident = phone.text("1");
    assert!(incident.contains("Que voulez-vous signaler?"), "{incident}");
    // The gateway delivers the same message (same id) again: nothing advances, nothing sent.
    phone.post("1", &format!("{}-{}", phone.number, phone.sent));
    assert_eq!(phone.received(), None);
    let when = phone.text("1");
    assert!(when.contains("Quand cela s'est-il passé?"), "{when}");
    // A keyword delivered twice does not start the survey again on the second delivery.
    let consent = phone.text("ALERTE");
    assert!(consent.contains("Acceptez-vous?"), "{consent}");
    phone.post("ALERTE", &format!("{}-{}", phone.number, phone.sent));
    assert_eq!(phone.received(), None);
    let incident = phone.text("1");
    assert!(incident.contains("Que voulez-vous signaler?"), "{incident}");
}

/// A stand-in for Africa's Talking's send API: refuses the first request (`500`), accepts
/// the others (`201`); hands each request's head and body to the test.
fn send_api() -> (String, std::sync::mpsc::Receiver<(String, String)>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/version1/messaging",
        listener.local_addr().unwrap()
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let status = if n == 0 { "500 Oops" } else { "201 Created" };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            );
            let _ = tx.send((head, String::from_utf8_lossy(&body).into_owned()));
        }
    });
    (url, rx)
}

#[test]
fn queued_replies_are_sent_through_the_api_and_retried_until_accepted() {
    let (url, requests) = send_api();
    let server = start(&[
        ("SAUTI_AT_SMS_URL", &url),
        ("SAUTI_AT_USERNAME", "sauti-test"),
        ("SAUTI_AT_API_KEY", "at-key-123"),
    ]);
    let mut phone = Texter::new(&server, "+243810000104");
    let consent = phone.text("ALERTE");
    let wait = std::time::Duration::from_secs(20);
    let (refused_head, _) = requests.recv_timeout(wait).expect("a first attempt");
    assert!(refused_head.starts_with("POST /version1/messaging"));
    // Refused once, then sent again.
    let (head, body) = requests.recv_timeout(wait).expect("a retry");
    assert!(
        head.to_ascii_lowercase().contains("apikey: at-key-123"),
        "{head}"
    );
    let fields: Vec<(String, String)> = serde_html_form::from_str(&body).unwrap();
    let field = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(field("username"), "sauti-test");
    assert_eq!(field("to"), "+243810000104");
    assert_eq!(field("from"), SHORT_CODE);
    assert_eq!(field("message"), consent);
    // Accepted: not sent again; the next reply is the next request.
    let incident = phone.text("1");
    let (_, body) = requests.recv_timeout(wait).expect("the next message");
    let fields: Vec<(String, String)> = serde_html_form::from_str(&body).unwrap();
    assert!(fields.contains(&("message".to_owned(), incident)), "{body}");
}
