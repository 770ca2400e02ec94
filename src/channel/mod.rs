//! Channels: how respondents reach a flow (USSD today; voice and SMS next). A channel names
//! the addresses flows are routed by, keeps its own part of a session, and renders views.

pub mod ussd;

use crate::engine::{Hop, HopContext, SessionState};
use crate::flow::CompiledFlow;
use crate::gsm7::Budget;
use crate::question::Invalid;
use crate::render::{self, Screen};

/// A way respondents reach Sauti.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// Menus on a short code (`*384*1#`), a few minutes per session.
    Ussd,
}

impl Channel {
    pub const ALL: [Channel; 1] = [Channel::Ussd];

    /// The channel called `name` (as in `/ussd/<gateway>`).
    pub fn named(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == name)
    }

    /// As written in responses (`"channel": "ussd"`) and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Ussd => "ussd",
        }
    }

    /// The address of a hop in the form flows declare it (`*384*1#`): blanks trimmed.
    pub fn normalize_address(self, address: &str) -> &str {
        match self {
            Channel::Ussd => address.trim(),
        }
    }
}

/// A channel's own part of a session, kept beside the engine's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelMemory {
    /// The page of the current screen.
    Ussd { page: u8 },
}

impl ChannelMemory {
    /// A session's memory when it opens (or resumes) on `channel`.
    pub fn fresh(channel: Channel) -> ChannelMemory {
        match channel {
            Channel::Ussd => ChannelMemory::Ussd { page: 0 },
        }
    }

    pub fn channel(&self) -> Channel {
        match self {
            ChannelMemory::Ussd { .. } => Channel::Ussd,
        }
    }
}

/// What a channel's renderer made of a view, for a gateway to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendered {
    Ussd(Screen),
}

/// How a gateway's channel renders (USSD: the screen budget of that gateway's networks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderSettings {
    pub budget: Budget,
}

impl ChannelMemory {
    /// One input: what the channel answers itself (a USSD page turn), else the engine's step.
    pub fn step(
        self,
        flow: &CompiledFlow,
        state: &SessionState,
        reason: Option<&Invalid>,
        input: &str,
        ctx: &HopContext,
        settings: RenderSettings,
    ) -> (Hop, ChannelMemory) {
        match self {
            ChannelMemory::Ussd { page } => {
                let turn = ussd::step(flow, state, reason, page, input, ctx, settings.budget);
                (turn.hop, ChannelMemory::Ussd { page: turn.page })
            }
        }
    }

    /// What the respondent gets for the session as it stands.
    pub fn render(
        &self,
        flow: &CompiledFlow,
        state: &SessionState,
        reason: Option<&Invalid>,
        settings: RenderSettings,
    ) -> Rendered {
        let view = crate::engine::view(flow, state, reason);
        match self {
            ChannelMemory::Ussd { page } => {
                Rendered::Ussd(render::ussd::screen(flow, &view, *page, settings.budget))
            }
        }
    }
}

/// A closing notice outside any conversation (unknown address, service unavailable).
pub fn notice(channel: Channel, text: &str, settings: RenderSettings) -> Rendered {
    match channel {
        Channel::Ussd => Rendered::Ussd(render::ussd::notice(text, settings.budget)),
    }
}
