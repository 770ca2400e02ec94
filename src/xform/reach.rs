//! When a step is on the respondent's path at all: the `goto` branching of a flow as XPath, so
//! that a form skips what Sauti skips (declining consent skips everything after it).

use crate::flow::Step;
use crate::question::Question;

use super::xpath::{literal, path};

/// Longest reach condition written; past it (a flow branching in many places) the form keeps
/// only the `when` conditions, rather than an expression no one can read.
const MAX_CHARS: usize = 1_000;

/// A condition under which a step is reached.
#[derive(Debug, Clone, PartialEq)]
enum Reach {
    Always,
    When(String),
}

impl Reach {
    fn and(&self, test: String) -> Reach {
        match self {
            Reach::Always => Reach::When(test),
            Reach::When(r) => Reach::When(format!("({r}) and {test}")),
        }
    }

    fn or(terms: Vec<Reach>) -> Option<Reach> {
        let mut unique: Vec<String> = Vec::new();
        for term in terms {
            match term {
                Reach::Always => return Some(Reach::Always),
                Reach::When(t) if !unique.contains(&t) => unique.push(t),
                Reach::When(_) => {}
            }
        }
        match unique.len() {
            0 => None,
            1 => unique.pop().map(Reach::When),
            _ => Some(Reach::When(
                unique
                    .iter()
                    .map(|t| format!("({t})"))
                    .collect::<Vec<_>>()
                    .join(" or "),
            )),
        }
    }
}

/// For each step, the XPath under which some path from the first step reaches it (`None`:
/// every path does). The whole answer is `None` when the flow jumps back (a loop) or the
/// conditions grow too long: then only [`super::on_every_path`] can tell what is required.
///
/// A choice's `goto` to a step is taken exactly when the choice holds that code, so the edge
/// reads the code alone; its other codes (or no answer, when it is skipped) go on to `next`.
pub fn conditions(steps: &[Step]) -> Option<Vec<Option<String>>> {
    let n = steps.len();
    let mut incoming: Vec<Vec<Reach>> = vec![Vec::new(); n];
    let mut reach: Vec<Option<Reach>> = vec![None; n];
    for i in 0..n {
        let here = if i == 0 {
            Some(Reach::Always)
        } else {
            Reach::or(std::mem::take(&mut incoming[i]))
        };
        let Some(here) = here else {
            continue; // unreachable: `check` refuses such a flow
        };
        if let Reach::When(t) = &here
            && t.len() > MAX_CHARS
        {
            return None;
        }
        let step = &steps[i];
        let mut jumps: Vec<&str> = Vec::new();
        if let Question::Choice(choice) = &step.question {
            for (code, target) in choice.options.codes.iter().zip(&choice.goto) {
                let Some(target) = target
                    .map(usize::from)
                    .filter(|&t| Some(t as u16) != step.next)
                else {
                    continue;
                };
                if target <= i || target >= n {
                    return None;
                }
                let p = path(steps, i as u16);
                incoming[target].push(Reach::When(format!("{p} = {}", literal(code))));
                jumps.push(code);
            }
        }
        if let Some(next) = step.next.map(usize::from) {
            if next <= i || next >= n {
                return None;
            }
            let stays = if jumps.is_empty() {
                here.clone()
            } else {
                let p = path(steps, i as u16);
                let taken: Vec<String> = jumps
                    .iter()
                    .map(|c| format!("{p} = {}", literal(c)))
                    .collect();
                here.and(format!("not({})", taken.join(" or ")))
            };
            incoming[next].push(stays);
        }
        reach[i] = Some(here);
    }
    Some(
        reach
            .into_iter()
            .map(|r| match r {
                Some(Reach::When(t)) => Some(t),
                _ => None,
            })
            .collect(),
    )
}
