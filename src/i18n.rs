//! Translations: Fluent files per language (`locales/<lang>/<flow>.ftl` and `sauti.ftl`),
//! language tags (ISO 639-1/-3, regions) and the fallback chain used when a message is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use fluent_syntax::ast;
use unic_langid::LanguageIdentifier;

use crate::problem::{Problem, line_col};

/// A thread-safe bundle: built once at start-up, shared by every hop.
pub type Bundle = fluent_bundle::concurrent::FluentBundle<Arc<FluentResource>>;

/// The file holding the engine's own texts (navigation, errors, language screen).
pub const ENGINE_FILE: &str = "sauti";

/// Engine messages every language must have.
pub const ENGINE_MESSAGES: &[&str] = &[
    "language-name",
    "language-prompt",
    "nav-back",
    "nav-more",
    "nav-prev",
    "nav-skip",
    "nav-continue",
    "invalid-option",
    "invalid-selection",
    "invalid-empty",
    "invalid-too-short",
    "invalid-too-long",
    "invalid-number",
    "invalid-integer",
    "invalid-range",
    "invalid-min",
    "invalid-max",
    "invalid-date",
    "invalid-date-range",
    "invalid-date-min",
    "invalid-date-max",
    "too-many-attempts",
    "unknown-service",
    "service-unavailable",
    "resume-prompt",
    "resume-continue",
    "resume-restart",
    "survey-superseded",
    "sms-stopped",
    "sms-not-started",
];

/// The language every chain ends with: the engine's texts are complete in it.
pub const LAST_RESORT: &str = "fr";

/// Maps `fra`, `fr-CD`, `FR`, `swa`, `swh`, `sw-KE`, `lin`, `ln-CD` ... to the two-letter
/// code the locale folders use. `None` when the tag does not parse.
pub fn normalize(tag: &str) -> Option<String> {
    let id: LanguageIdentifier = tag.trim().replace('_', "-").parse().ok()?;
    let lang = id.language.as_str().to_ascii_lowercase();
    let short = match lang.as_str() {
        "fra" | "fre" => "fr",
        "swa" | "swh" | "swc" => "sw",
        "lin" => "ln",
        "eng" => "en",
        other => other,
    };
    Some(short.to_owned())
}

/// One parsed `.ftl` file.
#[derive(Debug)]
pub struct FtlFile {
    pub path: PathBuf,
    pub source: String,
    pub resource: Arc<FluentResource>,
}

impl FtlFile {
    /// 1-based line where message `id` is defined (0 if absent).
    pub fn line_of(&self, id: &str) -> usize {
        let mut offset = 0;
        for line in self.source.split_inclusive('\n') {
            if let Some(rest) = line.strip_prefix(id)
                && rest.trim_start().starts_with('=')
            {
                return line_col(&self.source, offset).0;
            }
            offset += line.len();
        }
        0
    }

    pub fn has_message(&self, id: &str) -> bool {
        self.message(id).is_some()
    }

    pub fn message(&self, id: &str) -> Option<&ast::Message<&str>> {
        self.resource.entries().find_map(|e| match e {
            ast::Entry::Message(m) if m.id.name == id && m.value.is_some() => Some(m),
            _ => None,
        })
    }

    /// Every message with the variables (`$name`) it uses.
    pub fn variables(&self) -> Vec<(&str, Vec<&str>)> {
        self.resource
            .entries()
            .filter_map(|e| match e {
                ast::Entry::Message(m) => {
                    let mut vars = Vec::new();
                    if let Some(p) = &m.value {
                        pattern_vars(p, &mut vars);
                    }
                    for a in &m.attributes {
                        pattern_vars(&a.value, &mut vars);
                    }
                    vars.sort_unstable();
                    vars.dedup();
                    Some((m.id.name, vars))
                }
                _ => None,
            })
            .collect()
    }

    /// Every message id defined in the file.
    pub fn message_ids(&self) -> Vec<&str> {
        self.resource
            .entries()
            .filter_map(|e| match e {
                ast::Entry::Message(m) => Some(m.id.name),
                _ => None,
            })
            .collect()
    }

    /// Plural variant keys (`[zero]`, `[one]`, `[few]`...) that `lang`'s plural rules never
    /// select, by message: a `[zero]` in French is dead text (0 is `[one]` there; a `[0]`
    /// variant matches the number zero).
    pub fn dead_plural_variants(&self, lang: &str) -> Vec<(&str, &str)> {
        use intl_pluralrules::{PluralCategory, PluralRuleType, PluralRules};
        let Ok(id) = lang.parse::<unic_langid::LanguageIdentifier>() else {
            return Vec::new();
        };
        let Ok(rules) = PluralRules::create(id, PluralRuleType::CARDINAL) else {
            return Vec::new();
        };
        // The categories the rules can give, found by asking them (the crate lists none):
        // integers, the decimals that rules treat apart, and the millions of `many`.
        let samples = (0..=1000)
            .map(|n: u32| n.to_string())
            .chain(["0.5", "1.5", "2.5", "1.0", "1000000", "2000000"].map(str::to_owned));
        let mut categories: Vec<&str> = samples
            .filter_map(|n| rules.select(n.as_str()).ok())
            .map(|c| match c {
                PluralCategory::ZERO => "zero",
                PluralCategory::ONE => "one",
                PluralCategory::TWO => "two",
                PluralCategory::FEW => "few",
                PluralCategory::MANY => "many",
                PluralCategory::OTHER => "other",
            })
            .collect();
        categories.sort_unstable();
        categories.dedup();
        let mut dead = Vec::new();
        for e in self.resource.entries() {
            let ast::Entry::Message(m) = e else { continue };
            let mut keys = Vec::new();
            if let Some(p) = &m.value {
                pattern_variant_keys(p, &mut keys);
            }
            for key in keys {
                let plural = ["zero", "one", "two", "few", "many"].contains(&key);
                if plural && !categories.contains(&key) {
                    dead.push((m.id.name, key));
                }
            }
        }
        dead
    }
}

/// The identifier keys (`[one]`, not `[0]`) of every select expression in a pattern.
fn pattern_variant_keys<'s>(p: &ast::Pattern<&'s str>, out: &mut Vec<&'s str>) {
    for el in &p.elements {
        if let ast::PatternElement::Placeable {
            expression: ast::Expression::Select { variants, .. },
        } = el
        {
            for v in variants {
                if let ast::VariantKey::Identifier { name } = v.key {
                    out.push(name);
                }
                pattern_variant_keys(&v.value, out);
            }
        }
    }
}

fn pattern_vars<'s>(p: &ast::Pattern<&'s str>, out: &mut Vec<&'s str>) {
    for el in &p.elements {
        if let ast::PatternElement::Placeable { expression } = el {
            expression_vars(expression, out);
        }
    }
}

fn expression_vars<'s>(e: &ast::Expression<&'s str>, out: &mut Vec<&'s str>) {
    match e {
        ast::Expression::Inline(i) => inline_vars(i, out),
        ast::Expression::Select { selector, variants } => {
            inline_vars(selector, out);
            for v in variants {
                pattern_vars(&v.value, out);
            }
        }
    }
}

fn inline_vars<'s>(i: &ast::InlineExpression<&'s str>, out: &mut Vec<&'s str>) {
    match i {
        ast::InlineExpression::VariableReference { id } => out.push(id.name),
        ast::InlineExpression::FunctionReference { arguments, .. } => {
            for a in &arguments.positional {
                inline_vars(a, out);
            }
            for a in &arguments.named {
                inline_vars(&a.value, out);
            }
        }
        ast::InlineExpression::Placeable { expression } => expression_vars(expression, out),
        _ => {}
    }
}

/// Every `.ftl` file under a locales directory, by language then by file stem.
#[derive(Debug, Default)]
pub struct Locales {
    pub dir: PathBuf,
    pub files: BTreeMap<String, BTreeMap<String, Arc<FtlFile>>>,
}

/// How deep `{ ... }` placeables and `( ... )` calls may nest in a Fluent file.
///
/// The Fluent parser (`fluent-syntax`) recurses once per level, without a limit (upstream
/// projectfluent/fluent#284): 5,000 nested `{` (a 10 KB file) overflowed a 2 MB stack and
/// killed `check`, or a server reloading its translations. Found while fuzzing the flow loader
/// (docs/fuzzing.md). Real messages nest two or three deep.
pub const MAX_FTL_NESTING: usize = 64;

/// The byte offset of the first `{` or `(` nested deeper than [`MAX_FTL_NESTING`], if any.
/// It over-counts rather than under-counts: every `{` outside comments and string literals
/// opens a level, every `(` inside a placeable too, so it never lets a deep file through.
fn nests_too_deep(source: &str) -> Option<usize> {
    let bytes = source.as_bytes();
    let mut depth = 0usize;
    let mut braces = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let at_line_start = i == 0 || bytes[i - 1] == b'\n';
        match bytes[i] {
            // A comment, outside any placeable: skip the line.
            b'#' if at_line_start && braces == 0 => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            // A string literal inside a placeable: skip it (it ends at its quote or line end).
            b'"' if braces > 0 => {
                i += 1;
                while i < bytes.len() && !matches!(bytes[i], b'"' | b'\n') {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' => {
                braces += 1;
                depth += 1;
                if depth > MAX_FTL_NESTING {
                    return Some(i);
                }
            }
            b'(' if braces > 0 => {
                depth += 1;
                if depth > MAX_FTL_NESTING {
                    return Some(i);
                }
            }
            b'}' if braces > 0 => {
                braces -= 1;
                depth = depth.saturating_sub(1);
            }
            b')' if braces > 0 => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

impl Locales {
    /// Reads `dir/<lang>/*.ftl`. Syntax errors become problems; the valid part of a file
    /// is still loaded so that later checks can report more than the first error.
    pub fn load(dir: &Path, problems: &mut Vec<Problem>) -> Locales {
        let mut locales = Locales {
            dir: dir.to_path_buf(),
            files: BTreeMap::new(),
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                problems.push(Problem::new(
                    dir,
                    0,
                    0,
                    format!("cannot read locales directory: {e}"),
                ));
                return locales;
            }
        };
        let mut lang_dirs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        lang_dirs.sort();
        for lang_dir in lang_dirs {
            let name = lang_dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let Some(lang) = normalize(&name) else {
                problems.push(Problem::new(&lang_dir, 0, 0, "not a language tag"));
                continue;
            };
            let mut files: Vec<PathBuf> = std::fs::read_dir(&lang_dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "ftl"))
                .collect();
            files.sort();
            for path in files {
                let source = match crate::text_file::read(&path) {
                    Ok(s) => s,
                    Err(why) => {
                        problems.push(Problem::new(&path, 0, 0, why));
                        continue;
                    }
                };
                if let Some(at) = nests_too_deep(&source) {
                    problems.push(Problem::at(
                        &path,
                        &source,
                        at,
                        format!(
                            "placeables and calls nested more than {MAX_FTL_NESTING} deep: not read"
                        ),
                    ));
                    continue;
                }
                let resource = match FluentResource::try_new(source.clone()) {
                    Ok(r) => r,
                    Err((r, errors)) => {
                        for e in errors {
                            // At the end of the file, the start of the broken entry says more.
                            let at = match &e.slice {
                                Some(entry) if e.pos.start >= source.trim_end().len() => {
                                    entry.start
                                }
                                _ => e.pos.start,
                            };
                            problems.push(Problem::at(
                                &path,
                                &source,
                                at,
                                format!("Fluent syntax error: {}", e.kind),
                            ));
                        }
                        r
                    }
                };
                let stem = path
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                locales.files.entry(lang.clone()).or_default().insert(
                    stem,
                    Arc::new(FtlFile {
                        path,
                        source,
                        resource: Arc::new(resource),
                    }),
                );
            }
        }
        locales
    }

    pub fn file(&self, lang: &str, stem: &str) -> Option<&Arc<FtlFile>> {
        self.files.get(lang)?.get(stem)
    }

    /// Where `lang`'s file for `stem` is (or should be).
    pub fn path_of(&self, lang: &str, stem: &str) -> PathBuf {
        self.file(lang, stem)
            .map(|f| f.path.clone())
            .unwrap_or_else(|| self.dir.join(lang).join(format!("{stem}.ftl")))
    }

    /// A bundle of one file in one language (empty if the file is missing).
    pub fn bundle(&self, lang: &str, stem: &str) -> Arc<Bundle> {
        let id: LanguageIdentifier = lang.parse().unwrap_or_default();
        let mut bundle = Bundle::new_concurrent(vec![id]);
        // Isolation marks are not GSM-7 and would force every screen into UCS-2.
        bundle.set_use_isolating(false);
        if let Some(f) = self.file(lang, stem) {
            // Duplicate ids are reported by `check`; the first definition wins here.
            let _ = bundle.add_resource(f.resource.clone());
        }
        Arc::new(bundle)
    }
}

/// Formats message `id` from the first bundle of `chain` that has it.
pub fn format(chain: &[Arc<Bundle>], id: &str, args: Option<&FluentArgs<'_>>) -> Option<String> {
    for bundle in chain {
        if let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) {
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, args, &mut errors);
            return Some(text.into_owned());
        }
    }
    None
}

/// Builds Fluent arguments from (name, value) pairs.
pub fn args_from<'a>(
    pairs: impl IntoIterator<Item = (&'a str, crate::question::ArgValue)>,
) -> FluentArgs<'a> {
    let mut args = FluentArgs::new();
    for (k, v) in pairs {
        match v {
            crate::question::ArgValue::Number(n) => args.set(k, FluentValue::from(n)),
            crate::question::ArgValue::Text(t) => args.set(k, FluentValue::from(t)),
        }
    }
    args
}

/// The order in which languages are tried for a message missing at run time:
/// the respondent's language, then the flow's default, then French.
pub fn fallback_chain(lang: &str, flow_default: &str) -> Vec<String> {
    let mut chain = vec![lang.to_owned()];
    for l in [flow_default, LAST_RESORT] {
        if !chain.iter().any(|c| c == l) {
            chain.push(l.to_owned());
        }
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_letter_codes_and_regions_map_to_folders() {
        assert_eq!(normalize("fra").as_deref(), Some("fr"));
        assert_eq!(normalize("fr-CD").as_deref(), Some("fr"));
        assert_eq!(normalize("swa").as_deref(), Some("sw"));
        assert_eq!(normalize("sw_KE").as_deref(), Some("sw"));
        assert_eq!(normalize("lin").as_deref(), Some("ln"));
        assert_eq!(normalize("ln-CD").as_deref(), Some("ln"));
        assert_eq!(normalize("!!"), None);
    }

    /// Found while fuzzing the flow loader (docs/fuzzing.md): deeply nested placeables, calls
    /// or selectors overflowed the stack in the Fluent parser. Run on a 2 MB thread, the size of
    /// tokio's worker threads (where a server reloads translations).
    #[test]
    fn deeply_nested_fluent_is_a_problem_not_a_stack_overflow() {
        let load = |ftl: String| {
            std::thread::Builder::new()
                .stack_size(2 * 1024 * 1024)
                .spawn(move || {
                    let dir = tempfile::tempdir().unwrap();
                    std::fs::create_dir(dir.path().join("fr")).unwrap();
                    std::fs::write(dir.path().join("fr/f.ftl"), ftl).unwrap();
                    let mut problems = Vec::new();
                    let locales = Locales::load(dir.path(), &mut problems);
                    let problems: Vec<String> = problems
                        .iter()
                        .map(|p| format!("{}:{}: {}", p.line, p.col, p.message))
                        .collect();
                    (locales.file("fr", "f").is_some(), problems)
                })
                .unwrap()
                .join()
                .expect("no stack overflow")
        };
        let n = 100_000;
        let too_deep =
            format!("placeables and calls nested more than {MAX_FTL_NESTING} deep: not read");
        let placeables = format!("ok = Oui\nm = {}\"x\"{}\n", "{ ".repeat(n), " }".repeat(n));
        assert_eq!(
            load(placeables),
            (
                false,
                vec![format!("2:{}: {too_deep}", 2 * MAX_FTL_NESTING + 5)]
            )
        );
        let calls = format!("m = {{ {}1{} }}\n", "NUMBER(".repeat(n), ")".repeat(n));
        assert!(!load(calls).0);
        let selectors = format!(
            "m = {}x{}\n",
            "{ $n ->\n *[other] ".repeat(n),
            "\n}".repeat(n)
        );
        assert!(!load(selectors).0);
        // Over the line: a placeable in every line at column 0 still nests.
        let lines = format!("m = {}\n", "{\na".repeat(n));
        assert!(!load(lines).0);

        // At the limit, and with braces and parentheses that open nothing, files load.
        let k = MAX_FTL_NESTING;
        let at_limit = format!("m = {}\"x\"{}\n", "{ ".repeat(k), " }".repeat(k));
        assert_eq!(load(at_limit), (true, vec![]));
        let literal = format!(
            "# {}\nm = (((( {{ \"{}\" }} ))))\nn = {{ NUMBER($x) }} (((\n",
            "{".repeat(2 * k),
            "{(".repeat(2 * k)
        );
        assert_eq!(load(literal), (true, vec![]));
    }

    #[test]
    fn the_chain_ends_in_the_default_then_french() {
        assert_eq!(fallback_chain("ln", "sw"), vec!["ln", "sw", "fr"]);
        assert_eq!(fallback_chain("fr", "fr"), vec!["fr"]);
    }
}
