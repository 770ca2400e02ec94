//! Africa's Talking USSD: a form-encoded POST per hop (`sessionId`, `serviceCode`,
//! `phoneNumber`, `networkCode`, cumulative `text`), answered `CON …` or `END …` in text/plain.

use serde::Deserialize;

use super::{GatewayError, Reply, UssdRequest};
use crate::engine::Screen;

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
pub struct SessionEnded {
    pub session_id: String,
    pub status: Option<String>,
    pub hops_count: Option<String>,
    pub duration_in_millis: Option<String>,
    pub error_message: Option<String>,
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

/// Decodes one hop.
pub fn decode(body: &[u8]) -> Result<UssdRequest, GatewayError> {
    let form: HopForm =
        serde_html_form::from_bytes(body).map_err(|e| GatewayError::Malformed(e.to_string()))?;
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
    Ok(UssdRequest {
        session_id: required(form.session_id, "sessionId")?,
        service_code: required(form.service_code, "serviceCode")?,
        phone_number,
        network: form
            .network_code
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
        // `text` is empty on the first hop; some gateways leave it out then.
        text: form.text.unwrap_or_default(),
    })
}

/// Decodes the end-of-session notification.
pub fn decode_session_ended(body: &[u8]) -> Result<SessionEnded, GatewayError> {
    let ended: SessionEnded = serde_html_form::from_bytes(body).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("sessionId") {
            GatewayError::Missing("sessionId")
        } else {
            GatewayError::Malformed(msg)
        }
    })?;
    Ok(ended)
}

/// `CON <screen>` to wait for input, `END <screen>` to close the session.
pub fn encode(screen: &Screen) -> Reply {
    let marker = if screen.end { "END " } else { "CON " };
    let mut body = String::with_capacity(marker.len() + screen.text.len());
    body.push_str(marker);
    body.push_str(&screen.text);
    Reply {
        content_type: "text/plain; charset=utf-8",
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_hop_has_an_empty_text() {
        let r = decode(b"sessionId=ATUid_1&serviceCode=%2A384%2A1%23&phoneNumber=%2B243810000001&networkCode=63001&text=")
            .unwrap();
        assert_eq!(r.service_code, "*384*1#");
        assert_eq!(r.phone_number, "+243810000001");
        assert_eq!(r.text, "");
        assert_eq!(r.network.as_deref(), Some("63001"));
    }

    #[test]
    fn missing_and_bad_fields_are_named() {
        assert_eq!(
            decode(b"serviceCode=%2A1%23&phoneNumber=%2B1&text=").unwrap_err(),
            GatewayError::Missing("sessionId")
        );
        assert!(matches!(
            decode(b"sessionId=a&serviceCode=%2A1%23&phoneNumber=hello").unwrap_err(),
            GatewayError::Invalid {
                field: "phoneNumber",
                ..
            }
        ));
        assert!(matches!(
            decode(b"%%%=&&=").unwrap_err(),
            GatewayError::Missing(_) | GatewayError::Malformed(_)
        ));
    }
}
