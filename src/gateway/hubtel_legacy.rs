//! Hubtel's legacy USSD API (Ghana; superseded by Programmable Services, see
//! [`super::hubtel`]): a JSON POST per request (`Mobile`, `SessionId`, `ServiceCode` such as
//! `713*4`, `Type` Initiation/Response/Release/Timeout, `Message`, `Operator`, `Sequence`),
//! answered with JSON `{"Type": "Response"|"Release", "Message", "ClientState"}`.
//!
//! Like Programmable Services it sends only the **latest** input, numbered by `Sequence`
//! (1 = the initiation, whose `Message` is the dialled string): a retried or late request
//! changes nothing ([`super::latest_progress`]). `Release` (the respondent left) and `Timeout`
//! (Sauti answered too late) end the session, acknowledged with an empty `Release`.

use serde::Serialize;

use super::hubtel::{decode_hubtel, hubtel_ended};
use super::{
    Decoded, Gateway, GatewayError, Inbound, InputCursor, Progress, Reply, SessionEnded,
    WireRequest, latest_cursor, latest_progress, ussd_screen,
};
use crate::channel::{Channel, Rendered};

/// The Hubtel legacy USSD adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct HubtelLegacy;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LegacyReply<'a> {
    r#type: &'static str,
    message: &'a str,
    /// Sauti keeps its state itself.
    client_state: &'static str,
}

fn reply(end: bool, message: &str) -> Reply {
    let body = LegacyReply {
        r#type: if end { "Release" } else { "Response" },
        message,
        client_state: "",
    };
    Reply::ok(
        "application/json; charset=utf-8",
        serde_json::to_string(&body).expect("a reply serializes"),
    )
}

impl Gateway for HubtelLegacy {
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

    fn encode(&self, rendered: &Rendered) -> Reply {
        let screen = ussd_screen(rendered);
        reply(screen.end, &screen.text)
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

    fn ended_reply(&self) -> Reply {
        reply(true, "")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::gateway::MAX_INPUT;
    use crate::gateway::fixture::{Request, Response, Session};
    use crate::render::ussd::Screen;

    const DIR: &str = "hubtel-ussd-legacy";
    const SESSION: &str = "c2a07e4b-91d3-4f6a-8b2e-5d7c1f9a3e60";

    fn decoded(file: &str) -> Decoded {
        HubtelLegacy
            .decode(&Request::read(DIR, file).wire())
            .unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    fn hop(file: &str) -> Inbound {
        match decoded(file) {
            Decoded::Hop(hop) => hop,
            other => panic!("{file}: {other:?}"),
        }
    }

    fn screen(end: bool, text: &str) -> Rendered {
        Rendered::Ussd(Screen {
            end,
            text: text.into(),
        })
    }

    #[test]
    fn the_fixture_requests_decode_to_every_field() {
        let first = Inbound {
            session_id: SESSION.into(),
            phone_number: "233244000001".into(),
            address: "*713*4#".into(),
            network: Some("mtn".into()),
            input: String::new(),
            recording: None,
            turn: Some(1),
            message_id: None,
        };
        assert_eq!(hop("01-initiation.request.http"), first);
        assert_eq!(
            hop("02-response.request.http"),
            Inbound {
                input: "1".into(),
                turn: Some(2),
                message_id: None,
                ..first.clone()
            }
        );
        assert_eq!(
            hop("03-release-by-app.request.http"),
            Inbound {
                input: "2".into(),
                turn: Some(3),
                message_id: None,
                ..first
            }
        );
        assert_eq!(
            decoded("04-timeout.request.http"),
            Decoded::Ended(SessionEnded {
                session_id: "0b9f3c1d-2e4a-4c7b-9d8e-6f1a5b3c7e21".into(),
                status: Some("timeout".into()),
                hops: Some("2".into()),
                duration_secs: None,
            })
        );
        assert_eq!(
            decoded("05-release-by-user.request.http"),
            Decoded::Ended(SessionEnded {
                session_id: "5e8d2a7c-3b1f-4d9e-a6c0-8f2b4e7d1a93".into(),
                status: Some("release".into()),
                hops: Some("3".into()),
                duration_secs: None,
            })
        );
        let release = Request::read(DIR, "05-release-by-user.request.http");
        assert!(HubtelLegacy.decode_session_ended(&release.wire()).is_ok());
        let response = Request::read(DIR, "02-response.request.http");
        assert!(HubtelLegacy.decode_session_ended(&response.wire()).is_err());
    }

    #[test]
    fn the_fixture_session_takes_each_answer_once() {
        let gw = HubtelLegacy;
        let [dial, lang, kind] = [
            "01-initiation.request.http",
            "02-response.request.http",
            "03-release-by-app.request.http",
        ]
        .map(hop);
        let mut session = Session::default();
        assert_eq!(session.hop(&gw, &dial), Progress::Same);
        assert_eq!(session.hop(&gw, &dial), Progress::Same);
        assert_eq!(session.hop(&gw, &lang), Progress::New("1"));
        assert_eq!(session.hop(&gw, &lang), Progress::Same);
        assert_eq!(session.hop(&gw, &kind), Progress::New("2"));
        assert_eq!(session.hop(&gw, &lang), Progress::Stale);
        assert_eq!(session.hop(&gw, &dial), Progress::Stale);
    }

    #[test]
    fn replies_are_the_fixtures_but_for_client_state() {
        let gw = HubtelLegacy;
        // The fixtures' ClientState names the app's step; Sauti keeps its state itself.
        for (file, end, text) in [
            (
                "01-initiation.response.http",
                false,
                "Sauti\n1. Francais\n2. Kiswahili\n3. Lingala",
            ),
            (
                "02-response.response.http",
                false,
                "Que voulez-vous signaler?\n1. Accident dans la mine\n2. Violence\n0. Retour",
            ),
            (
                "03-release-by-app.response.http",
                true,
                "Merci. Votre signalement est enregistré.",
            ),
        ] {
            let expected = Response::read(DIR, file);
            let reply = gw.encode(&screen(end, text));
            expected.assert_head(&reply);
            let mut theirs = expected.json();
            theirs["ClientState"] = json!("");
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&reply.body).unwrap(),
                theirs,
                "{file}"
            );
        }
        // The acknowledgement of a timeout or a release is exactly the fixtures'.
        Response::read(DIR, "04-timeout.response.http").assert_reply(&gw.ended_reply());
        Response::read(DIR, "05-release-by-user.response.http").assert_reply(&gw.ended_reply());
        // Nothing to repeat from the request.
        let dial = Request::read(DIR, "01-initiation.request.http");
        assert_eq!(
            gw.encode_for(&dial.wire(), &screen(false, "x")),
            gw.encode(&screen(false, "x"))
        );
    }

    #[test]
    fn bad_requests_are_named() {
        let decode = |v: serde_json::Value| {
            let body = v.to_string();
            HubtelLegacy.decode(&WireRequest::form(body.as_bytes()))
        };
        let base = json!({"Mobile": "233244000001", "SessionId": SESSION, "ServiceCode": "713*4",
                          "Type": "Response", "Message": "1", "Operator": "mtn", "Sequence": 2});
        let without = |field: &str| {
            let mut v = base.clone();
            v.as_object_mut().unwrap().remove(field);
            v
        };
        assert_eq!(decode(base.clone()).map(|_| ()), Ok(()));
        assert_eq!(
            decode(without("SessionId")),
            Err(GatewayError::Missing("SessionId"))
        );
        assert_eq!(decode(without("Type")), Err(GatewayError::Missing("Type")));
        assert_eq!(
            decode(without("Mobile")),
            Err(GatewayError::Missing("Mobile"))
        );
        assert_eq!(
            decode(without("ServiceCode")),
            Err(GatewayError::Missing("ServiceCode"))
        );
        let mut v = base.clone();
        v["Mobile"] = json!("+233 24x");
        assert!(matches!(
            decode(v),
            Err(GatewayError::Invalid {
                field: "Mobile",
                ..
            })
        ));
        let mut v = base.clone();
        v["SessionId"] = json!("s".repeat(300));
        assert!(matches!(
            decode(v),
            Err(GatewayError::Invalid {
                field: "SessionId",
                ..
            })
        ));
        let mut v = base.clone();
        v["Message"] = json!("é".repeat(MAX_INPUT));
        assert!(matches!(
            decode(v),
            Err(GatewayError::Invalid {
                field: "Message",
                ..
            })
        ));
        let mut v = base;
        v["Type"] = json!("HijackSession");
        assert!(matches!(
            decode(v),
            Err(GatewayError::Invalid { field: "Type", .. })
        ));
        assert!(matches!(
            HubtelLegacy.decode(&WireRequest::form(b"Mobile=233244000001")),
            Err(GatewayError::Malformed(_))
        ));
    }
}
