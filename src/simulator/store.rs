//! The simulator's respondents, in this process's memory only: a small map bounded in size,
//! whose entries expire when idle. Never the real session store; nothing is written anywhere.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::session::Respondent;

/// At most this many simulated respondents at once: a browser tab each, on a developer's
/// machine; a flood of new ids evicts the least recently used rather than growing memory.
pub const MAX_RESPONDENTS: usize = 256;

/// A simulated respondent untouched this long is forgotten (resume state included).
pub const IDLE_EXPIRY: Duration = Duration::from_secs(60 * 60);

struct Entry {
    respondent: Respondent,
    touched: Instant,
}

/// Respondents by the id the page chose, bounded and expiring; time comes in from the caller.
pub struct Respondents {
    entries: HashMap<String, Entry>,
    capacity: usize,
    expiry: Duration,
}

impl Default for Respondents {
    fn default() -> Self {
        Respondents::new(MAX_RESPONDENTS, IDLE_EXPIRY)
    }
}

impl Respondents {
    pub fn new(capacity: usize, expiry: Duration) -> Respondents {
        Respondents {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            expiry,
        }
    }

    /// The respondent `id`, made when unknown (or expired), touched at `now`.
    pub fn get_or_add(&mut self, id: &str, now: Instant) -> &mut Respondent {
        self.entries
            .retain(|_, e| now.saturating_duration_since(e.touched) < self.expiry);
        if !self.entries.contains_key(id) && self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.touched)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        let entry = self.entries.entry(id.to_owned()).or_insert_with(|| Entry {
            respondent: Respondent::default(),
            touched: now,
        });
        entry.touched = now;
        &mut entry.respondent
    }

    /// The respondent `id` if it is still kept, touched at `now`.
    pub fn get(&mut self, id: &str, now: Instant) -> Option<&mut Respondent> {
        let expiry = self.expiry;
        let entry = self
            .entries
            .get_mut(id)
            .filter(|e| now.saturating_duration_since(e.touched) < expiry)?;
        entry.touched = now;
        Some(&mut entry.respondent)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_respondent_makes_room() {
        let mut r = Respondents::new(2, Duration::from_secs(60));
        let t = Instant::now();
        r.get_or_add("a", t);
        r.get_or_add("b", t + Duration::from_secs(1));
        r.get_or_add("a", t + Duration::from_secs(2));
        r.get_or_add("c", t + Duration::from_secs(3));
        assert_eq!(r.len(), 2);
        assert!(r.get("b", t + Duration::from_secs(4)).is_none());
        assert!(r.get("a", t + Duration::from_secs(4)).is_some());
    }

    #[test]
    fn an_idle_respondent_expires() {
        let mut r = Respondents::new(8, Duration::from_secs(60));
        let t = Instant::now();
        r.get_or_add("a", t);
        assert!(r.get("a", t + Duration::from_secs(59)).is_some());
        assert!(r.get("a", t + Duration::from_secs(120)).is_none());
        r.get_or_add("b", t + Duration::from_secs(121));
        assert_eq!(r.len(), 1);
    }
}
