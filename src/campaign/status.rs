//! `sauti campaign status`: what became of each campaign's members, read from its files
//! (by any process, while `sauti serve` runs it or not).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Serialize;

use super::{Event, EventLine, Outcome, Progress};

/// One campaign's counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub id: String,
    pub flow: String,
    pub created: String,
    pub at: Option<String>,
    pub rate_per_min: u32,
    pub members: usize,
    /// First message queued for sending.
    pub sent: usize,
    /// Replied at least once to the survey the first message opened.
    pub started: usize,
    /// Reached its end.
    pub completed: usize,
    /// Not texted: opted out (a stop word) before their turn.
    pub opted_out: usize,
    /// Not texted: the number did not open, or the flow was not served.
    pub failed: usize,
    /// Not texted: in a conversation of their own when their turn came.
    pub busy: usize,
    /// Not handled yet.
    pub pending: usize,
}

/// The status of campaign `id`.
pub fn of(data_dir: &Path, id: &str) -> anyhow::Result<Status> {
    let c = super::load(data_dir, id)?;
    let dir = super::campaign_dir(data_dir, id);
    let progress: Vec<Progress> = super::lines::read(&dir.join("progress"))?;
    let events: Vec<EventLine> = super::lines::read(&dir.join("events"))?;
    Ok(count(c, &progress, &events))
}

/// Counts from the lines of `progress` and `events` (each member counted once).
fn count(c: super::Campaign, progress: &[Progress], events: &[EventLine]) -> Status {
    let mut outcomes: HashMap<usize, Outcome> = HashMap::new();
    for p in progress.iter().filter(|p| p.member < c.members) {
        outcomes.entry(p.member).or_insert(p.outcome);
    }
    let of = |o: Outcome| outcomes.values().filter(|x| **x == o).count();
    let members_with = |e: Event| -> HashSet<usize> {
        events
            .iter()
            .filter(|l| l.event == e && l.member < c.members)
            .map(|l| l.member)
            .collect()
    };
    let completed = members_with(Event::Completed);
    let started = members_with(Event::Started).union(&completed).count();
    Status {
        sent: of(Outcome::Sent),
        opted_out: of(Outcome::OptedOut),
        failed: of(Outcome::Failed),
        busy: of(Outcome::Busy),
        pending: c.members - outcomes.len(),
        started,
        completed: completed.len(),
        members: c.members,
        id: c.id,
        flow: c.flow,
        created: c.created,
        at: c.at,
        rate_per_min: c.rate_per_min,
    }
}

/// One campaign as `sauti campaign status` prints it.
pub fn text(s: &Status) -> String {
    let at =
        s.at.as_deref()
            .map(|a| format!(", not before {a}"))
            .unwrap_or_default();
    format!(
        "campaign {}: flow {}, {} member(s), {}/min{at}, created {}\n  sent {}, started {}, \
         completed {}, opted out {}, failed {}, busy {}, pending {}\n",
        s.id,
        s.flow,
        s.members,
        s.rate_per_min,
        s.created,
        s.sent,
        s.started,
        s.completed,
        s.opted_out,
        s.failed,
        s.busy,
        s.pending
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::Campaign;

    #[test]
    fn each_member_counts_once_whatever_the_files_repeat() {
        let c = Campaign {
            id: "c".into(),
            flow: "kufatilia".into(),
            rate_per_min: 60,
            at: None,
            from: "20880".into(),
            gateway: "africastalking".into(),
            lang: None,
            created: "2026-01-01T00:00:00Z".into(),
            members: 5,
        };
        let p = |member, outcome| Progress {
            member,
            outcome,
            response: None,
            at_ms: None,
        };
        let progress = [
            p(0, Outcome::Sent),
            p(1, Outcome::OptedOut),
            p(2, Outcome::Sent),
            p(2, Outcome::Sent),
            p(3, Outcome::Failed),
            p(99, Outcome::Sent),
        ];
        let e = |member, event| EventLine { member, event };
        let events = [
            e(0, Event::Started),
            e(0, Event::Started),
            e(0, Event::Completed),
            e(2, Event::Completed),
            e(42, Event::Started),
        ];
        let s = count(c, &progress, &events);
        assert_eq!(
            (
                s.sent,
                s.started,
                s.completed,
                s.opted_out,
                s.failed,
                s.pending
            ),
            (2, 2, 2, 1, 1, 1)
        );
    }
}
