//! Africa's Talking USSD: a form-encoded POST per hop (`sessionId`, `serviceCode`,
//! `phoneNumber`, `networkCode`, cumulative `text`), answered `CON …` or `END …` in text/plain.

use serde::Deserialize;

use super::{
    Decoded, Gateway, GatewayError, Inbound, InputCursor, Progress, Reply, SessionEnded,
    WireRequest,
};
use super::{form_fields, phone_number, required};
use crate::channel::{Channel, Rendered};
use crate::hash::fnv1a;

/// The Africa's Talking USSD adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct AfricasTalking;

/// The end-of-session notification (`status` Success, Incomplete or Failed).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct SessionEndedForm {
    session_id: String,
    status: Option<String>,
    hops_count: Option<String>,
}

impl Gateway for AfricasTalking {
    fn channel(&self) -> Channel {
        Channel::Ussd
    }

    fn decode(&self, request: &WireRequest<'_>) -> Result<Decoded, GatewayError> {
        let [session_id, service_code, number, network_code, text] = form_fields(
            request.body,
            [
                "sessionId",
                "serviceCode",
                "phoneNumber",
                "networkCode",
                "text",
            ],
        )?;
        let phone_number = phone_number(number, "phoneNumber")?;
        Ok(Decoded::Hop(Inbound {
            session_id: required(session_id, "sessionId")?,
            address: required(service_code, "serviceCode")?,
            phone_number,
            network: network_code
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty()),
            // `text` is empty on the first hop; some gateways leave it out then.
            input: text.unwrap_or_default(),
            recording: None,
            turn: None,
            message_id: None,
        }))
    }

    /// `text` is everything typed in the session joined by `*`: the new input is what
    /// follows the consumed part and a `*`. Diffs, never splits: an answer may contain `*`.
    fn progress<'h>(&self, cursor: &InputCursor, hop: &'h Inbound) -> Progress<'h> {
        let text = hop.input.as_str();
        let len = cursor.len as usize;
        if text.len() < len {
            return Progress::Stale;
        }
        let (seen, rest) = text.as_bytes().split_at(len);
        if fnv1a(seen) != cursor.hash {
            return Progress::Diverged;
        }
        if rest.is_empty() {
            return Progress::Same;
        }
        if len == 0 {
            return Progress::New(text);
        }
        match rest.first() {
            Some(b'*') => Progress::New(&text[len + 1..]),
            _ => Progress::Diverged,
        }
    }

    fn cursor(&self, _before: &InputCursor, hop: &Inbound) -> InputCursor {
        InputCursor::of(&hop.input)
    }

    /// `CON <screen>` to wait for input, `END <screen>` to close the session.
    fn encode(&self, rendered: &Rendered) -> Reply {
        let Rendered::Ussd(screen) = rendered else {
            unreachable!("a USSD gateway only encodes USSD screens");
        };
        let marker = if screen.end { "END " } else { "CON " };
        let mut body = String::with_capacity(marker.len() + screen.text.len());
        body.push_str(marker);
        body.push_str(&screen.text);
        Reply::ok("text/plain; charset=utf-8", body)
    }

    fn decode_session_ended(
        &self,
        request: &WireRequest<'_>,
    ) -> Result<SessionEnded, GatewayError> {
        let ended: SessionEndedForm = serde_html_form::from_bytes(request.body).map_err(|e| {
            let msg = e.to_string();
            if msg.contains("sessionId") {
                GatewayError::Missing("sessionId")
            } else {
                GatewayError::Malformed(msg)
            }
        })?;
        Ok(SessionEnded {
            session_id: ended.session_id,
            status: ended.status,
            hops: ended.hops_count,
            duration_secs: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(text: &str) -> Inbound {
        Inbound {
            session_id: "s".into(),
            phone_number: "+243810000001".into(),
            address: "*384*1#".into(),
            network: None,
            input: text.into(),
            recording: None,
            turn: None,
            message_id: None,
        }
    }

    #[test]
    fn a_first_hop_has_an_empty_text() {
        let Decoded::Hop(r) = AfricasTalking
            .decode(&WireRequest::form(b"sessionId=ATUid_1&serviceCode=%2A384%2A1%23&phoneNumber=%2B243810000001&networkCode=63001&text="))
            .unwrap() else { panic!() };
        assert_eq!(r.address, "*384*1#");
        assert_eq!(r.phone_number, "+243810000001");
        assert_eq!(r.input, "");
        assert_eq!(r.network.as_deref(), Some("63001"));
    }

    #[test]
    fn missing_and_bad_fields_are_named() {
        let at = AfricasTalking;
        assert_eq!(
            at.decode(&WireRequest::form(
                b"serviceCode=%2A1%23&phoneNumber=%2B1&text="
            ))
            .unwrap_err(),
            GatewayError::Missing("sessionId")
        );
        assert!(matches!(
            at.decode(&WireRequest::form(
                b"sessionId=a&serviceCode=%2A1%23&phoneNumber=hello"
            ))
            .unwrap_err(),
            GatewayError::Invalid {
                field: "phoneNumber",
                ..
            }
        ));
        assert!(matches!(
            at.decode(&WireRequest::form(b"%%%=&&=")).unwrap_err(),
            GatewayError::Missing(_) | GatewayError::Malformed(_)
        ));
    }

    #[test]
    fn the_cumulative_text_is_diffed_never_split() {
        let cases: [(&str, &str, Progress<'_>); 8] = [
            ("", "", Progress::Same),
            ("", "1", Progress::New("1")),
            ("1*2", "1*2", Progress::Same),
            ("1*2", "1*2*a*b#", Progress::New("a*b#")),
            ("1*2", "1*2*", Progress::New("")),
            ("1*2", "1", Progress::Stale),
            ("1*2", "1*3*4", Progress::Diverged),
            ("1*2", "1*22", Progress::Diverged),
        ];
        for (seen, text, expected) in cases {
            let h = hop(text);
            assert_eq!(
                AfricasTalking.progress(&InputCursor::of(seen), &h),
                expected,
                "{seen:?} then {text:?}"
            );
        }
        assert_eq!(InputCursor::START, InputCursor::of(""));
    }
}
