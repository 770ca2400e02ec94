//! A flow exported as an ODK XForm 1.0 (`sauti xform FLOW`), so that ODK Central or KoBoToolbox
//! can host the form that Sauti's OpenRosa submissions ([`crate::sink::openrosa`]) fill in.

mod constraint;
mod label;
pub(crate) mod language;
pub mod metadata;
mod reach;
pub mod xml;
pub mod xpath;

use std::io;

use crate::flow::{Arg, CompiledFlow, FlowLocale, Prompt, StepIdx};
use crate::question::{ArgValue, Question};

use label::{Piece, Shown};
use metadata::{GROUP, RESERVED, SAUTI_FIELDS, STATUSES};
pub use xml::element_name;
use xml::{Xml, element, empty, text_element};

/// Whether a step holds an answer in the instance (every kind but `info` and `end`).
fn answers(question: &Question) -> bool {
    !matches!(question, Question::Info | Question::End)
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

/// The itext id of a step's label (`/data/consent:label`), as pyxform names it.
fn label_id(path: &str) -> String {
    format!("{path}:label")
}

/// The itext id of an option's label (`/data/consent/yes:label`).
fn option_id(path: &str, code: &str) -> String {
    format!("{path}/{code}:label")
}

/// The itext id of a step's constraint message (`/data/people:jr:constraintMsg`).
fn constraint_message_id(path: &str) -> String {
    format!("{path}:jr:constraintMsg")
}

/// The prompt of step `i` in one language. An echoed answer (`{ $incident }`) shows as an
/// `<output>` of its field (a choice by its label); the receipt code, which a form cannot
/// know, is left out.
fn prompt(locale: &FlowLocale, flow: &CompiledFlow, i: usize) -> Vec<Piece> {
    let (id, args) = match &locale.steps[i].prompt {
        Prompt::Static(s) => return vec![Piece::Text(s.clone())],
        Prompt::Dynamic { id, args } => (id, args),
    };
    let shown: Vec<(&str, Shown)> = args
        .iter()
        .map(|(name, arg)| {
            let shown = match arg {
                Arg::Answer(s) => {
                    let path = xpath::path(&flow.steps, *s);
                    match flow.steps[*s as usize].question {
                        Question::Choice(_) => {
                            Shown::Output(format!("jr:choice-name({path}, '{path}')"))
                        }
                        _ => Shown::Output(path),
                    }
                }
                Arg::Receipt => Shown::Value(ArgValue::Text(String::new())),
            };
            (name.as_str(), shown)
        })
        .collect();
    label::render(&locale.flow_chain, id, &shown)
        .unwrap_or_else(|| vec![Piece::Text(flow.steps[i].id.clone())])
}

/// Why an answer to step `i` is refused, in one language: the flow's own `<step>-invalid`,
/// else the engine's messages for the constraint.
fn constraint_message(
    locale: &FlowLocale,
    i: usize,
    constraint: &constraint::Constraint,
) -> Vec<Piece> {
    if let Some(own) = &locale.steps[i].invalid {
        return vec![Piece::Text(own.clone())];
    }
    let mut pieces = Vec::new();
    for reason in &constraint.reasons {
        if !pieces.is_empty() {
            pieces.push(Piece::Text(" ".into()));
        }
        let text = label::render(&locale.engine_chain, reason.message_id, &reason.args)
            .unwrap_or_else(|| vec![Piece::Text(reason.message_id.into())]);
        pieces.extend(text);
    }
    pieces
}

/// One `<text id=…><value>…</value></text>` of a translation.
fn itext(w: &mut Xml, id: &str, pieces: &[Piece]) -> io::Result<()> {
    element(w, "text", &[("id", id)], |w| {
        element(w, "value", &[], |w| label::write(w, pieces))
    })
}

/// What the form needs to know of one answering step.
struct Field<'f> {
    index: usize,
    path: String,
    question: &'f Question,
    relevant: Option<String>,
    constraint: Option<constraint::Constraint>,
    required: bool,
}

fn fields(flow: &CompiledFlow) -> Vec<Field<'_>> {
    let reach = reach::conditions(&flow.steps);
    let always = on_every_path(flow);
    (0..flow.steps.len())
        .filter(|&i| answers(&flow.steps[i].question))
        .map(|i| {
            let step = &flow.steps[i];
            let reached = reach.as_ref().and_then(|r| r[i].clone());
            let when = step.when.as_ref().map(|e| xpath::relevant(e, &flow.steps));
            let relevant = match (reached, when) {
                (Some(r), Some(w)) => Some(format!("({r}) and ({w})")),
                (r, w) => r.or(w),
            };
            Field {
                index: i,
                path: xpath::path(&flow.steps, i as StepIdx),
                question: &step.question,
                relevant,
                constraint: constraint::of(&step.question),
                // Without the branching as XPath (a flow that loops), only the questions on
                // every path can be required.
                required: step.required && (reach.is_some() || always[i]),
            }
        })
        .collect()
}

/// A step whose id is one of the metadata's elements, if any: its answer and the metadata
/// would share an element, so such a flow cannot be exported.
pub fn reserved_step(flow: &CompiledFlow) -> Option<&str> {
    flow.steps
        .iter()
        .filter(|s| answers(&s.question))
        .map(|s| s.id.as_str())
        .find(|id| RESERVED.contains(&element_name(id).as_ref()))
}

/// The flow as an ODK XForm, shaped as pyxform writes one: the instance root is `data`
/// (`id` = flow id, `version` = flow version, as in every submission) holding `start`, `end`,
/// one element per answering step named after it, the `sauti` group and `meta`; `relevant`
/// from the branching and `when`, constraints from the limits, and every text in every
/// language of the flow as `itext` translations.
pub fn xform(flow: &CompiledFlow) -> String {
    let fields = fields(flow);
    xml::document(|w| {
        element(
            w,
            "h:html",
            &[
                ("xmlns", "http://www.w3.org/2002/xforms"),
                ("xmlns:h", "http://www.w3.org/1999/xhtml"),
                ("xmlns:ev", "http://www.w3.org/2001/xml-events"),
                ("xmlns:xsd", "http://www.w3.org/2001/XMLSchema"),
                ("xmlns:jr", "http://openrosa.org/javarosa"),
                ("xmlns:odk", "http://www.opendatakit.org/xforms"),
                ("xmlns:orx", "http://openrosa.org/xforms"),
            ],
            |w| {
                element(w, "h:head", &[], |w| {
                    text_element(w, "h:title", &[], &flow.id)?;
                    element(w, "model", &[("odk:xforms-version", "1.0.0")], |w| {
                        translations(w, flow, &fields)?;
                        instance(w, flow, &fields)?;
                        binds(w, &fields)
                    })
                })?;
                element(w, "h:body", &[], |w| body(w, &fields))
            },
        )
    })
}

fn translations(w: &mut Xml, flow: &CompiledFlow, fields: &[Field]) -> io::Result<()> {
    element(w, "itext", &[], |w| {
        for (l, locale) in flow.locales.iter().enumerate() {
            let lang = language::odk_name(flow.languages.get(l).unwrap_or(&locale.lang));
            let mut attributes = vec![("lang", lang.as_str())];
            if l == flow.default_language as usize {
                attributes.push(("default", "true()"));
            }
            element(w, "translation", &attributes, |w| {
                for field in fields {
                    itext(
                        w,
                        &label_id(&field.path),
                        &prompt(locale, flow, field.index),
                    )?;
                    if let Some(c) = &field.constraint {
                        let message = constraint_message(locale, field.index, c);
                        itext(w, &constraint_message_id(&field.path), &message)?;
                    }
                    let Some(options) = field.question.options() else {
                        continue;
                    };
                    let labels = &locale.steps[field.index].labels;
                    for (o, code) in options.codes.iter().enumerate() {
                        let label = labels.get(o).map_or(code.as_str(), |l| l.text.as_str());
                        let pieces = [Piece::Text(label.to_owned())];
                        itext(w, &option_id(&field.path, code), &pieces)?;
                    }
                }
                Ok(())
            })?;
        }
        Ok(())
    })
}

/// The instance: what a submission holds.
fn instance(w: &mut Xml, flow: &CompiledFlow, fields: &[Field]) -> io::Result<()> {
    element(w, "instance", &[], |w| {
        let version = flow.version.to_string();
        element(w, "data", &[("id", &flow.id), ("version", &version)], |w| {
            empty(w, "start", &[])?;
            empty(w, "end", &[])?;
            for field in fields {
                empty(w, &element_name(&flow.steps[field.index].id), &[])?;
            }
            element(w, GROUP, &[], |w| {
                SAUTI_FIELDS.iter().try_for_each(|f| empty(w, f.name, &[]))
            })?;
            element(w, "meta", &[], |w| {
                empty(w, "instanceID", &[])?;
                empty(w, "instanceName", &[])
            })
        })
    })
}

fn binds(w: &mut Xml, fields: &[Field]) -> io::Result<()> {
    for (name, when) in [("start", "start"), ("end", "end")] {
        let nodeset = format!("/data/{name}");
        let preload = [
            ("nodeset", nodeset.as_str()),
            ("type", "dateTime"),
            ("jr:preload", "timestamp"),
            ("jr:preloadParams", when),
        ];
        empty(w, "bind", &preload)?;
    }
    for field in fields {
        let kind = match field.question {
            Question::Number(n) if n.decimal => "decimal",
            Question::Number(_) => "int",
            Question::Date(_) => "date",
            _ => "string",
        };
        let mut attributes = vec![("nodeset", field.path.as_str()), ("type", kind)];
        if let Some(relevant) = &field.relevant {
            attributes.push(("relevant", relevant));
        }
        let message_ref;
        if let Some(c) = &field.constraint {
            message_ref = format!("jr:itext('{}')", constraint_message_id(&field.path));
            attributes.push(("constraint", &c.xpath));
            attributes.push(("jr:constraintMsg", &message_ref));
        }
        if field.required {
            attributes.push(("required", "true()"));
        }
        empty(w, "bind", &attributes)?;
    }
    let statuses = STATUSES
        .iter()
        .map(|s| format!(". = '{s}'"))
        .collect::<Vec<_>>()
        .join(" or ");
    for f in &SAUTI_FIELDS {
        let nodeset = format!("/data/{GROUP}/{}", f.name);
        let mut attributes = vec![("nodeset", nodeset.as_str()), ("type", f.kind)];
        if f.name == "status" {
            attributes.extend([("readonly", "true()"), ("constraint", statuses.as_str())]);
        }
        empty(w, "bind", &attributes)?;
    }
    empty(
        w,
        "bind",
        &[
            ("nodeset", "/data/meta/instanceID"),
            ("type", "string"),
            ("readonly", "true()"),
            ("jr:preload", "uid"),
        ],
    )?;
    empty(
        w,
        "bind",
        &[("nodeset", "/data/meta/instanceName"), ("type", "string")],
    )
}

/// One control per answering step, then the survey's status (its only field with choices).
fn body(w: &mut Xml, fields: &[Field]) -> io::Result<()> {
    for field in fields {
        let control = match field.question {
            Question::Choice(_) => "select1",
            Question::Multi(_) => "select",
            _ => "input",
        };
        element(w, control, &[("ref", &field.path)], |w| {
            let label = format!("jr:itext('{}')", label_id(&field.path));
            empty(w, "label", &[("ref", &label)])?;
            let Some(options) = field.question.options() else {
                return Ok(());
            };
            for code in &options.codes {
                element(w, "item", &[], |w| {
                    let label = format!("jr:itext('{}')", option_id(&field.path, code));
                    empty(w, "label", &[("ref", &label)])?;
                    text_element(w, "value", &[], code)
                })?;
            }
            Ok(())
        })?;
    }
    let group = format!("/data/{GROUP}");
    element(w, "group", &[("ref", &group)], |w| {
        text_element(w, "label", &[], "Sauti")?;
        let status = format!("{group}/status");
        element(w, "select1", &[("ref", &status)], |w| {
            text_element(w, "label", &[], "status")?;
            for s in STATUSES {
                element(w, "item", &[], |w| {
                    text_element(w, "label", &[], s)?;
                    text_element(w, "value", &[], s)
                })?;
            }
            Ok(())
        })
    })
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
    if let Some(id) = reserved_step(&flow) {
        anyhow::bail!(
            "{}: step `{id}` takes an element the form's metadata uses ({}); rename the step",
            flow.id,
            RESERVED.join(", ")
        );
    }
    let xml = xform(&flow);
    match output {
        Some(p) => std::fs::write(p, xml).with_context(|| format!("writing {}", p.display())),
        None => {
            print!("{xml}");
            Ok(())
        }
    }
}
