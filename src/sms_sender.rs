//! Sends queued SMS through the API of the gateway each came in by (Africa's Talking's
//! messaging API, or a generic aggregator's): a [`Sink`] of the SMS outbox, so the outbox
//! worker retries, pauses on outages and buries what can never be sent.

use std::collections::HashMap;

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::sink::{Delivery, Sink};
use crate::sms_outbox::QueuedSms;
use crate::vault::NumberVault;

/// Where and as whom messages are sent: `[sms.send]`, or `SAUTI_AT_SMS_URL`,
/// `SAUTI_AT_USERNAME`, `SAUTI_AT_API_KEY`.
#[derive(Clone)]
pub struct SmsApi {
    pub url: String,
    pub username: String,
    /// A secret: never logged.
    pub api_key: String,
}

impl std::fmt::Debug for SmsApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsApi")
            .field("url", &crate::redact::url(&self.url))
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The form Africa's Talking's send API takes for one message (parts joined: the API splits
/// them again as the networks need).
pub fn form(api: &SmsApi, to: &str, sms: &QueuedSms) -> String {
    let message = sms.parts.concat();
    serde_html_form::to_string([
        ("username", api.username.as_str()),
        ("to", to),
        ("message", message.as_str()),
        ("from", sms.from.as_str()),
    ])
    .unwrap_or_default()
}

/// The body of a `201`: `SMSMessageData.Recipients[]`, one per number sent to.
#[derive(Deserialize)]
struct Reply {
    #[serde(rename = "SMSMessageData")]
    data: ReplyData,
}

#[derive(Deserialize)]
struct ReplyData {
    #[serde(rename = "Recipients", default)]
    recipients: Vec<Recipient>,
    #[serde(rename = "Message", default)]
    message: String,
}

#[derive(Deserialize)]
struct Recipient {
    #[serde(rename = "statusCode")]
    status_code: u16,
    #[serde(default)]
    status: String,
}

/// What a recipient's status code means for the message: Africa's Talking accepts the request
/// (`201`) and reports each number apart. 100-102 are taken (processed, sent, queued); a
/// number that can never receive (invalid, unsupported, blacklisted, do-not-disturb, bad
/// sender id) is permanent; the rest (no balance, risk hold, routing, gateway errors) may pass
/// later.
pub fn recipient_outcome(code: u16, status: &str) -> Delivery {
    let status: String = status
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(40)
        .collect();
    match code {
        100..=102 => Delivery::Delivered,
        402 | 403 | 404 | 406 | 409 => Delivery::Permanent {
            error: format!("Africa's Talking refused the recipient: {code} {status}"),
        },
        _ => Delivery::Retry {
            after: None,
            error: format!("Africa's Talking did not send to the recipient: {code} {status}"),
        },
    }
}

/// The outcome of one answer of the API.
pub fn outcome(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Delivery {
    match status {
        200..=299 => match serde_json::from_slice::<Reply>(body) {
            Ok(reply) => match reply.data.recipients.first() {
                Some(r) => recipient_outcome(r.status_code, &r.status),
                // No recipient: the API says why in `Message` (e.g. an invalid number).
                // Its words go to a log line and the dead letters: no control characters.
                None => Delivery::Permanent {
                    error: format!(
                        "Africa's Talking sent to nobody: {}",
                        reply
                            .data
                            .message
                            .chars()
                            .filter(|c| !c.is_control())
                            .take(120)
                            .collect::<String>()
                    ),
                },
            },
            Err(_) => Delivery::Retry {
                after: None,
                error: format!("Africa's Talking answered {status} with an unreadable body"),
            },
        },
        // Bad credentials are the operator's to fix: keep the message meanwhile.
        401 | 403 | 408 | 429 | 500..=599 => Delivery::Retry {
            after: retry_after,
            error: format!("Africa's Talking answered {status}"),
        },
        _ => Delivery::Permanent {
            error: format!("Africa's Talking refused the message: {status}"),
        },
    }
}

/// Africa's Talking's send API as the SMS outbox's sink.
pub struct AfricasTalkingSms {
    api: SmsApi,
    client: reqwest::Client,
    vault: Arc<NumberVault>,
}

impl AfricasTalkingSms {
    pub fn new(
        api: SmsApi,
        vault: Arc<NumberVault>,
        timeout: Duration,
    ) -> Result<AfricasTalkingSms, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(AfricasTalkingSms { api, client, vault })
    }
}

impl Sink<QueuedSms> for AfricasTalkingSms {
    async fn deliver(&self, sms: &QueuedSms, _body: &[u8]) -> Delivery {
        let Some(to) = self.vault.open(&sms.to) else {
            // Sealed under another key (SAUTI_NUMBER_KEY or the pseudonym key changed), or
            // altered: no retry can send it.
            return Delivery::Permanent {
                error: "the number does not open with this key".into(),
            };
        };
        let sent = self
            .client
            .post(&self.api.url)
            .header("apiKey", &self.api.api_key)
            .header("Accept", "application/json")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form(&self.api, &to, sms))
            .send()
            .await;
        match sent {
            Ok(reply) => {
                let status = reply.status().as_u16();
                let retry_after = reply
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok())
                    .map(Duration::from_secs);
                // Bounded: a hostile or broken API cannot make us hold a large body.
                let body = read_at_most(reply, 64 * 1024).await;
                outcome(status, retry_after, &body)
            }
            // Without the URL: it may carry credentials.
            Err(e) => Delivery::Retry {
                after: None,
                error: format!("SMS API unreachable: {}", e.without_url()),
            },
        }
    }
}

/// A generic aggregator's send API (`[gateway.generic_sms.send]`): a 2xx is sent; 408, 429
/// and 5xx are retried; other 4xx are dead letters. Its body is not read (there is no
/// common way to say a recipient failed).
pub struct GenericSms {
    send: crate::gateway::generic_sms::SendSettings,
    credential: Option<crate::gateway::generic_sms::Credential>,
    client: reqwest::Client,
    vault: Arc<NumberVault>,
}

impl GenericSms {
    pub fn new(
        send: crate::gateway::generic_sms::SendSettings,
        vault: Arc<NumberVault>,
        timeout: Duration,
    ) -> Result<GenericSms, String> {
        // Read once: a missing credential stops the start, not each message.
        let credential = send.credential().map_err(|e| e.to_string())?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(GenericSms {
            send,
            credential,
            client,
            vault,
        })
    }
}

impl Sink<QueuedSms> for GenericSms {
    async fn deliver(&self, sms: &QueuedSms, _body: &[u8]) -> Delivery {
        let Some(to) = self.vault.open(&sms.to) else {
            return Delivery::Permanent {
                error: "the number does not open with this key".into(),
            };
        };
        let request = crate::gateway::generic_sms::outgoing_request(
            &self.send,
            self.credential.as_ref(),
            &to,
            &sms.from,
            &sms.parts.concat(),
        );
        let method = if request.method == "GET" {
            reqwest::Method::GET
        } else {
            reqwest::Method::POST
        };
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body);
        }
        match builder.send().await {
            Ok(reply) => {
                let status = reply.status().as_u16();
                let after = reply
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok())
                    .map(Duration::from_secs);
                match status {
                    200..=299 => Delivery::Delivered,
                    408 | 429 | 500..=599 => Delivery::Retry {
                        after,
                        error: format!("the SMS gateway answered {status}"),
                    },
                    _ => Delivery::Permanent {
                        error: format!("the SMS gateway refused the message: {status}"),
                    },
                }
            }
            Err(e) => Delivery::Retry {
                after: None,
                error: format!("SMS gateway unreachable: {}", e.without_url()),
            },
        }
    }
}

/// One gateway's way of sending.
pub enum Sender {
    AfricasTalking(AfricasTalkingSms),
    Generic(GenericSms),
}

/// The SMS outbox's sink: each message goes out through the gateway it came in by (a
/// campaign's, through the gateway it names); a message of no known gateway (queued before
/// gateways were recorded, or by one since removed) through the first one configured.
#[derive(Default)]
pub struct SmsSenders {
    by_gateway: HashMap<String, Sender>,
    fallback: Option<String>,
}

impl SmsSenders {
    pub fn add(&mut self, gateway: &str, sender: Sender) {
        if self.fallback.is_none() {
            self.fallback = Some(gateway.to_owned());
        }
        self.by_gateway.insert(gateway.to_owned(), sender);
    }

    pub fn is_empty(&self) -> bool {
        self.by_gateway.is_empty()
    }

    pub fn gateways(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.by_gateway.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

impl Sink<QueuedSms> for SmsSenders {
    async fn deliver(&self, sms: &QueuedSms, body: &[u8]) -> Delivery {
        let sender = self.by_gateway.get(&sms.gateway).or_else(|| {
            self.fallback
                .as_ref()
                .and_then(|name| self.by_gateway.get(name))
        });
        match sender {
            Some(Sender::AfricasTalking(s)) => s.deliver(sms, body).await,
            Some(Sender::Generic(s)) => s.deliver(sms, body).await,
            // Kept for when one is configured (a retry, then its maximum age).
            None => Delivery::Retry {
                after: None,
                error: format!("no way to send through gateway `{}`", sms.gateway),
            },
        }
    }
}

async fn read_at_most(mut reply: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = reply.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() > limit {
            break;
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sms() -> QueuedSms {
        QueuedSms {
            id: "a".into(),
            to: "v1:sealed".into(),
            from: "20880".into(),
            parts: vec!["Bon".into(), "jour".into()],
            flow: String::new(),
            at: 0,
            gateway: String::new(),
        }
    }

    #[test]
    fn the_form_joins_the_parts() {
        let api = SmsApi {
            url: String::new(),
            username: "sandbox".into(),
            api_key: "k".into(),
        };
        assert_eq!(
            form(&api, "+243810000001", &sms()),
            "username=sandbox&to=%2B243810000001&message=Bonjour&from=20880"
        );
        assert!(!format!("{api:?}").contains("api_key"));
    }

    #[test]
    fn each_recipient_status_is_read() {
        let body = |code: u16, status: &str| {
            format!(
                r#"{{"SMSMessageData":{{"Message":"Sent to 1/1","Recipients":[{{"statusCode":{code},"number":"+243810000001","status":"{status}","cost":"KES 0.8","messageId":"ATXid_1"}}]}}}}"#
            )
        };
        assert_eq!(
            outcome(201, None, body(101, "Success").as_bytes()),
            Delivery::Delivered
        );
        assert_eq!(
            outcome(201, None, body(102, "Queued").as_bytes()),
            Delivery::Delivered
        );
        assert!(matches!(
            outcome(201, None, body(403, "InvalidPhoneNumber").as_bytes()),
            Delivery::Permanent { .. }
        ));
        assert!(matches!(
            outcome(201, None, body(405, "InsufficientBalance").as_bytes()),
            Delivery::Retry { .. }
        ));
        assert!(matches!(
            outcome(
                201,
                None,
                br#"{"SMSMessageData":{"Message":"InvalidPhoneNumber","Recipients":[]}}"#
            ),
            Delivery::Permanent { .. }
        ));
        assert!(matches!(
            outcome(201, None, b"<html>"),
            Delivery::Retry { .. }
        ));
        assert!(matches!(outcome(503, None, b""), Delivery::Retry { .. }));
        assert!(matches!(outcome(401, None, b""), Delivery::Retry { .. }));
        assert!(matches!(
            outcome(400, None, b""),
            Delivery::Permanent { .. }
        ));
        assert_eq!(
            outcome(429, Some(Duration::from_secs(7)), b""),
            Delivery::Retry {
                after: Some(Duration::from_secs(7)),
                error: "Africa's Talking answered 429".into()
            }
        );
    }
}
