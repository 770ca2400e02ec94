//! Abuse limits that keep real respondents served under a flood: token buckets per respondent
//! (hops) and per gateway (new sessions), in bounded memory, each check O(1).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// A rate: `per_sec` on average, up to `burst` at once. `per_sec = 0` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub per_sec: f64,
    pub burst: f64,
}

impl Rate {
    pub const UNLIMITED: Rate = Rate {
        per_sec: 0.0,
        burst: 0.0,
    };

    fn unlimited(&self) -> bool {
        self.per_sec <= 0.0
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            tokens: rate.burst.max(1.0),
            at: now,
        }
    }

    /// Takes one token if there is one.
    fn take(&mut self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_sec).min(rate.burst.max(1.0));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One bucket (a gateway's new sessions).
#[derive(Debug)]
pub struct Limiter {
    rate: Rate,
    bucket: Mutex<Option<Bucket>>,
}

impl Limiter {
    pub fn new(rate: Rate) -> Limiter {
        Limiter {
            rate,
            bucket: Mutex::new(None),
        }
    }

    pub fn allow(&self, now: Instant) -> bool {
        if self.rate.unlimited() {
            return true;
        }
        let mut b = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        b.get_or_insert_with(|| Bucket::full(self.rate, now))
            .take(self.rate, now)
    }
}

/// A bucket per key (a respondent's hops), at most `cap` keys in all (64 at least).
///
/// Keys are kept as their 64-bit hash (two respondents sharing a bucket is a 2⁻⁶⁴ chance), in
/// shards of their own: a map growing by doubling rehashes one shard of small entries, not
/// one map of strings, so no hop waits milliseconds behind another's insert (it did, once a
/// map held tens of thousands of respondents). A full shard is emptied, which only forgives
/// the flooders of the moment: memory stays bounded, each check O(1) amortised.
#[derive(Debug)]
pub struct KeyedLimiter {
    rate: Rate,
    /// Keys per shard.
    cap: usize,
    shards: Box<[Mutex<HashMap<u64, Bucket, IdentityBuildHasher>>]>,
}

/// Shards of the keyed limiter: enough that two hops rarely meet on one.
const SHARDS: usize = 64;

impl KeyedLimiter {
    pub fn new(rate: Rate, cap: usize) -> KeyedLimiter {
        KeyedLimiter {
            rate,
            cap: (cap / SHARDS).max(1),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    pub fn allow(&self, key: &str, now: Instant) -> bool {
        if self.rate.unlimited() {
            return true;
        }
        let hash = crate::hash::fnv1a(key.as_bytes());
        // The low bits pick the shard; the map hashes the rest (FNV mixes every bit).
        let mut map = self.shards[(hash as usize) % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(b) = map.get_mut(&hash) {
            return b.take(self.rate, now);
        }
        if map.len() >= self.cap {
            map.clear();
        }
        let mut b = Bucket::full(self.rate, now);
        let ok = b.take(self.rate, now);
        map.insert(hash, b);
        ok
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|m| m.len()).unwrap_or(0))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Keys that are hashes already: used as they are.
#[derive(Default)]
pub struct IdentityHasher(u64);

impl std::hash::Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        // Shards took the low bits: the map's buckets come from the others.
        self.0.rotate_right(6)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type IdentityBuildHasher = std::hash::BuildHasherDefault<IdentityHasher>;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_engages_and_releases() {
        let rate = Rate {
            per_sec: 2.0,
            burst: 3.0,
        };
        let l = Limiter::new(rate);
        let t0 = Instant::now();
        assert!((0..3).all(|_| l.allow(t0)));
        assert!(!l.allow(t0), "the burst is spent");
        assert!(
            l.allow(t0 + Duration::from_millis(500)),
            "one more after 1/2 s"
        );
        assert!(!l.allow(t0 + Duration::from_millis(500)));
        assert!(Limiter::new(Rate::UNLIMITED).allow(t0));
    }

    #[test]
    fn keys_are_limited_apart_in_bounded_memory() {
        let rate = Rate {
            per_sec: 1.0,
            burst: 1.0,
        };
        let l = KeyedLimiter::new(rate, 100);
        let t0 = Instant::now();
        assert!(l.allow("a", t0));
        assert!(!l.allow("a", t0));
        assert!(l.allow("b", t0), "another respondent is not held back");
        for i in 0..1000 {
            l.allow(&i.to_string(), t0);
        }
        assert!(l.len() <= 100);
    }
}
