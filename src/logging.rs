//! Logging of `serve` and `deliver`: text or JSON lines on standard error, filtered by
//! `RUST_LOG` when set, else by the configuration's `log`.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{Config, LogFormat};

/// Installs the global subscriber (once; later calls do nothing).
pub fn init(c: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{},hyper=warn", c.log)));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match c.log_format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(fmt::layer().compact().with_writer(std::io::stderr))
            .try_init(),
    };
}
