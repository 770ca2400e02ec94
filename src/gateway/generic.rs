//! A configurable CON/END USSD gateway (the style of many aggregators): a GET with the fields
//! in its query (`?SESSIONID=…&USSDCODE=*384*7788%23&MSISDN=…&INPUT=1*2`) or a form POST,
//! answered in text with `CON ` before a screen that waits for an answer and `END ` before the
//! last one. Field names, method, input style, prefixes and reply content type are settings
//! ([`GenericSettings`]), one set per gateway instance.
//!
//! The input is either **cumulative** (every answer of the session joined by `separator`, as
//! Africa's Talking sends it: Sauti diffs it against what it consumed and never splits it, as
//! an answer may contain the separator) or **latest** (only the newest answer: the request
//! that opens a session answers nothing, and a retried later request cannot be told from the
//! same answer typed again, see [`latest_progress`]). Every request names the service code.

use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Deserializer};

use super::{
    Decoded, Gateway, GatewayError, Inbound, InputCursor, MAX_HISTORY, MAX_INPUT, Progress, Reply,
    SessionEnded, WireRequest,
};
use super::{
    cumulative_progress, form_pairs, input, latest_cursor, latest_progress, optional, phone_number,
    required, ussd_code, ussd_screen,
};
use crate::channel::{Channel, Rendered};

/// The settings of a generic CON/END gateway (`[gateway.generic]`); every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericSettings {
    /// The HTTP method its requests come with (default `any`).
    #[serde(default)]
    pub method: GenericMethod,
    /// How its input field reads (default `cumulative`).
    #[serde(default)]
    pub input: GenericInput,
    /// What joins the answers of a cumulative input (default `*`; not empty).
    #[serde(default = "default_separator", deserialize_with = "separator")]
    pub separator: String,
    /// The names of its fields (defaults `SESSIONID`, `MSISDN`, `USSDCODE`, `INPUT`).
    #[serde(default)]
    pub fields: GenericFields,
    /// What starts a screen that waits for an answer (default `"CON "`).
    #[serde(default = "default_continue")]
    pub continue_prefix: String,
    /// What starts the last screen of a session (default `"END "`).
    #[serde(default = "default_end")]
    pub end_prefix: String,
    /// The content type of replies (default `text/plain; charset=utf-8`; printable ASCII).
    #[serde(default = "default_content_type", deserialize_with = "content_type")]
    pub content_type: String,
}

/// The HTTP method of a generic gateway's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GenericMethod {
    /// GET, the fields in the query.
    Get,
    /// POST, the fields in a form body (`application/x-www-form-urlencoded`) or the query.
    Post,
    /// Either.
    #[default]
    Any,
}

/// How a generic gateway's input field reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GenericInput {
    /// Every answer of the session, joined by the separator (`1*2*Dan`).
    #[default]
    Cumulative,
    /// Only the newest answer.
    Latest,
}

/// The names of a generic gateway's fields (as they appear in its query or form).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericFields {
    /// The gateway's id for the session (default `SESSIONID`).
    #[serde(default = "default_session_id", deserialize_with = "field_name")]
    pub session_id: String,
    /// The respondent's number (default `MSISDN`).
    #[serde(default = "default_phone_number", deserialize_with = "field_name")]
    pub phone_number: String,
    /// The service code dialled, `*384*7788#` (or `384*7788`) (default `USSDCODE`).
    #[serde(default = "default_service_code", deserialize_with = "field_name")]
    pub service_code: String,
    /// The input, cumulative or latest (default `INPUT`); an absent one is empty.
    #[serde(default = "default_input", deserialize_with = "field_name")]
    pub input: String,
    /// The network's name or code, when the gateway sends one (default: none read).
    #[serde(default, deserialize_with = "optional_field_name")]
    pub network: Option<String>,
}

fn default_separator() -> String {
    "*".into()
}
fn default_continue() -> String {
    "CON ".into()
}
fn default_end() -> String {
    "END ".into()
}
fn default_content_type() -> String {
    DEFAULT_CONTENT_TYPE.into()
}
fn default_session_id() -> String {
    "SESSIONID".into()
}
fn default_phone_number() -> String {
    "MSISDN".into()
}
fn default_service_code() -> String {
    "USSDCODE".into()
}
fn default_input() -> String {
    "INPUT".into()
}

const DEFAULT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

impl Default for GenericSettings {
    fn default() -> GenericSettings {
        GenericSettings {
            method: GenericMethod::default(),
            input: GenericInput::default(),
            separator: default_separator(),
            fields: GenericFields::default(),
            continue_prefix: default_continue(),
            end_prefix: default_end(),
            content_type: default_content_type(),
        }
    }
}

impl Default for GenericFields {
    fn default() -> GenericFields {
        GenericFields {
            session_id: default_session_id(),
            phone_number: default_phone_number(),
            service_code: default_service_code(),
            input: default_input(),
            network: None,
        }
    }
}

fn separator<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Err(serde::de::Error::custom("the separator may not be empty"));
    }
    Ok(s)
}

/// A reply content type the server can send: printable ASCII, not empty.
fn valid_content_type(s: &str) -> bool {
    !s.trim().is_empty() && s.len() <= 128 && s.bytes().all(|b| (b' '..=b'~').contains(&b))
}

fn content_type<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if !valid_content_type(&s) {
        return Err(serde::de::Error::custom(
            "expected a content type in printable ASCII, such as text/plain; charset=utf-8",
        ));
    }
    Ok(s)
}

fn valid_field_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_graphic())
}

pub(crate) fn field_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if !valid_field_name(&s) {
        return Err(serde::de::Error::custom(
            "expected a field name (printable ASCII, no spaces)",
        ));
    }
    Ok(s)
}

fn optional_field_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    field_name(d).map(Some)
}

/// The generic CON/END adapter.
#[derive(Debug, Clone)]
pub struct GenericUssd {
    settings: GenericSettings,
    /// The settings' content type, as the server sends it.
    content_type: &'static str,
    /// The configured field names, as errors name them.
    names: Names,
}

#[derive(Debug, Clone, Copy)]
struct Names {
    session_id: &'static str,
    phone_number: &'static str,
    service_code: &'static str,
    input: &'static str,
    network: Option<&'static str>,
}

impl GenericUssd {
    /// An adapter with these settings. Settings that did not come through their
    /// `Deserialize` (which refuses them) and would make replies unsendable, an empty
    /// separator or a content type that is not printable ASCII, are replaced by the defaults.
    pub fn new(settings: GenericSettings) -> GenericUssd {
        let mut settings = settings;
        if settings.separator.is_empty() {
            tracing::warn!("generic gateway: empty separator; `*` used");
            settings.separator = default_separator();
        }
        if !valid_content_type(&settings.content_type) {
            tracing::warn!("generic gateway: invalid reply content type; the default used");
            settings.content_type = default_content_type();
        }
        let fields = &settings.fields;
        let names = Names {
            session_id: interned(&fields.session_id),
            phone_number: interned(&fields.phone_number),
            service_code: interned(&fields.service_code),
            input: interned(&fields.input),
            network: fields.network.as_deref().map(interned),
        };
        GenericUssd {
            content_type: interned(&settings.content_type),
            settings,
            names,
        }
    }

    pub fn settings(&self) -> &GenericSettings {
        &self.settings
    }

    /// The fields of a request: a GET's query; a POST's form body, then its query.
    fn pairs(&self, request: &WireRequest<'_>) -> Result<Vec<(String, String)>, GatewayError> {
        let mut pairs = Vec::new();
        if request.method != "GET" {
            pairs = form_pairs(request.body)?;
        }
        pairs.extend(form_pairs(request.query.as_bytes())?);
        Ok(pairs)
    }
}

impl Default for GenericUssd {
    fn default() -> GenericUssd {
        GenericUssd::new(GenericSettings::default())
    }
}

/// A configured string as `&'static str`, as [`Reply`] carries a content type and
/// [`GatewayError`] a field name: each distinct value is kept once for the life of the process
/// (they are few, and come from the configuration, never from a request).
pub(crate) fn interned(value: &str) -> &'static str {
    const USUAL: [&str; 5] = [
        DEFAULT_CONTENT_TYPE,
        "SESSIONID",
        "MSISDN",
        "USSDCODE",
        "INPUT",
    ];
    if let Some(usual) = USUAL.iter().copied().find(|u| *u == value) {
        return usual;
    }
    static KEPT: OnceLock<Mutex<Vec<&'static str>>> = OnceLock::new();
    let mut kept = KEPT
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(k) = kept.iter().copied().find(|k| *k == value) {
        return k;
    }
    let k: &'static str = Box::leak(value.to_owned().into_boxed_str());
    kept.push(k);
    k
}

/// The first value of field `name`.
fn field(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

impl Gateway for GenericUssd {
    fn channel(&self) -> Channel {
        Channel::Ussd
    }

    fn decode(&self, request: &WireRequest<'_>) -> Result<Decoded, GatewayError> {
        let pairs = self.pairs(request)?;
        let names = self.names;
        let session_id = required(field(&pairs, names.session_id), names.session_id)?;
        let phone_number = phone_number(field(&pairs, names.phone_number), names.phone_number)?;
        let address = ussd_code(&required(
            field(&pairs, names.service_code),
            names.service_code,
        )?);
        let max = match self.settings.input {
            GenericInput::Cumulative => MAX_HISTORY,
            GenericInput::Latest => MAX_INPUT,
        };
        let input = input(field(&pairs, names.input), names.input, max)?;
        let network = match names.network {
            Some(name) => optional(field(&pairs, name), name)?,
            None => None,
        };
        Ok(Decoded::Hop(Inbound {
            session_id,
            phone_number,
            address,
            network,
            input,
            recording: None,
            turn: None,
            message_id: None,
        }))
    }

    /// Cumulative: diffed like Africa's Talking's `text` ([`cumulative_progress`]); latest:
    /// taken as it comes ([`latest_progress`]).
    fn progress<'h>(&self, cursor: &InputCursor, hop: &'h Inbound) -> Progress<'h> {
        match self.settings.input {
            GenericInput::Cumulative => {
                cumulative_progress(cursor, &hop.input, &self.settings.separator)
            }
            GenericInput::Latest => latest_progress(cursor, hop),
        }
    }

    fn cursor(&self, before: &InputCursor, hop: &Inbound) -> InputCursor {
        match self.settings.input {
            GenericInput::Cumulative => InputCursor::of(&hop.input),
            GenericInput::Latest => latest_cursor(before, hop),
        }
    }

    fn encode(&self, rendered: &Rendered) -> Reply {
        let screen = ussd_screen(rendered);
        let prefix = if screen.end {
            &self.settings.end_prefix
        } else {
            &self.settings.continue_prefix
        };
        let mut body = String::with_capacity(prefix.len() + screen.text.len());
        body.push_str(prefix);
        body.push_str(&screen.text);
        Reply::ok(self.content_type, body)
    }

    /// A notice naming the session in the session id field (such gateways rarely send one).
    fn decode_session_ended(
        &self,
        request: &WireRequest<'_>,
    ) -> Result<SessionEnded, GatewayError> {
        let pairs = self.pairs(request)?;
        Ok(SessionEnded {
            session_id: required(field(&pairs, self.names.session_id), self.names.session_id)?,
            status: None,
            hops: None,
            duration_secs: None,
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
            GenericMethod::Post | GenericMethod::Any => Some("application/x-www-form-urlencoded"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::fixture::{Request, Response, Session};
    use crate::render::ussd::Screen;

    const DIR: &str = "generic-con-end-get";

    fn hop(gw: &GenericUssd, file: &str) -> Inbound {
        match gw.decode(&Request::read(DIR, file).wire()) {
            Ok(Decoded::Hop(hop)) => hop,
            other => panic!("{file}: {other:?}"),
        }
    }

    fn settings(toml: &str) -> Result<GenericSettings, toml::de::Error> {
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

    fn screen(end: bool, text: &str) -> Rendered {
        Rendered::Ussd(Screen {
            end,
            text: text.into(),
        })
    }

    #[test]
    fn the_fixture_requests_decode_to_every_field() {
        let gw = GenericUssd::default();
        let first = Inbound {
            session_id: "634073548".into(),
            phone_number: "243810000008".into(),
            address: "*384*7788#".into(),
            network: None,
            input: String::new(),
            recording: None,
            turn: None,
            message_id: None,
        };
        assert_eq!(hop(&gw, "01-begin.request.http"), first);
        assert_eq!(
            hop(&gw, "02-accumulated.request.http"),
            Inbound {
                input: "1*2".into(),
                ..first
            }
        );
    }

    #[test]
    fn the_cumulative_input_is_diffed_never_split() {
        let gw = GenericUssd::default();
        let begin = hop(&gw, "01-begin.request.http");
        let both = hop(&gw, "02-accumulated.request.http");
        let mut session = Session::default();
        assert_eq!(session.hop(&gw, &begin), Progress::Same);
        assert_eq!(session.hop(&gw, &begin), Progress::Same);
        // The fixture goes from nothing to `1*2`: one new input (it may be an answer with a
        // `*` in it), never split into two.
        assert_eq!(session.hop(&gw, &both), Progress::New("1*2"));
        assert_eq!(session.hop(&gw, &both), Progress::Same);
        assert_eq!(session.hop(&gw, &begin), Progress::Stale);
        // One answer at a time.
        let one = Inbound {
            input: "1".into(),
            ..begin.clone()
        };
        let mut session = Session::default();
        assert_eq!(session.hop(&gw, &begin), Progress::Same);
        assert_eq!(session.hop(&gw, &one), Progress::New("1"));
        assert_eq!(session.hop(&gw, &both), Progress::New("2"));
    }

    #[test]
    fn replies_are_the_fixtures() {
        let gw = GenericUssd::default();
        Response::read(DIR, "01-begin.response.http").assert_reply(&gw.encode(&screen(
            false,
            "Sauti\n1. Francais\n2. Kiswahili\n3. Lingala",
        )));
        Response::read(DIR, "02-accumulated.response.http")
            .assert_reply(&gw.encode(&screen(true, "Merci.")));
        assert_eq!(gw.methods(), "GET, POST");
        let get = GenericUssd::new(settings("method = \"get\"").unwrap());
        assert_eq!((get.methods(), get.content_type()), ("GET", None));
    }

    #[test]
    fn two_gateways_with_their_own_names_side_by_side() {
        let kenya = GenericUssd::new(
            settings(
                r#"
                method = "get"
                input = "cumulative"
                fields = { session_id = "SESSIONID", phone_number = "MSISDN", service_code = "USSDCODE", input = "INPUT" }
                "#,
            )
            .unwrap(),
        );
        let other = GenericUssd::new(
            settings(
                r##"
                method = "post"
                input = "latest"
                separator = "#"
                continue_prefix = "C:"
                end_prefix = "E:"
                content_type = "text/plain"
                fields = { session_id = "sid", phone_number = "from", service_code = "code", input = "text", network = "net" }
                "##,
            )
            .unwrap(),
        );
        let headers = hyper::HeaderMap::new();
        let theirs = request(
            "POST",
            "",
            b"sid=9&from=%2B243810000009&code=384*7788&text=2&net=Vodacom",
            &headers,
        );
        let ours = Request::read(DIR, "02-accumulated.request.http");
        assert_eq!(
            kenya.decode(&theirs),
            Err(GatewayError::Missing("SESSIONID"))
        );
        assert_eq!(
            other.decode(&ours.wire()),
            Err(GatewayError::Missing("sid"))
        );
        let Ok(Decoded::Hop(hop)) = other.decode(&theirs) else {
            panic!()
        };
        assert_eq!(
            hop,
            Inbound {
                session_id: "9".into(),
                phone_number: "+243810000009".into(),
                address: "*384*7788#".into(),
                network: Some("Vodacom".into()),
                input: "2".into(),
                recording: None,
                turn: None,
                message_id: None,
            }
        );
        assert_eq!(hop_input(&kenya, &ours), "1*2");
        // Latest: the opening answers nothing, later requests are taken as they come.
        let mut session = Session::default();
        assert_eq!(session.hop(&other, &hop), Progress::Same);
        assert_eq!(session.hop(&other, &hop), Progress::Same);
        let next = Inbound {
            input: "1*3".into(),
            ..hop
        };
        assert_eq!(session.hop(&other, &next), Progress::New("1*3"));
        let reply = other.encode(&screen(false, "Q?"));
        assert_eq!(
            (reply.content_type, reply.body.as_str()),
            ("text/plain", "C:Q?")
        );
        assert_eq!(other.encode(&screen(true, "Bye")).body, "E:Bye");
        assert_eq!(kenya.encode(&screen(true, "Bye")).body, "END Bye");
        assert_eq!(
            (other.methods(), other.content_type()),
            ("POST", Some("application/x-www-form-urlencoded"))
        );
        assert_eq!((kenya.methods(), kenya.content_type()), ("GET", None));
    }

    fn hop_input(gw: &GenericUssd, request: &Request) -> String {
        match gw.decode(&request.wire()) {
            Ok(Decoded::Hop(hop)) => hop.input,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn settings_default_and_refuse_what_they_do_not_know() {
        assert_eq!(settings("").unwrap(), GenericSettings::default());
        let s = settings("fields = { input = \"USSD_PARAMS\" }").unwrap();
        assert_eq!(s.fields.input, "USSD_PARAMS");
        assert_eq!(s.fields.session_id, "SESSIONID");
        for bad in [
            "methods = \"get\"",
            "method = \"put\"",
            "input = \"all\"",
            "separator = \"\"",
            "content_type = \"text/plain\\n\"",
            "content_type = \"texte/ plaîn\"",
            "fields = { session = \"S\" }",
            "fields = { input = \"\" }",
            "fields = { input = \"A B\" }",
        ] {
            assert!(settings(bad).is_err(), "{bad}");
        }
        // Settings made by hand that could not be sent fall back to the defaults.
        let gw = GenericUssd::new(GenericSettings {
            separator: String::new(),
            content_type: "text/plain\r\n".into(),
            ..GenericSettings::default()
        });
        assert_eq!(gw.settings().separator, "*");
        crate::gateway::fixture::assert_sendable(&gw.encode(&screen(true, "x")));
        let custom = GenericUssd::new(GenericSettings {
            content_type: "text/html; charset=utf-8".into(),
            ..GenericSettings::default()
        });
        let again = GenericUssd::new(custom.settings().clone());
        assert!(std::ptr::eq(custom.content_type, again.content_type));
    }

    #[test]
    fn bad_requests_are_named() {
        let gw = GenericUssd::default();
        let headers = hyper::HeaderMap::new();
        let get = |q: &str| gw.decode(&request("GET", q, b"", &headers));
        assert_eq!(
            get("USSDCODE=*1%23&MSISDN=243810000008&INPUT="),
            Err(GatewayError::Missing("SESSIONID"))
        );
        assert_eq!(
            get("SESSIONID=1&USSDCODE=*1%23&INPUT="),
            Err(GatewayError::Missing("MSISDN"))
        );
        assert_eq!(
            get("SESSIONID=1&MSISDN=243810000008&INPUT="),
            Err(GatewayError::Missing("USSDCODE"))
        );
        assert!(matches!(
            get("SESSIONID=1&USSDCODE=*1%23&MSISDN=%2B&INPUT="),
            Err(GatewayError::Invalid {
                field: "MSISDN",
                ..
            })
        ));
        assert!(matches!(
            get(&format!(
                "SESSIONID=1&USSDCODE=*1%23&MSISDN=243810000008&INPUT={}",
                "1*".repeat(MAX_HISTORY)
            )),
            Err(GatewayError::Invalid { field: "INPUT", .. })
        ));
        // An absent input is an empty one (the first request of some gateways).
        let Ok(Decoded::Hop(hop)) = get("SESSIONID=1&USSDCODE=384*1&MSISDN=243810000008") else {
            panic!()
        };
        assert_eq!((hop.input.as_str(), hop.address.as_str()), ("", "*384*1#"));
        // A GET reads its query only; a POST its form, then its query.
        let post = request(
            "POST",
            "SESSIONID=q",
            b"SESSIONID=b&USSDCODE=1&MSISDN=1",
            &headers,
        );
        let Ok(Decoded::Hop(hop)) = gw.decode(&post) else {
            panic!()
        };
        assert_eq!(hop.session_id, "b");
        let get_with_body = request("GET", "SESSIONID=q", b"USSDCODE=1&MSISDN=1", &headers);
        assert_eq!(
            gw.decode(&get_with_body),
            Err(GatewayError::Missing("MSISDN"))
        );
        assert_eq!(
            gw.decode_session_ended(&request("GET", "SESSIONID=5", b"", &headers)),
            Ok(SessionEnded {
                session_id: "5".into(),
                status: None,
                hops: None,
                duration_secs: None,
            })
        );
    }
}
