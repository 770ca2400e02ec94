//! What an operator's monitoring scrapes at `GET /metrics`, in the Prometheus text format
//! (the `metrics` facade and its Prometheus exporter: label values escaped): hops by gateway,
//! flow and result, hop latency, sessions started, completed and abandoned (by step and
//! language), refusals (authentication, rate limits, shedding), deliveries by sink.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use metrics::{Counter, Histogram, counter, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// One sink's delivery counters.
pub struct SinkCounters {
    pub queued: Count,
    pub delivered: Count,
    pub failed: Count,
    pub dead: Count,
}

/// A counter exported at `/metrics` whose value this process can also read (delivery waits
/// and benchmarks watch deliveries progress).
pub struct Count {
    exported: Counter,
    value: AtomicU64,
}

impl Count {
    fn new(exported: Counter) -> Count {
        Count {
            exported,
            value: AtomicU64::new(0),
        }
    }

    pub fn increment(&self, n: u64) {
        self.exported.increment(n);
        self.value.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}

/// How a hop ended, as `result` on `sauti_hops_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopResult {
    /// A screen or prompt was served (the session goes on).
    Served,
    /// The survey was completed by this hop.
    Completed,
    /// No flow at the address.
    UnknownAddress,
    /// Answered "try later" by a rate limit.
    RateLimited,
    /// The survey went on in another session.
    Superseded,
    /// The hop could not be served (store or journal failure).
    Failed,
}

impl HopResult {
    /// How many results there are (the variants are numbered from 0).
    pub const COUNT: usize = 6;
    /// Every result, by its number.
    pub const ALL: [HopResult; HopResult::COUNT] = [
        HopResult::Served,
        HopResult::Completed,
        HopResult::UnknownAddress,
        HopResult::RateLimited,
        HopResult::Superseded,
        HopResult::Failed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            HopResult::Served => "served",
            HopResult::Completed => "completed",
            HopResult::UnknownAddress => "unknown_address",
            HopResult::RateLimited => "rate_limited",
            HopResult::Superseded => "superseded",
            HopResult::Failed => "failed",
        }
    }
}

/// Hop latencies are bucketed for p50/p99 queries: a hop takes about 0.1 ms to a few ms.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// How often histogram samples are drained into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(1);

/// The process's exporter: one per process (the `metrics` facade has one global recorder).
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full("sauti_hop_duration_seconds".into()),
                LATENCY_BUCKETS,
            )
            .expect("buckets are not empty")
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full("sauti_redis_duration_seconds".into()),
                LATENCY_BUCKETS,
            )
            .expect("buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (a library user's): ours then renders
        // nothing, and hops are not slowed down by it.
        let _ = metrics::set_global_recorder(recorder);
        // Histogram samples pile up in the recorder until drained into their buckets: without
        // this, a process nobody scrapes grew by 16 bytes per hop for ever (hundreds of MB an
        // hour under load), and the first scrape drained them all at once.
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("sauti-metrics".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        handle
    })
}

/// The counters labelled by gateway and flow: `sauti_hops_total` by result, then sessions
/// started and surveys completed. Made once per label set, so that a hop increments a handle
/// instead of building labels and looking the registry up.
type FlowCounters = [Option<Counter>; HopResult::COUNT + 2];
const STARTED: usize = HopResult::COUNT;
const COMPLETED: usize = HopResult::COUNT + 1;
/// FNV: gateway names and flow ids are the operator's and the researchers', never a caller's.
type HopCounters = HashMap<
    String,
    HashMap<String, FlowCounters, crate::hash::FnvBuildHasher>,
    crate::hash::FnvBuildHasher,
>;

/// The process's counters (a cheap handle: the registry is global).
pub struct Metrics {
    handle: &'static PrometheusHandle,
    hop_duration: Histogram,
    hops: std::sync::RwLock<HopCounters>,
    sinks: Mutex<BTreeMap<String, &'static SinkCounters>>,
    /// What the `info` log's periodic summary reports.
    pub activity: crate::activity::Activity,
}

impl Default for Metrics {
    fn default() -> Self {
        let handle = handle();
        describe();
        Metrics {
            handle,
            hop_duration: histogram!("sauti_hop_duration_seconds"),
            hops: std::sync::RwLock::default(),
            sinks: Mutex::default(),
            activity: crate::activity::Activity::default(),
        }
    }
}

fn describe() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        metrics::describe_counter!(
            "sauti_hops_total",
            "Gateway hops, by gateway, flow and result."
        );
        metrics::describe_histogram!(
            "sauti_hop_duration_seconds",
            "Time to serve a hop, from its decoded request to its reply."
        );
        metrics::describe_counter!(
            "sauti_sessions_started_total",
            "Sessions opened, by gateway and flow."
        );
        metrics::describe_counter!(
            "sauti_surveys_completed_total",
            "Surveys completed and queued for delivery, by gateway and flow."
        );
        metrics::describe_counter!(
            "sauti_surveys_abandoned_total",
            "Surveys left unfinished past their resume window, by flow, language and the step they stopped at."
        );
        metrics::describe_counter!(
            "sauti_auth_rejected_total",
            "Gateway requests refused by authentication, by gateway."
        );
        metrics::describe_counter!(
            "sauti_rate_limited_total",
            "Hops answered \"try later\" by a rate limit, by limit."
        );
        metrics::describe_counter!(
            "sauti_sms_unanswered_total",
            "Inbound SMS that got no reply on purpose, by gateway and reason (flood: over the number's rate; session_cap: the conversation sent its maximum)."
        );
        metrics::describe_counter!(
            "sauti_sms_delivery_reports_total",
            "Delivery reports of sent SMS, by gateway and status."
        );
        metrics::describe_counter!(
            "sauti_shed_total",
            "Requests shed with 503 because too many were in flight."
        );
        metrics::describe_histogram!(
            "sauti_redis_duration_seconds",
            "Time of each call to Redis (sessions and outbox)."
        );
        metrics::describe_counter!(
            "sauti_redis_errors_total",
            "Calls to Redis that failed (error) or got no answer in time (timeout)."
        );
        metrics::describe_gauge!(
            "sauti_outbox_depth",
            "Responses waiting for a sink (in flight included), by sink."
        );
        metrics::describe_gauge!(
            "sauti_outbox_oldest_age_seconds",
            "Age of the oldest response waiting for a sink, by sink."
        );
        metrics::describe_gauge!(
            "sauti_outbox_in_flight",
            "Deliveries in progress in this process, by sink."
        );
        metrics::describe_gauge!(
            "sauti_outbox_retrying",
            "Responses this process holds for their next attempt, by sink."
        );
        metrics::describe_gauge!(
            "sauti_sink_failing_seconds",
            "How long a sink has failed without a single answer (0 when it delivers), by sink."
        );
        metrics::describe_counter!("sauti_outbox_queued_total", "Responses queued for a sink.");
        metrics::describe_counter!(
            "sauti_outbox_delivered_total",
            "Responses a sink accepted."
        );
        metrics::describe_counter!(
            "sauti_outbox_failed_total",
            "Delivery attempts that failed and will be retried."
        );
        metrics::describe_counter!(
            "sauti_outbox_dead_total",
            "Responses moved to the dead letters."
        );
    });
}

impl Metrics {
    /// The counters of one sink (made on first use, kept for the process's life: sinks are
    /// few and fixed).
    pub fn sink(&self, name: &str) -> &'static SinkCounters {
        let mut map = self.sinks.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(name.to_owned()).or_insert_with(|| {
            let sink = name.to_owned();
            Box::leak(Box::new(SinkCounters {
                queued: Count::new(counter!("sauti_outbox_queued_total", "sink" => sink.clone())),
                delivered: Count::new(
                    counter!("sauti_outbox_delivered_total", "sink" => sink.clone()),
                ),
                failed: Count::new(counter!("sauti_outbox_failed_total", "sink" => sink.clone())),
                dead: Count::new(counter!("sauti_outbox_dead_total", "sink" => sink)),
            }))
        })
    }

    /// One hop of `gateway` on `flow` (`-` before a flow is known), served in `took`.
    pub fn hop(&self, gateway: &str, flow: &str, result: HopResult, took: Duration) {
        self.flow_counter(gateway, flow, result as usize)
            .increment(1);
        self.hop_duration.record(took.as_secs_f64());
        self.activity.hop(result);
    }

    /// The counter at `index` of [`FlowCounters`] for (gateway, flow), made on first use.
    fn flow_counter(&self, gateway: &str, flow: &str, index: usize) -> Counter {
        let known = self
            .hops
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(gateway)
            .and_then(|flows| flows.get(flow))
            .and_then(|counters| counters[index].clone());
        if let Some(counter) = known {
            return counter;
        }
        let (gateway_label, flow_label) = (gateway.to_owned(), flow.to_owned());
        let counter = match index {
            STARTED => {
                counter!("sauti_sessions_started_total", "gateway" => gateway_label, "flow" => flow_label)
            }
            COMPLETED => {
                counter!("sauti_surveys_completed_total", "gateway" => gateway_label, "flow" => flow_label)
            }
            result => counter!(
                "sauti_hops_total",
                "gateway" => gateway_label,
                "flow" => flow_label,
                "result" => HopResult::ALL[result].label()
            ),
        };
        self.hops
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(gateway.to_owned())
            .or_default()
            .entry(flow.to_owned())
            .or_default()[index] = Some(counter.clone());
        counter
    }

    pub fn session_started(&self, gateway: &str, flow: &str) {
        self.flow_counter(gateway, flow, STARTED).increment(1);
        self.activity.session_started();
    }

    pub fn completed(&self, gateway: &str, flow: &str) {
        self.flow_counter(gateway, flow, COMPLETED).increment(1);
    }

    /// A survey left unfinished at `step` (the step it would resume at).
    pub fn abandoned(&self, flow: &str, language: &str, step: &str) {
        counter!(
            "sauti_surveys_abandoned_total",
            "flow" => flow.to_owned(),
            "language" => language.to_owned(),
            "step" => step.to_owned()
        )
        .increment(1);
    }

    pub fn auth_rejected(&self, gateway: &str) {
        counter!("sauti_auth_rejected_total", "gateway" => gateway.to_owned()).increment(1);
    }

    /// `limit`: `respondent` or `new_sessions`.
    pub fn rate_limited(&self, limit: &'static str) {
        counter!("sauti_rate_limited_total", "limit" => limit).increment(1);
    }

    /// An inbound SMS left unanswered on purpose; `reason`: `flood` or `session_cap`.
    pub fn sms_unanswered(&self, gateway: &str, reason: &'static str) {
        counter!("sauti_sms_unanswered_total", "gateway" => gateway.to_owned(), "reason" => reason)
            .increment(1);
    }

    /// A delivery report of `gateway` (`status`: one of a closed set).
    pub fn sms_delivery_report(&self, gateway: &str, status: &'static str) {
        counter!("sauti_sms_delivery_reports_total", "gateway" => gateway.to_owned(), "status" => status)
            .increment(1);
    }

    pub fn shed(&self) {
        counter!("sauti_shed_total").increment(1);
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

#[cfg(test)]
mod hop_result_tests {
    use super::HopResult;

    #[test]
    fn every_result_has_its_own_slot() {
        for (i, r) in HopResult::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i, "{r:?}");
        }
    }
}
