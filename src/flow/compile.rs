//! From TOML text to a [`CompiledFlow`]: parse, resolve every reference to an index,
//! check the graph (reachability, a way out of every loop) and bind the translations.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

use super::expr::{self, StepScope};
use super::raw::{RawFlow, RawKind, RawStep};
use super::texts::{Arg, FlowLocale, NavTexts, Prompt, RECEIPT_ARG, StepTexts};
use super::{CompiledFlow, LanguageScreen, NavKeys, SPEC_VERSION, Step, StepIdx};
use crate::gsm7::Text;
use crate::i18n::{self, ENGINE_FILE, Locales};
use crate::problem::Problem;
use crate::question::{
    Choice, DateBound, DateFormat, DateQuestion, Multi, NumberQuestion, Options, Question,
    TextQuestion,
};

/// Largest option count: numbers 97-99 are navigation keys.
pub const MAX_OPTIONS: usize = 96;

/// Loads every flow in `paths` (files, or directories of `*.toml`) against `locales`.
/// Returns the flows that compiled and every problem found.
pub fn load_dir(paths: &[PathBuf], locales_dir: &Path) -> (Vec<CompiledFlow>, Vec<Problem>) {
    let mut problems = Vec::new();
    let locales = Locales::load(locales_dir, &mut problems);
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(path)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            in_dir.sort();
            if in_dir.is_empty() {
                problems.push(Problem::new(
                    path,
                    0,
                    0,
                    "no flow (*.toml) in this directory",
                ));
            }
            files.extend(in_dir);
        } else {
            files.push(path.clone());
        }
    }
    let mut flows: Vec<CompiledFlow> = Vec::new();
    let mut engine_checked = HashSet::new();
    for file in files {
        if let Some(flow) = compile_file(&file, &locales, &mut problems) {
            for lang in &flow.languages {
                if engine_checked.insert(lang.clone()) {
                    check_engine_locale(&locales, lang, &mut problems);
                }
            }
            if let Some(other) = flows.iter().find(|f| f.id == flow.id) {
                problems.push(Problem::new(
                    &file,
                    0,
                    0,
                    format!(
                        "flow id `{}` is also used by {}",
                        flow.id,
                        other.path.display()
                    ),
                ));
                continue;
            }
            for number in &flow.voice {
                if let Some(other) = flows.iter().find(|f| f.voice.contains(number)) {
                    problems.push(Problem::new(
                        &file,
                        0,
                        0,
                        format!(
                            "voice number `{number}` is also routed to flow `{}`",
                            other.id
                        ),
                    ));
                }
            }
            for code in &flow.ussd {
                if let Some(other) = flows.iter().find(|f| f.ussd.contains(code)) {
                    problems.push(Problem::new(
                        &file,
                        0,
                        0,
                        format!(
                            "service code `{code}` is also routed to flow `{}`",
                            other.id
                        ),
                    ));
                }
            }
            flows.push(flow);
        }
    }
    (flows, problems)
}

/// Engine texts must be complete and use only the arguments the engine gives.
fn check_engine_locale(locales: &Locales, lang: &str, problems: &mut Vec<Problem>) {
    let path = locales.path_of(lang, ENGINE_FILE);
    let Some(file) = locales.file(lang, ENGINE_FILE) else {
        problems.push(Problem::new(
            &path,
            0,
            0,
            format!(
                "engine texts missing for `{lang}` (the language menu, navigation and error messages): \
                 `sauti locales <flow> --lang {lang} --locales {}` writes them",
                locales.dir.display()
            ),
        ));
        return;
    };
    for id in i18n::ENGINE_MESSAGES {
        if !file.has_message(id) {
            problems.push(Problem::new(
                &path,
                0,
                0,
                format!("message `{id}` is missing"),
            ));
        }
    }
    for (id, vars) in file.variables() {
        let allowed = crate::question::ENGINE_MESSAGE_ARGS
            .iter()
            .find(|(m, _)| *m == id)
            .map_or(&[][..], |(_, a)| *a);
        for v in vars {
            if !allowed.contains(&v) {
                problems.push(Problem::new(
                    &path,
                    file.line_of(id),
                    1,
                    format!("message `{id}` uses `${v}`, which the engine never provides"),
                ));
            }
        }
    }
}

struct Ctx<'a> {
    path: &'a Path,
    source: &'a str,
    problems: Vec<Problem>,
}

impl Ctx<'_> {
    fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        self.problems
            .push(Problem::at(self.path, self.source, span.start, msg));
    }

    fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| !p.is_warning())
    }

    fn line(&self, span: &Range<usize>) -> usize {
        crate::problem::line_col(self.source, span.start).0
    }
}

fn valid_id(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Compiles one flow file; problems are appended, `None` when it cannot be used.
pub fn compile_file(
    path: &Path,
    locales: &Locales,
    problems: &mut Vec<Problem>,
) -> Option<CompiledFlow> {
    let source = match crate::text_file::read(path) {
        Ok(s) => s,
        Err(why) => {
            problems.push(Problem::new(path, 0, 0, why));
            return None;
        }
    };
    let (raw, parse_problems) = parse_all(path, &source);
    let usable = parse_problems.is_empty();
    problems.extend(parse_problems);
    let raw = raw?;
    let mut cx = Ctx {
        path,
        source: &source,
        problems: Vec::new(),
    };
    let mut flow = compile_raw(&mut cx, raw, locales).filter(|_| usable);
    if let Some(f) = &mut flow {
        f.fingerprint = crate::hash::fnv1a(source.as_bytes());
        let mut h = crate::hash::Fnv::default();
        for lang in &f.languages {
            for stem in [f.id.as_str(), ENGINE_FILE] {
                if let Some(file) = locales.file(lang, stem) {
                    h.update(file.source.as_bytes());
                }
            }
        }
        f.texts_fingerprint = h.finish();
    }
    let ok = !cx.has_errors();
    problems.append(&mut cx.problems);
    if ok { flow } else { None }
}

/// Parses a flow file, reporting every unknown field and kind in one pass: after each one,
/// the offending line is set aside (blanked, or given the suggested kind, keeping every
/// offset) and the file parsed again. Returns the flow as far as it parsed, and the problems.
fn parse_all(path: &Path, source: &str) -> (Option<RawFlow>, Vec<Problem>) {
    let mut text = source.to_owned();
    let mut problems = Vec::new();
    while problems.len() < 50 {
        let e = match toml::from_str::<RawFlow>(&text) {
            Ok(raw) => return (Some(raw), problems),
            Err(e) => e,
        };
        let offset = e.span().map_or(0, |s| s.start);
        let (message, replacement) = explain(e.message());
        problems.push(Problem::at(path, source, offset, message));
        let Some(span) = e.span() else { break };
        let start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
        let end = text[span.start..]
            .find('\n')
            .map_or(text.len(), |i| span.start + i);
        let line = &text[start..end];
        let patched = match replacement {
            Some(Fix::Blank) => " ".repeat(line.len()),
            Some(Fix::Kind(kind)) => {
                let key = line.split('=').next().unwrap_or("").trim_end();
                let fixed = format!("{key}=\"{kind}\"");
                if fixed.len() > line.len() {
                    break;
                }
                format!("{fixed:<width$}", width = line.len())
            }
            None => break,
        };
        if patched == line || !line.is_ascii() {
            break;
        }
        text.replace_range(start..end, &patched);
    }
    (None, problems)
}

/// How to go on parsing after an error.
enum Fix {
    /// An unknown field: its line is left out.
    Blank,
    /// An unknown kind: read as the kind it was probably meant to be.
    Kind(String),
}

/// A clearer message for serde's, with a suggestion for a misspelt name, and how to go on.
fn explain(message: &str) -> (String, Option<Fix>) {
    let message = message.trim().replace('\n', " ");
    let quoted =
        |s: &str| -> Vec<String> { s.split('`').skip(1).step_by(2).map(str::to_owned).collect() };
    for (what, prefix) in [("field", "unknown field `"), ("kind", "unknown variant `")] {
        let Some(rest) = message.strip_prefix(prefix) else {
            continue;
        };
        let mut names = quoted(&format!("`{rest}"));
        let given = names.remove(0);
        let best = closest(&given, &names);
        let text = match &best {
            Some(b) => format!("unknown {what} `{given}`: did you mean `{b}`?"),
            None => format!(
                "unknown {what} `{given}`; expected one of {}",
                names.join(", ")
            ),
        };
        let fix = match what {
            "field" => Some(Fix::Blank),
            _ => best.map(Fix::Kind),
        };
        return (text, fix);
    }
    (message, None)
}

/// The name in `names` that `given` most likely meant, if one is close.
fn closest(given: &str, names: &[String]) -> Option<String> {
    let plain = |s: &str| s.to_lowercase().replace(['_', '-'], "");
    names
        .iter()
        .map(|n| {
            let d = if plain(n) == plain(given) {
                0
            } else {
                strsim::damerau_levenshtein(&plain(given), &plain(n))
            };
            (d, n)
        })
        .filter(|(d, n)| *d <= 2.max(n.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.clone())
}

struct Scope<'a> {
    ids: &'a HashMap<String, StepIdx>,
    questions: &'a [Option<Question>],
    current: StepIdx,
}

impl StepScope for Scope<'_> {
    fn earlier(&self, id: &str) -> Result<(StepIdx, &Question), String> {
        let Some(&idx) = self.ids.get(id) else {
            return Err(format!("unknown step `{id}`"));
        };
        if idx >= self.current {
            return Err(format!(
                "step `{id}` is not earlier in the flow: a condition can only read earlier answers"
            ));
        }
        match &self.questions[idx as usize] {
            Some(q) => Ok((idx, q)),
            None => Err(format!("step `{id}` has errors")),
        }
    }
}

fn compile_raw(cx: &mut Ctx<'_>, raw: RawFlow, locales: &Locales) -> Option<CompiledFlow> {
    if *raw.spec.get_ref() != SPEC_VERSION {
        cx.err(
            raw.spec.span(),
            format!(
                "spec {} is not supported by this build (it reads spec {SPEC_VERSION})",
                raw.spec.get_ref()
            ),
        );
    }
    let id = raw.id.get_ref().clone();
    if !valid_id(&id) {
        cx.err(
            raw.id.span(),
            format!("id `{id}`: use letters, digits, `-` and `_`"),
        );
    }

    // Languages.
    let mut languages: Vec<String> = Vec::new();
    for tag in raw.languages.get_ref() {
        match i18n::normalize(tag.get_ref()) {
            Some(l) if !languages.contains(&l) => languages.push(l),
            Some(_) => cx.err(
                tag.span(),
                format!("language `{}` is listed twice", tag.get_ref()),
            ),
            None => cx.err(
                tag.span(),
                format!("`{}` is not a language tag", tag.get_ref()),
            ),
        }
    }
    if languages.is_empty() {
        cx.err(
            raw.languages.span(),
            "field `languages`: list at least one language",
        );
    }
    let default_language = match &raw.default_language {
        None => 0,
        Some(tag) => {
            let l = i18n::normalize(tag.get_ref()).unwrap_or_default();
            match languages.iter().position(|x| *x == l) {
                Some(i) => i as u8,
                None => {
                    cx.err(
                        tag.span(),
                        format!(
                            "field `default_language`: `{}` is not in `languages`",
                            tag.get_ref()
                        ),
                    );
                    0
                }
            }
        }
    };
    let ask_language = raw.ask_language.unwrap_or(languages.len() > 1);
    let ussd: Vec<String> = raw
        .ussd
        .iter()
        .map(|c| c.get_ref().trim().to_owned())
        .collect();
    let voice: Vec<String> = raw
        .voice
        .iter()
        .map(|n| crate::channel::voice::normalize_number(n.get_ref()).into_owned())
        .collect();
    for (number, raw_number) in voice.iter().zip(&raw.voice) {
        let digits = number.trim_start_matches('+');
        if !number.starts_with('+')
            || !(6..=15).contains(&digits.len())
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            cx.err(
                raw_number.span(),
                format!(
                    "voice number `{}`: expected an international number like `+243900000001`",
                    raw_number.get_ref()
                ),
            );
        }
    }
    // A minute at least (a reply takes longer than that to type), a month at most (a
    // conversation older than that is another survey).
    let sms_session_ttl = raw.sms_session_ttl_secs.as_ref().and_then(|t| {
        let secs = *t.get_ref();
        if (60..=30 * 24 * 3600).contains(&secs) {
            Some(std::time::Duration::from_secs(secs))
        } else {
            cx.err(
                t.span(),
                format!(
                    "sms_session_ttl_secs = {secs}: expected between 60 (a minute) and 2592000 (30 days)"
                ),
            );
            None
        }
    });
    for code in &raw.ussd {
        let c = code.get_ref().trim();
        let shaped = c.starts_with('*') && c.ends_with('#');
        if !shaped
            || !c
                .chars()
                .all(|ch| ch.is_ascii_digit() || ch == '*' || ch == '#')
        {
            cx.err(
                code.span(),
                format!("service code `{c}`: expected a USSD code like `*384*1#`"),
            );
        }
    }
    let max_attempts = raw.max_attempts.as_ref().map_or(3, |m| *m.get_ref());
    if max_attempts == 0 {
        let span = raw.max_attempts.as_ref().map_or(0..0, |m| m.span());
        cx.err(span, "field `max_attempts`: must be at least 1");
    }

    let mut nav = NavKeys::default();
    if let Some(n) = &raw.nav {
        let r = n.get_ref();
        for (slot, value) in [
            (&mut nav.back, &r.back),
            (&mut nav.typed_back, &r.typed_back),
            (&mut nav.more, &r.more),
            (&mut nav.prev, &r.prev),
            (&mut nav.skip, &r.skip),
        ] {
            if let Some(v) = value {
                *slot = v.trim().to_owned();
            }
        }
        let keys = [&nav.back, &nav.typed_back, &nav.more, &nav.prev, &nav.skip];
        let distinct: HashSet<&&String> = keys.iter().collect();
        if distinct.len() != keys.len() || keys.iter().any(|k| k.is_empty()) {
            cx.err(n.span(), "table `nav`: keys must be distinct and not empty");
        }
    }

    // Option lists.
    let mut lists: HashMap<String, (Options, Range<usize>)> = HashMap::new();
    for (name, list) in &raw.lists {
        if !valid_id(name) {
            cx.err(
                list.span(),
                format!("list `{name}`: use letters, digits, `-` and `_`"),
            );
        }
        let codes = option_codes(
            cx,
            &list.get_ref().options,
            &format!("list `{name}`"),
            list.span(),
        );
        lists.insert(
            name.clone(),
            (
                Options {
                    label_prefix: name.clone(),
                    codes,
                },
                list.span(),
            ),
        );
    }

    // Step ids first, so that `next`, `goto` and `when` can point forward and backward.
    if raw.steps.is_empty() {
        cx.err(0..0, "the flow has no `[[step]]`");
        return None;
    }
    if raw.steps.len() > StepIdx::MAX as usize {
        cx.err(0..0, "too many steps");
        return None;
    }
    let mut ids: HashMap<String, StepIdx> = HashMap::new();
    for (i, s) in raw.steps.iter().enumerate() {
        let sid = s.get_ref().id.get_ref();
        if !valid_id(sid) {
            cx.err(
                s.get_ref().id.span(),
                format!("step id `{sid}`: use letters, digits, `-` and `_`"),
            );
        }
        if ids.insert(sid.clone(), i as StepIdx).is_some() {
            cx.err(
                s.get_ref().id.span(),
                format!("step id `{sid}` is used twice"),
            );
        }
    }
    let resolve = |cx: &mut Ctx<'_>, target: &Spanned<String>, field: &str| -> Option<StepIdx> {
        let t = target.get_ref();
        match ids.get(t) {
            Some(&i) => Some(i),
            None => {
                cx.err(
                    target.span(),
                    format!("field `{field}`: unknown step `{t}`"),
                );
                None
            }
        }
    };

    let mut questions: Vec<Option<Question>> = Vec::with_capacity(raw.steps.len());
    let mut steps: Vec<Step> = Vec::with_capacity(raw.steps.len());
    let count = raw.steps.len();
    for (i, spanned) in raw.steps.iter().enumerate() {
        let s: &RawStep = spanned.get_ref();
        let sid = s.id.get_ref().clone();
        let kind = *s.kind.get_ref();
        check_fields(cx, s, kind);
        let question = compile_question(cx, s, kind, &lists, &|cx, t, f| resolve(cx, t, f));
        let when = s.when.as_ref().and_then(|w| {
            let scope = Scope {
                ids: &ids,
                questions: &questions,
                current: i as StepIdx,
            };
            match expr::parse(w.get_ref(), &scope) {
                Ok(e) => Some(e),
                Err(msg) => {
                    cx.err(w.span(), format!("step `{sid}` field `when`: {msg}"));
                    None
                }
            }
        });
        let next = match (&s.next, kind) {
            (Some(n), _) => resolve(cx, n, "next"),
            (None, RawKind::End) => None,
            (None, _) if i + 1 < count => Some((i + 1) as StepIdx),
            (None, _) => {
                cx.err(
                    s.id.span(),
                    format!(
                        "step `{sid}` is the last one but not an `end`: add an end step or `next`"
                    ),
                );
                None
            }
        };
        let required = s.required.as_ref().is_none_or(|r| *r.get_ref());
        if !required && matches!(kind, RawKind::Info | RawKind::End) {
            cx.err(
                s.required.as_ref().map_or(0..0, |r| r.span()),
                format!(
                    "step `{sid}`: field `required` does not apply to a {} step",
                    kind.name()
                ),
            );
        }
        questions.push(question.clone());
        if let Some(question) = question {
            steps.push(Step {
                id: sid,
                question,
                when,
                next,
                required,
                line: cx.line(&s.id.span()),
            });
        }
    }
    if cx.has_errors() {
        return None;
    }
    check_graph(cx, &steps, &raw);
    if cx.has_errors() {
        return None;
    }
    let consent = raw
        .consent
        .as_ref()
        .and_then(|c| compile_consent(cx, c, &steps, &ids));
    if cx.has_errors() {
        return None;
    }

    let mut flow = CompiledFlow {
        id,
        version: *raw.version.get_ref(),
        path: cx.path.to_path_buf(),
        languages,
        default_language,
        ask_language,
        ussd,
        voice,
        sms_session_ttl,
        max_attempts,
        partials: raw.partials,
        consent,
        nav,
        steps,
        locales: Vec::new(),
        language_screen: None,
        fingerprint: 0,
        texts_fingerprint: 0,
        ussd_lines: Default::default(),
        voice_lines: Default::default(),
    };
    bind_texts(cx, &mut flow, locales, &lists);
    if !cx.has_errors() { Some(flow) } else { None }
}

fn option_codes(
    cx: &mut Ctx<'_>,
    raw: &[Spanned<String>],
    owner: &str,
    span: Range<usize>,
) -> Vec<String> {
    let mut codes: Vec<String> = Vec::new();
    // Linear: a list of 200,000 options must cost one pass, not a comparison per pair.
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    if raw.len() > MAX_OPTIONS {
        cx.err(
            span,
            format!("{owner}: at most {MAX_OPTIONS} options (97-99 are navigation keys)"),
        );
        return Vec::new();
    }
    for c in raw {
        let code = c.get_ref();
        let code_chars = |ch: char| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-';
        if code.is_empty() || !code.chars().all(code_chars) {
            cx.err(
                c.span(),
                format!("{owner}: option code `{code}`: use letters, digits, `-` and `_`"),
            );
        } else if !seen.insert(code.as_str()) {
            cx.err(
                c.span(),
                format!("{owner}: option `{code}` is listed twice"),
            );
        } else {
            codes.push(code.clone());
        }
    }
    if codes.is_empty() {
        cx.err(span.clone(), format!("{owner}: no options"));
    }
    if codes.len() > MAX_OPTIONS {
        cx.err(
            span,
            format!("{owner}: at most {MAX_OPTIONS} options (97-99 are navigation keys)"),
        );
    }
    codes
}

/// Rejects fields that do not apply to the step's kind, so that a typo is not silently ignored.
fn check_fields(cx: &mut Ctx<'_>, s: &RawStep, kind: RawKind) {
    let present: [(&str, Option<Range<usize>>); 11] = [
        ("options", s.options.as_ref().map(|x| x.span())),
        ("list", s.list.as_ref().map(|x| x.span())),
        ("goto", s.goto.as_ref().map(|x| x.span())),
        ("min_selected", s.min_selected.as_ref().map(|x| x.span())),
        ("max_selected", s.max_selected.as_ref().map(|x| x.span())),
        ("min_len", s.min_len.as_ref().map(|x| x.span())),
        ("max_len", s.max_len.as_ref().map(|x| x.span())),
        ("min", s.min.as_ref().map(|x| x.span())),
        ("max", s.max.as_ref().map(|x| x.span())),
        ("decimal", s.decimal.as_ref().map(|x| x.span())),
        ("format", s.format.as_ref().map(|x| x.span())),
    ];
    if kind == RawKind::End
        && let Some(w) = &s.when
    {
        cx.err(
            w.span(),
            format!(
                "step `{}`: an `end` step cannot have `when`; branch with `goto` instead",
                s.id.get_ref()
            ),
        );
    }
    let allowed: &[&str] = match kind {
        RawKind::Choice => &["options", "list", "goto"],
        RawKind::Multi => &["options", "list", "min_selected", "max_selected"],
        RawKind::Text => &["min_len", "max_len"],
        RawKind::Number => &["min", "max", "decimal"],
        RawKind::Date => &["min", "max", "format"],
        RawKind::Info | RawKind::End => &[],
    };
    for (name, span) in present {
        if let Some(span) = span
            && !allowed.contains(&name)
        {
            cx.err(
                span,
                format!(
                    "step `{}`: field `{name}` does not apply to a {} step",
                    s.id.get_ref(),
                    kind.name()
                ),
            );
        }
    }
}

type Resolver<'r> = dyn Fn(&mut Ctx<'_>, &Spanned<String>, &str) -> Option<StepIdx> + 'r;

fn compile_question(
    cx: &mut Ctx<'_>,
    s: &RawStep,
    kind: RawKind,
    lists: &HashMap<String, (Options, Range<usize>)>,
    resolve: &Resolver<'_>,
) -> Option<Question> {
    let sid = s.id.get_ref();
    let options = |cx: &mut Ctx<'_>| -> Option<Options> {
        match (&s.options, &s.list) {
            (Some(o), None) => Some(Options {
                label_prefix: sid.clone(),
                codes: option_codes(cx, o.get_ref(), &format!("step `{sid}`"), o.span()),
            }),
            (None, Some(l)) => match lists.get(l.get_ref()) {
                Some((o, _)) => Some(o.clone()),
                None => {
                    cx.err(
                        l.span(),
                        format!("step `{sid}` field `list`: unknown list `{}`", l.get_ref()),
                    );
                    None
                }
            },
            (Some(o), Some(_)) => {
                cx.err(
                    o.span(),
                    format!("step `{sid}`: give `options` or `list`, not both"),
                );
                None
            }
            (None, None) => {
                cx.err(
                    s.kind.span(),
                    format!(
                        "step `{sid}`: a {} step needs `options` or `list`",
                        kind.name()
                    ),
                );
                None
            }
        }
    };
    Some(match kind {
        RawKind::Choice => {
            let options = options(cx)?;
            let mut goto = vec![None; options.len()];
            if let Some(g) = &s.goto {
                for (code, target) in g.get_ref() {
                    match options.index_of(code) {
                        Some(i) => goto[i as usize] = resolve(cx, target, "goto"),
                        None => cx.err(
                            target.span(),
                            format!("step `{sid}` field `goto`: unknown option `{code}`"),
                        ),
                    }
                }
            }
            Question::Choice(Choice { options, goto })
        }
        RawKind::Multi => {
            let options = options(cx)?;
            let n = options.len() as u16;
            let min = s.min_selected.as_ref().map_or(1, |m| *m.get_ref());
            let max = s.max_selected.as_ref().map_or(n, |m| *m.get_ref());
            if min == 0 || min > max || max > n {
                let span = s
                    .min_selected
                    .as_ref()
                    .or(s.max_selected.as_ref())
                    .map_or(s.kind.span(), |m| m.span());
                cx.err(
                    span,
                    format!("step `{sid}`: need 1 <= min_selected <= max_selected <= {n}"),
                );
            }
            Question::Multi(Multi {
                options,
                min_selected: min,
                max_selected: max,
            })
        }
        RawKind::Text => {
            let min_len = s.min_len.as_ref().map_or(1, |m| *m.get_ref());
            let max_len = s.max_len.as_ref().map_or(160, |m| *m.get_ref());
            if min_len == 0 || min_len > max_len {
                cx.err(
                    s.max_len.as_ref().map_or(s.kind.span(), |m| m.span()),
                    format!("step `{sid}`: need 1 <= min_len <= max_len"),
                );
            }
            Question::Text(TextQuestion { min_len, max_len })
        }
        RawKind::Number => {
            let decimal = s.decimal.as_ref().is_some_and(|d| *d.get_ref());
            let bound =
                |cx: &mut Ctx<'_>, v: &Option<Spanned<toml::Value>>, name: &str| -> Option<f64> {
                    let v = v.as_ref()?;
                    match v.get_ref() {
                        toml::Value::Integer(i) => Some(*i as f64),
                        toml::Value::Float(f) => Some(*f),
                        _ => {
                            cx.err(
                                v.span(),
                                format!("step `{sid}` field `{name}`: expected a number"),
                            );
                            None
                        }
                    }
                };
            let min = bound(cx, &s.min, "min");
            let max = bound(cx, &s.max, "max");
            if let (Some(a), Some(b)) = (min, max)
                && a > b
            {
                cx.err(
                    s.min.as_ref().map_or(0..0, |m| m.span()),
                    format!("step `{sid}`: min is above max"),
                );
            }
            Question::Number(NumberQuestion { decimal, min, max })
        }
        RawKind::Date => {
            let format = match &s.format {
                None => DateFormat::parse("DDMMYYYY").expect("the default format parses"),
                Some(f) => match DateFormat::parse(f.get_ref()) {
                    Ok(f) => f,
                    Err(msg) => {
                        cx.err(f.span(), format!("step `{sid}` field `format`: {msg}"));
                        return None;
                    }
                },
            };
            let bound = |cx: &mut Ctx<'_>,
                         v: &Option<Spanned<toml::Value>>,
                         name: &str|
             -> Option<DateBound> {
                let v = v.as_ref()?;
                let parsed = match v.get_ref() {
                    toml::Value::String(s) => DateBound::parse(s),
                    toml::Value::Datetime(d) => DateBound::parse(&d.to_string()),
                    _ => Err(
                        "expected a date such as \"2020-01-01\", \"today\" or \"today-30\"".into(),
                    ),
                };
                parsed
                    .map_err(|msg| cx.err(v.span(), format!("step `{sid}` field `{name}`: {msg}")))
                    .ok()
            };
            let min = bound(cx, &s.min, "min");
            let max = bound(cx, &s.max, "max");
            Question::Date(DateQuestion { format, min, max })
        }
        RawKind::Info => Question::Info,
        RawKind::End => Question::End,
    })
}

/// The consent step, checked: a choice step with an agreeing option, that every question
/// comes after on every path, and whose refusal leads only to texts (info, end).
fn compile_consent(
    cx: &mut Ctx<'_>,
    raw: &Spanned<super::raw::RawConsent>,
    steps: &[Step],
    ids: &HashMap<String, StepIdx>,
) -> Option<super::Consent> {
    let c = raw.get_ref();
    let name = c.step.get_ref();
    let Some(&step) = ids.get(name) else {
        cx.err(c.step.span(), format!("consent: unknown step `{name}`"));
        return None;
    };
    let Question::Choice(choice) = &steps[step as usize].question else {
        cx.err(
            c.step.span(),
            format!("consent: step `{name}` must be a choice (agree or not)"),
        );
        return None;
    };
    let agree_code = c.agree.as_ref().map_or("yes", |a| a.get_ref().as_str());
    let Some(agree) = choice.options.codes.iter().position(|o| o == agree_code) else {
        let span = c.agree.as_ref().map_or(c.step.span(), |a| a.span());
        cx.err(
            span,
            format!("consent: step `{name}` has no option `{agree_code}` to agree with"),
        );
        return None;
    };
    let (surely, _) = answered_before(steps);
    for (i, s) in steps.iter().enumerate() {
        let asks = !matches!(s.question, Question::Info | Question::End);
        if asks && i != step as usize && !surely[i][step as usize] {
            cx.problems.push(Problem::new(
                cx.path,
                s.line,
                1,
                format!(
                    "step `{}` can be answered before consent is given at step `{name}`",
                    s.id
                ),
            ));
        }
    }
    // Everything a refusal can lead to.
    for (o, code) in choice.options.codes.iter().enumerate() {
        if o == agree {
            continue;
        }
        let first = choice
            .goto
            .get(o)
            .copied()
            .flatten()
            .or(steps[step as usize].next);
        let mut seen = vec![false; steps.len()];
        let mut stack: Vec<usize> = first.map(|f| f as usize).into_iter().collect();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            if !matches!(steps[i].question, Question::Info | Question::End) {
                cx.problems.push(Problem::new(
                    cx.path,
                    steps[step as usize].line,
                    1,
                    format!(
                        "consent: answering `{code}` at step `{name}` goes on to step `{}`, which asks a question: a refusal must end the survey (`goto = {{ {code} = \"<an end step>\" }}`)",
                        steps[i].id
                    ),
                ));
                break;
            }
            stack.extend(successors(steps, i));
        }
    }
    Some(super::Consent {
        step,
        agree: agree as u16,
        count_refusals: c.count_refusals,
    })
}

/// The steps that may follow step `i` (its `next`, and a choice's `goto` targets).
fn successors(steps: &[Step], i: usize) -> Vec<usize> {
    let s = &steps[i];
    let mut out: Vec<usize> = s.next.iter().map(|&x| x as usize).collect();
    if let Question::Choice(c) = &s.question {
        out.extend(c.goto.iter().flatten().map(|&x| x as usize));
    }
    out
}

/// Which answers exist when each step is shown: `(surely[s], maybe[s])` are the steps
/// answered on every path to `s`, and on at least one. A step with a `when`, or that may be
/// skipped, is not sure to be answered; info and end steps answer nothing.
fn answered_before(steps: &[Step]) -> (Vec<Vec<bool>>, Vec<Vec<bool>>) {
    let n = steps.len();
    let answers = |i: usize| !matches!(steps[i].question, Question::Info | Question::End);
    let sure = |i: usize| answers(i) && steps[i].when.is_none() && steps[i].required;
    let mut surely = vec![vec![true; n]; n];
    let mut maybe = vec![vec![false; n]; n];
    let mut reached = vec![false; n];
    if n == 0 {
        return (surely, maybe);
    }
    surely[0] = vec![false; n];
    reached[0] = true;
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..n {
            if !reached[i] {
                continue;
            }
            let mut out_sure = surely[i].clone();
            out_sure[i] |= sure(i);
            let mut out_maybe = maybe[i].clone();
            out_maybe[i] |= answers(i);
            for j in successors(steps, i) {
                if !std::mem::replace(&mut reached[j], true) {
                    changed = true;
                }
                for k in 0..n {
                    let s = surely[j][k] && out_sure[k];
                    let m = maybe[j][k] || out_maybe[k];
                    if (s, m) != (surely[j][k], maybe[j][k]) {
                        (surely[j][k], maybe[j][k]) = (s, m);
                        changed = true;
                    }
                }
            }
        }
    }
    (surely, maybe)
}

/// Every step must be reachable from the first, and every reachable step must have a path
/// to an `end` (a loop needs a way out).
fn check_graph(cx: &mut Ctx<'_>, steps: &[Step], raw: &RawFlow) {
    let n = steps.len();
    let successors = |i: usize| successors(steps, i);
    let mut reachable = vec![false; n];
    let mut stack = vec![0usize];
    while let Some(i) = stack.pop() {
        if !std::mem::replace(&mut reachable[i], true) {
            stack.extend(successors(i));
        }
    }
    // Backwards from every end.
    let mut exits = vec![false; n];
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..n {
            if !exits[i]
                && (matches!(steps[i].question, Question::End)
                    || successors(i).iter().any(|&j| exits[j]))
            {
                exits[i] = true;
                changed = true;
            }
        }
    }
    for i in 0..n {
        let span = raw.steps[i].get_ref().id.span();
        if !reachable[i] {
            cx.err(
                span,
                format!("step `{}` is unreachable: no step leads to it", steps[i].id),
            );
        } else if !exits[i] {
            cx.err(
                span,
                format!(
                    "step `{}` is in a loop with no way out: no path from it reaches an `end` step",
                    steps[i].id
                ),
            );
        }
    }
}

/// Binds every language's texts: missing messages and unknown arguments are problems.
fn bind_texts(
    cx: &mut Ctx<'_>,
    flow: &mut CompiledFlow,
    locales: &Locales,
    lists: &HashMap<String, (Options, Range<usize>)>,
) {
    let default_lang = flow.languages[flow.default_language as usize].clone();
    let step_ids: HashMap<&str, StepIdx> = flow
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i as StepIdx))
        .collect();
    let (surely, maybe) = answered_before(&flow.steps);
    let mut locales_out = Vec::new();
    for lang in &flow.languages {
        let ftl_path = locales.path_of(lang, &flow.id);
        let file = locales.file(lang, &flow.id).cloned();
        if file.is_none() {
            cx.problems.push(Problem::new(
                &ftl_path,
                0,
                0,
                format!(
                    "flow `{}` offers `{lang}` but this file is missing: `sauti locales {} --lang {lang} --locales {}` writes it to translate",
                    flow.id,
                    flow.id,
                    locales.dir.display()
                ),
            ));
        }
        // Arguments a message uses must be answers of this flow.
        if let Some(f) = &file {
            for (id, vars) in f.variables() {
                for v in vars {
                    let provided = v == RECEIPT_ARG
                        || step_ids.get(v).is_some_and(|&i| {
                            !matches!(
                                flow.steps[i as usize].question,
                                Question::Info | Question::End
                            )
                        });
                    if !provided {
                        cx.problems.push(Problem::new(
                            &f.path,
                            f.line_of(id),
                            1,
                            format!(
                                "message `{id}` uses `${v}`, which flow `{}` never provides",
                                flow.id
                            ),
                        ));
                    }
                }
            }
        }
        // ...and answered before the message is shown, on every path to it.
        if let Some(f) = &file {
            for (id, vars) in f.variables() {
                let shown_at = step_ids
                    .get(id)
                    .or_else(|| id.strip_suffix("-invalid").and_then(|s| step_ids.get(s)));
                let Some(&at) = shown_at else { continue };
                for v in vars {
                    let Some(&x) = step_ids.get(v) else { continue };
                    let (x, at_u) = (x as usize, at as usize);
                    if surely[at_u][x] {
                        continue;
                    }
                    let problem = if !maybe[at_u][x] {
                        Problem::new(
                            &f.path,
                            f.line_of(id),
                            1,
                            format!(
                                "message `{id}` uses `${v}`, but step `{v}` is never answered before step `{}` is shown: it would be empty",
                                flow.steps[at_u].id
                            ),
                        )
                    } else {
                        Problem::new(
                            &f.path,
                            f.line_of(id),
                            1,
                            format!(
                                "message `{id}` uses `${v}`, which is empty on the paths where step `{v}` is skipped before step `{}` (its `when`, or the respondent skipping it)",
                                flow.steps[at_u].id
                            ),
                        )
                        .warning()
                    };
                    cx.problems.push(problem);
                }
            }
        }
        // Messages no step shows (a misspelt option key), and plural variants this
        // language never selects.
        if let Some(f) = &file {
            let mut used: HashSet<String> = HashSet::from(["language-prompt".to_owned()]);
            for step in &flow.steps {
                used.insert(step.id.clone());
                used.insert(format!("{}-invalid", step.id));
                if let Some(o) = step.question.options() {
                    used.extend((0..o.len()).map(|i| o.message_id(i)));
                }
            }
            for id in f.message_ids() {
                if !used.contains(id) {
                    cx.problems.push(
                        Problem::new(
                            &f.path,
                            f.line_of(id),
                            1,
                            format!("message `{id}` is not used by flow `{}` (a misspelt step or option id?)", flow.id),
                        )
                        .warning(),
                    );
                }
            }
            let default_file = locales.file(&default_lang, &flow.id);
            if *lang != default_lang
                && let Some(d) = default_file
            {
                for id in f.message_ids() {
                    let (Some(mine), Some(theirs)) = (
                        i18n::format(&[locales.bundle(lang, &flow.id)], id, None),
                        i18n::format(&[locales.bundle(&default_lang, &flow.id)], id, None),
                    ) else {
                        continue;
                    };
                    // Names (places, minerals) stay the same in every language: only
                    // sentences are suspect.
                    let sentence = mine.split_whitespace().count() >= 3 || mine.contains('?');
                    if sentence && mine == theirs && d.has_message(id) {
                        cx.problems.push(
                            Problem::new(
                                &f.path,
                                f.line_of(id),
                                1,
                                format!("message `{id}` in `{lang}` is the same as in `{default_lang}`: not translated yet?"),
                            )
                            .warning(),
                        );
                    }
                }
            }
            for (id, key) in f.dead_plural_variants(lang) {
                cx.problems.push(
                    Problem::new(
                        &f.path,
                        f.line_of(id),
                        1,
                        format!("message `{id}`: `[{key}]` is never selected in `{lang}` (its plural rules have no `{key}`); for the number itself write `[0]`, `[1]`..."),
                    )
                    .warning(),
                );
            }
        }
        let chain = i18n::fallback_chain(lang, &default_lang);
        let flow_chain: Vec<_> = chain.iter().map(|l| locales.bundle(l, &flow.id)).collect();
        let engine_chain: Vec<_> = chain
            .iter()
            .map(|l| locales.bundle(l, ENGINE_FILE))
            .collect();
        let has = |id: &str| file.as_ref().is_some_and(|f| f.has_message(id));
        let missing = |cx: &mut Ctx<'_>, line: usize, owner: &str, id: &str| {
            if file.is_some() && !has(id) {
                cx.problems.push(Problem::new(
                    cx.path,
                    line,
                    1,
                    format!(
                        "{owner}: message `{id}` is missing in {}",
                        ftl_path.display()
                    ),
                ));
            }
        };
        let mut steps = Vec::with_capacity(flow.steps.len());
        for step in &flow.steps {
            let owner = format!("step `{}`", step.id);
            missing(cx, step.line, &owner, &step.id);
            let vars: Vec<(String, Arg)> = file
                .as_ref()
                .and_then(|f| f.variables().into_iter().find(|(id, _)| *id == step.id))
                .map(|(_, vars)| {
                    vars.iter()
                        .filter_map(|v| match (*v, step_ids.get(v)) {
                            (RECEIPT_ARG, _) => Some((RECEIPT_ARG.to_owned(), Arg::Receipt)),
                            (_, Some(&i)) => Some(((*v).to_owned(), Arg::Answer(i))),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            let prompt = if vars.is_empty() {
                Prompt::Static(i18n::format(&flow_chain, &step.id, None).unwrap_or_default())
            } else {
                Prompt::Dynamic {
                    id: step.id.clone(),
                    args: vars,
                }
            };
            let mut labels = Vec::new();
            if let Some(options) = step.question.options() {
                let line = lists
                    .get(&options.label_prefix)
                    .map_or(step.line, |(_, span)| cx.line(span));
                let owner = if lists.contains_key(&options.label_prefix) {
                    format!("list `{}`", options.label_prefix)
                } else {
                    owner.clone()
                };
                for i in 0..options.len() {
                    let mid = options.message_id(i);
                    missing(cx, line, &owner, &mid);
                    labels.push(Text::new(
                        i18n::format(&flow_chain, &mid, None).unwrap_or(mid),
                    ));
                }
            }
            let invalid = i18n::format(&flow_chain, &format!("{}-invalid", step.id), None);
            steps.push(StepTexts {
                prompt,
                labels,
                invalid,
            });
        }
        let engine =
            |id: &str| i18n::format(&engine_chain, id, None).unwrap_or_else(|| id.to_owned());
        let label = |id: &str| Text::new(engine(id));
        let nav = NavTexts {
            back: label("nav-back"),
            more: label("nav-more"),
            prev: label("nav-prev"),
            skip: label("nav-skip"),
            next: label("nav-continue"),
            resume_prompt: engine("resume-prompt"),
            resume_options: vec![label("resume-continue"), label("resume-restart")],
        };
        locales_out.push(FlowLocale {
            lang: lang.clone(),
            flow_chain,
            engine_chain,
            steps,
            nav,
        });
    }
    if flow.ask_language && flow.languages.len() > 1 {
        let default = &locales_out[flow.default_language as usize];
        flow.language_screen = Some(LanguageScreen {
            // A flow may title its own language screen (`language-prompt` in its default language).
            prompt: i18n::format(&default.flow_chain[..1], "language-prompt", None)
                .unwrap_or_else(|| default.engine_text("language-prompt", None)),
            options: locales_out
                .iter()
                .map(|l| Text::new(l.engine_text("language-name", None)))
                .collect(),
        });
    }
    flow.locales = locales_out;
    flow.ussd_lines = crate::render::ussd::UssdLines::of(flow);
    flow.voice_lines = crate::render::voice::VoiceLines::of(flow);
}
