//! OpenRosa sink: each response POSTed as an XForm instance (`multipart/form-data`, part
//! `xml_submission_file`) to ODK Central or KoBoToolbox, under the stable `meta/instanceID`
//! `uuid:<response id>`, so that a resend of the same response is recognised as a duplicate.
//!
//! How replies map to [`Delivery`] (see the protocol notes, §5.1–5.3, and the fixtures in
//! `tests/fixtures/odk-central/` and `tests/fixtures/kobotoolbox/`):
//!
//! | reply | outcome |
//! |---|---|
//! | any 2xx (Central: 201, also for an identical resend; KoBo: 201, 202 `Duplicate submission`) | delivered |
//! | 409 `Duplicate submission` / `Duplicate Instance` (KoBo's duplicate wording) | delivered |
//! | 409 `This submission has been deleted. You may not resubmit it.` (Central answers this to concurrent sends of one new submission) | retry |
//! | 409 `A submission already exists with this ID, but with different XML` (Central), other 409s such as KoBo's `Submission with this instance ID already exists` (same ID, different content) | permanent |
//! | 408, 423 (KoBo `… is currently being processed. Try again later.`), 429, 5xx, network errors, timeouts | retry, honouring `Retry-After` |
//! | redirects and other 4xx | permanent |

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::Value;

use super::{Delivery, Sink, SinkConfig, SinkKind};
use quick_xml::Reader;
use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::Event;

use crate::response::{Response, ResponseHead};
use crate::xform::metadata::{GROUP, Metadata, SAUTI_FIELDS};
use crate::xform::xml::{self, element_name};

pub struct OpenRosaSink {
    client: reqwest::Client,
    url: String,
    /// The `Authorization` header, if the sink has credentials.
    auth: Option<HeaderValue>,
}

/// Longest error kept from a collector's reply.
const ERROR_CHARS: usize = 200;

fn secret(
    value: &Option<String>,
    env: &Option<String>,
    what: &str,
) -> Result<Option<String>, String> {
    match (value, env) {
        (Some(v), _) => Ok(Some(v.clone())),
        (None, Some(var)) => std::env::var(var)
            .map(Some)
            .map_err(|_| format!("environment variable {var} (the OpenRosa {what}) is not set")),
        (None, None) => Ok(None),
    }
}

impl OpenRosaSink {
    pub fn new(config: &SinkConfig) -> Result<OpenRosaSink, String> {
        let SinkKind::Openrosa {
            url,
            username,
            password,
            password_env,
            token,
            token_env,
            token_scheme,
        } = &config.kind
        else {
            return Err("not an openrosa sink".into());
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("openrosa url `{url}`: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("openrosa url `{url}`: use http:// or https://"));
        }
        let password = secret(password, password_env, "password")?;
        let token = secret(token, token_env, "token")?;
        let auth = match (username, token) {
            (Some(_), Some(_)) => {
                return Err(
                    "an openrosa sink takes either `username`/`password` or `token`, not both"
                        .into(),
                );
            }
            (Some(user), None) => {
                let pair = format!("{user}:{}", password.unwrap_or_default());
                Some(format!("Basic {}", STANDARD.encode(pair)))
            }
            (None, Some(token)) => {
                if password.is_some() {
                    return Err("an openrosa sink with a `token` takes no `password`".into());
                }
                let scheme = token_scheme.trim();
                if scheme.is_empty() {
                    return Err("openrosa `token_scheme` is empty (use `Bearer` or `Token`)".into());
                }
                Some(format!("{scheme} {}", token.trim()))
            }
            (None, None) if password.is_some() => {
                return Err("an openrosa sink with a `password` needs a `username`".into());
            }
            (None, None) => None,
        };
        let auth = auth
            .map(|value| {
                let mut value = HeaderValue::from_str(&value).map_err(|_| {
                    "openrosa credentials contain characters a header cannot carry".to_owned()
                })?;
                value.set_sensitive(true);
                Ok::<_, String>(value)
            })
            .transpose()?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_millis(config.timeout_ms.min(5_000)))
            .user_agent(concat!("sauti/", env!("CARGO_PKG_VERSION")))
            // A redirected POST comes back as a GET: a 2xx to that would be taken for a
            // delivery. A redirect is reported instead (fix the url).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(OpenRosaSink {
            client,
            url: url.clone(),
            auth,
        })
    }
}

/// The text of one answer value in an instance: codes of a multiple choice joined by a space,
/// nothing for a skipped question.
fn value_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => items
            .iter()
            .map(value_text)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        Value::Object(_) => String::new(),
    }
}

/// The OpenRosa instance of a response: root `data` with the flow's id and version (as in the
/// form `sauti xform` exports), `start` and `end`, one element per answer in the response's
/// order, the `sauti` group, then `meta` with `instanceID` = `uuid:<response id>` and an
/// `instanceName`. The same response always gives the same bytes, so a resend is an identical
/// resubmission.
pub fn submission_xml(response: &Response) -> String {
    let metadata = Metadata::of(response);
    let version = response.flow_version.to_string();
    xml::document(|w| {
        let root = [
            ("xmlns:orx", "http://openrosa.org/xforms"),
            ("id", response.flow.as_str()),
            ("version", version.as_str()),
        ];
        xml::element(w, "data", &root, |w| {
            xml::text_element(w, "start", &[], &metadata.start)?;
            xml::text_element(w, "end", &[], &metadata.end)?;
            for (step, answer) in &response.answers {
                let value = match answer {
                    Value::Object(fields) => fields.get("value").unwrap_or(&Value::Null),
                    other => other,
                };
                xml::text_element(w, &element_name(step), &[], &value_text(value))?;
            }
            xml::element(w, GROUP, &[], |w| {
                SAUTI_FIELDS
                    .iter()
                    .zip(&metadata.sauti)
                    .try_for_each(|(field, value)| xml::text_element(w, field.name, &[], value))
            })?;
            xml::element(w, "meta", &[], |w| {
                xml::text_element(w, "instanceID", &[], &metadata.instance_id)?;
                xml::text_element(w, "instanceName", &[], &metadata.instance_name)
            })
        })
    })
}

/// What a collector said: the text of the `<message>` of an OpenRosa reply (read as XML),
/// else the body, on one line.
pub fn reply_message(body: &str) -> String {
    let text = openrosa_message(body).unwrap_or_else(|| body.to_owned());
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text of the first `<message>` element, if `body` is XML that has one.
fn openrosa_message(body: &str) -> Option<String> {
    let mut reader = Reader::from_str(body);
    let mut inside = false;
    let mut text = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) if e.local_name().as_ref() == "message" => inside = true,
            Event::Empty(e) if e.local_name().as_ref() == "message" => return Some(String::new()),
            Event::End(e) if inside && e.local_name().as_ref() == "message" => return Some(text),
            Event::Text(t) if inside => text.push_str(&t.xml10_content()),
            Event::CData(t) if inside => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if inside => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => resolve_xml_entity(&r).map(str::to_owned),
                };
                text.push_str(&resolved.unwrap_or_else(|| format!("&{};", &*r)));
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// How a collector's reply maps to a delivery outcome (see the table at the top).
pub fn classify(status: reqwest::StatusCode, headers: &HeaderMap, body: &str) -> Delivery {
    let code = status.as_u16();
    let message = reply_message(body);
    let error = || {
        let mut e = format!(
            "HTTP {code}: {}",
            message.chars().take(ERROR_CHARS).collect::<String>()
        );
        if status.is_redirection()
            && let Some(to) = headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
        {
            e.push_str(&format!(" (redirected to {to}: set the sink's url to it)"));
        }
        e
    };
    let retry = || Delivery::Retry {
        after: super::webhook::retry_after(headers),
        error: error(),
    };
    if status.is_success() {
        return Delivery::Delivered;
    }
    match code {
        409 => {
            let lower = message.to_ascii_lowercase();
            if lower.contains("has been deleted") {
                // Central says this to concurrent sends of one new submission although nothing
                // was deleted; one of them was stored. Resend later: it then gets a 201.
                retry()
            } else if lower.contains("duplicate submission") || lower.contains("duplicate instance")
            {
                Delivery::Delivered
            } else {
                // Same instanceID, different content (Central 409.1, KoBo): resending the same
                // bytes cannot help.
                Delivery::Permanent { error: error() }
            }
        }
        408 | 423 | 429 => retry(),
        _ if status.is_server_error() => retry(),
        _ => Delivery::Permanent { error: error() },
    }
}

/// A transport error with its causes (`error sending request: … : connection refused`).
fn transport_error(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        format!("timed out: {e}")
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The only sink that reads a queued response whole: it rebuilds it as an XForm instance.
impl Sink for OpenRosaSink {
    async fn deliver(&self, _head: &ResponseHead, body: &[u8]) -> Delivery {
        match serde_json::from_slice::<Response>(body) {
            Ok(response) => self.deliver_response(&response).await,
            Err(e) => Delivery::Permanent {
                error: format!("the queued response cannot be read: {e}"),
            },
        }
    }
}

impl OpenRosaSink {
    /// Submits `response` as an XForm instance.
    pub async fn deliver_response(&self, response: &Response) -> Delivery {
        let xml = submission_xml(response);
        let part = match reqwest::multipart::Part::bytes(xml.into_bytes())
            .file_name("submission.xml")
            .mime_str("text/xml")
        {
            Ok(part) => part,
            Err(e) => {
                return Delivery::Permanent {
                    error: format!("multipart: {e}"),
                };
            }
        };
        let form = reqwest::multipart::Form::new().part("xml_submission_file", part);
        let mut request = self
            .client
            .post(&self.url)
            .header("X-OpenRosa-Version", "1.0")
            .multipart(form);
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        match request.send().await {
            Ok(reply) => {
                let status = reply.status();
                if status.is_success() {
                    return Delivery::Delivered;
                }
                let headers = reply.headers().clone();
                let text = reply.text().await.unwrap_or_default();
                classify(status, &headers, &text)
            }
            Err(e) => Delivery::Retry {
                after: None,
                error: transport_error(&e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_read_out_of_openrosa_replies() {
        let body = "\n  <OpenRosaResponse xmlns=\"http://openrosa.org/http/response\" items=\"0\">\n    <message nature=\"error\">The form version specified in this submission &#39;99&#39; does not exist.</message>\n  </OpenRosaResponse>";
        assert_eq!(
            reply_message(body),
            "The form version specified in this submission '99' does not exist."
        );
        assert_eq!(reply_message("plain\n text"), "plain text");
        assert_eq!(
            reply_message(
                "<OpenRosaResponse><message>a &amp; b &#x41; <![CDATA[<c>]]></message></OpenRosaResponse>"
            ),
            "a & b A <c>"
        );
        assert_eq!(reply_message("<html>oops</html>"), "<html>oops</html>");
        assert_eq!(reply_message("<message/>"), "");
    }
}
