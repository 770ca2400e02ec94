//! One simulated respondent: dials a flow and presses keys through the USSD channel and the
//! pure engine exactly as a gateway's hop does, keeping an unfinished survey to resume.

use std::sync::Arc;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::channel::ussd;
use crate::engine::{self, At, Event, Hop, HopContext, SessionState};
use crate::flow::{CompiledFlow, FlowSet};
use crate::gsm7::Budget;
use crate::question::Invalid;
use crate::recorder::rfc3339;
use crate::render::{self, Screen};
use crate::response::{Response, receipt_of};
use crate::session::ResumeWrite;
use crate::simulate::ScreenCost;
use crate::survey::resume_write;

/// What the phone shows after a hop, and the response when the hop finished the survey.
#[derive(Debug, Clone)]
pub struct Turn {
    pub screen: Screen,
    pub cost: ScreenCost,
    /// The record a real gateway's hop would have made durable (nothing is recorded here).
    pub response: Option<Response>,
    /// The survey ended with a refusal its flow does not count: nothing would be recorded.
    pub declined_unrecorded: bool,
}

/// Why a key press cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PressError {
    #[error("no session on the line: dial first")]
    NotDialled,
    #[error("the session has ended: dial again")]
    Ended,
    #[error("flow `{0}` v{1} is no longer served: dial again")]
    FlowGone(String, u32),
}

/// A survey in progress: where it stands and which response it will be.
#[derive(Debug, Clone)]
struct Survey {
    flow_id: String,
    flow_version: u32,
    state: SessionState,
    response_id: Uuid,
    started_at: OffsetDateTime,
}

/// A session on the line (the gateway's session): the survey and the screen it shows.
#[derive(Debug, Clone)]
struct Call {
    survey: Survey,
    budget: Budget,
    reason: Option<Invalid>,
    page: u8,
}

/// One respondent's phone, as the session store would know it: the call on the line, and
/// the unfinished survey a later dial offers to resume (the store's resume record).
#[derive(Debug, Clone, Default)]
pub struct Respondent {
    call: Option<Call>,
    unfinished: Option<Survey>,
}

impl Respondent {
    /// Dials `flow` (a new session: a call on the line is dropped, as when the network drops
    /// it): the resume offer when this respondent left the same flow unfinished and its
    /// version is still served, else the first screen, in `lang` when given (no language
    /// screen), as `simulate --lang` does.
    pub fn dial(
        &mut self,
        flows: &FlowSet,
        flow: &Arc<CompiledFlow>,
        lang: Option<u8>,
        budget: Budget,
        now: OffsetDateTime,
    ) -> Turn {
        let resumed = self.unfinished.as_ref().and_then(|saved| {
            if saved.flow_id != flow.id {
                return None;
            }
            let pinned = flows.version(&saved.flow_id, saved.flow_version)?;
            if !saved.state.fits(pinned) {
                return None;
            }
            let hop = engine::offer_resume(pinned, &saved.state)?;
            Some((pinned.clone(), saved.clone(), hop))
        });
        let (flow, survey, hop) = match resumed {
            Some((pinned, saved, hop)) => (pinned, saved, hop),
            None => {
                let response_id = Uuid::now_v7();
                let hop = engine::start(flow, lang, &receipt_of(&response_id));
                let survey = Survey {
                    flow_id: flow.id.clone(),
                    flow_version: flow.version,
                    state: hop.state.clone(),
                    response_id,
                    started_at: now,
                };
                (flow.clone(), survey, hop)
            }
        };
        let call = self.call.insert(Call {
            survey,
            budget,
            reason: None,
            page: 0,
        });
        show(&flow, call, &mut self.unfinished, hop, 0, now)
    }

    /// Types `input` on the screen shown: page keys turn pages, anything else goes to the
    /// engine, as on a gateway.
    pub fn press(
        &mut self,
        flows: &FlowSet,
        input: &str,
        ctx: &HopContext,
        now: OffsetDateTime,
    ) -> Result<Turn, PressError> {
        let call = self.call.as_mut().ok_or(PressError::NotDialled)?;
        let survey = &call.survey;
        if survey.state.is_finished() {
            return Err(PressError::Ended);
        }
        let flow = flows
            .version(&survey.flow_id, survey.flow_version)
            .ok_or_else(|| PressError::FlowGone(survey.flow_id.clone(), survey.flow_version))?
            .clone();
        let turn = ussd::step(
            &flow,
            &survey.state,
            call.reason.as_ref(),
            call.page,
            input,
            ctx,
            call.budget,
        );
        let mut hop = turn.hop;
        if hop.events.contains(&Event::Restarted) {
            // "Start again": a new response, in the language already chosen.
            let response_id = Uuid::now_v7();
            let lang = Some(hop.state.lang);
            hop = engine::start(&flow, lang, &receipt_of(&response_id));
            call.survey.response_id = response_id;
            call.survey.started_at = now;
            hop.events.insert(0, Event::Restarted);
        }
        Ok(show(&flow, call, &mut self.unfinished, hop, turn.page, now))
    }
}

/// Keeps the hop's state on the call (and the resume state by the real store's rule), and
/// shows it.
fn show(
    flow: &CompiledFlow,
    call: &mut Call,
    unfinished: &mut Option<Survey>,
    hop: Hop,
    page: u8,
    now: OffsetDateTime,
) -> Turn {
    call.survey.state = hop.state.clone();
    call.reason = hop.reason.clone();
    call.page = page;
    match resume_write(&hop) {
        ResumeWrite::Keep => *unfinished = Some(call.survey.clone()),
        ResumeWrite::Clear => *unfinished = None,
        ResumeWrite::Untouched => {}
    }
    let screen = render::ussd::screen(flow, &hop.view(flow), page, call.budget);
    let cost = ScreenCost::of(&screen.text, call.budget);
    let (mut response, mut declined_unrecorded) = (None, false);
    if let At::Done(_) = hop.state.at {
        let survey = &call.survey;
        response = crate::simulate::response(
            "simulator",
            flow,
            &survey.state,
            &survey.response_id,
            &rfc3339(survey.started_at),
            &rfc3339(now),
        );
        declined_unrecorded = response.is_none();
    }
    Turn {
        screen,
        cost,
        response,
        declined_unrecorded,
    }
}
