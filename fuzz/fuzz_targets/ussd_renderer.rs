//! The USSD renderer: arbitrary engine states of the shipped kufatilia flow (language, step,
//! answers, history, reason) through `engine::view` and `render::ussd::screen`, with arbitrary
//! budgets and pages. A screen never exceeds its budget unless the renderer says the question
//! cannot be laid out within it (`layout_error`); even then `screen` cuts it to the budget.
#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sauti::engine::{self, At, SessionState, View};
use sauti::flow::StepIdx;
use sauti::gsm7::{Budget, Measure};
use sauti::render::ussd;
use sauti_fuzz::{answers, invalid, kufatilia};

fn state(u: &mut Unstructured<'_>, n: usize) -> Result<SessionState> {
    let step = |u: &mut Unstructured<'_>| u.int_in_range(0..=n as StepIdx - 1);
    let at = match u.int_in_range(0..=4u8)? {
        0 => At::Step(step(u)?),
        1 => At::Language,
        2 => At::Done(step(u)?),
        3 => At::GaveUp(step(u)?),
        _ => At::Resume(step(u)?),
    };
    let history = (0..u.int_in_range(0..=n)?)
        .map(|_| step(u))
        .collect::<Result<_>>()?;
    Ok(SessionState {
        lang: u.int_in_range(0..=3)?,
        at,
        attempts: u.arbitrary()?,
        history,
        answers: answers(u, n - 1)?,
        receipt: u.arbitrary()?,
    })
}

fn budget(u: &mut Unstructured<'_>) -> Result<Budget> {
    // Mostly screens of real sizes (and smaller), sometimes any size at all.
    Ok(if u.arbitrary()? {
        Budget {
            gsm7_septets: u.arbitrary()?,
            ucs2_chars: u.arbitrary()?,
        }
    } else {
        Budget {
            gsm7_septets: u.int_in_range(0..=200)?,
            ucs2_chars: u.int_in_range(0..=100)?,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let flow = kufatilia();
    let mut u = Unstructured::new(data);
    let Ok(state) = state(&mut u, flow.steps.len()) else {
        return;
    };
    // The engine is handed only states that fit the flow (`SessionState::fits`).
    if !state.fits(flow) {
        return;
    }
    let reason = match u.arbitrary::<bool>() {
        Ok(true) => invalid(&mut u).ok(),
        _ => None,
    };
    let (Ok(budget), Ok(page)) = (budget(&mut u), u.arbitrary::<u8>()) else {
        return;
    };
    let view = engine::view(flow, &state, reason.as_ref());
    let screen = ussd::screen(flow, &view, page, budget);
    let cost = Measure::of(&screen.text);
    let unfit = ussd::layout_error(flow, &view, budget);
    assert!(
        budget.fits(cost) || unfit.is_some(),
        "{} > {} for {state:?} {reason:?} {budget:?}:\n{}",
        cost.cost(),
        budget.limit(cost),
        screen.text
    );
    // `screen` promises more: a degraded layout is cut to the budget too.
    assert!(
        budget.fits(cost),
        "{unfit:?}: {} > {}:\n{}",
        cost.cost(),
        budget.limit(cost),
        screen.text
    );
    assert_eq!(screen.end, matches!(view, View::End(_)));
    if unfit.is_none() {
        // Every page fits, and page turns stay within the pages.
        let pages = ussd::pages(flow, &view, budget);
        if let View::Ask(_) = view {
            for (i, p) in pages.iter().enumerate() {
                assert!(budget.fits(Measure::of(p)), "page {i} of {pages:?}");
            }
        }
        for key in [&flow.nav.more, &flow.nav.prev]
            .into_iter()
            .filter(|_| (page as usize) < pages.len())
        {
            if let Some(to) = ussd::turn_page(flow, &view, page, key, budget) {
                assert!((to as usize) < pages.len());
            }
        }
    }
});
