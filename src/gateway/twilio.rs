//! Twilio Programmable Voice: a signed form POST per call event (`CallSid`, `From`, `To`,
//! `Digits`, `RecordingUrl`, `RecordingDuration`), answered with TwiML (`<Gather>`, `<Say>`,
//! `<Play>`, `<Record>`, `<Redirect>`, `<Hangup/>`). Every request's `X-Twilio-Signature` is
//! checked against the auth token; a request without a valid one is refused and touches nothing.

use serde::Deserialize;

use super::twilio_signature;
use super::xml::{self, Xml};
use super::{
    Decoded, Gateway, GatewayError, Inbound, InputCursor, Progress, Reply, SessionEnded,
    WireRequest, callback_turn, keypad, next_turn, phone_number, recording, required,
    turn_progress,
};
use crate::channel::{Channel, Rendered};
use crate::render::voice::{Collect, Sound, VoicePrompt};

/// The Twilio adapter of one gateway.
#[derive(Clone)]
pub struct Twilio {
    /// Sauti's public base URL as Twilio calls it: signatures are computed over it.
    public_url: String,
    /// The path of its callbacks (`/gateways/<name>/voice`), relative to the call's URL.
    base_path: String,
    auth_token: Option<String>,
}

impl std::fmt::Debug for Twilio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Twilio")
            .field("public_url", &self.public_url)
            .field("auth_token", &self.auth_token.as_ref().map(|_| "<secret>"))
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CallForm {
    call_sid: Option<String>,
    from: Option<String>,
    to: Option<String>,
    digits: Option<String>,
    recording_url: Option<String>,
    recording_duration: Option<String>,
    call_status: Option<String>,
    call_duration: Option<String>,
}

impl Twilio {
    pub fn new(public_url: &str, name: &str, auth_token: Option<String>) -> Twilio {
        Twilio {
            public_url: public_url.trim_end_matches('/').to_owned(),
            base_path: format!("/gateways/{name}/voice"),
            auth_token: auth_token.filter(|t| !t.is_empty()),
        }
    }

    /// Whether requests can be checked at all (an auth token is configured).
    pub fn has_token(&self) -> bool {
        self.auth_token.is_some()
    }

    fn url(&self, action: &str, prompt: &VoicePrompt) -> String {
        let query = xml::callback_query(&prompt.asking, prompt.turn);
        format!("{}/{action}?{query}", self.base_path)
    }

    /// The form of a request whose signature holds; [`GatewayError::Forbidden`] otherwise.
    fn authenticated(&self, request: &WireRequest<'_>) -> Result<CallForm, GatewayError> {
        let Some(token) = &self.auth_token else {
            return Err(GatewayError::Forbidden(
                "no Twilio auth token is configured (SAUTI_TWILIO_AUTH_TOKEN)",
            ));
        };
        let Some(given) = request
            .headers
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
        else {
            return Err(GatewayError::Forbidden("missing X-Twilio-Signature"));
        };
        let params: Vec<(String, String)> = serde_html_form::from_bytes(request.body)
            .map_err(|e| GatewayError::Malformed(e.to_string()))?;
        let url = format!("{}{}", self.public_url, request.path_and_query);
        if !twilio_signature::verify(token, &url, &params, given) {
            return Err(GatewayError::Forbidden("X-Twilio-Signature does not match"));
        }
        serde_html_form::from_bytes(request.body)
            .map_err(|e| GatewayError::Malformed(e.to_string()))
    }
}

fn sound(w: &mut Xml, s: &Sound) -> std::io::Result<()> {
    match s {
        Sound::Play { url } => xml::text_element(w, "Play", &[], url),
        Sound::Say { text, voice } => xml::text_element(
            w,
            "Say",
            &[("language", &voice.language), ("voice", &voice.voice)],
            text,
        ),
    }
}

impl Gateway for Twilio {
    fn channel(&self) -> Channel {
        Channel::Voice
    }

    fn decode(&self, request: &WireRequest<'_>) -> Result<Decoded, GatewayError> {
        let form = self.authenticated(request)?;
        let session_id = required(form.call_sid, "CallSid")?;
        if matches!(
            form.call_status.as_deref(),
            Some("completed" | "busy" | "failed" | "no-answer" | "canceled")
        ) {
            return Ok(Decoded::Ended(SessionEnded {
                session_id,
                status: form.call_status,
                hops: None,
                duration_secs: form.call_duration,
            }));
        }
        // A caller who hides their number (`anonymous`) is still heard: the call is their
        // only identity.
        let phone_number =
            phone_number(form.from, "From").unwrap_or_else(|_| format!("call:{session_id}"));
        // `Digits` is `hangup` when the caller hung up during a `<Record>`.
        let digits = form.digits.filter(|d| d != "hangup");
        let input = keypad(request, "Digits", digits)?;
        let secs = form
            .recording_duration
            .and_then(|d| d.trim().parse::<u32>().ok());
        let recording = recording("RecordingUrl", form.recording_url, secs)?;
        let turn = callback_turn(request)?;
        Ok(Decoded::Hop(Inbound {
            session_id,
            phone_number,
            address: required(form.to, "To")?,
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
            Collect::Hangup => {
                prompt.sounds.iter().try_for_each(|s| sound(w, s))?;
                xml::empty_element(w, "Hangup", &[])
            }
            Collect::Keys {
                digits,
                timeout_secs,
            } => {
                let timeout = timeout_secs.to_string();
                let num = digits.map(|d| d.to_string());
                let action = self.url("gather", prompt);
                let mut attrs = vec![("input", "dtmf")];
                if let Some(n) = &num {
                    attrs.push(("numDigits", n));
                }
                attrs.extend([
                    ("timeout", timeout.as_str()),
                    ("action", action.as_str()),
                    ("method", "POST"),
                ]);
                let mut e = w.create_element("Gather");
                for (k, v) in &attrs {
                    e = e.with_attribute((*k, xml::clean(v).as_ref()));
                }
                e.write_inner_content(|w| prompt.sounds.iter().try_for_each(|s| sound(w, s)))?;
                // Without a key Twilio goes on to the next verb: ask Sauti again.
                xml::text_element(
                    w,
                    "Redirect",
                    &[("method", "POST")],
                    &self.url("no-input", prompt),
                )
            }
            Collect::Record {
                max_secs,
                timeout_secs,
            } => {
                prompt.sounds.iter().try_for_each(|s| sound(w, s))?;
                let max = max_secs.to_string();
                let timeout = timeout_secs.to_string();
                let action = self.url("recording", prompt);
                xml::empty_element(
                    w,
                    "Record",
                    &[
                        ("action", &action),
                        ("method", "POST"),
                        ("maxLength", &max),
                        ("timeout", &timeout),
                        ("finishOnKey", "#"),
                        ("playBeep", "true"),
                        ("trim", "trim-silence"),
                    ],
                )?;
                // Nothing recorded: Twilio goes on to the next verb.
                xml::text_element(
                    w,
                    "Redirect",
                    &[("method", "POST")],
                    &self.url("no-input", prompt),
                )
            }
        });
        Reply::ok("text/xml", body)
    }

    fn decode_session_ended(
        &self,
        request: &WireRequest<'_>,
    ) -> Result<SessionEnded, GatewayError> {
        let form = self.authenticated(request)?;
        Ok(SessionEnded {
            session_id: required(form.call_sid, "CallSid")?,
            status: form.call_status,
            hops: None,
            duration_secs: form.call_duration,
        })
    }

    fn ended_reply(&self) -> Reply {
        Reply {
            status: 204,
            ..Reply::ok("text/plain; charset=utf-8", String::new())
        }
    }
}
