//! Fluent messages as XForm label content: text, with each placeholder that a form can show
//! (an earlier answer, a bound such as today's date) as an `<output value="…"/>`.

use std::io;
use std::sync::Arc;

use crate::i18n::Bundle;
use crate::question::ArgValue;

use super::xml::{self, Xml};

/// A label's content.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    /// `<output value="…"/>`: an XPath the form evaluates where the text shows it.
    Output(String),
}

/// What a Fluent argument shows in a form.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// A value known when the form is written (numbers stay numbers, for plural rules).
    Value(ArgValue),
    /// An XPath evaluated by the form.
    Output(String),
}

/// Message `id` of `chain` formatted with `args`. Each `Output` argument formats as a marker
/// (private-use characters no translation holds), cut out afterwards into an output piece.
pub fn render(chain: &[Arc<Bundle>], id: &str, args: &[(&str, Shown)]) -> Option<Vec<Piece>> {
    let marker = |k: usize| format!("\u{E000}{k}\u{E001}");
    let fluent_args = crate::i18n::args_from(args.iter().enumerate().map(|(k, (name, shown))| {
        let value = match shown {
            Shown::Value(v) => v.clone(),
            Shown::Output(_) => ArgValue::Text(marker(k)),
        };
        (*name, value)
    }));
    let text = crate::i18n::format(chain, id, Some(&fluent_args))?;
    let mut pieces = Vec::new();
    let mut rest = text.as_str();
    while let Some(open) = rest.find('\u{E000}') {
        let close = open + rest[open..].find('\u{E001}')?;
        let k: usize = rest[open + '\u{E000}'.len_utf8()..close].parse().ok()?;
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_owned()));
        }
        if let Some((_, Shown::Output(xpath))) = args.get(k) {
            pieces.push(Piece::Output(xpath.clone()));
        }
        rest = &rest[close + '\u{E001}'.len_utf8()..];
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    Some(pieces)
}

/// Writes the pieces as the content of the current element.
pub fn write(w: &mut Xml, pieces: &[Piece]) -> io::Result<()> {
    for piece in pieces {
        match piece {
            Piece::Text(t) => w.write_event(quick_xml::events::Event::Text(xml::text(t)))?,
            Piece::Output(xpath) => xml::inline_empty(w, "output", &[("value", xpath)])?,
        }
    }
    Ok(())
}
