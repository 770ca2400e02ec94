//! Conversations by SMS against a real server, as Africa's Talking calls it: each inbound
//! message a form POST acknowledged empty, each reply read at a fake Africa's Talking SMS API
//! (a real local HTTP server) as the respondent's phone would receive it.

mod common;

use std::time::Duration;

use common::server::Server;
use common::sms_api::{ApiMode, SmsApi};

const SHORT_CODE: &str = "20880";

/// The SMS gateway is declared, never there by default.
const CONFIG: &str = "[[gateway]]\nname = \"africastalking\"\nadapter = \"africastalking-sms\"\n";

/// A server whose replies go to `api`, with a short backoff so that an outage test is quick.
fn start(api: &SmsApi) -> Server {
    start_with(api, common::server::Options::default())
}

fn start_with(api: &SmsApi, mut opts: common::server::Options) -> Server {
    opts.config = Some(format!(
        "{CONFIG}\n[sms.send]\nbackoff_ms = 50\nbackoff_max_ms = 400\n"
    ));
    opts.env.extend([
        ("SAUTI_AT_SMS_URL".to_owned(), api.url()),
        ("SAUTI_AT_USERNAME".to_owned(), "sauti-test".to_owned()),
        ("SAUTI_AT_API_KEY".to_owned(), "at-key-123".to_owned()),
    ]);
    Server::start_with(opts)
}

/// A respondent texting the short code; every message gets a new id unless resent.
struct Texter<'s> {
    server: &'s Server,
    api: &'s SmsApi,
    number: &'s str,
    sent: u32,
    read: usize,
}

impl<'s> Texter<'s> {
    fn new(server: &'s Server, api: &'s SmsApi, number: &'s str) -> Texter<'s> {
        Texter {
            server,
            api,
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

    /// Texts `text`; returns what the respondent receives.
    fn text(&mut self, text: &str) -> String {
        self.sent += 1;
        self.post(text, &format!("{}-{}", self.number, self.sent));
        self.received()
    }

    /// Texts the last message again, as a gateway retrying its callback would (same id).
    fn resend(&self, text: &str) {
        self.post(text, &format!("{}-{}", self.number, self.sent));
    }

    /// The next message the API took for this respondent (waits for it).
    fn received(&mut self) -> String {
        self.read += 1;
        let message = self.api.nth_to(self.number, self.read);
        let last = self
            .api
            .accepted()
            .into_iter()
            .rfind(|s| s.to == self.number)
            .unwrap();
        assert_eq!(last.from, SHORT_CODE);
        assert_eq!(last.username, "sauti-test");
        assert_eq!(last.api_key, "at-key-123");
        message
    }

    /// Every message received so far is the one expected: nothing more arrives.
    fn received_nothing_more(&self) {
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(
            self.api.accepted_to(self.number).len(),
            self.read,
            "{:?}",
            self.api.accepted_to(self.number)
        );
    }
}

/// No file of the data directory holds the raw number (the outbox seals it).
fn assert_no_raw_number(server: &Server, digits: &str) {
    for entry in walk(&server.data_dir) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(digits),
            "{} holds the raw number",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
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
    let api = SmsApi::start();
    let server = start(&api);
    let mut phone = Texter::new(&server, &api, "+243810000101");
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
    assert!(thanks.starts_with("Merci"), "{thanks}");
    let response = &server.responses()[0];
    assert_eq!(server.responses().len(), 1);
    assert_eq!(response["channel"], "sms");
    assert_eq!(response["status"], "complete", "{response}");
    assert_eq!(response["answers"]["incident"]["value"], "violence");
    assert_eq!(response["answers"]["site"]["value"], "Nyabibwe");
    // The receipt the respondent got is the response's.
    let id = uuid::Uuid::parse_str(response["id"].as_str().unwrap()).unwrap();
    let receipt = sauti::response::receipt_of(&id);
    assert!(thanks.contains(&receipt), "{thanks} / {receipt}");
    phone.received_nothing_more();
    // The number reached the API, and nothing kept on disk: the outbox holds it sealed.
    assert!(!response.to_string().contains("810000101"));
    assert_no_raw_number(&server, "810000101");
}

#[test]
fn a_whole_report_in_swahili_and_one_in_lingala() {
    let api = SmsApi::start();
    let server = start(&api);
    let mut sw = Texter::new(&server, &api, "+243810000111");
    let mut ln = Texter::new(&server, &api, "+243810000112");
    assert!(sw.text("ripoti").contains("Unakubali?"));
    let languages = ln.text("KUFATILIA");
    assert!(languages.contains("3. "), "{languages}");
    assert!(ln.text("3").contains("Ondimi?"));
    // Two conversations at once, each in its own language.
    assert!(sw.text("1").contains("Unataka kuripoti nini?"));
    assert!(ln.text("1").contains("Olingi koyebisa nini?"));
    let wrong = sw.text("x");
    assert!(wrong.contains("Unataka kuripoti nini?"), "{wrong}");
    assert_ne!(wrong, "Unataka kuripoti nini?", "the reason comes first");
    assert!(sw.text("3").contains("Tukio lilitokea lini?"));
    assert!(ln.text("8").contains("Likambo esalemaki ntango nini?"));
    assert!(sw.text("0").contains("Unataka kuripoti nini?"), "back");
    assert!(sw.text("3").contains("Tukio lilitokea lini?"));
    assert!(sw.text("1").contains("Katika jimbo gani?"));
    assert!(ln.text("1").contains("Na etuka (province) nini?"));
    assert!(sw.text("2").contains("Eneo (territoire) au mji gani?"));
    assert!(ln.text("3").contains("Teritware to engumba nini?"));
    assert!(sw.text("Masisi").contains("Jina la mgodi?"));
    assert!(ln.text("Mambasa").contains("Nkombo ya esika ya mine?"));
    sw.text("Rubaya");
    ln.text("Mungbere");
    sw.text("2");
    ln.text("4");
    let asante = sw.text("2");
    assert!(asante.starts_with("Asante."), "{asante}");
    let matondi = ln.text("2");
    assert!(matondi.starts_with("Matondi."), "{matondi}");
    let responses = server.responses();
    assert_eq!(responses.len(), 2);
    let of = |lang: &str| responses.iter().find(|r| r["language"] == lang).unwrap();
    assert_eq!(of("sw")["answers"]["incident"]["value"], "illegal_tax");
    assert_eq!(of("sw")["answers"]["site"]["value"], "Rubaya");
    assert_eq!(of("ln")["answers"]["incident"]["value"], "roadblock");
    assert_eq!(of("ln")["answers"]["people"]["value"], 4);
    sw.received_nothing_more();
    ln.received_nothing_more();
}

#[test]
fn ripoti_starts_in_swahili_and_stop_ends_the_conversation() {
    let api = SmsApi::start();
    let server = start(&api);
    let mut phone = Texter::new(&server, &api, "+243810000102");
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
    let stopped = phone.text("Arrêt");
    assert!(stopped.contains("vous ne recevrez plus"), "{stopped}");
    assert!(server.responses().is_empty());
}

#[test]
fn a_message_delivered_twice_is_taken_once() {
    let api = SmsApi::start();
    let server = start(&api);
    let mut phone = Texter::new(&server, &api, "+243810000103");
    phone.text("ALERTE");
    let incident = phone.text("1");
    assert!(incident.contains("Que voulez-vous signaler?"), "{incident}");
    // The gateway delivers the same message (same id) again: nothing advances, and its reply
    // (queued again under the same id) is not sent twice.
    phone.resend("1");
    phone.received_nothing_more();
    let when = phone.text("1");
    assert!(when.contains("Quand cela s'est-il passé?"), "{when}");
    // A keyword delivered twice does not start the survey again on the second delivery.
    let consent = phone.text("ALERTE");
    assert!(consent.contains("Acceptez-vous?"), "{consent}");
    phone.resend("ALERTE");
    phone.received_nothing_more();
    let incident = phone.text("1");
    assert!(incident.contains("Que voulez-vous signaler?"), "{incident}");
}

#[test]
fn replies_wait_out_an_api_outage_and_a_crash_and_are_sent_once_each() {
    let api = SmsApi::start();
    // Sessions in Redis, so that the conversation outlives the crash (embedded mode keeps
    // them in memory); the replies' outbox is the data directory's in both modes.
    let mut server = start_with(&api, common::redis::options());
    api.set_mode(ApiMode::Status(503));
    let number = "+243810000104";
    Texter::new(&server, &api, number).post("ALERTE", "down-1");
    // Refused, retried...
    api.wait_for("retries while down", 20, |r| r.len() >= 3);
    // ...and the API drops connections for a while, then the process is killed.
    api.set_mode(ApiMode::Drop);
    api.wait_for("attempts while dropping", 20, |r| r.len() >= 5);
    server.kill9();
    server.restart();
    let mut phone = Texter::new(&server, &api, number);
    phone.sent = 1;
    api.set_mode(ApiMode::Up);
    let consent = phone.received();
    assert!(consent.contains("Acceptez-vous?"), "{consent}");
    // The respondent goes on; each reply goes out once.
    let incident = phone.text("1");
    assert!(incident.contains("Que voulez-vous signaler?"), "{incident}");
    phone.received_nothing_more();
    assert_eq!(api.accepted_to(number).len(), 2);
    // Every attempt carried the same message.
    let attempts: Vec<_> = api
        .received()
        .into_iter()
        .filter(|s| s.message == consent)
        .collect();
    assert!(attempts.len() >= 6, "{}", attempts.len());
    assert_eq!(attempts.iter().filter(|s| s.accepted).count(), 1);
}

#[test]
fn a_number_the_api_refuses_for_good_is_a_dead_letter_not_a_retry_loop() {
    let api = SmsApi::start();
    let server = start(&api);
    let number = "+243810000105";
    api.refuse_number(number, 403, "InvalidPhoneNumber");
    let phone = Texter::new(&server, &api, number);
    phone.post("ALERTE", "refused-1");
    api.wait_for("the attempt", 20, |r| !r.is_empty());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(api.received().len(), 1, "not retried");
    let dead = std::fs::read_to_string(server.data_dir.join("outbox/sms-outbox.dead"))
        .expect("a dead letter");
    assert!(dead.contains("InvalidPhoneNumber"), "{dead}");
    assert!(!dead.contains("810000105"), "{dead}");
    // The operator sees it with the other queues, and can put it back once fixed.
    let outbox = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sauti"))
            .current_dir(server.dir.path())
            .arg("outbox")
            .args(args)
            .arg("--data-dir")
            .arg(&server.data_dir)
            .arg("--listen")
            .arg(server.addr.to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let status = outbox(&["status", "--sink", "sms-outbox"]);
    assert!(status.contains("sms-outbox"), "{status}");
    assert!(status.contains("dead 1"), "{status}");
    let listed = outbox(&["dead"]);
    assert!(listed.contains("InvalidPhoneNumber"), "{listed}");
    assert!(!listed.contains("810000105"), "{listed}");
}

#[test]
fn sent_messages_leave_the_outbox_file_and_are_not_sent_again_after_a_restart() {
    let api = SmsApi::start();
    let mut opts = common::server::Options::default();
    opts.env.extend([
        ("SAUTI_AT_SMS_URL".to_owned(), api.url()),
        ("SAUTI_AT_API_KEY".to_owned(), "at-key-123".to_owned()),
    ]);
    // Compacted as soon as anything was sent.
    opts.config = Some(format!("{CONFIG}\n[sms.send]\ncompact_bytes = 1\n"));
    let mut server = Server::start_with(opts);
    let numbers: Vec<String> = (0..5).map(|i| format!("+24381000020{i}")).collect();
    for (i, n) in numbers.iter().enumerate() {
        let phone = Texter::new(&server, &api, n);
        phone.post("ALERTE", &format!("c-{i}"));
    }
    api.wait_for("five replies", 20, |r| {
        r.iter().filter(|s| s.accepted).count() == 5
    });
    assert!(server.logs_eventually_contain("sms-outbox.jsonl", 10));
    let file = server.data_dir.join("sms-outbox.jsonl");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&file).map_or(1, |m| m.len()) > 0 {
        assert!(std::time::Instant::now() < deadline, "never compacted");
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill9();
    server.restart();
    let phone = Texter::new(&server, &api, &numbers[0]);
    phone.post("1", "c-next");
    api.wait_for("the next reply", 20, |r| {
        r.iter().filter(|s| s.accepted).count() >= 6
    });
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(api.accepted().len(), 6, "nothing sent twice");
}

/// A flow may give its SMS conversations a life of their own: three days here, where the
/// gateway's default is one.
#[test]
fn a_flow_sets_how_long_its_sms_conversations_wait() {
    let dir = tempfile::tempdir().unwrap();
    let flow = std::fs::read_to_string(format!("{}/flows/kufatilia.toml", common::REPO)).unwrap();
    let flow = flow.replacen("\n[lists.", "\nsms_session_ttl_secs = 259200\n\n[lists.", 1);
    std::fs::write(dir.path().join("kufatilia.toml"), flow).unwrap();
    let redis = common::redis::RedisServer::start();
    let api = SmsApi::start();
    let mut opts = common::redis::options_on(&redis.url(), "ttl");
    opts.flows = dir.path().to_path_buf();
    let server = start_with(&api, opts);
    let mut phone = Texter::new(&server, &api, "+243810000120");
    assert!(phone.text("ALERTE").contains("Acceptez-vous?"));
    let keys = common::redis::command(redis.port, "KEYS ttl:*:s:*").unwrap();
    let key = keys
        .lines()
        .find(|l| l.starts_with("ttl:"))
        .unwrap_or_else(|| panic!("a session key: {keys}"))
        .to_owned();
    let pttl: i64 = common::redis::command(redis.port, &format!("PTTL {key}"))
        .unwrap()
        .trim()
        .trim_start_matches(':')
        .parse()
        .unwrap();
    assert!(pttl > 2 * 24 * 3600 * 1000, "{pttl}");
    assert!(pttl <= 3 * 24 * 3600 * 1000, "{pttl}");
}
