//! Sends the SMS outbox through Africa's Talking's messaging API: each queued line in order,
//! retried with backoff until accepted; how far it got is kept in `sms-outbox.sent`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::outbox::worker::backoff;
use crate::shutdown::Shutdown;
use crate::sms_outbox::QueuedSms;

/// Where and as whom messages are sent (`SAUTI_AT_SMS_URL`, `SAUTI_AT_USERNAME`,
/// `SAUTI_AT_API_KEY`).
#[derive(Clone)]
pub struct SmsApi {
    pub url: String,
    pub username: String,
    /// A secret: never logged.
    pub api_key: String,
}

impl SmsApi {
    /// The API from the environment, when `SAUTI_AT_SMS_URL` is set.
    pub fn from_env() -> Option<SmsApi> {
        let url = std::env::var("SAUTI_AT_SMS_URL").ok()?;
        Some(SmsApi {
            url,
            username: std::env::var("SAUTI_AT_USERNAME").unwrap_or_else(|_| "sandbox".into()),
            api_key: std::env::var("SAUTI_AT_API_KEY").unwrap_or_default(),
        })
    }
}

/// The form Africa's Talking's send API takes for one message (parts joined: the API splits
/// them again as the networks need).
pub fn form(api: &SmsApi, sms: &QueuedSms) -> String {
    let message = sms.parts.concat();
    serde_html_form::to_string([
        ("username", api.username.as_str()),
        ("to", sms.to.as_str()),
        ("message", message.as_str()),
        ("from", sms.from.as_str()),
    ])
    .unwrap_or_default()
}

/// The next complete line of `outbox` at or after byte `from`: the message and where the
/// line after it starts. A torn last line (being written) waits.
fn next_line(outbox: &[u8], from: u64) -> Option<(Option<QueuedSms>, u64)> {
    let rest = outbox.get(from as usize..)?;
    let end = rest.iter().position(|&b| b == b'\n')?;
    // An unreadable line cannot be sent whatever the retries: skipped (and said).
    let sms = serde_json::from_slice(&rest[..end]).ok();
    Some((sms, from + end as u64 + 1))
}

fn progress_path(outbox: &Path) -> PathBuf {
    outbox.with_extension("sent")
}

fn read_progress(outbox: &Path) -> u64 {
    std::fs::read_to_string(progress_path(outbox))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Written beside and renamed over, so that a crash leaves the old offset or the new one
/// (at worst one message sent twice, never one skipped).
fn write_progress(outbox: &Path, sent: u64) -> std::io::Result<()> {
    let path = progress_path(outbox);
    let tmp = path.with_extension("sent.tmp");
    std::fs::write(&tmp, format!("{sent}\n"))?;
    std::fs::rename(&tmp, &path)
}

/// Sends what `outbox` holds, in order, until `shutdown`.
pub async fn run(api: SmsApi, outbox: PathBuf, shutdown: Shutdown) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "SMS sender could not start");
            return;
        }
    };
    let mut sent = read_progress(&outbox);
    let mut attempts: u32 = 0;
    while !shutdown.is_shutdown() {
        let bytes = tokio::fs::read(&outbox).await.unwrap_or_default();
        let Some((sms, next)) = next_line(&bytes, sent) else {
            // Nothing new: look again shortly.
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = shutdown.recv() => return,
            }
            continue;
        };
        let accepted = match &sms {
            None => {
                tracing::error!(offset = sent, "unreadable line in the SMS outbox: skipped");
                true
            }
            Some(sms) => {
                let reply = client
                    .post(&api.url)
                    .header("apiKey", &api.api_key)
                    .header("Accept", "application/json")
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(form(&api, sms))
                    .send()
                    .await;
                match reply {
                    Ok(r) if r.status().is_success() => true,
                    Ok(r) => {
                        tracing::warn!(status = r.status().as_u16(), message = %sms.id, attempts, "SMS not accepted; retrying");
                        false
                    }
                    Err(e) => {
                        // Without the URL: it may carry credentials.
                        tracing::warn!(error = %e.without_url(), message = %sms.id, attempts, "SMS not sent; retrying");
                        false
                    }
                }
            }
        };
        if accepted {
            sent = next;
            attempts = 0;
            if let Err(e) = write_progress(&outbox, sent) {
                tracing::error!(error = %e, "could not record SMS sending progress");
            }
            continue;
        }
        attempts += 1;
        let delay = backoff(
            attempts,
            Duration::from_millis(200),
            Duration::from_secs(60),
            0.5,
        );
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.recv() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_taken_whole_and_in_order() {
        let line = r#"{"id":"a","to":"+243810000001","from":"20880","parts":["Bon","jour"]}"#;
        let outbox = format!("{line}\n{line}\n{{\"torn");
        let (first, next) = next_line(outbox.as_bytes(), 0).unwrap();
        assert_eq!(first.unwrap().parts.concat(), "Bonjour");
        let (_, after) = next_line(outbox.as_bytes(), next).unwrap();
        assert_eq!(next_line(outbox.as_bytes(), after), None);
        let api = SmsApi {
            url: String::new(),
            username: "sandbox".into(),
            api_key: "k".into(),
        };
        let (sms, _) = next_line(outbox.as_bytes(), 0).unwrap();
        assert_eq!(
            form(&api, &sms.unwrap()),
            "username=sandbox&to=%2B243810000001&message=Bonjour&from=20880"
        );
    }
}
