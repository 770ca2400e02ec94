//! Properties checked on random inputs: the paginator never emits an over-budget screen and
//! never loses an option; the engine never panics, whatever a respondent types.

mod common;

use proptest::prelude::*;
use sauti::channel::ussd;
use sauti::engine::{self, At, HopContext, SessionState};
use sauti::render::{Budget, Footer, Measure, Text, paginate, render_page};

/// Labels mixing plain letters, GSM-7 accents, extension characters and UCS-2 letters.
fn label() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9 éàù€\\[\\]êçɛɔ'’-]{1,40}").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_paginator_never_overflows_and_never_loses_an_option(
        prompt in proptest::string::string_regex("[a-zA-Z éêç,.?’]{0,400}").unwrap(),
        labels in proptest::collection::vec(label(), 0..40),
        gsm in 100u32..200,
        ucs2 in 60u32..90,
        with_back in any::<bool>(),
        with_skip in any::<bool>(),
    ) {
        let budget = Budget { gsm7_septets: gsm, ucs2_chars: ucs2 };
        let options: Vec<Text> = labels.iter().enumerate().map(|(i, l)| Text::new(format!("{}. {l}", i + 1))).collect();
        let (more, prev, back, skip) = (Text::new("98. Suite"), Text::new("99. Précédent"), Text::new("0. Retour"), Text::new("000. Passer"));
        let footer = Footer { more: &more, prev: &prev, back: with_back.then_some(&back), skip: with_skip.then_some(&skip) };
        let prompt = prompt.trim();
        match paginate(prompt, &options, &footer, budget) {
            Ok(pages) => {
                let mut next_option = 0;
                let mut prompt_seen = String::new();
                for (i, page) in pages.iter().enumerate() {
                    let mut text = String::new();
                    render_page(&mut text, prompt, &options, &footer, &pages, i);
                    prop_assert!(budget.fits(Measure::of(&text)), "page {i} over budget: {text:?}");
                    prop_assert_eq!(page.options.start, next_option, "options skipped or repeated");
                    next_option = page.options.end;
                    prompt_seen.push_str(&prompt[page.prompt.clone()]);
                }
                prop_assert_eq!(next_option, options.len(), "options lost");
                let squash = |s: &str| s.split_whitespace().collect::<String>();
                prop_assert_eq!(squash(&prompt_seen), squash(prompt), "prompt text lost");
            }
            Err(unfit) => {
                // Refused only when that option cannot fit even alone with the footer.
                if unfit.option == usize::MAX {
                    prop_assert!(unfit.cost > unfit.limit, "the footer alone must overflow");
                    return Ok(());
                }
                let mut alone = options[unfit.option].measure;
                for line in [Some(&more), Some(&prev), footer.skip, footer.back].into_iter().flatten() {
                    alone = alone.then_line(line.measure);
                }
                prop_assert!(!budget.fits(alone), "refused an option that fits: {:?}", options[unfit.option]);
            }
        }
    }

    #[test]
    fn no_input_at_any_step_panics_or_overflows(
        input in any::<String>(),
        typed in proptest::string::string_regex("[0-9 ,*#.]{0,12}").unwrap(),
        step_seed in any::<u16>(),
        lang_seed in any::<u8>(),
    ) {
        let ctx = HopContext { today: time::macros::date!(2026 - 11 - 23) };
        let budget = Budget::default();
        for flow in FLOWS.iter() {
            let lang = lang_seed % flow.languages.len() as u8;
            let step = step_seed % flow.steps.len() as u16;
            let at = if matches!(flow.steps[step as usize].question, sauti::question::Question::End) { At::Done(step) } else { At::Step(step) };
            let state = SessionState { lang, at, attempts: 0, history: vec![], answers: vec![], receipt: String::new() };
            for text in [&input, &typed] {
                for page in [0, 1, 7] {
                    let screen = ussd::step(flow, &state, None, page, text, &ctx, budget).screen(flow, budget);
                    prop_assert!(budget.fits(Measure::of(&screen.text)), "{}", screen.text);
                }
                // And from the language screen.
                let start = engine::start(flow, None, "K7Q4");
                let screen = ussd::step(flow, &start.state, None, 0, text, &ctx, budget).screen(flow, budget);
                prop_assert!(budget.fits(Measure::of(&screen.text)));
            }
        }
    }
}

static FLOWS: std::sync::LazyLock<Vec<sauti::CompiledFlow>> =
    std::sync::LazyLock::new(common::shipped_flows);
