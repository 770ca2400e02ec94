//! Gateways: one file per wire protocol. A [`Gateway`] decodes a request into an
//! [`Inbound`] hop and encodes a [`Rendered`] reply; the hop logic never sees a wire format.

pub mod africastalking;

use std::sync::Arc;

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
    /// what the session consumed ([`Gateway::progress`]).
    pub input: String,
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

/// A reply body and its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub content_type: &'static str,
    pub body: String,
}

/// A gateway's notice that a session ended on its side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEnded {
    pub session_id: String,
    pub status: Option<String>,
    pub hops: Option<String>,
}

/// Why a gateway request was refused (answered with 400 and this reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
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

    /// A hop from a request body.
    fn decode(&self, body: &[u8]) -> Result<Inbound, GatewayError>;

    /// How `hop`'s input follows what the session consumed (`cursor`).
    fn progress<'h>(&self, cursor: &InputCursor, hop: &'h Inbound) -> Progress<'h>;

    /// What the session has consumed once `hop` is taken.
    fn cursor(&self, hop: &Inbound) -> InputCursor;

    /// The reply to send for what the renderer made.
    fn encode(&self, rendered: &Rendered) -> Reply;

    /// A notice that a session ended on the gateway's side.
    fn decode_session_ended(&self, body: &[u8]) -> Result<SessionEnded, GatewayError>;
}

/// The adapter for a configured gateway kind.
pub fn adapter(kind: GatewayKind) -> Arc<dyn Gateway> {
    match kind {
        GatewayKind::Africastalking => Arc::new(africastalking::AfricasTalking),
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
