//! Sauti: a USSD and voice IVR survey engine.
//!
//! # Layout
//! - [`flow`]: TOML flows, loaded and checked once into an indexed [`flow::CompiledFlow`].
//! - [`question`]: one file per question kind; each parses an input into an answer.
//! - [`engine`]: the pure step function `(flow, state, input, ctx) -> (screen, state, events)`.
//! - [`i18n`]: Fluent translations per language, language tags and fallback chains.
//! - [`render`]: GSM 03.38 accounting and the USSD paginator.
//! - [`check`] and [`simulate`]: what `sauti check` and `sauti simulate` do.
//! - [`response`]: the record of a completed survey; [`journal`]: where it is made durable.
//! - [`session`]: live sessions between hops; [`survey`]: the hop orchestrator around the engine.
//! - [`gateway`]: one file per wire protocol; [`server`]: the HTTP edge; [`config`]: `sauti.toml`.
//! - [`pseudonym`]: phone numbers replaced by keyed HMACs before anything is stored or logged.
//! - [`service`]: what `sauti serve` and `sauti deliver` run; [`shutdown`]: how both stop;
//!   [`reload`]: flows reloaded while serving; [`logging`]: the log subscriber.

pub mod check;
pub mod config;
pub mod engine;
pub mod flow;
pub mod gateway;
pub mod hash;
pub mod i18n;
pub mod journal;
pub mod logging;
pub mod metrics;
pub mod outbox;
pub mod problem;
pub mod pseudonym;
pub mod question;
pub mod redis_conn;
pub mod reload;
pub mod render;
pub mod response;
pub mod server;
pub mod service;
pub mod session;
pub mod shutdown;
pub mod simulate;
pub mod sink;
pub mod survey;
pub mod xform;

pub use engine::{At, Event, Hop, HopContext, Screen, SessionState};
pub use flow::CompiledFlow;
pub use problem::{Problem, Problems};
