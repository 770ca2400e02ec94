//! What `info` says about traffic: one line per interval with the hops served by result and
//! the sessions and surveys behind them, instead of a line per survey (free on the hop).
//!
//! A line per completed survey cost 16% of embedded mode's throughput under load (formatting,
//! and the log thread woken for each line); counting costs an atomic add. Per-survey lines,
//! with their response ids, are at `debug` (docs/configuration.md, "Logging").

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::metrics::HopResult;

/// Counters since the last summary (each is taken and reset by [`Activity::take`]).
#[derive(Default)]
pub struct Activity {
    hops: [AtomicU64; HopResult::COUNT],
    sessions_started: AtomicU64,
    resumed: AtomicU64,
    gave_up: AtomicU64,
    sessions_ended: AtomicU64,
}

/// One interval's traffic.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub hops: u64,
    pub completed: u64,
    pub rate_limited: u64,
    pub superseded: u64,
    pub failed: u64,
    pub sessions_started: u64,
    pub resumed: u64,
    pub gave_up: u64,
    /// Sessions and calls the gateway said ended on its side.
    pub sessions_ended: u64,
}

impl Activity {
    pub fn hop(&self, result: HopResult) {
        self.hops[result as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn session_started(&self) {
        self.sessions_started.fetch_add(1, Ordering::Relaxed);
    }

    pub fn resumed(&self) {
        self.resumed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn gave_up(&self) {
        self.gave_up.fetch_add(1, Ordering::Relaxed);
    }

    pub fn session_ended(&self) {
        self.sessions_ended.fetch_add(1, Ordering::Relaxed);
    }

    /// What happened since the last call (and starts counting again).
    pub fn take(&self) -> Summary {
        let hop = |r: HopResult| self.hops[r as usize].swap(0, Ordering::Relaxed);
        let (served, completed) = (hop(HopResult::Served), hop(HopResult::Completed));
        let (unknown, rate_limited) = (hop(HopResult::UnknownAddress), hop(HopResult::RateLimited));
        let (superseded, failed) = (hop(HopResult::Superseded), hop(HopResult::Failed));
        Summary {
            hops: served + completed + unknown + rate_limited + superseded + failed,
            completed,
            rate_limited,
            superseded,
            failed,
            sessions_started: self.sessions_started.swap(0, Ordering::Relaxed),
            resumed: self.resumed.swap(0, Ordering::Relaxed),
            gave_up: self.gave_up.swap(0, Ordering::Relaxed),
            sessions_ended: self.sessions_ended.swap(0, Ordering::Relaxed),
        }
    }

    /// Logs a summary every `every` in which anything happened, until `stop` resolves.
    pub async fn report(&self, every: Duration, stop: impl Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = &mut stop => return,
            }
            let s = self.take();
            if s != Summary::default() {
                tracing::info!(
                    interval_secs = every.as_secs(),
                    hops = s.hops,
                    sessions_started = s.sessions_started,
                    surveys_completed = s.completed,
                    resumed = s.resumed,
                    gave_up = s.gave_up,
                    sessions_ended = s.sessions_ended,
                    superseded = s.superseded,
                    rate_limited = s.rate_limited,
                    failed = s.failed,
                    "activity"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_counts_each_interval_once() {
        let a = Activity::default();
        a.session_started();
        for _ in 0..5 {
            a.hop(HopResult::Served);
        }
        a.hop(HopResult::Completed);
        a.hop(HopResult::RateLimited);
        a.resumed();
        a.session_ended();
        let s = a.take();
        assert_eq!(
            s,
            Summary {
                hops: 7,
                completed: 1,
                rate_limited: 1,
                sessions_started: 1,
                resumed: 1,
                sessions_ended: 1,
                ..Summary::default()
            }
        );
        assert_eq!(a.take(), Summary::default(), "counted again");
    }
}
