//! SMS against a real server beyond Africa's Talking's inbound messages: the generic HTTP SMS
//! adapter (its own field names, a JSON body), delivery reports, and what protects respondents
//! (a per-number rate, a cap of replies per conversation).

mod common;

use std::time::Duration;

use common::server::{HttpReply, Options, Server};
use common::sms_api::SmsApi;
use serde_json::{Value, json};

const SHORT_CODE: &str = "20880";

/// A generic aggregator posting JSON under its own names; `/sms/smsco`. Its send API (the
/// test's fake, `SEND_URL` replaced) takes a form with a key in a header of its own.
const GENERIC: &str = r#"
[[gateway]]
name = "smsco"
adapter = "generic-sms"

[gateway.generic_sms]
method = "post"
body = "json"
fields = { from = "msisdn", to = "shortcode", text = "message", message_id = "msgId" }

[gateway.generic_sms.send]
url = "SEND_URL"
body = "form"
fields = { to = "to", from = "from", text = "message" }
extra = { username = "smsco" }
auth = { header = "apiKey", env = "SAUTI_SMSCO_TOKEN" }
"#;

/// Africa's Talking, its callbacks carrying a token in the query (they cannot set headers).
const AT: &str = r#"
[[gateway]]
name = "africastalking"
adapter = "africastalking-sms"
auth = { token_query = "token", token_env = "SAUTI_AT_SMS_TOKEN" }
"#;
const AT_TOKEN: &str = "at-sms-secret-0123456789";

/// A server and the fake SMS API every reply goes out through (Africa's Talking's, and the
/// generic gateway's send URL).
struct Lab {
    server: Server,
    api: SmsApi,
}

impl std::ops::Deref for Lab {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

fn start(config: &str) -> Lab {
    let api = SmsApi::start();
    let mut opts = Options {
        config: Some(config.replace("SEND_URL", &api.url())),
        ..Default::default()
    };
    opts.env.extend([
        ("SAUTI_AT_SMS_TOKEN".to_owned(), AT_TOKEN.to_owned()),
        ("SAUTI_AT_SMS_URL".to_owned(), api.url()),
        ("SAUTI_AT_API_KEY".to_owned(), "at-key".to_owned()),
        ("SAUTI_SMSCO_TOKEN".to_owned(), "smsco-key".to_owned()),
    ]);
    Lab {
        server: Server::start_with(opts),
        api,
    }
}

/// What the API took for `number`, oldest first, each message's parts joined; `expected`
/// of them are waited for (a little longer, to see that no more come).
fn replies_to(lab: &Lab, number: &str, expected: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lab.api.accepted_to(number).len() < expected && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    let sent = lab.api.accepted();
    for s in sent.iter().filter(|s| s.to == number) {
        assert_eq!(s.from, SHORT_CODE, "{s:?}");
    }
    lab.api.accepted_to(number)
}

/// A respondent whose messages reach Sauti through `send` (one gateway's wire format).
struct Texter<'s> {
    server: &'s Lab,
    number: &'static str,
    sent: u32,
    /// Replies read so far.
    read: usize,
    send: fn(&Server, &str, &str, &str) -> HttpReply,
}

impl<'s> Texter<'s> {
    fn generic(server: &'s Lab, number: &'static str) -> Texter<'s> {
        Texter {
            server,
            number,
            sent: 0,
            read: 0,
            send: post_generic,
        }
    }

    fn africastalking(server: &'s Lab, number: &'static str) -> Texter<'s> {
        Texter {
            server,
            number,
            sent: 0,
            read: 0,
            send: post_at,
        }
    }

    /// Sends `text` as message `id`: acknowledged `200`, empty.
    fn post(&self, text: &str, id: &str) {
        let reply = (self.send)(&self.server.server, self.number, text, id);
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body, "");
    }

    /// Sends `text` as a new message; returns the reply queued for it, if any.
    fn text(&mut self, text: &str) -> Option<String> {
        self.sent += 1;
        self.post(text, &format!("{}-{}", self.number, self.sent));
        self.received()
    }

    /// Sends `text`, which must be answered.
    fn ask(&mut self, text: &str) -> String {
        self.text(text)
            .unwrap_or_else(|| panic!("no reply to {text:?}"))
    }

    /// The next reply not read yet (waited for a while).
    fn received(&mut self) -> Option<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while self.server.api.accepted_to(self.number).len() <= self.read
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let next = self
            .server
            .api
            .accepted_to(self.number)
            .get(self.read)
            .cloned()?;
        self.read += 1;
        Some(next)
    }
}

fn post_generic(server: &Server, number: &str, text: &str, id: &str) -> HttpReply {
    let body = json!({"msisdn": number, "shortcode": SHORT_CODE, "message": text, "msgId": id, "receivedAt": "2026-12-01T10:00:00Z"});
    server.request(
        "POST",
        "/sms/smsco",
        Some("application/json"),
        body.to_string().as_bytes(),
    )
}

fn post_at(server: &Server, number: &str, text: &str, id: &str) -> HttpReply {
    server.post_form(
        &format!("/sms/africastalking?token={AT_TOKEN}"),
        &[
            ("from", number),
            ("to", SHORT_CODE),
            ("text", text),
            ("date", "2026-12-01 10:00:00"),
            ("id", id),
            ("linkId", "link-1"),
        ],
    )
}

#[test]
fn a_whole_report_through_the_generic_adapter_with_its_own_json_names() {
    let server = start(GENERIC);
    let mut phone = Texter::generic(&server, "+243810000301");
    let languages = phone.ask("Kufatilia");
    assert!(languages.contains("Langue"), "{languages}");
    let consent = phone.ask("1");
    assert!(consent.contains("Acceptez-vous?"), "{consent}");
    let incident = phone.ask("1");
    assert!(incident.contains("Que voulez-vous signaler?"), "{incident}");
    let wrong = phone.ask("42");
    assert!(wrong.contains("Choix invalide."), "{wrong}");
    let when = phone.ask("2");
    assert!(when.contains("Quand cela s'est-il passé?"), "{when}");
    let province = phone.ask("1");
    assert!(province.contains("Dans quelle province?"), "{province}");
    phone.ask("1");
    phone.ask("Kalehe");
    phone.ask("Nyabibwe");
    phone.ask("3");
    phone.ask("2");
    let responses = server.responses();
    assert_eq!(responses.len(), 1, "{responses:?}");
    let response = &responses[0];
    assert_eq!(response["channel"], "sms");
    assert_eq!(response["gateway"], "smsco", "{response}");
    assert_eq!(response["status"], "complete", "{response}");
    assert_eq!(response["answers"]["site"]["value"], "Nyabibwe");
    assert!(!response.to_string().contains("810000301"));
    assert!(!server.logs().contains("810000301"));
}

#[test]
fn a_message_delivered_twice_through_the_generic_adapter_is_taken_once() {
    let server = start(GENERIC);
    let mut phone = Texter::generic(&server, "+243810000302");
    phone.ask("ALERTE");
    let incident = phone.ask("1");
    assert!(incident.contains("Que voulez-vous signaler?"), "{incident}");
    // The aggregator delivers the same message again: nothing advances, nothing is sent.
    phone.post("1", &format!("{}-{}", phone.number, phone.sent));
    assert_eq!(phone.received(), None);
    let when = phone.ask("1");
    assert!(when.contains("Quand cela s'est-il passé?"), "{when}");
    assert_eq!(replies_to(&server, phone.number, 3).len(), 3);
    // Sent through the gateway's own API, with its key.
    let sent = server.api.accepted();
    assert!(
        sent.iter()
            .all(|s| s.username == "smsco" && s.api_key == "smsco-key"),
        "{sent:?}"
    );
}

#[test]
fn malformed_messages_are_refused_with_a_reason_and_touch_no_session() {
    let server = start(GENERIC);
    let number = "+243810000303";
    let post = |body: &str| {
        server.request(
            "POST",
            "/sms/smsco",
            Some("application/json"),
            body.as_bytes(),
        )
    };
    let message = |fields: Value| {
        let mut m = json!({"msisdn": number, "shortcode": SHORT_CODE, "message": "Kufatilia", "msgId": "m-1"});
        for (k, v) in fields.as_object().unwrap() {
            if v.is_null() {
                m.as_object_mut().unwrap().remove(k);
            } else {
                m[k] = v.clone();
            }
        }
        m.to_string()
    };
    let refused: [(String, u16, &str); 9] = [
        (message(json!({"msisdn": null})), 400, "msisdn"),
        (message(json!({"msgId": null})), 400, "msgId"),
        (message(json!({"shortcode": null})), 400, "shortcode"),
        (message(json!({"msisdn": "not-a-number"})), 400, "msisdn"),
        (message(json!({"msisdn": {"n": 1}})), 400, "msisdn"),
        (
            message(json!({"message": "a".repeat(2000)})),
            400,
            "message",
        ),
        ("[1, 2]".into(), 400, "JSON object"),
        ("{\"msisdn\": ".into(), 400, "malformed"),
        (
            message(json!({"message": "a".repeat(9000)})),
            413,
            "larger than",
        ),
    ];
    for (body, status, reason) in &refused {
        let reply = post(body);
        assert_eq!(reply.status, *status, "{body:.80}: {}", reply.body);
        assert!(reply.body.contains(reason), "{body:.80}: {}", reply.body);
    }
    let form = server.post_form("/sms/smsco", &[("msisdn", number), ("msgId", "m-2")]);
    assert_eq!(form.status, 415, "{}", form.body);
    let get = server.get("/sms/smsco?msisdn=243810000303&shortcode=20880&msgId=3");
    assert_eq!(get.status, 405, "{}", get.body);
    // Nothing was started or queued: an answer now finds no conversation.
    assert_eq!(server.metric("sauti_sessions_started_total", &[]), 0.0);
    assert!(replies_to(&server, number, 0).is_empty());
    let mut phone = Texter::generic(&server, number);
    let not_started = phone.ask("1");
    assert!(
        not_started.contains("Envoyez KUFATILIA pour commencer."),
        "{not_started}"
    );
}

#[test]
fn delivery_reports_are_counted_and_malformed_ones_refused() {
    let server = start(&format!("{AT}{GENERIC}"));
    let path = format!("/sms/africastalking/delivery?token={AT_TOKEN}");
    let report = |fields: &[(&str, &str)]| server.post_form(&path, fields);
    for (id, status) in [
        ("ATXid_1", "Success"),
        ("ATXid_2", "Success"),
        ("ATXid_3", "Failed"),
        ("ATXid_4", "Buffered"),
        ("ATXid_5", "Teleported"),
    ] {
        let reply = report(&[
            ("id", id),
            ("status", status),
            ("phoneNumber", "+243810000304"),
            ("networkCode", "63001"),
            (
                "failureReason",
                if status == "Failed" {
                    "UserInBlackList"
                } else {
                    ""
                },
            ),
            ("retryCount", "0"),
        ]);
        assert_eq!(reply.status, 200, "{status}: {}", reply.body);
    }
    let count = |status: &str| {
        server.metric(
            "sauti_sms_delivery_reports_total",
            &[
                "gateway=\"africastalking\"",
                &format!("status=\"{status}\""),
            ],
        )
    };
    assert_eq!(count("delivered"), 2.0);
    assert_eq!(count("failed"), 1.0);
    assert_eq!(count("buffered"), 1.0);
    // An unknown status is counted, under a label of the closed set.
    assert_eq!(count("other"), 1.0);
    assert!(!server.get("/metrics").body.contains("Teleported"));

    let malformed: [(&[(&str, &str)], &str); 4] = [
        (&[("status", "Success")], "`id`"),
        (&[("id", "ATXid_6")], "`status`"),
        (
            &[
                ("id", "ATXid_7"),
                ("status", "Success"),
                ("phoneNumber", "nobody"),
            ],
            "phoneNumber",
        ),
        (
            &[
                ("id", "ATXid_8"),
                ("status", "Success"),
                ("retryCount", "many"),
            ],
            "retryCount",
        ),
    ];
    for (fields, reason) in malformed {
        let reply = report(fields);
        assert_eq!(reply.status, 400, "{fields:?}: {}", reply.body);
        assert!(reply.body.contains(reason), "{fields:?}: {}", reply.body);
    }
    let json = server.request("POST", &path, Some("application/json"), b"{}");
    assert_eq!(json.status, 415, "{}", json.body);
    assert_eq!(server.metric("sauti_sms_delivery_reports_total", &[]), 5.0);
    // Authenticated like the gateway's messages.
    let rejected = server.metric("sauti_auth_rejected_total", &[]);
    let anonymous = server.post_form(
        "/sms/africastalking/delivery",
        &[("id", "ATXid_9"), ("status", "Success")],
    );
    assert!(matches!(anonymous.status, 401 | 403), "{}", anonymous.body);
    assert_eq!(
        server.metric("sauti_auth_rejected_total", &[]),
        rejected + 1.0
    );
    assert_eq!(server.metric("sauti_sms_delivery_reports_total", &[]), 5.0);
    // A generic gateway takes none unless told how; USSD gateways have no such path.
    let generic = server.post_form("/sms/smsco/delivery", &[("id", "1"), ("status", "Success")]);
    assert_eq!(generic.status, 404, "{}", generic.body);
    let ussd = server.post_form("/ussd/africastalking/delivery", &[("id", "1")]);
    assert_eq!(ussd.status, 404, "{}", ussd.body);
    // The recipient's number reaches no log.
    assert!(
        server.logs_eventually_contain("SMS not delivered", 5),
        "{}",
        server.logs()
    );
    assert!(!server.logs().contains("810000304"), "{}", server.logs());
}

#[test]
fn a_number_sending_too_fast_gets_no_reply_and_others_are_unaffected() {
    // Three messages at once, then one every five seconds.
    let server = start(&format!(
        "[sms]\nrespondent_rate = {{ per_sec = 0.2, burst = 3 }}\n{AT}"
    ));
    let mut flooder = Texter::africastalking(&server, "+243810000305");
    flooder.ask("Kufatilia");
    flooder.ask("1");
    let incident = flooder.ask("1");
    assert!(incident.contains("Que voulez-vous signaler?"), "{incident}");
    // Over its rate: acknowledged, unanswered, and the survey does not move.
    assert_eq!(flooder.text("1"), None);
    assert_eq!(flooder.text("STOP"), None);
    assert_eq!(
        server.metric(
            "sauti_sms_unanswered_total",
            &["gateway=\"africastalking\"", "reason=\"flood\""]
        ),
        2.0
    );
    assert_eq!(
        server.metric("sauti_rate_limited_total", &["limit=\"sms_respondent\""]),
        2.0
    );
    // Another number is served meanwhile.
    let mut other = Texter::africastalking(&server, "+243810000306");
    let languages = other.ask("Kufatilia");
    assert!(languages.contains("Langue"), "{languages}");
    // Once its rate allows again, the flooder is where it was: on the incident question.
    std::thread::sleep(Duration::from_millis(5_500));
    let again = flooder.ask("42");
    assert!(again.contains("Choix invalide."), "{again}");
    assert!(again.contains("Que voulez-vous signaler?"), "{again}");
    assert_eq!(replies_to(&server, flooder.number, 4).len(), 4);
}

#[test]
fn a_conversation_past_its_cap_gets_no_more_replies() {
    let server = start(&format!("[sms]\nmax_messages_per_session = 4\n{AT}"));
    let mut phone = Texter::africastalking(&server, "+243810000307");
    phone.ask("Kufatilia");
    phone.ask("1");
    phone.ask("1");
    let fourth = phone.ask("42");
    assert!(fourth.contains("Choix invalide."), "{fourth}");
    // The cap is reached: no reply to an answer, nor to a keyword starting again.
    assert_eq!(phone.text("1"), None);
    assert_eq!(phone.text("ALERTE"), None);
    assert_eq!(phone.text("STOP"), None);
    assert_eq!(replies_to(&server, phone.number, 4).len(), 4);
    assert_eq!(
        server.metric(
            "sauti_sms_unanswered_total",
            &["gateway=\"africastalking\"", "reason=\"session_cap\""]
        ),
        3.0
    );
    assert!(server.logs_eventually_contain("cap of messages", 5));
    assert!(server.responses().is_empty());
    // Another respondent has a cap of their own.
    let mut other = Texter::africastalking(&server, "+243810000308");
    let consent = other.ask("RIPOTI");
    assert!(consent.contains("Unakubali?"), "{consent}");
}

#[test]
fn generic_delivery_reports_map_the_aggregators_statuses() {
    let server = start(&format!(
        "{GENERIC}\n[gateway.generic_sms.delivery]\nfields = {{ message_id = \"msgId\", status = \"state\" }}\nstatuses = {{ DELIVRD = \"delivered\", UNDELIV = \"failed\" }}\n"
    ));
    let report = |body: Value| {
        server.request(
            "POST",
            "/sms/smsco/delivery",
            Some("application/json"),
            body.to_string().as_bytes(),
        )
    };
    for (id, state) in [
        (1, "DELIVRD"),
        (2, "UNDELIV"),
        (3, "failed"),
        (4, "ENROUTE"),
    ] {
        let reply = report(json!({"msgId": id, "state": state, "msisdn": "+243810000309"}));
        assert_eq!(reply.status, 200, "{state}: {}", reply.body);
    }
    let count = |status: &str| {
        server.metric(
            "sauti_sms_delivery_reports_total",
            &["gateway=\"smsco\"", &format!("status=\"{status}\"")],
        )
    };
    assert_eq!(
        (count("delivered"), count("failed"), count("other")),
        (1.0, 2.0, 1.0)
    );
    let missing = report(json!({"msgId": 5}));
    assert_eq!(missing.status, 400, "{}", missing.body);
    assert!(missing.body.contains("`state`"), "{}", missing.body);
    let form = server.post_form(
        "/sms/smsco/delivery",
        &[("msgId", "6"), ("state", "DELIVRD")],
    );
    assert_eq!(form.status, 415, "{}", form.body);
    assert_eq!(server.metric("sauti_sms_delivery_reports_total", &[]), 4.0);
    assert!(!server.logs().contains("810000309"));
}
