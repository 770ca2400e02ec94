//! Hubtel Programmable Services (Ghana): a JSON POST per request to the service interaction
//! URL (`SessionId`, `ServiceCode` such as `713*4`, `Type` initiation/response/release/
//! timeout, `Message`, `Operator`, `Mobile`, `Sequence`), answered with JSON (`SessionId`,
//! `Type` response or release, `Message`, `Label`, `ClientState`, `DataType`, `FieldType`).
//!
//! Hubtel sends only the **latest** input: the initiation's `Message` is the dialled string
//! (`*713*4#`, no answer unless the code was dialled with an extension, `*713*4*1#` → `1`),
//! each response's `Message` is what the respondent just typed. Its `Sequence` numbers the
//! requests of a session (1 = initiation), so a retried or late request changes nothing
//! ([`latest_progress`]). `release` (the respondent left) and `timeout` (Sauti answered too
//! late; Hubtel ignores any answer to it) end the session.

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
use crate::render::ussd::Screen;

/// The Hubtel Programmable Services adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct HubtelProgrammable;

/// A Hubtel request, programmable or legacy (the legacy API capitalises its types).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HubtelRequest {
    #[serde(default, deserialize_with = "loose_string")]
    session_id: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    service_code: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    r#type: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    message: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    operator: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    mobile: Option<String>,
    /// A number in Hubtel's current docs, a string in an older sample: either is read.
    #[serde(default, deserialize_with = "loose_string")]
    sequence: Option<String>,
}

/// A Hubtel request (both APIs): a hop, or the end of the session (`Release`, `Timeout`).
pub(super) fn decode_hubtel(request: &WireRequest<'_>) -> Result<Decoded, GatewayError> {
    let r: HubtelRequest = json_body(request.body)?;
    let session_id = required(r.session_id, "SessionId")?;
    let kind = required(r.r#type, "Type")?.to_ascii_lowercase();
    let sequence = r
        .sequence
        .map(|s| match s.trim().parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(GatewayError::Invalid {
                field: "Sequence",
                why: "expected the request's number in the session (1 for the initiation)",
            }),
        })
        .transpose()?;
    let opening = match kind.as_str() {
        "initiation" => true,
        "response" => false,
        "release" | "timeout" => {
            return Ok(Decoded::Ended(SessionEnded {
                session_id,
                status: Some(kind),
                hops: sequence.map(|n| n.to_string()),
                duration_secs: None,
            }));
        }
        _ => {
            return Err(GatewayError::Invalid {
                field: "Type",
                why: "expected initiation, response, release or timeout",
            });
        }
    };
    let phone_number = phone_number(r.mobile, "Mobile")?;
    let address = ussd_code(&required(r.service_code, "ServiceCode")?);
    let message = input(r.message, "Message", MAX_INPUT)?;
    let (input, turn) = if opening {
        (dial_extension(&address, &message).to_owned(), Some(OPENING))
    } else {
        match sequence {
            Some(n) if n <= OPENING => {
                return Err(GatewayError::Invalid {
                    field: "Sequence",
                    why: "a response follows the initiation (Sequence 1)",
                });
            }
            n => (message, n),
        }
    };
    Ok(Decoded::Hop(Inbound {
        session_id,
        phone_number,
        address,
        network: optional(r.operator, "Operator")?,
        input,
        recording: None,
        turn,
        message_id: None,
    }))
}

/// What [`Gateway::decode_session_ended`] makes of a Hubtel request: only its ends.
pub(super) fn hubtel_ended(request: &WireRequest<'_>) -> Result<SessionEnded, GatewayError> {
    match decode_hubtel(request)? {
        Decoded::Ended(ended) => Ok(ended),
        Decoded::Hop(_) => Err(GatewayError::Invalid {
            field: "Type",
            why: "expected release or timeout",
        }),
    }
}

const JSON: &str = "application/json; charset=utf-8";

/// A reply of Programmable Services.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct HubtelReply<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a str>,
    r#type: &'static str,
    message: &'a str,
    /// The title Hubtel's app and web channels show: the screen's first line.
    label: &'a str,
    /// Sauti keeps its state itself.
    client_state: &'static str,
    /// `input` (the respondent types the option's number or the answer), `display` at the end.
    data_type: &'static str,
    field_type: &'static str,
}

fn reply(session_id: Option<&str>, screen: &Screen) -> Reply {
    let body = HubtelReply {
        session_id,
        r#type: if screen.end { "release" } else { "response" },
        message: &screen.text,
        label: screen.text.lines().next().unwrap_or("").trim(),
        client_state: "",
        data_type: if screen.end { "display" } else { "input" },
        field_type: "text",
    };
    Reply::ok(
        JSON,
        serde_json::to_string(&body).expect("a reply serializes"),
    )
}

/// The `SessionId` a request names (to repeat it), if it names one.
fn session_id_of(request: &WireRequest<'_>) -> Option<String> {
    #[derive(Deserialize)]
    struct Echo {
        #[serde(rename = "SessionId", default, deserialize_with = "loose_string")]
        session_id: Option<String>,
    }
    let echo: Echo = json_body(request.body).ok()?;
    required(echo.session_id, "SessionId").ok()
}

impl Gateway for HubtelProgrammable {
    fn channel(&self) -> Channel {
        Channel::Ussd
    }

    fn decode(&self, request: &WireRequest<'_>) -> Result<Decoded, GatewayError> {
        decode_hubtel(request)
    }

    /// The latest input, numbered by `Sequence` (see [`latest_progress`]).
    fn progress<'h>(&self, cursor: &InputCursor, hop: &'h Inbound) -> Progress<'h> {
        latest_progress(cursor, hop)
    }

    fn cursor(&self, before: &InputCursor, hop: &Inbound) -> InputCursor {
        latest_cursor(before, hop)
    }

    /// The reply without its `SessionId` (see [`Gateway::encode_for`]).
    fn encode(&self, rendered: &Rendered) -> Reply {
        reply(None, ussd_screen(rendered))
    }

    /// The reply, with the request's `SessionId` as Hubtel's documentation shows it.
    fn encode_for(&self, request: &WireRequest<'_>, rendered: &Rendered) -> Reply {
        reply(session_id_of(request).as_deref(), ussd_screen(rendered))
    }

    fn decode_session_ended(
        &self,
        request: &WireRequest<'_>,
    ) -> Result<SessionEnded, GatewayError> {
        hubtel_ended(request)
    }

    fn content_type(&self) -> Option<&'static str> {
        Some("application/json")
    }

    /// A `release` with nothing to show (Hubtel ignores any answer to a `timeout`).
    fn ended_reply(&self) -> Reply {
        reply(
            None,
            &Screen {
                end: true,
                text: String::new(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::gateway::fixture::{Request, Response, Session};

    const DIR: &str = "hubtel-programmable";
    const SESSION: &str = "8d440a43a98b4614b9df22b79c8190b8";

    fn hop(file: &str) -> Inbound {
        match HubtelProgrammable.decode(&Request::read(DIR, file).wire()) {
            Ok(Decoded::Hop(hop)) => hop,
            other => panic!("{file}: {other:?}"),
        }
    }

    fn decode_json(body: serde_json::Value) -> Result<Decoded, GatewayError> {
        let body = body.to_string();
        HubtelProgrammable.decode(&WireRequest::form(body.as_bytes()))
    }

    fn request(kind: &str, message: &str, sequence: serde_json::Value) -> serde_json::Value {
        json!({"SessionId": SESSION, "ServiceCode": "713*4", "Type": kind, "Message": message,
               "Operator": "mtn", "Platform": "USSD", "Mobile": "233246912184",
               "ClientState": "", "Sequence": sequence})
    }

    #[test]
    fn the_fixture_requests_decode_to_every_field() {
        let first = Inbound {
            session_id: SESSION.into(),
            phone_number: "233246912184".into(),
            address: "*713*4#".into(),
            network: Some("mtn".into()),
            input: String::new(),
            recording: None,
            turn: Some(1),
            message_id: None,
        };
        assert_eq!(hop("01-initiation.request.http"), first);
        assert_eq!(
            hop("02-release.request.http"),
            Inbound {
                input: "1".into(),
                turn: Some(2),
                message_id: None,
                ..first
            }
        );
    }

    #[test]
    fn the_fixture_session_takes_each_answer_once() {
        let gw = HubtelProgrammable;
        let (initiation, answer) = (
            hop("01-initiation.request.http"),
            hop("02-release.request.http"),
        );
        let mut session = Session::default();
        assert_eq!(session.hop(&gw, &initiation), Progress::Same);
        assert_eq!(session.hop(&gw, &initiation), Progress::Same);
        assert_eq!(session.hop(&gw, &answer), Progress::New("1"));
        assert_eq!(session.hop(&gw, &answer), Progress::Same);
        assert_eq!(session.hop(&gw, &initiation), Progress::Stale);
    }

    #[test]
    fn a_code_dialled_with_an_extension_answers_the_first_screen() {
        let Ok(Decoded::Hop(dial)) = decode_json(request("initiation", "*713*4*1#", json!(1)))
        else {
            panic!()
        };
        assert_eq!(
            (dial.address.as_str(), dial.input.as_str()),
            ("*713*4#", "1")
        );
        let mut session = Session::default();
        assert_eq!(session.hop(&HubtelProgrammable, &dial), Progress::New("1"));
        assert_eq!(session.hop(&HubtelProgrammable, &dial), Progress::Same);
    }

    #[test]
    fn replies_are_the_fixtures_but_for_what_sauti_cannot_know() {
        let gw = HubtelProgrammable;
        // The fixtures' Label, ClientState and menu Data come from an app that names its
        // screens and keeps its state at Hubtel; Sauti's screen is numbered text.
        let first = Request::read(DIR, "01-initiation.request.http");
        let expected = Response::read(DIR, "01-initiation.response.http");
        let menu = Screen {
            end: false,
            text: "Sauti\n1. Francais\n2. Kiswahili\n3. Lingala".into(),
        };
        let reply = gw.encode_for(&first.wire(), &Rendered::Ussd(menu.clone()));
        expected.assert_head(&reply);
        let mut theirs = expected.json();
        theirs["Label"] = json!("Sauti");
        theirs["ClientState"] = json!("");
        theirs["DataType"] = json!("input");
        theirs.as_object_mut().unwrap().remove("Data");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&reply.body).unwrap(),
            theirs
        );

        let second = Request::read(DIR, "02-release.request.http");
        let expected = Response::read(DIR, "02-release.response.http");
        let end = Screen {
            end: true,
            text: "Merci.".into(),
        };
        let reply = gw.encode_for(&second.wire(), &Rendered::Ussd(end));
        expected.assert_head(&reply);
        let mut theirs = expected.json();
        theirs["Label"] = json!("Merci.");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&reply.body).unwrap(),
            theirs
        );

        // Without the request: everything but the SessionId.
        let bare: serde_json::Value =
            serde_json::from_str(&gw.encode(&Rendered::Ussd(menu)).body).unwrap();
        assert!(bare.get("SessionId").is_none());
        assert_eq!(bare["Type"], "response");
    }

    #[test]
    fn release_and_timeout_end_the_session() {
        for kind in ["release", "Timeout"] {
            let ended = SessionEnded {
                session_id: SESSION.into(),
                status: Some(kind.to_ascii_lowercase()),
                hops: Some("3".into()),
                duration_secs: None,
            };
            assert_eq!(
                decode_json(request(kind, "", json!(3))),
                Ok(Decoded::Ended(ended.clone()))
            );
            let body = request(kind, "", json!("3")).to_string();
            assert_eq!(
                HubtelProgrammable.decode_session_ended(&WireRequest::form(body.as_bytes())),
                Ok(ended)
            );
        }
        let body = request("response", "1", json!(2)).to_string();
        assert!(
            HubtelProgrammable
                .decode_session_ended(&WireRequest::form(body.as_bytes()))
                .is_err()
        );
        let ack: serde_json::Value =
            serde_json::from_str(&HubtelProgrammable.ended_reply().body).unwrap();
        assert_eq!(ack["Type"], "release");
        assert_eq!(ack["Message"], "");
    }

    #[test]
    fn bad_requests_are_named() {
        let mut no_session = request("response", "1", json!(2));
        no_session.as_object_mut().unwrap().remove("SessionId");
        assert_eq!(
            decode_json(no_session),
            Err(GatewayError::Missing("SessionId"))
        );
        let mut no_code = request("response", "1", json!(2));
        no_code.as_object_mut().unwrap().remove("ServiceCode");
        assert_eq!(
            decode_json(no_code),
            Err(GatewayError::Missing("ServiceCode"))
        );
        let mut no_mobile = request("initiation", "", json!(1));
        no_mobile["Mobile"] = json!("");
        assert_eq!(decode_json(no_mobile), Err(GatewayError::Missing("Mobile")));
        let mut nonsense = request("initiation", "", json!(1));
        nonsense["Mobile"] = json!("hello");
        assert!(matches!(
            decode_json(nonsense),
            Err(GatewayError::Invalid {
                field: "Mobile",
                ..
            })
        ));
        assert!(matches!(
            decode_json(request("AddToCart", "", json!(2))),
            Err(GatewayError::Invalid { field: "Type", .. })
        ));
        for sequence in [json!(0), json!("x"), json!(-2), json!(1)] {
            assert!(
                matches!(
                    decode_json(request("response", "1", sequence.clone())),
                    Err(GatewayError::Invalid {
                        field: "Sequence",
                        ..
                    })
                ),
                "{sequence}"
            );
        }
        assert!(matches!(
            decode_json(request("response", &"9".repeat(MAX_INPUT + 1), json!(2))),
            Err(GatewayError::Invalid {
                field: "Message",
                ..
            })
        ));
        for body in [&b"{\"SessionId\": "[..], b"", b"[]", b"{\"Mobile\": true}"] {
            assert!(matches!(
                HubtelProgrammable.decode(&WireRequest::form(body)),
                Err(GatewayError::Malformed(_))
            ));
        }
    }

    #[test]
    fn a_response_without_a_sequence_is_taken_as_it_comes() {
        let mut body = request("response", "2", json!(null));
        body.as_object_mut().unwrap().remove("Sequence");
        let Ok(Decoded::Hop(hop)) = decode_json(body) else {
            panic!()
        };
        assert_eq!(hop.turn, None);
        let cursor = latest_cursor(
            &InputCursor::START,
            &self::hop("01-initiation.request.http"),
        );
        assert_eq!(
            HubtelProgrammable.progress(&cursor, &hop),
            Progress::New("2")
        );
    }

    /// Found with the `gateway_hubtel` fuzz target (docs/fuzzing.md): the last `Sequence` a
    /// `u32` holds, once taken, was taken again on every retry (`u32::MAX + 1` saturated to it).
    #[test]
    fn the_last_sequence_is_taken_once() {
        let Ok(Decoded::Hop(last)) = decode_json(request("response", "1", json!(u32::MAX))) else {
            panic!()
        };
        assert_eq!(last.turn, Some(u32::MAX));
        let gw = HubtelProgrammable;
        let before = InputCursor {
            len: u32::MAX - 1,
            hash: 0,
        };
        assert_eq!(gw.progress(&before, &last), Progress::New("1"));
        let taken = gw.cursor(&before, &last);
        assert_eq!(gw.progress(&taken, &last), Progress::Same);
        let Ok(Decoded::Hop(earlier)) = decode_json(request("response", "2", json!(7))) else {
            panic!()
        };
        assert_eq!(gw.progress(&taken, &earlier), Progress::Stale);
    }
}
