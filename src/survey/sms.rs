//! The SMS hop: a keyword (re)starts its survey, a stop word ends the conversation, a
//! message delivered twice is taken once; any other text is an answer, served as any hop.
//! A number over its rate, or a conversation past its cap of replies, gets no reply.

use time::OffsetDateTime;

use super::{HopError, Survey, unix_ms};
use crate::channel::sms::{KeywordTarget, SmsText};
use crate::channel::{self, ChannelMemory, Rendered};
use crate::engine;
use crate::flow::CompiledFlow;
use crate::gateway::{ConfiguredGateway, Inbound, InputCursor};
use crate::hash::fnv1a;
use crate::metrics::HopResult;
use crate::response::receipt_of;
use crate::session::{Ownership, ResumeWrite, Saved, SessionKey, SessionRecord, SessionStore};

/// A survey a campaign opened: its response id and the first message to send.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub response_id: uuid::Uuid,
    pub message: Rendered,
}

/// What a campaign's invitation came to.
#[derive(Debug, Clone)]
pub enum Invited {
    Opened(Invitation),
    /// The member is in the middle of a conversation (a report they started themselves): it
    /// is not replaced, nothing is sent.
    Busy,
    /// The flow is not served on SMS.
    NotServed,
}

/// How a new conversation opens: by keyword (the message's cursor) or by invitation, and
/// the messages the conversation it replaces already sent (the count goes on).
struct Opening<'a> {
    lang: Option<&'a str>,
    network: Option<String>,
    cursor: InputCursor,
    sent: u16,
}

/// What one number may make Sauti send by SMS (`[sms] respondent_rate`,
/// `max_messages_per_session`).
#[derive(Debug)]
pub(super) struct SmsLimits {
    pub(super) rate: crate::limits::KeyedLimiter,
    pub(super) max_per_session: std::num::NonZeroU16,
}

impl Default for SmsLimits {
    fn default() -> Self {
        SmsLimits {
            rate: crate::limits::KeyedLimiter::new(crate::limits::Rate::UNLIMITED, 1),
            max_per_session: crate::config::SmsConfig::default().max_messages_per_session,
        }
    }
}

impl Survey {
    /// Serves one inbound SMS; `None` when there is nothing to send (a number over its rate,
    /// a conversation past its cap). A message delivered again (same id) changes nothing and
    /// gets the reply it already caused, again: queued under the same reply id, it is sent
    /// once, and sent at all if the first queueing failed.
    pub async fn sms(
        &self,
        gateway: &ConfiguredGateway,
        inbound: &Inbound,
        now: OffsetDateTime,
    ) -> Result<Option<Rendered>, HopError> {
        let settings = gateway.render.sms.clone();
        let number = gateway.numbers.e164(&inbound.phone_number)?;
        let key = SessionKey {
            respondent: self.pseudonyms.of(&number),
            gateway: gateway.name.clone(),
            session_id: inbound.session_id.clone(),
        };
        let message = fnv1a(inbound.message_id.as_deref().unwrap_or_default().as_bytes());
        let what = settings.classify(&inbound.input);
        let campaign_survey;
        if !self
            .sms_limits
            .rate
            .allow(&key.respondent, std::time::Instant::now())
        {
            // Before the store is read: a flood costs no reply, no write, little work.
            self.metrics.rate_limited("sms_respondent");
            self.metrics.sms_unanswered(&gateway.name, "flood");
            tracing::debug!(gateway = %gateway.name, "SMS over the number's rate: no reply, nothing changed");
            return Ok(None);
        }
        {
            let _serial = self.locks.serialise(&key).await;
            let current = self.sessions.load(&key, true).await?;
            if let Some(v) = &current
                && v.record.cursor.len > 0
                && v.record.cursor.hash == message
            {
                return Ok(self.current_reply(gateway, &v.record));
            }
            let expected = current.as_ref().map_or(0, |v| v.version);
            let sent = current.as_ref().map_or(0, |v| v.record.channel.sms_sent());
            if sent >= self.sms_limits.max_per_session.get() {
                self.metrics.sms_unanswered(&gateway.name, "session_cap");
                tracing::info!(gateway = %gateway.name, sent, "SMS conversation past its cap of messages: no reply until it expires");
                return Ok(None);
            }
            // A finished or stopped conversation takes no answer: only a keyword starts anew.
            let live = current.filter(|v| {
                !v.record.state.is_finished()
                    && !matches!(v.record.channel, ChannelMemory::Sms { stopped: true, .. })
            });
            match what {
                SmsText::Start(target) => {
                    // Texting a keyword asks for texts again: campaigns may include them.
                    if let Some(list) = &self.opt_outs {
                        list.opt_in(&key.respondent)
                            .await
                            .map_err(HopError::OptOuts)?;
                    }
                    return self
                        .start(gateway, &key, inbound, target, (expected, sent), now)
                        .await;
                }
                SmsText::Stop => {
                    // Before the confirmation: once told they are out, they must be.
                    if let Some(list) = &self.opt_outs {
                        list.opt_out(&key.respondent)
                            .await
                            .map_err(HopError::OptOuts)?;
                    }
                    let lang_text = |id: &str| match &live {
                        Some(v) => self.text_in(&v.record, id),
                        None => None,
                    };
                    if let Some(v) = &live {
                        let mut record = v.record.clone();
                        record.cursor = gateway.adapter.cursor(&record.cursor, inbound);
                        // Kept (the stores have no delete) but stopped, its resume record
                        // cleared: nothing of it is offered again.
                        record.channel = ChannelMemory::Sms {
                            stopped: true,
                            sent: sent.saturating_add(1),
                        };
                        self.sessions
                            .save(
                                &key,
                                &record,
                                expected,
                                gateway.session_ttl,
                                ResumeWrite::Clear,
                                None,
                                Ownership::hold(key.owner_tag()),
                            )
                            .await?;
                        tracing::info!(gateway = %gateway.name, flow = %record.flow_id, "conversation stopped by the respondent");
                    }
                    let text = lang_text("sms-stopped")
                        .unwrap_or_else(|| self.multilingual("sms-stopped"));
                    return Ok(Some(channel::notice(
                        gateway.channel(),
                        &text,
                        &gateway.render,
                    )));
                }
                SmsText::Answer(_) if live.is_none() => {
                    let keyword = settings.keywords.keys().next().map_or("", String::as_str);
                    let keyword = self
                        .flows()
                        .current()
                        .find_map(|f| settings.keyword_of(&f.id))
                        .unwrap_or(keyword)
                        .to_owned();
                    let text = self.multilingual_with("sms-not-started", "keyword", &keyword);
                    return Ok(Some(channel::notice(
                        gateway.channel(),
                        &text,
                        &gateway.render,
                    )));
                }
                SmsText::Answer(_) => {}
            }
            campaign_survey = match (&self.campaigns, &live) {
                (Some(t), Some(v)) if t.is_campaign(&v.record.response_id).await => {
                    Some(v.record.response_id)
                }
                _ => None,
            };
        }
        let (rendered, result) = self.hop_with_result(gateway, inbound, now).await?;
        if let (Some(tracker), Some(response)) = (&self.campaigns, campaign_survey) {
            self.report_to_campaign(tracker, &response, result).await;
        }
        Ok(Some(rendered))
    }

    /// A campaign member answered their survey (and maybe finished it): said in the
    /// campaign's `events`. The answer is taken whether or not this is written.
    async fn report_to_campaign(
        &self,
        tracker: &crate::campaign::tracker::Tracker,
        response: &uuid::Uuid,
        result: HopResult,
    ) {
        use crate::campaign::Event;
        let mut events = vec![Event::Started];
        if result == HopResult::Completed {
            events.push(Event::Completed);
        }
        for event in events {
            if let Err(e) = tracker.record(response, event).await {
                tracing::warn!(error = %e, ?event, "a campaign event could not be written: its status will miss it");
            }
        }
    }

    /// A new survey on the flow a keyword names, replacing whatever the conversation held
    /// (`expected`: its version; `sent`: the messages it sent, a count that goes on).
    async fn start(
        &self,
        gateway: &ConfiguredGateway,
        key: &SessionKey,
        inbound: &Inbound,
        target: &KeywordTarget,
        (expected, sent): (u64, u16),
        now: OffsetDateTime,
    ) -> Result<Option<Rendered>, HopError> {
        let flows = self.flows();
        let Some(flow) = flows.route(gateway.channel(), &target.flow) else {
            tracing::error!(flow = %target.flow, "an SMS keyword names a flow that is not served");
            return Ok(Some(self.notice(gateway, "unknown-service")));
        };
        let opening = Opening {
            lang: target.lang.as_deref(),
            network: inbound.network.clone(),
            cursor: gateway.adapter.cursor(&InputCursor::START, inbound),
            sent,
        };
        let (_, rendered) = self
            .open_conversation(gateway, key, flow, opening, expected, now)
            .await?;
        tracing::debug!(gateway = %gateway.name, flow = %flow.id, "survey started by keyword");
        Ok(Some(rendered))
    }

    /// Opens survey `flow` for `number` (E.164) as if they had texted its keyword to
    /// `short_code`: the conversation their reply continues, with its first question to
    /// send them. A conversation in progress is never replaced (a report half-told would be
    /// lost): the member is busy; a finished or stopped one is.
    pub async fn invite(
        &self,
        gateway: &ConfiguredGateway,
        number: &str,
        short_code: &str,
        flow_id: &str,
        lang: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Invited, HopError> {
        let flows = self.flows();
        let Some(flow) = flows.route(gateway.channel(), flow_id) else {
            return Ok(Invited::NotServed);
        };
        let key = SessionKey {
            respondent: self.pseudonyms.of(number),
            gateway: gateway.name.clone(),
            // As the SMS gateway keys the conversation of a message to `short_code`.
            session_id: crate::gateway::africastalking_sms::session_id(short_code),
        };
        let _serial = self.locks.serialise(&key).await;
        let current = self.sessions.load(&key, true).await?;
        if current.as_ref().is_some_and(|v| {
            !v.record.state.is_finished()
                && !matches!(v.record.channel, ChannelMemory::Sms { stopped: true, .. })
        }) {
            return Ok(Invited::Busy);
        }
        let expected = current.as_ref().map_or(0, |v| v.version);
        // No message taken yet: the reply, whatever its id, is the first answer.
        let opening = Opening {
            lang,
            network: None,
            cursor: InputCursor::START,
            sent: current.as_ref().map_or(0, |v| v.record.channel.sms_sent()),
        };
        let (record, message) = self
            .open_conversation(gateway, &key, flow, opening, expected, now)
            .await?;
        Ok(Invited::Opened(Invitation {
            response_id: record.response_id,
            message,
        }))
    }

    /// A new conversation on `flow` saved over version `expected` of `key`'s: its record and
    /// its first message.
    async fn open_conversation(
        &self,
        gateway: &ConfiguredGateway,
        key: &SessionKey,
        flow: &CompiledFlow,
        opening: Opening<'_>,
        expected: u64,
        now: OffsetDateTime,
    ) -> Result<(SessionRecord, Rendered), HopError> {
        let lang = opening.lang.and_then(|l| flow.language_index(l));
        let response_id = uuid::Uuid::now_v7();
        let hop = engine::start(flow, lang, &receipt_of(&response_id));
        // Bound to the flow (an SMS conversation's address is its short code, shared).
        let record = SessionRecord {
            network: opening.network,
            cursor: opening.cursor,
            ..SessionRecord::opened(
                flow,
                response_id,
                key,
                &flow.id,
                ChannelMemory::Sms {
                    stopped: false,
                    sent: opening.sent.saturating_add(1),
                },
                hop.state.clone(),
                unix_ms(now),
            )
        };
        let saved = self
            .sessions
            .save(
                key,
                &record,
                expected,
                gateway.session_ttl_for(flow),
                ResumeWrite::Clear,
                None,
                Ownership::hold(key.owner_tag()),
            )
            .await?;
        if saved != Saved::Stored {
            return Err(HopError::Contended);
        }
        self.metrics.session_started(&gateway.name, &flow.id);
        let rendered = record.channel.render(
            flow,
            &record.state,
            None,
            record.cursor.len,
            &gateway.render,
        );
        Ok((record, rendered))
    }

    /// What the conversation shows now: its question (or closing message), or the stop
    /// confirmation once stopped.
    fn current_reply(
        &self,
        gateway: &ConfiguredGateway,
        record: &SessionRecord,
    ) -> Option<Rendered> {
        if matches!(record.channel, ChannelMemory::Sms { stopped: true, .. }) {
            let text = self
                .text_in(record, "sms-stopped")
                .unwrap_or_else(|| self.multilingual("sms-stopped"));
            return Some(channel::notice(gateway.channel(), &text, &gateway.render));
        }
        let flows = self.flows();
        let flow = flows.version(&record.flow_id, record.flow_version)?;
        Some(record.channel.render(
            flow,
            &record.state,
            record.reason.as_ref(),
            record.cursor.len,
            &gateway.render,
        ))
    }

    /// Engine text `id` in the language of a conversation's survey.
    fn text_in(&self, record: &SessionRecord, id: &str) -> Option<String> {
        let flows = self.flows();
        let flow = flows.version(&record.flow_id, record.flow_version)?;
        let locale = flow.locales.get(record.state.lang as usize)?;
        Some(locale.engine_text(id, None))
    }

    /// Engine text `id` with one argument, in every language (one per line).
    fn multilingual_with(&self, id: &str, arg: &str, value: &str) -> String {
        let mut args = fluent_bundle::FluentArgs::new();
        args.set(arg, value.to_owned());
        let flows = self.flows();
        let mut seen: Vec<&str> = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        for f in flows.current() {
            for loc in &f.locales {
                if !seen.contains(&loc.lang.as_str()) {
                    seen.push(&loc.lang);
                    lines.push(loc.engine_text(id, Some(&args)));
                }
            }
        }
        lines.join("\n")
    }
}
