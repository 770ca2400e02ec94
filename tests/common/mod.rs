//! Shared test helpers: the shipped flows, and a respondent walking one through the engine.
#![allow(dead_code)]

use std::path::Path;

use sauti::engine::{self, HopContext, Screen, SessionState};
use sauti::render::Budget;
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
        budget: Budget::default(),
    }
}

/// A respondent on a phone: dials, then types one input per screen.
pub struct Phone<'f> {
    pub flow: &'f CompiledFlow,
    pub state: SessionState,
    pub screen: Screen,
    pub events: Vec<Event>,
    pub ctx: HopContext,
}

impl<'f> Phone<'f> {
    pub fn dial(flow: &'f CompiledFlow) -> Phone<'f> {
        Phone::dial_with(flow, ctx())
    }

    pub fn dial_with(flow: &'f CompiledFlow, ctx: HopContext) -> Phone<'f> {
        let hop = engine::start(flow, None, "K7Q4", &ctx);
        Phone {
            flow,
            state: hop.state,
            screen: hop.screen,
            events: hop.events,
            ctx,
        }
    }

    /// Types `input`; returns the new screen's text.
    pub fn send(&mut self, input: &str) -> &str {
        let hop = engine::step(self.flow, &self.state, input, &self.ctx);
        self.state = hop.state;
        self.screen = hop.screen;
        self.events.extend(hop.events);
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
