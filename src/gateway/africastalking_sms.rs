//! Africa's Talking inbound SMS: a form POST per message (`from`, `to`, `text`, `date`, `id`,
//! `linkId`), acknowledged `200` with an empty body; replies are queued, not answered inline.

use serde::Deserialize;

use super::{
    Decoded, Gateway, GatewayError, Inbound, InputCursor, MAX_INPUT, Progress, Reply, SessionEnded,
    WireRequest,
};
use super::{phone_number, required};
use crate::channel::{Channel, Rendered};
use crate::hash::fnv1a;

/// The Africa's Talking SMS adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct AfricasTalkingSms;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageForm {
    from: Option<String>,
    to: Option<String>,
    text: Option<String>,
    id: Option<String>,
    // `date` and `linkId` are read by the sender (premium replies), not by the survey.
}

/// The session id of a respondent's conversation with a short code: SMS has none of its own.
pub fn session_id(short_code: &str) -> String {
    format!("sms:{}", short_code.trim())
}

impl Gateway for AfricasTalkingSms {
    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn decode(&self, request: &WireRequest<'_>) -> Result<Decoded, GatewayError> {
        let form: MessageForm = serde_html_form::from_bytes(request.body)
            .map_err(|e| GatewayError::Malformed(e.to_string()))?;
        let phone_number = phone_number(form.from, "from")?;
        let to = required(form.to, "to")?;
        let text = form.text.unwrap_or_default();
        if text.len() > MAX_INPUT {
            return Err(GatewayError::Invalid {
                field: "text",
                why: "too long",
            });
        }
        Ok(Decoded::Hop(Inbound {
            session_id: session_id(&to),
            address: to,
            phone_number,
            network: None,
            input: text,
            recording: None,
            turn: None,
            message_id: Some(required(form.id, "id")?),
        }))
    }

    /// A message is new unless it is the last one taken (the cursor keeps its id's hash):
    /// a callback delivered twice does not advance the survey twice.
    fn progress<'h>(&self, cursor: &InputCursor, hop: &'h Inbound) -> Progress<'h> {
        let id = hop.message_id.as_deref().unwrap_or_default();
        if cursor.len > 0 && cursor.hash == fnv1a(id.as_bytes()) {
            Progress::Same
        } else if hop.input.trim().is_empty() {
            // An empty text answers nothing (a keyword's opening carries no answer).
            Progress::Same
        } else {
            Progress::New(&hop.input)
        }
    }

    fn cursor(&self, before: &InputCursor, hop: &Inbound) -> InputCursor {
        InputCursor {
            len: before.len.saturating_add(1),
            hash: fnv1a(hop.message_id.as_deref().unwrap_or_default().as_bytes()),
        }
    }

    /// The callback is acknowledged empty: what the respondent reads goes out by the outbox.
    fn encode(&self, rendered: &Rendered) -> Reply {
        debug_assert!(matches!(rendered, Rendered::Sms(_)));
        Reply::ok("text/plain; charset=utf-8", String::new())
    }

    fn repeats_address(&self) -> bool {
        false
    }

    fn decode_session_ended(
        &self,
        _request: &WireRequest<'_>,
    ) -> Result<SessionEnded, GatewayError> {
        Err(GatewayError::Missing("sessionId"))
    }
}
