//! The seam between the engine and the channels: the engine's view knows no channel, two
//! renderers show the same view, a session stays on the address it started on, and each
//! gateway keeps its sessions as long as its configuration says.

mod common;

use std::path::Path;
use std::time::Duration;

use common::server::{AtPhone, Options, Server};
use common::{REPO, shipped};
use sauti::engine::{self, At, InputKind, SessionState, View};
use sauti::question::Invalid;
use sauti::render::{Budget, plain, ussd};

/// Names that would mean the engine knows about a transport, a store, a wire format or a
/// channel. Checked on the source, so that a later `use` cannot slip one back in.
const FORBIDDEN: &[&str] = &[
    "crate::render",
    "crate::gateway",
    "crate::channel",
    "crate::server",
    "crate::session",
    "crate::survey",
    "crate::gsm7::Budget",
    "hyper",
    "redis",
    "tokio",
    "Screen",
    "Budget",
    "ussd",
    "USSD",
    "voice",
    "Voice",
    "Twilio",
    "africastalking",
];

#[test]
fn the_engine_imports_nothing_of_http_redis_gateways_renderers_or_channels() {
    let dir = Path::new(REPO).join("src/engine");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        files += 1;
        for (n, line) in source.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for word in FORBIDDEN {
                assert!(
                    !line.contains(word),
                    "{}:{}: the engine mentions `{word}`: {line}",
                    path.display(),
                    n + 1
                );
            }
        }
    }
    assert!(
        files >= 3,
        "expected the engine's files in {}",
        dir.display()
    );
}

fn state_at(flow: &sauti::CompiledFlow, step: &str, lang: u8) -> SessionState {
    SessionState {
        lang,
        at: At::Step(flow.step_index(step).unwrap()),
        attempts: 1,
        history: vec![0],
        answers: vec![],
        receipt: "K7Q4".into(),
    }
}

#[test]
fn one_view_rendered_as_a_ussd_screen_and_as_plain_text() {
    let flow = shipped("kufatilia");
    let state = state_at(&flow, "incident", 0);
    let view = engine::view(&flow, &state, Some(&Invalid::NotAnOption));
    let View::Ask(ask) = &view else {
        panic!("a question is asked")
    };
    // The view itself: no numbers, no keys of a screen, no budget.
    assert_eq!(ask.prompt.id, "incident");
    assert_eq!(ask.prompt.text, "Que voulez-vous signaler?");
    assert_eq!(ask.reason.as_ref().unwrap().text, "Choix invalide.");
    assert_eq!(ask.input, InputKind::Choice);
    assert_eq!(ask.choices.len(), 9);
    assert_eq!(ask.choices[0].text, "Accident");
    assert_eq!(ask.back.unwrap().key, "0");
    assert!(ask.skip.is_none());

    let screen = ussd::screen(&flow, &view, 0, Budget::default());
    assert!(!screen.end);
    assert_eq!(
        screen.text,
        "Choix invalide.\nQue voulez-vous signaler?\n1. Accident\n2. Violence\n3. Taxe illégale\n\
         4. Fraude\n5. Groupe armé\n6. Travail forcé\n7. Travail d'enfants\n98. Suite\n0. Retour"
    );
    let second = ussd::screen(&flow, &view, 1, Budget::default());
    assert_eq!(
        second.text,
        "8. Barrière routière\n9. Autre\n99. Précédent\n0. Retour"
    );

    assert_eq!(
        plain::render(&view),
        "! Choix invalide.\nQue voulez-vous signaler?\n  [1] Accident\n  [2] Violence\n  \
         [3] Taxe illégale\n  [4] Fraude\n  [5] Groupe armé\n  [6] Travail forcé\n  \
         [7] Travail d'enfants\n  [8] Barrière routière\n  [9] Autre\n  [0] Retour\n\
         [expects one key]"
    );
}

#[test]
fn a_prompt_that_echoes_answers_carries_them_for_channels_that_speak_them() {
    let flow = shipped("kufatilia");
    let mut state = state_at(&flow, "thanks", 1);
    state.at = At::Done(flow.step_index("thanks").unwrap());
    let view = engine::view(&flow, &state, None);
    let View::End(closing) = &view else {
        panic!("the end")
    };
    assert!(closing.complete);
    assert!(
        closing.message.text.contains("K7Q4"),
        "{}",
        closing.message.text
    );
    assert!(
        closing
            .message
            .args()
            .iter()
            .any(|(name, said)| name == "receipt" && *said == sauti::engine::Said::Receipt("K7Q4")),
        "{:?}",
        closing.message.args()
    );
    assert_eq!(
        ussd::screen(&flow, &view, 0, Budget::default()).text,
        closing.message.text
    );
    assert!(plain::render(&view).ends_with("[end]"));
}

fn connectivity_project() -> Options {
    Options {
        config: Some(
            r#"
[gateways.africastalking]
kind = "africastalking"

[gateways.quick]
kind = "africastalking"
session_ttl_secs = 1
"#
            .into(),
        ),
        ..Options::default()
    }
}

/// A session id reused on another service code is refused (409) and the session it names
/// is left as it was.
fn a_session_stays_on_the_address_it_started_on(opts: Options) {
    let server = Server::start_with(opts);
    let mut phone = AtPhone::new(&server, "ATUid_bound", "*384*1#", "+243810000201");
    phone.dial();
    let consent = phone.send("1");
    assert!(consent.starts_with("CON Sauti"), "{consent}");
    let reply = server.post_form(
        "/ussd/africastalking",
        &[
            ("sessionId", "ATUid_bound"),
            ("serviceCode", "*384*2#"),
            ("phoneNumber", "+243810000201"),
            ("text", "1*1"),
        ],
    );
    assert_eq!(reply.status, 409, "{reply:?}");
    assert!(
        reply.body.contains("another service code"),
        "{}",
        reply.body
    );
    // Nothing moved: the respondent's next answer is taken where they were.
    let incident = phone.send("1");
    assert!(
        incident.starts_with("CON Que voulez-vous signaler?"),
        "{incident}"
    );
}

/// The `quick` gateway keeps a session one second; the default one keeps it three minutes.
fn each_gateway_keeps_sessions_as_long_as_configured(opts: Options) {
    let server = Server::start_with(opts);
    let mut slow = AtPhone::new(&server, "ATUid_slow", "*384*2#", "+243810000202");
    let mut quick = AtPhone::new(&server, "ATUid_quick", "*384*2#", "+243810000203");
    quick.path = "/ussd/quick".into();
    for phone in [&mut slow, &mut quick] {
        phone.dial();
        phone.send("1");
        phone.send("1");
    }
    std::thread::sleep(Duration::from_millis(2200));
    // Still live on the default gateway: the answer is taken.
    let next = slow.send("2");
    assert!(next.starts_with("CON Avez-vous un téléphone?"), "{next}");
    // Gone on the quick one: the same session id opens a new session, which offers to resume
    // (the gateway's whole `text` then answers that offer, and is refused).
    let next = quick.send("2");
    assert!(next.contains("\nVous aviez déjà commencé"), "{next}");
}

#[test]
fn a_session_stays_on_the_address_it_started_on_in_memory() {
    a_session_stays_on_the_address_it_started_on(Options::default());
}

#[test]
fn a_session_stays_on_the_address_it_started_on_in_redis() {
    a_session_stays_on_the_address_it_started_on(common::redis::options());
}

#[test]
fn each_gateway_keeps_sessions_as_long_as_configured_in_memory() {
    each_gateway_keeps_sessions_as_long_as_configured(connectivity_project());
}

#[test]
fn each_gateway_keeps_sessions_as_long_as_configured_in_redis() {
    let redis = common::redis::options();
    each_gateway_keeps_sessions_as_long_as_configured(Options {
        config: connectivity_project().config,
        ..redis
    });
}
