//! Where respondents left: each response's path through the flow replayed from its answers
//! (`goto` and `when` included), then counted per step in flow order.

use crate::flow::CompiledFlow;
use crate::question::{Answer, Question};
use crate::response::Response;

use super::answers::decode;

/// What happened at one step of a response's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// Passed over: its `when` did not hold.
    Passed,
    /// Shown and answered (or an `info` or `end` screen shown).
    Answered,
    /// Shown and not answered: where a partial response stopped.
    Unanswered,
}

/// The steps a response went through, in order, each with what happened there. A partial
/// stops at the step it was shown last; a path that would loop stops at the first repeat.
pub fn walk(flow: &CompiledFlow, response: &Response) -> Vec<(usize, Visit)> {
    let answers: Vec<Option<Answer>> = flow
        .steps
        .iter()
        .map(|s| response.answers.get(&s.id).and_then(|v| decode(s, v)))
        .collect();
    let mut seen = vec![false; flow.steps.len()];
    let mut path = Vec::new();
    let mut at = (!flow.steps.is_empty()).then_some(0usize);
    while let Some(i) = at {
        if std::mem::replace(&mut seen[i], true) {
            break;
        }
        let step = &flow.steps[i];
        if let Some(when) = &step.when
            && !when.eval(&|j| answers[j as usize].as_ref())
        {
            path.push((i, Visit::Passed));
            at = step.next.map(usize::from);
            continue;
        }
        match (&step.question, &answers[i]) {
            (Question::End, _) => {
                path.push((i, Visit::Answered));
                break;
            }
            (Question::Info, _) => path.push((i, Visit::Answered)),
            (_, None) => {
                path.push((i, Visit::Unanswered));
                break;
            }
            (_, Some(_)) => path.push((i, Visit::Answered)),
        }
        let branch = match (&step.question, &answers[i]) {
            (Question::Choice(c), Some(Answer::Choice(o))) => {
                c.goto.get(usize::from(*o)).copied().flatten()
            }
            _ => None,
        };
        at = branch.or(step.next).map(usize::from);
    }
    path
}

/// Respondents per step, in flow order.
#[derive(Debug, Clone, PartialEq)]
pub struct Funnel {
    /// The segments counted apart in [`FunnelStep::reached_by_segment`]: languages, then
    /// channels.
    pub segments: Vec<String>,
    pub steps: Vec<FunnelStep>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunnelStep {
    pub step: String,
    pub kind: &'static str,
    /// Got to this point of the flow: shown the step, or passed over it by its `when`.
    pub reached: u64,
    /// Shown the step.
    pub asked: u64,
    /// Partial responses that stopped on this step: shown it, never answered it.
    pub left: u64,
    /// `reached`, per segment, in the order of [`Funnel::segments`].
    pub reached_by_segment: Vec<u64>,
}

/// The funnel of `responses` through `flow`, with `reached` also counted per language and
/// per channel.
pub fn funnel(
    flow: &CompiledFlow,
    responses: &[&Response],
    languages: &[String],
    channels: &[String],
) -> Funnel {
    let segments: Vec<String> = languages.iter().chain(channels).cloned().collect();
    let mut steps: Vec<FunnelStep> = flow
        .steps
        .iter()
        .map(|s| FunnelStep {
            step: s.id.clone(),
            kind: s.question.kind_name(),
            reached: 0,
            asked: 0,
            left: 0,
            reached_by_segment: vec![0; segments.len()],
        })
        .collect();
    for response in responses {
        let language = languages.iter().position(|l| *l == response.language);
        let channel = channels
            .iter()
            .position(|c| *c == response.channel)
            .map(|c| languages.len() + c);
        for (i, visit) in walk(flow, response) {
            let counts = &mut steps[i];
            counts.reached += 1;
            for segment in [language, channel].into_iter().flatten() {
                counts.reached_by_segment[segment] += 1;
            }
            match visit {
                Visit::Passed => {}
                Visit::Answered => counts.asked += 1,
                Visit::Unanswered => {
                    counts.asked += 1;
                    if response.status == "partial" {
                        counts.left += 1;
                    }
                }
            }
        }
    }
    Funnel { segments, steps }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;

    fn kufatilia() -> CompiledFlow {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (flows, problems) = crate::flow::load_dir(&[repo.join("flows")], &repo.join("locales"));
        assert!(problems.is_empty(), "{problems:?}");
        flows.into_iter().find(|f| f.id == "kufatilia").unwrap()
    }

    fn response(status: &str, answers: serde_json::Value) -> Response {
        serde_json::from_value(json!({
            "schema": 1, "id": "x", "flow": "kufatilia", "flow_version": 1, "status": status,
            "channel": "ussd", "gateway": "g", "language": "fr", "respondent": "r",
            "network": null, "started_at": "2026-11-02T08:00:00.000Z",
            "completed_at": "2026-11-02T08:01:00.000Z", "answers": answers,
        }))
        .unwrap()
    }

    fn ids(flow: &CompiledFlow, path: &[(usize, Visit)]) -> Vec<(String, Visit)> {
        path.iter()
            .map(|&(i, v)| (flow.steps[i].id.clone(), v))
            .collect()
    }

    #[test]
    fn a_partial_stops_on_the_step_after_its_last_answer_and_conditions_are_replayed() {
        let flow = kufatilia();
        let partial = response(
            "partial",
            json!({
                "consent": { "value": "yes", "label": "Oui" },
                "incident": { "value": "fraud", "label": "Fraude" },
                "when": { "value": "today", "label": "Aujourd'hui" },
            }),
        );
        let path = ids(&flow, &walk(&flow, &partial));
        let expected = [
            ("consent", Visit::Answered),
            ("incident", Visit::Answered),
            ("incident_other", Visit::Passed),
            ("when", Visit::Answered),
            ("date", Visit::Passed),
            ("province", Visit::Unanswered),
        ];
        assert_eq!(path, expected.map(|(s, v)| (s.to_owned(), v)).to_vec());
    }

    #[test]
    fn a_goto_leads_to_its_end_and_only_partials_count_as_left() {
        let flow = kufatilia();
        let declined = response(
            "complete",
            json!({ "consent": { "value": "no", "label": "Non" } }),
        );
        let path = ids(&flow, &walk(&flow, &declined));
        assert_eq!(path.last().unwrap().0, "declined");
        let left_at_consent = response("partial", json!({}));
        let f = funnel(
            &flow,
            &[&declined, &left_at_consent],
            &["fr".into()],
            &["ussd".into()],
        );
        let consent = &f.steps[0];
        assert_eq!((consent.reached, consent.asked, consent.left), (2, 2, 1));
        assert_eq!(consent.reached_by_segment, [2, 2]);
        let declined_end = f.steps.iter().find(|s| s.step == "declined").unwrap();
        assert_eq!(declined_end.reached, 1);
    }
}
