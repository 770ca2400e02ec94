//! The SMS outbox: each message to send is one JSON line appended (and fsynced) to
//! `<data-dir>/sms-outbox.jsonl`, the number sealed; the outbox machinery sends it once per id.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::journal::{Journal, JournalError, JournalGuard, JournalProgress};
use crate::outbox::Item;
use crate::render::sms::SmsMessage;
use crate::vault::NumberVault;

/// The journal's file name in the data directory.
pub const FILE: &str = "sms-outbox.jsonl";

/// The queue's name: its acknowledgements and dead letters are `outbox/sms-outbox.*`, its
/// metrics are labelled `sink="sms-outbox"`.
pub const QUEUE: &str = "sms-outbox";

/// One message queued for sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedSms {
    /// Unique per message: the same id queued again is sent once.
    pub id: String,
    /// The respondent's number sealed by the [`NumberVault`] (`v1:...`): never in clear.
    pub to: String,
    /// The short code it is sent from.
    pub from: String,
    /// The parts of a concatenated SMS, in order.
    pub parts: Vec<String>,
    /// The survey it belongs to, if any (dead letters say it).
    #[serde(default)]
    pub flow: String,
    /// When it was queued (unix ms): it is given up `max_age_secs` after.
    #[serde(default)]
    pub at: i64,
    /// The gateway it goes out through (the one the conversation came in by).
    #[serde(default)]
    pub gateway: String,
}

impl Item for QueuedSms {
    fn parse(body: &[u8]) -> Option<QueuedSms> {
        serde_json::from_slice(body).ok()
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn flow(&self) -> &str {
        &self.flow
    }
    fn queued_at_ms(&self) -> Option<i64> {
        (self.at > 0).then_some(self.at)
    }
}

/// The id of the reply to an inbound message: the same inbound (a gateway's retry) gives the
/// same reply id, so a reply queued again for it is still sent once. `None` without an id.
pub fn reply_id(gateway: &str, inbound_id: Option<&str>) -> Option<String> {
    let inbound = inbound_id.filter(|i| !i.is_empty())?;
    Some(derived_id(&["sms-reply", gateway, inbound]))
}

/// A UUID (version 8) derived from `parts`: stable across processes and restarts.
pub fn derived_id(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for p in parts {
        hash.update((p.len() as u64).to_be_bytes());
        hash.update(p.as_bytes());
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The queue of messages to send, durable before the gateway's callback is acknowledged.
pub struct SmsOutbox {
    journal: Journal,
    vault: Arc<NumberVault>,
    // Dropped after the journal: waits for its writer to flush.
    _guard: JournalGuard,
}

impl SmsOutbox {
    /// Opens (creating if needed) `<data_dir>/sms-outbox.jsonl`.
    pub fn open(data_dir: &Path, vault: Arc<NumberVault>) -> Result<SmsOutbox, JournalError> {
        let (journal, guard) = Journal::open_file(&data_dir.join(FILE))?;
        Ok(SmsOutbox {
            journal,
            vault,
            _guard: guard,
        })
    }

    /// Queues `message` for `to` (in clear: sealed here) from short code `from`, to go out
    /// through `gateway`, as message `id`; returns once it is on disk. The same `id` queued
    /// twice is sent once.
    pub async fn queue(
        &self,
        id: &str,
        gateway: &str,
        to: &str,
        from: &str,
        message: &SmsMessage,
    ) -> Result<(), JournalError> {
        let queued = QueuedSms {
            id: id.to_owned(),
            to: self.vault.seal(to),
            from: from.to_owned(),
            parts: message.parts.clone(),
            flow: String::new(),
            at: crate::outbox::now_unix_ms(),
            gateway: gateway.to_owned(),
        };
        let line = serde_json::to_vec(&queued).map_err(std::io::Error::other)?;
        self.journal.append_line(line).await
    }

    /// The journal (for its sender's queue and compaction).
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn progress(&self) -> Arc<JournalProgress> {
        self.journal.progress()
    }

    pub fn vault(&self) -> Arc<NumberVault> {
        self.vault.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retried_inbound_gets_the_same_reply_id() {
        let a = reply_id("africastalking", Some("ATXid_1")).unwrap();
        assert_eq!(Some(a.clone()), reply_id("africastalking", Some("ATXid_1")));
        assert_ne!(Some(a.clone()), reply_id("africastalking", Some("ATXid_2")));
        assert_ne!(Some(a), reply_id("other", Some("ATXid_1")));
        assert_eq!(reply_id("africastalking", None), None);
        assert_eq!(reply_id("africastalking", Some("")), None);
        // Lengths are part of the hash: ("ab","c") is not ("a","bc").
        assert_ne!(derived_id(&["ab", "c"]), derived_id(&["a", "bc"]));
        assert!(uuid::Uuid::parse_str(&derived_id(&["x"])).is_ok());
    }
}
