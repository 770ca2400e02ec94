//! `sauti serve`'s side of campaigns: finds the campaigns in the data directory (every
//! second, so that one started while serving is picked up) and texts each member in turn.
//!
//! A member is done once a line of `progress` says so; a restart carries on after the last
//! one. A crash between queueing a first message and recording it queues it again under
//! the same id ([`super::message_id`]), which the SMS queue sends once.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::pacing::Pacer;
use super::panel::Member;
use super::tracker::Tracker;
use super::{Campaign, EventLine, Outcome, Progress};
use crate::channel::{Channel, Rendered};
use crate::gateway::ConfiguredGateway;
use crate::server::App;
use crate::shutdown::Shutdown;
use crate::sms_outbox::SmsOutbox;
use crate::survey::Invited;
use crate::vault::NumberVault;

/// How often the data directory is looked at for new campaigns.
const POLL: Duration = Duration::from_secs(1);

/// How long to wait before trying a member again after the store or the queue failed.
const RETRY: Duration = Duration::from_secs(5);

/// What every campaign's task shares.
#[derive(Clone)]
pub struct Runner {
    pub app: Arc<App>,
    pub data_dir: PathBuf,
    pub vault: Arc<NumberVault>,
    pub tracker: Arc<Tracker>,
    pub shutdown: Shutdown,
}

impl Runner {
    /// Runs every campaign of the data directory, each in its own task, until shutdown.
    pub async fn run(self) {
        let mut started: HashSet<String> = HashSet::new();
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            let dir = self.data_dir.clone();
            let ids = tokio::task::spawn_blocking(move || super::list(&dir))
                .await
                .unwrap_or_default();
            for id in ids {
                if started.insert(id.clone()) {
                    tasks.spawn(self.clone().campaign(id));
                }
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = self.shutdown.recv() => break,
            }
        }
        // Each campaign's task returns on shutdown too, its last member recorded or not.
        while tasks.join_next().await.is_some() {}
    }

    /// Texts the members of campaign `id` not yet done, paced, from the first.
    async fn campaign(self, id: String) {
        let dir = super::campaign_dir(&self.data_dir, &id);
        let loaded = {
            let (data_dir, id) = (self.data_dir.clone(), id.clone());
            tokio::task::spawn_blocking(move || load_state(&data_dir, &id)).await
        };
        let state = match loaded {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::error!(campaign = %id, error = %e, "campaign not run: cannot read it");
                return;
            }
            Err(_) => return,
        };
        for p in &state.progress {
            if let (Outcome::Sent, Some(response)) = (p.outcome, &p.response)
                && let Ok(response) = uuid::Uuid::parse_str(response)
            {
                self.tracker.register(response, &id, p.member).await;
            }
        }
        for e in &state.events {
            self.tracker.written(&id, e.member, e.event).await;
        }
        let done: HashSet<usize> = state.progress.iter().map(|p| p.member).collect();
        let todo: Vec<usize> = (0..state.panel.len())
            .filter(|m| !done.contains(m))
            .collect();
        if todo.is_empty() {
            return;
        }
        let c = &state.campaign;
        let Some(gateway) = self
            .app
            .gateways
            .get(&Channel::Sms)
            .and_then(|g| g.get(&c.gateway))
        else {
            tracing::error!(campaign = %id, gateway = %c.gateway, "campaign not run: its SMS gateway is not served (declare it and restart)");
            return;
        };
        let Some(outbox) = &self.app.sms_outbox else {
            return;
        };
        if let Some(at) = c.at.as_deref().and_then(parse_time)
            && !self.sleep_until(at).await
        {
            return;
        }
        let last_sent = state.progress.iter().filter_map(|p| p.at_ms).max();
        let mut pacer = Pacer::new(c.rate_per_min, last_sent);
        tracing::info!(campaign = %id, flow = %c.flow, members = state.panel.len(), left = todo.len(), "campaign running");
        let progress = dir.join("progress");
        for member in todo {
            let Some(outcome) = self
                .member(c, gateway, outbox, &state.panel[member], member, &mut pacer)
                .await
            else {
                return;
            };
            if !self.record(&progress, &outcome).await {
                return;
            }
            if let Some(response) = outcome.response.as_deref()
                && let Ok(response) = uuid::Uuid::parse_str(response)
            {
                self.tracker.register(response, &id, member).await;
            }
        }
        tracing::info!(campaign = %id, "campaign done: every member texted or skipped");
    }

    /// What becomes of one member: texted (when the pace allows), skipped, or failed.
    /// `None` on shutdown.
    async fn member(
        &self,
        c: &Campaign,
        gateway: &ConfiguredGateway,
        outbox: &SmsOutbox,
        m: &Member,
        member: usize,
        pacer: &mut Pacer,
    ) -> Option<Progress> {
        let outcome = |outcome, response, at_ms| Progress {
            member,
            outcome,
            response,
            at_ms,
        };
        let Some(number) = self.vault.open(&m.number) else {
            tracing::error!(campaign = %c.id, member, "a panel number does not open with this key (SAUTI_NUMBER_KEY or the pseudonym key changed?): member failed");
            return Some(outcome(Outcome::Failed, None, None));
        };
        let survey = &self.app.survey;
        let pseudonym = survey.pseudonym_of(&number);
        if let Some(list) = survey.opt_outs()
            && list.contains(&pseudonym).await
        {
            return Some(outcome(Outcome::OptedOut, None, None));
        }
        let wait = pacer.wait_ms(now_ms());
        if wait > 0 && !self.sleep(Duration::from_millis(wait as u64)).await {
            return None;
        }
        let lang = m.lang.as_deref().or(c.lang.as_deref());
        let id = super::message_id(&c.id, member).to_string();
        loop {
            let now = OffsetDateTime::now_utc();
            let failure = match survey
                .invite(gateway, &number, &c.from, &c.flow, lang, now)
                .await
            {
                Ok(Invited::NotServed) => {
                    tracing::error!(campaign = %c.id, member, flow = %c.flow, "the campaign's flow is not served on SMS: member failed");
                    return Some(outcome(Outcome::Failed, None, None));
                }
                Ok(Invited::Busy) => {
                    tracing::info!(campaign = %c.id, member, "member in a conversation of their own: not texted");
                    return Some(outcome(Outcome::Busy, None, None));
                }
                Ok(Invited::Opened(invitation)) => {
                    let Rendered::Sms(message) = &invitation.message else {
                        return Some(outcome(Outcome::Failed, None, None));
                    };
                    match outbox
                        .queue(&id, &gateway.name, &number, &c.from, message)
                        .await
                    {
                        Ok(()) => {
                            let at = now_ms();
                            pacer.sent(at);
                            return Some(outcome(
                                Outcome::Sent,
                                Some(invitation.response_id.to_string()),
                                Some(at),
                            ));
                        }
                        Err(e) => e.to_string(),
                    }
                }
                Err(e) => e.to_string(),
            };
            tracing::warn!(campaign = %c.id, member, error = %failure, "first message not queued: trying again");
            if !self.sleep(RETRY).await {
                return None;
            }
        }
    }

    /// Appends `p` to `progress`, trying again until it is on disk; false on shutdown.
    async fn record(&self, progress: &Path, p: &Progress) -> bool {
        loop {
            match super::lines::append_json(progress, p).await {
                Ok(()) => return true,
                Err(e) => {
                    tracing::error!(path = %progress.display(), error = %e, "campaign progress not written: trying again");
                    if !self.sleep(RETRY).await {
                        return false;
                    }
                }
            }
        }
    }

    /// Sleeps `d`; false if shutdown came first.
    async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(d) => true,
            () = self.shutdown.recv() => false,
        }
    }

    /// Sleeps until `at`; false if shutdown came first.
    async fn sleep_until(&self, at: OffsetDateTime) -> bool {
        let left = at - OffsetDateTime::now_utc();
        if left.is_positive() {
            let d = Duration::try_from(left).unwrap_or(Duration::ZERO);
            return self.sleep(d).await;
        }
        true
    }
}

/// A campaign as read back from its directory.
struct State {
    campaign: Campaign,
    panel: Vec<Member>,
    progress: Vec<Progress>,
    events: Vec<EventLine>,
}

fn load_state(data_dir: &Path, id: &str) -> anyhow::Result<State> {
    let dir = super::campaign_dir(data_dir, id);
    let campaign = super::load(data_dir, id)?;
    let panel: Vec<Member> = super::lines::read(&dir.join("panel.jsonl"))?;
    anyhow::ensure!(
        panel.len() == campaign.members,
        "panel.jsonl holds {} members, campaign.json says {}",
        panel.len(),
        campaign.members
    );
    let progress = super::lines::read::<Progress>(&dir.join("progress"))?
        .into_iter()
        .filter(|p| p.member < panel.len())
        .collect();
    let events = super::lines::read(&dir.join("events"))?;
    Ok(State {
        campaign,
        panel,
        progress,
        events,
    })
}

/// RFC 3339, as `--at` takes it.
pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}
