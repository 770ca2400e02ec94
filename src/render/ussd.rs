//! The USSD renderer: a view becomes a numbered screen within the gateway's budget (GSM-7
//! septets or UCS-2 characters), cut into pages that `98`/`99` turn. Its numbered lines
//! (`1. Oui`, `0. Retour`, `98. Suite`) are made and measured once per flow, at load time.

use std::borrow::Cow;

use super::page::{self, Footer, Page, Unfit};
use crate::engine::{Ask, Asking, View};
use crate::flow::CompiledFlow;
use crate::flow::Prompt;
use crate::gsm7::{Budget, Measure, Text};
use crate::question::Question;

/// What the phone shows after a hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    /// `END`: the network closes the session after showing it.
    pub end: bool,
    pub text: String,
}

/// Every numbered line the USSD renderer can show for one flow, per language: built when the
/// flow is loaded (see `CompiledFlow::ussd_lines`), so that a hop formats no line.
#[derive(Debug, Clone, Default)]
pub struct UssdLines {
    /// The language menu (the same in every language), and its prompt's cost.
    languages: Vec<Text>,
    language_prompt: Measure,
    by_lang: Vec<LangLines>,
}

#[derive(Debug, Clone)]
struct LangLines {
    /// Per step: its choices numbered (`1. Oui`); `1. Continuer` for an info step.
    steps: Vec<Vec<Text>>,
    /// Per step: what its prompt costs, when the prompt is static (it echoes no answer).
    prompts: Vec<Option<Measure>>,
    resume_prompt: Measure,
    resume: Vec<Text>,
    back: Text,
    typed_back: Text,
    skip: Text,
    more: Text,
    prev: Text,
}

fn numbered(labels: &[Text]) -> Vec<Text> {
    labels
        .iter()
        .enumerate()
        .map(|(i, l)| keyed(&(i + 1).to_string(), l))
        .collect()
}

fn keyed(key: &str, label: &Text) -> Text {
    Text::new(format!("{key}. {}", label.text))
}

impl UssdLines {
    /// The lines of `flow` (its texts and its navigation keys must be bound already).
    pub fn of(flow: &CompiledFlow) -> UssdLines {
        let languages = flow
            .language_screen
            .as_ref()
            .map_or_else(Vec::new, |ls| numbered(&ls.options));
        let language_prompt = flow
            .language_screen
            .as_ref()
            .map_or(Measure::EMPTY, |ls| Measure::of(&ls.prompt));
        let by_lang = flow
            .locales
            .iter()
            .map(|loc| LangLines {
                steps: flow
                    .steps
                    .iter()
                    .zip(&loc.steps)
                    .map(|(step, texts)| match step.question {
                        Question::Info => numbered(std::slice::from_ref(&loc.nav.next)),
                        _ => numbered(&texts.labels),
                    })
                    .collect(),
                prompts: loc
                    .steps
                    .iter()
                    .map(|t| match &t.prompt {
                        Prompt::Static(s) => Some(Measure::of(s)),
                        Prompt::Dynamic { .. } => None,
                    })
                    .collect(),
                resume_prompt: Measure::of(&loc.nav.resume_prompt),
                resume: numbered(&loc.nav.resume_options),
                back: keyed(&flow.nav.back, &loc.nav.back),
                typed_back: keyed(&flow.nav.typed_back, &loc.nav.back),
                skip: keyed(&flow.nav.skip, &loc.nav.skip),
                more: keyed(&flow.nav.more, &loc.nav.more),
                prev: keyed(&flow.nav.prev, &loc.nav.prev),
            })
            .collect();
        UssdLines {
            languages,
            language_prompt,
            by_lang,
        }
    }
}

/// A question laid out in pages.
struct Layout<'v> {
    /// The reason for a re-ask, a line feed, then the question.
    prompt: Cow<'v, str>,
    options: &'v [Text],
    footer: Footer<'v>,
    pages: Vec<Page>,
    /// The budget could not hold the layout (smaller than `check` proved): one option a page.
    degraded: bool,
}

#[inline]
fn layout<'v>(flow: &'v CompiledFlow, ask: &'v Ask<'v>, budget: Budget) -> Layout<'v> {
    let lines = &flow.ussd_lines;
    let own = &lines.by_lang[ask.lang as usize];
    let (options, prompt_measure): (&[Text], _) = match ask.asking {
        Asking::Language => (&lines.languages, Some(lines.language_prompt)),
        Asking::Resume => (&own.resume, Some(own.resume_prompt)),
        Asking::Step(i) => (&own.steps[i as usize], own.prompts[i as usize]),
    };
    debug_assert_eq!(options.len(), ask.choices.len());
    let prompt = match &ask.reason {
        Some(why) => {
            let mut both = String::with_capacity(why.text.len() + 1 + ask.prompt.text.len());
            both.push_str(&why.text);
            both.push('\n');
            both.push_str(&ask.prompt.text);
            Cow::Owned(both)
        }
        None => Cow::Borrowed(ask.prompt.text.as_ref()),
    };
    let footer = Footer {
        more: &own.more,
        prev: &own.prev,
        back: ask.back.map(|b| {
            if b.key == flow.nav.typed_back {
                &own.typed_back
            } else {
                &own.back
            }
        }),
        skip: ask.skip.map(|_| &own.skip),
    };
    // A static prompt was measured at load time; a re-ask's reason or an echoed answer is
    // measured now.
    let prompt_measure = match (&ask.reason, prompt_measure) {
        (None, Some(m)) => m,
        (Some(why), Some(m)) => Measure::of(&why.text).plus(Measure::NEWLINE).plus(m),
        (_, None) => Measure::of(&prompt),
    };
    debug_assert_eq!(prompt_measure, Measure::of(&prompt), "stale prompt measure");
    let (pages, degraded) =
        match page::paginate_measured(&prompt, prompt_measure, options, &footer, budget) {
            Ok(p) => (p, false),
            // `check` proves shipped flows fit; with a smaller gateway budget, degrade to one
            // option per page with the prompt cut, rather than send an over-long screen.
            Err(_) => (fallback_pages(&prompt, options), true),
        };
    Layout {
        prompt,
        options,
        footer,
        pages,
        degraded,
    }
}

fn fallback_pages(prompt: &str, options: &[Text]) -> Vec<Page> {
    let mut pages = vec![Page {
        prompt: 0..prompt.len(),
        options: 0..0,
    }];
    pages.extend((0..options.len()).map(|i| Page {
        prompt: 0..0,
        options: i..i + 1,
    }));
    pages
}

impl Layout<'_> {
    fn write(&self, out: &mut String, index: usize) {
        page::render_page(
            out,
            &self.prompt,
            self.options,
            &self.footer,
            &self.pages,
            index,
        );
    }
}

/// Page `page` of the view (the last one if there are fewer).
#[inline]
pub fn screen(flow: &CompiledFlow, view: &View<'_>, page: u8, budget: Budget) -> Screen {
    match view {
        View::End(closing) => Screen {
            end: true,
            text: page::truncate(&closing.message.text, budget).to_owned(),
        },
        View::Ask(ask) => {
            let layout = layout(flow, ask, budget);
            let index = (page as usize).min(layout.pages.len() - 1);
            let mut text = String::with_capacity(200);
            layout.write(&mut text, index);
            // A degraded layout may still overflow a tiny budget: never send more than fits.
            if layout.degraded {
                let fitted = page::truncate(&text, budget).len();
                text.truncate(fitted);
            }
            Screen { end: false, text }
        }
    }
}

/// Every page of the view, in full (for `check` and the budget tests; a closing message is
/// given whole, as it would be before being cut to the budget).
pub fn pages(flow: &CompiledFlow, view: &View<'_>, budget: Budget) -> Vec<String> {
    match view {
        View::End(closing) => vec![closing.message.text.clone().into_owned()],
        View::Ask(ask) => {
            let layout = layout(flow, ask, budget);
            (0..layout.pages.len())
                .map(|i| {
                    let mut s = String::new();
                    layout.write(&mut s, i);
                    s
                })
                .collect()
        }
    }
}

/// Why the view's question cannot be laid out within the budget, if it cannot.
pub fn layout_error(flow: &CompiledFlow, view: &View<'_>, budget: Budget) -> Option<Unfit> {
    let View::Ask(ask) = view else {
        return None;
    };
    let layout = layout(flow, ask, budget);
    page::paginate(&layout.prompt, layout.options, &layout.footer, budget).err()
}

/// The page `input` turns to (`98` next, `99` previous), if it is a page turn here.
pub fn turn_page(
    flow: &CompiledFlow,
    view: &View<'_>,
    page: u8,
    input: &str,
    budget: Budget,
) -> Option<u8> {
    let forward = input == flow.nav.more;
    if !forward && input != flow.nav.prev {
        return None;
    }
    let View::Ask(ask) = view else {
        return None;
    };
    let pages = layout(flow, ask, budget).pages.len();
    let page = page as usize;
    if forward && page + 1 < pages {
        Some(page as u8 + 1)
    } else if !forward && page > 0 {
        Some(page as u8 - 1)
    } else {
        None
    }
}

/// A notice outside any conversation (unknown code, service unavailable): one `END` screen.
pub fn notice(text: &str, budget: Budget) -> Screen {
    Screen {
        end: true,
        text: page::truncate(text, budget).to_owned(),
    }
}
