//! Every screen of every shipped flow, in every language, fits the USSD budget; including
//! the screens that re-ask a question with a reason above it.

mod common;

use common::shipped_flows;
use sauti::engine::{self, At, SessionState};
use sauti::question::{Invalid, Question};
use sauti::render::{Budget, Measure, ussd};

fn reasons_for(q: &Question) -> Vec<Invalid> {
    match q {
        Question::Choice(_) => vec![Invalid::NotAnOption],
        Question::Multi(m) => vec![
            Invalid::NotAnOption,
            Invalid::SelectionCount {
                min: m.min_selected,
                max: m.max_selected,
            },
        ],
        Question::Text(t) => vec![Invalid::Empty, Invalid::TooLong { max: t.max_len }],
        Question::Number(n) => vec![
            Invalid::NotANumber,
            Invalid::NotAnInteger,
            Invalid::NumberOutOfRange {
                min: n.min,
                max: n.max,
            },
        ],
        Question::Date(_) => vec![
            Invalid::NotADate {
                example: "23112026".into(),
            },
            Invalid::DateOutOfRange {
                min: Some("01012000".into()),
                max: Some("23112026".into()),
            },
        ],
        Question::Info | Question::End => vec![],
    }
}

#[test]
fn every_screen_of_every_shipped_flow_fits_in_every_language() {
    let budget = Budget::default();
    let mut screens = 0;
    for flow in shipped_flows() {
        for (lang, at, pages) in sauti::check::all_screens(&flow, budget) {
            for page in pages {
                let m = Measure::of(&page);
                assert!(
                    budget.fits(m),
                    "{} {} {at:?}: {} > {} ({})\n{page}",
                    flow.id,
                    flow.languages[lang as usize],
                    m.cost(),
                    budget.limit(m),
                    m.encoding()
                );
                screens += 1;
            }
        }
    }
    assert!(screens > 60, "only {screens} screens checked");
}

#[test]
fn every_re_asked_question_fits_too() {
    let budget = Budget::default();
    for flow in shipped_flows() {
        for lang in 0..flow.languages.len() as u8 {
            for (i, step) in flow.steps.iter().enumerate() {
                for reason in reasons_for(&step.question) {
                    let state = SessionState {
                        lang,
                        at: At::Step(i as u16),
                        attempts: 1,
                        history: vec![0],
                        answers: vec![],
                        receipt: String::new(),
                    };
                    let view = engine::view(&flow, &state, Some(&reason));
                    for page in ussd::pages(&flow, &view, budget) {
                        let m = Measure::of(&page);
                        assert!(budget.fits(m), "{} {}: {page}", flow.id, step.id);
                    }
                }
            }
        }
    }
}
