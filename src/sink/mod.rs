//! Sinks: where completed surveys are delivered (one file per kind, one trait). A sink
//! answers each delivery with [`Delivery`]: done, try again later, or never (dead letter).

pub mod file;
pub mod openrosa;
pub mod webhook;

use std::time::Duration;

use serde::Deserialize;

use crate::response::Response;

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

/// A destination for completed surveys.
pub trait Sink: Send + Sync {
    /// Delivers one response. `body` is the response's JSON exactly as queued.
    fn deliver(&self, response: &Response, body: &[u8]) -> impl Future<Output = Delivery> + Send;
}

/// `[sinks.<name>]` in sauti.toml.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SinkConfig {
    #[serde(flatten)]
    pub kind: SinkKind,
    /// Flows whose responses go to this sink (default: every flow).
    #[serde(default)]
    pub flows: Vec<String>,
    /// Attempts before a response moves to the dead letters.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
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
}

fn default_max_attempts() -> u32 {
    8
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

impl SinkConfig {
    pub fn new(kind: SinkKind) -> SinkConfig {
        SinkConfig {
            kind,
            flows: Vec::new(),
            max_attempts: default_max_attempts(),
            concurrency: default_concurrency(),
            rate_per_sec: 0,
            backoff_ms: default_backoff_ms(),
            backoff_max_ms: default_backoff_max_ms(),
            timeout_ms: default_timeout_ms(),
        }
    }

    pub fn wants(&self, flow_id: &str) -> bool {
        self.flows.is_empty() || self.flows.iter().any(|f| f == flow_id)
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
    async fn deliver(&self, response: &Response, body: &[u8]) -> Delivery {
        match self {
            AnySink::Webhook(s) => s.deliver(response, body).await,
            AnySink::OpenRosa(s) => s.deliver(response, body).await,
            AnySink::File(s) => s.deliver(response, body).await,
        }
    }
}
