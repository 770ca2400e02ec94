//! `sauti check`: loads flows and translations, reports every problem with file:line, and
//! proves that every screen of every flow fits the USSD budget in every language.

use std::path::{Path, PathBuf};

use crate::engine::{self, At, SessionState};
use crate::flow::{self, CompiledFlow, StepIdx};
use crate::gsm7;
use crate::i18n::{ENGINE_FILE, FtlFile, Locales};
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

/// Everything `check` found: the flows that compiled, problems (errors: a flow with one is
/// not served), warnings, and summaries.
pub struct Report {
    pub flows: Vec<CompiledFlow>,
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
    pub summaries: Vec<FlowSummary>,
}

/// Loads and checks flows (files or directories) against a locales directory.
pub fn check(paths: &[PathBuf], locales: &Path, budget: Budget) -> Report {
    let (flows, mut problems) = flow::load_dir(paths, locales);
    // The translation files themselves, to point a warning at the line that causes it.
    let ftl = Locales::load(locales, &mut Vec::new());
    let mut summaries = Vec::new();
    for f in &flows {
        let (longest, mut found) = check_screens(f, budget);
        problems.append(&mut found);
        let mut found = screen_warnings(f, budget, &ftl);
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
    // Flows that did not compile have no screens to measure: their translations are read
    // line by line instead, so that one run still names every character forcing UCS-2.
    let compiled: Vec<&str> = flows.iter().map(|f| f.id.as_str()).collect();
    for (lang, files) in &ftl.files {
        for (stem, file) in files {
            if stem != ENGINE_FILE && !compiled.contains(&stem.as_str()) {
                problems.extend(text_warnings(lang, file, budget));
            }
        }
    }
    // Each problem once, in file order.
    problems.sort_by(|a, b| {
        (&a.path, a.line, a.col, a.severity, &a.message)
            .cmp(&(&b.path, b.line, b.col, b.severity, &b.message))
    });
    problems.dedup();
    let (warnings, problems) = problems.into_iter().partition(Problem::is_warning);
    Report {
        flows,
        problems,
        warnings,
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

/// How `check` prints what it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One `file:line:col: message` line per problem, then one summary line per flow.
    Text,
    /// One JSON document: `{"ok", "problems": [...], "warnings": [...], "flows": [...]}`.
    Json,
}

/// `sauti check`: prints every problem and warning (one line each, or one JSON document),
/// and when there is no problem one summary line per flow; returns whether the flows are
/// clean (warnings do not fail it). With `voice`, a prompt a call may play that is neither
/// recorded nor spoken by a voice is a problem.
pub fn run(
    paths: &[PathBuf],
    locales: &Path,
    budget: Budget,
    voice: Option<&VoiceCheck>,
    format: Format,
) -> bool {
    let mut report = check(paths, locales, budget);
    if let Some(v) = voice {
        for f in &report.flows {
            report
                .problems
                .extend(crate::prompts::voice_problems(f, &v.catalogue, &v.tts));
        }
    }
    let ok = report.problems.is_empty();
    if format == Format::Json {
        let flows: Vec<serde_json::Value> = report
            .summaries
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.id,
                    "path": s.path,
                    "version": s.version,
                    "steps": s.steps,
                    "ussd": s.ussd,
                    "longest": s.longest.iter().map(|l| serde_json::json!({
                        "language": l.lang,
                        "cost": l.measure.cost(),
                        "limit": l.limit,
                        "encoding": l.measure.encoding(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "ok": ok,
            "problems": report.problems,
            "warnings": report.warnings,
            "flows": flows,
        });
        println!("{doc:#}");
        return ok;
    }
    for p in report.problems.iter().chain(&report.warnings) {
        println!("{p}");
    }
    if !ok {
        eprintln!(
            "{} problem(s) found, {} warning(s)",
            report.problems.len(),
            report.warnings.len()
        );
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

/// Screens a respondent would see differently from what the author expects: one character
/// that GSM-7 lacks turns a whole screen into UCS-2 (80 characters instead of 182), and a
/// screen over the budget is split into pages. Warnings, pointing at the translation line.
fn screen_warnings(flow: &CompiledFlow, budget: Budget, ftl: &Locales) -> Vec<Problem> {
    let mut warnings = Vec::new();
    for (lang, at, pages) in all_screens(flow, budget) {
        let lang_code = &flow.languages[lang as usize];
        let step = match at {
            At::Step(i) | At::Done(i) => Some(&flow.steps[i as usize]),
            At::Language => None,
            _ => continue,
        };
        let what = step.map_or("the language screen".to_owned(), |s| {
            format!("step `{}`", s.id)
        });
        let ids: Vec<String> = step.map_or_else(
            || vec!["language-prompt".to_owned(), "language-name".to_owned()],
            |s| {
                let mut ids = vec![s.id.clone(), format!("{}-invalid", s.id)];
                if let Some(o) = s.question.options() {
                    ids.extend((0..o.len()).map(|i| o.message_id(i)));
                }
                ids
            },
        );
        let default_line = step.map_or(0, |s| s.line);
        let place = |c: char| -> (PathBuf, usize) {
            for stem in [flow.id.as_str(), ENGINE_FILE] {
                if let Some(file) = ftl.file(lang_code, stem)
                    && let Some(line) = line_with(file, &ids, c)
                {
                    return (file.path.clone(), line);
                }
            }
            (flow.path.clone(), default_line)
        };
        let measures: Vec<Measure> = pages.iter().map(|p| Measure::of(p)).collect();
        if let Some((page, m)) = pages.iter().zip(&measures).find(|(_, m)| !m.gsm) {
            let Some(c) = gsm7::first_ucs2(page) else {
                continue;
            };
            let (path, line) = place(c);
            let instead = match gsm7::alternative(c) {
                Some(alt) => format!("write `{alt}` instead to keep it GSM-7"),
                None => "it has no GSM-7 equivalent".to_owned(),
            };
            let split = if pages.len() > 1 {
                format!(", split over {} pages", pages.len())
            } else {
                String::new()
            };
            warnings.push(
                Problem::new(
                    &path,
                    line,
                    1,
                    format!(
                        "{what} in `{lang_code}`: `{c}` ({}) makes the screen UCS-2: {}/{} characters instead of {} in GSM-7{split}; {instead}",
                        c.escape_unicode(),
                        m.cost(),
                        budget.limit(*m),
                        budget.gsm7_septets,
                    ),
                )
                .warning(),
            );
        } else if pages.len() > 1 {
            warnings.push(
                Problem::new(
                    &flow.path,
                    default_line,
                    1,
                    format!(
                        "{what} in `{lang_code}` takes {} screens: the respondent presses `{}` to see the rest",
                        pages.len(),
                        flow.nav.more
                    ),
                )
                .warning(),
            );
        }
    }
    warnings
}

/// Characters forcing UCS-2 in the messages of a translation file, line by line.
fn text_warnings(lang: &str, file: &FtlFile, budget: Budget) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut current = "";
    for (n, line) in file.source.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        if line.chars().next().is_some_and(|f| f.is_ascii_alphabetic()) {
            current = line.split_once('=').map_or("", |(id, _)| id.trim());
        }
        let Some(c) = gsm7::first_ucs2(line) else {
            continue;
        };
        let instead = match gsm7::alternative(c) {
            Some(alt) => format!("write `{alt}` instead to keep it GSM-7"),
            None => "it has no GSM-7 equivalent".to_owned(),
        };
        out.push(
            Problem::new(
                &file.path,
                n + 1,
                1,
                format!(
                    "message `{current}` in `{lang}`: `{c}` ({}) makes its screen UCS-2: {} characters instead of {} in GSM-7; {instead}",
                    c.escape_unicode(),
                    budget.ucs2_chars,
                    budget.gsm7_septets,
                ),
            )
            .warning(),
        );
    }
    out
}

/// The line of `file` where one of the messages `ids` contains `c`.
fn line_with(file: &FtlFile, ids: &[String], c: char) -> Option<usize> {
    let mut current: Option<&str> = None;
    for (n, line) in file.source.lines().enumerate() {
        let starts_message = line.chars().next().is_some_and(|f| f.is_ascii_alphabetic());
        if starts_message {
            current = line.split_once('=').map(|(id, _)| id.trim());
        }
        if current.is_some_and(|id| ids.iter().any(|x| x == id)) && line.contains(c) {
            return Some(n + 1);
        }
    }
    None
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
