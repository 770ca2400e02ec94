//! `sauti.toml`: every setting of `sauti serve`, with defaults that run on one machine with
//! nothing else installed. Command-line flags and `SAUTI_*` variables override the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use std::sync::Arc;

use crate::audio::AudioCatalogue;
use crate::channel::{Channel, RenderSettings};
use crate::gateway::auth::{AuthConfig, GatewayAuth};
use crate::gateway::generic::GenericSettings;
use crate::gateway::generic_sms::GenericSmsSettings;
use crate::gateway::{AdapterSettings, ConfiguredGateway};
use crate::limits::Rate;
use crate::phone::PhoneNumbers;
use crate::problem::Problem;
use crate::render::Budget;
use crate::render::voice::{TtsVoice, VoiceSettings};
use crate::session::RedisConfig;
use crate::sink::{SinkConfig, SinkKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Local use: a pseudonym key is generated and kept in the data directory if none is set.
    Dev,
    /// Production: refuses to start without an explicit pseudonym key.
    Prod,
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "dev" => Ok(Profile::Dev),
            "prod" => Ok(Profile::Prod),
            _ => Err(format!("unknown profile `{s}` (dev or prod)")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("unknown log format `{s}` (text or json)")),
        }
    }
}

/// Flags of `serve`, `deliver` and `outbox`; each overrides `sauti.toml`, and each has a
/// `SAUTI_*` variable.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// Configuration file (default: ./sauti.toml when it exists).
    #[arg(long, global = true, env = "SAUTI_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080; port 0 picks a free port).
    #[arg(long, global = true, env = "SAUTI_LISTEN")]
    pub listen: Option<String>,
    /// Directory of flows (default flows).
    #[arg(long, global = true, env = "SAUTI_FLOWS")]
    pub flows: Option<PathBuf>,
    /// Directory of translations (default locales).
    #[arg(long, global = true, env = "SAUTI_LOCALES")]
    pub locales: Option<PathBuf>,
    /// Where responses are written (default data).
    #[arg(long, global = true, env = "SAUTI_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// dev or prod; prod refuses to start without a pseudonym key.
    #[arg(long, global = true, env = "SAUTI_PROFILE")]
    pub profile: Option<Profile>,
    /// Log format: text or json.
    #[arg(long, global = true, env = "SAUTI_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Session time-to-live in seconds (default 180).
    #[arg(long, global = true, env = "SAUTI_SESSION_TTL_SECS")]
    pub session_ttl_secs: Option<u64>,
    /// Keep sessions in Redis: redis://host:6379, rediss://... (TLS),
    /// redis+cluster://host1:6379,host2:6379 (default: in memory).
    #[arg(long, global = true, env = "SAUTI_REDIS_URL")]
    pub redis: Option<String>,
    /// First part of every Redis key (default sauti).
    #[arg(long, global = true, env = "SAUTI_REDIS_KEY_PREFIX")]
    pub redis_key_prefix: Option<String>,
    /// Deliver every flow's responses to this URL too (a webhook sink named `webhook`,
    /// signed with the secret in SAUTI_WEBHOOK_SECRET).
    #[arg(long, global = true, env = "SAUTI_WEBHOOK_URL")]
    pub webhook: Option<String>,
    /// Sauti's public base URL, as gateways call it (voice callbacks and Twilio signatures;
    /// default: the address it listens on).
    #[arg(long, global = true, env = "SAUTI_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Directory of recorded voice prompts, `<lang>/<message-id>.wav` (default audio).
    #[arg(long, global = true, env = "SAUTI_AUDIO")]
    pub audio: Option<PathBuf>,
    /// Serve the browser simulator at /simulator (`--simulator`, `--simulator=false`;
    /// default: on in the dev profile, off in prod).
    #[arg(long, global = true, env = "SAUTI_SIMULATOR", num_args = 0..=1, default_missing_value = "true")]
    pub simulator: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GatewayKind {
    /// Africa's Talking USSD.
    Africastalking,
    /// Hubtel Programmable Services (JSON).
    Hubtel,
    /// Hubtel's legacy USSD API (JSON).
    HubtelLegacy,
    /// Comviva "Flares" Freeflow (Airtel).
    ComvivaFreeflow,
    /// A configurable CON/END gateway (`[gateway.generic]`).
    Generic,
    /// Infobip-style JSON sessions.
    Infobip,
    /// Nalo-style JSON.
    Nalo,
    /// Africa's Talking Voice.
    AfricastalkingVoice,
    /// Twilio Programmable Voice.
    Twilio,
    /// Africa's Talking inbound SMS.
    AfricastalkingSms,
    /// A configurable HTTP SMS gateway (`[gateway.generic_sms]`).
    GenericSms,
}

/// A gateway instance, served at `POST /<channel>/<name>`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// The wire protocol (`adapter` in `[[gateway]]`, `kind` in `[gateways.<name>]`).
    #[serde(alias = "kind")]
    pub adapter: GatewayKind,
    /// Its name in routes, sessions and responses (default: the table's name). Gateways of
    /// different channels may share one (`/ussd/africastalking`, `/voice/africastalking`).
    #[serde(default)]
    pub name: Option<String>,
    /// Another path it is served at besides `/<channel>/<name>` (`/ussd/airtel-cd`).
    #[serde(default)]
    pub path: Option<String>,
    /// `budget = 160` (septets) or `{ gsm7_septets = 160, ucs2_chars = 70 }`.
    #[serde(default, deserialize_with = "budget")]
    pub budget: Budget,
    /// Who may call it (see docs/security.md).
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// The settings of a `generic` gateway: its field names, input and replies.
    #[serde(default)]
    pub generic: Option<GenericSettings>,
    /// The settings of a `generic-sms` gateway: its field names, and how to send through it.
    #[serde(default)]
    pub generic_sms: Option<GenericSmsSettings>,
    /// New sessions it may open per second (`{ per_sec = 200, burst = 400 }`; default: no cap).
    #[serde(default)]
    pub new_sessions: Option<Rate>,
    /// Life of this gateway's sessions after their last hop (default: `session_ttl_secs`
    /// for USSD gateways, `[voice] session_ttl_secs` for voice ones).
    #[serde(default)]
    pub session_ttl_secs: Option<u64>,
    /// Text-to-speech voices of this gateway by language (default: `[voice.tts]`).
    #[serde(default)]
    pub tts: Option<BTreeMap<String, String>>,
    /// The variable holding its auth token (Twilio; default `SAUTI_TWILIO_AUTH_TOKEN`).
    #[serde(default)]
    pub auth_token_env: Option<String>,
    /// The country of its networks (ISO 3166, `CD`): numbers sent without a country code are
    /// read as numbers of it (default: the top-level `country`).
    #[serde(default)]
    pub country: Option<String>,
}

/// A budget as a number of septets (UCS-2 screens keep at most 80 characters) or a table.
fn budget<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Budget, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Septets(u32),
        Table(Budget),
    }
    Ok(match Either::deserialize(d)? {
        Either::Septets(n) => Budget {
            gsm7_septets: n,
            ucs2_chars: n.min(Budget::default().ucs2_chars),
        },
        Either::Table(b) => b,
    })
}

impl GatewayConfig {
    fn of(adapter: GatewayKind, name: Option<&str>) -> GatewayConfig {
        GatewayConfig {
            adapter,
            name: name.map(str::to_owned),
            path: None,
            auth: None,
            generic: None,
            generic_sms: None,
            new_sessions: None,
            budget: Budget::default(),
            session_ttl_secs: None,
            tts: None,
            auth_token_env: None,
            country: None,
        }
    }
}

/// The gateways that exist unless the configuration defines them otherwise: (table, kind,
/// served name).
pub const DEFAULT_GATEWAYS: &[(&str, GatewayKind, &str)] = &[
    (
        "africastalking",
        GatewayKind::Africastalking,
        "africastalking",
    ),
    (
        "africastalking-voice",
        GatewayKind::AfricastalkingVoice,
        "africastalking",
    ),
    ("twilio", GatewayKind::Twilio, "twilio"),
    // No SMS gateway by default: existing deployments would have to authenticate a route
    // they never asked for (and replies cost money). It is declared with `[[gateway]]`.
];

/// The name of the USSD gateway that exists unless the configuration defines it otherwise.
pub const DEFAULT_GATEWAY: &str = "africastalking";

/// `[otlp]`: where the spans of hops are exported (OpenTelemetry over HTTP/protobuf).
/// Absent (and no `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT` in the environment): no export.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpConfig {
    /// The collector's base URL (`http://collector:4318`; `/v1/traces` is added), or the full
    /// traces URL when it already has a path.
    pub endpoint: Option<String>,
    /// Sent with every export (an `authorization` token): secrets, never logged.
    pub headers: BTreeMap<String, String>,
    pub service_name: String,
    /// The share of hops traced (0.0 to 1.0), decided per hop.
    pub sample_ratio: f64,
    pub timeout_ms: u64,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            endpoint: None,
            headers: BTreeMap::new(),
            service_name: "sauti".into(),
            sample_ratio: 1.0,
            timeout_ms: 10_000,
        }
    }
}

/// `[voice]`: how calls are spoken and heard.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceConfig {
    /// Text-to-speech voice per language (`fr = "Polly.Lea"`). A language without one is
    /// spoken only from recordings, never by another language's voice.
    pub tts: BTreeMap<String, String>,
    /// Where gateways fetch the recordings (a CDN); default `<public_url>/audio`.
    pub audio_url: Option<String>,
    pub key_timeout_secs: u16,
    pub typed_timeout_secs: u16,
    pub max_record_secs: u16,
    pub record_timeout_secs: u16,
    /// Times a question is asked again when nothing is pressed, before a goodbye.
    pub no_input_retries: u8,
    /// Life of a call's session after its last request.
    pub session_ttl_secs: u64,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        let d = VoiceSettings::default();
        VoiceConfig {
            tts: BTreeMap::new(),
            audio_url: None,
            key_timeout_secs: d.key_timeout_secs,
            typed_timeout_secs: d.typed_timeout_secs,
            max_record_secs: d.max_record_secs,
            record_timeout_secs: d.record_timeout_secs,
            no_input_retries: d.no_input_retries,
            session_ttl_secs: 600,
        }
    }
}

/// `[sms]`: how conversations by text message start and how long they wait for an answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// Life of an SMS conversation after its last message (a day: people answer later).
    pub session_ttl_secs: u64,
    /// `[sms.keywords]`: `KUFATILIA = { flow = "kufatilia" }`, `RIPOTI = { flow = "kufatilia",
    /// lang = "sw" }`; matched whatever the case, accents and blanks.
    pub keywords: BTreeMap<String, crate::channel::sms::KeywordTarget>,
    /// `[sms.send]`: the API replies are sent through, and how.
    pub send: SmsSendConfig,
    /// Messages one number may send (per second, burst): past it a message gets no reply and
    /// changes nothing (a flood costs replies, and could drown a real respondent's answers).
    pub respondent_rate: Rate,
    /// Messages Sauti sends in one conversation (a keyword starting again does not reset
    /// it): past it, the conversation gets no more replies until it expires.
    pub max_messages_per_session: std::num::NonZeroU16,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            session_ttl_secs: 24 * 60 * 60,
            keywords: crate::channel::sms::default_keywords(),
            send: SmsSendConfig::default(),
            // A person answers a question every few seconds at best; the burst (a whole
            // survey) absorbs messages a network delivers together after a delay.
            respondent_rate: Rate {
                per_sec: 0.2,
                burst: 20.0,
            },
            // Kufatilia is about 15 messages with a few wrong answers: 60 is four surveys.
            max_messages_per_session: std::num::NonZeroU16::new(60).expect("not zero"),
        }
    }
}

/// `[sms.send]`: Africa's Talking's messaging API (each value may come from the
/// environment instead: `SAUTI_AT_SMS_URL`, `SAUTI_AT_USERNAME`, `SAUTI_AT_API_KEY`), and
/// the delivery settings of the SMS outbox.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsSendConfig {
    /// e.g. `https://api.africastalking.com/version1/messaging` (none: nothing is sent,
    /// replies wait in the outbox).
    pub url: Option<String>,
    pub username: Option<String>,
    /// A secret: prefer `SAUTI_AT_API_KEY`.
    pub api_key: Option<String>,
    /// Messages in flight at once.
    pub concurrency: usize,
    /// Most messages started per second (0: no limit).
    pub rate_per_sec: u32,
    /// First retry delay, doubling up to `backoff_max_ms`.
    pub backoff_ms: u64,
    pub backoff_max_ms: u64,
    /// A message still failing this long after it was queued goes to the dead letters (a
    /// question a day late is still worth sending; older, it would only confuse).
    pub max_age_secs: u64,
    pub timeout_ms: u64,
    /// The outbox file is compacted (sent messages dropped) past this size.
    pub compact_bytes: u64,
}

impl Default for SmsSendConfig {
    fn default() -> Self {
        SmsSendConfig {
            url: None,
            username: None,
            api_key: None,
            concurrency: 4,
            rate_per_sec: 0,
            backoff_ms: 200,
            backoff_max_ms: 60_000,
            max_age_secs: 24 * 60 * 60,
            timeout_ms: 10_000,
            compact_bytes: 1024 * 1024,
        }
    }
}

impl SmsSendConfig {
    /// The API to send through, when a URL is configured.
    pub fn api(&self) -> Option<crate::sms_sender::SmsApi> {
        Some(crate::sms_sender::SmsApi {
            url: self.url.clone()?,
            username: self.username.clone().unwrap_or_else(|| "sandbox".into()),
            api_key: self.api_key.clone().unwrap_or_default(),
        })
    }

    /// The outbox worker's settings (a webhook to the API, for what the worker needs of it:
    /// its pacing, retries, and the secrets to mask in its errors).
    pub fn delivery(&self) -> SinkConfig {
        let mut sink = SinkConfig::new(SinkKind::Webhook {
            url: self.url.clone().unwrap_or_default(),
            secret: self.api_key.clone(),
            secret_env: None,
        });
        sink.concurrency = self.concurrency.max(1);
        sink.rate_per_sec = self.rate_per_sec;
        sink.backoff_ms = self.backoff_ms;
        sink.backoff_max_ms = self.backoff_max_ms;
        sink.max_age_secs = self.max_age_secs;
        sink.timeout_ms = self.timeout_ms;
        sink
    }
}

/// The language tag a text-to-speech engine expects for one of Sauti's language codes.
pub fn tts_language(lang: &str) -> String {
    match lang {
        "fr" => "fr-FR",
        "en" => "en-US",
        "sw" => "sw-KE",
        "ln" => "ln-CD",
        other => other,
    }
    .to_owned()
}

/// Intervals refused at load with their line: a summary interval past a day would be no
/// summary, and a huge one overflows the clock (a panic); a sink lingering past a minute
/// would look like a sink that stopped.
fn check_intervals(path: &Path, source: &str, c: &Config) -> Result<(), Problem> {
    // Where `key` is set, after the `[section]` header when there is one.
    let at = |section: Option<&str>, key: &str| {
        let from = section.and_then(|h| source.find(h)).unwrap_or(0);
        source[from..].find(key).map_or(0, |i| from + i)
    };
    if c.activity_log_secs > MAX_ACTIVITY_LOG_SECS {
        return Err(Problem::at(
            path,
            source,
            at(None, "activity_log_secs"),
            format!(
                "activity_log_secs must be at most {MAX_ACTIVITY_LOG_SECS} (a day); 0 turns the summary off"
            ),
        ));
    }
    if let Some((name, _)) = c.sinks.iter().find(|(_, s)| s.linger_ms > MAX_LINGER_MS) {
        return Err(Problem::at(
            path,
            source,
            at(Some(&format!("[sinks.{name}]")), "linger_ms"),
            format!("sink `{name}`: linger_ms must be at most {MAX_LINGER_MS} (a minute)"),
        ));
    }
    Ok(())
}

/// `[sinks.<name>]` is read through a tagged enum, which cannot refuse unknown fields: check
/// them here, so that a misspelt `max_attemps` is an error, not a silent default.
fn check_sink_fields(path: &Path, source: &str) -> Result<(), Problem> {
    const COMMON: &[&str] = &[
        "kind",
        "flows",
        "max_attempts",
        "max_age_secs",
        "failing_warn_secs",
        "concurrency",
        "rate_per_sec",
        "backoff_ms",
        "backoff_max_ms",
        "timeout_ms",
        "linger_ms",
    ];
    let table: toml::Table =
        toml::from_str(source).map_err(|e| Problem::new(path, 0, 0, e.message().to_owned()))?;
    let Some(sinks) = table.get("sinks").and_then(|s| s.as_table()) else {
        return Ok(());
    };
    for (name, sink) in sinks {
        let Some(sink) = sink.as_table() else {
            continue;
        };
        let own: &[&str] = match sink.get("kind").and_then(|k| k.as_str()) {
            Some("webhook") => &["url", "secret", "secret_env"],
            Some("openrosa") => &[
                "url",
                "username",
                "password",
                "password_env",
                "token",
                "token_env",
                "token_scheme",
            ],
            Some("file") => &["path"],
            _ => continue, // serde already named the missing or unknown kind
        };
        for key in sink.keys() {
            if !COMMON.contains(&key.as_str()) && !own.contains(&key.as_str()) {
                let header = format!("[sinks.{name}]");
                let from = source.lines().position(|l| l.trim() == header).unwrap_or(0);
                let line = source
                    .lines()
                    .enumerate()
                    .skip(from)
                    .find(|(_, l)| l.trim_start().starts_with(key.as_str()) && l.contains('='))
                    .map_or(0, |(i, _)| i + 1);
                return Err(Problem::new(
                    path,
                    line,
                    0,
                    format!("sink `{name}`: unknown field `{key}`; see docs/delivery.md"),
                ));
            }
        }
    }
    Ok(())
}

/// The longest interval of the `info` traffic summary.
const MAX_ACTIVITY_LOG_SECS: u64 = 24 * 3600;
/// The longest a sink may wait between reads of its queue.
const MAX_LINGER_MS: u64 = 60_000;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: String,
    pub flows: PathBuf,
    pub locales: PathBuf,
    pub data_dir: PathBuf,
    pub profile: Profile,
    pub pseudonym_key: Option<String>,
    pub log_format: LogFormat,
    /// A `RUST_LOG`-style filter; the `RUST_LOG` variable wins when set.
    pub log: String,
    /// How often `info` sums up the traffic in one line (0: never).
    pub activity_log_secs: u64,
    /// Life of a USSD session after its last hop; a little longer than the network's own
    /// timeout. A gateway may set its own (`[gateways.<name>] session_ttl_secs`).
    pub session_ttl_secs: u64,
    /// How long an unfinished survey can be resumed by the same respondent.
    pub resume_window_secs: u64,
    /// How often to look for surveys abandoned past their resume window (partial responses).
    pub partials_sweep_secs: u64,
    /// How often to look for changed flows and translations (0: only on SIGHUP).
    pub reload_poll_secs: u64,
    /// Redis mode: a response another process took for delivery and has not touched for this
    /// long is taken over (that process stopped).
    pub reclaim_idle_secs: u64,
    /// Embedded mode: once `responses.jsonl` holds this many bytes, the responses every sink
    /// has delivered are taken out of it (0: never). Not when a file sink writes that file.
    pub journal_compact_bytes: u64,
    pub max_sessions: usize,
    pub max_body_bytes: usize,
    pub header_timeout_secs: u64,
    pub body_timeout_secs: u64,
    pub shutdown_grace_secs: u64,
    pub max_connections: usize,
    /// Requests served at once; more are shed at once with 503 (a flood must not queue up).
    pub max_in_flight: usize,
    /// Hops one respondent may make (per second, burst): more get a polite "try later".
    pub respondent_rate: Rate,
    pub gateways: BTreeMap<String, GatewayConfig>,
    /// `[[gateway]]` entries (each with a `name`), merged into `gateways` when loaded.
    #[serde(rename = "gateway")]
    pub gateway_list: Vec<GatewayConfig>,
    /// The country of the gateways' networks (ISO 3166): numbers without a country code are
    /// read as numbers of it before they are pseudonymised.
    pub country: String,
    /// Sauti's public base URL as gateways call it (default: the address it listens on).
    pub public_url: Option<String>,
    /// Directory of recorded voice prompts.
    pub audio: PathBuf,
    pub voice: VoiceConfig,
    /// `[sms]`: conversations by text message.
    pub sms: SmsConfig,
    pub otlp: OtlpConfig,
    /// Sessions in Redis when `redis.url` is set; in memory otherwise.
    pub redis: RedisConfig,
    /// Where completed surveys are delivered (default: the JSONL file in the data directory).
    pub sinks: BTreeMap<String, SinkConfig>,
    /// The browser simulator at `/simulator` (default: on in the dev profile only).
    pub simulator: Option<bool>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            flows: "flows".into(),
            locales: "locales".into(),
            data_dir: "data".into(),
            profile: Profile::Dev,
            pseudonym_key: None,
            log_format: LogFormat::Text,
            log: "info".into(),
            activity_log_secs: 60,
            session_ttl_secs: 180,
            resume_window_secs: 48 * 3600,
            reload_poll_secs: 10,
            partials_sweep_secs: 60,
            reclaim_idle_secs: 60,
            journal_compact_bytes: 64 << 20,
            max_sessions: 200_000,
            max_body_bytes: 8 * 1024,
            header_timeout_secs: 10,
            body_timeout_secs: 10,
            shutdown_grace_secs: 10,
            max_connections: 4096,
            max_in_flight: 1024,
            // No person types faster than this; a gateway that sends it is looping or spoofing.
            respondent_rate: Rate {
                per_sec: 5.0,
                burst: 100.0,
            },
            gateways: BTreeMap::new(),
            gateway_list: Vec::new(),
            country: "CD".into(),
            public_url: None,
            audio: "audio".into(),
            voice: VoiceConfig::default(),
            sms: SmsConfig::default(),
            otlp: OtlpConfig::default(),
            redis: RedisConfig::default(),
            sinks: BTreeMap::new(),
            simulator: None,
        }
    }
}

impl Config {
    /// Reads `path` (an error if it is missing), or `./sauti.toml` if it exists, or the
    /// defaults. The Africa's Talking gateway is added when no gateway has its name.
    pub fn load(path: Option<&Path>) -> Result<Config, Problem> {
        let default_path = Path::new("sauti.toml");
        let path = match path {
            Some(p) => Some(p),
            None if default_path.exists() => Some(default_path),
            None => None,
        };
        let mut config = match path {
            None => Config::default(),
            Some(p) => {
                let source = std::fs::read_to_string(p)
                    .map_err(|e| Problem::new(p, 0, 0, format!("cannot read: {e}")))?;
                let config = toml::from_str::<Config>(&source).map_err(|e| {
                    let offset = e.span().map_or(0, |s| s.start);
                    Problem::at(p, &source, offset, e.message().trim().replace('\n', " "))
                })?;
                check_sink_fields(p, &source)?;
                check_intervals(p, &source, &config)?;
                config
            }
        };
        let p = path.unwrap_or(default_path);
        if !(0.0..=1.0).contains(&config.otlp.sample_ratio) {
            return Err(Problem::new(
                p,
                0,
                0,
                "[otlp] sample_ratio must be between 0.0 and 1.0",
            ));
        }
        for g in std::mem::take(&mut config.gateway_list) {
            let Some(name) = g.name.clone() else {
                return Err(Problem::new(p, 0, 0, "every [[gateway]] needs a `name`"));
            };
            let key = format!("{name}/{}", channel_of(g.adapter).name());
            config.gateways.insert(key, g);
        }
        for (table, kind, name) in DEFAULT_GATEWAYS {
            let taken = config.gateways.iter().any(|(t, g)| {
                t == table
                    || (g.name.as_deref().unwrap_or(t) == *name
                        && channel_of(g.adapter) == channel_of(*kind))
            });
            if !taken {
                let served = (table != name).then_some(*name);
                config
                    .gateways
                    .insert((*table).into(), GatewayConfig::of(*kind, served));
            }
        }
        for (table, g) in &config.gateways {
            let misplaced = (g.generic.is_some() && g.adapter != GatewayKind::Generic)
                || (g.generic_sms.is_some() && g.adapter != GatewayKind::GenericSms);
            if misplaced {
                return Err(Problem::new(
                    p,
                    0,
                    0,
                    format!(
                        "gateway `{table}`: `generic` settings are for adapter = \"generic\", \
                         `generic_sms` ones for adapter = \"generic-sms\""
                    ),
                ));
            }
        }
        for country in std::iter::once(&config.country)
            .chain(config.gateways.values().filter_map(|g| g.country.as_ref()))
        {
            PhoneNumbers::new(Some(country)).map_err(|e| Problem::new(p, 0, 0, e))?;
        }
        let mut served: Vec<(Channel, &str)> = Vec::new();
        for (table, g) in &config.gateways {
            let key = (channel_of(g.adapter), g.name.as_deref().unwrap_or(table));
            if served.contains(&key) {
                return Err(Problem::new(
                    p,
                    0,
                    0,
                    format!(
                        "gateway `{table}`: another {} gateway is already named `{}`",
                        key.0.name(),
                        key.1
                    ),
                ));
            }
            served.push(key);
        }
        Ok(config)
    }

    /// The base URL gateways call Sauti at: `public_url`, else the address it listens on.
    pub fn public_url(&self, listening: Option<std::net::SocketAddr>) -> String {
        match (&self.public_url, listening) {
            (Some(u), _) => u.trim_end_matches('/').to_owned(),
            (None, Some(addr)) => format!("http://{addr}"),
            (None, None) => format!("http://{}", self.listen),
        }
    }

    /// Where gateways fetch recordings: `[voice] audio_url`, else `<public_url>/audio`.
    pub fn audio_url(&self, public_url: &str) -> String {
        self.voice.audio_url.as_deref().map_or_else(
            || format!("{public_url}/audio"),
            |u| u.trim_end_matches('/').to_owned(),
        )
    }

    /// How voice gateways speak: `tts` voices, the recordings of `catalogue`.
    pub fn voice_settings(
        &self,
        tts: &BTreeMap<String, String>,
        catalogue: Arc<AudioCatalogue>,
    ) -> VoiceSettings {
        let v = &self.voice;
        VoiceSettings {
            tts: tts
                .iter()
                .filter(|(_, voice)| !voice.trim().is_empty())
                .map(|(lang, voice)| {
                    (
                        lang.clone(),
                        Arc::new(TtsVoice {
                            voice: voice.trim().to_owned(),
                            language: tts_language(lang),
                        }),
                    )
                })
                .collect(),
            catalogue,
            key_timeout_secs: v.key_timeout_secs,
            typed_timeout_secs: v.typed_timeout_secs,
            max_record_secs: v.max_record_secs,
            record_timeout_secs: v.record_timeout_secs,
            no_input_retries: v.no_input_retries,
            ..VoiceSettings::default()
        }
    }

    /// Every configured gateway with its adapter and its channel's settings; voice gateways
    /// call back `public_url` and play the recordings of `catalogue`.
    pub fn configured_gateways(
        &self,
        public_url: &str,
        catalogue: Arc<AudioCatalogue>,
    ) -> Result<Vec<ConfiguredGateway>, String> {
        self.gateways
            .iter()
            .map(|(table, g)| {
                let name = g.name.clone().unwrap_or_else(|| table.clone());
                let token_env = g
                    .auth_token_env
                    .as_deref()
                    .unwrap_or("SAUTI_TWILIO_AUTH_TOKEN");
                let settings = AdapterSettings {
                    name: name.clone(),
                    public_url: public_url.to_owned(),
                    auth_token: std::env::var(token_env).ok(),
                    generic: g.generic.clone(),
                    generic_sms: g.generic_sms.clone(),
                };
                if g.adapter == GatewayKind::Twilio && settings.auth_token.is_none() {
                    tracing::warn!(gateway = %name, variable = token_env, "no Twilio auth token: every request to this gateway will be refused (403)");
                }
                let adapter = crate::gateway::adapter(g.adapter, &settings);
                let default_ttl = match adapter.channel() {
                    Channel::Ussd => Duration::from_secs(self.session_ttl_secs),
                    Channel::Voice => Duration::from_secs(self.voice.session_ttl_secs),
                    Channel::Sms => Duration::from_secs(self.sms.session_ttl_secs),
                };
                let tts = g.tts.as_ref().unwrap_or(&self.voice.tts);
                let country = g.country.as_deref().unwrap_or(&self.country);
                let numbers =
                    PhoneNumbers::new(Some(country)).expect("countries are checked when loaded");
                let auth = GatewayAuth::new(g.auth.as_ref(), g.adapter == GatewayKind::Twilio)
                    .map_err(|e| format!("gateway `{name}`: {e}"))?;
                Ok(ConfiguredGateway {
                    new_sessions: Arc::new(crate::limits::Limiter::new(
                        g.new_sessions.unwrap_or(Rate::UNLIMITED),
                    )),
                    name,
                    path: g.path.clone(),
                    auth,
                    numbers,
                    adapter,
                    render: RenderSettings {
                        budget: g.budget,
                        voice: Arc::new(self.voice_settings(tts, catalogue.clone())),
                        sms: Arc::new(crate::channel::sms::SmsSettings::new(
                            self.sms.keywords.clone(),
                        )),
                    },
                    session_ttl: g.session_ttl_secs.map_or(default_ttl, Duration::from_secs),
                })
            })
            .collect()
    }

    /// The longest any configured gateway keeps a session.
    pub fn longest_session_ttl(&self) -> Duration {
        self.gateways
            .values()
            .map(|g| {
                let default = match channel_of(g.adapter) {
                    Channel::Ussd => self.session_ttl_secs,
                    Channel::Voice => self.voice.session_ttl_secs,
                    Channel::Sms => self.sms.session_ttl_secs,
                };
                Duration::from_secs(g.session_ttl_secs.unwrap_or(default))
            })
            .max()
            .unwrap_or(Duration::from_secs(self.session_ttl_secs))
    }

    /// [`Config::load`] of `overrides.config`, then [`Config::apply`].
    pub fn resolve(overrides: &Overrides) -> Result<Config, Problem> {
        let mut c = Config::load(overrides.config.as_deref())?;
        c.apply(overrides);
        Ok(c)
    }

    /// Applies the command-line flags and `SAUTI_*` variables; adds the embedded default
    /// `file` sink when no sink is configured, the `--webhook` sink, and
    /// `SAUTI_PSEUDONYM_KEY`.
    pub fn apply(&mut self, o: &Overrides) {
        if let Some(v) = &o.listen {
            self.listen = v.clone();
        }
        if let Some(v) = &o.flows {
            self.flows = v.clone();
        }
        if let Some(v) = &o.locales {
            self.locales = v.clone();
        }
        if let Some(v) = &o.data_dir {
            self.data_dir = v.clone();
        }
        if let Some(v) = o.profile {
            self.profile = v;
        }
        if let Some(v) = o.log_format {
            self.log_format = v;
        }
        if let Some(v) = o.session_ttl_secs {
            self.session_ttl_secs = v;
        }
        if let Some(v) = &o.redis {
            self.redis.url = v.clone();
        }
        if let Some(v) = &o.public_url {
            self.public_url = Some(v.clone());
        }
        if let Some(v) = &o.audio {
            self.audio = v.clone();
        }
        if let Some(v) = o.simulator {
            self.simulator = Some(v);
        }
        if let Some(v) = &o.redis_key_prefix {
            self.redis.key_prefix = v.clone();
        }
        if self.sinks.is_empty() {
            // The embedded default: every response in the data directory's JSONL file.
            let mut file = SinkConfig::new(SinkKind::File {
                path: self.data_dir.join("responses.jsonl"),
            });
            // Appends share fsyncs: many in flight make one fsync serve many responses.
            file.concurrency = 64;
            self.sinks.insert("file".into(), file);
        }
        if let Some(url) = &o.webhook {
            self.sinks.insert(
                "webhook".into(),
                SinkConfig::new(SinkKind::Webhook {
                    url: url.clone(),
                    secret: None,
                    secret_env: Some("SAUTI_WEBHOOK_SECRET".into()),
                }),
            );
        }
        if let Ok(key) = std::env::var("SAUTI_PSEUDONYM_KEY") {
            self.pseudonym_key = Some(key);
        }
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(url) = env("SAUTI_AT_SMS_URL") {
            self.sms.send.url = Some(url);
        }
        if let Some(username) = env("SAUTI_AT_USERNAME") {
            self.sms.send.username = Some(username);
        }
        if let Some(key) = env("SAUTI_AT_API_KEY") {
            self.sms.send.api_key = Some(key);
        }
    }

    /// Whether `/simulator` is served: as configured, else only in the dev profile (a
    /// production server shows nothing it was not told to).
    pub fn simulator_enabled(&self) -> bool {
        self.simulator.unwrap_or(self.profile == Profile::Dev)
    }

    /// Whether responses go through Redis (sessions and outbox) rather than this machine.
    pub fn uses_redis(&self) -> bool {
        !self.redis.url.trim().is_empty()
    }
}

/// The channel a gateway kind serves.
pub fn channel_of(kind: GatewayKind) -> Channel {
    match kind {
        GatewayKind::Africastalking
        | GatewayKind::Hubtel
        | GatewayKind::HubtelLegacy
        | GatewayKind::ComvivaFreeflow
        | GatewayKind::Generic
        | GatewayKind::Infobip
        | GatewayKind::Nalo => Channel::Ussd,
        GatewayKind::AfricastalkingVoice | GatewayKind::Twilio => Channel::Voice,
        GatewayKind::AfricastalkingSms | GatewayKind::GenericSms => Channel::Sms,
    }
}
