//! Gateways: one file per wire protocol. A [`Gateway`] decodes a request into an
//! [`Inbound`] hop and encodes a [`Rendered`] reply; the hop logic never sees a wire format.

pub mod africastalking;
pub mod africastalking_sms;
pub mod africastalking_voice;
pub mod auth;
pub mod comviva;
#[cfg(test)]
mod fixture;
pub mod generic;
pub mod generic_sms;
pub mod hubtel;
pub mod hubtel_legacy;
pub mod infobip;
pub mod nalo;
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
    /// Gateways that name it only when a session opens ([`Gateway::repeats_address`] false)
    /// leave it empty, or meaningless, on later hops.
    pub address: String,
    pub network: Option<String>,
    /// The input as the gateway sends it; only the gateway knows how to read it against
    /// what the session consumed ([`Gateway::progress`]). Voice: the keys pressed (empty when
    /// none were pressed in time).
    pub input: String,
    /// A spoken answer the gateway recorded (voice).
    pub recording: Option<Recording>,
    /// The input count the request answers, as Sauti wrote it in the callback URL (voice).
    /// USSD gateways that send only the newest input ([`latest_progress`]): the request's
    /// place in the session as the gateway numbers it (Hubtel's `Sequence`), [`OPENING`] for
    /// the request that opens a session when the gateway says which one it is, else `None`.
    pub turn: Option<u32>,
    /// SMS: the gateway's id of the message (a message delivered twice carries the same one).
    pub message_id: Option<String>,
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
    /// Hops the USSD gateway counted in the session, as it says.
    pub hops: Option<String>,
    /// How long the call lasted, as the voice gateway says (seconds).
    pub duration_secs: Option<String>,
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

    /// The reply to `request` for what the renderer made: for gateways whose replies repeat
    /// fields of the request (Nalo's `USERID` and `MSISDN`, Hubtel's `SessionId`). The server
    /// should call this one; [`Gateway::encode`] leaves those fields out.
    fn encode_for(&self, request: &WireRequest<'_>, rendered: &Rendered) -> Reply {
        let _ = request;
        self.encode(rendered)
    }

    /// Whether every hop names the address (service code) its session was opened on. `false`
    /// for gateways that name it only on a session's first request (Comviva Freeflow, Nalo,
    /// Infobip): the address of their later hops means nothing, and must not be compared with
    /// the session's (it routes a session when it opens, nothing else).
    fn repeats_address(&self) -> bool {
        true
    }

    /// A notice that a session ended on the gateway's side (its events or status route).
    fn decode_session_ended(&self, request: &WireRequest<'_>)
    -> Result<SessionEnded, GatewayError>;

    /// Whether it takes requests at `action` below its route (`""`: the route itself; voice
    /// callbacks `gather`, `recording`, `no-input`; Infobip's `session/<id>/<verb>`).
    fn takes_action(&self, action: &str) -> bool {
        action.is_empty()
    }

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

    /// Whether it posts delivery reports of the messages Sauti sent (SMS), at its route
    /// followed by `/delivery`; the path is not served otherwise.
    fn sends_delivery_reports(&self) -> bool {
        false
    }

    /// A delivery report of a message Sauti sent (see [`Gateway::sends_delivery_reports`]).
    fn decode_delivery_report(
        &self,
        request: &WireRequest<'_>,
    ) -> Result<DeliveryReport, GatewayError> {
        let _ = request;
        Err(GatewayError::Invalid {
            field: "path",
            why: "this gateway sends no delivery reports",
        })
    }
}

/// What a gateway reports of a message Sauti sent. The recipient's number is checked but not
/// kept: nothing downstream needs it, and it must not reach the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The gateway's id of the message (the one its send API answered with).
    pub message_id: String,
    pub status: DeliveryStatus,
    /// The network's code (`63001`), when the gateway says.
    pub network: Option<String>,
    /// Why it failed, as the gateway words it (`InsufficientCredit`), when it failed.
    pub failure_reason: Option<String>,
    /// How many times the gateway retried it.
    pub retry_count: Option<u32>,
}

/// Where a sent message is, in a closed set: metrics label by it, so a gateway's new or
/// misspelt status is [`DeliveryStatus::Other`], never a new label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Handed to the network (Africa's Talking `Sent`).
    Sent,
    /// Accepted by the network, not yet delivered (`Submitted`).
    Submitted,
    /// Queued by the network, the phone being unreachable (`Buffered`).
    Buffered,
    /// Refused by the network (`Rejected`).
    Rejected,
    /// On the phone (`Success`).
    Delivered,
    /// Not delivered (`Failed`).
    Failed,
    /// The phone is off or out of coverage (`AbsentSubscriber`).
    AbsentSubscriber,
    /// Not delivered in the network's time (`Expired`).
    Expired,
    Other,
}

impl DeliveryStatus {
    /// As `status` on `sauti_sms_delivery_reports_total`.
    pub fn label(self) -> &'static str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Submitted => "submitted",
            DeliveryStatus::Buffered => "buffered",
            DeliveryStatus::Rejected => "rejected",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::AbsentSubscriber => "absent_subscriber",
            DeliveryStatus::Expired => "expired",
            DeliveryStatus::Other => "other",
        }
    }

    /// Every status but [`DeliveryStatus::Other`], as labelled.
    pub const KNOWN: [DeliveryStatus; 8] = [
        DeliveryStatus::Sent,
        DeliveryStatus::Submitted,
        DeliveryStatus::Buffered,
        DeliveryStatus::Rejected,
        DeliveryStatus::Delivered,
        DeliveryStatus::Failed,
        DeliveryStatus::AbsentSubscriber,
        DeliveryStatus::Expired,
    ];

    /// The status labelled `label` (`delivered`), whatever its case.
    pub fn from_label(label: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::KNOWN
            .into_iter()
            .chain([DeliveryStatus::Other])
            .find(|s| s.label().eq_ignore_ascii_case(label.trim()))
    }

    /// Whether the message will not be delivered (the gateway gave up on it).
    pub fn is_final_failure(self) -> bool {
        matches!(
            self,
            DeliveryStatus::Rejected
                | DeliveryStatus::Failed
                | DeliveryStatus::AbsentSubscriber
                | DeliveryStatus::Expired
        )
    }
}

/// How SMS gateways read a message: new unless it is the last one taken (the cursor keeps its
/// id's hash), so that a callback delivered twice does not advance the survey twice.
pub(crate) fn message_progress<'h>(cursor: &InputCursor, hop: &'h Inbound) -> Progress<'h> {
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

/// The cursor of an SMS conversation once `hop` is taken: messages taken, the last one's id.
pub(crate) fn message_cursor(before: &InputCursor, hop: &Inbound) -> InputCursor {
    InputCursor {
        len: before.len.saturating_add(1),
        hash: fnv1a(hop.message_id.as_deref().unwrap_or_default().as_bytes()),
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

/// The [`Inbound::turn`] of the request that opens a USSD session (the dial), for gateways
/// that say which request it is.
pub const OPENING: u32 = 1;

/// How USSD gateways that send only the newest input read a hop (they never diff: what the
/// request carries is the answer). The cursor counts the requests taken (`len`: for gateways
/// that number them, the number of the last one) and, for gateways that do not mark their
/// opening, keeps the hash of its input (Comviva's: the service code) to know its retries.
///
/// A retried or older numbered request is `Same` or `Stale`; a numbered request further on
/// than the next one is `Diverged`. An unnumbered request after the opening cannot be told
/// from its retry: it is taken.
pub fn latest_progress<'h>(cursor: &InputCursor, hop: &'h Inbound) -> Progress<'h> {
    let taken = cursor.len;
    match hop.turn {
        // The dial answers the first screen only when it carries a code's extension
        // (`*713*4*1#` on `*713*4#`), and only once.
        Some(OPENING) if taken == 0 && !hop.input.is_empty() => Progress::New(&hop.input),
        Some(OPENING) if taken <= 1 => Progress::Same,
        Some(OPENING) => Progress::Stale,
        // The first request of a session Sauti sees is not its opening: what it answers was
        // never shown here. The first screen, nothing taken.
        _ if taken == 0 => Progress::Same,
        // An unmarked opening again (its input is the opening's).
        None if taken == 1 && fnv1a(hop.input.as_bytes()) == cursor.hash => Progress::Same,
        None => Progress::New(&hop.input),
        Some(n) if taken.checked_add(1) == Some(n) => Progress::New(&hop.input),
        Some(n) if n == taken => Progress::Same,
        Some(n) if n < taken => Progress::Stale,
        Some(_) => Progress::Diverged,
    }
}

/// The cursor of a latest-input USSD session once `hop` is taken (see [`latest_progress`]).
pub fn latest_cursor(before: &InputCursor, hop: &Inbound) -> InputCursor {
    match hop.turn {
        Some(n) => InputCursor {
            len: n.max(before.len),
            hash: 0,
        },
        None if before.len == 0 => InputCursor {
            len: 1,
            hash: fnv1a(hop.input.as_bytes()),
        },
        None => InputCursor {
            len: before.len.saturating_add(1),
            hash: 0,
        },
    }
}

/// How a cumulative input (every answer of the session joined by `separator`, as Africa's
/// Talking sends it) follows what was consumed: the new input is what follows the consumed
/// part and a separator. Diffs, never splits: an answer may contain the separator.
pub(crate) fn cumulative_progress<'h>(
    cursor: &InputCursor,
    text: &'h str,
    separator: &str,
) -> Progress<'h> {
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
    if separator.is_empty() || !rest.starts_with(separator.as_bytes()) {
        return Progress::Diverged;
    }
    // The separator is whole characters, so both ends are character boundaries; `get`
    // never panics whatever the cursor says.
    text.get(len + separator.len()..)
        .map_or(Progress::Diverged, Progress::New)
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
    /// A generic gateway's field names, input and replies.
    pub generic: Option<generic::GenericSettings>,
    /// A generic SMS gateway's field names and how to send through it.
    pub generic_sms: Option<generic_sms::GenericSmsSettings>,
}

/// The adapter for a configured gateway kind.
pub fn adapter(kind: GatewayKind, settings: &AdapterSettings) -> Arc<dyn Gateway> {
    match kind {
        GatewayKind::Africastalking => Arc::new(africastalking::AfricasTalking),
        GatewayKind::Hubtel => Arc::new(hubtel::HubtelProgrammable),
        GatewayKind::HubtelLegacy => Arc::new(hubtel_legacy::HubtelLegacy),
        GatewayKind::ComvivaFreeflow => Arc::new(comviva::ComvivaFreeflow),
        GatewayKind::Generic => Arc::new(generic::GenericUssd::new(
            settings.generic.clone().unwrap_or_default(),
        )),
        GatewayKind::Infobip => Arc::new(infobip::InfobipUssd),
        GatewayKind::Nalo => Arc::new(nalo::NaloUssd),
        GatewayKind::AfricastalkingVoice => Arc::new(
            africastalking_voice::AfricasTalkingVoice::new(&settings.public_url, &settings.name),
        ),
        GatewayKind::AfricastalkingSms => Arc::new(africastalking_sms::AfricasTalkingSms),
        GatewayKind::GenericSms => Arc::new(generic_sms::GenericSms::new(
            settings.generic_sms.clone().unwrap_or_default(),
        )),
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
    /// Its cap on new sessions per second.
    pub new_sessions: Arc<crate::limits::Limiter>,
    /// Another path it is served at (`/ussd/airtel-cd`), besides `/<channel>/<name>`.
    pub path: Option<String>,
}

impl ConfiguredGateway {
    /// How long a session on `flow` lives without a hop: an SMS flow may set its own.
    pub fn session_ttl_for(&self, flow: &crate::flow::CompiledFlow) -> std::time::Duration {
        match (self.channel(), flow.sms_session_ttl) {
            (crate::channel::Channel::Sms, Some(ttl)) => ttl,
            _ => self.session_ttl,
        }
    }

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
/// The longest newest input a gateway may send, in bytes: a USSD string is at most 182
/// characters, some of which take 3 bytes in UTF-8.
pub(crate) const MAX_INPUT: usize = 1024;
/// The longest cumulative input (every answer of a session joined) a gateway may send.
pub(crate) const MAX_HISTORY: usize = 16 * 1024;
/// The longest reason quoted back in a `400` for a malformed body.
const MAX_REASON: usize = 200;
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

/// An input as the gateway sends it (not trimmed: the engine reads it), within `max` bytes;
/// empty when absent.
pub(crate) fn input(
    value: Option<String>,
    field: &'static str,
    max: usize,
) -> Result<String, GatewayError> {
    let v = value.unwrap_or_default();
    if v.len() > max {
        return Err(GatewayError::Invalid {
            field,
            why: "too long",
        });
    }
    Ok(v)
}

/// A field that may be absent or blank (a network name), within [`MAX_FIELD`].
pub(crate) fn optional(
    value: Option<String>,
    field: &'static str,
) -> Result<Option<String>, GatewayError> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) if v.len() > MAX_FIELD => Err(GatewayError::Invalid {
            field,
            why: "too long",
        }),
        v => Ok(v),
    }
}

/// A USSD service code in the form flows declare it: gateways that send `713*4`, `*713*4`
/// or `7112#` mean `*713*4#` and `*7112#`. Anything else (a gateway's service id) is kept.
pub(crate) fn ussd_code(code: &str) -> String {
    let code = code.trim();
    let core = code.strip_prefix('*').unwrap_or(code);
    let core = core.strip_suffix('#').unwrap_or(core);
    let digits_and_stars = core.bytes().all(|b| b.is_ascii_digit() || b == b'*');
    let starts_ends_with_digit = core.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && core.bytes().last().is_some_and(|b| b.is_ascii_digit());
    if digits_and_stars && starts_ends_with_digit {
        format!("*{core}#")
    } else {
        code.to_owned()
    }
}

/// What a dialled string adds to the service code `address` (`*713*4#`): `1` for
/// `*713*4*1#`, empty when it adds nothing or is not that code's.
pub(crate) fn dial_extension<'d>(address: &str, dialled: &'d str) -> &'d str {
    let Some(base) = address.strip_suffix('#') else {
        return "";
    };
    dialled
        .trim()
        .strip_prefix(base)
        .and_then(|rest| rest.strip_prefix('*'))
        .and_then(|rest| rest.strip_suffix('#'))
        .unwrap_or("")
}

/// The screen a USSD adapter encodes: the renderers of other channels never reach it.
pub(crate) fn ussd_screen(rendered: &Rendered) -> &crate::render::ussd::Screen {
    let Rendered::Ussd(screen) = rendered else {
        unreachable!("a USSD gateway only encodes USSD screens");
    };
    screen
}

/// A JSON object body as `T` (whose fields are all optional: the adapter names what is
/// missing). An array is refused, though a struct could be read from one by position.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, GatewayError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(GatewayError::Malformed("expected a JSON object".into()));
    }
    serde_json::from_slice(body).map_err(|e| GatewayError::Malformed(bounded(e.to_string())))
}

/// The fields `names` of a form body, in that order, decoded as browsers decode them (a stray
/// `%` is taken literally, undecodable bytes become U+FFFD); other fields are ignored, a field
/// given twice is refused. One pass over the body, no map of it: decoding a hop into a struct
/// through serde_html_form, which groups every entry first, cost a sixth of a USSD hop's
/// instructions (BENCHMARKS.md).
pub fn form_fields<const N: usize>(
    body: &[u8],
    names: [&'static str; N],
) -> Result<[Option<String>; N], GatewayError> {
    let mut found: [Option<String>; N] = std::array::from_fn(|_| None);
    for (name, value) in form_urlencoded::parse(body) {
        if let Some(i) = names.iter().position(|n| *n == name) {
            if found[i].is_some() {
                return Err(GatewayError::Malformed(format!(
                    "duplicate field `{}`",
                    names[i]
                )));
            }
            found[i] = Some(value.into_owned());
        }
    }
    Ok(found)
}

/// A form or query string as its pairs, in order.
pub(crate) fn form_pairs(text: &[u8]) -> Result<Vec<(String, String)>, GatewayError> {
    serde_html_form::from_bytes(text).map_err(|e| GatewayError::Malformed(bounded(e.to_string())))
}

/// A reason within [`MAX_REASON`] bytes, cut at a character boundary.
fn bounded(mut reason: String) -> String {
    if reason.len() > MAX_REASON {
        let mut cut = MAX_REASON;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
        reason.push('…');
    }
    reason
}

/// Deserializes a JSON string or integer as a string (`null` or absent: `None`): gateways
/// write ids, numbers and sequence numbers either way.
pub(crate) fn loose_string<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Loose;

    impl<'de> serde::de::Visitor<'de> for Loose {
        type Value = Option<String>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or an integer")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }

        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(Loose)
        }
    }

    deserializer.deserialize_option(Loose)
}

#[cfg(test)]
mod helper_tests {
    use super::*;

    fn hop(input: &str, turn: Option<u32>) -> Inbound {
        Inbound {
            session_id: "s".into(),
            phone_number: "233244000001".into(),
            address: "*713*4#".into(),
            network: None,
            input: input.into(),
            recording: None,
            turn,
            message_id: None,
        }
    }

    #[test]
    fn service_codes_take_the_form_flows_declare() {
        for (sent, code) in [
            ("713*4", "*713*4#"),
            ("*713*4", "*713*4#"),
            ("7112#", "*7112#"),
            (" *384*7788# ", "*384*7788#"),
            ("384*", "384*"),
            ("b230f1e2", "b230f1e2"),
            ("*#", "*#"),
            ("", ""),
        ] {
            assert_eq!(ussd_code(sent), code, "{sent:?}");
        }
    }

    #[test]
    fn a_dial_adds_its_extension() {
        assert_eq!(dial_extension("*713*4#", "*713*4*1#"), "1");
        assert_eq!(dial_extension("*713*4#", "*713*4*1*2#"), "1*2");
        assert_eq!(dial_extension("*713*4#", "*713*4#"), "");
        assert_eq!(dial_extension("*713*4#", "*713*45#"), "");
        assert_eq!(dial_extension("*713*4#", "*999#"), "");
        assert_eq!(dial_extension("*713*4#", ""), "");
        assert_eq!(dial_extension("service-id", "*713*4*1#"), "");
    }

    #[test]
    fn latest_input_is_taken_as_it_comes() {
        let mut cursor = InputCursor::START;
        // An unmarked opening (Comviva: its input is the code), then its retry.
        let open = hop("384*7788", None);
        assert_eq!(latest_progress(&cursor, &open), Progress::Same);
        cursor = latest_cursor(&cursor, &open);
        assert_eq!(latest_progress(&cursor, &open), Progress::Same);
        let one = hop("1", None);
        assert_eq!(latest_progress(&cursor, &one), Progress::New("1"));
        cursor = latest_cursor(&cursor, &one);
        // The same key again is a new answer: an unnumbered gateway cannot say otherwise.
        assert_eq!(latest_progress(&cursor, &one), Progress::New("1"));
        assert_eq!(latest_progress(&cursor, &hop("", None)), Progress::New(""));
    }

    #[test]
    fn numbered_requests_are_taken_once() {
        let dial = hop("", Some(OPENING));
        let ext = hop("1", Some(OPENING));
        assert_eq!(latest_progress(&InputCursor::START, &dial), Progress::Same);
        assert_eq!(
            latest_progress(&InputCursor::START, &ext),
            Progress::New("1")
        );
        let cursor = latest_cursor(&InputCursor::START, &ext);
        assert_eq!(latest_progress(&cursor, &ext), Progress::Same);
        let two = hop("2", Some(2));
        assert_eq!(latest_progress(&cursor, &two), Progress::New("2"));
        let cursor = latest_cursor(&cursor, &two);
        assert_eq!(latest_progress(&cursor, &two), Progress::Same);
        assert_eq!(latest_progress(&cursor, &dial), Progress::Stale);
        assert_eq!(
            latest_progress(&cursor, &hop("9", Some(5))),
            Progress::Diverged
        );
        // A session first seen on its third request: the first screen, then on from there.
        let third = hop("2", Some(3));
        assert_eq!(latest_progress(&InputCursor::START, &third), Progress::Same);
        let cursor = latest_cursor(&InputCursor::START, &third);
        assert_eq!(
            latest_progress(&cursor, &hop("1", Some(4))),
            Progress::New("1")
        );
        assert_eq!(
            latest_progress(&cursor, &hop("1", Some(u32::MAX))),
            Progress::Diverged
        );
        // A marked opening, then unnumbered requests (Nalo, Infobip).
        let cursor = latest_cursor(&InputCursor::START, &dial);
        assert_eq!(latest_progress(&cursor, &hop("", None)), Progress::New(""));
        assert_eq!(
            latest_progress(&cursor, &hop("1", None)),
            Progress::New("1")
        );
    }

    #[test]
    fn cumulative_input_is_diffed_on_any_separator() {
        let cases: [(&str, &str, &str, Progress<'_>); 9] = [
            ("", "", "*", Progress::Same),
            ("", "1", "*", Progress::New("1")),
            ("1*2", "1*2*a*b", "*", Progress::New("a*b")),
            ("1*2", "1*2*", "*", Progress::New("")),
            ("1*2", "1", "*", Progress::Stale),
            ("1*2", "1*22", "*", Progress::Diverged),
            ("1", "1||é", "||", Progress::New("é")),
            ("1", "1|é", "||", Progress::Diverged),
            ("é", "é*x", "*", Progress::New("x")),
        ];
        for (seen, text, sep, expected) in cases {
            assert_eq!(
                cumulative_progress(&InputCursor::of(seen), text, sep),
                expected,
                "{seen:?} then {text:?}"
            );
        }
        // A cursor that ends inside a character never panics.
        let cursor = InputCursor {
            len: 1,
            hash: fnv1a("é".as_bytes().get(..1).unwrap_or_default()),
        };
        assert_eq!(cumulative_progress(&cursor, "é*1", "*"), Progress::Diverged);
    }

    #[test]
    fn loose_strings_take_numbers_and_nulls() {
        #[derive(serde::Deserialize)]
        struct T {
            #[serde(default, deserialize_with = "loose_string")]
            a: Option<String>,
        }
        let t = |j: &str| json_body::<T>(j.as_bytes()).map(|t| t.a);
        assert_eq!(t(r#"{"a": "x"}"#), Ok(Some("x".into())));
        assert_eq!(t(r#"{"a": 233244000001}"#), Ok(Some("233244000001".into())));
        assert_eq!(t(r#"{"a": -1}"#), Ok(Some("-1".into())));
        assert_eq!(t(r#"{"a": null}"#), Ok(None));
        assert_eq!(t(r#"{}"#), Ok(None));
        assert!(matches!(
            t(r#"{"a": true}"#),
            Err(GatewayError::Malformed(_))
        ));
        assert!(matches!(
            t(r#"{"a": 1.5}"#),
            Err(GatewayError::Malformed(_))
        ));
        assert!(matches!(
            t(r#"{"a": {"b": 1}}"#),
            Err(GatewayError::Malformed(_))
        ));
    }

    #[test]
    fn malformed_reasons_are_bounded() {
        let reason = bounded("aé".repeat(100));
        assert!(reason.len() <= MAX_REASON + '…'.len_utf8());
        assert!(reason.ends_with('…'));
        assert_eq!(bounded("short".into()), "short");
        for body in [
            &b"{\"a\": "[..],
            b"",
            b"  ",
            b"[]",
            b"[\"s\"]",
            b"null",
            b"1",
        ] {
            assert!(matches!(
                json_body::<serde_json::Value>(body),
                Err(GatewayError::Malformed(_))
            ));
        }
        assert!(json_body::<serde_json::Value>(b" \n{}").is_ok());
    }
}
