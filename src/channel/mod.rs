//! Channels: how respondents reach a flow (USSD menus, voice calls, SMS). A channel names the
//! addresses flows are routed by, keeps its own part of a session, and renders views.

pub mod sms;
pub mod ussd;
pub mod voice;

use std::sync::Arc;

use crate::engine::{self, Hop, HopContext, SessionState};
use crate::flow::CompiledFlow;
use crate::gateway::Recording;
use crate::gsm7::Budget;
use crate::question::Invalid;
use crate::render::sms::SmsMessage;
use crate::render::voice::{VoicePrompt, VoiceSettings};
use crate::render::{self, Screen};

/// A way respondents reach Sauti.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// Menus on a short code (`*384*1#`), a few minutes per session.
    Ussd,
    /// A phone call to a number: prompts heard, answers on the keypad or spoken.
    Voice,
    /// Text messages to a short code: a question per message, answers any time within a day.
    Sms,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Ussd, Channel::Voice, Channel::Sms];

    /// The channel called `name` (as in `/ussd/<gateway>`).
    pub fn named(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == name)
    }

    /// As written in responses (`"channel": "ussd"`) and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Ussd => "ussd",
            Channel::Voice => "voice",
            Channel::Sms => "sms",
        }
    }

    /// The address of a hop in the form flows declare it: a USSD code with blanks trimmed
    /// (`*384*1#`), a called number with only its `+` and digits (`+243900000001`).
    pub fn normalize_address(self, address: &str) -> std::borrow::Cow<'_, str> {
        match self {
            Channel::Ussd => address.trim().into(),
            Channel::Voice => crate::channel::voice::normalize_number(address),
            // SMS sessions are routed by the flow id a keyword named.
            Channel::Sms => address.trim().into(),
        }
    }
}

/// A channel's own part of a session, kept beside the engine's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelMemory {
    /// The page of the current screen.
    Ussd { page: u8 },
    /// The page of a long menu read out, and how many times in a row the caller said nothing.
    Voice { page: u8, silences: u8 },
    /// Whether the respondent stopped the conversation (a stop word): it takes no answer
    /// more. The whole question goes out (no pages); duplicates are known by the cursor.
    /// `sent`: the messages Sauti sent in the conversation (capped by `[sms]
    /// max_messages_per_session`), kept when a survey starts again in it.
    Sms { stopped: bool, sent: u16 },
}

/// One input as the channel receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// Keys typed (USSD text, DTMF digits); empty when nothing was pressed in time.
    Keys(&'a str),
    /// A spoken answer, recorded by the gateway.
    Recording(&'a Recording),
}

impl ChannelMemory {
    /// A session's memory when it opens (or resumes) on `channel`.
    pub fn fresh(channel: Channel) -> ChannelMemory {
        match channel {
            Channel::Ussd => ChannelMemory::Ussd { page: 0 },
            Channel::Voice => ChannelMemory::Voice {
                page: 0,
                silences: 0,
            },
            Channel::Sms => ChannelMemory::Sms {
                stopped: false,
                sent: 0,
            },
        }
    }

    /// The memory of a survey started again in the same session: fresh, but an SMS
    /// conversation keeps its count of messages sent (starting over must not reset its cap).
    pub fn restarted(self) -> ChannelMemory {
        match self {
            ChannelMemory::Sms { sent, .. } => ChannelMemory::Sms {
                stopped: false,
                sent,
            },
            other => ChannelMemory::fresh(other.channel()),
        }
    }

    /// The messages sent in an SMS conversation (0 on other channels).
    pub fn sms_sent(&self) -> u16 {
        match self {
            ChannelMemory::Sms { sent, .. } => *sent,
            _ => 0,
        }
    }

    /// The same memory with one more SMS sent.
    pub fn one_more_sent(self) -> ChannelMemory {
        match self {
            ChannelMemory::Sms { stopped, sent } => ChannelMemory::Sms {
                stopped,
                sent: sent.saturating_add(1),
            },
            other => other,
        }
    }

    pub fn channel(&self) -> Channel {
        match self {
            ChannelMemory::Ussd { .. } => Channel::Ussd,
            ChannelMemory::Voice { .. } => Channel::Voice,
            ChannelMemory::Sms { .. } => Channel::Sms,
        }
    }
}

/// What a channel's renderer made of a view, for a gateway to encode.
#[derive(Debug, Clone, PartialEq)]
pub enum Rendered {
    Ussd(Screen),
    Voice(VoicePrompt),
    Sms(SmsMessage),
}

/// How a gateway's channel renders: the screen budget of its networks (USSD), the
/// recordings and voices it speaks with (voice), its keywords (SMS).
#[derive(Debug, Clone)]
pub struct RenderSettings {
    pub budget: Budget,
    pub voice: Arc<VoiceSettings>,
    pub sms: Arc<sms::SmsSettings>,
}

impl Default for RenderSettings {
    fn default() -> Self {
        RenderSettings {
            budget: Budget::default(),
            voice: Arc::new(VoiceSettings::default()),
            sms: Arc::new(sms::SmsSettings::default()),
        }
    }
}

impl ChannelMemory {
    /// One input: what the channel answers itself (a USSD page turn, a voice repeat or
    /// silence), else the engine's step.
    pub fn step(
        self,
        flow: &CompiledFlow,
        state: &SessionState,
        reason: Option<&Invalid>,
        input: Input<'_>,
        ctx: &HopContext,
        settings: &RenderSettings,
    ) -> (Hop, ChannelMemory) {
        match self {
            ChannelMemory::Ussd { page } => {
                let keys = match input {
                    Input::Keys(k) => k,
                    Input::Recording(_) => "",
                };
                let turn = ussd::step(flow, state, reason, page, keys, ctx, settings.budget);
                (turn.hop, ChannelMemory::Ussd { page: turn.page })
            }
            ChannelMemory::Voice { page, silences } => {
                let memory = voice::Memory { page, silences };
                let (hop, m) =
                    voice::step(flow, state, reason, memory, input, ctx, &settings.voice);
                (
                    hop,
                    ChannelMemory::Voice {
                        page: m.page,
                        silences: m.silences,
                    },
                )
            }
            ChannelMemory::Sms { .. } => {
                let text = match input {
                    Input::Keys(k) => k.trim(),
                    Input::Recording(_) => "",
                };
                // Every step is answered with one message.
                (engine::step(flow, state, text, ctx), self.one_more_sent())
            }
        }
    }

    /// Input the channel gives on the respondent's behalf when a session opens (a call whose
    /// flow has one language with complete prompts skips the language menu).
    pub fn opening(
        &self,
        flow: &CompiledFlow,
        state: &SessionState,
        settings: &RenderSettings,
    ) -> Option<String> {
        match self {
            ChannelMemory::Ussd { .. } | ChannelMemory::Sms { .. } => None,
            ChannelMemory::Voice { .. } => voice::opening(flow, state, &settings.voice),
        }
    }

    /// What the respondent gets for the session as it stands; `turn` is the gateway's count
    /// of inputs taken (voice callbacks carry it back).
    pub fn render(
        &self,
        flow: &CompiledFlow,
        state: &SessionState,
        reason: Option<&Invalid>,
        turn: u32,
        settings: &RenderSettings,
    ) -> Rendered {
        let view = crate::engine::view(flow, state, reason);
        match self {
            ChannelMemory::Ussd { page } => {
                Rendered::Ussd(render::ussd::screen(flow, &view, *page, settings.budget))
            }
            ChannelMemory::Voice { page, silences } => {
                let memory = voice::Memory {
                    page: *page,
                    silences: *silences,
                };
                Rendered::Voice(voice::render(flow, &view, memory, turn, &settings.voice))
            }
            ChannelMemory::Sms { .. } => Rendered::Sms(render::sms::render(&view)),
        }
    }
}

/// A closing notice outside any conversation (unknown address, service unavailable).
pub fn notice(channel: Channel, text: &str, settings: &RenderSettings) -> Rendered {
    match channel {
        Channel::Ussd => Rendered::Ussd(render::ussd::notice(text, settings.budget)),
        Channel::Voice => Rendered::Voice(VoicePrompt::reject()),
        Channel::Sms => Rendered::Sms(SmsMessage::of(text, true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starting a survey over (a keyword, the flow's restart key) must not reset the cap of
    /// an SMS conversation; other channels start afresh.
    #[test]
    fn an_sms_conversation_keeps_its_count_when_it_starts_over() {
        let sms = ChannelMemory::Sms {
            stopped: true,
            sent: 7,
        };
        assert_eq!(
            sms.one_more_sent(),
            ChannelMemory::Sms {
                stopped: true,
                sent: 8
            }
        );
        assert_eq!(
            sms.restarted(),
            ChannelMemory::Sms {
                stopped: false,
                sent: 7
            }
        );
        assert_eq!(sms.restarted().sms_sent(), 7);
        let full = ChannelMemory::Sms {
            stopped: false,
            sent: u16::MAX,
        };
        assert_eq!(full.one_more_sent(), full);
        let voice = ChannelMemory::Voice {
            page: 2,
            silences: 1,
        };
        assert_eq!(voice.restarted(), ChannelMemory::fresh(Channel::Voice));
        assert_eq!(voice.one_more_sent(), voice);
        assert_eq!(voice.sms_sent(), 0);
    }
}
