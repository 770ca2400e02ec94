//! Nalo Solutions USSD (Ghana): a JSON POST per request `{USERID, MSISDN, USERDATA, MSGTYPE,
//! NETWORK, SESSIONID}`, where `MSGTYPE` is `true` on the dial (and `USERDATA` the dialled
//! code, `*920*77#`) and `false` after it; answered with JSON `{USERID, MSISDN, MSG,
//! MSGTYPE}`, `MSGTYPE` `true` to continue and `false` to end. `USERID` (the account's id at
//! Nalo) and `MSISDN` are the request's, repeated ([`Gateway::encode_for`]).
//!
//! Nalo sends only the **latest** input: the dial answers nothing (its `USERDATA` is the
//! address, and there is no separate code to tell an extension from), each later request's
//! `USERDATA` is what the respondent just typed ([`latest_progress`]; a retried later request
//! cannot be told from the same answer typed again). Only the dial names the address
//! ([`Gateway::repeats_address`] is false): later requests' `address` is empty. Nalo sends
//! no end-of-session notice.

use serde::{Deserialize, Deserializer, Serialize};

use super::{
    Decoded, Gateway, GatewayError, Inbound, InputCursor, MAX_INPUT, OPENING, Progress, Reply,
    SessionEnded, WireRequest,
};
use super::{
    input, json_body, latest_cursor, latest_progress, loose_string, optional, phone_number,
    required, ussd_code, ussd_screen,
};
use crate::channel::{Channel, Rendered};

/// The Nalo USSD adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct NaloUssd;

#[derive(Deserialize)]
#[serde(rename_all = "UPPERCASE")]
struct NaloRequest {
    #[serde(default, deserialize_with = "loose_string")]
    userid: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    msisdn: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    userdata: Option<String>,
    /// `true` or `false`, as a boolean or a string.
    #[serde(default, deserialize_with = "loose_bool")]
    msgtype: Option<bool>,
    #[serde(default, deserialize_with = "loose_string")]
    network: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    sessionid: Option<String>,
}

/// A boolean written as one, or as `"true"`/`"false"` (any case).
fn loose_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Loose {
        Bool(bool),
        Text(String),
    }
    match Option::<Loose>::deserialize(d)? {
        None => Ok(None),
        Some(Loose::Bool(b)) => Ok(Some(b)),
        Some(Loose::Text(t)) if t.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Loose::Text(t)) if t.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(Loose::Text(_)) => Err(serde::de::Error::custom("MSGTYPE: expected true or false")),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "UPPERCASE")]
struct NaloReply<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    userid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    msisdn: Option<&'a str>,
    msg: &'a str,
    /// `true`: the session continues.
    msgtype: bool,
}

const JSON: &str = "application/json";

/// The request's `USERID` and `MSISDN`, to repeat them (as Nalo sent them, within bounds).
fn echo(request: &WireRequest<'_>) -> (Option<String>, Option<String>) {
    #[derive(Deserialize)]
    #[serde(rename_all = "UPPERCASE")]
    struct Echo {
        #[serde(default, deserialize_with = "loose_string")]
        userid: Option<String>,
        #[serde(default, deserialize_with = "loose_string")]
        msisdn: Option<String>,
    }
    match json_body::<Echo>(request.body) {
        Ok(e) => (
            required(e.userid, "USERID").ok(),
            phone_number(e.msisdn, "MSISDN").ok(),
        ),
        Err(_) => (None, None),
    }
}

fn reply(userid: Option<&str>, msisdn: Option<&str>, rendered: &Rendered) -> Reply {
    let screen = ussd_screen(rendered);
    let body = NaloReply {
        userid,
        msisdn,
        msg: &screen.text,
        msgtype: !screen.end,
    };
    Reply::ok(
        JSON,
        serde_json::to_string(&body).expect("a reply serializes"),
    )
}

impl Gateway for NaloUssd {
    fn channel(&self) -> Channel {
        Channel::Ussd
    }

    fn decode(&self, request: &WireRequest<'_>) -> Result<Decoded, GatewayError> {
        let r: NaloRequest = json_body(request.body)?;
        let session_id = required(r.sessionid, "SESSIONID")?;
        let phone_number = phone_number(r.msisdn, "MSISDN")?;
        let dial = r.msgtype.ok_or(GatewayError::Missing("MSGTYPE"))?;
        // Sauti does not need it, but Nalo wants it back: a reply without it is refused.
        required(r.userid, "USERID")?;
        let userdata = input(r.userdata, "USERDATA", MAX_INPUT)?;
        let (address, input, turn) = if dial {
            let code = required(Some(userdata), "USERDATA")?;
            (ussd_code(&code), String::new(), Some(OPENING))
        } else {
            (String::new(), userdata, None)
        };
        Ok(Decoded::Hop(Inbound {
            session_id,
            phone_number,
            address,
            network: optional(r.network, "NETWORK")?,
            input,
            recording: None,
            turn,
            message_id: None,
        }))
    }

    /// Latest input only (see [`latest_progress`]): the dial (`MSGTYPE` true) is the opening.
    fn progress<'h>(&self, cursor: &InputCursor, hop: &'h Inbound) -> Progress<'h> {
        latest_progress(cursor, hop)
    }

    fn cursor(&self, before: &InputCursor, hop: &Inbound) -> InputCursor {
        latest_cursor(before, hop)
    }

    /// The reply without `USERID` and `MSISDN` (see [`Gateway::encode_for`]).
    fn encode(&self, rendered: &Rendered) -> Reply {
        reply(None, None, rendered)
    }

    fn encode_for(&self, request: &WireRequest<'_>, rendered: &Rendered) -> Reply {
        let (userid, msisdn) = echo(request);
        reply(userid.as_deref(), msisdn.as_deref(), rendered)
    }

    /// Nalo sends no such notice; a request naming its `SESSIONID` is taken as one.
    fn decode_session_ended(
        &self,
        request: &WireRequest<'_>,
    ) -> Result<SessionEnded, GatewayError> {
        let r: NaloRequest = json_body(request.body)?;
        Ok(SessionEnded {
            session_id: required(r.sessionid, "SESSIONID")?,
            status: None,
            hops: None,
            duration_secs: None,
        })
    }

    /// Only the dial names the service code.
    fn repeats_address(&self) -> bool {
        false
    }

    fn content_type(&self) -> Option<&'static str> {
        Some(JSON)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::gateway::fixture::{Request, Response, Session};
    use crate::render::ussd::Screen;

    const DIR: &str = "nalo-ussd";

    fn hop(file: &str) -> Inbound {
        match NaloUssd.decode(&Request::read(DIR, file).wire()) {
            Ok(Decoded::Hop(hop)) => hop,
            other => panic!("{file}: {other:?}"),
        }
    }

    fn decode_json(v: serde_json::Value) -> Result<Decoded, GatewayError> {
        let body = v.to_string();
        NaloUssd.decode(&WireRequest::form(body.as_bytes()))
    }

    fn screen(end: bool, text: &str) -> Rendered {
        Rendered::Ussd(Screen {
            end,
            text: text.into(),
        })
    }

    #[test]
    fn the_fixture_requests_decode_to_every_field() {
        let dial = Inbound {
            session_id: "16590115252429751".into(),
            phone_number: "233244000006".into(),
            address: "*920*77#".into(),
            network: Some("MTN".into()),
            input: String::new(),
            recording: None,
            turn: Some(OPENING),
            message_id: None,
        };
        assert_eq!(hop("01-dial.request.http"), dial);
        assert_eq!(
            hop("02-reply-end.request.http"),
            Inbound {
                address: String::new(),
                input: "1".into(),
                turn: None,
                message_id: None,
                ..dial
            }
        );
    }

    #[test]
    fn the_fixture_session_takes_the_reply() {
        let gw = NaloUssd;
        let (dial, answer) = (
            hop("01-dial.request.http"),
            hop("02-reply-end.request.http"),
        );
        let mut session = Session::default();
        assert_eq!(session.hop(&gw, &dial), Progress::Same);
        assert_eq!(session.hop(&gw, &dial), Progress::Same, "a retried dial");
        assert_eq!(session.hop(&gw, &answer), Progress::New("1"));
        assert_eq!(session.hop(&gw, &dial), Progress::Stale);
    }

    #[test]
    fn replies_repeat_the_request_as_the_fixtures() {
        let gw = NaloUssd;
        let dial = Request::read(DIR, "01-dial.request.http");
        Response::read(DIR, "01-dial.response.http").assert_reply(&gw.encode_for(
            &dial.wire(),
            &screen(false, "Sauti\n1. Francais\n2. Kiswahili\n3. Lingala"),
        ));
        let answer = Request::read(DIR, "02-reply-end.request.http");
        Response::read(DIR, "02-reply-end.response.http")
            .assert_reply(&gw.encode_for(&answer.wire(), &screen(true, "Merci.")));
        // Without the request (or with one that says nothing): the message alone.
        let bare = json!({"MSG": "Merci.", "MSGTYPE": false});
        for reply in [
            gw.encode(&screen(true, "Merci.")),
            gw.encode_for(&WireRequest::form(b"{oops"), &screen(true, "Merci.")),
        ] {
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&reply.body).unwrap(),
                bare
            );
        }
    }

    #[test]
    fn message_types_may_be_strings() {
        let request = json!({"USERID": "NALOTest", "MSISDN": "233244000006", "USERDATA": "*920*77#",
                             "MSGTYPE": "TRUE", "NETWORK": "MTN", "SESSIONID": 165901});
        let Ok(Decoded::Hop(hop)) = decode_json(request) else {
            panic!()
        };
        assert_eq!(
            (hop.turn, hop.session_id.as_str()),
            (Some(OPENING), "165901")
        );
    }

    #[test]
    fn bad_requests_are_named() {
        let base = json!({"USERID": "NALOTest", "MSISDN": "233244000006", "USERDATA": "1",
                          "MSGTYPE": false, "NETWORK": "MTN", "SESSIONID": "1659"});
        let with = |field: &str, value: serde_json::Value| {
            let mut v = base.clone();
            if value.is_null() {
                v.as_object_mut().unwrap().remove(field);
            } else {
                v[field] = value;
            }
            decode_json(v)
        };
        assert!(with("NETWORK", json!(null)).is_ok());
        assert!(with("USERDATA", json!(null)).is_ok(), "an empty answer");
        for field in ["SESSIONID", "MSISDN", "MSGTYPE", "USERID"] {
            assert_eq!(
                with(field, json!(null)),
                Err(GatewayError::Missing(field)),
                "{field}"
            );
        }
        assert_eq!(
            decode_json(
                json!({"USERID": "N", "MSISDN": "233244000006", "MSGTYPE": true,
                               "SESSIONID": "1", "USERDATA": " "})
            ),
            Err(GatewayError::Missing("USERDATA")),
            "a dial names its code"
        );
        assert!(matches!(
            with("MSISDN", json!("0x233")),
            Err(GatewayError::Invalid {
                field: "MSISDN",
                ..
            })
        ));
        assert!(matches!(
            with("USERDATA", json!("é".repeat(MAX_INPUT))),
            Err(GatewayError::Invalid {
                field: "USERDATA",
                ..
            })
        ));
        for bad in [json!("yes"), json!(1), json!([true])] {
            assert!(matches!(
                with("MSGTYPE", bad),
                Err(GatewayError::Malformed(_))
            ));
        }
        assert!(matches!(
            NaloUssd.decode(&WireRequest::form(b"USERID=N&MSISDN=233")),
            Err(GatewayError::Malformed(_))
        ));
    }
}
