//! Which surveys campaigns opened, so that the SMS hop can tell a campaign's member who
//! answers or finishes (`events` of the campaign) from anyone else texting the short code.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use uuid::Uuid;

use super::{Event, EventLine};

/// The surveys campaigns opened (by response id), and the events already written.
#[derive(Debug)]
pub struct Tracker {
    data_dir: PathBuf,
    // Held across the write: an event is written once even when two hops race to it.
    inner: tokio::sync::Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    members: HashMap<Uuid, (String, usize)>,
    written: HashSet<(String, usize, Event)>,
}

impl Tracker {
    pub fn new(data_dir: PathBuf) -> Tracker {
        Tracker {
            data_dir,
            inner: tokio::sync::Mutex::new(Inner::default()),
        }
    }

    /// Survey `response` is member `member` of campaign `campaign`.
    pub async fn register(&self, response: Uuid, campaign: &str, member: usize) {
        self.inner
            .lock()
            .await
            .members
            .insert(response, (campaign.to_owned(), member));
    }

    /// `event` of the member is already in the campaign's `events` (read back at start).
    pub async fn written(&self, campaign: &str, member: usize, event: Event) {
        self.inner
            .lock()
            .await
            .written
            .insert((campaign.to_owned(), member, event));
    }

    /// Whether survey `response` is a campaign's.
    pub async fn is_campaign(&self, response: &Uuid) -> bool {
        self.inner.lock().await.members.contains_key(response)
    }

    /// Writes `event` for survey `response` if it is a campaign's, once per member.
    pub async fn record(&self, response: &Uuid, event: Event) -> std::io::Result<()> {
        let mut inner = self.inner.lock().await;
        let Some((campaign, member)) = inner.members.get(response).cloned() else {
            return Ok(());
        };
        let key = (campaign, member, event);
        if inner.written.contains(&key) {
            return Ok(());
        }
        let path = super::campaign_dir(&self.data_dir, &key.0).join("events");
        super::lines::append_json(&path, &EventLine { member, event }).await?;
        inner.written.insert(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_of_campaign_surveys_are_written_once_and_others_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(super::super::campaign_dir(dir.path(), "c1")).unwrap();
        let t = Tracker::new(dir.path().to_owned());
        let ours = Uuid::now_v7();
        t.register(ours, "c1", 7).await;
        t.record(&ours, Event::Started).await.unwrap();
        t.record(&ours, Event::Started).await.unwrap();
        t.record(&Uuid::now_v7(), Event::Started).await.unwrap();
        t.record(&ours, Event::Completed).await.unwrap();
        let lines: Vec<EventLine> =
            super::super::lines::read(&super::super::campaign_dir(dir.path(), "c1").join("events"))
                .unwrap();
        assert_eq!(
            lines,
            [
                EventLine {
                    member: 7,
                    event: Event::Started
                },
                EventLine {
                    member: 7,
                    event: Event::Completed
                }
            ]
        );
    }
}
