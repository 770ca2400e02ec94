//! Keeps embedded mode's files bounded: the journal drops the responses every sink has
//! delivered, and each sink's acknowledgements drop the ids of responses no longer in it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

use super::{DiskQueue, OutboxError};
use crate::journal::{Compacted, Journal};
use crate::shutdown::Shutdown;

/// The journal and the queues that read it.
pub struct Compactor<P = crate::response::ResponseHead> {
    pub journal: Journal,
    pub queues: Vec<Arc<DiskQueue<P>>>,
    /// Compact once the journal holds this many bytes.
    pub threshold: u64,
}

/// What the compaction needs of a record.
#[derive(Deserialize)]
struct Head {
    id: String,
    #[serde(default)]
    flow: String,
}

impl<P: super::Item> Compactor<P> {
    /// Compacts now: every queue is held still (no read, acknowledgement or burial) while
    /// the journal is rewritten with the responses some sink has not delivered (dead letters
    /// included: a replay needs their body); then each sink's acknowledgements are cut to the
    /// responses kept, and every queue reads the new journal from its start. A crash at any
    /// point leaves either file whole: nothing is lost, no delivered response comes back.
    pub async fn compact(&self, at_start: bool) -> Result<Compacted, OutboxError> {
        let mut held = Vec::with_capacity(self.queues.len());
        for q in &self.queues {
            held.push(q.hold().await);
        }
        let mut sinks = Vec::with_capacity(held.len());
        for h in &mut held {
            if at_start {
                h.compact_dead_letters()?;
            }
            sinks.push((h.flows(), h.delivered()?));
        }
        let kept = Arc::new(Mutex::new(HashSet::new()));
        let keeping = kept.clone();
        let compacted = self
            .journal
            .compact(move |line| {
                let Ok(head) = serde_json::from_slice::<Head>(line) else {
                    // Not a record (already skipped by every reader).
                    return false;
                };
                let pending = sinks.iter().any(|(flows, delivered)| {
                    (flows.is_empty() || flows.contains(&head.flow))
                        && !delivered.contains(&head.id)
                });
                if pending {
                    keeping
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(head.id);
                }
                pending
            })
            .await
            .map_err(|e| OutboxError::Io(std::io::Error::other(e)))?;
        let kept = std::mem::take(&mut *kept.lock().unwrap_or_else(|p| p.into_inner()));
        for h in &mut held {
            h.journal_compacted(&kept)?;
        }
        Ok(compacted)
    }

    /// Compacts at start, then whenever the journal has grown past the threshold, until
    /// `shutdown`. While the collectors are down nothing can be dropped: the next attempt
    /// waits until the journal has doubled.
    pub async fn run(self, every: Duration, shutdown: Shutdown) {
        let journal = self.journal.path().display().to_string();
        let report = |c: &Compacted| {
            tracing::info!(
                %journal,
                kept = c.kept,
                dropped = c.dropped,
                bytes_before = c.bytes_before,
                bytes_after = c.bytes_after,
                "journal compacted"
            );
        };
        let mut threshold = self.threshold;
        match self.compact(true).await {
            Ok(c) => report(&c),
            Err(e) => tracing::error!(%journal, error = %e, "journal not compacted"),
        }
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = shutdown.recv() => return,
            }
            if self.journal.progress().durable_len() < threshold {
                continue;
            }
            match self.compact(false).await {
                Ok(c) => {
                    report(&c);
                    threshold = self.threshold.max(c.bytes_after.saturating_mul(2));
                }
                Err(e) => tracing::error!(%journal, error = %e, "journal not compacted"),
            }
        }
    }
}
