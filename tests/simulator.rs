//! The browser simulator at `/simulator`: a researcher completes kufatilia in Lingala in
//! headless Chromium, drops the network and is offered to resume; hostile requests are refused
//! with a reason; nothing is ever recorded; prod hides it unless asked.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::server::{HttpReply, Options, Server};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

fn hop(server: &Server, body: &str) -> HttpReply {
    server.request(
        "POST",
        "/simulator/hop",
        Some("application/json"),
        body.as_bytes(),
    )
}

fn hop_json(server: &Server, body: Value) -> Value {
    let r = hop(server, &body.to_string());
    assert_eq!(r.status, 200, "{body} -> {r:?}");
    serde_json::from_str(&r.body).unwrap()
}

/// A hop of respondent `session` on kufatilia in Lingala (`input: None` dials).
fn lingala(session: &str, input: Option<&str>) -> Value {
    json!({ "session": session, "flow": "kufatilia", "lang": "ln", "budget": "standard", "input": input })
}

#[test]
fn the_page_is_one_file_under_a_strict_policy() {
    let server = Server::start();
    let page = server.get("/simulator");
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let csp = page.header("content-security-policy").unwrap();
    for directive in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "connect-src 'self'",
        "script-src 'sha256-",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    // Self-contained: nothing from another origin, and server values never parsed as HTML.
    assert!(!page.body.contains("http://") && !page.body.contains("https://"));
    assert!(!page.body.contains("innerHTML") && !page.body.contains("outerHTML"));
    assert!(page.body.contains("Nothing is recorded"));

    let catalogue: Value = serde_json::from_str(&server.get("/simulator/flows").body).unwrap();
    let kufatilia = catalogue["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "kufatilia")
        .expect("kufatilia offered");
    assert_eq!(kufatilia["languages"], json!(["fr", "sw", "ln"]));
    let budgets: Vec<&str> = catalogue["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(budgets, ["standard", "gateway:africastalking"]);
}

#[test]
fn hostile_hops_are_refused_with_a_reason() {
    let server = Server::start();
    let valid = lingala("hostile-1", None);
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body.to_string()
    };
    let cases: Vec<(String, u16, &str)> = vec![
        ("{\"session\":".into(), 400, "invalid JSON"),
        ("[1,2,3]".into(), 400, "invalid JSON"),
        (with("flow", json!("nope")), 400, "unknown flow \"nope\""),
        (
            with("lang", json!("de")),
            400,
            "not offered in \"de\" (offered: fr, sw, ln)",
        ),
        (with("lang", json!("x".repeat(500))), 400, "not offered"),
        (with("budget", json!("huge")), 400, "unknown budget"),
        (with("session", json!("../etc")), 400, "field `session`"),
        (with("session", json!("")), 400, "field `session`"),
        (
            with("input", json!("1".repeat(183))),
            400,
            "longer than a USSD",
        ),
        (with("input", json!("1\u{0}")), 400, "control characters"),
        (with("extra", json!(1)), 400, "unknown field `extra`"),
        (with("flow", json!(7)), 400, "invalid JSON"),
        (
            with("session", json!("x".repeat(3000))),
            413,
            "larger than 2048 bytes",
        ),
        ("x".repeat(100_000), 413, "larger than"),
    ];
    for (body, status, reason) in cases {
        let r = hop(&server, &body);
        let shown = &body[..body.len().min(80)];
        assert_eq!(r.status, status, "{shown} -> {r:?}");
        assert!(r.body.contains(reason), "{shown} -> {:?}", r.body);
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    let form = server.request(
        "POST",
        "/simulator/hop",
        Some("application/x-www-form-urlencoded"),
        b"session=a",
    );
    assert_eq!(form.status, 415, "{form:?}");
    let untyped = server.request("POST", "/simulator/hop", None, valid.to_string().as_bytes());
    assert_eq!(untyped.status, 415, "{untyped:?}");
    assert_eq!(server.get("/simulator/hop").status, 405);
    assert_eq!(
        server
            .request("POST", "/simulator", Some("text/html"), b"")
            .status,
        405
    );
    assert_eq!(server.get("/simulator/other").status, 404);
    let before_dial = hop(&server, &lingala("never-dialled", Some("1")).to_string());
    assert_eq!(before_dial.status, 409, "{before_dial:?}");
    assert!(before_dial.body.contains("dial first"), "{before_dial:?}");
}

#[test]
fn a_simulated_survey_resumes_like_a_real_one_and_records_nothing() {
    let server = Server::start();
    let first = hop_json(&server, lingala("resumer", None));
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .ends_with("Ondimi?\n1. Iyo\n2. Te\n0. Zonga")
    );
    assert_eq!(
        (&first["cost"], &first["limit"], &first["encoding"]),
        (&json!(96), &json!(182), &json!("GSM-7"))
    );
    for input in ["1", "8"] {
        hop_json(&server, lingala("resumer", Some(input)));
    }
    // The network drops; the respondent dials again: the resume offer, in Lingala.
    let again = hop_json(&server, lingala("resumer", None));
    assert_eq!(
        again["text"],
        "Obandaki kala mituna oyo.\n1. Kokoba\n2. Kobanda sika"
    );
    let resumed = hop_json(&server, lingala("resumer", Some("1")));
    assert!(
        resumed["text"]
            .as_str()
            .unwrap()
            .starts_with("Likambo esalemaki ntango nini?"),
        "{resumed}"
    );
    let mut last = resumed;
    for input in ["1", "3", "Fizi", "Misisi", "4", "1"] {
        last = hop_json(&server, lingala("resumer", Some(input)));
    }
    assert_eq!(last["end"], true, "{last}");
    let response = &last["response"];
    assert_eq!(response["status"], "complete");
    assert_eq!(response["language"], "ln");
    assert_eq!(response["answers"]["incident"]["value"], "roadblock");
    assert_eq!(response["answers"]["people"]["value"], 4);
    assert_eq!(response["answers"]["consent"]["value"], "yes");
    let after_end = hop(&server, &lingala("resumer", Some("1")).to_string());
    assert_eq!(after_end.status, 409, "{after_end:?}");
    assert!(after_end.body.contains("dial again"), "{after_end:?}");
    // A finished survey is not resumed: a new dial starts afresh.
    let fresh = hop_json(&server, lingala("resumer", None));
    assert!(fresh["text"].as_str().unwrap().contains("Ondimi?"));

    // "Start again" on the resume offer: the first question, and a new response.
    hop_json(&server, lingala("restarter", None));
    hop_json(&server, lingala("restarter", Some("1")));
    let offer = hop_json(&server, lingala("restarter", None));
    assert!(offer["text"].as_str().unwrap().starts_with("Obandaki kala"));
    let restarted = hop_json(&server, lingala("restarter", Some("2")));
    assert!(
        restarted["text"].as_str().unwrap().contains("Ondimi?"),
        "{restarted}"
    );
    let declined = hop_json(&server, lingala("restarter", Some("2")));
    assert_eq!(declined["end"], true, "{declined}");
    assert_eq!(declined["response"]["status"], "declined");
    assert_ne!(declined["response"]["id"], response["id"]);

    // Nothing reached the journal, the sinks or the session store's counters.
    let journal = server.data_dir.join("responses.jsonl");
    let written = std::fs::read_to_string(&journal).unwrap_or_default();
    assert!(written.is_empty(), "the simulator recorded: {written}");
    assert_eq!(server.metric("sauti_sessions_started_total", &[]), 0.0);
    assert_eq!(server.metric("sauti_surveys_completed_total", &[]), 0.0);
}

fn prod_config() -> String {
    // Prod refuses gateways without authentication; these say a proxy authenticates them.
    "[gateways.africastalking]\nkind = \"africastalking\"\nauth = { none = true }\n\
     [gateways.africastalking-voice]\nkind = \"africastalking-voice\"\nname = \"africastalking\"\n\
     auth = { none = true }\n"
        .into()
}

#[test]
fn production_hides_the_simulator_unless_enabled_explicitly() {
    let prod = |args: &[&str]| {
        Server::start_with(Options {
            config: Some(prod_config()),
            args: ["--profile", "prod"]
                .iter()
                .chain(args)
                .map(|a| a.to_string())
                .collect(),
            ..Options::default()
        })
    };
    let hidden = prod(&[]);
    for path in ["/simulator", "/simulator/flows"] {
        assert_eq!(hidden.get(path).status, 404, "{path}");
    }
    assert_eq!(
        hop(&hidden, &lingala("p", None).to_string()).status,
        404,
        "prod must not serve hops"
    );
    assert_eq!(prod(&["--simulator"]).get("/simulator").status, 200);
    let dev_off = Server::start_with(Options {
        args: vec!["--simulator=false".into()],
        ..Options::default()
    });
    assert_eq!(dev_off.get("/simulator").status, 404);
}

// --- In a real browser --------------------------------------------------------------------

/// Chromium uses both cores: one browser at a time.
static BROWSER: Mutex<()> = Mutex::new(());

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

/// A `chromedriver` on a free port, stopped when dropped.
struct Chromedriver {
    child: Child,
    url: String,
    chromium: PathBuf,
}

impl Chromedriver {
    fn start() -> Chromedriver {
        const HOW: &str = "install them with `apt-get install -y chromium chromium-driver` \
                           (scripts/test installs them when missing)";
        let driver =
            on_path("chromedriver").unwrap_or_else(|| panic!("chromedriver not found: {HOW}"));
        let chromium = on_path("chromium")
            .or_else(|| on_path("chromium-browser"))
            .unwrap_or_else(|| panic!("chromium not found: {HOW}"));
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("chromedriver exited at start ({status}): {HOW}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("chromedriver did not listen on port {port} within 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Chromedriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium,
        }
    }

    async fn browser(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": self.chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,860", "--lang=en"],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("cannot open headless Chromium via chromedriver: {e}"))
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The phone as the page shows it.
#[derive(Debug)]
struct Shown {
    screen: String,
    meter: String,
}

impl Shown {
    /// Asserts the screen begins with `start` and the line under it holds `meter`.
    fn shows(&self, start: &str, meter: &str) {
        assert!(
            self.screen.starts_with(start) && self.meter.contains(meter),
            "expected a screen starting {start:?} with {meter:?} under it; the page shows {self:?}"
        );
    }
}

/// Runs a browser story with a deadline: a missing or stuck browser fails, never hangs.
fn in_browser<F>(story: impl FnOnce(Client, Server) -> F)
where
    F: Future<Output = ()>,
{
    let _one = BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let driver = Chromedriver::start();
    let server = Server::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = tokio::time::timeout(Duration::from_secs(60), driver.browser())
            .await
            .expect("headless Chromium did not start within 60 s");
        let closer = client.clone();
        let outcome = tokio::time::timeout(Duration::from_secs(120), story(client, server)).await;
        let _ = closer.close().await;
        outcome.expect("the browser story took more than 120 s");
    });
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

async fn text_of(c: &Client, id: &str) -> String {
    let v = js(
        c,
        &format!("return document.getElementById('{id}').textContent"),
    )
    .await;
    v.as_str().unwrap_or_default().to_owned()
}

/// Waits for the page to show hop number `n` (or an error), and returns what it shows.
async fn hop_shown(c: &Client, n: u32) -> Shown {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let at = js(c, "return document.getElementById('screen').dataset.hop").await;
        if at.as_str() == Some(&n.to_string()) {
            return Shown {
                screen: text_of(c, "screen").await,
                meter: text_of(c, "meter").await,
            };
        }
        let error = text_of(c, "error").await;
        assert!(
            error.is_empty(),
            "the page shows an error at hop {n}: {error}"
        );
        assert!(Instant::now() < deadline, "hop {n} never shown (at {at})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Opens the page and picks kufatilia in Lingala on the standard budget, then dials.
async fn dial_kufatilia_in_lingala(c: &Client, server: &Server) -> Shown {
    c.goto(&format!("http://{}/simulator", server.addr))
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("body[data-ready='true']"))
        .await
        .expect("the page never loaded its flows");
    let pick = |id: &'static str, value: &'static str| async move {
        c.find(Locator::Id(id))
            .await
            .unwrap()
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("cannot pick {value} in #{id}: {e}"));
    };
    pick("flow", "kufatilia").await;
    pick("lang", "ln").await;
    pick("budget", "standard").await;
    click(c, Locator::Id("dial")).await;
    hop_shown(c, 1).await
}

async fn click(c: &Client, what: Locator<'_>) {
    let found = c.find(what).await;
    let element = found.unwrap_or_else(|e| panic!("{what:?} not on the page: {e}"));
    element.click().await.unwrap();
}

/// How the researcher types an answer.
#[derive(Clone, Copy)]
enum By {
    /// Clicks on the on-screen keypad, then Send.
    Keypad,
    /// Types on the keyboard, then Enter.
    Keyboard,
}
use By::{Keyboard, Keypad};

impl By {
    /// Answers `input`, and returns the screen of the next hop (hop number `hop`, counted).
    async fn answer(self, c: &Client, input: &str, hop: &mut u32) -> Shown {
        match self {
            Keypad => {
                for key in input.chars() {
                    let css = format!("[data-key='{key}']");
                    click(c, Locator::Css(&css)).await;
                }
                click(c, Locator::Id("send")).await;
            }
            Keyboard => {
                let enter = char::from(fantoccini::key::Key::Enter);
                let entry = c.find(Locator::Id("entry")).await.unwrap();
                entry.send_keys(&format!("{input}{enter}")).await.unwrap();
            }
        }
        *hop += 1;
        hop_shown(c, *hop).await
    }
}

#[test]
fn a_researcher_completes_kufatilia_in_lingala_in_a_browser() {
    in_browser(|c, server| async move {
        let consent = dial_kufatilia_in_lingala(&c, &server).await;
        consent.shows("Sauti: yebisa likambo", "96/182 GSM-7");
        assert!(consent.meter.starts_with("CON"), "{consent:?}");
        assert!(
            consent.screen.ends_with("1. Iyo\n2. Te\n0. Zonga"),
            "{consent:?}"
        );
        let mut n = 1;
        let incident = Keypad.answer(&c, "1", &mut n).await;
        incident.shows("Olingi koyebisa nini?", "170/182 GSM-7");
        assert!(
            incident.screen.contains("8. Barrière na nzela"),
            "{incident:?}"
        );
        let answers = [
            (Keypad, "8"),
            (Keypad, "1"),
            (Keypad, "3"),
            (Keyboard, "Fizi"),
            (Keyboard, "Misisi"),
            (Keyboard, "Lubichako"),
        ];
        for (by, input) in answers {
            by.answer(&c, input, &mut n).await;
        }
        let reask = hop_shown(&c, n).await;
        reask.shows("Koma motango.\nBarrière na nzela", "84/182 GSM-7");
        Keypad.answer(&c, "4", &mut n).await;
        let end = Keypad.answer(&c, "1", &mut n).await;
        end.shows("Matondi. Toyambi sango na yo.", "65/182 GSM-7");
        assert!(end.meter.starts_with("END"), "{end:?}");

        let response: Value = serde_json::from_str(&text_of(&c, "response").await)
            .expect("the response JSON shown at the end");
        assert_eq!(response["status"], "complete");
        assert_eq!(response["language"], "ln");
        assert_eq!(response["flow"], "kufatilia");
        let answers = &response["answers"];
        assert_eq!(answers["consent"]["value"], "yes");
        assert_eq!(answers["incident"]["value"], "roadblock");
        assert_eq!(answers["when"]["value"], "today");
        assert_eq!(answers["province"]["value"], "ituri");
        assert_eq!(answers["territory"]["value"], "Fizi");
        assert_eq!(answers["site"]["value"], "Misisi");
        assert_eq!(answers["people"]["value"], 4);
        assert_eq!(answers["contact"]["value"], "yes");

        let png = c.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        std::fs::write(
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("simulator.png"),
            &png,
        )
        .unwrap();
        // `SAUTI_UPDATE_SCREENSHOT=1 cargo test --test simulator` refreshes the README's image.
        if std::env::var_os("SAUTI_UPDATE_SCREENSHOT").is_some() {
            std::fs::write(Path::new(common::REPO).join("docs/simulator.png"), &png).unwrap();
        }
        let journal =
            std::fs::read_to_string(server.data_dir.join("responses.jsonl")).unwrap_or_default();
        assert!(journal.is_empty(), "the simulator recorded: {journal}");
    });
}

#[test]
fn network_dropped_in_a_browser_offers_to_resume() {
    in_browser(|c, server| async move {
        dial_kufatilia_in_lingala(&c, &server).await;
        let mut n = 1;
        Keypad.answer(&c, "1", &mut n).await;
        let when = Keypad.answer(&c, "8", &mut n).await;
        assert!(
            when.screen.starts_with("Likambo esalemaki ntango nini?"),
            "{when:?}"
        );
        click(&c, Locator::Id("drop")).await;
        n += 1;
        let offer = hop_shown(&c, n).await;
        assert_eq!(
            offer.screen,
            "Obandaki kala mituna oyo.\n1. Kokoba\n2. Kobanda sika"
        );
        assert!(offer.meter.contains("51/182 GSM-7"), "{offer:?}");
        let back = Keypad.answer(&c, "1", &mut n).await;
        assert_eq!(
            back.screen, when.screen,
            "resumed where the network dropped"
        );
    });
}
