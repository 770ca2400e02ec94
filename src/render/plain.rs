//! The plain-text renderer: a view as lines of text, without budget or pages (what
//! `simulate --plain` prints; a second renderer beside USSD, proving the view is neutral).

use std::fmt::Write as _;

use crate::engine::{InputKind, View};

/// The view as text: reason, question, numbered choices, navigation keys, what to type.
pub fn render(view: &View<'_>) -> String {
    let mut out = String::new();
    let ask = match view {
        View::End(closing) => {
            let _ = write!(out, "{}\n[end]", closing.message.text);
            return out;
        }
        View::Ask(ask) => ask,
    };
    if let Some(why) = &ask.reason {
        let _ = writeln!(out, "! {}", why.text);
    }
    let _ = writeln!(out, "{}", ask.prompt.text);
    for (i, choice) in ask.choices.iter().enumerate() {
        let _ = writeln!(out, "  [{}] {}", i + 1, choice.text);
    }
    for nav in ask.skip.iter().chain(ask.back.iter()) {
        let _ = writeln!(out, "  [{}] {}", nav.key, nav.label.text);
    }
    let expects = match ask.input {
        InputKind::Choice => "one key".to_owned(),
        InputKind::Choices { min, max } => format!("{min} to {max} keys"),
        InputKind::Number { decimal: false } => "a whole number".to_owned(),
        InputKind::Number { decimal: true } => "a number".to_owned(),
        InputKind::Date => "a date".to_owned(),
        InputKind::Text { max_len } => format!("text, at most {max_len} characters"),
        InputKind::Continue => "any key".to_owned(),
    };
    let _ = write!(out, "[expects {expects}]");
    out
}
