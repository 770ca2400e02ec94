//! The USSD paginator: cuts a prompt and its numbered option lines into screens that each
//! fit the budget, never splitting an option, and adds the navigation lines each page needs.

use crate::gsm7::{Budget, Measure, Text};

/// The navigation lines a question can show, already formatted (`98. Suite`).
#[derive(Debug, Clone, Copy)]
pub struct Footer<'a> {
    /// Shown on every page but the last.
    pub more: &'a Text,
    /// Shown on every page but the first.
    pub prev: &'a Text,
    /// Shown on every page when the respondent can go back to the previous question.
    pub back: Option<&'a Text>,
    /// Shown on every page of an optional question.
    pub skip: Option<&'a Text>,
}

impl Footer<'_> {
    fn measure(&self, first: bool, last: bool) -> Measure {
        let mut m = Measure::EMPTY;
        if !last {
            m = m.then_line(self.more.measure);
        }
        if !first {
            m = m.then_line(self.prev.measure);
        }
        if let Some(skip) = self.skip {
            m = m.then_line(skip.measure);
        }
        if let Some(back) = self.back {
            m = m.then_line(back.measure);
        }
        m
    }

    fn lines(&self, first: bool, last: bool) -> impl Iterator<Item = &str> {
        let more = (!last).then_some(self.more);
        let prev = (!first).then_some(self.prev);
        [more, prev, self.skip, self.back]
            .into_iter()
            .flatten()
            .map(|t| t.text.as_str())
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
    paginate_measured(prompt, Measure::of(prompt), options, footer, budget)
}

/// [`paginate`], with the prompt's measure already known (static prompts are measured once).
pub fn paginate_measured(
    prompt: &str,
    prompt_measure: Measure,
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
        } else if at_prompt == 0 {
            prompt_measure
        } else {
            Measure::of(rest_prompt)
        };
        for o in &options[at_option..] {
            all = join(all, o.measure);
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
            let whole = if at_prompt == 0 {
                prompt_measure
            } else {
                Measure::of(rest_prompt)
            };
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
            let candidate = join(content, options[at_option].measure);
            if !budget.fits(join(candidate, footer_more)) {
                break;
            }
            content = candidate;
            at_option += 1;
        }
        page.options.end = at_option;
        if page.prompt.is_empty() && page.options.is_empty() {
            let alone = join(options[at_option].measure, footer_more);
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
    let mut lines = (!page.prompt.is_empty())
        .then(|| &prompt[page.prompt.clone()])
        .into_iter()
        .chain(
            options[page.options.clone()]
                .iter()
                .map(|o| o.text.as_str()),
        )
        .chain(footer.lines(first, last));
    if let Some(line) = lines.next() {
        out.push_str(line);
    }
    for line in lines {
        out.push('\n');
        out.push_str(line);
    }
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
            Text::new("98. Suite"),
            Text::new("99. Precedent"),
            Text::new("0. Retour"),
        )
    }

    #[test]
    fn a_short_menu_is_one_page() {
        let (more, prev, back) = footer_texts();
        let footer = Footer {
            more: &more,
            prev: &prev,
            back: Some(&back),
            skip: None,
        };
        let options = vec![Text::new("1. Oui"), Text::new("2. Non")];
        let pages = paginate("Continuer?", &options, &footer, Budget::default()).unwrap();
        let mut out = String::new();
        render_page(&mut out, "Continuer?", &options, &footer, &pages, 0);
        assert_eq!(out, "Continuer?\n1. Oui\n2. Non\n0. Retour");
    }

    #[test]
    fn a_long_list_spills_onto_pages_with_more_and_previous() {
        let (more, prev, back) = footer_texts();
        let footer = Footer {
            more: &more,
            prev: &prev,
            back: Some(&back),
            skip: None,
        };
        let options: Vec<Text> = (1..=20)
            .map(|i| Text::new(format!("{i}. Option numero {i}")))
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
        let footer = Footer {
            more: &more,
            prev: &prev,
            back: None,
            skip: None,
        };
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
