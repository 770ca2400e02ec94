//! Export of the hop spans to an OpenTelemetry collector (OTLP over HTTP/protobuf) when
//! `[otlp]`, or the standard `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT` variable, says where.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};

use crate::config::OtlpConfig;

/// The standard variables that turn export on without an `[otlp]` table.
const ENDPOINT_VARIABLES: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// A collector's answer is a few bytes; more is not read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The running export: flushed and stopped by [`Telemetry::shutdown`] (or when dropped).
pub struct Telemetry {
    provider: SdkTracerProvider,
    destination: String,
}

impl Telemetry {
    /// Starts the export when configured: `Ok(None)` when nothing says where to send spans.
    pub fn start(c: &OtlpConfig) -> anyhow::Result<Option<(Telemetry, SdkTracer)>> {
        let from_environment = ENDPOINT_VARIABLES
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()));
        if c.endpoint.is_none() && !from_environment {
            return Ok(None);
        }
        let client = ExportClient::new(Duration::from_millis(c.timeout_ms))?;
        let mut builder = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_http_client(client)
            .with_timeout(Duration::from_millis(c.timeout_ms))
            .with_headers(c.headers.clone().into_iter().collect::<HashMap<_, _>>());
        if let Some(endpoint) = &c.endpoint {
            builder = builder.with_endpoint(traces_url(endpoint)?);
        }
        let exporter = builder.build()?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                c.sample_ratio,
            ))))
            .with_resource(
                Resource::builder()
                    .with_service_name(c.service_name.clone())
                    .build(),
            )
            .build();
        let tracer = provider.tracer("sauti");
        let destination = match &c.endpoint {
            Some(e) => origin(e),
            None => "the endpoint of OTEL_EXPORTER_OTLP_*".into(),
        };
        Ok(Some((
            Telemetry {
                provider,
                destination,
            },
            tracer,
        )))
    }

    /// Where spans go, without what may be secret in the URL (user, path, query).
    pub fn destination(&self) -> String {
        self.destination.clone()
    }

    /// Sends the spans still queued, then stops the exporter.
    pub fn shutdown(self) {
        let _ = self.provider.shutdown();
    }
}

/// The URL spans are posted to: a bare base URL gets the standard `/v1/traces` path.
fn traces_url(endpoint: &str) -> anyhow::Result<String> {
    let url = reqwest::Url::parse(endpoint.trim())
        .map_err(|e| anyhow::anyhow!("[otlp] endpoint is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        anyhow::bail!("[otlp] endpoint must be an http:// or https:// URL");
    }
    Ok(if url.path() == "/" || url.path().is_empty() {
        format!("{}/v1/traces", endpoint.trim().trim_end_matches('/'))
    } else {
        endpoint.trim().to_owned()
    })
}

/// `scheme://host:port` of a URL: what can be printed of it.
fn origin(url: &str) -> String {
    reqwest::Url::parse(url.trim()).map_or_else(
        |_| "(an invalid URL)".into(),
        |u| u.origin().ascii_serialization(),
    )
}

/// The exporter's HTTP client: Sauti's own reqwest (one HTTP stack in the binary), driven by
/// a one-thread runtime of its own because the batch exporter runs on a plain thread.
#[derive(Debug)]
struct ExportClient {
    client: reqwest::Client,
    runtime: Option<tokio::runtime::Runtime>,
    /// Whether the last export failed: an outage is logged when it starts and when it ends,
    /// not at every batch.
    failing: std::sync::Arc<AtomicBool>,
}

impl ExportClient {
    fn new(timeout: Duration) -> anyhow::Result<ExportClient> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("sauti/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-export")
            .enable_all()
            .build()?;
        Ok(ExportClient {
            client,
            runtime: Some(runtime),
            failing: Default::default(),
        })
    }
}

#[async_trait::async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let Some(runtime) = &self.runtime else {
            return Err("the exporter is shutting down".into());
        };
        let client = self.client.clone();
        let sent = runtime
            .spawn(async move {
                let request = reqwest::Request::try_from(request)?;
                // Errors are logged: not with the URL, which may hold a token.
                let mut response = client
                    .execute(request)
                    .await
                    .map_err(reqwest::Error::without_url)?;
                let answer = Response::builder().status(response.status());
                let mut body = Vec::new();
                while let Some(chunk) = response
                    .chunk()
                    .await
                    .map_err(reqwest::Error::without_url)?
                {
                    if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok::<_, HttpError>(answer.body(Bytes::from(body))?)
            })
            .await
            .map_err(|e| -> HttpError { e.into() })
            .and_then(|r| r);
        let ok = matches!(&sent, Ok(r) if r.status().is_success());
        let was_failing = self.failing.swap(!ok, Ordering::Relaxed);
        match (&sent, was_failing, ok) {
            // The URL is left out: it may carry a token.
            (Err(e), false, _) => {
                tracing::warn!(error = %e, "OTLP export failed; spans are dropped until the collector answers")
            }
            (Ok(r), false, false) => tracing::warn!(
                status = r.status().as_u16(),
                "OTLP collector refused spans; they are dropped until it accepts them"
            ),
            (_, true, true) => tracing::info!("OTLP export works again"),
            _ => {}
        }
        sent
    }
}

impl Drop for ExportClient {
    fn drop(&mut self) {
        // Dropped by the exporter's thread or inside Sauti's runtime: never block there.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn a_base_url_gets_the_traces_path_and_a_full_one_is_kept() {
        assert_eq!(
            traces_url("http://collector:4318").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector:4318/").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://otel.example/custom/traces").unwrap(),
            "https://otel.example/custom/traces"
        );
        assert!(traces_url("collector:4318").is_err());
        assert!(traces_url("ftp://collector/").is_err());
    }
}
