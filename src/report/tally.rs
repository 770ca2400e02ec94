//! The numbers of one flow's report: sessions started and completed, completion time, per
//! language and channel, the funnel, and the distribution of every choice question's answers.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::flow::CompiledFlow;
use crate::question::Question;
use crate::response::Response;

use super::funnel::{Funnel, funnel};

/// One flow's report, every count exact (hiding small counts is the printer's job).
#[derive(Debug, Clone, PartialEq)]
pub struct FlowReport {
    pub flow: String,
    /// The flow versions the responses were started on, ascending.
    pub versions: Vec<u32>,
    /// The first day a survey started and the last day one ended (`YYYY-MM-DD`).
    pub first_day: Option<String>,
    pub last_day: Option<String>,
    pub overall: Segment,
    pub by_language: Vec<Segment>,
    pub by_channel: Vec<Segment>,
    /// `None` when the flow's definition was not at hand.
    pub funnel: Option<Funnel>,
    pub distributions: Vec<Distribution>,
}

/// Sessions of one language, one channel, or all.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub name: String,
    /// Responses, complete and partial: surveys abandoned in a flow without `partials = true`
    /// leave no response and are not counted.
    pub started: u64,
    pub completed: u64,
    /// Median of `completed_at - started_at` over complete responses, in milliseconds.
    pub median_duration_ms: Option<u64>,
}

/// How the answers to one `choice` or `multi` question spread over its options.
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    pub step: String,
    pub multi: bool,
    /// Respondents who answered it (a `multi` answer counts once here, once per option below).
    pub answered: u64,
    pub options: Vec<OptionCount>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OptionCount {
    pub code: String,
    /// In the flow's first language.
    pub label: String,
    pub count: u64,
}

/// The report of `responses`, all of one flow, with `flow` its definition when at hand.
pub fn build(flow_id: &str, responses: &[&Response], flow: Option<&CompiledFlow>) -> FlowReport {
    let mut versions: Vec<u32> = responses.iter().map(|r| r.flow_version).collect();
    versions.sort_unstable();
    versions.dedup();
    let languages = segment_names(responses, language, flow.map(|f| &f.languages[..]));
    let channels = segment_names(responses, channel, None);
    let by = |names: &[String], key: fn(&Response) -> &str| -> Vec<Segment> {
        names
            .iter()
            .map(|name| {
                let members: Vec<&Response> = responses
                    .iter()
                    .copied()
                    .filter(|r| key(r) == name)
                    .collect();
                segment(name, &members)
            })
            .collect()
    };
    FlowReport {
        flow: flow_id.to_owned(),
        versions,
        first_day: responses.iter().map(|r| day(&r.started_at)).min(),
        last_day: responses.iter().map(|r| day(&r.completed_at)).max(),
        overall: segment("all", responses),
        by_language: by(&languages, language),
        by_channel: by(&channels, channel),
        funnel: flow.map(|f| funnel(f, responses, &languages, &channels)),
        distributions: flow.map_or_else(Vec::new, |f| distributions(f, responses)),
    }
}

fn language(r: &Response) -> &str {
    &r.language
}

fn channel(r: &Response) -> &str {
    &r.channel
}

/// The values of `key` in the responses: those in `order` first, in its order, then the rest
/// sorted.
fn segment_names(
    responses: &[&Response],
    key: fn(&Response) -> &str,
    order: Option<&[String]>,
) -> Vec<String> {
    let mut seen: Vec<String> = responses.iter().map(|r| key(r).to_owned()).collect();
    seen.sort();
    seen.dedup();
    let rank = |name: &String| {
        order
            .and_then(|o| o.iter().position(|x| x == name))
            .unwrap_or(usize::MAX)
    };
    seen.sort_by_key(|name| rank(name));
    seen
}

fn segment(name: &str, responses: &[&Response]) -> Segment {
    let complete: Vec<&&Response> = responses
        .iter()
        .filter(|r| r.status == "complete")
        .collect();
    let mut durations: Vec<u64> = complete
        .iter()
        .filter_map(|r| duration_ms(&r.started_at, &r.completed_at))
        .collect();
    durations.sort_unstable();
    Segment {
        name: name.to_owned(),
        started: responses.len() as u64,
        completed: complete.len() as u64,
        median_duration_ms: median(&durations),
    }
}

/// The middle of sorted `values` (the mean of the two middle ones for an even count).
fn median(sorted: &[u64]) -> Option<u64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2),
    }
}

fn duration_ms(started: &str, completed: &str) -> Option<u64> {
    let start = OffsetDateTime::parse(started, &Rfc3339).ok()?;
    let end = OffsetDateTime::parse(completed, &Rfc3339).ok()?;
    u64::try_from((end - start).whole_milliseconds()).ok()
}

/// `YYYY-MM-DD` of a response timestamp (fixed width, see docs/response-schema.md).
fn day(timestamp: &str) -> String {
    timestamp.get(..10).unwrap_or(timestamp).to_owned()
}

fn distributions(flow: &CompiledFlow, responses: &[&Response]) -> Vec<Distribution> {
    let first_language = &flow.locales[0];
    flow.steps
        .iter()
        .enumerate()
        .filter_map(|(i, step)| {
            let (options, multi) = match &step.question {
                Question::Choice(c) => (&c.options, false),
                Question::Multi(m) => (&m.options, true),
                _ => return None,
            };
            let labels = &first_language.steps[i].labels;
            let mut counts: Vec<OptionCount> = options
                .codes
                .iter()
                .enumerate()
                .map(|(o, code)| OptionCount {
                    code: code.clone(),
                    label: labels.get(o).map_or_else(String::new, |l| l.text.clone()),
                    count: 0,
                })
                .collect();
            let mut answered = 0;
            for response in responses {
                let Some(value) = response.answers.get(&step.id).and_then(|a| a.get("value"))
                else {
                    continue;
                };
                let codes: Vec<&str> = match value {
                    Value::String(code) => vec![code.as_str()],
                    Value::Array(codes) => codes.iter().filter_map(Value::as_str).collect(),
                    _ => continue,
                };
                answered += 1;
                for code in codes {
                    match counts.iter_mut().find(|c| c.code == code) {
                        Some(c) => c.count += 1,
                        // A code of another version of the flow: counted, not dropped.
                        None => counts.push(OptionCount {
                            code: code.to_owned(),
                            label: "(not in this version of the flow)".into(),
                            count: 1,
                        }),
                    }
                }
            }
            Some(Distribution {
                step: step.id.clone(),
                multi,
                answered,
                options: counts,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5]), Some(5));
        assert_eq!(median(&[1, 2, 9]), Some(2));
        assert_eq!(median(&[1, 3, 5, 100]), Some(4));
    }
}
