//! The delivery worker of one sink: delivers its queue with bounded concurrency, retries what
//! may pass until the response is `max_age_secs` old, pauses the whole sink when it is down.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::health::{HealthEvent, SinkHealth};
use super::{Admin, Entry, Item, Queue};
use crate::metrics::SinkCounters;
use crate::sink::{Delivery, Sink, SinkConfig};

/// The delay before attempt `attempt + 1`: `base * 2^(attempt-1)`, capped, with jitter
/// (a random half to whole of it) so that retries of many responses do not arrive together.
pub fn backoff(attempt: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(max);
    capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

fn random_unit() -> f64 {
    getrandom::u32().map_or(0.5, |r| r as f64 / u32::MAX as f64)
}

/// How often the queue's depth and oldest age are exported.
const GAUGE_EVERY: Duration = Duration::from_secs(15);

/// How often entries waiting for a retry are claimed again (Redis: well within the reclaim
/// idle time, so that no other process takes them over meanwhile).
const KEEP_EVERY: Duration = Duration::from_secs(20);

/// The outcome of one attempt, with what the worker needs to act on it.
type Attempted<P> = (Entry<P>, u32, Delivery);

/// The gauges of one sink's worker (handles made once: they are set on every turn).
struct Gauges {
    in_flight: metrics::Gauge,
    retrying: metrics::Gauge,
    failing_seconds: metrics::Gauge,
}

impl Gauges {
    fn of(sink: &str) -> Gauges {
        Gauges {
            in_flight: metrics::gauge!("sauti_outbox_in_flight", "sink" => sink.to_owned()),
            retrying: metrics::gauge!("sauti_outbox_retrying", "sink" => sink.to_owned()),
            failing_seconds: metrics::gauge!("sauti_sink_failing_seconds", "sink" => sink.to_owned()),
        }
    }
}

/// Whether a response queued at `queued_at_ms` (unix ms) has been retried for long enough.
fn too_old(queued_at_ms: i64, now_ms: i64, max_age: Duration) -> bool {
    now_ms.saturating_sub(queued_at_ms) >= max_age.as_millis() as i64
}

fn log_health(sink: &str, event: HealthEvent) {
    match event {
        HealthEvent::FailingLong { since } => {
            tracing::warn!(sink = %sink, failing_secs = since.as_secs(), "sink failing: no delivery has succeeded for a while; responses stay queued and are retried")
        }
        HealthEvent::Recovered { after } => {
            tracing::info!(sink = %sink, failed_secs = after.as_secs(), "sink recovered: delivering again")
        }
    }
}

/// Runs until `stop` turns true, then lets deliveries in flight finish.
pub async fn run_worker<Q, S, P>(
    name: String,
    queue: Arc<Q>,
    sink: Arc<S>,
    config: SinkConfig,
    counters: &'static SinkCounters,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    Q: Queue<P> + Admin + Sync + 'static,
    S: Sink<P> + 'static,
    P: Item,
{
    let concurrency = config.concurrency.max(1);
    let interval = (config.rate_per_sec > 0).then(|| Duration::from_secs(1) / config.rate_per_sec);
    let base = Duration::from_millis(config.backoff_ms);
    let max_backoff = Duration::from_millis(config.backoff_max_ms);
    let max_age = Duration::from_secs(config.max_age_secs);
    let linger = Duration::from_millis(config.linger_ms);
    // Not before this instant is the queue read again (a linger after a read that emptied it).
    let mut next_read = Instant::now();
    let redactor = Arc::new(config.redactor());
    let gauges = Gauges::of(&name);
    let mut health = SinkHealth::new(
        base,
        max_backoff,
        Duration::from_secs(config.failing_warn_secs),
    );
    let mut next_start = Instant::now();
    let mut in_flight: JoinSet<Attempted<P>> = JoinSet::new();
    // Failed entries waiting for their next attempt: (when, sequence) -> (entry, attempts).
    let mut retries: BTreeMap<(Instant, u64), (Entry<P>, u32)> = BTreeMap::new();
    let mut seq = 0u64;
    let mut last_keep = Instant::now();
    let mut backoff_on_error = Duration::from_millis(200);

    let start = |entry: Entry<P>, attempts: u32, in_flight: &mut JoinSet<Attempted<P>>| {
        let sink = sink.clone();
        let redactor = redactor.clone();
        let timeout = Duration::from_millis(config.timeout_ms) + Duration::from_secs(1);
        in_flight.spawn(async move {
            let outcome =
                match tokio::time::timeout(timeout, sink.deliver(&entry.item, &entry.body)).await {
                    Ok(d) => d,
                    Err(_) => Delivery::Retry {
                        after: None,
                        error: "delivery timed out".into(),
                    },
                };
            // Errors quote URLs (a reqwest error carries the whole URL, token and all):
            // masked here, before any log line, dead letter or metric sees them.
            (entry, attempts + 1, outcome.redacted(&redactor))
        });
    };

    let mut finished = Vec::new();
    // Not `now - GAUGE_EVERY`: an Instant cannot go before the clock's start (a machine up for
    // less than GAUGE_EVERY would panic the worker).
    let mut gauged: Option<Instant> = None;
    loop {
        if gauged.is_none_or(|t| t.elapsed() >= GAUGE_EVERY) {
            // What an operator alerts on: a queue that grows, a response that waits too long.
            gauged = Some(Instant::now());
            if let Ok(status) = queue.status().await {
                metrics::gauge!("sauti_outbox_depth", "sink" => name.clone())
                    .set(status.queued as f64);
                metrics::gauge!("sauti_outbox_oldest_age_seconds", "sink" => name.clone())
                    .set(status.oldest_age_secs.unwrap_or(0) as f64);
            }
        }
        let now = Instant::now();
        // An outcome not yet looked at is still a delivery in progress.
        gauges
            .in_flight
            .set((in_flight.len() + finished.len()) as f64);
        gauges.retrying.set(retries.len() as f64);
        gauges
            .failing_seconds
            .set(health.failing_for(now).as_secs_f64());
        if let Some(event) = health.check(now) {
            log_health(&name, event);
        }
        let stopping = *stop.borrow();
        if stopping && in_flight.is_empty() && finished.is_empty() {
            break;
        }
        // Outcomes of finished deliveries.
        while let Some(done) = in_flight.try_join_next() {
            finished.push(done);
        }
        let mut delivered: Vec<Entry<P>> = Vec::new();
        for done in finished.drain(..) {
            let Ok((entry, attempts, outcome)) = done else {
                continue;
            };
            let result = match outcome {
                Delivery::Delivered => {
                    tracing::debug!(sink = %name, id = %entry.item.id(), attempts, "delivered");
                    if let Some(event) = health.answered(Instant::now()) {
                        log_health(&name, event);
                    }
                    // Acknowledged together below: one write (or round trip) for the lot.
                    delivered.push(entry);
                    Ok(())
                }
                Delivery::Permanent { error } => {
                    if let Some(event) = health.answered(Instant::now()) {
                        log_health(&name, event);
                    }
                    counters.dead.increment(1);
                    tracing::warn!(sink = %name, id = %entry.item.id(), attempts, %error, "refused: moved to the dead letters");
                    queue.bury(&entry, &error, attempts).await
                }
                Delivery::Retry { after, error } => {
                    counters.failed.increment(1);
                    health.failed(Instant::now(), after, random_unit());
                    if too_old(entry.queued_at_ms, super::now_unix_ms(), max_age) {
                        counters.dead.increment(1);
                        tracing::warn!(sink = %name, id = %entry.item.id(), attempts, %error, max_age_secs = max_age.as_secs(), "still failing at its maximum age: moved to the dead letters");
                        let error = format!(
                            "still failing {}s after it was queued ({attempts} attempts by this process): {error}",
                            max_age.as_secs()
                        );
                        queue.bury(&entry, &error, attempts).await
                    } else {
                        let delay = backoff(attempts, base, max_backoff, random_unit())
                            .max(after.unwrap_or_default());
                        tracing::info!(sink = %name, id = %entry.item.id(), attempts, %error, retry_in_ms = delay.as_millis() as u64, "delivery failed; will retry");
                        seq += 1;
                        retries.insert((Instant::now() + delay, seq), (entry, attempts));
                        Ok(())
                    }
                }
            };
            if let Err(e) = result {
                tracing::error!(sink = %name, error = %e, "outbox update failed; the response will be delivered again");
            }
        }
        if !delivered.is_empty() {
            match queue.ack_many(&delivered).await {
                Ok(()) => {
                    counters.delivered.increment(delivered.len() as u64);
                }
                Err(e) => {
                    tracing::error!(sink = %name, error = %e, "outbox update failed; the responses will be delivered again");
                }
            }
        }
        if stopping {
            if let Some(done) = in_flight.join_next().await {
                finished.push(done);
            }
            continue;
        }
        // Keep retried entries ours (Redis: not reclaimed by another process meanwhile).
        if last_keep.elapsed() > KEEP_EVERY && !retries.is_empty() {
            let waiting: Vec<Entry<P>> = retries.values().map(|(e, _)| e.clone()).collect();
            let _ = queue.keep(&waiting).await;
            last_keep = Instant::now();
        }
        // Due retries first, then new responses; none while the sink is paused.
        let now = Instant::now();
        let mut allowed = health.may_start(now, in_flight.len(), concurrency);
        while allowed > 0 {
            let Some((&key, _)) = retries.first_key_value() else {
                break;
            };
            if key.0 > now {
                break;
            }
            let (entry, attempts) = retries.remove(&key).expect("present");
            if let Some(i) = interval {
                tokio::time::sleep_until(next_start).await;
                next_start = Instant::now().max(next_start) + i;
            }
            start(entry, attempts, &mut in_flight);
            allowed -= 1;
        }
        let next_retry = retries.first_key_value().map(|(k, _)| k.0);
        if allowed == 0 {
            // Full, paused or probing: wait for an outcome or the end of the pause (a retry
            // already due must not wake the loop: it can only wait). At most a second, for
            // the gauges and for keeping retried entries ours.
            let wake = health
                .paused_until()
                .map_or(now + Duration::from_secs(1), |until| {
                    until.min(now + Duration::from_secs(1))
                });
            tokio::select! {
                done = in_flight.join_next(), if !in_flight.is_empty() => finished.extend(done),
                () = tokio::time::sleep_until(wake) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        if Instant::now() < next_read {
            // The last read emptied the queue: let responses gather (durable in the queue),
            // then take them in one read. Outcomes are still acknowledged as they come in (a
            // delivered response not yet acknowledged would be delivered again after a crash),
            // and a retry that falls due meanwhile waits at most the linger.
            tokio::select! {
                done = in_flight.join_next(), if !in_flight.is_empty() => finished.extend(done),
                () = tokio::time::sleep_until(next_read) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let until_retry = next_retry.map_or(Duration::from_secs(1), |at| {
            at.saturating_duration_since(Instant::now())
        });
        let wait = if in_flight.is_empty() {
            until_retry.min(Duration::from_secs(1))
        } else {
            Duration::from_millis(20)
        };
        let batch = tokio::select! {
            b = queue.next_batch(allowed, wait) => b,
            _ = stop.changed() => continue,
        };
        match batch {
            Ok(entries) => {
                backoff_on_error = Duration::from_millis(200);
                // A short batch emptied the queue; a full one may have left a backlog, which
                // is read at once: the queue never grows for want of reading.
                if !entries.is_empty() && entries.len() < allowed {
                    next_read = Instant::now() + linger;
                }
                for entry in entries {
                    if let Some(i) = interval {
                        tokio::time::sleep_until(next_start).await;
                        next_start = Instant::now().max(next_start) + i;
                    }
                    start(entry, 0, &mut in_flight);
                }
            }
            Err(e) => {
                tracing::warn!(sink = %name, error = %e, "outbox unavailable; retrying");
                tokio::time::sleep(backoff_on_error).await;
                backoff_on_error = (backoff_on_error * 2).min(Duration::from_secs(1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_too_old_at_its_maximum_age() {
        let week = Duration::from_secs(7 * 24 * 3600);
        let queued = 1_700_000_000_000;
        assert!(!too_old(queued, queued + 1000, week));
        assert!(too_old(queued, queued + week.as_millis() as i64, week));
    }

    #[test]
    fn backoff_doubles_caps_and_jitters() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        assert_eq!(backoff(1, base, max, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(3, base, max, 1.0), Duration::from_secs(4));
        assert_eq!(backoff(30, base, max, 1.0), Duration::from_secs(60));
        assert_eq!(backoff(3, base, max, 0.0), Duration::from_secs(2));
    }
}
