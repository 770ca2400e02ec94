//! Gateways: one file per wire protocol, each decoding a request into a [`UssdRequest`]
//! and encoding a [`Screen`](crate::engine::Screen) into the gateway's reply.

pub mod africastalking;

/// One USSD hop as every gateway describes it, once decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UssdRequest {
    pub session_id: String,
    pub service_code: String,
    /// The raw number: it is pseudonymised before anything is stored or logged.
    pub phone_number: String,
    pub network: Option<String>,
    /// Everything the respondent typed in this session, joined by `*` (cumulative).
    pub text: String,
}

/// A reply body and its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub content_type: &'static str,
    pub body: String,
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
