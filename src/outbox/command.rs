//! `sauti outbox`: what an operator sees and repairs in every sink's queue (status, dead
//! letters, replay), from any process, in embedded or Redis mode.

use anyhow::bail;

use super::{Admin, DiskQueue, OutboxError, SinkStatus};
use crate::config::Config;
use crate::redact::Redactor;
use crate::service::{is_journal, redis_queue};
use crate::sink::SinkKind;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Action {
    /// Queued, in flight, delivered, dead and the oldest age, per sink.
    Status {
        #[arg(long)]
        sink: Option<String>,
    },
    /// Dead letters with their last error.
    Dead {
        #[arg(long)]
        sink: Option<String>,
    },
    /// Put a dead letter (or all of them) back in the queue.
    Replay {
        /// A response id.
        id: Option<String>,
        #[arg(long, conflicts_with = "id")]
        all_dead: bool,
        #[arg(long)]
        sink: Option<String>,
    },
}

/// Runs `action` on every sink (or the one chosen with `--sink`), printing to stdout.
pub fn run(action: Action, c: Config) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(&action, &c))
}

async fn run_async(action: &Action, c: &Config) -> anyhow::Result<()> {
    let chosen = match action {
        Action::Status { sink } | Action::Dead { sink } | Action::Replay { sink, .. } => {
            sink.clone()
        }
    };
    let sms_outbox = c.data_dir.join(crate::sms_outbox::FILE).exists();
    if let Some(s) = &chosen
        && !c.sinks.contains_key(s)
        && !(sms_outbox && s == crate::sms_outbox::QUEUE)
    {
        bail!(
            "no sink named `{s}` (configured: {})",
            c.sinks.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let mut replayed = 0;
    for (name, cfg) in &c.sinks {
        if chosen.as_ref().is_some_and(|s| s != name) {
            continue;
        }
        if !c.uses_redis()
            && let SinkKind::File { path } = &cfg.kind
            && is_journal(c, path)
        {
            if let Action::Status { .. } = action {
                println!("{name}: the journal itself: every response is written to it before END");
            }
            continue;
        }
        let redactor = cfg.redactor();
        let run = async {
            if c.uses_redis() {
                let q = redis_queue(c, name).await?;
                apply(action, &q, &redactor).await
            } else {
                let q = DiskQueue::admin(&c.data_dir, name, &cfg.flows);
                apply_on_disk(action, c, name, &q, &redactor).await
            }
        };
        match run.await {
            Ok(n) => replayed += n,
            Err(OutboxError::NoSuchDeadLetter(_)) if chosen.is_none() => {}
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "sink `{name}`: {}",
                    redactor.text(&e.to_string())
                ));
            }
        }
    }
    // SMS replies waiting to be sent: the data directory's own queue, in both modes.
    if sms_outbox
        && chosen
            .as_deref()
            .is_none_or(|s| s == crate::sms_outbox::QUEUE)
    {
        let name = crate::sms_outbox::QUEUE;
        let redactor = c.sms.send.delivery().redactor();
        let q: DiskQueue<crate::sms_outbox::QueuedSms> =
            DiskQueue::admin_of(&c.data_dir, crate::sms_outbox::FILE, name, &[]);
        let run = apply_on_disk(action, c, name, &q, &redactor);
        match run.await {
            Ok(n) => replayed += n,
            Err(OutboxError::NoSuchDeadLetter(_)) if chosen.is_none() => {}
            Err(e) => {
                return Err(anyhow::anyhow!("{name}: {}", redactor.text(&e.to_string())));
            }
        }
    }
    if let Action::Replay { id, .. } = action {
        if replayed == 0 && id.is_some() {
            bail!("no dead letter with that id");
        }
        println!("replayed {replayed}");
    }
    Ok(())
}

/// `action` on a queue in the data directory; its status asks the serving process what it
/// has in progress.
async fn apply_on_disk<P: super::Item>(
    action: &Action,
    c: &Config,
    name: &str,
    q: &DiskQueue<P>,
    redactor: &Redactor,
) -> Result<usize, OutboxError> {
    if let Action::Status { .. } = action {
        // Deliveries in progress are in the serving process's memory: ask it.
        let mut status = q.status().await?;
        status.in_flight = serving_in_flight(c, name).await;
        print!("{}", status_text(&status));
        return Ok(0);
    }
    apply(action, q, redactor).await
}

/// Embedded mode: how many deliveries of `sink` the serving process has in progress (in
/// flight, or waiting for their next attempt), as its `/metrics` at `listen` says; `None`
/// when no process answers there.
async fn serving_in_flight(c: &Config, sink: &str) -> Option<u64> {
    let listen = c
        .listen
        .replace("0.0.0.0:", "127.0.0.1:")
        .replace("[::]:", "[::1]:");
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(1))
        .build()
        .ok()?;
    let text = client
        .get(format!("http://{listen}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let label = format!("{{sink=\"{sink}\"}} ");
    let gauge = |name: &str| -> Option<f64> {
        let prefix = format!("{name}{label}");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
    };
    let n = gauge("sauti_outbox_in_flight")? + gauge("sauti_outbox_retrying").unwrap_or(0.0);
    Some(n as u64)
}

/// What `sauti outbox status` prints for one sink: one line, and lines for what it cannot
/// see or for workers that stopped.
pub fn status_text(s: &SinkStatus) -> String {
    let in_flight = s.in_flight.map_or("?".to_owned(), |n| n.to_string());
    let stopped: u64 = s.stopped.iter().map(|w| w.pending).sum();
    let mut text = format!(
        "{}: queued {} in_flight {in_flight} held_by_stopped_workers {stopped} delivered {} dead {} oldest {}\n",
        s.sink,
        s.queued,
        s.delivered,
        s.dead,
        s.oldest_age_secs
            .map_or("-".to_owned(), |a| format!("{a}s"))
    );
    if s.in_flight.is_none() {
        text.push_str(&format!(
            "  in_flight: no serving process answered at the configured `listen` address; it exports sauti_outbox_in_flight{{sink=\"{}\"}} at /metrics\n",
            s.sink
        ));
    }
    for w in &s.stopped {
        text.push_str(&format!(
            "  stopped worker {}: {} pending, silent for {}s (a running worker takes them over)\n",
            w.name, w.pending, w.idle_secs
        ));
    }
    text
}

/// One sink's part of `action`; returns how many dead letters were replayed.
async fn apply(action: &Action, q: &impl Admin, redactor: &Redactor) -> Result<usize, OutboxError> {
    match action {
        Action::Status { .. } => {
            print!("{}", status_text(&q.status().await?));
            Ok(0)
        }
        Action::Dead { sink } => {
            for d in q.dead_letters().await? {
                println!(
                    "{}\t{}\t{}\t{} attempts\t{}\t{}",
                    sink.as_deref().unwrap_or(""),
                    d.id,
                    d.flow,
                    d.attempts,
                    d.at,
                    // Dead letters written before errors were masked may still hold a token.
                    redactor.text(&d.error)
                );
            }
            Ok(0)
        }
        Action::Replay { id, all_dead, .. } => {
            if id.is_none() && !all_dead {
                return Ok(0);
            }
            q.replay(id.as_deref()).await
        }
    }
}
