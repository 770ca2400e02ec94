//! Labels written as Fluent messages: the characters Fluent reads as syntax (`{`, `}`, and `[`,
//! `*`, `.` starting a line) escaped as string literals, several lines as a multiline message.

use std::fmt::Write as _;

/// A piece of a label: text, or an earlier answer echoed (`${age}` in XLSForm, `{ $age }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Answer(String),
}

/// One Fluent message: `id = text`, or `id =` and one indented line per line of the label.
pub fn message(id: &str, pieces: &[Piece]) -> String {
    let mut lines: Vec<String> = vec![String::new()];
    for piece in pieces {
        match piece {
            Piece::Answer(step) => {
                let _ = write!(lines.last_mut().expect("one line"), "{{ ${step} }}");
            }
            Piece::Text(text) => {
                let text = text.replace("\r\n", "\n").replace('\r', "\n");
                for (i, part) in text.split('\n').enumerate() {
                    if i > 0 {
                        lines.push(String::new());
                    }
                    let line = lines.last_mut().expect("one line");
                    for c in part.chars() {
                        match c {
                            '{' | '}' => {
                                let _ = write!(line, "{{\"{c}\"}}");
                            }
                            // Fluent would read these as a variant key, a default variant or
                            // an attribute at the start of an indented line.
                            '[' | '*' | '.' if line.trim().is_empty() => {
                                let _ = write!(line, "{{\"{c}\"}}");
                            }
                            c => line.push(c),
                        }
                    }
                }
            }
        }
    }
    // Fluent drops the whitespace around a line and blank lines at the ends of a message.
    let lines: Vec<&str> = lines.iter().map(|l| l.trim()).collect();
    let first = lines.iter().position(|l| !l.is_empty());
    let last = lines.iter().rposition(|l| !l.is_empty());
    let (Some(first), Some(last)) = (first, last) else {
        // A message needs a value: an empty label is an empty string literal.
        return format!("{id} = {{\"\"}}\n");
    };
    let lines = &lines[first..=last];
    if let [line] = lines {
        return format!("{id} = {line}\n");
    }
    let mut out = format!("{id} =\n");
    for line in lines {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

/// A comment line; line breaks in `text` would end the comment, so they become spaces.
pub fn comment(text: &str) -> String {
    let one_line: Vec<&str> = text.split_whitespace().collect();
    format!("# {}\n", one_line.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluent_bundle::{FluentArgs, FluentBundle, FluentResource};

    /// What Fluent shows for message `id` of `source`, with `$age` = 42.
    fn shown(source: &str, id: &str) -> String {
        let resource = FluentResource::try_new(source.to_owned())
            .unwrap_or_else(|(_, errors)| panic!("{source}\n{errors:?}"));
        let mut bundle = FluentBundle::new(vec!["fr".parse().unwrap()]);
        bundle.set_use_isolating(false);
        bundle.add_resource(resource).unwrap();
        let pattern = bundle.get_message(id).unwrap().value().unwrap();
        let mut args = FluentArgs::new();
        args.set("age", 42);
        let mut errors = vec![];
        let text = bundle.format_pattern(pattern, Some(&args), &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        text.into_owned()
    }

    fn text(t: &str) -> Vec<Piece> {
        vec![Piece::Text(t.into())]
    }

    #[test]
    fn syntax_characters_are_shown_as_written() {
        for label in [
            "Plain label?",
            "Braces {like this} and }{",
            "[brackets] first",
            "*star first",
            ".dot first",
            "= equals, # hash, $dollar, \"quotes\", \\backslash",
            "Accents é è à, Lingala ɛ ɔ",
        ] {
            let ftl = message("q", &text(label));
            assert_eq!(shown(&ftl, "q"), label, "{ftl}");
        }
    }

    #[test]
    fn lines_become_a_multiline_message() {
        let label = "First line\n[second] line\n*third {x}\n.fourth\r\nfifth";
        let ftl = message("q", &text(label));
        assert!(ftl.starts_with("q =\n    First line\n"), "{ftl}");
        assert_eq!(shown(&ftl, "q"), label.replace("\r\n", "\n"), "{ftl}");
        // A blank line inside stays; blank lines around and spaces at the ends go.
        let ftl = message("q", &text("\n  one  \n\ntwo\n\n"));
        assert_eq!(shown(&ftl, "q"), "one\n\ntwo", "{ftl}");
    }

    #[test]
    fn answers_are_echoed_as_variables() {
        let pieces = vec![
            Piece::Text("You are ".into()),
            Piece::Answer("age".into()),
            Piece::Text(" {years}".into()),
        ];
        let ftl = message("q", &pieces);
        assert_eq!(shown(&ftl, "q"), "You are 42 {years}", "{ftl}");
    }

    #[test]
    fn an_empty_label_is_still_a_message() {
        assert_eq!(shown(&message("q", &text("  ")), "q"), "");
        assert_eq!(comment("Title\non two lines"), "# Title on two lines\n");
    }
}
