//! The SMS outbox: each message to send, one JSON line appended (and fsynced) to
//! `<data-dir>/sms-outbox.jsonl`, the only place a raw number is held (the file is 0600).

use std::path::Path;

use serde::Serialize;

use crate::journal::{Journal, JournalError, JournalGuard};
use crate::render::sms::SmsMessage;

/// One message queued for sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct QueuedSms {
    /// Unique per message (a sender retrying it sends this id again).
    pub id: String,
    /// The respondent's raw number: needed to send, never logged.
    pub to: String,
    /// The short code it is sent from.
    pub from: String,
    /// The parts of a concatenated SMS, in order.
    pub parts: Vec<String>,
}

/// The queue of messages to send, durable before the gateway's callback is acknowledged.
pub struct SmsOutbox {
    journal: Journal,
    // Dropped after the journal: waits for its writer to flush.
    _guard: JournalGuard,
}

impl SmsOutbox {
    /// Opens (creating if needed) `<data_dir>/sms-outbox.jsonl`.
    pub fn open(data_dir: &Path) -> Result<SmsOutbox, JournalError> {
        let (journal, guard) = Journal::open_file(&data_dir.join("sms-outbox.jsonl"))?;
        Ok(SmsOutbox {
            journal,
            _guard: guard,
        })
    }

    /// Queues `message` for `to` from short code `from` as message `id`; returns once it is
    /// on disk. The same `id` queued twice is sent once.
    pub async fn queue(
        &self,
        id: &str,
        to: &str,
        from: &str,
        message: &SmsMessage,
    ) -> Result<(), JournalError> {
        let queued = QueuedSms {
            id: id.to_owned(),
            to: to.to_owned(),
            from: from.to_owned(),
            parts: message.parts.clone(),
        };
        let line = serde_json::to_vec(&queued).map_err(std::io::Error::other)?;
        self.journal.append_line(line).await
    }
}
