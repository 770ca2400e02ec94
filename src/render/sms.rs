//! The SMS renderer: a whole question per message (options numbered, navigation keys after),
//! split into concatenated-SMS parts only when it does not fit one SMS.

use std::fmt::Write as _;

use crate::engine::View;
use crate::gsm7::Measure;

/// One SMS alone holds 160 septets (GSM-7) or 70 UTF-16 units (UCS-2).
pub const SINGLE: (u32, u32) = (160, 70);
/// A part of a concatenated SMS: the header leaves 153 septets or 67 units.
pub const CONCATENATED: (u32, u32) = (153, 67);

/// What goes out for a view: its text in parts, each an SMS of its own on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsMessage {
    pub parts: Vec<String>,
    /// The conversation is over: no answer is expected.
    pub end: bool,
}

impl SmsMessage {
    /// A message of `text` as it goes out.
    pub fn of(text: &str, end: bool) -> SmsMessage {
        SmsMessage {
            parts: split(text),
            end,
        }
    }

    /// The parts joined back (what the respondent's phone shows).
    pub fn text(&self) -> String {
        self.parts.concat()
    }
}

/// The text of a view: the reason for a re-ask, the question, `1. Oui` per option, then the
/// navigation (`0. Retour`); nothing is paged: the whole question goes out.
pub fn text(view: &View<'_>) -> String {
    let ask = match view {
        View::End(closing) => return closing.message.text.to_string(),
        View::Ask(ask) => ask,
    };
    let mut out = String::new();
    if let Some(why) = &ask.reason {
        let _ = writeln!(out, "{}", why.text);
    }
    out.push_str(&ask.prompt.text);
    for (i, choice) in ask.choices.iter().enumerate() {
        let _ = write!(out, "\n{}. {}", i + 1, choice.text);
    }
    for nav in ask.skip.iter().chain(ask.back.iter()) {
        let _ = write!(out, "\n{}. {}", nav.key, nav.label.text);
    }
    out
}

/// What goes out for a view.
pub fn render(view: &View<'_>) -> SmsMessage {
    SmsMessage::of(&text(view), matches!(view, View::End(_)))
}

/// `text` as one SMS when it fits one, else in parts of a concatenated SMS. The encoding of
/// the whole text decides the sizes: one character outside GSM-7 makes every part UCS-2.
/// A character is never cut (an extension character's two septets stay in one part; a
/// surrogate pair, in one part).
pub fn split(text: &str) -> Vec<String> {
    let whole = Measure::of(text);
    let (single, part) = if whole.gsm {
        (SINGLE.0, CONCATENATED.0)
    } else {
        (SINGLE.1, CONCATENATED.1)
    };
    if whole.cost() <= single {
        return vec![text.to_owned()];
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut cost = 0;
    for c in text.chars() {
        let mut m = Measure::EMPTY;
        m.push(c);
        let c_cost = if whole.gsm { m.septets } else { m.units };
        if cost + c_cost > part {
            parts.push(std::mem::take(&mut current));
            cost = 0;
        }
        current.push(c);
        cost += c_cost;
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(s: &str, gsm: bool) -> u32 {
        let m = Measure::of(s);
        if gsm { m.septets } else { m.units }
    }

    #[test]
    fn a_text_that_fits_one_sms_is_not_split() {
        let gsm = "a".repeat(160);
        assert_eq!(split(&gsm), vec![gsm.clone()]);
        let ucs2 = "ɛ".repeat(70);
        assert_eq!(split(&ucs2), vec![ucs2.clone()]);
    }

    #[test]
    fn a_long_gsm7_text_goes_in_parts_of_153_septets() {
        let text = "b".repeat(161);
        let parts = split(&text);
        assert_eq!(parts.len(), 2);
        assert_eq!(cost(&parts[0], true), 153);
        assert_eq!(parts.concat(), text);
        // Extension characters count two septets and are never cut in half.
        let braces = "{".repeat(81);
        let parts = split(&braces);
        assert_eq!(parts.len(), 2);
        assert_eq!(cost(&parts[0], true), 152);
        assert_eq!(parts.concat(), braces);
    }

    #[test]
    fn one_character_outside_gsm7_makes_every_part_ucs2() {
        let text = format!("Mbɔtɛ {}", "x".repeat(70));
        let parts = split(&text);
        assert_eq!(parts.len(), 2);
        assert_eq!(cost(&parts[0], false), 67);
        assert_eq!(parts.concat(), text);
        // A character beyond the BMP takes two units and stays whole.
        let emoji = "😀".repeat(40);
        let parts = split(&emoji);
        assert_eq!(parts.len(), 2);
        assert_eq!(cost(&parts[0], false), 66);
        assert_eq!(parts.concat(), emoji);
    }
}
