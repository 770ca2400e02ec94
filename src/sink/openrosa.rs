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
use crate::response::Response;
use crate::xform::{element_name, escape};

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
/// form `sauti xform` exports), one element per answer in the response's order, then
/// `meta/instanceID` = `uuid:<response id>`. The same response always gives the same bytes, so
/// a resend is an identical resubmission.
pub fn submission_xml(response: &Response) -> String {
    let mut x = String::with_capacity(256 + 64 * response.answers.len());
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<data xmlns:orx=\"http://openrosa.org/xforms\" id=\"{}\" version=\"{}\">\n",
        escape(&response.flow),
        response.flow_version
    ));
    for (step, answer) in &response.answers {
        let value = match answer {
            Value::Object(fields) => fields.get("value").unwrap_or(&Value::Null),
            other => other,
        };
        let name = element_name(step);
        let text = value_text(value);
        if text.is_empty() {
            x.push_str(&format!("  <{name}/>\n"));
        } else {
            x.push_str(&format!("  <{name}>{}</{name}>\n", escape(&text)));
        }
    }
    x.push_str(&format!(
        "  <meta>\n    <instanceID>uuid:{}</instanceID>\n  </meta>\n</data>\n",
        escape(&response.id)
    ));
    x
}

/// Replaces the entity and character references of XML text.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';').filter(|&i| i <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| entity.strip_prefix('#').map(|d| d.parse::<u32>()))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// What a collector said: the `<message>` of an OpenRosa reply, else the body, on one line.
pub fn reply_message(body: &str) -> String {
    let message = body.find("<message").and_then(|start| {
        let open_end = start + body[start..].find('>')?;
        if body[start..open_end].ends_with('/') {
            return Some(String::new());
        }
        let close = open_end + body[open_end..].find("</message>")?;
        Some(unescape(&body[open_end + 1..close]))
    });
    let text = message.unwrap_or_else(|| body.to_owned());
    text.split_whitespace().collect::<Vec<_>>().join(" ")
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

impl Sink for OpenRosaSink {
    async fn deliver(&self, response: &Response, _body: &[u8]) -> Delivery {
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
        assert_eq!(unescape("a &amp; b &#x41; &bogus; &"), "a & b A &bogus; &");
    }
}
