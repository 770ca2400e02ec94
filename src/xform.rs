//! A flow exported as an ODK XForm 1.0 (`sauti xform FLOW`), so that ODK Central or KoBoToolbox
//! can host the form that Sauti's OpenRosa submissions ([`crate::sink::openrosa`]) fill in.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::flow::{Arg, CompiledFlow, FlowLocale, Prompt, StepIdx};
use crate::question::{ArgValue, Question};

/// Escapes `& < > " '` for XML text and attribute values, and drops the characters XML 1.0
/// cannot carry at all (control characters other than tab, newline and carriage return).
pub fn escape(s: &str) -> Cow<'_, str> {
    let needs = |c: char| matches!(c, '&' | '<' | '>' | '"' | '\'') || !xml_char(c);
    if !s.chars().any(needs) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if xml_char(c) => out.push(c),
            _ => {}
        }
    }
    Cow::Owned(out)
}

/// Whether XML 1.0 allows `c` in a document.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The element name of an answer field: the step id, which flows already restrict to an ASCII
/// letter followed by letters, digits, `-` and `_`. Anything else (a record not made by this
/// build) is made a valid XML name so that the document stays well-formed.
pub fn element_name(id: &str) -> Cow<'_, str> {
    let valid_rest = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
    let mut chars = id.chars();
    match chars.next() {
        Some(c) if (c.is_ascii_alphabetic() || c == '_') && chars.all(valid_rest) => {
            Cow::Borrowed(id)
        }
        _ => {
            let mut name: String = id
                .chars()
                .map(|c| if valid_rest(c) { c } else { '_' })
                .collect();
            if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                name.insert(0, '_');
            }
            Cow::Owned(name)
        }
    }
}

/// Whether a step holds an answer in the instance (every kind but `info` and `end`).
fn answers(question: &Question) -> bool {
    !matches!(question, Question::Info | Question::End)
}

/// The label of step `i` in one language, as XML content. A prompt that echoes earlier answers
/// (`{ $incident }`) shows them with `<output>`, as ODK forms do; the receipt code, which a
/// form cannot know, is left out.
fn label(locale: &FlowLocale, flow: &CompiledFlow, i: usize) -> String {
    let (id, args) = match &locale.steps[i].prompt {
        Prompt::Static(s) => return escape(s).into_owned(),
        Prompt::Dynamic { id, args } => (id, args),
    };
    // Each argument formats as a marker (private-use characters, which no translation holds),
    // replaced after escaping by the markup that shows the answer.
    let marker = |k: usize| format!("\u{E000}{k}\u{E001}");
    let fluent_args = crate::i18n::args_from(
        args.iter()
            .enumerate()
            .map(|(k, (name, _))| (name.as_str(), ArgValue::Text(marker(k)))),
    );
    let Some(text) = crate::i18n::format(&locale.flow_chain, id, Some(&fluent_args)) else {
        return escape(&flow.steps[i].id).into_owned();
    };
    let mut out = escape(&text).into_owned();
    for (k, (_, arg)) in args.iter().enumerate() {
        let shown = match arg {
            Arg::Answer(s) => {
                let step = &flow.steps[*s as usize];
                let path = format!("/data/{}", element_name(&step.id));
                match step.question {
                    Question::Choice(_) => {
                        format!("<output value=\"jr:choice-name({path}, '{path}')\"/>")
                    }
                    _ => format!("<output value=\"{path}\"/>"),
                }
            }
            Arg::Receipt => String::new(),
        };
        out = out.replace(&marker(k), &shown);
    }
    out
}

/// The steps every path from the first step to an `end` goes through: only those can be marked
/// `required` in a form that does not carry Sauti's branching (a `goto` or a `when` may skip
/// the others).
fn on_every_path(flow: &CompiledFlow) -> Vec<bool> {
    let n = flow.steps.len();
    let successors = |i: usize| -> Vec<usize> {
        let step = &flow.steps[i];
        let mut next: Vec<usize> = step.next.map(|s| s as usize).into_iter().collect();
        if let Question::Choice(c) = &step.question {
            next.extend(c.goto.iter().flatten().map(|&s: &StepIdx| s as usize));
        }
        next
    };
    // Whether an end can be reached from the first step without passing through `avoid`.
    let end_reachable_avoiding = |avoid: usize| -> bool {
        if avoid == 0 {
            return false;
        }
        let mut seen = vec![false; n];
        let mut stack = vec![0usize];
        seen[0] = true;
        while let Some(i) = stack.pop() {
            if matches!(flow.steps[i].question, Question::End) {
                return true;
            }
            for j in successors(i) {
                if j < n && j != avoid && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        false
    };
    (0..n).map(|i| !end_reachable_avoiding(i)).collect()
}

/// The flow as an ODK XForm: the instance root is `data` (`id` = flow id, `version` = flow
/// version, as in every submission), one element per answering step named after it, then
/// `meta/instanceID`; texts in every language of the flow as `itext` translations.
pub fn xform(flow: &CompiledFlow) -> String {
    let mut x = String::with_capacity(16 * 1024);
    let steps: Vec<usize> = (0..flow.steps.len())
        .filter(|&i| answers(&flow.steps[i].question))
        .collect();
    let always = on_every_path(flow);

    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(concat!(
        "<h:html xmlns=\"http://www.w3.org/2002/xforms\"",
        " xmlns:h=\"http://www.w3.org/1999/xhtml\"",
        " xmlns:ev=\"http://www.w3.org/2001/xml-events\"",
        " xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"",
        " xmlns:jr=\"http://openrosa.org/javarosa\"",
        " xmlns:odk=\"http://www.opendatakit.org/xforms\"",
        " xmlns:orx=\"http://openrosa.org/xforms\">\n",
    ));
    x.push_str("  <h:head>\n");
    let _ = writeln!(x, "    <h:title>{}</h:title>", escape(&flow.id));
    x.push_str("    <model odk:xforms-version=\"1.0.0\">\n");

    // Translations.
    x.push_str("      <itext>\n");
    for (l, locale) in flow.locales.iter().enumerate() {
        let lang = flow.languages.get(l).unwrap_or(&locale.lang);
        let default = if l == flow.default_language as usize {
            " default=\"true()\""
        } else {
            ""
        };
        let _ = writeln!(
            x,
            "        <translation lang=\"{}\"{default}>",
            escape(lang)
        );
        for &i in &steps {
            let step = &flow.steps[i];
            let _ = writeln!(
                x,
                "          <text id=\"{}:label\"><value>{}</value></text>",
                escape(&step.id),
                label(locale, flow, i)
            );
            if let Some(options) = step.question.options() {
                let labels = &locale.steps[i].labels;
                for (o, code) in options.codes.iter().enumerate() {
                    let label = labels.get(o).map_or(code.as_str(), |l| l.text.as_str());
                    let _ = writeln!(
                        x,
                        "          <text id=\"{}-{}:label\"><value>{}</value></text>",
                        escape(&step.id),
                        escape(code),
                        escape(label)
                    );
                }
            }
        }
        x.push_str("        </translation>\n");
    }
    x.push_str("      </itext>\n");

    // The instance: what a submission holds.
    x.push_str("      <instance>\n");
    let _ = writeln!(
        x,
        "        <data id=\"{}\" version=\"{}\">",
        escape(&flow.id),
        flow.version
    );
    for &i in &steps {
        let _ = writeln!(x, "          <{}/>", element_name(&flow.steps[i].id));
    }
    x.push_str("          <meta>\n            <instanceID/>\n          </meta>\n");
    x.push_str("        </data>\n      </instance>\n");

    // Types and constraints (`when` is evaluated by Sauti, so no `relevant`).
    for &i in &steps {
        let step = &flow.steps[i];
        let (kind, constraint) = match &step.question {
            Question::Choice(_) | Question::Multi(_) => ("string", None),
            Question::Text(t) => ("string", Some(format!("string-length(.) <= {}", t.max_len))),
            Question::Number(n) => {
                let bounds: Vec<String> = [
                    n.min.map(|m| format!(". >= {m}")),
                    n.max.map(|m| format!(". <= {m}")),
                ]
                .into_iter()
                .flatten()
                .collect();
                (
                    if n.decimal { "decimal" } else { "int" },
                    (!bounds.is_empty()).then(|| bounds.join(" and ")),
                )
            }
            Question::Date(_) => ("date", None),
            Question::Info | Question::End => continue,
        };
        let _ = write!(
            x,
            "      <bind nodeset=\"/data/{}\" type=\"{kind}\"",
            element_name(&step.id)
        );
        if step.required && step.when.is_none() && always[i] {
            x.push_str(" required=\"true()\"");
        }
        if let Some(c) = constraint {
            let _ = write!(x, " constraint=\"{}\"", escape(&c));
        }
        x.push_str("/>\n");
    }
    x.push_str(
        "      <bind nodeset=\"/data/meta/instanceID\" type=\"string\" readonly=\"true()\" jr:preload=\"uid\"/>\n",
    );
    x.push_str("    </model>\n  </h:head>\n");

    // The body: one control per answering step.
    x.push_str("  <h:body>\n");
    for &i in &steps {
        let step = &flow.steps[i];
        let name = element_name(&step.id);
        let id = escape(&step.id);
        let control = match &step.question {
            Question::Choice(_) => "select1",
            Question::Multi(_) => "select",
            _ => "input",
        };
        let _ = writeln!(x, "    <{control} ref=\"/data/{name}\">");
        let _ = writeln!(x, "      <label ref=\"jr:itext('{id}:label')\"/>");
        if let Some(options) = step.question.options() {
            for code in &options.codes {
                let code = escape(code);
                let _ = writeln!(
                    x,
                    "      <item>\n        <label ref=\"jr:itext('{id}-{code}:label')\"/>\n        <value>{code}</value>\n      </item>"
                );
            }
        }
        let _ = writeln!(x, "    </{control}>");
    }
    x.push_str("  </h:body>\n</h:html>\n");
    x
}

/// `sauti xform`: loads and checks the flow (a path or an id) and writes its XForm to
/// `output`, or to standard output.
pub fn command(
    flow: &str,
    locales: &std::path::Path,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let flow = crate::check::load_one(flow, locales, crate::gsm7::Budget::default())?;
    let xml = xform(&flow);
    match output {
        Some(p) => std::fs::write(p, xml).with_context(|| format!("writing {}", p.display())),
        None => {
            print!("{xml}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_drops_what_xml_cannot_carry() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape("ok\u{1}\tline\n"), "ok\tline\n");
        assert!(matches!(escape("plain éɛ"), Cow::Borrowed(_)));
    }

    #[test]
    fn element_names_stay_valid() {
        assert_eq!(element_name("incident_other"), "incident_other");
        assert_eq!(element_name("9lives"), "_9lives");
        assert_eq!(element_name("a b"), "a_b");
        assert_eq!(element_name(""), "_");
    }
}
