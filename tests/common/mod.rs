//! Shared test helpers: the shipped flows, and a respondent walking one through the engine.
#![allow(dead_code)]

use std::path::Path;

use sauti::engine::{self, HopContext, SessionState};
use sauti::question::Invalid;
use sauti::render::{Budget, Screen, ussd};
use sauti::{CompiledFlow, Event};

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Every shipped flow, compiled against the shipped translations.
pub fn shipped_flows() -> Vec<CompiledFlow> {
    let (flows, problems) = sauti::flow::load_dir(
        &[Path::new(REPO).join("flows")],
        &Path::new(REPO).join("locales"),
    );
    assert!(problems.is_empty(), "{problems:?}");
    flows
}

pub fn shipped(id: &str) -> CompiledFlow {
    shipped_flows()
        .into_iter()
        .find(|f| f.id == id)
        .expect("shipped flow")
}

pub fn ctx() -> HopContext {
    HopContext {
        today: time::macros::date!(2026 - 11 - 23),
    }
}

/// A respondent on a USSD phone: dials, then types one input per screen. Page turns are the
/// USSD channel's, everything else the engine's, exactly as the server runs them.
pub struct Phone<'f> {
    pub flow: &'f CompiledFlow,
    pub state: SessionState,
    pub reason: Option<Invalid>,
    pub page: u8,
    pub screen: Screen,
    pub events: Vec<Event>,
    pub ctx: HopContext,
    pub budget: Budget,
}

impl<'f> Phone<'f> {
    pub fn dial(flow: &'f CompiledFlow) -> Phone<'f> {
        Phone::dial_with(flow, Budget::default())
    }

    pub fn dial_with(flow: &'f CompiledFlow, budget: Budget) -> Phone<'f> {
        let hop = engine::start(flow, None, "K7Q4");
        let screen = ussd::screen(flow, &hop.view(flow), 0, budget);
        Phone {
            flow,
            state: hop.state,
            reason: None,
            page: 0,
            screen,
            events: hop.events,
            ctx: ctx(),
            budget,
        }
    }

    /// Types `input`; returns the new screen's text.
    pub fn send(&mut self, input: &str) -> &str {
        let turn = sauti::channel::ussd::step(
            self.flow,
            &self.state,
            self.reason.as_ref(),
            self.page,
            input,
            &self.ctx,
            self.budget,
        );
        self.screen = turn.screen(self.flow, self.budget);
        self.page = turn.page;
        self.state = turn.hop.state;
        self.reason = turn.hop.reason;
        self.events.extend(turn.hop.events);
        &self.screen.text
    }

    /// The screen shown now, as the gateway would send it.
    pub fn shows(&self) -> String {
        format!(
            "{} {}",
            if self.screen.end { "END" } else { "CON" },
            self.screen.text
        )
    }

    pub fn answers(&self) -> serde_json::Value {
        serde_json::Value::Object(sauti::response::answers_json(self.flow, &self.state))
    }
}

pub mod collector;
pub mod redis;
pub mod server;
pub mod sms_api;
pub mod voice;
