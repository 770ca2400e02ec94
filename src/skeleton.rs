//! `sauti locales`: the translation skeleton of a flow for a new language: every message the
//! flow needs, in the default language's words to be translated, and the engine's own texts.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::flow::raw::RawFlow;
use crate::i18n::{ENGINE_FILE, FtlFile, Locales};

/// The engine texts shipped with Sauti, written into a new locales folder.
const ENGINE_TEXTS: [(&str, &str); 3] = [
    ("fr", include_str!("../locales/fr/sauti.ftl")),
    ("sw", include_str!("../locales/sw/sauti.ftl")),
    ("ln", include_str!("../locales/ln/sauti.ftl")),
];

/// The engine's texts (`sauti.ftl`) for `lang`: the shipped ones, or the French ones with a
/// note to translate them.
pub fn engine_texts(lang: &str) -> String {
    match ENGINE_TEXTS.iter().find(|(l, _)| *l == lang) {
        Some((_, t)) => (*t).to_owned(),
        None => format!(
            "# Sauti's own texts (language menu, navigation, wrong answers) in `{lang}`:\n\
             # translate each message from French; keep the `{{ $... }}` arguments.\n{}",
            ENGINE_TEXTS[0].1
        ),
    }
}

/// What `sauti locales` wrote.
#[derive(Debug, Default)]
pub struct Written {
    /// `<locales>/<lang>/<flow>.ftl`, and how many messages were added to it.
    pub flow_file: PathBuf,
    pub added: usize,
    /// `<locales>/<lang>/sauti.ftl` when it was missing.
    pub engine_file: Option<PathBuf>,
    /// Whether the flow's `languages` still lacks the language.
    pub not_offered: bool,
}

/// The message ids a flow file needs, in flow order: each step's question and its options'
/// labels (`<step>-<option>`, or `<list>-<option>` for a shared list, once per list).
pub fn message_ids(raw: &RawFlow) -> Vec<String> {
    let mut ids = Vec::new();
    let mut lists_done = BTreeSet::new();
    for step in &raw.steps {
        let step = step.get_ref();
        let id = step.id.get_ref();
        ids.push(id.clone());
        if let Some(options) = &step.options {
            ids.extend(
                options
                    .get_ref()
                    .iter()
                    .map(|o| format!("{id}-{}", o.get_ref())),
            );
        }
        if let Some(list) = &step.list {
            let name = list.get_ref();
            if lists_done.insert(name.clone())
                && let Some(l) = raw.lists.get(name)
            {
                ids.extend(
                    l.get_ref()
                        .options
                        .iter()
                        .map(|o| format!("{name}-{}", o.get_ref())),
                );
            }
        }
    }
    ids
}

/// Writes (or completes) `<locales>/<lang>/<flow>.ftl` and, for a new locales folder, the
/// engine texts. Existing messages are kept as they are; missing ones are appended, each
/// with the default language's text as a comment and, until translated, as its value (so
/// the file is valid at once, and `check` warns that it is the same as the default).
pub fn write(flow_path: &Path, locales: &Path, lang: &str) -> anyhow::Result<Written> {
    let lang = crate::i18n::normalize(lang)
        .with_context(|| format!("`{lang}` is not a language tag (e.g. sw, ln, fr)"))?;
    let source = crate::text_file::read(flow_path).map_err(|e| anyhow::anyhow!(e))?;
    let raw: RawFlow = toml::from_str(&source)
        .with_context(|| format!("{}: run `sauti check` first", flow_path.display()))?;
    let flow_id = raw.id.get_ref().clone();
    let offered: Vec<String> = raw
        .languages
        .get_ref()
        .iter()
        .filter_map(|l| crate::i18n::normalize(l.get_ref()))
        .collect();
    let source_lang = raw
        .default_language
        .as_ref()
        .and_then(|l| crate::i18n::normalize(l.get_ref()))
        .or_else(|| offered.first().cloned())
        .unwrap_or_else(|| "fr".into());
    if source_lang == lang {
        bail!("`{lang}` is the flow's default language: write its texts by hand");
    }
    let mut problems = Vec::new();
    let all = Locales::load(locales, &mut problems);
    let from = all.file(&source_lang, &flow_id);
    let existing = all.file(&lang, &flow_id);
    let dir = locales.join(&lang);
    crate::private_fs::create_dir_all(&dir)?;

    let mut text = existing.map_or_else(
        || {
            format!(
                "# {flow_id}: the texts of flow `{flow_id}` in `{lang}`.\n\
                 # Each message is still in `{source_lang}`: translate it (the comment above it\n\
                 # keeps the original). `sauti check` warns while a message is untranslated.\n"
            )
        },
        |f| f.source.clone(),
    );
    let mut added = 0;
    for id in message_ids(&raw) {
        if existing.is_some_and(|f| f.has_message(&id)) {
            continue;
        }
        let original = from.and_then(|f| message_source(f, &id));
        if !text.ends_with('\n') {
            text.push('\n');
        }
        match original {
            Some(o) => {
                let first = o.lines().next().unwrap_or_default();
                let _ = writeln!(text, "\n# {source_lang}: {first}");
                let _ = writeln!(text, "{o}");
            }
            None => {
                let _ = writeln!(text, "\n# {source_lang}: (no text yet)");
                let _ = writeln!(text, "{id} = {id}");
            }
        }
        added += 1;
    }
    let flow_file = dir.join(format!("{flow_id}.ftl"));
    crate::private_fs::replace(&flow_file, text.as_bytes())?;

    let engine_path = dir.join(format!("{ENGINE_FILE}.ftl"));
    let engine_file = if engine_path.exists() {
        None
    } else {
        crate::private_fs::replace(&engine_path, engine_texts(&lang).as_bytes())?;
        Some(engine_path)
    };
    Ok(Written {
        flow_file,
        added,
        engine_file,
        not_offered: !offered.contains(&lang),
    })
}

/// A message as written in `file` (its lines, attributes and variants included).
fn message_source(file: &FtlFile, id: &str) -> Option<String> {
    let mut lines = file.source.lines().skip_while(|l| {
        !(l.strip_prefix(id)
            .is_some_and(|rest| rest.trim_start().starts_with('=')))
    });
    let first = lines.next()?;
    let mut out = vec![first];
    // A message goes on over indented lines.
    out.extend(lines.take_while(|l| l.starts_with(' ') || l.starts_with('\t')));
    Some(out.join("\n"))
}
