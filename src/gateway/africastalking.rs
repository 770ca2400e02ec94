//! Africa's Talking USSD: a form-encoded POST per hop (`sessionId`, `serviceCode`,
//! `phoneNumber`, `networkCode`, cumulative `text`), answered `CON …` or `END …` in text/plain.

use serde::Deserialize;

use super::{Gateway, GatewayError, Inbound, InputCursor, Progress, Reply, SessionEnded};
use crate::channel::{Channel, Rendered};
use crate::hash::fnv1a;

/// The Africa's Talking USSD adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct AfricasTalking;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HopForm {
    session_id: Option<String>,
    service_code: Option<String>,
    phone_number: Option<String>,
    network_code: Option<String>,
    text: Option<String>,
}

/// The end-of-session notification (`status` Success, Incomplete or Failed).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct SessionEndedForm {
    session_id: String,
    status: Option<String>,
    hops_count: Option<String>,
}

const MAX_FIELD: usize = 256;

fn required(value: Option<String>, field: &'static str) -> Result<String, GatewayError> {
    let v = value.map(|v| v.trim().to_owned()).unwrap_or_default();
    if v.is_empty() {
        return Err(GatewayError::Missing(field));
    }
    if v.len() > MAX_FIELD {
        return Err(GatewayError::Invalid {
            field,
            why: "too long",
        });
    }
    Ok(v)
}

impl Gateway for AfricasTalking {
    fn channel(&self) -> Channel {
        Channel::Ussd
    }

    fn decode(&self, body: &[u8]) -> Result<Inbound, GatewayError> {
        let form: HopForm = serde_html_form::from_bytes(body)
            .map_err(|e| GatewayError::Malformed(e.to_string()))?;
        let phone_number = required(form.phone_number, "phoneNumber")?;
        if !phone_number.bytes().any(|b| b.is_ascii_digit())
            || !phone_number
                .bytes()
                .all(|b| b.is_ascii_digit() || b"+ -()".contains(&b))
        {
            return Err(GatewayError::Invalid {
                field: "phoneNumber",
                why: "expected an international number such as +243810000001",
            });
        }
        Ok(Inbound {
            session_id: required(form.session_id, "sessionId")?,
            address: required(form.service_code, "serviceCode")?,
            phone_number,
            network: form
                .network_code
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty()),
            // `text` is empty on the first hop; some gateways leave it out then.
            input: form.text.unwrap_or_default(),
        })
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

    fn cursor(&self, hop: &Inbound) -> InputCursor {
        InputCursor::of(&hop.input)
    }

    /// `CON <screen>` to wait for input, `END <screen>` to close the session.
    fn encode(&self, rendered: &Rendered) -> Reply {
        let Rendered::Ussd(screen) = rendered;
        let marker = if screen.end { "END " } else { "CON " };
        let mut body = String::with_capacity(marker.len() + screen.text.len());
        body.push_str(marker);
        body.push_str(&screen.text);
        Reply {
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }

    fn decode_session_ended(&self, body: &[u8]) -> Result<SessionEnded, GatewayError> {
        let ended: SessionEndedForm = serde_html_form::from_bytes(body).map_err(|e| {
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
        }
    }

    #[test]
    fn a_first_hop_has_an_empty_text() {
        let r = AfricasTalking
            .decode(b"sessionId=ATUid_1&serviceCode=%2A384%2A1%23&phoneNumber=%2B243810000001&networkCode=63001&text=")
            .unwrap();
        assert_eq!(r.address, "*384*1#");
        assert_eq!(r.phone_number, "+243810000001");
        assert_eq!(r.input, "");
        assert_eq!(r.network.as_deref(), Some("63001"));
    }

    #[test]
    fn missing_and_bad_fields_are_named() {
        let at = AfricasTalking;
        assert_eq!(
            at.decode(b"serviceCode=%2A1%23&phoneNumber=%2B1&text=")
                .unwrap_err(),
            GatewayError::Missing("sessionId")
        );
        assert!(matches!(
            at.decode(b"sessionId=a&serviceCode=%2A1%23&phoneNumber=hello")
                .unwrap_err(),
            GatewayError::Invalid {
                field: "phoneNumber",
                ..
            }
        ));
        assert!(matches!(
            at.decode(b"%%%=&&=").unwrap_err(),
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
