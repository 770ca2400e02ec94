//! `GET /simulator`: a phone in the browser, and the JSON endpoints behind it, driving the
//! same engine and USSD renderer as a gateway's hop; nothing is recorded (docs/simulator.md).

mod catalogue;
mod request;
mod session;
mod store;

use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub use catalogue::{BudgetChoice, STANDARD, budgets};
pub use request::{HopRequest, MAX_BODY_BYTES, MAX_INPUT_CHARS, Refusal, parse_hop};
pub use session::{PressError, Respondent, Turn};
pub use store::Respondents;

use crate::engine::HopContext;
use crate::gateway::ConfiguredGateway;
use crate::server::App;

type Reply = Response<Full<Bytes>>;

/// The page: one file, its CSS and script inline, nothing fetched from elsewhere.
const PAGE: &str = include_str!("page.html");

/// The page's policy: only its own inline script and style (by hash), requests to this
/// server only, never framed.
static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; \
         img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        inline_hash(PAGE, "script"),
        inline_hash(PAGE, "style")
    )
});

/// `sha256-<base64>` of the content of the first `<tag>` element of `page`.
fn inline_hash(page: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let content = page
        .split_once(&open)
        .and_then(|(_, rest)| rest.split_once(&close))
        .map_or("", |(content, _)| content);
    let digest = Sha256::digest(content.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The simulator's state: what it offers, and its respondents.
pub struct Simulator {
    budgets: Vec<BudgetChoice>,
    /// A std mutex: a hop holds it only for the pure engine's few microseconds, never
    /// across an await.
    respondents: Mutex<Respondents>,
}

impl Simulator {
    /// A simulator offering the standard budget and those of `gateways` (the USSD ones).
    pub fn new<'g>(gateways: impl Iterator<Item = &'g ConfiguredGateway>) -> Simulator {
        Simulator {
            budgets: budgets(gateways),
            respondents: Mutex::new(Respondents::default()),
        }
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    guarded(r)
}

/// Every reply of the simulator, refusals of the server's own included: not sniffed, not
/// cached, not framed, no referrer.
fn guarded(mut r: Reply) -> Reply {
    let h = r.headers_mut();
    h.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(csp) = HeaderValue::from_str(&CONTENT_SECURITY_POLICY) {
        h.insert(HeaderName::from_static("content-security-policy"), csp);
    }
    r
}

fn refuse(status: StatusCode, reason: &str) -> Reply {
    reply(status, "text/plain; charset=utf-8", format!("{reason}\n"))
}

fn method_not_allowed(allow: &'static str) -> Reply {
    let mut r = refuse(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("method not allowed; use {allow}"),
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

/// Serves `/simulator` and `/simulator/...`.
pub async fn serve(
    app: &App,
    simulator: &Simulator,
    parts: &hyper::http::request::Parts,
    body: Incoming,
) -> Reply {
    let method = &parts.method;
    match parts.uri.path() {
        "/simulator" => match *method {
            Method::GET => reply(StatusCode::OK, "text/html; charset=utf-8", PAGE),
            _ => method_not_allowed("GET"),
        },
        "/simulator/flows" => match *method {
            Method::GET => reply(
                StatusCode::OK,
                "application/json",
                catalogue::json(&app.survey.flows(), &simulator.budgets),
            ),
            _ => method_not_allowed("GET"),
        },
        "/simulator/hop" => match *method {
            Method::POST => hop(app, simulator, parts, body).await,
            _ => method_not_allowed("POST"),
        },
        _ => refuse(StatusCode::NOT_FOUND, "not found"),
    }
}

/// `POST /simulator/hop`: one dial or key press, answered with the screen as the gateway
/// would deliver it, its cost, and the response when the survey ends.
async fn hop(
    app: &App,
    simulator: &Simulator,
    parts: &hyper::http::request::Parts,
    body: Incoming,
) -> Reply {
    if parts.headers.get(CONTENT_TYPE).is_none() {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected Content-Type: application/json",
        );
    }
    let body =
        match crate::server::read_body(app, &parts.headers, body, Some("application/json")).await {
            Ok(b) => b,
            Err(refused) => return guarded(refused),
        };
    let flows = app.survey.flows();
    let request = match parse_hop(&body, &flows, &simulator.budgets) {
        Ok(r) => r,
        Err(refusal) => {
            let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
            return refuse(status, &refusal.reason);
        }
    };
    let now = time::OffsetDateTime::now_utc();
    let clock = Instant::now();
    let ctx = HopContext { today: now.date() };
    let turn = {
        let mut respondents = simulator
            .respondents
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match &request.input {
            None => Ok(respondents.get_or_add(&request.session, clock).dial(
                &flows,
                &request.flow,
                request.lang,
                request.budget,
                now,
            )),
            Some(input) => match respondents.get(&request.session, clock) {
                None => Err(PressError::NotDialled),
                Some(respondent) => respondent.press(&flows, input, &ctx, now),
            },
        }
    };
    match turn {
        Ok(turn) => reply(
            StatusCode::OK,
            "application/json",
            turn_json(&turn).to_string(),
        ),
        Err(e) => refuse(StatusCode::CONFLICT, &e.to_string()),
    }
}

/// What the page shows of a turn.
fn turn_json(turn: &Turn) -> Value {
    let mut out = json!({
        "text": turn.screen.text,
        "end": turn.screen.end,
        "cost": turn.cost.cost,
        "limit": turn.cost.limit,
        "encoding": turn.cost.encoding,
    });
    if let Some(response) = &turn.response {
        out["response"] = serde_json::to_value(response).unwrap_or(Value::Null);
    }
    if turn.declined_unrecorded {
        out["note"] = "declined: the flow counts no refusal, so nothing would be recorded".into();
    }
    out
}
