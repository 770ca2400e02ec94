//! A USSD hop in pure terms: `98`/`99` turn the pages of the current screen without the
//! engine; any other input goes to the engine. Used by the server, `simulate` and tests.

use crate::engine::{self, Hop, HopContext, SessionState};
use crate::flow::CompiledFlow;
use crate::gsm7::Budget;
use crate::question::Invalid;
use crate::render::ussd::{self, Screen};

/// The outcome of one USSD input.
#[derive(Debug, Clone)]
pub struct UssdHop {
    pub hop: Hop,
    /// The page of the screen to show.
    pub page: u8,
}

impl UssdHop {
    #[inline]
    pub fn screen(&self, flow: &CompiledFlow, budget: Budget) -> Screen {
        ussd::screen(flow, &self.hop.view(flow), self.page, budget)
    }
}

/// Takes one input on the screen showing page `page` of `state` (re-asked for `reason`).
pub fn step(
    flow: &CompiledFlow,
    state: &SessionState,
    reason: Option<&Invalid>,
    page: u8,
    input: &str,
    ctx: &HopContext,
    budget: Budget,
) -> UssdHop {
    let input = input.trim();
    let page_key = input == flow.nav.more || input == flow.nav.prev;
    if page_key && !state.is_finished() {
        // The pages are those of the screen shown, re-ask reason included: turning one keeps it.
        let view = engine::view(flow, state, reason);
        if let Some(page) = ussd::turn_page(flow, &view, page, input, budget) {
            return UssdHop {
                hop: Hop {
                    state: state.clone(),
                    events: Vec::new(),
                    reason: reason.cloned(),
                },
                page,
            };
        }
    }
    UssdHop {
        hop: engine::step(flow, state, input, ctx),
        page: 0,
    }
}
