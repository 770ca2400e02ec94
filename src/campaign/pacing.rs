//! A campaign's pace: first messages evenly spaced, `rate` a minute at most, the spacing
//! kept across a restart (it starts from the last message recorded, not from boot).

/// When the next first message may go, in Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacer {
    interval_ms: i64,
    last_ms: Option<i64>,
}

impl Pacer {
    /// At most `rate_per_min` a minute (0 is taken as 1: a campaign that never sends is a
    /// mistake, not a setting); `last_ms`, the last one sent, if any.
    pub fn new(rate_per_min: u32, last_ms: Option<i64>) -> Pacer {
        Pacer {
            interval_ms: 60_000 / i64::from(rate_per_min.max(1)),
            last_ms,
        }
    }

    /// How long to wait from `now_ms` before the next one (0: now).
    pub fn wait_ms(&self, now_ms: i64) -> i64 {
        match self.last_ms {
            // A clock set back must not stall the campaign for as long as it went back.
            Some(last) if last <= now_ms => (last + self.interval_ms - now_ms).max(0),
            _ => 0,
        }
    }

    /// One was sent at `now_ms`.
    pub fn sent(&mut self, now_ms: i64) {
        self.last_ms = Some(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_spaced_evenly_at_the_rate() {
        let mut p = Pacer::new(300, None);
        assert_eq!(p.wait_ms(1_000), 0, "the first goes at once");
        let mut now = 1_000;
        let mut times = Vec::new();
        for _ in 0..10 {
            now += p.wait_ms(now);
            times.push(now);
            p.sent(now);
        }
        assert!(times.windows(2).all(|w| w[1] - w[0] == 200), "{times:?}");
        // Late: no burst to catch up.
        assert_eq!(p.wait_ms(now + 5_000), 0);
        p.sent(now + 5_000);
        assert_eq!(p.wait_ms(now + 5_050), 150);
    }

    #[test]
    fn the_spacing_carries_over_a_restart_and_survives_odd_settings() {
        let p = Pacer::new(60, Some(10_000));
        assert_eq!(p.wait_ms(10_400), 600);
        assert_eq!(p.wait_ms(9_000), 0, "a clock set back does not stall");
        assert_eq!(Pacer::new(0, Some(0)).wait_ms(0), 60_000);
        assert_eq!(Pacer::new(u32::MAX, Some(0)).wait_ms(0), 0);
    }
}
