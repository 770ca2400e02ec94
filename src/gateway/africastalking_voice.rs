//! Africa's Talking Voice: a form POST per call event (`isActive`, `sessionId`,
//! `callerNumber`, `destinationNumber`, `dtmfDigits`, `recordingUrl`), answered with an XML
//! action list (`<GetDigits>`, `<Play>`, `<Say>`, `<Record>`, `<Redirect>`, `<Reject/>`).
//! The final `isActive=0` request (duration, cost) ends the call and changes no answer.

use super::xml::{self, Xml};
use super::{
    Decoded, Gateway, GatewayError, Inbound, InputCursor, Progress, Recording, Reply, SessionEnded,
    WireRequest, callback_turn, form_fields, keypad, next_turn, phone_number, recording, required,
    turn_progress,
};
use crate::channel::{Channel, Rendered};
use crate::render::voice::{Collect, Sound, VoicePrompt};

/// The Africa's Talking Voice adapter of one gateway.
#[derive(Debug, Clone)]
pub struct AfricasTalkingVoice {
    /// Absolute base of its callback URLs (Africa's Talking wants absolute https URLs).
    callback: String,
}

/// The fields of a call event, as `decode` reads them.
const CALL_FIELDS: [&str; 9] = [
    "isActive",
    "sessionId",
    "callerNumber",
    "destinationNumber",
    "dtmfDigits",
    "recordingUrl",
    "callSessionState",
    "hangupCause",
    "durationInSeconds",
];

impl AfricasTalkingVoice {
    /// `public_url`: how Africa's Talking reaches Sauti; `name`: the gateway's route name.
    pub fn new(public_url: &str, name: &str) -> AfricasTalkingVoice {
        AfricasTalkingVoice {
            callback: format!("{}/gateways/{name}/voice", public_url.trim_end_matches('/')),
        }
    }

    fn url(&self, action: &str, prompt: &VoicePrompt) -> String {
        let query = xml::callback_query(&prompt.asking, prompt.turn);
        if action.is_empty() {
            format!("{}?{query}", self.callback)
        } else {
            format!("{}/{action}?{query}", self.callback)
        }
    }
}

fn sound(w: &mut Xml, s: &Sound) -> std::io::Result<()> {
    match s {
        Sound::Play { url } => xml::empty_element(w, "Play", &[("url", url)]),
        Sound::Say { text, voice } => xml::text_element(w, "Say", &[("voice", &voice.voice)], text),
    }
}

/// Africa's Talking takes one `<Say>` or `<Play>` inside `<GetDigits>` and `<Record>`: the
/// prompt's last sound goes inside (keys pressed during it are taken), the others before.
fn split(sounds: &[Sound]) -> (&[Sound], Option<&Sound>) {
    match sounds.split_last() {
        Some((last, before)) => (before, Some(last)),
        None => (&[], None),
    }
}

impl Gateway for AfricasTalkingVoice {
    fn channel(&self) -> Channel {
        Channel::Voice
    }

    fn decode(&self, request: &WireRequest<'_>) -> Result<Decoded, GatewayError> {
        let [
            is_active,
            session_id,
            caller_number,
            destination_number,
            dtmf_digits,
            recording_url,
            call_session_state,
            hangup_cause,
            duration_in_seconds,
        ] = form_fields(request.body, CALL_FIELDS)?;
        let session_id = required(session_id, "sessionId")?;
        let active = required(is_active, "isActive")?;
        match active.as_str() {
            "1" => {}
            "0" => {
                return Ok(Decoded::Ended(SessionEnded {
                    session_id,
                    status: call_session_state.or(hangup_cause),
                    hops: None,
                    duration_secs: duration_in_seconds,
                }));
            }
            _ => {
                return Err(GatewayError::Invalid {
                    field: "isActive",
                    why: "expected 1 or 0",
                });
            }
        }
        // A caller who hides their number is still heard: their call is their only identity.
        let phone_number = phone_number(caller_number, "callerNumber")
            .unwrap_or_else(|_| format!("call:{session_id}"));
        let input = keypad(request, "dtmfDigits", dtmf_digits)?;
        let recording = match recording("recordingUrl", recording_url, None)? {
            // A `<Record>` callback without a URL: nothing was recorded.
            None if request.action == "recording" => Some(Recording {
                url: String::new(),
                secs: None,
            }),
            r => r,
        };
        let turn = callback_turn(request)?;
        Ok(Decoded::Hop(Inbound {
            session_id,
            phone_number,
            address: required(destination_number, "destinationNumber")?,
            network: None,
            input,
            recording,
            turn,
            message_id: None,
        }))
    }

    fn progress<'h>(&self, cursor: &InputCursor, hop: &'h Inbound) -> Progress<'h> {
        turn_progress(cursor, hop)
    }

    fn takes_action(&self, action: &str) -> bool {
        matches!(action, "" | "gather" | "digits" | "recording" | "no-input")
    }

    fn cursor(&self, before: &InputCursor, _hop: &Inbound) -> InputCursor {
        next_turn(before)
    }

    fn encode(&self, rendered: &Rendered) -> Reply {
        let Rendered::Voice(prompt) = rendered else {
            unreachable!("a voice gateway only encodes voice prompts");
        };
        let body = xml::response(|w| match prompt.collect {
            Collect::Reject => xml::empty_element(w, "Reject", &[]),
            Collect::Hangup => prompt.sounds.iter().try_for_each(|s| sound(w, s)),
            Collect::Keys {
                digits,
                timeout_secs,
            } => {
                let (before, last) = split(&prompt.sounds);
                before.iter().try_for_each(|s| sound(w, s))?;
                let timeout = timeout_secs.to_string();
                let num = digits.map(|d| d.to_string());
                let callback = self.url("", prompt);
                let mut attrs = vec![("timeout", timeout.as_str()), ("finishOnKey", "#")];
                if let Some(n) = &num {
                    attrs.push(("numDigits", n));
                }
                attrs.push(("callbackUrl", &callback));
                let mut e = w.create_element("GetDigits");
                for (k, v) in &attrs {
                    e = e.with_attribute((*k, xml::clean(v).as_ref()));
                }
                match last {
                    Some(s) => e.write_inner_content(|w| sound(w, s)).map(|_| ())?,
                    None => e.write_empty().map(|_| ())?,
                }
                // Without a key, Africa's Talking goes on to the next action: ask Sauti again.
                xml::text_element(w, "Redirect", &[], &self.url("no-input", prompt))
            }
            Collect::Record {
                max_secs,
                timeout_secs,
            } => {
                let (before, last) = split(&prompt.sounds);
                before.iter().try_for_each(|s| sound(w, s))?;
                let max = max_secs.to_string();
                let timeout = timeout_secs.to_string();
                let callback = self.url("recording", prompt);
                let mut e = w.create_element("Record");
                for (k, v) in [
                    ("finishOnKey", "#"),
                    ("maxLength", max.as_str()),
                    ("timeout", timeout.as_str()),
                    ("trimSilence", "true"),
                    ("playBeep", "true"),
                    ("callbackUrl", callback.as_str()),
                ] {
                    e = e.with_attribute((k, xml::clean(v).as_ref()));
                }
                match last {
                    Some(s) => e.write_inner_content(|w| sound(w, s)).map(|_| ()),
                    None => e.write_empty().map(|_| ()),
                }
            }
        });
        Reply::ok("application/xml", body)
    }

    fn decode_session_ended(
        &self,
        request: &WireRequest<'_>,
    ) -> Result<SessionEnded, GatewayError> {
        match self.decode(request)? {
            Decoded::Ended(ended) => Ok(ended),
            Decoded::Hop(_) => Err(GatewayError::Invalid {
                field: "isActive",
                why: "a call event here must be the final one (isActive=0)",
            }),
        }
    }

    /// "No response expected when isActive != 1": an empty 200.
    fn ended_reply(&self) -> Reply {
        Reply::ok("text/plain; charset=utf-8", String::new())
    }
}
