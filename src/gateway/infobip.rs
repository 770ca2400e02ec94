//! Infobip's (legacy) "USSD Gateway to Third-party Application HTTP/REST/JSON" API: the
//! session id and the method are in the path, `…/session/<sessionId>/start` (POST: the dial),
//! `…/response` (POST: an answer) and `…/end` (PUT: the session is over), with a JSON body
//! `{msisdn, imsi, text, shortCode, language, optional, ussdGwId}` (`{reason, exitCode}` for
//! `end`). Replies are JSON `{"shouldClose", "ussdMenu", "responseExitCode": 200,
//! "responseMessage": ""}`; `end` is acknowledged with `{"responseExitCode": 200,
//! "responseMessage": ""}`.
//!
//! Infobip sends only the **latest** input: `start`'s `text` is the dialled string (no answer
//! unless it extends `shortCode`, `*384*7788*1#` → `1`), each `response`'s `text` is what the
//! respondent just typed ([`latest_progress`]; a retried `response` cannot be told from the
//! same answer typed again). `shortCode` is "not as mandatory as the documentation claims"
//! (vumi): the address is `start`'s `shortCode` (or its `text`), and only `start` has to name
//! it ([`Gateway::repeats_address`] is false). The `status` method is not supported (Sauti's
//! adapters keep no session list): it is refused with a 400, and so is an unknown method.
//!
//! The session id is read from the path's last two segments (`<sessionId>/<method>`), from
//! the action the server routes (`session/<id>/start`), else from the request's path.

use serde::{Deserialize, Serialize};

use super::{
    Decoded, Gateway, GatewayError, Inbound, InputCursor, MAX_INPUT, OPENING, Progress, Reply,
    SessionEnded, WireRequest,
};
use super::{
    dial_extension, input, json_body, latest_cursor, latest_progress, loose_string, optional,
    phone_number, required, ussd_code, ussd_screen,
};
use crate::channel::{Channel, Rendered};

/// The Infobip USSD adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct InfobipUssd;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HopBody {
    #[serde(default, deserialize_with = "loose_string")]
    msisdn: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    text: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    short_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EndBody {
    #[serde(default, deserialize_with = "loose_string")]
    reason: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    exit_code: Option<String>,
}

/// What a request's path asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Start,
    Response,
    End,
}

/// The session id and method of a request's path.
fn route(request: &WireRequest<'_>) -> Result<(String, Method), GatewayError> {
    let path = if request.action.is_empty() {
        request.path_and_query.split('?').next().unwrap_or("")
    } else {
        request.action
    };
    let mut segments = path.rsplit('/').filter(|s| !s.is_empty());
    let (method, id) = (segments.next(), segments.next());
    let method = match method {
        Some("start") => Method::Start,
        Some("response") => Method::Response,
        Some("end") => Method::End,
        _ => {
            return Err(GatewayError::Invalid {
                field: "path",
                why: "expected …/session/<sessionId>/start, response or end (status is not supported)",
            });
        }
    };
    Ok((required(id.map(str::to_owned), "sessionId")?, method))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MenuReply<'a> {
    should_close: bool,
    ussd_menu: &'a str,
    response_exit_code: u16,
    response_message: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Acknowledgement {
    response_exit_code: u16,
    response_message: &'static str,
}

const JSON: &str = "application/json";

impl Gateway for InfobipUssd {
    fn channel(&self) -> Channel {
        Channel::Ussd
    }

    fn decode(&self, request: &WireRequest<'_>) -> Result<Decoded, GatewayError> {
        let (session_id, method) = route(request)?;
        if method == Method::End {
            return Ok(Decoded::Ended(ended(session_id, request.body)?));
        }
        let body: HopBody = json_body(request.body)?;
        let phone_number = phone_number(body.msisdn, "msisdn")?;
        let Some(text) = body.text else {
            return Err(GatewayError::Missing("text"));
        };
        let text = input(Some(text), "text", MAX_INPUT)?;
        let short_code = optional(body.short_code, "shortCode")?.map(|c| ussd_code(&c));
        let hop = match (method, short_code) {
            (Method::Start, Some(code)) => (dial_extension(&code, &text).to_owned(), code, true),
            (Method::Start, None) => (String::new(), ussd_code(&text), true),
            (_, code) => (text, code.unwrap_or_default(), false),
        };
        let (input, address, opening) = hop;
        Ok(Decoded::Hop(Inbound {
            session_id,
            phone_number,
            address,
            network: None,
            input,
            recording: None,
            turn: opening.then_some(OPENING),
            message_id: None,
        }))
    }

    /// Latest input only (see [`latest_progress`]): `start` is the opening.
    fn progress<'h>(&self, cursor: &InputCursor, hop: &'h Inbound) -> Progress<'h> {
        latest_progress(cursor, hop)
    }

    fn cursor(&self, before: &InputCursor, hop: &Inbound) -> InputCursor {
        latest_cursor(before, hop)
    }

    fn encode(&self, rendered: &Rendered) -> Reply {
        let screen = ussd_screen(rendered);
        let body = MenuReply {
            should_close: screen.end,
            ussd_menu: &screen.text,
            response_exit_code: 200,
            response_message: "",
        };
        Reply::ok(
            JSON,
            serde_json::to_string(&body).expect("a reply serializes"),
        )
    }

    fn decode_session_ended(
        &self,
        request: &WireRequest<'_>,
    ) -> Result<SessionEnded, GatewayError> {
        match route(request)? {
            (session_id, Method::End) => ended(session_id, request.body),
            _ => Err(GatewayError::Invalid {
                field: "path",
                why: "expected …/session/<sessionId>/end",
            }),
        }
    }

    /// `shortCode` may be missing from `response` requests.
    fn repeats_address(&self) -> bool {
        false
    }

    fn methods(&self) -> &'static str {
        "POST, PUT"
    }

    fn takes_action(&self, action: &str) -> bool {
        action.is_empty() || action.starts_with("session/")
    }

    fn content_type(&self) -> Option<&'static str> {
        Some(JSON)
    }

    fn ended_reply(&self) -> Reply {
        let body = Acknowledgement {
            response_exit_code: 200,
            response_message: "",
        };
        Reply::ok(
            JSON,
            serde_json::to_string(&body).expect("a reply serializes"),
        )
    }
}

/// The `end` of a session: its reason and exit code, when the body says (it may be empty).
fn ended(session_id: String, body: &[u8]) -> Result<SessionEnded, GatewayError> {
    let end: EndBody = if body.iter().all(u8::is_ascii_whitespace) {
        EndBody {
            reason: None,
            exit_code: None,
        }
    } else {
        json_body(body)?
    };
    let reason = optional(end.reason, "reason")?;
    let code = optional(end.exit_code, "exitCode")?;
    let status = match (reason, code) {
        (Some(reason), Some(code)) => Some(format!("{reason} (exit code {code})")),
        (Some(reason), None) => Some(reason),
        (None, Some(code)) => Some(format!("exit code {code}")),
        (None, None) => None,
    };
    Ok(SessionEnded {
        session_id,
        status,
        hops: None,
        duration_secs: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::gateway::fixture::{Request, Response, Session};
    use crate::render::ussd::Screen;

    const DIR: &str = "infobip-ussd-legacy";

    fn decoded(file: &str) -> Decoded {
        InfobipUssd
            .decode(&Request::read(DIR, file).wire())
            .unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    fn hop(file: &str) -> Inbound {
        match decoded(file) {
            Decoded::Hop(hop) => hop,
            other => panic!("{file}: {other:?}"),
        }
    }

    fn post<'a>(path: &'a str, body: &'a [u8], headers: &'a hyper::HeaderMap) -> WireRequest<'a> {
        WireRequest {
            method: "POST",
            action: "",
            path_and_query: path,
            query: "",
            headers,
            body,
        }
    }

    fn decode_at(path: &str, body: serde_json::Value) -> Result<Decoded, GatewayError> {
        let headers = hyper::HeaderMap::new();
        let body = body.to_string();
        InfobipUssd.decode(&post(path, body.as_bytes(), &headers))
    }

    #[test]
    fn the_fixture_requests_decode_to_every_field() {
        let start = Inbound {
            session_id: "5548721".into(),
            phone_number: "243810000004".into(),
            address: "*384*7788#".into(),
            network: None,
            input: String::new(),
            recording: None,
            turn: Some(OPENING),
            message_id: None,
        };
        assert_eq!(hop("01-start.request.http"), start);
        assert_eq!(
            hop("02-response.request.http"),
            Inbound {
                input: "1".into(),
                turn: None,
                message_id: None,
                ..start
            }
        );
        let end = SessionEnded {
            session_id: "5548721".into(),
            status: Some("ok (exit code 0)".into()),
            hops: None,
            duration_secs: None,
        };
        assert_eq!(decoded("03-end.request.http"), Decoded::Ended(end.clone()));
        let request = Request::read(DIR, "03-end.request.http");
        assert_eq!(request.method, "PUT");
        assert_eq!(InfobipUssd.decode_session_ended(&request.wire()), Ok(end));
        let request = Request::read(DIR, "01-start.request.http");
        assert!(InfobipUssd.decode_session_ended(&request.wire()).is_err());
    }

    #[test]
    fn the_fixture_session_takes_each_response() {
        let gw = InfobipUssd;
        let (start, response) = (
            hop("01-start.request.http"),
            hop("02-response.request.http"),
        );
        let mut session = Session::default();
        assert_eq!(session.hop(&gw, &start), Progress::Same);
        assert_eq!(session.hop(&gw, &start), Progress::Same, "a retried start");
        assert_eq!(session.hop(&gw, &response), Progress::New("1"));
    }

    #[test]
    fn replies_are_the_fixtures() {
        let gw = InfobipUssd;
        let screen = |end, text: &str| {
            Rendered::Ussd(Screen {
                end,
                text: text.into(),
            })
        };
        Response::read(DIR, "01-start.response.http").assert_reply(&gw.encode(&screen(
            false,
            "Sauti\n1. Francais\n2. Kiswahili\n3. Lingala",
        )));
        Response::read(DIR, "02-response.response.http")
            .assert_reply(&gw.encode(&screen(true, "Merci.")));
        Response::read(DIR, "03-end.response.http").assert_reply(&gw.ended_reply());
        assert_eq!((gw.methods(), gw.content_type()), ("POST, PUT", Some(JSON)));
    }

    #[test]
    fn the_path_may_come_as_the_action_and_short_codes_may_be_missing() {
        let headers = hyper::HeaderMap::new();
        let body = br#"{"msisdn": "243810000004", "text": "*384*7788*2#"}"#;
        let request = WireRequest {
            action: "session/77/start",
            ..post("/ussd/infobip/session/77/start", body, &headers)
        };
        let Ok(Decoded::Hop(hop)) = InfobipUssd.decode(&request) else {
            panic!()
        };
        // Without a shortCode the dialled string is the address, and answers nothing.
        assert_eq!(
            (
                hop.session_id.as_str(),
                hop.address.as_str(),
                hop.input.as_str()
            ),
            ("77", "*384*7788*2#", "")
        );
        let Ok(Decoded::Hop(hop)) = decode_at(
            "/ussd/infobip/session/77/start",
            json!({"msisdn": "243810000004", "text": "*384*7788*2#", "shortCode": "*384*7788#"}),
        ) else {
            panic!()
        };
        assert_eq!(
            (hop.address.as_str(), hop.input.as_str()),
            ("*384*7788#", "2")
        );
        let Ok(Decoded::Hop(hop)) = decode_at(
            "/ussd/infobip/session/77/response",
            json!({"msisdn": "243810000004", "text": ""}),
        ) else {
            panic!()
        };
        assert_eq!((hop.address.as_str(), hop.input.as_str()), ("", ""));
        // An end with no body.
        assert_eq!(
            InfobipUssd.decode(&post("/x/session/9/end", b"", &headers)),
            Ok(Decoded::Ended(SessionEnded {
                session_id: "9".into(),
                status: None,
                hops: None,
                duration_secs: None,
            }))
        );
    }

    #[test]
    fn bad_requests_are_named() {
        let ok = json!({"msisdn": "243810000004", "text": "1", "shortCode": "*384*7788#"});
        for path in ["/ussd/infobip/session/5/status", "/ussd/infobip", "/", ""] {
            assert!(
                matches!(
                    decode_at(path, ok.clone()),
                    Err(GatewayError::Invalid { field: "path", .. })
                ),
                "{path}"
            );
        }
        assert_eq!(
            decode_at("/response", ok.clone()),
            Err(GatewayError::Missing("sessionId"))
        );
        let path = "/ussd/infobip/session/5/response";
        assert_eq!(
            decode_at(path, json!({"text": "1"})),
            Err(GatewayError::Missing("msisdn"))
        );
        assert!(matches!(
            decode_at(path, json!({"msisdn": "not a number", "text": "1"})),
            Err(GatewayError::Invalid {
                field: "msisdn",
                ..
            })
        ));
        assert_eq!(
            decode_at(path, json!({"msisdn": "243810000004"})),
            Err(GatewayError::Missing("text"))
        );
        assert!(matches!(
            decode_at(
                path,
                json!({"msisdn": "243810000004", "text": "1".repeat(MAX_INPUT + 1)})
            ),
            Err(GatewayError::Invalid { field: "text", .. })
        ));
        let headers = hyper::HeaderMap::new();
        for body in [&b"{\"msisdn\": 2438"[..], b"null", b"\"text\""] {
            assert!(matches!(
                InfobipUssd.decode(&post(path, body, &headers)),
                Err(GatewayError::Malformed(_))
            ));
        }
        assert!(matches!(
            InfobipUssd.decode(&post("/session/5/end", b"{\"reason\": [", &headers)),
            Err(GatewayError::Malformed(_))
        ));
    }
}
