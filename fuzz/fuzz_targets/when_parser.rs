//! The `when` language: arbitrary text parsed against the steps of the shipped flows (every step
//! of kufatilia, then those of connectivity kufatilia lacks, for its `multi`), as
//! `flow::compile` parses a step's condition, then evaluated against arbitrary answers.
//! Input: the condition, then a 0xFF byte (never in UTF-8 text), then what the answers and the
//! step being compiled are read from. Without 0xFF, the whole input is the condition.
#![no_main]

use std::collections::HashMap;
use std::sync::OnceLock;

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use sauti::flow::StepIdx;
use sauti::flow::expr::{self, StepScope};
use sauti::question::Question;
use sauti_fuzz::{answers, kufatilia, shipped};

/// The steps conditions may read: (id, question).
fn steps() -> &'static [(String, Question)] {
    static STEPS: OnceLock<Vec<(String, Question)>> = OnceLock::new();
    STEPS.get_or_init(|| {
        let mut steps: Vec<(String, Question)> = kufatilia()
            .steps
            .iter()
            .map(|s| (s.id.clone(), s.question.clone()))
            .collect();
        for s in shipped("connectivity").steps {
            if !steps.iter().any(|(id, _)| *id == s.id) {
                steps.push((s.id, s.question));
            }
        }
        steps
    })
}

/// The steps before `current`, as `flow::compile` offers them to a condition.
struct Scope<'a> {
    ids: HashMap<&'a str, StepIdx>,
    questions: Vec<&'a Question>,
    current: StepIdx,
}

impl StepScope for Scope<'_> {
    fn earlier(&self, id: &str) -> Result<(StepIdx, &Question), String> {
        let Some(&idx) = self.ids.get(id) else {
            return Err(format!("unknown step `{id}`"));
        };
        if idx >= self.current {
            return Err(format!("step `{id}` is not earlier"));
        }
        Ok((idx, self.questions[idx as usize]))
    }
}

fuzz_target!(|data: &[u8]| {
    let (text, rest) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(src) = std::str::from_utf8(text) else {
        return;
    };
    let steps = steps();
    let mut u = Unstructured::new(rest);
    let n = steps.len();
    // By default every step is earlier: the condition may read any of them.
    let current = n as StepIdx - u.int_in_range(0..=n as StepIdx).unwrap_or(0);
    let scope = Scope {
        ids: steps
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (id.as_str(), i as StepIdx))
            .collect(),
        questions: steps.iter().map(|(_, q)| q).collect(),
        current,
    };
    let Ok(e) = expr::parse(src, &scope) else {
        return;
    };
    let mut read = Vec::new();
    e.steps(&mut read);
    assert!(read.iter().all(|&s| s < current), "{src:?} reads {read:?}");
    let given = answers(&mut u, n).unwrap_or_default();
    let answer = |i: StepIdx| given.iter().find(|(s, _)| *s == i).map(|(_, a)| a);
    let holds = e.eval(&answer);
    // A condition that parses parses inside `not (...)`, and means the opposite there.
    let negated = expr::parse(&format!("not ({src})"), &scope)
        .unwrap_or_else(|m| panic!("{src:?} parses but not inside `not (...)`: {m}"));
    assert_eq!(negated.eval(&answer), !holds, "{src:?}");
});
