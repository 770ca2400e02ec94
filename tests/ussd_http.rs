//! Respondents dialling through Africa's Talking into a real `sauti serve`: whole
//! conversations over HTTP with cumulative `text`, gateway retries, the recorded
//! responses, the respondent's privacy, and crashes.

mod common;

use std::path::{Path, PathBuf};

use common::REPO;
use common::server::{AtPhone, Options, Server};
use serde_json::{Value, json};

const PHONE: &str = "+243810000001";

fn is_uuid_v7(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok_and(|u| u.get_version_num() == 7)
}

fn a_miner_reports_through_africas_talking_in_french_and_the_report_lands_on_disk(opts: Options) {
    let server = Server::start_with(opts);
    let mut phone = AtPhone::new(&server, "ATUid_fr_1", "*384*1#", PHONE);
    assert_eq!(
        phone.dial(),
        "CON Langue / Lugha / Monoko:\n1. Francais\n2. Kiswahili\n3. Lingala"
    );
    assert!(
        phone
            .send("1")
            .starts_with("CON Sauti: signalez un incident")
    );
    // The gateway did not get our answer in time and sends the same hop again:
    // the same screen comes back and the survey does not move on.
    let consent = phone.resend();
    assert!(
        consent.starts_with("CON Sauti: signalez un incident"),
        "{consent}"
    );
    assert!(
        phone
            .send("1")
            .starts_with("CON Que voulez-vous signaler?\n1. Accident")
    );
    assert_eq!(
        phone.send("9"),
        "CON Décrivez l'incident en bref:\n00. Retour"
    );
    // An answer with `*` and `#` (the gateway's own separator) and non-ASCII letters.
    assert!(
        phone
            .send("Soldats *B# à Kamituga, ça brûle")
            .starts_with("CON Quand cela s'est-il passé?")
    );
    assert!(phone.send("2").starts_with("CON Dans quelle province?"));
    assert_eq!(phone.send("1"), "CON Territoire ou ville?\n00. Retour");
    phone.send("Mwenga");
    assert_eq!(
        phone.send("000"),
        "CON Autre: combien de personnes touchées? (0 si aucune)\n00. Retour"
    );
    assert!(phone.send("trois").starts_with("CON Tapez un nombre.\n"));
    phone.send("3");
    let end = phone.send("1");
    assert!(
        end.starts_with("END Merci. Votre signalement est enregistré"),
        "{end}"
    );
    // A retry of the final hop gets the same END and does not record twice.
    assert_eq!(phone.resend(), end);

    let responses = server.responses();
    assert_eq!(responses.len(), 1, "{responses:?}");
    let r = &responses[0];
    assert!(is_uuid_v7(r["id"].as_str().unwrap()), "{r}");
    assert_eq!(r["flow"], "kufatilia");
    assert_eq!(r["flow_version"], 2);
    assert_eq!(r["status"], "complete");
    assert_eq!(r["channel"], "ussd");
    assert_eq!(r["gateway"], "africastalking");
    assert_eq!(r["language"], "fr");
    assert_eq!(r["network"], "63001");
    assert_eq!(r["respondent"].as_str().unwrap().len(), 64);
    let at = |field: &str| {
        let text = r[field].as_str().unwrap();
        assert_eq!(text.len(), "2026-03-14T09:21:07.123Z".len(), "{text}");
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    };
    assert!(at("started_at") <= at("completed_at"));
    assert_eq!(
        r["answers"],
        json!({
            "consent": { "value": "yes", "label": "Oui" },
            "incident": { "value": "other", "label": "Autre" },
            "incident_other": { "value": "Soldats *B# à Kamituga, ça brûle" },
            "when": { "value": "yesterday", "label": "Hier" },
            "province": { "value": "south_kivu", "label": "Sud-Kivu" },
            "territory": { "value": "Mwenga" },
            "site": { "value": null, "skipped": true },
            "people": { "value": 3 },
            "contact": { "value": "yes", "label": "Oui" },
        })
    );
    // The receipt on the END screen is derived from the recorded id.
    let receipt = end.rsplit(' ').next().unwrap();
    assert_eq!(receipt.len(), 4);
    let id = uuid::Uuid::parse_str(r["id"].as_str().unwrap()).unwrap();
    assert_eq!(receipt, sauti::response::receipt_of(&id));
}

fn reports_in_swahili_and_lingala_and_a_survey_in_each_language(opts: Options) {
    let server = Server::start_with(opts);
    let mut sw = AtPhone::new(&server, "ATUid_sw", "*384*1#", "+243810000011");
    sw.dial();
    assert!(sw.send("2").ends_with("1. Ndiyo\n2. Hapana\n0. Rudi"));
    sw.send("1");
    sw.send("2"); // violence
    sw.send("1"); // today
    sw.send("3"); // Ituri
    sw.send("Djugu");
    sw.send("Mongbwalu");
    sw.send("7");
    assert!(sw.send("2").starts_with("END Asante"));

    let mut ln = AtPhone::new(&server, "ATUid_ln", "*384*1#", "+243810000012");
    ln.dial();
    assert!(ln.send("3").ends_with("1. Iyo\n2. Te\n0. Zonga"));
    assert!(ln.send("2").starts_with("END "));

    for (session, lang, label) in [
        ("c-fr", "1", "Oui"),
        ("c-sw", "2", "Ndiyo"),
        ("c-ln", "3", "Iyo"),
    ] {
        let mut c = AtPhone::new(&server, session, "*384*2#", "+243810000013");
        c.dial();
        assert!(c.send(lang).contains(&format!("1. {label}")));
        for input in ["1", "1", "1", "2", "1", "1", "1 3", "4"] {
            c.send(input);
        }
        assert!(c.send("1").starts_with("END "), "{session}");
    }

    let responses = server.responses();
    let langs: Vec<&str> = responses
        .iter()
        .map(|r| r["language"].as_str().unwrap())
        .collect();
    assert_eq!(langs, ["sw", "ln", "fr", "sw", "ln"]);
    assert_eq!(
        responses[0]["answers"]["incident"],
        json!({ "value": "violence", "label": "Violence" })
    );
    // A refusal: counted, with no answer.
    assert_eq!(responses[1]["status"], "declined");
    assert_eq!(responses[1]["answers"], json!({}));
    for r in &responses[2..] {
        assert_eq!(r["flow"], "connectivity");
        assert_eq!(
            r["answers"]["services"]["value"],
            json!(["calls", "mobile_money"])
        );
    }
    // The same phone number is the same pseudonym, whatever the survey.
    assert_eq!(responses[2]["respondent"], responses[4]["respondent"]);
    assert_ne!(responses[0]["respondent"], responses[1]["respondent"]);
}

fn an_unknown_service_code_gets_a_polite_end_in_every_language(opts: Options) {
    let server = Server::start_with(opts);
    let mut phone = AtPhone::new(&server, "ATUid_x", "*999#", PHONE);
    let reply = phone.dial();
    assert!(reply.starts_with("END Code inconnu."), "{reply}");
    assert_eq!(reply.lines().count(), 3, "{reply}");
}

fn the_phone_number_never_reaches_the_file_or_the_logs(opts: Options) {
    let server = Server::start_with(opts);
    let mut phone = AtPhone::new(&server, "ATUid_privacy", "*384*1#", "+243 899 123 456");
    phone.dial();
    for input in [
        "1",
        "1",
        "9",
        "Chef Mbuyi menace les creuseurs",
        "1",
        "2",
        "Masisi",
        "Rubaya",
        "4",
    ] {
        phone.send(input);
    }
    assert!(phone.send("1").starts_with("END "));
    // (In Redis mode the file sink writes the file just after END: wait for it.)
    assert_eq!(server.responses().len(), 1);
    let file = std::fs::read_to_string(server.data_dir.join("responses.jsonl")).unwrap();
    // The threads reading the process's output may lag behind it.
    assert!(
        server.logs_eventually_contain("survey completed", 5),
        "logs were captured: {}",
        server.logs()
    );
    let logs = server.logs();
    for secret in ["899123456", "243899123456", "+243 899", "899 123 456"] {
        assert!(!file.contains(secret), "number in the file: {file}");
        assert!(!logs.contains(secret), "number in the logs: {logs}");
    }
    // Answers stay out of the logs too.
    for answer in ["Chef Mbuyi", "Rubaya", "Masisi"] {
        assert!(file.contains(answer));
        assert!(!logs.contains(answer), "answer in the logs: {answer}");
    }
}

fn a_response_survives_a_crash_right_after_the_end_screen_exactly_once(opts: Options) {
    let mut server = Server::start_with(opts);
    let mut phone = AtPhone::new(&server, "ATUid_crash", "*384*1#", PHONE);
    phone.dial();
    for input in ["1", "2"] {
        phone.send(input);
    }
    let end = phone.send("1");
    assert!(end.starts_with("END "), "{end}");
    server.kill9();
    server.restart();
    let responses = server.responses();
    assert_eq!(responses.len(), 1);
    // A refusal is counted, with no answer.
    assert_eq!(responses[0]["status"], "declined");
    assert_eq!(responses[0]["answers"], serde_json::json!({}));
    // The restarted process appends after it.
    let mut again = AtPhone::new(&server, "ATUid_after", "*384*1#", PHONE);
    again.dial();
    again.send("1");
    assert!(again.send("2").starts_with("END "));
    let ids: Vec<String> = server
        .responses()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
}

fn sigterm_stops_the_server_cleanly(opts: Options) {
    let mut server = Server::start_with(opts);
    let mut phone = AtPhone::new(&server, "ATUid_term", "*384*1#", PHONE);
    phone.dial();
    phone.send("1");
    assert!(phone.send("2").starts_with("END "));
    assert!(server.terminate(), "exit status: {}", server.logs());
    assert_eq!(server.responses().len(), 1);
    assert!(server.logs_eventually_contain("stopped", 5));
}

/// The fixture flow, laid out with the shipped engine texts.
fn fixture_project() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    let locales = dir.path().join("locales");
    std::fs::create_dir_all(&flows).unwrap();
    let src = Path::new(REPO).join("tests/fixtures/at-flow");
    std::fs::copy(src.join("signal.toml"), flows.join("signal.toml")).unwrap();
    for lang in ["fr", "sw", "ln"] {
        std::fs::create_dir_all(locales.join(lang)).unwrap();
        std::fs::copy(
            src.join(lang).join("signal.ftl"),
            locales.join(lang).join("signal.ftl"),
        )
        .unwrap();
        std::fs::copy(
            Path::new(REPO).join("locales").join(lang).join("sauti.ftl"),
            locales.join(lang).join("sauti.ftl"),
        )
        .unwrap();
    }
    (dir, flows, locales)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(REPO)
            .join("tests/fixtures/africastalking-ussd")
            .join(name),
    )
    .unwrap()
}

/// Status, content type and body of a recorded `*.response.http`.
fn recorded(name: &str) -> (u16, String, String) {
    let raw = String::from_utf8(fixture(name)).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let ct = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Type: "))
        .unwrap()
        .to_owned();
    (status, ct, body.to_owned())
}

fn every_africas_talking_fixture_is_answered_as_recorded(opts: Options) {
    let (_dir, flows, locales) = fixture_project();
    let server = Server::start_with(Options {
        flows,
        locales,
        ..opts
    });
    for (request, response) in [
        ("01-dial.request.http", "01-dial.response.http"),
        (
            "02-language-fr.request.http",
            "02-language-fr.response.http",
        ),
        (
            "03-incident-type.request.http",
            "03-incident-type.response.http",
        ),
        ("04-territory.request.http", "04-territory.response.http"),
        (
            "05-injured-end.request.http",
            "05-injured-end.response.http",
        ),
        // A session whose first hop already carries the language choice.
        (
            "10-language-sw.request.http",
            "10-language-sw.response.http",
        ),
        ("20-event-success.request.http", "20-event.response.http"),
        ("21-event-incomplete.request.http", "20-event.response.http"),
        ("22-event-failed.request.http", "20-event.response.http"),
    ] {
        let reply = server.raw(&fixture(request));
        let (status, content_type, body) = recorded(response);
        assert_eq!(reply.status, status, "{request}: {reply:?}");
        assert_eq!(
            reply.header("content-type"),
            Some(content_type.as_str()),
            "{request}"
        );
        if body.starts_with("END ") && body.contains("Code: ") {
            // The receipt code is derived from the new response's id: only its shape is fixed.
            let (text, code) = body.rsplit_once(' ').unwrap();
            let (got_text, got_code) = reply.body.rsplit_once(' ').unwrap();
            assert_eq!(got_text, text, "{request}");
            assert_eq!(got_code.len(), code.len(), "{request}");
        } else {
            assert_eq!(reply.body, body, "{request}");
        }
    }
    let responses = server.responses();
    assert_eq!(responses.len(), 1);
    assert_eq!(
        responses[0]["answers"],
        json!({
            "incident": { "value": "accident", "label": "Accident dans la mine" },
            "territory": { "value": "shabunda", "label": "Shabunda" },
            "injured": { "value": "yes", "label": "Oui" },
        })
    );

    let malformed = server.raw(&fixture("90-malformed-missing-sessionId.request.http"));
    assert_eq!(malformed.status, 400);
    assert!(malformed.body.contains("sessionId"), "{malformed:?}");
}

fn an_answer_containing_the_gateway_separator_survives_intact(opts: Options) {
    let (_dir, flows, locales) = fixture_project();
    let server = Server::start_with(Options {
        flows,
        locales,
        ..opts
    });
    // The same session as fixture 91, walked up to the free-text territory.
    let mut phone = AtPhone::new(
        &server,
        "ATUid_3f1c9a0e5b7d4c2a9e8f6d1b0c3a5e7f",
        "*384*7788#",
        "+243810000001",
    );
    phone.path = "/gateways/africastalking/ussd".into();
    phone.dial();
    phone.send("1");
    phone.send("1");
    assert_eq!(phone.send("5"), "CON Quel territoire?\n00. Retour");
    let reply = server.raw(&fixture("91-input-contains-star.request.http"));
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        "CON Y a-t-il des blessés?\n1. Oui\n2. Non\n0. Retour"
    );
    phone.text = Some("1*1*5*Kamituga*centre".into());
    assert!(phone.send("2").starts_with("END Merci."));
    let responses = server.responses();
    assert_eq!(
        responses[0]["answers"]["territory_other"],
        json!({ "value": "Kamituga*centre" })
    );
    assert_eq!(responses[0]["answers"]["injured"]["value"], "no");
}

fn run_serve(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sauti"));
    cmd.current_dir(dir.path())
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(args)
        .env_remove("SAUTI_PSEUDONYM_KEY")
        .env_remove("SAUTI_PROFILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn production_refuses_to_start_without_a_pseudonym_key_and_says_how_to_set_one() {
    let flows = Path::new(REPO).join("flows");
    let locales = Path::new(REPO).join("locales");
    let (ok, stderr) = run_serve(
        &[
            "--profile",
            "prod",
            "--flows",
            flows.to_str().unwrap(),
            "--locales",
            locales.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!ok);
    assert!(stderr.contains("SAUTI_PSEUDONYM_KEY"), "{stderr}");
}

#[test]
fn serve_refuses_broken_flows_with_the_messages_of_check() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::copy(
        Path::new(REPO).join("tests/broken/loop.toml"),
        flows.join("loop.toml"),
    )
    .unwrap();
    let locales = Path::new(REPO).join("locales");
    let (ok, stderr) = run_serve(
        &[
            "--flows",
            flows.to_str().unwrap(),
            "--locales",
            locales.to_str().unwrap(),
        ],
        &[("SAUTI_PSEUDONYM_KEY", "0123456789abcdef0123")],
    );
    assert!(!ok);
    assert!(
        stderr.contains("loop.toml:14:6: step `l1` is in a loop with no way out"),
        "{stderr}"
    );
}

fn responses_have_the_documented_fields(opts: Options) {
    let server = Server::start_with(opts);
    let mut phone = AtPhone::new(&server, "ATUid_schema", "*384*1#", PHONE);
    phone.dial();
    phone.send("1");
    phone.send("2");
    let r = &server.responses()[0];
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "schema",
            "id",
            "flow",
            "flow_version",
            "status",
            "channel",
            "gateway",
            "language",
            "respondent",
            "network",
            "started_at",
            "completed_at",
            "answers"
        ]
    );
    assert_eq!(r["schema"], Value::from(1));
}

fn the_same_hop_fired_concurrently_advances_once_and_records_once(opts: Options) {
    let server = Server::start_with(opts);
    let mut phone = AtPhone::new(&server, "ATUid_race", "*384*1#", PHONE);
    phone.dial();
    phone.send("1");
    // Eight copies of the "consent: no" hop at once: one advance, one response.
    phone.text = Some("1*2".into());
    let replies: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(|| phone.resend())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(replies.iter().all(|r| r == &replies[0]), "{replies:?}");
    assert!(replies[0].starts_with("END "));
    assert_eq!(server.responses().len(), 1);
}

fn an_unfinished_survey_is_resumed_where_it_stopped(opts: Options) {
    let server = Server::start_with(opts);
    let number = "+243810000077";
    let mut first = AtPhone::new(&server, "ATUid_drop_1", "*384*1#", number);
    first.dial();
    first.send("2"); // Kiswahili
    first.send("1"); // consent
    first.send("2"); // violence
    assert!(first.send("1").starts_with("CON Katika jimbo gani?")); // today
    // Coverage fades: the network drops the session. The respondent dials again.
    let mut second = AtPhone::new(&server, "ATUid_drop_2", "*384*1#", number);
    assert_eq!(
        second.dial(),
        "CON Ulikuwa umeshaanza maswali haya.\n1. Endelea\n2. Anza upya"
    );
    // Continuing lands on the first unanswered question, in their language.
    assert!(
        second.send("1").starts_with("CON Katika jimbo gani?\n1."),
        "{:?}",
        second.text
    );
    second.send("1");
    second.send("Uvira");
    second.send("000");
    second.send("4");
    let end = second.send("2");
    assert!(end.starts_with("END Asante"), "{end}");
    let responses = server.responses();
    assert_eq!(responses.len(), 1);
    let r = &responses[0];
    assert_eq!(r["language"], "sw");
    assert_eq!(r["answers"]["incident"]["value"], "violence");
    assert_eq!(r["answers"]["when"]["value"], "today");
    assert_eq!(r["answers"]["territory"]["value"], "Uvira");
    // The survey is complete: dialling again starts a new one.
    let mut third = AtPhone::new(&server, "ATUid_drop_3", "*384*1#", number);
    assert!(third.dial().starts_with("CON Langue / Lugha / Monoko:"));
}

fn a_respondent_can_choose_to_start_again(opts: Options) {
    let server = Server::start_with(opts);
    let number = "+243810000078";
    let mut first = AtPhone::new(&server, "ATUid_again_1", "*384*1#", number);
    first.dial();
    first.send("3"); // Lingala
    first.send("1");
    first.send("4");
    let mut second = AtPhone::new(&server, "ATUid_again_2", "*384*1#", number);
    assert_eq!(
        second.dial(),
        "CON Obandaki kala mituna oyo.\n1. Kokoba\n2. Kobanda sika"
    );
    // Starting again: the first question, still in Lingala, earlier answers dropped.
    let consent = second.send("2");
    assert!(consent.ends_with("1. Iyo\n2. Te\n0. Zonga"), "{consent}");
    assert!(second.send("2").starts_with("END "));
    let responses = server.responses();
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0]["status"], "declined");
    assert_eq!(responses[0]["answers"], json!({}));
    assert_eq!(responses[0]["language"], "ln");
    // Another respondent, or another survey, is never offered someone else's answers.
    let mut other = AtPhone::new(&server, "ATUid_again_3", "*384*1#", "+243810000079");
    assert!(other.dial().starts_with("CON Langue"));
}

/// A project with a copy of the shipped flows that a test may edit.
fn editable_project() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    let locales = dir.path().join("locales");
    std::fs::create_dir_all(&flows).unwrap();
    for f in ["kufatilia.toml", "connectivity.toml"] {
        std::fs::copy(Path::new(REPO).join("flows").join(f), flows.join(f)).unwrap();
    }
    for lang in ["fr", "sw", "ln"] {
        std::fs::create_dir_all(locales.join(lang)).unwrap();
        for f in ["sauti.ftl", "kufatilia.ftl", "connectivity.ftl"] {
            std::fs::copy(
                Path::new(REPO).join("locales").join(lang).join(f),
                locales.join(lang).join(f),
            )
            .unwrap();
        }
    }
    (dir, flows, locales)
}

fn sighup(server: &Server) {
    std::process::Command::new("kill")
        .arg("-HUP")
        .arg(server.pid().to_string())
        .status()
        .unwrap();
}

fn a_new_flow_version_is_served_without_breaking_conversations_in_flight(opts: Options) {
    let (_dir, flows, locales) = editable_project();
    let server = Server::start_with(Options {
        flows: flows.clone(),
        locales: locales.clone(),
        ..opts
    });
    let mut before = AtPhone::new(&server, "ATUid_v1", "*384*1#", "+243810000081");
    before.dial();
    before.send("1");
    before.send("1");
    // The researchers publish version 2: the consent question now leads straight to the end
    // when the incident is not described... here simply: a new text, and a new version.
    let toml = std::fs::read_to_string(flows.join("kufatilia.toml"))
        .unwrap()
        .replace("version = 2", "version = 3");
    std::fs::write(flows.join("kufatilia.toml"), toml).unwrap();
    let ftl = std::fs::read_to_string(locales.join("fr/kufatilia.ftl"))
        .unwrap()
        .replace(
            "incident = Que voulez-vous signaler?",
            "incident = Quel incident signalez-vous?",
        );
    std::fs::write(locales.join("fr/kufatilia.ftl"), ftl).unwrap();
    sighup(&server);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !server.logs().contains("flows reloaded") {
        assert!(
            std::time::Instant::now() < deadline,
            "no reload: {}",
            server.logs()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // A new conversation gets version 3.
    let mut after = AtPhone::new(&server, "ATUid_v2", "*384*1#", "+243810000082");
    after.dial();
    after.send("1");
    assert!(
        after
            .send("1")
            .starts_with("CON Quel incident signalez-vous?")
    );
    assert!(after.send("0").starts_with("CON Sauti:"));
    assert!(after.send("2").starts_with("END "));
    // The conversation in flight finishes on version 2.
    assert!(
        before.send("1").starts_with("CON Quand cela"),
        "{:?}",
        before.text
    );
    for input in ["1", "1", "Mwenga", "000", "0"] {
        before.send(input);
    }
    assert!(before.send("2").starts_with("END "));
    let versions: Vec<u64> = server
        .responses()
        .iter()
        .map(|r| r["flow_version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [3, 2]);
}

fn wait_for_reload(server: &Server, times: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.logs().matches("flows reloaded").count() < times {
        assert!(
            std::time::Instant::now() < deadline,
            "no reload: {}",
            server.logs()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn a_flow_changed_without_a_new_version_is_refused_at_reload(opts: Options) {
    let (_dir, flows, locales) = editable_project();
    let server = Server::start_with(Options {
        flows: flows.clone(),
        locales: locales.clone(),
        ..opts
    });
    let mut phone = AtPhone::new(&server, "ATUid_same_v", "*384*1#", PHONE);
    phone.dial();
    phone.send("1");
    // A translation is corrected: same structure, same version. It applies at once, even to
    // the conversation in flight.
    let ftl = std::fs::read_to_string(locales.join("fr/kufatilia.ftl"))
        .unwrap()
        .replace(
            "incident = Que voulez-vous signaler?",
            "incident = Quel incident signalez-vous?",
        );
    std::fs::write(locales.join("fr/kufatilia.ftl"), ftl).unwrap();
    sighup(&server);
    wait_for_reload(&server, 1);
    assert!(
        phone
            .send("1")
            .starts_with("CON Quel incident signalez-vous?")
    );
    // The structure changes without a new version: refused, the served flow is kept.
    let toml = std::fs::read_to_string(flows.join("kufatilia.toml"))
        .unwrap()
        .replace(
            "id = \"site\"\nkind = \"text\"\nmax_len = 60\nrequired = false\n",
            "id = \"site\"\nkind = \"text\"\nmax_len = 60\n",
        );
    std::fs::write(flows.join("kufatilia.toml"), toml).unwrap();
    sighup(&server);
    wait_for_reload(&server, 2);
    assert!(
        server.logs().contains("changed without a new `version`"),
        "{}",
        server.logs()
    );
    for input in ["1", "1", "1", "Mwenga"] {
        phone.send(input);
    }
    // The site is still optional: the old structure is what is served.
    assert!(
        phone.send("000").starts_with("CON Accident: combien"),
        "{:?}",
        phone.text
    );
}

/// The same conversations on every session store.
macro_rules! on_every_store {
    ($($store:ident => $opts:expr),* $(,)?) => {$(
        mod $store {
            use super::*;
        #[test]
        fn a_miner_reports_through_africas_talking_in_french_and_the_report_lands_on_disk() {
            super::a_miner_reports_through_africas_talking_in_french_and_the_report_lands_on_disk($opts)
        }
        #[test]
        fn reports_in_swahili_and_lingala_and_a_survey_in_each_language() {
            super::reports_in_swahili_and_lingala_and_a_survey_in_each_language($opts)
        }
        #[test]
        fn an_unknown_service_code_gets_a_polite_end_in_every_language() {
            super::an_unknown_service_code_gets_a_polite_end_in_every_language($opts)
        }
        #[test]
        fn the_phone_number_never_reaches_the_file_or_the_logs() {
            super::the_phone_number_never_reaches_the_file_or_the_logs($opts)
        }
        #[test]
        fn a_response_survives_a_crash_right_after_the_end_screen_exactly_once() {
            super::a_response_survives_a_crash_right_after_the_end_screen_exactly_once($opts)
        }
        #[test]
        fn every_africas_talking_fixture_is_answered_as_recorded() {
            super::every_africas_talking_fixture_is_answered_as_recorded($opts)
        }
        #[test]
        fn an_answer_containing_the_gateway_separator_survives_intact() {
            super::an_answer_containing_the_gateway_separator_survives_intact($opts)
        }
        #[test]
        fn responses_have_the_documented_fields() {
            super::responses_have_the_documented_fields($opts)
        }
        #[test]
        fn the_same_hop_fired_concurrently_advances_once_and_records_once() {
            super::the_same_hop_fired_concurrently_advances_once_and_records_once($opts)
        }
        #[test]
        fn an_unfinished_survey_is_resumed_where_it_stopped() {
            super::an_unfinished_survey_is_resumed_where_it_stopped($opts)
        }
        #[test]
        fn a_respondent_can_choose_to_start_again() {
            super::a_respondent_can_choose_to_start_again($opts)
        }
        #[test]
        fn a_new_flow_version_is_served_without_breaking_conversations_in_flight() {
            super::a_new_flow_version_is_served_without_breaking_conversations_in_flight($opts)
        }
        #[test]
        fn a_flow_changed_without_a_new_version_is_refused_at_reload() {
            super::a_flow_changed_without_a_new_version_is_refused_at_reload($opts)
        }
        #[test]
        fn sigterm_stops_the_server_cleanly() {
            super::sigterm_stops_the_server_cleanly($opts)
        }
        }
    )*};
}

on_every_store! {
    memory => Options::default(),
    redis => common::redis::options(),
}

#[test]
fn logs_can_be_json_lines_with_pseudonyms_and_flow_ids() {
    let mut opts = Options::default();
    opts.args
        .extend(["--log-format".to_owned(), "json".to_owned()]);
    opts.env.push(("RUST_LOG".into(), "debug".into()));
    let server = Server::start_with(opts);
    let mut phone = AtPhone::new(&server, "ATUid_json", "*384*1#", "+243810000901");
    phone.dial();
    phone.send("1");
    assert!(phone.send("2").starts_with("END "));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !server.logs().contains("survey completed") {
        assert!(std::time::Instant::now() < deadline, "{}", server.logs());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let completed: Value = server
        .logs()
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str::<Value>(l).expect("every log line is JSON"))
        .find(|v| v["message"] == "survey completed")
        .unwrap();
    assert_eq!(completed["flow"], "kufatilia");
    assert_eq!(completed["level"], "DEBUG");
    assert_eq!(completed["respondent"].as_str().unwrap().len(), 16);
    assert!(!server.logs().contains("243810000901"));
}

#[test]
fn at_info_the_traffic_is_summed_up_in_one_line_not_a_line_per_survey() {
    let mut opts = Options {
        config: Some("activity_log_secs = 1\n".into()),
        ..Options::default()
    };
    opts.args
        .extend(["--log-format".to_owned(), "json".to_owned()]);
    opts.env.push(("RUST_LOG".into(), "info".into()));
    let server = Server::start_with(opts);
    for (session, number) in [("ATUid_a1", "+243810000911"), ("ATUid_a2", "+243810000912")] {
        let mut phone = AtPhone::new(&server, session, "*384*1#", number);
        phone.dial();
        phone.send("1");
        assert!(phone.send("2").starts_with("END "));
    }
    // The network's notice that a session ended: counted, not a line of its own.
    let ended = server.post_form(
        "/ussd/africastalking/events",
        &[
            ("sessionId", "ATUid_a1"),
            ("status", "Success"),
            ("hopsCount", "3"),
            ("phoneNumber", "+243810000911"),
        ],
    );
    assert_eq!(ended.status, 200, "{}", ended.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let summary = loop {
        let found = server
            .logs()
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str::<Value>(l).expect("every log line is JSON"))
            .filter(|v| v["message"] == "activity")
            .fold(None::<(u64, u64, u64, u64)>, |sum, v| {
                let (h, s, c, e) = sum.unwrap_or_default();
                Some((
                    h + v["hops"].as_u64().unwrap(),
                    s + v["sessions_started"].as_u64().unwrap(),
                    c + v["surveys_completed"].as_u64().unwrap(),
                    e + v["sessions_ended"].as_u64().unwrap(),
                ))
            });
        if let Some(sum @ (_, _, 2, 1)) = found {
            break sum;
        }
        assert!(std::time::Instant::now() < deadline, "{}", server.logs());
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(
        summary,
        (6, 2, 2, 1),
        "three hops of two sessions, both completed, one said ended by the network"
    );
    let logs = server.logs();
    assert!(
        !logs.contains("survey completed") && !logs.contains("session ended"),
        "a line per survey or session at info: {logs}"
    );
    assert!(
        !logs.contains("24381000091"),
        "a number in the logs: {logs}"
    );
}
