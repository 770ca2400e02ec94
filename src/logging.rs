//! Logging of `serve` and `deliver`: text or JSON lines on standard error, filtered by
//! `RUST_LOG` when set, else by the configuration's `log`; hop spans to OTLP when configured.
//!
//! Lines are formatted where they happen and written by a thread of their own, in batches:
//! a hop never waits on standard error (a slow log reader, a full pipe), and a burst of lines
//! costs one write. Past 128k lines waiting, new ones are dropped rather than stall hops.

use tracing::Level;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::{EnvFilter, Layer, fmt, prelude::*};

use crate::config::{Config, LogFormat};
use crate::telemetry::Telemetry;

/// The running logging: kept until the process ends, then [`Logging::finish`]ed so that the
/// last lines are written and the last spans sent.
pub struct Logging {
    pub telemetry: Option<Telemetry>,
    writer: Option<tracing_appender::non_blocking::WorkerGuard>,
}

impl Logging {
    /// Where spans are exported, if anywhere.
    pub fn traces_to(&self) -> Option<String> {
        self.telemetry.as_ref().map(Telemetry::destination)
    }

    /// Sends the last spans and writes the last lines.
    pub fn finish(mut self) {
        if let Some(t) = self.telemetry.take() {
            t.shutdown();
        }
        drop(self.writer.take());
    }
}

/// Installs the global subscriber (once; later calls install nothing and write nothing).
pub fn init(c: &Config) -> anyhow::Result<Logging> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{},hyper=warn", c.log)));
    let (telemetry, tracer) = match Telemetry::start(&c.otlp)? {
        Some((t, tracer)) => (Some(t), Some(tracer)),
        None => (None, None),
    };
    // Sauti's own spans (a hop is a debug span) and the events inside them, whatever the log
    // level: the exporter's HTTP client and other crates stay out of the traces.
    let spans = tracer.map(|tracer| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(filter_fn(|m| {
                m.target().starts_with("sauti")
                    && *m.level()
                        <= if m.is_span() {
                            Level::DEBUG
                        } else {
                            Level::INFO
                        }
            }))
    });
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .thread_name("sauti-log")
        .finish(std::io::BufWriter::new(std::io::stderr()));
    let log = match c.log_format {
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => fmt::layer()
            .compact()
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(log)
        .with(spans)
        .try_init()
        .is_ok();
    Ok(Logging {
        telemetry,
        writer: installed.then_some(guard),
    })
}
