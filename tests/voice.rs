//! The same surveys by phone call: whole calls through Africa's Talking Voice and Twilio,
//! against a real server, in French (a text-to-speech voice), Swahili and Lingala (recordings
//! only), asserting what the caller hears and the response that reaches the outbox.

mod common;

use std::path::Path;

use common::REPO;
use common::server::{AtPhone, Server};
use common::voice::{Call, Lab, LabOptions, PUBLIC_URL, Via, parse_xml, prompts, silent_wav};

const KUFATILIA: &str = "+243900000001";
const CONNECTIVITY: &str = "+243900000002";

fn fr_tts() -> Lab {
    Lab::shipped(&[("fr", "Polly.Lea")], &["sw", "ln"])
}

/// The response of the only survey in the outbox.
fn only_response(server: &Server) -> serde_json::Value {
    let all = server.responses();
    assert_eq!(all.len(), 1, "{all:#?}");
    all.into_iter().next().unwrap()
}

#[test]
fn a_french_caller_reports_an_incident_through_africas_talking() {
    let lab = fr_tts();
    let mut call = Call::dial(
        &lab.server,
        Via::AfricasTalking,
        "ATVId_fr_1",
        "+243810000101",
        KUFATILIA,
    );
    // The language menu: each language's line in that language; never Swahili or Lingala
    // read by the French voice.
    assert_eq!(call.said(), "Pour le français, appuyez sur 1.");
    let played = call.played();
    assert!(
        played
            .iter()
            .any(|u| u == &format!("{PUBLIC_URL}/audio/sw/voice-language.wav")),
        "{played:?}"
    );
    assert!(
        played
            .iter()
            .any(|u| u.ends_with("/audio/ln/voice-digit-3.wav"))
    );
    let keys = call.keys_element().unwrap();
    assert_eq!(keys.attr("numDigits"), Some("1"));
    assert_eq!(keys.attr("finishOnKey"), Some("#"));

    call.press("1");
    assert!(
        call.said().starts_with("Sauti: signalez un incident"),
        "{}",
        call.said()
    );
    assert!(
        call.said()
            .contains("Oui, appuyez sur 1. Non, appuyez sur 2.")
    );
    // Nothing pressed: the question again (on a new turn).
    let before = call.keys_url();
    call.stay_silent();
    assert!(call.said().starts_with("Sauti: signalez un incident"));
    assert_ne!(call.keys_url(), before, "a new turn");
    // `*` repeats.
    call.press("*");
    assert!(call.said().starts_with("Sauti: signalez un incident"));
    call.press("1");
    assert!(call.said().starts_with("Que voulez-vous signaler?"));
    assert!(call.said().contains("Autre, appuyez sur 9."));
    call.press("9");
    // Free text is spoken: a recording after the beep.
    assert!(call.said().contains("Décrivez l'incident en bref:"));
    assert!(call.said().contains("Parlez après le bip."));
    let record = call.reply.find("Record").unwrap();
    assert_eq!(record.attr("finishOnKey"), Some("#"));
    assert_eq!(record.attr("playBeep"), Some("true"));
    call.speak("https://voice.africastalking.example/rec/first.mp3", 7);
    assert!(call.said().starts_with("Quand cela s'est-il passé?"));
    // A wrong key says why, then asks again.
    call.press("7");
    assert!(
        call.said()
            .starts_with("Choix invalide. Quand cela s'est-il passé?"),
        "{}",
        call.said()
    );
    // Back: the description again, said anew.
    call.press("0");
    assert!(call.reply.find("Record").is_some());
    call.speak("https://voice.africastalking.example/rec/second.mp3", 9);
    call.press("1");
    assert!(call.said().starts_with("Dans quelle province?"));
    call.press("1");
    call.speak("https://voice.africastalking.example/rec/territory.mp3", 3);
    // The site is optional: nothing said skips it.
    assert!(call.said().starts_with("Nom du site minier?"));
    call.speak("", 0);
    assert!(
        call.said().contains("combien de personnes touchées?"),
        "{}",
        call.said()
    );
    assert!(
        call.said().starts_with("Autre: combien"),
        "the echoed choice: {}",
        call.said()
    );
    assert_eq!(
        call.keys_element().unwrap().attr("numDigits"),
        None,
        "typed, ended by #"
    );
    call.press("12");
    call.press("2");
    assert!(call.ended(), "{:#?}", call.reply);
    assert!(
        call.said()
            .starts_with("Merci. Votre signalement est enregistré")
    );
    assert_eq!(call.hang_up().status, 200);

    let r = only_response(&lab.server);
    assert_eq!(r["channel"], "voice");
    assert_eq!(r["gateway"], "africastalking");
    assert_eq!(r["language"], "fr");
    assert_eq!(r["status"], "complete");
    let a = &r["answers"];
    assert_eq!(a["incident"]["value"], "other");
    assert_eq!(
        a["incident_other"],
        serde_json::json!({"value": "https://voice.africastalking.example/rec/second.mp3", "audio": true, "duration_secs": null})
    );
    assert_eq!(a["territory"]["audio"], true);
    assert_eq!(a["site"]["skipped"], true);
    assert_eq!(a["people"]["value"], 12);
    assert_eq!(a["contact"]["value"], "no");
    let receipt = call.said();
    assert!(receipt.contains("Code: "), "{receipt}");
}

#[test]
fn a_swahili_caller_hears_only_swahili_recordings_through_twilio() {
    let lab = fr_tts();
    let mut call = Call::dial(
        &lab.server,
        Via::Twilio,
        "CAsw0001",
        "+243810000102",
        KUFATILIA,
    );
    assert_eq!(call.keys_element().unwrap().name, "Gather");
    call.press("2");
    for _ in 0..2 {
        // Every prompt from here on: Swahili recordings, no voice at all.
        assert!(
            call.said().is_empty(),
            "no text-to-speech for Swahili: {:#?}",
            call.reply
        );
        assert!(
            call.played()
                .iter()
                .all(|u| u.starts_with(&format!("{PUBLIC_URL}/audio/sw/"))),
            "{:?}",
            call.played()
        );
        call.press("*");
    }
    assert_eq!(
        call.played()[0],
        format!("{PUBLIC_URL}/audio/sw/consent.wav")
    );
    call.press("1"); // consent
    call.press("1"); // accident
    // A wrong key: the reason, recorded, then the question again.
    call.press("8");
    assert_eq!(
        call.played()[0],
        format!("{PUBLIC_URL}/audio/sw/invalid-option.wav")
    );
    assert_eq!(call.played()[1], format!("{PUBLIC_URL}/audio/sw/when.wav"));
    // Back to the incident, and forward again.
    call.press("0");
    assert_eq!(
        call.played()[0],
        format!("{PUBLIC_URL}/audio/sw/incident.wav")
    );
    call.press("1");
    call.press("2"); // yesterday
    call.press("3"); // Ituri
    call.speak("https://api.twilio.example/Recordings/RE1", 4); // territory
    call.speak("https://api.twilio.example/Recordings/RE2", 2); // site
    // The people question echoes the incident: its label's recording, then the fragment.
    let played = call.played();
    assert_eq!(
        played[0],
        format!("{PUBLIC_URL}/audio/sw/incident-accident.wav")
    );
    assert_eq!(played[1], format!("{PUBLIC_URL}/audio/sw/people.1.wav"));
    call.press("0"); // nobody hurt: `0` is an answer on a typed question
    call.press("1"); // contact: yes
    assert!(call.ended());
    assert!(call.reply.child("Hangup").is_some());
    // The receipt code is spelt with recorded digits and letters.
    let played = call.played();
    assert_eq!(played[0], format!("{PUBLIC_URL}/audio/sw/thanks.1.wav"));
    assert_eq!(played.len(), 5, "{played:?}");
    assert!(played[1..].iter().all(|u| u.contains("/audio/sw/voice-")));
    assert_eq!(call.hang_up().status, 204);

    let r = only_response(&lab.server);
    assert_eq!(r["channel"], "voice");
    assert_eq!(r["gateway"], "twilio");
    assert_eq!(r["language"], "sw");
    assert_eq!(r["answers"]["territory"]["duration_secs"], 4);
    assert_eq!(r["answers"]["people"]["value"], 0);
    assert_eq!(r["answers"]["when"]["value"], "yesterday");
}

/// Walks the connectivity survey, choosing the language at `lang_key`.
fn connectivity_call<'s>(
    server: &'s Server,
    via: Via,
    id: &str,
    from: &str,
    lang_key: &str,
) -> Call<'s> {
    let mut call = Call::dial(server, via, id, from, CONNECTIVITY);
    call.press(lang_key);
    for key in ["1", "1", "1", "1", "2", "1"] {
        call.press(key); // consent, role, phone, type, coverage, mobile money
    }
    // Several choices: their numbers, then `#`.
    assert_eq!(call.keys_element().unwrap().attr("numDigits"), None);
    call.press("134");
    call.press("1"); // internet at the site
    call.press("3"); // spending
    call.press("1"); // would report by phone
    assert!(call.ended(), "{:#?}", call.reply);
    call
}

#[test]
fn the_connectivity_survey_by_call_in_lingala_and_in_french() {
    let lab = fr_tts();
    let call = connectivity_call(
        &lab.server,
        Via::AfricasTalking,
        "ATVId_ln",
        "+243810000103",
        "3",
    );
    assert!(call.said().is_empty());
    assert!(call.played()[0].ends_with("/audio/ln/thanks.wav"));
    let call = connectivity_call(&lab.server, Via::Twilio, "CAfr0001", "+243810000104", "1");
    assert_eq!(call.said(), "Merci pour vos réponses!");
    let responses = lab.server.responses();
    assert_eq!(responses.len(), 2);
    let langs: Vec<_> = responses
        .iter()
        .map(|r| r["language"].as_str().unwrap())
        .collect();
    assert_eq!(langs, ["ln", "fr"]);
    for r in &responses {
        assert_eq!(r["channel"], "voice");
        assert_eq!(
            r["answers"]["services"]["value"],
            serde_json::json!(["calls", "mobile_money", "internet"])
        );
        assert_eq!(r["answers"]["internet_where"]["value"], "at_site");
    }
}

/// French from recordings, where no voice is configured: every part played, nothing said.
#[test]
fn a_french_call_from_recordings_only() {
    let lab = Lab::shipped(&[], &["fr", "sw", "ln"]);
    let call = connectivity_call(
        &lab.server,
        Via::AfricasTalking,
        "ATVId_frrec",
        "+243810000112",
        "1",
    );
    assert!(call.said().is_empty());
    assert_eq!(call.played(), [format!("{PUBLIC_URL}/audio/fr/thanks.wav")]);
    let r = only_response(&lab.server);
    assert_eq!(r["language"], "fr");
    assert_eq!(r["answers"]["spending"]["value"], "1_to_5");
}

#[test]
fn silence_ends_the_call_politely_and_the_survey_resumes_by_call_or_by_ussd() {
    let lab = fr_tts();
    let caller = "+243810000105";
    let mut call = Call::dial(&lab.server, Via::Twilio, "CAsilent1", caller, KUFATILIA);
    call.press("1");
    call.press("1"); // consent
    call.press("2"); // violence
    // Three silences: asked again twice, then a goodbye and the call ends.
    for _ in 0..2 {
        call.stay_silent();
        assert!(call.said().starts_with("Quand cela s'est-il passé?"));
    }
    call.stay_silent();
    assert!(
        call.said().starts_with("Nous n'avons rien entendu."),
        "{}",
        call.said()
    );
    assert!(call.reply.child("Hangup").is_some());
    assert!(lab.server.responses().is_empty(), "nothing is complete");

    // Calling back: the survey where it stopped.
    let mut again = Call::dial(&lab.server, Via::Twilio, "CAsilent2", caller, KUFATILIA);
    assert!(
        again
            .said()
            .starts_with("Vous aviez déjà commencé ce questionnaire."),
        "{}",
        again.said()
    );
    again.press("1");
    assert!(again.said().starts_with("Quand cela s'est-il passé?"));
    assert_eq!(again.hang_up().status, 204);

    // Or by USSD from the same phone.
    let mut phone = AtPhone::new(&lab.server, "ATUid_after_call", "*384*1#", caller);
    let screen = phone.dial();
    assert!(screen.contains("Vous aviez déjà commencé"), "{screen}");
    let screen = phone.send("1");
    assert!(screen.contains("Quand cela s'est-il passé?"), "{screen}");
}

#[test]
fn a_retried_or_late_callback_never_advances_the_call_twice() {
    let lab = fr_tts();
    let mut call = Call::dial(
        &lab.server,
        Via::AfricasTalking,
        "ATVId_retry",
        "+243810000106",
        KUFATILIA,
    );
    call.press("1");
    let consent_url = call.keys_url();
    call.press("1");
    let incident = call.reply.clone();
    // The gateway sends the consent callback again: the incident question again, no answer.
    let fields_url = consent_url;
    call.send(&fields_url, &[("dtmfDigits", "2")]);
    assert_eq!(call.reply, incident);
    call.press("1");
    assert!(call.said().starts_with("Quand cela"));
}

#[test]
fn requests_that_are_not_the_gateways_are_refused_and_touch_nothing() {
    let lab = fr_tts();
    let mut call = Call::dial(
        &lab.server,
        Via::Twilio,
        "CAsig0001",
        "+243810000107",
        KUFATILIA,
    );
    let url = call.keys_url();
    // Signed for another body: refused.
    let good = serde_html_form::to_string([("CallSid", "CAsig0001"), ("Digits", "1")]).unwrap();
    let forged = serde_html_form::to_string([("CallSid", "CAsig0001"), ("Digits", "2")]).unwrap();
    let sig = sauti::gateway::twilio_signature::sign(
        common::voice::TWILIO_TOKEN,
        &format!("{PUBLIC_URL}{url}"),
        &[
            ("CallSid".into(), "CAsig0001".into()),
            ("Digits".into(), "1".into()),
        ],
    );
    assert_ne!(good, forged);
    for (signature, body) in [(Some(sig.as_str()), forged.as_str()), (None, good.as_str())] {
        let mut req = format!(
            "POST {url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(s) = signature {
            req.push_str(&format!("X-Twilio-Signature: {s}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        let reply = lab.server.raw(req.as_bytes());
        assert_eq!(reply.status, 403, "{}", reply.body);
    }
    // The call goes on as if nothing happened.
    call.press("2");
    assert!(call.said().is_empty());
    assert!(call.played()[0].ends_with("/audio/sw/consent.wav"));
    // Malformed requests are 4xx with a reason.
    let bad = lab
        .server
        .post_form("/voice/africastalking", &[("isActive", "1")]);
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("sessionId"), "{}", bad.body);
    let bad = lab.server.post_form(
        "/voice/africastalking",
        &[
            ("isActive", "1"),
            ("sessionId", "x"),
            ("callerNumber", "+243810000001"),
            ("destinationNumber", KUFATILIA),
            ("dtmfDigits", "1<script>"),
        ],
    );
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("dtmfDigits"));
    assert_eq!(lab.server.post_form("/voice/nobody", &[]).status, 404);
    assert_eq!(
        lab.server
            .post_form("/voice/africastalking/elsewhere", &[])
            .status,
        404
    );
}

#[test]
fn a_number_nobody_answers_is_rejected() {
    let lab = fr_tts();
    let call = Call::dial(
        &lab.server,
        Via::AfricasTalking,
        "ATVId_x",
        "+243810000108",
        "+243999999999",
    );
    assert_eq!(call.reply.names(), ["Reject"]);
}

#[test]
fn recordings_are_served_with_their_type_ranges_and_cache_headers() {
    let lab = fr_tts();
    let whole = lab.server.get("/audio/sw/consent.wav");
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-type"), Some("audio/wav"));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert!(whole.header("cache-control").unwrap().contains("max-age"));
    let len: usize = whole.header("content-length").unwrap().parse().unwrap();
    let ranged = lab.server.raw(
        b"GET /audio/sw/consent.wav HTTP/1.1\r\nHost: x\r\nRange: bytes=0-43\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(ranged.status, 206);
    assert_eq!(
        ranged.header("content-range"),
        Some(format!("bytes 0-43/{len}").as_str())
    );
    assert_eq!(ranged.header("content-length"), Some("44"));
    let beyond = lab.server.raw(
        format!("GET /audio/sw/consent.wav HTTP/1.1\r\nHost: x\r\nRange: bytes={len}-\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(beyond.status, 416);
    let etag = whole.header("etag").unwrap();
    let cached = lab.server.raw(
        format!("GET /audio/sw/consent.wav HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(cached.status, 304);
    for path in [
        "/audio/sw/nothing.wav",
        "/audio/../sauti.toml",
        "/audio/sw/../../sauti.toml",
        "/audio/sw%2F..%2Fsauti.toml",
    ] {
        assert_eq!(lab.server.get(path).status, 404, "{path}");
    }
    assert_eq!(
        lab.server.post_form("/audio/sw/consent.wav", &[]).status,
        405
    );
}

#[test]
fn check_voice_names_a_missing_lingala_recording_and_prompts_lists_it() {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("audio");
    let flow = Path::new(REPO).join("flows/kufatilia.toml");
    let locales = Path::new(REPO).join("locales");
    for row in prompts(&flow, &locales, &audio, None) {
        assert_eq!(row.status, "missing");
        if row.language != "fr" {
            silent_wav(&audio.join(&row.file));
        }
    }
    std::fs::remove_file(audio.join("ln/incident-roadblock.wav")).unwrap();
    let config = dir.path().join("sauti.toml");
    std::fs::write(&config, "[voice.tts]\nfr = \"Polly.Lea\"\n").unwrap();
    let rows = prompts(&flow, &locales, &audio, Some(&config));
    let missing: Vec<_> = rows.iter().filter(|r| r.status == "missing").collect();
    assert_eq!(missing.len(), 1, "{missing:#?}");
    assert_eq!(missing[0].language, "ln");
    assert_eq!(missing[0].message, "incident-roadblock");
    assert_eq!(missing[0].file, "ln/incident-roadblock.wav");
    assert_eq!(missing[0].text, "Barrière na nzela");
    assert!(
        rows.iter()
            .filter(|r| r.language == "fr")
            .all(|r| r.status == "tts")
    );
    assert!(
        rows.iter()
            .filter(|r| r.language == "sw")
            .all(|r| r.status == "recorded")
    );

    let check = |config: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sauti"))
            .arg("check")
            .arg("--voice")
            .arg(&flow)
            .arg("--locales")
            .arg(&locales)
            .arg("--audio")
            .arg(&audio)
            .arg("--config")
            .arg(config)
            .output()
            .unwrap()
    };
    let out = check(&config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains("language `ln`"), "{stdout}");
    assert!(stdout.contains("`incident-roadblock`"), "{stdout}");
    assert!(stdout.contains("ln/incident-roadblock.wav"), "{stdout}");
    // Recorded: clean.
    silent_wav(&audio.join("ln/incident-roadblock.wav"));
    assert!(check(&config).status.success());
    // Without the French voice, French is missing everywhere.
    std::fs::write(&config, "").unwrap();
    assert!(!check(&config).status.success());
}

/// A flow whose texts and a caller's recording URL hold `<`, `&` and quotes.
#[test]
fn hostile_text_in_flows_and_recording_urls_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    let locales = dir.path().join("locales");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::write(
        flows.join("hostile.toml"),
        r#"spec = 1
id = "hostile"
version = 1
languages = ["fr"]
voice = ["+243900000009"]

[[step]]
id = "say"
kind = "text"
max_len = 50

[[step]]
id = "confirm"
kind = "choice"
options = ["yes", "no"]

[[step]]
id = "done"
kind = "end"
"#,
    )
    .unwrap();
    std::fs::create_dir_all(locales.join("fr")).unwrap();
    std::fs::copy(
        Path::new(REPO).join("locales/fr/sauti.ftl"),
        locales.join("fr/sauti.ftl"),
    )
    .unwrap();
    std::fs::write(
        locales.join("fr/hostile.ftl"),
        "say = Dites <tout> & \"rien\" ]]> '\ncont = x\nconfirm = Vous avez dit { $say }: <b>ok</b>?\nconfirm-yes = Oui & \"non\"\nconfirm-no = Non <'>\ndone = Fin ]]>\n",
    )
    .unwrap();
    let lab = Lab::start(LabOptions {
        flows,
        locales,
        tts: &[("fr", "Polly.Lea\"/><Hangup/><x a=\"")],
        recorded: &[],
        config: "",
        extra: &[],
    });
    for via in [Via::AfricasTalking, Via::Twilio] {
        let id = format!("call-{via:?}");
        let mut call = Call::dial(&lab.server, via, &id, "+243810000109", "+243900000009");
        assert!(
            call.said().starts_with("Dites <tout> & \"rien\" ]]> '"),
            "{}",
            call.said()
        );
        let voice = call
            .reply
            .find("Say")
            .unwrap()
            .attr("voice")
            .unwrap()
            .to_owned();
        assert_eq!(voice, "Polly.Lea\"/><Hangup/><x a=\"");
        call.speak("https://rec.example/a?b=1&c=<2>\"'", 3);
        // The caller's recording is played back inside the question, escaped.
        assert!(
            call.played()
                .contains(&"https://rec.example/a?b=1&c=<2>\"'".to_owned()),
            "{:#?}",
            call.reply
        );
        assert!(call.said().contains("<b>ok</b>?"));
        assert!(call.said().contains("Oui & \"non\", appuyez sur 1."));
        call.press("1");
        assert_eq!(call.said(), "Fin ]]>");
    }
}

/// Every request of the Africa's Talking Voice fixtures, as recorded, against a flow shaped
/// like the fixtures' (a menu whose fifth option asks for a spoken description).
#[test]
fn africastalking_voice_fixtures_replay() {
    let (flows, locales, _dir) = fixture_flow();
    let lab = Lab::start(LabOptions {
        flows,
        locales,
        tts: &[],
        recorded: &["fr", "sw", "ln"],
        config: "",
        extra: &[],
    });
    let server = &lab.server;
    let fixture = |name: &str| server.raw(&fixture_bytes("africastalking-voice", name));
    let expected = |name: &str| fixture_reply("africastalking-voice", name);
    let base = format!("{PUBLIC_URL}/gateways/africastalking/voice");

    // 01: the call comes in: the language menu, keys collected, a fallback after them.
    let r = fixture("01-incoming.request.http");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/xml"));
    let ours = parse_xml(&r.body);
    let theirs = expected("01-incoming.response.http");
    assert_eq!(theirs.names(), ["GetDigits", "Play"]);
    let get = ours.child("GetDigits").unwrap();
    let their_get = theirs.child("GetDigits").unwrap();
    for attr in ["finishOnKey", "numDigits"] {
        assert_eq!(get.attr(attr), their_get.attr(attr), "{attr}");
    }
    assert!(get.attr("callbackUrl").unwrap().starts_with(&base));
    assert_eq!(
        get.names(),
        ["Play"],
        "one sound inside GetDigits, as AT allows"
    );
    assert_eq!(
        ours.children.last().unwrap().name,
        "Redirect",
        "a fallback after GetDigits"
    );
    assert!(
        ours.heard()
            .iter()
            .all(|h| h.starts_with(&format!("play:{PUBLIC_URL}/audio/")))
    );

    // 02: `1`, French: the question, recorded.
    let r = fixture("02-language-digit.request.http");
    let ours = parse_xml(&r.body);
    let get = ours.child("GetDigits").unwrap();
    assert_eq!(get.attr("numDigits"), Some("1"));
    assert_eq!(
        ours.heard()[0],
        format!("play:{PUBLIC_URL}/audio/fr/incident_type.wav")
    );
    assert!(ours.heard().iter().all(|h| h.contains("/audio/fr/")));

    // 03: `5` (other): a spoken description, recorded after a beep.
    let r = fixture("03-other-then-record.request.http");
    let ours = parse_xml(&r.body);
    let theirs = expected("03-other-then-record.response.http");
    let rec = ours.find("Record").unwrap();
    let their_rec = theirs.find("Record").unwrap();
    for attr in ["finishOnKey", "maxLength", "trimSilence", "playBeep"] {
        assert_eq!(rec.attr(attr), their_rec.attr(attr), "{attr}");
    }
    assert!(rec.attr("callbackUrl").unwrap().starts_with(&base));
    assert_eq!(rec.names(), ["Play"]);
    assert!(ours.heard()[0].ends_with("/audio/fr/describe.wav"));

    // 04: the recording arrives: thanks, and the call ends with the action list.
    let r = fixture("04-recording-done.request.http");
    let ours = parse_xml(&r.body);
    assert_eq!(
        ours.names(),
        expected("04-recording-done.response.http").names()
    );
    assert_eq!(
        ours.heard(),
        [format!("play:{PUBLIC_URL}/audio/fr/thanks.wav")]
    );

    // 05: the final request (duration, cost): an empty 200 that changes no answer.
    let r = fixture("05-final-isActive0.request.http");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "");

    let response = only_response(server);
    assert_eq!(response["channel"], "voice");
    assert_eq!(response["language"], "fr");
    assert_eq!(response["answers"]["incident_type"]["value"], "other");
    assert_eq!(
        response["answers"]["describe"]["value"],
        "https://voice.africastalking.example/recordings/7a1e5c9b3d2f.mp3"
    );
    assert_eq!(response["answers"]["describe"]["audio"], true);
}

/// Every request of the Twilio fixtures, with their real signatures, against the same flow:
/// French spoken by the configured voice, the closing message recorded.
#[test]
fn twilio_voice_fixtures_replay_with_their_signatures() {
    let (flows, locales, _dir) = fixture_flow();
    let lab = Lab::start(LabOptions {
        flows,
        locales,
        tts: &[("fr", "Polly.Lea")],
        recorded: &["sw", "ln"],
        config: "",
        // The closing message is recorded in French; the rest is the voice's.
        extra: &["fr/thanks.wav"],
    });
    let server = &lab.server;
    let fixture = |name: &str| server.raw(&fixture_bytes("twilio-voice", name));
    let expected = |name: &str| fixture_reply("twilio-voice", name);

    let r = fixture("01-incoming.request.http");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/xml"));
    let ours = parse_xml(&r.body);
    let theirs = expected("01-incoming.response.http");
    assert_eq!(
        ours.names(),
        theirs.names(),
        "Gather, then a Redirect for no input"
    );
    let gather = ours.child("Gather").unwrap();
    let their_gather = theirs.child("Gather").unwrap();
    for attr in ["input", "numDigits", "method"] {
        assert_eq!(gather.attr(attr), their_gather.attr(attr), "{attr}");
    }
    assert!(
        gather
            .attr("action")
            .unwrap()
            .starts_with(their_gather.attr("action").unwrap())
    );
    let redirect = ours.child("Redirect").unwrap();
    assert_eq!(redirect.attr("method"), Some("POST"));
    assert!(
        redirect
            .text
            .starts_with(&theirs.child("Redirect").unwrap().text)
    );

    // A tampered request (the signature of `Digits=1` on `Digits=9`): 403, nothing changes.
    let r = fixture("90-bad-signature.request.http");
    assert_eq!(r.status, 403, "{}", r.body);

    let r = fixture("02-gather-language.request.http");
    assert_eq!(r.status, 200, "{}", r.body);
    let ours = parse_xml(&r.body);
    let theirs = expected("02-gather-language.response.http");
    let gather = ours.child("Gather").unwrap();
    let their_gather = theirs.child("Gather").unwrap();
    assert!(
        gather
            .attr("action")
            .unwrap()
            .starts_with(their_gather.attr("action").unwrap())
    );
    let say = gather.child("Say").unwrap();
    let their_say = their_gather.child("Say").unwrap();
    assert_eq!(say.attr("language"), their_say.attr("language"));
    assert_eq!(say.attr("voice"), their_say.attr("voice"));
    assert!(
        say.text.starts_with(&their_say.text),
        "{:?}\n{:?}",
        say.text,
        their_say.text
    );

    let r = fixture("03-gather-type.request.http");
    let ours = parse_xml(&r.body);
    let theirs = expected("03-gather-type.response.http");
    assert_eq!(ours.names(), theirs.names(), "Play, Hangup");
    assert_eq!(
        ours.heard(),
        [format!("play:{PUBLIC_URL}/audio/fr/thanks.wav")]
    );

    let r = fixture("04-status-callback.request.http");
    assert_eq!(r.status, 204);

    let response = only_response(server);
    assert_eq!(response["gateway"], "twilio");
    assert_eq!(
        response["language"], "fr",
        "the tampered `9` changed nothing"
    );
    assert_eq!(response["answers"]["incident_type"]["value"], "violence");
}

/// A fixture file of `folder` (copied from the protocol references), as bytes.
fn fixture_bytes(folder: &str, name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(REPO)
            .join("tests/fixtures")
            .join(folder)
            .join(name),
    )
    .unwrap()
}

/// The XML body of a recorded reply.
fn fixture_reply(folder: &str, name: &str) -> common::voice::Node {
    let raw = String::from_utf8(fixture_bytes(folder, name)).unwrap();
    parse_xml(raw.split_once("\r\n\r\n").unwrap().1)
}

/// The flow the fixtures were written for: a language menu, an incident menu whose fifth
/// option asks for a spoken description, thanks. Routed at both fixtures' numbers.
fn fixture_flow() -> (std::path::PathBuf, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    let locales = dir.path().join("locales");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::write(
        flows.join("report.toml"),
        r#"spec = 1
id = "report"
version = 1
languages = ["fr", "sw", "ln"]
voice = ["+254711082000", "+12025550147"]

[[step]]
id = "incident_type"
kind = "choice"
options = ["accident", "violence", "tax", "armed", "other"]

[[step]]
id = "describe"
kind = "text"
when = "incident_type == 'other'"
max_len = 100

[[step]]
id = "thanks"
kind = "end"
"#,
    )
    .unwrap();
    let texts = [
        (
            "fr",
            "incident_type = Que voulez-vous signaler ?\nincident_type-accident = Pour un accident dans la mine\nincident_type-violence = Pour une violence\nincident_type-tax = Pour une taxe illégale\nincident_type-armed = Pour un groupe armé\nincident_type-other = Pour autre chose\ndescribe = Décrivez l'incident après le bip.\nthanks = Merci. Au revoir.\n",
        ),
        (
            "sw",
            "incident_type = Unataka kuripoti nini?\nincident_type-accident = Kwa ajali mgodini\nincident_type-violence = Kwa vurugu\nincident_type-tax = Kwa kodi haramu\nincident_type-armed = Kwa kundi la silaha\nincident_type-other = Kwa jambo lingine\ndescribe = Eleza tukio baada ya mlio.\nthanks = Asante. Kwaheri.\n",
        ),
        (
            "ln",
            "incident_type = Olingi koyebisa nini?\nincident_type-accident = Mpo na likama na mine\nincident_type-violence = Mpo na mobulu\nincident_type-tax = Mpo na mpako ya mabe\nincident_type-armed = Mpo na etuluku ya bitumba\nincident_type-other = Mpo na likambo mosusu\ndescribe = Limbola likambo sima ya lokito.\nthanks = Matondi. Tikala malamu.\n",
        ),
    ];
    for (lang, text) in texts {
        std::fs::create_dir_all(locales.join(lang)).unwrap();
        std::fs::copy(
            Path::new(REPO).join("locales").join(lang).join("sauti.ftl"),
            locales.join(lang).join("sauti.ftl"),
        )
        .unwrap();
        std::fs::write(locales.join(lang).join("report.ftl"), text).unwrap();
    }
    (flows, locales, dir)
}

/// Before real recordings exist: espeak-ng stand-ins for French and Swahili (never Lingala,
/// which espeak-ng does not speak), marked synthetic; a call offers only those two languages.
#[test]
fn synthetic_prompts_let_calls_be_tried_before_real_recordings_exist() {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("audio");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sauti"))
        .args([
            "prompts",
            "kufatilia",
            "--synthesize",
            "--format",
            "csv",
            "--audio",
        ])
        .arg(&audio)
        .arg("--locales")
        .arg(Path::new(REPO).join("locales"))
        .current_dir(REPO)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "needs espeak-ng (scripts/test installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = prompts(
        &Path::new(REPO).join("flows/kufatilia.toml"),
        &Path::new(REPO).join("locales"),
        &audio,
        None,
    );
    for row in &rows {
        let expected = if row.language == "ln" {
            "missing"
        } else {
            "synthetic"
        };
        assert_eq!(row.status, expected, "{row:?}");
    }
    let wav = std::fs::read(audio.join("sw/consent.synthetic.wav")).unwrap();
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(&wav[8..12], b"WAVE");
    assert!(wav.len() > 10_000, "a spoken sentence, not silence");

    let server = Server::start_with(common::server::Options {
        args: vec![
            "--audio".into(),
            audio.display().to_string(),
            "--public-url".into(),
            PUBLIC_URL.into(),
        ],
        ..Default::default()
    });
    let mut call = Call::dial(
        &server,
        Via::AfricasTalking,
        "ATVId_syn",
        "+243810000110",
        KUFATILIA,
    );
    let played = call.played();
    assert!(
        played
            .iter()
            .any(|u| u.ends_with("/audio/fr/voice-language.synthetic.wav"))
    );
    assert!(
        played
            .iter()
            .any(|u| u.ends_with("/audio/sw/voice-digit-2.synthetic.wav"))
    );
    assert!(
        !played.iter().any(|u| u.contains("/audio/ln/")),
        "{played:?}"
    );
    call.press("3");
    assert!(
        call.said().is_empty()
            && call.played()[0].starts_with(&format!("{PUBLIC_URL}/audio/fr/invalid-option")),
        "a third key is not a language here: {:?}",
        call.played()
    );
    call.press("2");
    assert!(call.played()[0].ends_with("/audio/sw/consent.synthetic.wav"));
}

/// A menu longer than the keypad is read eight options at a time; `9` reads on, and keys pick
/// on the page being read.
#[test]
fn a_long_menu_is_read_in_pages() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    let locales = dir.path().join("locales");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::create_dir_all(locales.join("fr")).unwrap();
    let codes: Vec<String> = (1..=12).map(|i| format!("m{i}")).collect();
    std::fs::write(
        flows.join("mines.toml"),
        format!(
            "spec = 1\nid = \"mines\"\nversion = 1\nlanguages = [\"fr\"]\nvoice = [\"+243900000010\"]\n\n[[step]]\nid = \"mine\"\nkind = \"choice\"\noptions = [{}]\n\n[[step]]\nid = \"done\"\nkind = \"end\"\n",
            codes.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ")
        ),
    )
    .unwrap();
    let mut ftl = String::from("mine = Quelle mine?\ndone = Merci.\n");
    for (i, c) in codes.iter().enumerate() {
        ftl.push_str(&format!("mine-{c} = Mine {}\n", i + 1));
    }
    std::fs::write(locales.join("fr/mines.ftl"), ftl).unwrap();
    std::fs::copy(
        Path::new(REPO).join("locales/fr/sauti.ftl"),
        locales.join("fr/sauti.ftl"),
    )
    .unwrap();
    let lab = Lab::start(LabOptions {
        flows,
        locales,
        tts: &[("fr", "Polly.Lea")],
        recorded: &[],
        config: "",
        extra: &[],
    });
    let mut call = Call::dial(
        &lab.server,
        Via::Twilio,
        "CApages1",
        "+243810000111",
        "+243900000010",
    );
    assert!(
        call.said()
            .contains("Mine 8, appuyez sur 8. Pour d'autres choix, appuyez sur 9."),
        "{}",
        call.said()
    );
    assert!(!call.said().contains("Mine 9"));
    call.press("9");
    assert!(
        call.said().contains("Mine 9, appuyez sur 1."),
        "{}",
        call.said()
    );
    assert!(call.said().contains("Mine 12, appuyez sur 4."));
    assert!(!call.said().contains("d'autres choix"));
    // `5` is not a key of this page.
    call.press("5");
    assert!(
        call.said().starts_with("Choix invalide."),
        "{}",
        call.said()
    );
    call.press("9");
    call.press("2"); // Mine 10
    assert!(call.ended());
    assert_eq!(
        only_response(&lab.server)["answers"]["mine"]["value"],
        "m10"
    );
}

/// The recording script lists every clip a call can play: each question of each shipped flow,
/// in each language, asked plainly and again after every kind of wrong answer, the language
/// menu, the resume offer and every closing message.
#[test]
fn the_recording_script_covers_every_clip_a_call_can_play() {
    use sauti::engine::{At, SessionState, view};
    use sauti::question::{Answer, Invalid, Question};
    use sauti::render::voice::{Piece, recording_script, script};

    let reasons = [
        Invalid::NotAnOption,
        Invalid::SelectionCount { min: 1, max: 3 },
        Invalid::Empty,
        Invalid::NotANumber,
        Invalid::NotAnInteger,
        Invalid::NumberOutOfRange {
            min: Some(0.0),
            max: Some(9999.0),
        },
        Invalid::NumberOutOfRange {
            min: Some(0.0),
            max: None,
        },
        Invalid::NumberOutOfRange {
            min: None,
            max: Some(10.0),
        },
        Invalid::NotADate {
            example: "25032026".into(),
        },
        Invalid::DateOutOfRange {
            min: Some("01012000".into()),
            max: Some("23112026".into()),
        },
        Invalid::DateOutOfRange {
            min: Some("01012000".into()),
            max: None,
        },
        Invalid::DateOutOfRange {
            min: None,
            max: Some("23112026".into()),
        },
    ];
    for flow in common::shipped_flows() {
        let answers: Vec<(u16, Answer)> = flow
            .steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let a = match &s.question {
                    Question::Choice(_) => Answer::Choice(0),
                    Question::Multi(_) => Answer::Multi(vec![0, 1]),
                    Question::Text(_) => Answer::Text("Mwenga".into()),
                    Question::Number(_) => Answer::Integer(1234567890),
                    Question::Date(_) => Answer::Date(time::macros::date!(2026 - 03 - 14)),
                    _ => return None,
                };
                Some((i as u16, a))
            })
            .collect();
        for lang in 0..flow.languages.len() as u8 {
            let listed: Vec<String> = recording_script(&flow, lang)
                .into_iter()
                .map(|l| l.id)
                .collect();
            let all_languages: Vec<u8> = (0..flow.languages.len() as u8).collect();
            let mut positions: Vec<At> = vec![At::Language, At::Resume(1)];
            for i in 0..flow.steps.len() as u16 {
                positions.push(match flow.steps[i as usize].question {
                    Question::End => At::Done(i),
                    _ => At::Step(i),
                });
            }
            positions.push(At::GaveUp(1));
            let mut seen = 0;
            for at in positions {
                let state = SessionState {
                    lang,
                    at,
                    attempts: 0,
                    history: vec![0],
                    answers: answers.clone(),
                    receipt: "K7Q4".into(),
                };
                // The reasons this position can give.
                let possible: Vec<&Invalid> = reasons
                    .iter()
                    .filter(|r| {
                        let q = match at {
                            At::Step(i) => &flow.steps[i as usize].question,
                            _ => return **r == Invalid::NotAnOption,
                        };
                        matches!(
                            (q, r),
                            (Question::Choice(_), Invalid::NotAnOption)
                                | (
                                    Question::Multi(_),
                                    Invalid::NotAnOption | Invalid::SelectionCount { .. }
                                )
                                | (
                                    Question::Number(_),
                                    Invalid::NotANumber
                                        | Invalid::NotAnInteger
                                        | Invalid::NumberOutOfRange { .. }
                                )
                                | (
                                    Question::Date(_),
                                    Invalid::NotADate { .. } | Invalid::DateOutOfRange { .. }
                                )
                                | (Question::Text(_), Invalid::Empty)
                        )
                    })
                    .collect();
                for reason in std::iter::once(None).chain(possible.into_iter().map(Some)) {
                    let v = view(&flow, &state, reason);
                    for page in 0..2 {
                        for part in script(&flow, &v, page, &all_languages).parts {
                            for piece in part.clips {
                                if let Piece::Clip(c) = piece
                                    && c.lang == flow.languages[lang as usize]
                                {
                                    seen += 1;
                                    assert!(
                                        listed.contains(&c.id.to_string()),
                                        "{} {}: `{}` ({:?}) is played but not in the script",
                                        flow.id,
                                        c.lang,
                                        c.id,
                                        c.text
                                    );
                                }
                            }
                        }
                    }
                }
            }
            assert!(seen > 100, "{seen}");
        }
    }
}
