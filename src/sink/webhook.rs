//! Webhook sink: the response JSON POSTed as is, signed with Standard Webhooks headers
//! (`webhook-id` = response id, stable across retries, so collectors can de-duplicate).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::{Delivery, Sink, SinkConfig, SinkKind};
use crate::response::ResponseHead;

pub struct WebhookSink {
    client: reqwest::Client,
    url: String,
    /// The HMAC key: the secret's bytes after `whsec_`, base64-decoded.
    key: Vec<u8>,
    /// The clock, in unix seconds (tests pin it to verify the fixture's signature).
    now: fn() -> i64,
}

/// `webhook-signature` for `id`, `timestamp` and `body` (the `v1` HMAC-SHA256 scheme).
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The key of a `whsec_<base64>` secret.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, String> {
    let b64 = secret
        .trim()
        .strip_prefix("whsec_")
        .unwrap_or(secret.trim());
    let key = STANDARD
        .decode(b64)
        .map_err(|_| "the webhook secret must be `whsec_` followed by base64".to_owned())?;
    if key.len() < 16 {
        return Err("the webhook secret is too short (24 to 64 random bytes, base64)".into());
    }
    Ok(key)
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The delay a `Retry-After` header asks for (seconds, or an HTTP date).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(24 * 3600)));
    }
    let at = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822).ok()?;
    let secs = (at - time::OffsetDateTime::now_utc())
        .whole_seconds()
        .clamp(0, 24 * 3600);
    Some(Duration::from_secs(secs as u64))
}

/// How an HTTP status maps to a delivery outcome, for every HTTP sink.
pub fn classify(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) -> Delivery {
    let error = || {
        format!(
            "HTTP {}: {}",
            status.as_u16(),
            body.chars().take(200).collect::<String>()
        )
    };
    if status.is_success() {
        Delivery::Delivered
    } else if status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error() {
        Delivery::Retry {
            after: retry_after(headers),
            error: error(),
        }
    } else {
        Delivery::Permanent { error: error() }
    }
}

impl WebhookSink {
    pub fn new(config: &SinkConfig) -> Result<WebhookSink, String> {
        let SinkKind::Webhook {
            url,
            secret,
            secret_env,
        } = &config.kind
        else {
            return Err("not a webhook sink".into());
        };
        let secret = match (secret, secret_env) {
            (Some(s), _) => s.clone(),
            (None, Some(var)) => {
                std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?
            }
            (None, None) => return Err("a webhook sink needs `secret` or `secret_env`".into()),
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_millis(config.timeout_ms.min(5_000)))
            .user_agent(concat!("sauti/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(WebhookSink {
            client,
            url: url.clone(),
            key: secret_key(&secret)?,
            now: unix_now,
        })
    }

    /// Pins the clock (for signature tests).
    pub fn with_clock(mut self, now: fn() -> i64) -> WebhookSink {
        self.now = now;
        self
    }
}

impl Sink for WebhookSink {
    async fn deliver(&self, response: &ResponseHead, body: &[u8]) -> Delivery {
        let timestamp = (self.now)();
        let request = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &response.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature(&self.key, &response.id, timestamp, body),
            )
            .body(body.to_vec());
        match request.send().await {
            Ok(reply) => {
                let status = reply.status();
                let headers = reply.headers().clone();
                let text = reply.text().await.unwrap_or_default();
                classify(status, &headers, &text)
            }
            Err(e) => Delivery::Retry {
                after: None,
                error: format!("{e}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_webhooks_test_vector() {
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            signature(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
