//! Outbound surveys to a panel of informants: `sauti campaign start` writes a campaign into
//! the data directory, `sauti serve` texts each member the first question, paced.
//!
//! A campaign is the directory `<data-dir>/campaigns/<id>/`: `campaign.json` (what to send,
//! how fast), `panel.jsonl` (the members, numbers sealed), `progress` (one line per member
//! handled, appended and fsynced) and `events` (members who answered or finished).

pub mod command;
pub mod lines;
pub mod optouts;
pub mod pacing;
pub mod panel;
pub mod runner;
pub mod status;
pub mod tracker;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What `sauti campaign start` decided, as `campaign.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: String,
    pub flow: String,
    /// First messages per minute, at most.
    pub rate_per_min: u32,
    /// Not before this time (RFC 3339), if given.
    #[serde(default)]
    pub at: Option<String>,
    /// The short code the first message is sent from, and respondents answer to.
    pub from: String,
    /// The SMS gateway whose conversations the answers continue.
    pub gateway: String,
    /// The language of members whose panel row names none (none: the language screen).
    #[serde(default)]
    pub lang: Option<String>,
    /// When the campaign was written (RFC 3339).
    pub created: String,
    /// How many members the panel holds.
    pub members: usize,
}

/// What became of one member, as a line of `progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The first question was queued for sending.
    Sent,
    /// The member had texted a stop word: not texted.
    OptedOut,
    /// Could not be texted (a sealed number that does not open, a flow not served).
    Failed,
    /// In the middle of a conversation of their own when their turn came (a report they
    /// started): not texted, so that it is not replaced.
    Busy,
}

/// One line of `progress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub member: usize,
    pub outcome: Outcome,
    /// The survey the first message opened (sent only): answers to it count as the member's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// Unix milliseconds (sent only): pacing carries on from here after a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
}

/// What a member did with the survey, as a line of `events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Replied at least once to the campaign's survey.
    Started,
    /// Reached the end of it (completed or declined).
    Completed,
}

/// One line of `events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLine {
    pub member: usize,
    pub event: Event,
}

/// `<data-dir>/campaigns`.
pub fn campaigns_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("campaigns")
}

/// The directory of campaign `id`.
pub fn campaign_dir(data_dir: &Path, id: &str) -> PathBuf {
    campaigns_dir(data_dir).join(id)
}

/// Whether `id` could be a campaign's (a name made by [`new_id`]): anything else in the
/// directory is not ours to read.
pub fn is_campaign_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// A new campaign id: time-ordered, so that campaigns list in the order they were started.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The ids of the campaigns written completely (their `campaign.json` is the last file
/// written), oldest first.
pub fn list(data_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(campaigns_dir(data_dir)) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| is_campaign_id(id))
        .filter(|id| campaign_dir(data_dir, id).join("campaign.json").is_file())
        .collect();
    ids.sort();
    ids
}

/// Reads `campaign.json` of campaign `id`.
pub fn load(data_dir: &Path, id: &str) -> anyhow::Result<Campaign> {
    let path = campaign_dir(data_dir, id).join("campaign.json");
    let bytes = std::fs::read(&path)?;
    let campaign: Campaign =
        serde_json::from_slice(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    anyhow::ensure!(
        campaign.id == id,
        "{}: names another campaign",
        path.display()
    );
    Ok(campaign)
}

/// The id of member `member`'s first message: the same whenever it is queued again (after a
/// crash between queueing it and recording it), so that the queue sends it once.
pub fn message_id(campaign: &str, member: usize) -> uuid::Uuid {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    hash.update(b"sauti campaign first message\0");
    hash.update(campaign.as_bytes());
    hash.update(b"\0");
    hash.update((member as u64).to_be_bytes());
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_message_has_the_same_id_each_time_and_its_own() {
        let id = "0190f000-0000-7000-8000-000000000001";
        assert_eq!(message_id(id, 3), message_id(id, 3));
        assert_ne!(message_id(id, 3), message_id(id, 4));
        assert_ne!(
            message_id(id, 3),
            message_id("0190f000-0000-7000-8000-000000000002", 3)
        );
    }

    #[test]
    fn only_names_made_here_are_campaign_ids() {
        assert!(is_campaign_id(&new_id()));
        assert!(!is_campaign_id("../etc"));
        assert!(!is_campaign_id(""));
        assert!(!is_campaign_id("x.tmp"));
    }
}
