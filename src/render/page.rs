//! The USSD paginator: cuts a prompt and its options (numbered `1. ` to `n. `) into screens
//! that each fit the budget, never splitting an option, and adds the navigation lines each
//! page needs (`98. Suite`).

use crate::gsm7::{Budget, Measure, Text};

/// A line that is a key and a label: `0. Retour`.
#[derive(Debug, Clone, Copy)]
pub struct KeyLine<'a> {
    pub key: &'a str,
    pub label: &'a Text,
}

impl KeyLine<'_> {
    fn measure(&self) -> Measure {
        key_measure(self.key.len()).plus(self.label.measure)
    }

    fn write(&self, out: &mut String) {
        write_keyed(out, self.key, &self.label.text);
    }
}

/// The cost of a key and its `. ` (keys are ASCII digits).
fn key_measure(key_len: usize) -> Measure {
    Measure::ascii(key_len as u32 + 2)
}

fn write_keyed(out: &mut String, key: &str, label: &str) {
    out.push_str(key);
    out.push_str(". ");
    out.push_str(label);
}

/// Option `index` (0-based) as shown: `index + 1`, then its label.
fn option_measure(index: usize, label: &Text) -> Measure {
    key_measure(digits(index + 1)).plus(label.measure)
}

fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// The navigation lines a question can show.
#[derive(Debug, Clone, Copy)]
pub struct Footer<'a> {
    /// Shown on every page but the last.
    pub more: KeyLine<'a>,
    /// Shown on every page but the first.
    pub prev: KeyLine<'a>,
    /// Shown on every page when the respondent can go back to the previous question.
    pub back: Option<KeyLine<'a>>,
    /// Shown on every page of an optional question.
    pub skip: Option<KeyLine<'a>>,
}

impl Footer<'_> {
    fn lines(&self, first: bool, last: bool) -> impl Iterator<Item = KeyLine<'_>> {
        let more = (!last).then_some(self.more);
        let prev = (!first).then_some(self.prev);
        [more, prev, self.skip, self.back].into_iter().flatten()
    }

    fn measure(&self, first: bool, last: bool) -> Measure {
        self.lines(first, last)
            .fold(Measure::EMPTY, |m, l| m.then_line(l.measure()))
    }
}

/// One screen: a slice of the prompt (byte range) and a range of options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub prompt: std::ops::Range<usize>,
    pub options: std::ops::Range<usize>,
}

/// An option line that cannot fit on a screen even alone with the navigation lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("option {option} does not fit on one screen ({cost} > {limit})")]
pub struct Unfit {
    /// Index of the option, or `usize::MAX` when the navigation lines alone overflow.
    pub option: usize,
    pub cost: u32,
    pub limit: u32,
}

fn join(a: Measure, b: Measure) -> Measure {
    a.then_line(b)
}

/// Lays out `prompt` and `options` into pages. Each page is the remaining prompt (or as much
/// as fits, cut at a space when possible), then whole options, then the footer.
pub fn paginate(
    prompt: &str,
    options: &[Text],
    footer: &Footer<'_>,
    budget: Budget,
) -> Result<Vec<Page>, Unfit> {
    let mut pages = Vec::new();
    let mut at_prompt = 0usize;
    let mut at_option = 0usize;
    loop {
        let first = pages.is_empty();
        let rest_prompt = &prompt[at_prompt..];
        let footer_last = footer.measure(first, true);
        let footer_more = footer.measure(first, false);

        // Everything left on this one page?
        let mut all = if rest_prompt.is_empty() {
            Measure::EMPTY
        } else {
            Measure::of(rest_prompt)
        };
        for (i, o) in options.iter().enumerate().skip(at_option) {
            all = join(all, option_measure(i, o));
        }
        if budget.fits(join(all, footer_last)) {
            pages.push(Page {
                prompt: at_prompt..prompt.len(),
                options: at_option..options.len(),
            });
            return Ok(pages);
        }

        let mut page = Page {
            prompt: at_prompt..at_prompt,
            options: at_option..at_option,
        };
        let mut content = Measure::EMPTY;
        if !rest_prompt.is_empty() {
            let whole = Measure::of(rest_prompt);
            if budget.fits(join(whole, footer_more)) {
                content = whole;
                page.prompt.end = prompt.len();
                at_prompt = prompt.len();
            } else {
                let cut = longest_prefix(rest_prompt, footer_more, budget);
                if cut == 0 {
                    return Err(Unfit {
                        option: usize::MAX,
                        cost: footer_more.cost(),
                        limit: budget.limit(footer_more),
                    });
                }
                page.prompt.end = at_prompt + cut;
                // The next page starts after the blank we cut at.
                let after = &prompt[page.prompt.end..];
                at_prompt = page.prompt.end + (after.len() - after.trim_start().len());
                pages.push(page);
                continue;
            }
        }
        while at_option < options.len() {
            let candidate = join(content, option_measure(at_option, &options[at_option]));
            if !budget.fits(join(candidate, footer_more)) {
                break;
            }
            content = candidate;
            at_option += 1;
        }
        page.options.end = at_option;
        if page.prompt.is_empty() && page.options.is_empty() {
            let alone = join(option_measure(at_option, &options[at_option]), footer_more);
            return Err(Unfit {
                option: at_option,
                cost: alone.cost(),
                limit: budget.limit(alone),
            });
        }
        pages.push(page);
    }
}

/// Length in bytes of the longest prefix of `text` that fits before `footer`; prefers to cut
/// after a word, and never inside a character.
fn longest_prefix(text: &str, footer: Measure, budget: Budget) -> usize {
    let mut m = Measure::EMPTY;
    let mut fit_end = 0;
    let mut word_end = 0;
    for (i, c) in text.char_indices() {
        m.push(c);
        if !budget.fits(join(m, footer)) {
            break;
        }
        fit_end = i + c.len_utf8();
        if c.is_whitespace() && !text[..i].trim_end().is_empty() {
            word_end = text[..i].trim_end().len();
        }
    }
    if fit_end == text.len() || word_end == 0 {
        fit_end
    } else {
        word_end
    }
}

/// Writes page `index` of `pages` as the text the phone shows.
pub fn render_page(
    out: &mut String,
    prompt: &str,
    options: &[Text],
    footer: &Footer<'_>,
    pages: &[Page],
    index: usize,
) {
    let page = &pages[index];
    let first = index == 0;
    let last = index + 1 == pages.len();
    let mut sep = "";
    if !page.prompt.is_empty() {
        out.push_str(&prompt[page.prompt.clone()]);
        sep = "\n";
    }
    for i in page.options.clone() {
        out.push_str(sep);
        let mut buf = [0u8; 20];
        write_keyed(out, number(&mut buf, i + 1), &options[i].text);
        sep = "\n";
    }
    for line in footer.lines(first, last) {
        out.push_str(sep);
        line.write(out);
        sep = "\n";
    }
}

/// `n` in decimal, written into `buf` (no allocation on the hot path).
fn number(buf: &mut [u8; 20], mut n: usize) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).expect("ASCII digits")
}

/// The longest prefix of `text` that fits the budget alone (for `END` screens, which cannot
/// be paginated; `check` makes sure shipped flows never need it).
pub fn truncate(text: &str, budget: Budget) -> &str {
    if budget.fits(Measure::of(text)) {
        return text;
    }
    &text[..longest_prefix(text, Measure::EMPTY, budget)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn footer_texts() -> (Text, Text, Text) {
        (
            Text::new("Suite"),
            Text::new("Precedent"),
            Text::new("Retour"),
        )
    }

    fn footer<'a>(more: &'a Text, prev: &'a Text, back: Option<&'a Text>) -> Footer<'a> {
        Footer {
            more: KeyLine {
                key: "98",
                label: more,
            },
            prev: KeyLine {
                key: "99",
                label: prev,
            },
            back: back.map(|label| KeyLine { key: "0", label }),
            skip: None,
        }
    }

    #[test]
    fn a_short_menu_is_one_page() {
        let (more, prev, back) = footer_texts();
        let footer = footer(&more, &prev, Some(&back));
        let options = vec![Text::new("Oui"), Text::new("Non")];
        let pages = paginate("Continuer?", &options, &footer, Budget::default()).unwrap();
        let mut out = String::new();
        render_page(&mut out, "Continuer?", &options, &footer, &pages, 0);
        assert_eq!(out, "Continuer?\n1. Oui\n2. Non\n0. Retour");
    }

    #[test]
    fn a_long_list_spills_onto_pages_with_more_and_previous() {
        let (more, prev, back) = footer_texts();
        let footer = footer(&more, &prev, Some(&back));
        let options: Vec<Text> = (1..=20)
            .map(|i| Text::new(format!("Option numero {i}")))
            .collect();
        let budget = Budget::default();
        let pages = paginate("Choisissez", &options, &footer, budget).unwrap();
        assert!(pages.len() > 1);
        let mut out = String::new();
        render_page(&mut out, "Choisissez", &options, &footer, &pages, 1);
        assert!(out.contains("98. Suite") || pages.len() == 2);
        assert!(out.contains("99. Precedent"));
        assert!(!out.starts_with("Choisissez"));
    }

    #[test]
    fn a_long_prompt_is_cut_at_a_word() {
        let (more, prev, _) = footer_texts();
        let footer = footer(&more, &prev, None);
        let prompt = "mot ".repeat(80);
        let budget = Budget::default();
        let pages = paginate(prompt.trim_end(), &[], &footer, budget).unwrap();
        assert!(pages.len() >= 2);
        for p in &pages {
            let part = &prompt[p.prompt.clone()];
            assert!(!part.ends_with(' ') && !part.starts_with(' '), "{part:?}");
        }
    }
}
