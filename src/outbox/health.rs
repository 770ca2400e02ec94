//! The health of one sink as its worker sees it: whether deliveries may start (the whole sink
//! pauses after a `Retry-After` or repeated failures, then probes with one) and how long it has failed.

use std::time::Duration;

use tokio::time::Instant;

/// Failures in a row (without `Retry-After`) before the whole sink pauses: one or two may be a
/// single response's or connection's bad luck; three say the collector is down.
pub const PAUSE_AFTER_FAILURES: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Full concurrency.
    Open,
    /// Nothing starts before `until`.
    Paused { until: Instant },
    /// One delivery at a time until one succeeds.
    Probing,
}

/// Something the worker reports in its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthEvent {
    /// Failing for longer than the warning threshold (reported once per outage).
    FailingLong { since: Duration },
    /// Delivering again after an outage that was reported.
    Recovered { after: Duration },
}

#[derive(Debug)]
pub struct SinkHealth {
    backoff_base: Duration,
    backoff_max: Duration,
    warn_after: Duration,
    gate: Gate,
    failures_in_a_row: u32,
    failing_since: Option<Instant>,
    warned: bool,
}

impl SinkHealth {
    pub fn new(backoff_base: Duration, backoff_max: Duration, warn_after: Duration) -> SinkHealth {
        SinkHealth {
            backoff_base,
            backoff_max,
            warn_after,
            gate: Gate::Open,
            failures_in_a_row: 0,
            failing_since: None,
            warned: false,
        }
    }

    /// How many deliveries may start now, with `in_flight` running, out of `concurrency`.
    pub fn may_start(&mut self, now: Instant, in_flight: usize, concurrency: usize) -> usize {
        if let Gate::Paused { until } = self.gate
            && now >= until
        {
            self.gate = Gate::Probing;
        }
        match self.gate {
            Gate::Open => concurrency.saturating_sub(in_flight),
            Gate::Paused { .. } => 0,
            Gate::Probing => usize::from(in_flight == 0),
        }
    }

    /// When a pause ends, if the sink is paused.
    pub fn paused_until(&self) -> Option<Instant> {
        match self.gate {
            Gate::Paused { until } => Some(until),
            _ => None,
        }
    }

    /// The collector answered (accepted, or refused one response for good): it is up.
    pub fn answered(&mut self, now: Instant) -> Option<HealthEvent> {
        self.gate = Gate::Open;
        self.failures_in_a_row = 0;
        let since = self.failing_since.take()?;
        std::mem::take(&mut self.warned).then(|| HealthEvent::Recovered { after: now - since })
    }

    /// A delivery failed in a way that may pass. `retry_after`: what the collector asked for;
    /// `jitter` in [0, 1] spreads the pauses of many processes.
    pub fn failed(&mut self, now: Instant, retry_after: Option<Duration>, jitter: f64) {
        self.failing_since.get_or_insert(now);
        self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
        let pause = match retry_after {
            Some(asked) => asked,
            None if self.failures_in_a_row >= PAUSE_AFTER_FAILURES => super::worker::backoff(
                self.failures_in_a_row - PAUSE_AFTER_FAILURES + 1,
                self.backoff_base,
                self.backoff_max,
                jitter,
            ),
            None => return,
        };
        let until = now + pause;
        self.gate = match self.gate {
            Gate::Paused { until: current } if current > until => Gate::Paused { until: current },
            _ => Gate::Paused { until },
        };
    }

    /// How long the sink has been failing (zero when it is not).
    pub fn failing_for(&self, now: Instant) -> Duration {
        self.failing_since
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }

    /// The warning, once per outage, when the sink has failed for longer than the threshold.
    pub fn check(&mut self, now: Instant) -> Option<HealthEvent> {
        let since = self.failing_for(now);
        (self.failing_since.is_some() && !self.warned && since >= self.warn_after).then(|| {
            self.warned = true;
            HealthEvent::FailingLong { since }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health() -> SinkHealth {
        SinkHealth::new(
            Duration::from_secs(1),
            Duration::from_secs(300),
            Duration::from_secs(300),
        )
    }

    #[test]
    fn a_retry_after_pauses_the_whole_sink_then_one_probe_reopens_it() {
        let mut h = health();
        let t0 = Instant::now();
        assert_eq!(h.may_start(t0, 1, 4), 3);
        h.failed(t0, Some(Duration::from_secs(5)), 1.0);
        assert_eq!(h.may_start(t0 + Duration::from_secs(4), 0, 4), 0);
        assert_eq!(h.paused_until(), Some(t0 + Duration::from_secs(5)));
        // The time has passed: one delivery probes, the others wait for its answer.
        assert_eq!(h.may_start(t0 + Duration::from_secs(5), 0, 4), 1);
        assert_eq!(h.may_start(t0 + Duration::from_secs(5), 1, 4), 0);
        h.answered(t0 + Duration::from_secs(6));
        assert_eq!(h.may_start(t0 + Duration::from_secs(6), 1, 4), 3);
    }

    #[test]
    fn failures_in_a_row_pause_the_sink_with_a_growing_backoff() {
        let mut h = health();
        let t0 = Instant::now();
        h.failed(t0, None, 1.0);
        h.failed(t0, None, 1.0);
        assert_eq!(h.may_start(t0, 0, 4), 4, "two failures may be bad luck");
        h.failed(t0, None, 1.0);
        assert_eq!(h.paused_until(), Some(t0 + Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(h.may_start(t1, 0, 4), 1);
        h.failed(t1, None, 1.0);
        assert_eq!(h.paused_until(), Some(t1 + Duration::from_secs(2)));
    }

    #[test]
    fn a_shorter_pause_does_not_cut_a_longer_one() {
        let mut h = health();
        let t0 = Instant::now();
        h.failed(t0, Some(Duration::from_secs(30)), 1.0);
        h.failed(t0, Some(Duration::from_secs(1)), 1.0);
        assert_eq!(h.paused_until(), Some(t0 + Duration::from_secs(30)));
    }

    #[test]
    fn a_long_outage_is_reported_once_and_its_end_too() {
        let mut h = health();
        let t0 = Instant::now();
        h.failed(t0, None, 1.0);
        assert_eq!(h.check(t0 + Duration::from_secs(299)), None);
        assert_eq!(
            h.check(t0 + Duration::from_secs(301)),
            Some(HealthEvent::FailingLong {
                since: Duration::from_secs(301)
            })
        );
        assert_eq!(h.check(t0 + Duration::from_secs(400)), None);
        assert_eq!(
            h.failing_for(t0 + Duration::from_secs(400)),
            Duration::from_secs(400)
        );
        assert_eq!(
            h.answered(t0 + Duration::from_secs(500)),
            Some(HealthEvent::Recovered {
                after: Duration::from_secs(500)
            })
        );
        assert_eq!(h.failing_for(t0 + Duration::from_secs(501)), Duration::ZERO);
    }

    #[test]
    fn a_short_blip_is_not_reported() {
        let mut h = health();
        let t0 = Instant::now();
        h.failed(t0, None, 1.0);
        assert_eq!(h.answered(t0 + Duration::from_secs(2)), None);
    }
}
