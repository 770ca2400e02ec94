//! Nobody but the gateway gets in: a shared token (header or query), an address allow-list
//! that believes `X-Forwarded-For` only from trusted proxies; refusals are 401/403, counted,
//! and touch no session. Gateways declared with `[[gateway]]`, at their own paths.

mod common;

use common::server::{AtPhone, HttpReply, Options, Server};

const TOKEN: &str = "gateway-token-0123456789";

fn server() -> Server {
    Server::start_with(Options {
        config: Some(format!(
            r#"
[[gateway]]
name = "orange-cd"
adapter = "africastalking"
path = "/operators/orange"
budget = 160
auth = {{ token_header = "X-Sauti-Token", token_env = "SAUTI_ORANGE_TOKEN" }}

[[gateway]]
name = "vodacom-cd"
adapter = "africastalking"
auth = {{ token_query = "key", token = "{TOKEN}" }}

[[gateway]]
name = "airtel-cd"
adapter = "africastalking"
auth = {{ allow = ["10.9.9.0/24"] }}

[[gateway]]
name = "behind-proxy"
adapter = "africastalking"
auth = {{ allow = ["10.9.9.0/24"], trusted_proxies = ["127.0.0.1"] }}
"#
        )),
        env: vec![
            (
                "SAUTI_PSEUDONYM_KEY".into(),
                "test-key-0123456789abcdef".into(),
            ),
            ("SAUTI_ORANGE_TOKEN".into(), TOKEN.into()),
        ],
        ..Options::default()
    })
}

fn hop(server: &Server, path: &str, headers: &[(&str, &str)], text: &str) -> HttpReply {
    let body = serde_html_form::to_string([
        ("sessionId", "ATUid_auth"),
        ("serviceCode", "*384*1#"),
        ("phoneNumber", "+243810000501"),
        ("text", text),
    ])
    .unwrap();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    server.raw(req.as_bytes())
}

fn metric(server: &Server, name: &str) -> u64 {
    server.metric(name, &[]) as u64
}

#[test]
fn a_token_in_a_header_opens_the_gateway_and_a_bad_one_touches_nothing() {
    let server = server();
    let path = "/operators/orange";
    let missing = hop(&server, path, &[], "");
    assert_eq!(missing.status, 401, "{missing:?}");
    assert!(missing.body.contains("missing credentials"));
    let wrong = hop(
        &server,
        path,
        &[("X-Sauti-Token", "gateway-token-wrong-wrong")],
        "1",
    );
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("wrong credentials"));
    assert_eq!(metric(&server, "sauti_auth_rejected_total"), 2);
    // The refused `1` answered nothing: the session starts at the language screen.
    let ok = hop(&server, path, &[("X-Sauti-Token", TOKEN)], "");
    assert_eq!(ok.status, 200);
    assert!(
        ok.body.starts_with("CON Langue / Lugha / Monoko:"),
        "{}",
        ok.body
    );
    // Its default route needs the token as well.
    assert_eq!(hop(&server, "/ussd/orange-cd", &[], "").status, 401);
    assert!(
        !server.logs().contains(TOKEN),
        "the token never reaches the logs"
    );
}

#[test]
fn a_token_in_the_query() {
    let server = server();
    let mut phone = AtPhone::new(&server, "ATUid_q", "*384*1#", "+243810000502");
    phone.path = format!("/ussd/vodacom-cd?key={TOKEN}");
    assert!(phone.dial().contains("Langue"));
    assert_eq!(
        hop(&server, "/ussd/vodacom-cd?key=nope", &[], "").status,
        401
    );
    assert_eq!(hop(&server, "/ussd/vodacom-cd", &[], "").status, 401);
}

#[test]
fn an_allow_list_refuses_other_addresses_and_forged_forwarding() {
    let server = server();
    // Tests call from 127.0.0.1: not on the list.
    let refused = hop(&server, "/ussd/airtel-cd", &[], "");
    assert_eq!(refused.status, 403, "{refused:?}");
    // A forged X-Forwarded-For from a peer that is not a trusted proxy is ignored.
    let forged = hop(
        &server,
        "/ussd/airtel-cd",
        &[("X-Forwarded-For", "10.9.9.7")],
        "",
    );
    assert_eq!(forged.status, 403);
    // Through a trusted proxy, the forwarded address counts.
    let proxied = hop(
        &server,
        "/ussd/behind-proxy",
        &[("X-Forwarded-For", "10.9.9.7")],
        "",
    );
    assert_eq!(proxied.status, 200, "{proxied:?}");
    let outside = hop(
        &server,
        "/ussd/behind-proxy",
        &[("X-Forwarded-For", "10.9.9.7, 192.0.2.1")],
        "",
    );
    assert_eq!(outside.status, 403);
    assert_eq!(metric(&server, "sauti_auth_rejected_total"), 3);
}

#[test]
fn production_refuses_a_gateway_without_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sauti.toml");
    std::fs::write(
        &config,
        "[[gateway]]\nname = \"open\"\nadapter = \"africastalking\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sauti"))
        .current_dir(dir.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--profile",
            "prod",
            "--config",
        ])
        .arg(&config)
        .arg("--flows")
        .arg(std::path::Path::new(common::REPO).join("flows"))
        .arg("--locales")
        .arg(std::path::Path::new(common::REPO).join("locales"))
        .env("SAUTI_PSEUDONYM_KEY", "test-key-0123456789abcdef")
        .env_remove("SAUTI_PROFILE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("has no authentication"), "{stderr}");
}

/// While a flood of requests without credentials hammers the gateway, a real respondent of
/// that gateway finishes a report: refusals are cheap (before the body is read) and touch
/// nothing.
#[test]
fn real_respondents_are_served_while_an_unauthenticated_flood_is_refused() {
    let server = server();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let refused = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..4 {
            let (server, stop, refused) = (&server, &stop, &refused);
            s.spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let r = hop(server, "/operators/orange", &[], "");
                    assert_eq!(r.status, 401, "flood {t}/{n}: {r:?}");
                    refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
        let mut answers = vec![""];
        answers.extend(["1", "1", "2", "1", "1", "Mwenga", "000", "3", "2"]);
        let mut text = String::new();
        let mut last = String::new();
        for (i, a) in answers.iter().enumerate() {
            if i > 1 {
                text.push('*');
            }
            text.push_str(a);
            let body = serde_html_form::to_string([
                ("sessionId", "ATUid_real"),
                ("serviceCode", "*384*1#"),
                ("phoneNumber", "+243810000503"),
                ("text", text.as_str()),
            ])
            .unwrap();
            let req = format!(
                "POST /operators/orange HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Sauti-Token: {TOKEN}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let r = server.raw(req.as_bytes());
            assert_eq!(r.status, 200, "{r:?}");
            last = r.body;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(last.starts_with("END Merci."), "{last}");
    });
    assert!(refused.load(std::sync::atomic::Ordering::Relaxed) > 0);
    assert_eq!(server.responses().len(), 1);
}
