//! Delivery throughput and the cost a completion adds to its hop, measured end to end on
//! loopback: `cargo bench --bench delivery`. Prints one line per figure.
//!
//! - deliveries/s: N queued responses in a fresh data directory, delivered by one webhook
//!   worker (signed POSTs) to a local hyper collector that answers 204.
//! - the journal (embedded outbox) append: write + fsync, sequential and 50 at once (group
//!   commit), i.e. what a completing hop waits for before its END screen.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sauti::journal::Journal;
use sauti::metrics::Metrics;
use sauti::outbox::{Admin, DiskQueue, run_worker};
use sauti::response::Response;
use sauti::sink::webhook::WebhookSink;
use sauti::sink::{SinkConfig, SinkKind};

fn response(i: usize) -> Response {
    let answers = serde_json::json!({
        "consent": { "value": "yes", "label": "Oui" },
        "incident": { "value": "violence", "label": "Violence" },
        "territory": { "value": "Mwenga" },
        "people": { "value": i % 100 },
    });
    Response {
        schema: 1,
        id: uuid::Uuid::now_v7().to_string(),
        flow: "kufatilia".into(),
        flow_version: 1,
        status: "complete".into(),
        channel: "ussd".into(),
        gateway: "africastalking".into(),
        language: "fr".into(),
        respondent: "ab".repeat(32),
        network: Some("63001".into()),
        started_at: "2026-11-23T10:00:00.000Z".into(),
        completed_at: "2026-11-23T10:01:00.000Z".into(),
        answers: answers.as_object().unwrap().clone(),
    }
}

async fn collector(received: Arc<AtomicU64>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let received = received.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let received = received.clone();
                    async move {
                        let _ = req.into_body().collect().await;
                        received.fetch_add(1, Ordering::Relaxed);
                        let mut r = hyper::Response::new(Full::new(Bytes::new()));
                        *r.status_mut() = hyper::StatusCode::NO_CONTENT;
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

async fn deliveries(n: usize, concurrency: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (journal, guard) = Journal::open(dir.path()).unwrap();
    for i in 0..n {
        journal.append(&response(i)).await.unwrap();
    }
    let received = Arc::new(AtomicU64::new(0));
    let addr = collector(received.clone()).await;
    let mut config = SinkConfig::new(SinkKind::Webhook {
        url: format!("http://{addr}/hook"),
        secret: Some("whsec_c2F1dGktdGVzdC13ZWJob29rLXNlY3JldC0zMmJ5dGU=".into()),
        secret_env: None,
    });
    config.concurrency = concurrency;
    let sink = Arc::new(WebhookSink::new(&config).unwrap());
    let queue = Arc::new(DiskQueue::open(dir.path(), "hook", &[], journal.progress()).unwrap());
    let metrics: &'static Metrics = Box::leak(Box::default());
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let worker = tokio::spawn(run_worker(
        "hook".into(),
        queue,
        sink,
        config,
        metrics.sink("hook"),
        stop,
    ));
    while metrics.sink("hook").delivered.get() < n as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let _ = stop_tx.send(true);
    let _ = worker.await;
    let status = DiskQueue::admin(dir.path(), "hook", &[])
        .status()
        .await
        .unwrap();
    assert_eq!(status.delivered, n as u64);
    println!(
        "deliveries: {n} responses, webhook, concurrency {concurrency}: {:.0} deliveries/s ({:.2} ms each), {} requests",
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / n as f64,
        received.load(Ordering::Relaxed)
    );
    drop(journal);
    tokio::task::spawn_blocking(move || guard.finish())
        .await
        .unwrap();
}

async fn journal_appends(n: usize, parallel: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (journal, guard) = Journal::open(dir.path()).unwrap();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for p in 0..parallel {
        let journal = journal.clone();
        tasks.spawn(async move {
            let mut worst = Duration::ZERO;
            for i in 0..n / parallel {
                let t = Instant::now();
                journal.append(&response(p * n + i)).await.unwrap();
                worst = worst.max(t.elapsed());
            }
            worst
        });
    }
    let mut worst = Duration::ZERO;
    while let Some(w) = tasks.join_next().await {
        worst = worst.max(w.unwrap());
    }
    let elapsed = started.elapsed();
    println!(
        "journal append + fsync, {parallel} at once: {:.0} completions/s, {:.3} ms per completion on average, worst wait {:.2} ms",
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 * parallel as f64 / n as f64,
        worst.as_secs_f64() * 1000.0
    );
    drop(journal);
    tokio::task::spawn_blocking(move || guard.finish())
        .await
        .unwrap();
}

fn main() {
    // `cargo test --benches` runs bench binaries with `--bench`-less args: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let n = if quick { 50 } else { 5000 };
        journal_appends(if quick { 20 } else { 500 }, 1).await;
        journal_appends(if quick { 50 } else { 5000 }, 50).await;
        deliveries(n, 4).await;
        deliveries(n, 16).await;
    });
}
