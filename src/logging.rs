//! Logging of `serve` and `deliver`: text or JSON lines on standard error, filtered by
//! `RUST_LOG` when set, else by the configuration's `log`; hop spans to OTLP when configured.

use tracing::Level;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::{EnvFilter, Layer, fmt, prelude::*};

use crate::config::{Config, LogFormat};
use crate::telemetry::Telemetry;

/// Installs the global subscriber (once; later calls do nothing). The returned export, if
/// any, must be shut down at exit so that the last spans are sent.
pub fn init(c: &Config) -> anyhow::Result<Option<Telemetry>> {
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
    let log = match c.log_format {
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => fmt::layer()
            .compact()
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(log)
        .with(spans)
        .try_init();
    Ok(telemetry)
}
