//! Sinks: where completed surveys are delivered (one file per kind, one trait). A sink
//! answers each delivery with [`Delivery`]: done, try again later, or never (dead letter).

pub mod file;
pub mod openrosa;
pub mod webhook;

use std::time::Duration;

use serde::Deserialize;

use crate::response::ResponseHead;

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The collector has it (including "already had it": duplicates count as delivered).
    Delivered,
    /// A temporary failure (network, timeout, 408, 429, 5xx): try again, not before `after`
    /// when the collector said so (`Retry-After`).
    Retry {
        after: Option<Duration>,
        error: String,
    },
    /// The collector refused it for good (a 4xx other than 408/429): dead letter.
    Permanent { error: String },
}

impl Delivery {
    /// The same outcome with secrets masked in its error (see [`crate::redact`]).
    pub fn redacted(self, redactor: &crate::redact::Redactor) -> Delivery {
        match self {
            Delivery::Delivered => Delivery::Delivered,
            Delivery::Retry { after, error } => Delivery::Retry {
                after,
                error: redactor.text(&error),
            },
            Delivery::Permanent { error } => Delivery::Permanent {
                error: redactor.text(&error),
            },
        }
    }
}

/// A destination for what an outbox carries (completed surveys, by default).
pub trait Sink<P = ResponseHead>: Send + Sync {
    /// Delivers one item. `body` is its JSON exactly as queued.
    fn deliver(&self, item: &P, body: &[u8]) -> impl Future<Output = Delivery> + Send;
}

/// `[sinks.<name>]` in sauti.toml.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SinkConfig {
    #[serde(flatten)]
    pub kind: SinkKind,
    /// Flows whose responses go to this sink (default: every flow).
    #[serde(default)]
    pub flows: Vec<String>,
    /// No longer a limit (read so that older configurations still load; a warning says it
    /// is ignored): a failing response is retried until it is `max_age_secs` old.
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// How long after it was queued a response that keeps failing (network, 5xx, 429...)
    /// is still retried before it moves to the dead letters (default 7 days).
    #[serde(default = "default_max_age_secs")]
    pub max_age_secs: u64,
    /// A sink failing for longer than this is reported (a WARN line, and
    /// `sauti_sink_failing_seconds` above it).
    #[serde(default = "default_failing_warn_secs")]
    pub failing_warn_secs: u64,
    /// Deliveries in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Most deliveries started per second (0: no limit).
    #[serde(default)]
    pub rate_per_sec: u32,
    /// First retry delay; doubles each attempt (with jitter) up to `backoff_max_ms`.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// Longest a delivery may take.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// After a read that emptied the queue, how long to wait before reading it again, so
    /// that under a peak one read (one fsync, one acknowledgement) takes many responses and
    /// hops come first. A read that finds a backlog is followed at once. 0: read at once.
    #[serde(default = "default_linger_ms")]
    pub linger_ms: u64,
}

fn default_max_age_secs() -> u64 {
    7 * 24 * 3600
}
fn default_failing_warn_secs() -> u64 {
    300
}
fn default_concurrency() -> usize {
    4
}
fn default_backoff_ms() -> u64 {
    1_000
}
fn default_backoff_max_ms() -> u64 {
    300_000
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_linger_ms() -> u64 {
    100
}

impl SinkConfig {
    pub fn new(kind: SinkKind) -> SinkConfig {
        SinkConfig {
            kind,
            flows: Vec::new(),
            max_attempts: None,
            max_age_secs: default_max_age_secs(),
            failing_warn_secs: default_failing_warn_secs(),
            concurrency: default_concurrency(),
            rate_per_sec: 0,
            backoff_ms: default_backoff_ms(),
            backoff_max_ms: default_backoff_max_ms(),
            timeout_ms: default_timeout_ms(),
            linger_ms: default_linger_ms(),
        }
    }

    pub fn wants(&self, flow_id: &str) -> bool {
        self.flows.is_empty() || self.flows.iter().any(|f| f == flow_id)
    }

    /// Everything secret in this sink's configuration (values of `*_env` variables read
    /// through `env`), for [`crate::redact::Redactor`].
    pub fn secrets(&self, env: impl Fn(&str) -> Option<String>) -> Vec<String> {
        let from_env = |var: &Option<String>| var.as_deref().and_then(&env);
        let mut secrets: Vec<Option<String>> = Vec::new();
        let url = match &self.kind {
            SinkKind::Webhook {
                url,
                secret,
                secret_env,
            } => {
                secrets.extend([secret.clone(), from_env(secret_env)]);
                Some(url)
            }
            SinkKind::Openrosa {
                url,
                password,
                password_env,
                token,
                token_env,
                ..
            } => {
                secrets.extend([
                    password.clone(),
                    from_env(password_env),
                    token.clone(),
                    from_env(token_env),
                ]);
                Some(url)
            }
            SinkKind::File { .. } => None,
        };
        let mut all: Vec<String> = secrets.into_iter().flatten().collect();
        if let Some(url) = url {
            all.extend(crate::redact::url_secrets(url));
        }
        all
    }

    /// Masks this sink's secrets in messages about it.
    pub fn redactor(&self) -> crate::redact::Redactor {
        crate::redact::Redactor::new(self.secrets(|var| std::env::var(var).ok()))
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SinkKind {
    /// JSON POST signed with Standard Webhooks headers.
    Webhook {
        url: String,
        /// `whsec_<base64>`; or name an environment variable with `secret_env`.
        #[serde(default)]
        secret: Option<String>,
        #[serde(default)]
        secret_env: Option<String>,
    },
    /// OpenRosa submission (ODK Central, KoBoToolbox).
    Openrosa {
        /// The submission URL, e.g. `https://central.example.org/v1/key/<token>/projects/1/submission`.
        url: String,
        #[serde(default)]
        username: Option<String>,
        #[serde(default)]
        password: Option<String>,
        #[serde(default)]
        password_env: Option<String>,
        /// Sent as `Authorization: Bearer` (Central session) or `Token` (KoBo) per `token_scheme`.
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        token_env: Option<String>,
        #[serde(default = "default_token_scheme")]
        token_scheme: String,
    },
    /// Appends JSON lines to a file (fsynced), once per response id.
    File { path: std::path::PathBuf },
}

impl SinkKind {
    /// What the start-up banner says of a sink: its kind and where it delivers, without
    /// what may be secret in a URL (user, path, query).
    pub fn describe(&self) -> String {
        let origin = |url: &str| {
            reqwest::Url::parse(url).map_or_else(
                |_| "(invalid URL)".into(),
                |u| u.origin().ascii_serialization(),
            )
        };
        match self {
            SinkKind::Webhook { url, .. } => format!("webhook to {}", origin(url)),
            SinkKind::Openrosa { url, .. } => format!("OpenRosa submissions to {}", origin(url)),
            SinkKind::File { path } => format!("file {}", path.display()),
        }
    }
}

fn default_token_scheme() -> String {
    "Bearer".into()
}

/// Every kind of sink, behind one type.
pub enum AnySink {
    Webhook(webhook::WebhookSink),
    OpenRosa(openrosa::OpenRosaSink),
    File(file::FileSink),
}

impl AnySink {
    pub fn build(config: &SinkConfig) -> Result<AnySink, String> {
        Ok(match &config.kind {
            SinkKind::Webhook { .. } => AnySink::Webhook(webhook::WebhookSink::new(config)?),
            SinkKind::Openrosa { .. } => AnySink::OpenRosa(openrosa::OpenRosaSink::new(config)?),
            SinkKind::File { path } => AnySink::File(file::FileSink::new(path.clone())),
        })
    }
}

impl Sink for AnySink {
    async fn deliver(&self, response: &ResponseHead, body: &[u8]) -> Delivery {
        match self {
            AnySink::Webhook(s) => s.deliver(response, body).await,
            AnySink::OpenRosa(s) => s.deliver(response, body).await,
            AnySink::File(s) => s.deliver(response, body).await,
        }
    }
}
