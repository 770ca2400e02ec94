//! Golden transcripts: both shipped flows walked over HTTP, as Africa's Talking sends them, in
//! French, Swahili and Lingala, with wrong answers, back, skip, page turns, hanging up and
//! resuming. Every screen's exact bytes are compared with `tests/golden/<flow>-<lang>.txt`,
//! recorded before the engine was made channel-neutral: a refactor must not change one byte.
//!
//! To record them again after a deliberate change of screens: `SAUTI_BLESS=1 cargo test --test golden`.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::REPO;
use common::server::{AtPhone, Options, Server};

/// A second gateway with a narrow screen, so that the transcripts also cover pagination.
const CONFIG: &str = r#"
[gateways.africastalking]
kind = "africastalking"

[gateways.narrow]
kind = "africastalking"
budget = { gsm7_septets = 100, ucs2_chars = 50 }
"#;

/// One respondent's sessions, written down screen by screen.
struct Transcript {
    text: String,
}

impl Transcript {
    fn new(title: &str) -> Transcript {
        Transcript {
            text: format!("# {title}\n"),
        }
    }

    fn session(&mut self, phone: &AtPhone<'_>) {
        writeln!(
            self.text,
            "\n## session {} on {} via {}",
            phone.session_id, phone.service_code, phone.path
        )
        .unwrap();
    }

    fn dial(&mut self, phone: &mut AtPhone<'_>) {
        let screen = phone.dial();
        self.screen("(dial)", &screen);
    }

    fn send(&mut self, phone: &mut AtPhone<'_>, input: &str) {
        let screen = phone.send(input);
        self.screen(input, &screen);
    }

    fn resend(&mut self, phone: &AtPhone<'_>) {
        let screen = phone.resend();
        self.screen("(gateway retry)", &screen);
    }

    fn screen(&mut self, input: &str, screen: &str) {
        writeln!(self.text, "> {input}\n{screen}\n").unwrap();
    }

    /// Receipts come from random response ids: masked, after checking the one shown is the
    /// one recorded.
    fn mask_receipts(&mut self, server: &Server) {
        for r in server.responses() {
            let id: uuid::Uuid = r["id"].as_str().unwrap().parse().unwrap();
            let receipt = sauti::response::receipt_of(&id);
            assert!(
                self.text.contains(&receipt),
                "receipt {receipt} not shown:\n{}",
                self.text
            );
            self.text = self.text.replace(&receipt, "<RECEIPT>");
        }
    }

    fn compare(self, name: &str) {
        let path = Path::new(REPO)
            .join("tests/golden")
            .join(format!("{name}.txt"));
        if std::env::var_os("SAUTI_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &self.text).unwrap();
            return;
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (record with SAUTI_BLESS=1)", path.display()));
        if golden != self.text {
            let first = golden
                .lines()
                .zip(self.text.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(golden.lines().count().min(self.text.lines().count()));
            panic!(
                "{name}: transcript differs from {} at line {}\n--- golden\n{}\n--- now\n{}",
                path.display(),
                first + 1,
                golden
                    .lines()
                    .skip(first)
                    .take(8)
                    .collect::<Vec<_>>()
                    .join("\n"),
                self.text
                    .lines()
                    .skip(first)
                    .take(8)
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
    }
}

fn server() -> Server {
    Server::start_with(Options {
        config: Some(CONFIG.into()),
        ..Options::default()
    })
}

fn language_key(lang: &str) -> &'static str {
    match lang {
        "fr" => "1",
        "sw" => "2",
        "ln" => "3",
        other => panic!("{other}"),
    }
}

/// An incident report: a wrong language key, page turns on the incident list, back to
/// consent, an answer with `*` and `#`, a gateway retry, then the line drops. The respondent
/// dials again, refuses then accepts the resume offer, skips the site, types a wrong number,
/// goes back, and finishes; the finished session only ever shows its END again.
fn kufatilia(lang: &str, gateway: &str, phone_number: &str) -> (Server, Transcript) {
    let server = server();
    let mut t = Transcript::new(&format!("kufatilia in {lang} via {gateway}"));
    let path = format!("/ussd/{gateway}");
    let mut a = AtPhone::new(
        &server,
        &format!("{lang}-{gateway}-1"),
        "*384*1#",
        phone_number,
    );
    a.path = path.clone();
    t.session(&a);
    t.dial(&mut a);
    t.send(&mut a, "7");
    t.send(&mut a, language_key(lang));
    t.send(&mut a, "1");
    for input in ["98", "99", "0", "1", "42", "98", "9"] {
        t.send(&mut a, input);
    }
    t.send(&mut a, "Askari *7# walichukua dhahabu");
    t.resend(&a);
    for input in ["98", "5", "14032026", "98", "8", "Kalehe centre", "Mwenga"] {
        t.send(&mut a, input);
    }

    let mut b = AtPhone::new(
        &server,
        &format!("{lang}-{gateway}-2"),
        "*384*1#",
        phone_number,
    );
    b.path = path;
    t.session(&b);
    t.dial(&mut b);
    for input in ["3", "1", "000", "douze", "00", "Puits Lukunga", "12", "2"] {
        t.send(&mut b, input);
    }
    t.resend(&b);
    t.mask_receipts(&server);
    (server, t)
}

/// A research survey: a re-ask, back across a `goto`, a multiple choice, then the line
/// drops; dialling again, the respondent starts over and declines; a third call gives three
/// wrong answers and is closed.
fn connectivity(lang: &str, gateway: &str, phone_number: &str) -> (Server, Transcript) {
    let server = server();
    let mut t = Transcript::new(&format!("connectivity in {lang} via {gateway}"));
    let path = format!("/ussd/{gateway}");
    let mut a = AtPhone::new(
        &server,
        &format!("{lang}-{gateway}-1"),
        "*384*2#",
        phone_number,
    );
    a.path = path.clone();
    t.session(&a);
    t.dial(&mut a);
    for input in [
        language_key(lang),
        "1",
        "7",
        "2",
        "2",
        "0",
        "1",
        "3",
        "98",
        "1",
        "2",
    ] {
        t.send(&mut a, input);
    }
    for input in ["9 9", "1 4", "1"] {
        t.send(&mut a, input);
    }

    let mut b = AtPhone::new(
        &server,
        &format!("{lang}-{gateway}-2"),
        "*384*2#",
        phone_number,
    );
    b.path = path;
    t.session(&b);
    t.dial(&mut b);
    t.send(&mut b, "2");
    t.send(&mut b, "2");

    let mut c = AtPhone::new(
        &server,
        &format!("{lang}-{gateway}-3"),
        "*384*2#",
        phone_number,
    );
    c.path = b.path.clone();
    t.session(&c);
    t.dial(&mut c);
    for input in ["5", "6", "7"] {
        t.send(&mut c, input);
    }
    (server, t)
}

macro_rules! golden {
    ($($name:ident: $flow:ident, $lang:literal, $number:literal;)*) => {$(
        #[test]
        fn $name() {
            let (_server, mut t) = $flow($lang, "africastalking", $number);
            let (_narrow, narrow) = $flow($lang, "narrow", $number);
            t.text.push('\n');
            t.text.push_str(&narrow.text);
            t.compare(concat!(stringify!($flow), "-", $lang));
        }
    )*};
}

golden! {
    kufatilia_in_french: kufatilia, "fr", "+243810000101";
    kufatilia_in_swahili: kufatilia, "sw", "+243810000102";
    kufatilia_in_lingala: kufatilia, "ln", "+243810000103";
    connectivity_in_french: connectivity, "fr", "+243810000104";
    connectivity_in_swahili: connectivity, "sw", "+243810000105";
    connectivity_in_lingala: connectivity, "ln", "+243810000106";
}
