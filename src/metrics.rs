//! Delivery counters per sink, rendered in the Prometheus text format at `GET /metrics`.
//! Plain atomics: no registry, nothing on the hop path but an increment.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct SinkCounters {
    pub queued: AtomicU64,
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub dead: AtomicU64,
}

#[derive(Default)]
pub struct Metrics {
    sinks: Mutex<BTreeMap<String, &'static SinkCounters>>,
    pub hops: AtomicU64,
    pub completed: AtomicU64,
    /// Requests refused by a gateway's authentication.
    pub auth_rejected: AtomicU64,
    /// Hops answered "try later" by a rate limit (a respondent's hops, a gateway's new sessions).
    pub rate_limited: AtomicU64,
    /// Requests shed with 503 because too many were in flight.
    pub shed: AtomicU64,
}

impl Metrics {
    /// The counters of one sink (created on first use, kept for the process's life).
    pub fn sink(&self, name: &str) -> &'static SinkCounters {
        let mut map = self.sinks.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(name.to_owned())
            .or_insert_with(|| Box::leak(Box::default()))
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let hops = self.hops.load(Ordering::Relaxed);
        let completed = self.completed.load(Ordering::Relaxed);
        out.push_str(
            "# HELP sauti_hops_total USSD hops served.\n# TYPE sauti_hops_total counter\n",
        );
        out.push_str(&format!("sauti_hops_total {hops}\n"));
        out.push_str("# HELP sauti_surveys_completed_total Surveys completed and queued for delivery.\n# TYPE sauti_surveys_completed_total counter\n");
        out.push_str(&format!("sauti_surveys_completed_total {completed}\n"));
        out.push_str("# HELP sauti_auth_rejected_total Gateway requests refused by authentication.\n# TYPE sauti_auth_rejected_total counter\n");
        out.push_str(&format!(
            "sauti_auth_rejected_total {}\n",
            self.auth_rejected.load(Ordering::Relaxed)
        ));
        out.push_str("# HELP sauti_rate_limited_total Hops answered \"try later\" by a rate limit.\n# TYPE sauti_rate_limited_total counter\n");
        out.push_str(&format!(
            "sauti_rate_limited_total {}\n",
            self.rate_limited.load(Ordering::Relaxed)
        ));
        out.push_str("# HELP sauti_shed_total Requests shed with 503 because too many were in flight.\n# TYPE sauti_shed_total counter\n");
        out.push_str(&format!(
            "sauti_shed_total {}\n",
            self.shed.load(Ordering::Relaxed)
        ));
        let map = self.sinks.lock().unwrap_or_else(|p| p.into_inner());
        for (metric, help, get) in [
            (
                "sauti_outbox_queued_total",
                "Responses queued for a sink.",
                0,
            ),
            (
                "sauti_outbox_delivered_total",
                "Responses a sink accepted.",
                1,
            ),
            (
                "sauti_outbox_failed_total",
                "Delivery attempts that failed and will be retried.",
                2,
            ),
            (
                "sauti_outbox_dead_total",
                "Responses moved to the dead letters.",
                3,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {metric} {help}\n# TYPE {metric} counter\n"
            ));
            for (sink, c) in map.iter() {
                let v = [&c.queued, &c.delivered, &c.failed, &c.dead][get].load(Ordering::Relaxed);
                out.push_str(&format!("{metric}{{sink=\"{sink}\"}} {v}\n"));
            }
        }
        out
    }
}
