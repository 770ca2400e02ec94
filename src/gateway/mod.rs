//! Gateways: one file per wire protocol. A [`Gateway`] decodes a request into an
//! [`Inbound`] hop and encodes a [`Rendered`] reply; the hop logic never sees a wire format.

pub mod africastalking;
pub mod africastalking_voice;
pub mod auth;
pub mod twilio;
pub mod twilio_signature;
mod xml;

use std::sync::Arc;

use hyper::HeaderMap;

use crate::channel::{Channel, RenderSettings, Rendered};
use crate::config::GatewayKind;
use crate::hash::fnv1a;

/// One hop as every gateway describes it, once decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The gateway's id for the session (one USSD dial, one call).
    pub session_id: String,
    /// The respondent's raw number: it is pseudonymised before anything is stored or logged.
    pub phone_number: String,
    /// Where the respondent sent it: a USSD service code (`*384*1#`); flows are routed by it.
    pub address: String,
    pub network: Option<String>,
    /// The input as the gateway sends it; only the gateway knows how to read it against
    /// what the session consumed ([`Gateway::progress`]). Voice: the keys pressed (empty when
    /// none were pressed in time).
    pub input: String,
    /// A spoken answer the gateway recorded (voice).
    pub recording: Option<Recording>,
    /// The input count the request answers, as Sauti wrote it in the callback URL (voice).
    pub turn: Option<u32>,
}

/// A spoken answer, as the gateway keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// Where the gateway serves the recording (empty when nothing was recorded).
    pub url: String,
    pub secs: Option<u32>,
}

/// A request as it reached Sauti, for a gateway to decode.
#[derive(Debug, Clone, Copy)]
pub struct WireRequest<'a> {
    /// `GET` or `POST` (one of [`Gateway::methods`]).
    pub method: &'a str,
    /// What follows the gateway's route in the path (`""`, `gather`, `no-input`).
    pub action: &'a str,
    /// Path and query exactly as requested (signatures cover them).
    pub path_and_query: &'a str,
    /// The query string (without `?`), empty when there is none.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl<'a> WireRequest<'a> {
    /// A form POST to the gateway's route with no query and no headers (tests, benches).
    pub fn form(body: &'a [u8]) -> WireRequest<'a> {
        static EMPTY: std::sync::OnceLock<HeaderMap> = std::sync::OnceLock::new();
        WireRequest {
            method: "POST",
            action: "",
            path_and_query: "",
            query: "",
            headers: EMPTY.get_or_init(HeaderMap::new),
            body,
        }
    }

    /// The value of query parameter `name`, if present.
    pub fn query_param(&self, name: &str) -> Option<String> {
        serde_html_form::from_str::<Vec<(String, String)>>(self.query)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// What a gateway request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    Hop(Inbound),
    /// The gateway says the session (call) is over; nothing changes.
    Ended(SessionEnded),
}

/// What a session has consumed of a gateway's input: a length and a stable hash (FNV-1a),
/// so that the record stays small however long the answers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputCursor {
    pub len: u32,
    pub hash: u64,
}

impl InputCursor {
    /// Nothing consumed yet.
    pub const START: InputCursor = InputCursor {
        len: 0,
        hash: crate::hash::FNV_OFFSET,
    };

    pub fn of(consumed: &str) -> InputCursor {
        InputCursor {
            len: consumed.len() as u32,
            hash: fnv1a(consumed.as_bytes()),
        }
    }
}

/// How a hop's input relates to what the session consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'t> {
    /// The same input again: a gateway retry.
    Same,
    /// Older than what was consumed: a late copy of an earlier hop.
    Stale,
    /// New input from the respondent.
    New(&'t str),
    /// Does not follow what was consumed (the gateway or the phone restarted it).
    Diverged,
}

/// A reply: status, content type, the gateway's own headers (Comviva's `Freeflow: FC`) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn ok(content_type: &'static str, body: String) -> Reply {
        Reply {
            status: 200,
            content_type,
            headers: Vec::new(),
            body,
        }
    }
}

/// A gateway's notice that a session ended on its side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEnded {
    pub session_id: String,
    pub status: Option<String>,
    pub hops: Option<String>,
}

/// Why a gateway request was refused (answered with 400, or 403 when it is not the gateway's,
/// and this reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("malformed form body: {0}")]
    Malformed(String),
    #[error("missing field `{0}`")]
    Missing(&'static str),
    #[error("field `{field}` is invalid: {why}")]
    Invalid {
        field: &'static str,
        why: &'static str,
    },
}

/// One wire protocol.
pub trait Gateway: Send + Sync {
    /// The channel its hops arrive on.
    fn channel(&self) -> Channel;

    /// A hop (or an in-band end of session) from a request; a request that is not the
    /// gateway's (a bad signature) is [`GatewayError::Forbidden`].
    fn decode(&self, request: &WireRequest<'_>) -> Result<Decoded, GatewayError>;

    /// How `hop`'s input follows what the session consumed (`cursor`).
    fn progress<'h>(&self, cursor: &InputCursor, hop: &'h Inbound) -> Progress<'h>;

    /// What the session has consumed once `hop` is taken (`before`: what it had consumed).
    fn cursor(&self, before: &InputCursor, hop: &Inbound) -> InputCursor;

    /// The reply to send for what the renderer made.
    fn encode(&self, rendered: &Rendered) -> Reply;

    /// A notice that a session ended on the gateway's side (its events or status route).
    fn decode_session_ended(&self, request: &WireRequest<'_>)
    -> Result<SessionEnded, GatewayError>;

    /// The HTTP methods its requests come with (answered `405` otherwise, with this `Allow`).
    fn methods(&self) -> &'static str {
        "POST"
    }

    /// The content type its requests carry, when Sauti should refuse others with `415`
    /// (`None`: the adapter reads the body itself, or there is none).
    fn content_type(&self) -> Option<&'static str> {
        Some("application/x-www-form-urlencoded")
    }

    /// The acknowledgement of a session-ended notice.
    fn ended_reply(&self) -> Reply {
        Reply::ok("text/plain; charset=utf-8", "OK".into())
    }
}

/// How voice gateways read callbacks: the turn Sauti wrote in the callback URL says which
/// prompt a request answers, so a retried or late callback never advances the call twice.
pub fn turn_progress<'h>(cursor: &InputCursor, hop: &'h Inbound) -> Progress<'h> {
    match hop.turn {
        // The call's first request (or its retry): nothing to take.
        None if hop.input.is_empty() && hop.recording.is_none() => Progress::Same,
        // Input from a callback URL without a turn (written by hand): taken as it comes.
        None => Progress::New(&hop.input),
        Some(t) if t == cursor.len => Progress::New(&hop.input),
        Some(t) if t < cursor.len => Progress::Stale,
        Some(_) => Progress::Diverged,
    }
}

/// The turn a voice callback carries back (`n` in the URL Sauti wrote), if any.
pub(crate) fn callback_turn(request: &WireRequest<'_>) -> Result<Option<u32>, GatewayError> {
    request
        .query_param("n")
        .map(|n| {
            n.parse::<u32>().map_err(|_| GatewayError::Invalid {
                field: "n",
                why: "expected the turn Sauti wrote in the callback URL",
            })
        })
        .transpose()
}

/// The keys of a voice callback: keypad characters only, `#` at the end dropped; none on the
/// `no-input` fallback (reached when nothing was pressed).
pub(crate) fn keypad(
    request: &WireRequest<'_>,
    field: &'static str,
    digits: Option<String>,
) -> Result<String, GatewayError> {
    let digits = digits.unwrap_or_default();
    if digits.len() > 64
        || !digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b"*#".contains(&b))
    {
        return Err(GatewayError::Invalid {
            field,
            why: "expected keypad digits",
        });
    }
    if request.action == "no-input" {
        return Ok(String::new());
    }
    Ok(digits.trim_end_matches('#').to_owned())
}

/// A recording a voice callback reports (its URL within [`MAX_URL`]).
pub(crate) fn recording(
    field: &'static str,
    url: Option<String>,
    secs: Option<u32>,
) -> Result<Option<Recording>, GatewayError> {
    match url {
        Some(url) if url.len() > MAX_URL => Err(GatewayError::Invalid {
            field,
            why: "too long",
        }),
        Some(url) => Ok(Some(Recording {
            url: url.trim().to_owned(),
            secs,
        })),
        None => Ok(None),
    }
}

/// The cursor of a voice call: one more turn per input taken.
pub fn next_turn(before: &InputCursor) -> InputCursor {
    InputCursor {
        len: before.len.saturating_add(1),
        hash: 0,
    }
}

/// Where a gateway's adapter is reached, and the secrets it checks requests with.
#[derive(Debug, Clone, Default)]
pub struct AdapterSettings {
    /// The gateway's name in routes (`/voice/<name>`).
    pub name: String,
    /// Sauti's public base URL as the gateway calls it (`https://sauti.example.org`).
    pub public_url: String,
    /// Twilio: the account's auth token (request signatures).
    pub auth_token: Option<String>,
}

/// The adapter for a configured gateway kind.
pub fn adapter(kind: GatewayKind, settings: &AdapterSettings) -> Arc<dyn Gateway> {
    match kind {
        GatewayKind::Africastalking => Arc::new(africastalking::AfricasTalking),
        GatewayKind::AfricastalkingVoice => Arc::new(
            africastalking_voice::AfricasTalkingVoice::new(&settings.public_url, &settings.name),
        ),
        GatewayKind::Twilio => Arc::new(twilio::Twilio::new(
            &settings.public_url,
            &settings.name,
            settings.auth_token.clone(),
        )),
    }
}

/// A gateway as configured (`[gateways.<name>]`): its adapter and the settings of its channel.
#[derive(Clone)]
pub struct ConfiguredGateway {
    /// Its name in `/ussd/<name>` and in session keys and responses.
    pub name: String,
    pub adapter: Arc<dyn Gateway>,
    pub render: RenderSettings,
    /// How long its sessions live without a hop.
    pub session_ttl: std::time::Duration,
    /// How its phone numbers are read (the country of its networks).
    pub numbers: crate::phone::PhoneNumbers,
    /// Who may call it.
    pub auth: auth::GatewayAuth,
    /// Another path it is served at (`/ussd/airtel-cd`), besides `/<channel>/<name>`.
    pub path: Option<String>,
}

impl ConfiguredGateway {
    pub fn channel(&self) -> Channel {
        self.adapter.channel()
    }
}

impl std::fmt::Debug for ConfiguredGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfiguredGateway")
            .field("name", &self.name)
            .field("channel", &self.channel())
            .field("render", &self.render)
            .field("session_ttl", &self.session_ttl)
            .finish()
    }
}

/// The longest field a gateway may send (ids, numbers, codes).
const MAX_FIELD: usize = 256;
/// The longest URL a gateway may send (a recording's).
const MAX_URL: usize = 2048;

/// A field that must be present and not blank, within [`MAX_FIELD`].
pub(crate) fn required(value: Option<String>, field: &'static str) -> Result<String, GatewayError> {
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

/// A phone number as gateways write them (`+243810000001`, `243 810-000-001`).
pub(crate) fn phone_number(
    value: Option<String>,
    field: &'static str,
) -> Result<String, GatewayError> {
    let number = required(value, field)?;
    if !number.bytes().any(|b| b.is_ascii_digit())
        || !number
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+ -()".contains(&b))
    {
        return Err(GatewayError::Invalid {
            field,
            why: "expected an international number such as +243810000001",
        });
    }
    Ok(number)
}
