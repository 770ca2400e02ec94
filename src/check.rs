//! `sauti check`: loads flows and translations, reports every problem with file:line, and
//! proves that every screen of every flow fits the USSD budget in every language.

use std::path::{Path, PathBuf};

use crate::engine::{self, At, SessionState};
use crate::flow::{self, CompiledFlow, StepIdx};
use crate::problem::Problem;
use crate::question::{Answer, Question};
use crate::render::{Budget, Measure, ussd};

/// The longest screen of a flow in one language.
#[derive(Debug, Clone)]
pub struct Longest {
    pub lang: String,
    pub measure: Measure,
    pub limit: u32,
}

/// One line of `check`'s summary.
#[derive(Debug, Clone)]
pub struct FlowSummary {
    pub id: String,
    pub path: PathBuf,
    pub version: u32,
    pub steps: usize,
    pub ussd: Vec<String>,
    pub longest: Vec<Longest>,
}

impl std::fmt::Display for FlowSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: ok: flow `{}` v{}, {} steps, codes [{}], longest screen:",
            self.path.display(),
            self.id,
            self.version,
            self.steps,
            self.ussd.join(" ")
        )?;
        for l in &self.longest {
            write!(
                f,
                " {} {}/{} {}",
                l.lang,
                l.measure.cost(),
                l.limit,
                l.measure.encoding()
            )?;
        }
        Ok(())
    }
}

/// Everything `check` found: the flows that compiled, problems, and summaries.
pub struct Report {
    pub flows: Vec<CompiledFlow>,
    pub problems: Vec<Problem>,
    pub summaries: Vec<FlowSummary>,
}

/// Loads and checks flows (files or directories) against a locales directory.
pub fn check(paths: &[PathBuf], locales: &Path, budget: Budget) -> Report {
    let (flows, mut problems) = flow::load_dir(paths, locales);
    let mut summaries = Vec::new();
    for f in &flows {
        let (longest, mut found) = check_screens(f, budget);
        problems.append(&mut found);
        summaries.push(FlowSummary {
            id: f.id.clone(),
            path: f.path.clone(),
            version: f.version,
            steps: f.steps.len(),
            ussd: f.ussd.clone(),
            longest,
        });
    }
    Report {
        flows,
        problems,
        summaries,
    }
}

/// A state that shows step `at` in the worst case: navigation lines present and every
/// earlier answer at its longest (for prompts that echo answers).
fn worst_case_state(flow: &CompiledFlow, lang: u8, at: At) -> SessionState {
    let labels = &flow.locales[lang as usize].steps;
    let answers = flow
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let a = match &s.question {
                Question::Choice(_) => {
                    let l = &labels[i].labels;
                    let longest = (0..l.len())
                        .max_by_key(|&k| l[k].text.chars().count())
                        .unwrap_or(0);
                    Answer::Choice(longest as u16)
                }
                Question::Multi(m) => Answer::Multi((0..m.max_selected).collect()),
                // The worst a respondent may type: every character forcing UCS-2 (`ê`), at the
                // longest the step allows, so an echo never pushes the end of a screen off it.
                Question::Text(t) => Answer::Text("ê".repeat(t.max_len as usize)),
                Question::Number(n) => Answer::Integer(n.max.unwrap_or(99999.0) as i64),
                Question::Date(_) => Answer::Date(time::macros::date!(2026 - 12 - 31)),
                Question::Info | Question::End => return None,
            };
            Some((i as StepIdx, a))
        })
        .collect();
    SessionState {
        lang,
        at,
        attempts: 0,
        history: vec![0],
        answers,
        receipt: "K7Q4".into(),
    }
}

/// What `check --voice` checks calls against: the recordings and the languages with a voice.
pub struct VoiceCheck {
    pub catalogue: crate::audio::AudioCatalogue,
    pub tts: std::collections::BTreeMap<String, String>,
}

/// `sauti check`: prints one line per problem (and the count on stderr), or, when there is
/// none, one summary line per flow; returns whether the flows are clean. With `voice`, a
/// prompt a call may play that is neither recorded nor spoken by a voice is a problem.
pub fn run(paths: &[PathBuf], locales: &Path, budget: Budget, voice: Option<&VoiceCheck>) -> bool {
    let mut report = check(paths, locales, budget);
    if let Some(v) = voice {
        for f in &report.flows {
            report
                .problems
                .extend(crate::prompts::voice_problems(f, &v.catalogue, &v.tts));
        }
    }
    for p in &report.problems {
        println!("{p}");
    }
    if !report.problems.is_empty() {
        eprintln!("{} problem(s) found", report.problems.len());
        return false;
    }
    for s in &report.summaries {
        println!("{s}");
    }
    true
}

/// Loads and checks one flow (a path or an id, see [`flow_path`]), for `sauti xform` and
/// `sauti simulate`; its problems are printed to stderr and refused.
pub fn load_one(flow: &str, locales: &Path, budget: Budget) -> anyhow::Result<CompiledFlow> {
    use anyhow::Context;
    let path = flow_path(flow);
    let report = check(std::slice::from_ref(&path), locales, budget);
    if !report.problems.is_empty() {
        for p in &report.problems {
            eprintln!("{p}");
        }
        anyhow::bail!(
            "{} has problems; fix them first (sauti check)",
            path.display()
        );
    }
    report.flows.into_iter().next().context("no flow loaded")
}

/// `flows/kufatilia.toml`, or `kufatilia` for the flow of that id in `flows/`.
pub fn flow_path(arg: &str) -> PathBuf {
    let p = Path::new(arg);
    if p.exists() || arg.ends_with(".toml") {
        p.to_path_buf()
    } else {
        Path::new("flows").join(format!("{arg}.toml"))
    }
}

/// Every USSD screen the flow can show, per language: `(lang, position, page texts)`; a
/// closing screen is given whole, before any cut to the budget.
pub fn all_screens(flow: &CompiledFlow, budget: Budget) -> Vec<(u8, At, Vec<String>)> {
    let mut out = Vec::new();
    for lang in 0..flow.languages.len() as u8 {
        let mut positions = Vec::new();
        if flow.language_screen.is_some() {
            positions.push(At::Language);
        }
        for (i, s) in flow.steps.iter().enumerate() {
            positions.push(match s.question {
                Question::End => At::Done(i as StepIdx),
                _ => At::Step(i as StepIdx),
            });
        }
        positions.push(At::GaveUp(0));
        positions.push(At::Resume(0));
        for at in positions {
            let state = worst_case_state(flow, lang, at);
            let pages = ussd::pages(flow, &engine::view(flow, &state, None), budget);
            out.push((lang, at, pages));
        }
    }
    out
}

fn check_screens(flow: &CompiledFlow, budget: Budget) -> (Vec<Longest>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut longest: Vec<Longest> = flow
        .languages
        .iter()
        .map(|l| Longest {
            lang: l.clone(),
            measure: Measure::EMPTY,
            limit: 0,
        })
        .collect();
    for (lang, at, pages) in all_screens(flow, budget) {
        let lang_code = &flow.languages[lang as usize];
        if let At::Step(_) | At::Language | At::Resume(_) = at {
            let state = worst_case_state(flow, lang, at);
            let view = engine::view(flow, &state, None);
            if let Some(unfit) = ussd::layout_error(flow, &view, budget) {
                let (line, what, codes) = match at {
                    At::Step(i) => {
                        let s = &flow.steps[i as usize];
                        (
                            s.line,
                            format!("step `{}`", s.id),
                            s.question.options().map(|o| &o.codes),
                        )
                    }
                    At::Resume(_) => (0, "resume screen".to_owned(), None),
                    _ => (0, "language screen".to_owned(), None),
                };
                let culprit = match codes.and_then(|c| c.get(unfit.option)) {
                    Some(code) => format!("option {} `{code}` is too long", unfit.option + 1),
                    None if unfit.option == usize::MAX => {
                        "the navigation lines alone are too long".to_owned()
                    }
                    None => format!("line {} is too long", unfit.option + 1),
                };
                problems.push(Problem::new(
                    &flow.path,
                    line,
                    1,
                    format!(
                        "{what} in `{lang_code}`: cannot fit the USSD screen: {culprit} ({} > {} with the navigation lines)",
                        unfit.cost, unfit.limit
                    ),
                ));
                continue;
            }
        }
        for text in pages {
            let m = Measure::of(&text);
            let l = &mut longest[lang as usize];
            if m.cost() > l.measure.cost() {
                l.measure = m;
                l.limit = budget.limit(m);
            }
            if !budget.fits(m) {
                let (line, what) = match at {
                    At::Done(i) => (
                        flow.steps[i as usize].line,
                        format!("end step `{}`", flow.steps[i as usize].id),
                    ),
                    _ => (0, "the `too-many-attempts` message".to_owned()),
                };
                problems.push(Problem::new(
                    &flow.path,
                    line,
                    1,
                    format!(
                        "{what} in `{lang_code}` is too long for one screen ({} > {} {}); an END screen cannot be paginated",
                        m.cost(),
                        budget.limit(m),
                        m.encoding()
                    ),
                ));
            }
        }
    }
    (longest, problems)
}
