//! A configurable HTTP SMS gateway for other aggregators: inbound messages (form, JSON or query)
//! under its own field names, its delivery reports, and the requests that send through it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Deserializer};

use super::generic::{GenericMethod, field_name, interned};
use super::{
    Decoded, DeliveryReport, DeliveryStatus, Gateway, GatewayError, Inbound, InputCursor,
    MAX_INPUT, Progress, Reply, SessionEnded, WireRequest,
};
use super::{
    form_pairs, input, json_body, message_cursor, message_progress, optional, phone_number,
    required,
};
use crate::channel::{Channel, Rendered};

/// The settings of a generic SMS gateway (`[gateway.generic_sms]`); every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericSmsSettings {
    /// The HTTP method its inbound requests come with (default `any`).
    #[serde(default)]
    pub method: GenericMethod,
    /// How a POST's body is written (default `form`).
    #[serde(default)]
    pub body: BodyFormat,
    /// The names of its inbound fields (defaults `from`, `to`, `text`, `id`).
    #[serde(default)]
    pub fields: SmsFields,
    /// How to send through it (none: this gateway only receives).
    #[serde(default)]
    pub send: Option<SendSettings>,
    /// How it reports the delivery of what Sauti sent (none: `…/delivery` is not served).
    #[serde(default)]
    pub delivery: Option<DeliverySettings>,
}

/// How a generic SMS gateway writes delivery reports (`[gateway.generic_sms.delivery]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    #[serde(default)]
    pub fields: DeliveryFields,
    /// The gateway's statuses by Sauti's (`DELIVRD = "delivered"`); a status that is one of
    /// Sauti's labels (`delivered`, `failed`, …, any case) needs none; others are `other`.
    #[serde(default)]
    pub statuses: BTreeMap<String, StatusLabel>,
}

/// The names of a delivery report's fields.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryFields {
    /// The id its send API answered with (default `id`).
    #[serde(default = "default_message_id", deserialize_with = "field_name")]
    pub message_id: String,
    /// The status (default `status`).
    #[serde(default = "default_status", deserialize_with = "field_name")]
    pub status: String,
    /// Why it failed, when the gateway says (default: not read).
    #[serde(default, deserialize_with = "optional_name")]
    pub failure_reason: Option<String>,
}

fn default_status() -> String {
    "status".into()
}

fn optional_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    field_name(d).map(Some)
}

impl Default for DeliveryFields {
    fn default() -> DeliveryFields {
        DeliveryFields {
            message_id: default_message_id(),
            status: default_status(),
            failure_reason: None,
        }
    }
}

/// One of Sauti's delivery statuses, as configured (`"delivered"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusLabel(pub DeliveryStatus);

impl<'de> Deserialize<'de> for StatusLabel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StatusLabel, D::Error> {
        let s = String::deserialize(d)?;
        DeliveryStatus::from_label(&s)
            .map(StatusLabel)
            .ok_or_else(|| {
                let known: Vec<&str> = DeliveryStatus::KNOWN.iter().map(|s| s.label()).collect();
                serde::de::Error::custom(format!(
                    "unknown delivery status `{}` (one of {}, other)",
                    s.escape_debug(),
                    known.join(", ")
                ))
            })
    }
}

/// How a body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    /// `application/x-www-form-urlencoded`.
    #[default]
    Form,
    /// `application/json`: one object; ids and numbers may be JSON numbers.
    Json,
}

impl BodyFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            BodyFormat::Form => "application/x-www-form-urlencoded",
            BodyFormat::Json => "application/json",
        }
    }
}

/// The names of a generic SMS gateway's inbound fields.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsFields {
    /// The respondent's number (default `from`).
    #[serde(default = "default_from", deserialize_with = "field_name")]
    pub from: String,
    /// The short code the message was sent to: the conversation's address (default `to`).
    #[serde(default = "default_to", deserialize_with = "field_name")]
    pub to: String,
    /// The message (default `text`); an absent one is empty.
    #[serde(default = "default_text", deserialize_with = "field_name")]
    pub text: String,
    /// The gateway's id of the message, the same when it delivers it again (default `id`).
    #[serde(default = "default_message_id", deserialize_with = "field_name")]
    pub message_id: String,
}

fn default_from() -> String {
    "from".into()
}
fn default_to() -> String {
    "to".into()
}
fn default_text() -> String {
    "text".into()
}
fn default_message_id() -> String {
    "id".into()
}

impl Default for SmsFields {
    fn default() -> SmsFields {
        SmsFields {
            from: default_from(),
            to: default_to(),
            text: default_text(),
            message_id: default_message_id(),
        }
    }
}

/// How to send a message through a generic SMS gateway (`[gateway.generic_sms.send]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawSend")]
pub struct SendSettings {
    /// The aggregator's send URL (`https://…`). Secrets belong in `auth`, not in it.
    pub url: String,
    pub method: SendMethod,
    /// The names of the outgoing fields.
    pub fields: SendFields,
    /// Fields sent with every message as they are (`username = "sauti"`).
    pub extra: BTreeMap<String, String>,
    /// The header that authenticates Sauti, and the variable holding its value.
    pub auth: Option<SendAuth>,
}

/// How the fields of an outgoing message travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendMethod {
    /// GET, the fields in the query.
    Get,
    /// POST, the fields in a body.
    Post(BodyFormat),
}

/// The names of the outgoing fields.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendFields {
    /// The respondent's number, E.164 with its `+` (default `to`).
    #[serde(default = "default_to", deserialize_with = "field_name")]
    pub to: String,
    /// The short code or sender id (default `from`).
    #[serde(default = "default_from", deserialize_with = "field_name")]
    pub from: String,
    /// The message, its parts joined (default `text`).
    #[serde(default = "default_text", deserialize_with = "field_name")]
    pub text: String,
}

impl Default for SendFields {
    fn default() -> SendFields {
        SendFields {
            to: default_to(),
            from: default_from(),
            text: default_text(),
        }
    }
}

/// A header that authenticates Sauti to the aggregator: its name, and the environment
/// variable holding its whole value (`Bearer …`), read when the sender starts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendAuth {
    #[serde(deserialize_with = "header_name")]
    pub header: String,
    #[serde(deserialize_with = "env_name")]
    pub env: String,
}

/// `[gateway.generic_sms.send]` as written, before its parts are checked together.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSend {
    url: String,
    #[serde(default)]
    method: Option<RawSendMethod>,
    #[serde(default)]
    body: Option<BodyFormat>,
    #[serde(default)]
    fields: SendFields,
    #[serde(default)]
    extra: BTreeMap<String, String>,
    #[serde(default)]
    auth: Option<SendAuth>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawSendMethod {
    Get,
    Post,
}

impl TryFrom<RawSend> for SendSettings {
    type Error = String;

    fn try_from(raw: RawSend) -> Result<SendSettings, String> {
        let url = send_url(&raw.url)?;
        let method = match (raw.method, raw.body) {
            (Some(RawSendMethod::Get), Some(_)) => {
                return Err("a GET sends its fields in the query: `body` is for POST".into());
            }
            (Some(RawSendMethod::Get), None) => SendMethod::Get,
            (_, body) => SendMethod::Post(body.unwrap_or_default()),
        };
        let f = &raw.fields;
        let mut names: Vec<&str> = vec![&f.to, &f.from, &f.text];
        for name in raw.extra.keys() {
            if !valid_name(name) {
                return Err(format!(
                    "extra field `{}`: expected a field name (printable ASCII, no spaces)",
                    name.escape_debug()
                ));
            }
            names.push(name);
        }
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(format!("field `{name}` is sent twice"));
            }
        }
        Ok(SendSettings {
            url,
            method,
            fields: raw.fields,
            extra: raw.extra,
            auth: raw.auth,
        })
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_graphic())
}

/// An absolute `http`/`https` URL with a host, without blanks.
fn send_url(url: &str) -> Result<String, String> {
    let why = || {
        format!(
            "send url `{}`: expected https://host/path",
            url.escape_debug()
        )
    };
    let uri: hyper::Uri = url.parse().map_err(|_| why())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) || url.bytes().any(|b| b <= b' ') {
        return Err(why());
    }
    Ok(url.to_owned())
}

fn header_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if hyper::header::HeaderName::from_bytes(s.as_bytes()).is_err() {
        return Err(serde::de::Error::custom(
            "expected a header name, such as Authorization",
        ));
    }
    Ok(s)
}

fn env_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    let ok = !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return Err(serde::de::Error::custom(
            "expected an environment variable name, such as SAUTI_SMS_TOKEN",
        ));
    }
    Ok(s)
}

/// The value of a send auth header: a valid header value, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential(String);

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credential(…)")
    }
}

/// Why the send auth header's value is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("the variable {0} holding the SMS gateway's credential is not set")]
    Missing(String),
    #[error("the variable {0} does not hold a valid header value")]
    Invalid(String),
}

impl SendSettings {
    /// The auth header's value, from its variable (`None`: no auth configured). The sender
    /// reads it once when it starts, and refuses to start on an error.
    pub fn credential(&self) -> Result<Option<Credential>, CredentialError> {
        let Some(auth) = &self.auth else {
            return Ok(None);
        };
        self.credential_from(std::env::var(&auth.env).ok())
    }

    /// [`SendSettings::credential`] from the variable's `value`.
    pub fn credential_from(
        &self,
        value: Option<String>,
    ) -> Result<Option<Credential>, CredentialError> {
        let Some(auth) = &self.auth else {
            return Ok(None);
        };
        let value = value
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| CredentialError::Missing(auth.env.clone()))?;
        if hyper::header::HeaderValue::from_str(&value).is_err() {
            return Err(CredentialError::Invalid(auth.env.clone()));
        }
        Ok(Some(Credential(value)))
    }
}

/// An HTTP request to make, in parts the sender's client takes as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    pub url: String,
    /// `Content-Type` (for a POST) and the auth header; the credential's value is in here.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The request that sends `text` to `to` from `from` as `send` describes it: the fields by
/// their configured names, `extra` after them, the auth header with `credential` (see
/// [`SendSettings::credential`]). Pure: nothing is read or sent.
pub fn outgoing_request(
    send: &SendSettings,
    credential: Option<&Credential>,
    to: &str,
    from: &str,
    text: &str,
) -> OutgoingRequest {
    let mut fields: Vec<(&str, &str)> = vec![
        (&send.fields.to, to),
        (&send.fields.from, from),
        (&send.fields.text, text),
    ];
    fields.extend(send.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut headers = Vec::new();
    if let (Some(auth), Some(credential)) = (&send.auth, credential) {
        headers.push((auth.header.clone(), credential.0.clone()));
    }
    let form = || serde_html_form::to_string(&fields).expect("string pairs always encode");
    match send.method {
        SendMethod::Get => {
            let joiner = if send.url.contains('?') { '&' } else { '?' };
            OutgoingRequest {
                method: "GET",
                url: format!("{}{joiner}{}", send.url, form()),
                headers,
                body: Vec::new(),
            }
        }
        SendMethod::Post(format) => {
            headers.insert(0, ("Content-Type".into(), format.content_type().into()));
            let body = match format {
                BodyFormat::Form => form().into_bytes(),
                BodyFormat::Json => {
                    let object: serde_json::Map<String, serde_json::Value> = fields
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
                        .collect();
                    serde_json::Value::Object(object).to_string().into_bytes()
                }
            };
            OutgoingRequest {
                method: "POST",
                url: send.url.clone(),
                headers,
                body,
            }
        }
    }
}

/// The generic SMS adapter. Inbound: a form or JSON POST (the fields may also be in its
/// query), or a GET with the fields in its query, acknowledged `200` empty (replies are queued,
/// as for Africa's Talking). Every message carries an id: a message delivered twice is known by
/// it (`message_progress`). Outbound: [`outgoing_request`], performed by the SMS sender.
#[derive(Debug, Clone)]
pub struct GenericSms {
    settings: Arc<GenericSmsSettings>,
    /// The configured field names, as errors name them.
    names: Names,
}

#[derive(Debug, Clone, Copy)]
struct Names {
    from: &'static str,
    to: &'static str,
    text: &'static str,
    message_id: &'static str,
    /// A delivery report's (`id`, `status`, the failure reason), when it sends them.
    delivery: Option<(&'static str, &'static str, Option<&'static str>)>,
}

impl GenericSms {
    pub fn new(settings: GenericSmsSettings) -> GenericSms {
        let f = &settings.fields;
        let names = Names {
            from: interned(&f.from),
            to: interned(&f.to),
            text: interned(&f.text),
            message_id: interned(&f.message_id),
            delivery: settings.delivery.as_ref().map(|d| {
                let f = &d.fields;
                (
                    interned(&f.message_id),
                    interned(&f.status),
                    f.failure_reason.as_deref().map(interned),
                )
            }),
        };
        GenericSms {
            settings: Arc::new(settings),
            names,
        }
    }

    pub fn settings(&self) -> &GenericSmsSettings {
        &self.settings
    }

    /// The fields of a request: a POST's body (form or JSON), then its query; a GET's query.
    fn fields(&self, request: &WireRequest<'_>) -> Result<Fields, GatewayError> {
        let mut fields = Fields::default();
        let blank = request.body.iter().all(u8::is_ascii_whitespace);
        if request.method != "GET" && !blank {
            match self.settings.body {
                BodyFormat::Form => fields.strings(form_pairs(request.body)?),
                BodyFormat::Json => {
                    let object: serde_json::Map<String, serde_json::Value> =
                        json_body(request.body)?;
                    fields.json(object);
                }
            }
        }
        fields.strings(form_pairs(request.query.as_bytes())?);
        Ok(fields)
    }
}

impl Default for GenericSms {
    fn default() -> GenericSms {
        GenericSms::new(GenericSmsSettings::default())
    }
}

/// A request's fields in order: a value, or `None` for a JSON value that is neither a string
/// nor a number (refused if it is one Sauti reads).
#[derive(Default)]
struct Fields(Vec<(String, Option<String>)>);

impl Fields {
    fn strings(&mut self, pairs: Vec<(String, String)>) {
        self.0.extend(pairs.into_iter().map(|(k, v)| (k, Some(v))));
    }

    fn json(&mut self, object: serde_json::Map<String, serde_json::Value>) {
        use serde_json::Value;
        for (k, v) in object {
            let v = match v {
                Value::Null => continue,
                Value::String(s) => Some(s),
                // Ids and numbers written as JSON numbers; a fraction is no id.
                Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
                _ => None,
            };
            self.0.push((k, v));
        }
    }

    /// The first value of field `name`.
    fn get(&self, name: &'static str) -> Result<Option<String>, GatewayError> {
        match self.0.iter().find(|(k, _)| k == name) {
            None => Ok(None),
            Some((_, Some(v))) => Ok(Some(v.clone())),
            Some((_, None)) => Err(GatewayError::Invalid {
                field: name,
                why: "expected a string or an integer",
            }),
        }
    }
}

impl Gateway for GenericSms {
    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn decode(&self, request: &WireRequest<'_>) -> Result<Decoded, GatewayError> {
        let fields = self.fields(request)?;
        let n = self.names;
        let phone_number = phone_number(fields.get(n.from)?, n.from)?;
        let to = required(fields.get(n.to)?, n.to)?;
        let text = input(fields.get(n.text)?, n.text, MAX_INPUT)?;
        let message_id = required(fields.get(n.message_id)?, n.message_id)?;
        Ok(Decoded::Hop(Inbound {
            session_id: super::africastalking_sms::session_id(&to),
            address: to,
            phone_number,
            network: None,
            input: text,
            recording: None,
            turn: None,
            message_id: Some(message_id),
        }))
    }

    fn progress<'h>(&self, cursor: &InputCursor, hop: &'h Inbound) -> Progress<'h> {
        message_progress(cursor, hop)
    }

    fn cursor(&self, before: &InputCursor, hop: &Inbound) -> InputCursor {
        message_cursor(before, hop)
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
        Err(GatewayError::Invalid {
            field: "path",
            why: "SMS gateways send no session-ended notices",
        })
    }

    fn sends_delivery_reports(&self) -> bool {
        self.settings.delivery.is_some()
    }

    /// A report in the inbound method and body, under the `delivery` names; its status read
    /// through `statuses`, then as one of Sauti's labels, else `other`.
    fn decode_delivery_report(
        &self,
        request: &WireRequest<'_>,
    ) -> Result<DeliveryReport, GatewayError> {
        let (Some(settings), Some((id, status, reason))) =
            (&self.settings.delivery, self.names.delivery)
        else {
            return Err(GatewayError::Invalid {
                field: "path",
                why: "this gateway sends no delivery reports",
            });
        };
        let fields = self.fields(request)?;
        let message_id = required(fields.get(id)?, id)?;
        let sent = required(fields.get(status)?, status)?;
        let status = settings
            .statuses
            .get(&sent)
            .map(|l| l.0)
            .or_else(|| DeliveryStatus::from_label(&sent))
            .unwrap_or(DeliveryStatus::Other);
        let failure_reason = match reason {
            Some(name) => optional(fields.get(name)?, name)?,
            None => None,
        };
        Ok(DeliveryReport {
            message_id,
            status,
            network: None,
            failure_reason,
            retry_count: None,
        })
    }

    fn methods(&self) -> &'static str {
        match self.settings.method {
            GenericMethod::Get => "GET",
            GenericMethod::Post => "POST",
            GenericMethod::Any => "GET, POST",
        }
    }

    fn content_type(&self) -> Option<&'static str> {
        match self.settings.method {
            GenericMethod::Get => None,
            GenericMethod::Post | GenericMethod::Any => Some(self.settings.body.content_type()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml: &str) -> Result<GenericSmsSettings, toml::de::Error> {
        toml::from_str(toml)
    }

    fn request<'a>(
        method: &'a str,
        query: &'a str,
        body: &'a [u8],
        headers: &'a hyper::HeaderMap,
    ) -> WireRequest<'a> {
        WireRequest {
            method,
            action: "",
            path_and_query: "",
            query,
            headers,
            body,
        }
    }

    fn hop(
        gw: &GenericSms,
        method: &str,
        query: &str,
        body: &str,
    ) -> Result<Inbound, GatewayError> {
        let headers = hyper::HeaderMap::new();
        match gw.decode(&request(method, query, body.as_bytes(), &headers))? {
            Decoded::Hop(hop) => Ok(hop),
            other => panic!("{other:?}"),
        }
    }

    fn json_gateway() -> GenericSms {
        GenericSms::new(
            settings(
                r#"
                method = "post"
                body = "json"
                fields = { from = "msisdn", to = "shortcode", text = "message", message_id = "msgId" }
                "#,
            )
            .unwrap(),
        )
    }

    #[test]
    fn a_json_message_with_its_own_names_decodes() {
        let gw = json_gateway();
        let got = hop(
            &gw,
            "POST",
            "",
            r#"{"msisdn": 243810000201, "shortcode": "20880", "message": "Kufatilia", "msgId": 77, "extra": {"a": 1}}"#,
        )
        .unwrap();
        assert_eq!(
            got,
            Inbound {
                session_id: "sms:20880".into(),
                phone_number: "243810000201".into(),
                address: "20880".into(),
                network: None,
                input: "Kufatilia".into(),
                recording: None,
                turn: None,
                message_id: Some("77".into()),
            }
        );
        assert_eq!(
            (gw.methods(), gw.content_type()),
            ("POST", Some("application/json"))
        );
        // The same id again is the same message; another id is a new one.
        let cursor = gw.cursor(&InputCursor::START, &got);
        assert_eq!(gw.progress(&cursor, &got), Progress::Same);
        let next = Inbound {
            message_id: Some("78".into()),
            ..got
        };
        assert_eq!(gw.progress(&cursor, &next), Progress::New("Kufatilia"));
    }

    #[test]
    fn form_and_query_fields_decode_with_the_defaults() {
        let gw = GenericSms::default();
        let form = hop(&gw, "POST", "id=q1", "from=%2B243810000202&to=20880&text=1").unwrap();
        assert_eq!(form.message_id.as_deref(), Some("q1"));
        assert_eq!(form.input, "1");
        // A GET reads its query only.
        let get = hop(&gw, "GET", "from=243810000202&to=20880&text=2&id=g", "id=b").unwrap();
        assert_eq!(
            (get.input.as_str(), get.message_id.as_deref()),
            ("2", Some("g"))
        );
        assert_eq!(
            hop(&gw, "GET", "from=243810000202&to=20880", "id=b"),
            Err(GatewayError::Missing("id"))
        );
        assert_eq!(
            (gw.methods(), gw.content_type()),
            ("GET, POST", Some("application/x-www-form-urlencoded"))
        );
    }

    #[test]
    fn bad_messages_are_named_by_the_configured_fields() {
        let gw = json_gateway();
        let post = |body: &str| hop(&gw, "POST", "", body);
        assert_eq!(
            post(r#"{"shortcode": "20880", "message": "x", "msgId": "1"}"#),
            Err(GatewayError::Missing("msisdn"))
        );
        assert_eq!(
            post(r#"{"msisdn": "243810000203", "message": "x", "msgId": "1"}"#),
            Err(GatewayError::Missing("shortcode"))
        );
        assert_eq!(
            post(r#"{"msisdn": "243810000203", "shortcode": "20880", "message": "x"}"#),
            Err(GatewayError::Missing("msgId"))
        );
        for bad in [
            r#"{"msisdn": "nobody", "shortcode": "20880", "msgId": "1"}"#,
            r#"{"msisdn": true, "shortcode": "20880", "msgId": "1"}"#,
            r#"{"msisdn": 2.5, "shortcode": "20880", "msgId": "1"}"#,
        ] {
            assert!(
                matches!(
                    post(bad),
                    Err(GatewayError::Invalid {
                        field: "msisdn",
                        ..
                    })
                ),
                "{bad}"
            );
        }
        let long = format!(
            r#"{{"msisdn": "243810000203", "shortcode": "20880", "msgId": "1", "message": "{}"}}"#,
            "a".repeat(MAX_INPUT + 1)
        );
        assert!(matches!(
            post(&long),
            Err(GatewayError::Invalid {
                field: "message",
                ..
            })
        ));
        for garbage in ["", "[1]", "{", "msisdn=1"] {
            assert!(post(garbage).is_err(), "{garbage:?} must be refused");
        }
    }

    #[test]
    fn settings_are_checked_when_read() {
        assert_eq!(settings("").unwrap(), GenericSmsSettings::default());
        for bad in [
            "bodies = \"json\"",
            "body = \"xml\"",
            "fields = { from = \"a b\" }",
            "fields = { sender = \"s\" }",
            "send = { method = \"post\" }",
            "send = { url = \"ftp://x/y\" }",
            "send = { url = \"https:///nohost\" }",
            "send = { url = \"https://x/a b\" }",
            "send = { url = \"https://x/\", method = \"get\", body = \"json\" }",
            "send = { url = \"https://x/\", method = \"put\" }",
            "send = { url = \"https://x/\", auth = { header = \"Bad Header\", env = \"T\" } }",
            "send = { url = \"https://x/\", auth = { header = \"X-Key\", env = \"NOT-A-VAR\" } }",
            "send = { url = \"https://x/\", auth = { header = \"X-Key\" } }",
            "send = { url = \"https://x/\", fields = { to = \"a\", text = \"a\" } }",
            "send = { url = \"https://x/\", extra = { to = \"fixed\" } }",
        ] {
            assert!(settings(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn outgoing_requests_are_built_as_configured() {
        let s = settings(
            r#"
            [send]
            url = "https://sms.example/api/send"
            body = "json"
            fields = { to = "msisdn", from = "sender", text = "content" }
            extra = { account = "sauti" }
            auth = { header = "Authorization", env = "SAUTI_SMS_TOKEN" }
            "#,
        )
        .unwrap();
        let send = s.send.as_ref().unwrap();
        let credential = send.credential_from(Some("Bearer tok-1".into())).unwrap();
        let req = outgoing_request(
            send,
            credential.as_ref(),
            "+243810000204",
            "20880",
            "Merci é",
        );
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, "https://sms.example/api/send");
        assert_eq!(
            req.headers,
            vec![
                ("Content-Type".to_owned(), "application/json".to_owned()),
                ("Authorization".to_owned(), "Bearer tok-1".to_owned()),
            ]
        );
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"msisdn": "+243810000204", "sender": "20880", "content": "Merci é", "account": "sauti"})
        );
        assert!(!format!("{credential:?}").contains("tok-1"));
        assert_eq!(
            send.credential_from(None),
            Err(CredentialError::Missing("SAUTI_SMS_TOKEN".into()))
        );
        assert_eq!(
            send.credential_from(Some("a\r\nX-Evil: 1".into())),
            Err(CredentialError::Invalid("SAUTI_SMS_TOKEN".into()))
        );

        let form = settings("send = { url = \"https://sms.example/send\" }").unwrap();
        let form = form.send.unwrap();
        assert_eq!(form.credential(), Ok(None));
        let req = outgoing_request(&form, None, "+243810000204", "20880", "a&b=c");
        assert_eq!(
            req.headers,
            vec![(
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned()
            )]
        );
        let fields: Vec<(String, String)> = serde_html_form::from_bytes(&req.body).unwrap();
        assert_eq!(
            fields,
            vec![
                ("to".to_owned(), "+243810000204".to_owned()),
                ("from".to_owned(), "20880".to_owned()),
                ("text".to_owned(), "a&b=c".to_owned()),
            ]
        );

        let get = settings("send = { url = \"https://sms.example/send?key=1\", method = \"get\" }")
            .unwrap()
            .send
            .unwrap();
        let req = outgoing_request(&get, None, "+243810000204", "20880", "Oui");
        assert_eq!(
            (req.method, req.url.as_str(), req.body.len()),
            (
                "GET",
                "https://sms.example/send?key=1&to=%2B243810000204&from=20880&text=Oui",
                0
            )
        );
        assert!(req.headers.is_empty());
    }

    #[test]
    fn delivery_reports_read_the_configured_names_and_statuses() {
        let gw = GenericSms::new(
            settings(
                r#"
                body = "json"
                [delivery]
                fields = { message_id = "ref", status = "dlr", failure_reason = "err" }
                statuses = { DELIVRD = "delivered", UNDELIV = "failed", "x-late" = "Expired" }
                "#,
            )
            .unwrap(),
        );
        assert!(gw.sends_delivery_reports());
        assert!(!GenericSms::default().sends_delivery_reports());
        let headers = hyper::HeaderMap::new();
        let report =
            |body: &str| gw.decode_delivery_report(&request("POST", "", body.as_bytes(), &headers));
        let r =
            report(r#"{"ref": 991, "dlr": "UNDELIV", "err": "absent", "msisdn": "243810000209"}"#)
                .unwrap();
        assert_eq!(
            r,
            DeliveryReport {
                message_id: "991".into(),
                status: DeliveryStatus::Failed,
                network: None,
                failure_reason: Some("absent".into()),
                retry_count: None,
            }
        );
        for (sent, status) in [
            ("DELIVRD", DeliveryStatus::Delivered),
            ("x-late", DeliveryStatus::Expired),
            ("buffered", DeliveryStatus::Buffered),
            ("ABSENT_SUBSCRIBER", DeliveryStatus::AbsentSubscriber),
            ("delivrd", DeliveryStatus::Other),
            ("ENROUTE", DeliveryStatus::Other),
        ] {
            let r = report(&format!(r#"{{"ref": "1", "dlr": "{sent}"}}"#)).unwrap();
            assert_eq!(r.status, status, "{sent}");
        }
        assert_eq!(
            report(r#"{"dlr": "DELIVRD"}"#),
            Err(GatewayError::Missing("ref"))
        );
        assert_eq!(report(r#"{"ref": "1"}"#), Err(GatewayError::Missing("dlr")));
        assert!(matches!(
            report(r#"{"ref": "1", "dlr": ["DELIVRD"]}"#),
            Err(GatewayError::Invalid { field: "dlr", .. })
        ));
        assert!(settings("[delivery]\nstatuses = { DELIVRD = \"arrived\" }").is_err());
        assert!(settings("[delivery]\nfield = { status = \"s\" }").is_err());
    }

    /// The examples in docs/sms.md are configurations `serve` reads.
    #[test]
    fn the_documented_examples_load() {
        let doc = include_str!("../../docs/sms.md");
        let blocks: Vec<&str> = doc
            .split("```toml\n")
            .skip(1)
            .filter_map(|b| b.split("```").next())
            .collect();
        assert!(blocks.len() >= 3, "{} blocks", blocks.len());
        let mut generic = 0;
        for block in blocks {
            let config: crate::config::Config =
                toml::from_str(block).unwrap_or_else(|e| panic!("{block}\n{e}"));
            for g in config
                .gateway_list
                .iter()
                .filter(|g| g.adapter == crate::config::GatewayKind::GenericSms)
            {
                let settings = g.generic_sms.as_ref().expect("settings");
                assert!(settings.send.is_some());
                generic += 1;
            }
        }
        assert_eq!(generic, 1);
    }

    #[test]
    fn generic_sms_settings_belong_to_their_adapter() {
        let dir = tempfile::tempdir().unwrap();
        let load = |toml: &str| {
            let path = dir.path().join("sauti.toml");
            std::fs::write(&path, toml).unwrap();
            crate::config::Config::load(Some(&path)).map(|_| ())
        };
        let ok = "[[gateway]]\nname = \"smsco\"\nadapter = \"generic-sms\"\n[gateway.generic_sms]\nbody = \"json\"\n";
        assert!(load(ok).is_ok());
        let misplaced = ok.replace("generic-sms", "africastalking-sms");
        let problem = load(&misplaced).unwrap_err().to_string();
        assert!(problem.contains("generic_sms"), "{problem}");
        let typo = ok.replace("body = ", "bdy = ");
        let problem = load(&typo).unwrap_err().to_string();
        assert!(problem.contains("bdy"), "{problem}");
    }
}
