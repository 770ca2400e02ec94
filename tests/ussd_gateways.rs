//! Every USSD wire format an operator can plug in, declared with `[[gateway]]`, walked through
//! a whole incident report against a real server: what the phone shows at each hop, and the
//! response that reaches the outbox under the gateway's name.

mod common;

use common::server::{HttpReply, Options, Server};
use serde_json::{Value, json};

const CONFIG: &str = r#"
[[gateway]]
name = "hubtel-gh"
adapter = "hubtel"
country = "GH"
auth = { none = true }

[[gateway]]
name = "hubtel-old"
adapter = "hubtel-legacy"
country = "GH"
auth = { none = true }

[[gateway]]
name = "airtel-cd"
adapter = "comviva-freeflow"
budget = 160
auth = { none = true }

[[gateway]]
name = "infobip"
adapter = "infobip"
auth = { none = true }

[[gateway]]
name = "nalo"
adapter = "nalo"
country = "GH"
auth = { none = true }

[[gateway]]
name = "aggregator-a"
adapter = "generic"
auth = { none = true }
[gateway.generic]
method = "get"
input = "cumulative"
fields = { session_id = "SESSIONID", phone_number = "MSISDN", service_code = "USSDCODE", input = "INPUT" }

[[gateway]]
name = "aggregator-b"
adapter = "generic"
auth = { none = true }
[gateway.generic]
method = "post"
input = "latest"
fields = { session_id = "sid", phone_number = "from", service_code = "code", input = "msg" }
continue_prefix = "1|"
end_prefix = "0|"
"#;

fn server() -> Server {
    Server::start_with(Options {
        config: Some(CONFIG.into()),
        ..Options::default()
    })
}

/// The kufatilia report every gateway walks: French, consent, violence, today, South Kivu,
/// Mwenga, site skipped, 3 people, no contact.
const ANSWERS: [&str; 9] = ["1", "1", "2", "1", "1", "Mwenga", "000", "3", "2"];

/// A phone behind one gateway: opens the session, then answers; returns each screen and
/// whether it ends the session.
trait Phone {
    fn open(&mut self) -> (String, bool);
    fn answer(&mut self, input: &str) -> (String, bool);
}

fn json_post(server: &Server, path: &str, method: &str, body: &Value) -> HttpReply {
    let body = body.to_string();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    server.raw(req.as_bytes())
}

fn ok_json(reply: HttpReply) -> Value {
    assert_eq!(reply.status, 200, "{reply:?}");
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{e}: {}", reply.body))
}

struct Hubtel<'s> {
    server: &'s Server,
    legacy: bool,
    seq: u32,
}

impl Hubtel<'_> {
    fn send(&mut self, kind: &str, message: &str) -> (String, bool) {
        self.seq += 1;
        let (path, kind) = if self.legacy {
            let mut k = kind.to_owned();
            k[..1].make_ascii_uppercase();
            ("/ussd/hubtel-old", k)
        } else {
            ("/ussd/hubtel-gh", kind.to_owned())
        };
        let r = ok_json(json_post(
            self.server,
            path,
            "POST",
            &json!({"SessionId": format!("hub-{}", self.legacy), "ServiceCode": "384*1", "Type": kind,
                    "Message": message, "Operator": "mtn", "Platform": "USSD", "Mobile": if self.legacy { "233246000002" } else { "233246000001" },
                    "ClientState": "", "Sequence": self.seq}),
        ));
        let end = r["Type"].as_str().unwrap().eq_ignore_ascii_case("release");
        (r["Message"].as_str().unwrap().to_owned(), end)
    }
}

impl Phone for Hubtel<'_> {
    fn open(&mut self) -> (String, bool) {
        self.send("initiation", "*384*1#")
    }
    fn answer(&mut self, input: &str) -> (String, bool) {
        self.send("response", input)
    }
}

struct Comviva<'s> {
    server: &'s Server,
}

impl Comviva<'_> {
    fn send(&self, input: &str) -> (String, bool) {
        let q = serde_html_form::to_string([
            ("SessionID", "4430918277"),
            ("MSISDN", "243990000005"),
            ("MSC", "243990000900"),
            ("input", input),
        ])
        .unwrap();
        let r = self.server.get(&format!("/ussd/airtel-cd?{q}"));
        assert_eq!(r.status, 200, "{r:?}");
        let end = r.header("freeflow").expect("a Freeflow header") == "FB";
        (r.body, end)
    }
}

impl Phone for Comviva<'_> {
    fn open(&mut self) -> (String, bool) {
        self.send("384*1")
    }
    fn answer(&mut self, input: &str) -> (String, bool) {
        self.send(input)
    }
}

struct Infobip<'s> {
    server: &'s Server,
}

impl Infobip<'_> {
    fn send(&self, verb: &str, text: &str) -> (String, bool) {
        let r = ok_json(json_post(
            self.server,
            &format!("/gateways/infobip/session/5548721/{verb}"),
            "POST",
            &json!({"msisdn": "243810000004", "imsi": "630010000000004", "text": text,
                    "shortCode": "*384*1#", "language": null, "optional": null, "ussdGwId": "live2"}),
        ));
        (
            r["ussdMenu"].as_str().unwrap().to_owned(),
            r["shouldClose"].as_bool().unwrap(),
        )
    }
}

impl Phone for Infobip<'_> {
    fn open(&mut self) -> (String, bool) {
        self.send("start", "*384*1#")
    }
    fn answer(&mut self, input: &str) -> (String, bool) {
        self.send("response", input)
    }
}

struct Nalo<'s> {
    server: &'s Server,
}

impl Nalo<'_> {
    fn send(&self, data: &str, dial: bool) -> (String, bool) {
        let r = ok_json(json_post(
            self.server,
            "/ussd/nalo",
            "POST",
            &json!({"USERID": "NALOTest", "MSISDN": "233244000006", "USERDATA": data,
                    "MSGTYPE": dial, "NETWORK": "MTN", "SESSIONID": "16590115252429751"}),
        ));
        assert_eq!(r["USERID"], "NALOTest", "replies repeat the user id");
        (
            r["MSG"].as_str().unwrap().to_owned(),
            !r["MSGTYPE"].as_bool().unwrap(),
        )
    }
}

impl Phone for Nalo<'_> {
    fn open(&mut self) -> (String, bool) {
        self.send("*384*1#", true)
    }
    fn answer(&mut self, input: &str) -> (String, bool) {
        self.send(input, false)
    }
}

/// The first generic aggregator: GET, cumulative input joined by `*`, `CON`/`END`.
struct GenericA<'s> {
    server: &'s Server,
    typed: Vec<String>,
}

impl GenericA<'_> {
    fn send(&self) -> (String, bool) {
        let q = serde_html_form::to_string([
            ("SESSIONID", "634073548"),
            ("USSDCODE", "*384*1#"),
            ("MSISDN", "243810000008"),
            ("INPUT", self.typed.join("*").as_str()),
        ])
        .unwrap();
        let r = self.server.get(&format!("/ussd/aggregator-a?{q}"));
        assert_eq!(r.status, 200, "{r:?}");
        match r.body.split_once(' ') {
            Some(("CON", s)) => (s.to_owned(), false),
            Some(("END", s)) => (s.to_owned(), true),
            _ => panic!("{}", r.body),
        }
    }
}

impl Phone for GenericA<'_> {
    fn open(&mut self) -> (String, bool) {
        self.send()
    }
    fn answer(&mut self, input: &str) -> (String, bool) {
        self.typed.push(input.to_owned());
        self.send()
    }
}

/// The second: POST, other field names, only the latest input, `1|`/`0|` replies.
struct GenericB<'s> {
    server: &'s Server,
}

impl GenericB<'_> {
    fn send(&self, msg: &str) -> (String, bool) {
        let r = self.server.post_form(
            "/ussd/aggregator-b",
            &[
                ("sid", "b-77"),
                ("code", "*384*1#"),
                ("from", "+243810000009"),
                ("msg", msg),
            ],
        );
        assert_eq!(r.status, 200, "{r:?}");
        match r.body.split_once('|') {
            Some(("1", s)) => (s.to_owned(), false),
            Some(("0", s)) => (s.to_owned(), true),
            _ => panic!("{}", r.body),
        }
    }
}

impl Phone for GenericB<'_> {
    fn open(&mut self) -> (String, bool) {
        self.send("")
    }
    fn answer(&mut self, input: &str) -> (String, bool) {
        self.send(input)
    }
}

/// Walks the report; returns the last screen.
fn report(phone: &mut dyn Phone) -> String {
    let (first, end) = phone.open();
    assert!(!end);
    assert!(first.starts_with("Langue / Lugha / Monoko:"), "{first}");
    let mut last = first;
    for (i, a) in ANSWERS.iter().enumerate() {
        let (screen, end) = phone.answer(a);
        assert_eq!(end, i == ANSWERS.len() - 1, "after {a}: {screen}");
        last = screen;
    }
    assert!(
        last.starts_with("Merci. Votre signalement est enregistré"),
        "{last}"
    );
    last
}

#[test]
fn every_adapter_carries_a_whole_report() {
    let server = server();
    report(&mut Hubtel {
        server: &server,
        legacy: false,
        seq: 0,
    });
    report(&mut Hubtel {
        server: &server,
        legacy: true,
        seq: 0,
    });
    report(&mut Comviva { server: &server });
    report(&mut Infobip { server: &server });
    report(&mut Nalo { server: &server });
    report(&mut GenericA {
        server: &server,
        typed: Vec::new(),
    });
    report(&mut GenericB { server: &server });
    let responses = server.responses();
    let gateways: Vec<&str> = responses
        .iter()
        .map(|r| r["gateway"].as_str().unwrap())
        .collect();
    assert_eq!(
        gateways,
        [
            "hubtel-gh",
            "hubtel-old",
            "airtel-cd",
            "infobip",
            "nalo",
            "aggregator-a",
            "aggregator-b"
        ]
    );
    for r in &responses {
        assert_eq!(r["channel"], "ussd");
        assert_eq!(r["answers"]["incident"]["value"], "violence");
        assert_eq!(r["answers"]["territory"]["value"], "Mwenga");
        assert_eq!(r["answers"]["people"]["value"], 3);
    }
    // Seven reports from seven different phones: seven pseudonyms.
    let mut who: Vec<&str> = responses
        .iter()
        .map(|r| r["respondent"].as_str().unwrap())
        .collect();
    who.sort();
    who.dedup();
    assert_eq!(who.len(), 7);
}

#[test]
fn a_repeated_sequence_number_changes_nothing() {
    let server = server();
    let mut phone = Hubtel {
        server: &server,
        legacy: false,
        seq: 0,
    };
    phone.open();
    let (consent, _) = phone.answer("1");
    // The gateway sends the same request again (same sequence): the same screen.
    phone.seq -= 1;
    let (again, _) = phone.answer("1");
    assert_eq!(consent, again);
    let (incident, _) = phone.answer("1");
    assert!(
        incident.starts_with("Que voulez-vous signaler?"),
        "{incident}"
    );
}
