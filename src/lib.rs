//! Sauti: a USSD and voice IVR survey engine.
//!
//! # Layout
//! A hop, from the wire in: [`server`] (HTTP) → [`gateway`] (decode the wire format into an
//! [`gateway::Inbound`]) → [`survey`] (route by address, load the session) → [`channel`] (its
//! own keys, e.g. USSD page turns) → [`engine`] (pure: state + input → state, then a
//! channel-neutral [`engine::View`]) → [`render`] (the view as a USSD screen) → gateway (encode).
//!
//! - [`flow`]: TOML flows, loaded and checked once into an indexed [`flow::CompiledFlow`];
//!   [`flow::LiveFlows`] is the reloadable set a server routes by.
//! - [`question`]: one file per question kind; each parses an input into an answer.
//! - [`i18n`]: Fluent translations per language, language tags and fallback chains.
//! - [`gsm7`]: GSM 03.38 accounting (what a text costs on a screen or in an SMS).
//! - [`check`] and [`simulate`]: what `sauti check` and `sauti simulate` do; [`simulator`]:
//!   the same walk in a browser, at `GET /simulator` of `sauti serve` (nothing recorded);
//!   [`xlsform`]: `sauti import-xlsform`, an XLSForm workbook imported as a flow.
//! - [`recorder`]: a finished survey made durable; [`response`]: its record; [`journal`]: the
//!   embedded outbox file; [`outbox`] and [`sink`]: delivery to collectors.
//! - [`session`]: live sessions between hops (memory or Redis), and their locks.
//! - [`config`]: `sauti.toml`; [`pseudonym`]: phone numbers replaced by keyed HMACs before
//!   anything is stored or logged.
//! - [`service`]: what `sauti serve` and `sauti deliver` run; [`shutdown`]: how both stop;
//!   [`reload`]: flows reloaded while serving; [`logging`]: the log subscriber;
//!   [`activity`]: the periodic traffic summary that `info` logs instead of a line per survey.
//! - [`campaign`]: `sauti campaign`, outbound SMS surveys to a panel (sealed numbers with
//!   [`vault`]), run paced by `sauti serve`; the SMS opt-out list.
//! - [`report`] and [`export`]: what `sauti report` and `sauti export` make of the responses
//!   for researchers (counts, funnel, answers; FLOIP Flow Results and flat CSV).

pub mod activity;
pub mod audio;
pub mod campaign;
pub mod channel;
pub mod check;
pub mod config;
pub mod engine;
pub mod export;
pub mod flow;
pub mod gateway;
pub mod gsm7;
pub mod hash;
pub mod i18n;
pub mod journal;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod outbox;
pub mod phone;
pub mod private_fs;
pub mod problem;
pub mod prompts;
pub mod pseudonym;
pub mod question;
pub mod recorder;
pub mod redact;
pub mod redis_conn;
pub mod reload;
pub mod render;
pub mod report;
pub mod response;
pub mod server;
pub mod service;
pub mod session;
pub mod shutdown;
pub mod simulate;
pub mod simulator;
pub mod sink;
pub mod skeleton;
pub mod sms_outbox;
pub mod sms_sender;
pub mod survey;
pub mod telemetry;
pub mod text_file;
pub mod vault;
pub mod xform;
pub mod xlsform;

pub use engine::{At, Event, Hop, HopContext, SessionState, View};
pub use flow::CompiledFlow;
pub use problem::{Problem, Problems};
