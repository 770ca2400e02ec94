//! The USSD renderer: a view becomes a numbered screen within the gateway's budget (GSM-7
//! septets or UCS-2 characters), cut into pages that `98`/`99` turn.

use std::borrow::Cow;

use super::page::{self, Footer, KeyLine, Page, Unfit};
use crate::engine::{Ask, View};
use crate::flow::CompiledFlow;
use crate::gsm7::{Budget, Text};

/// What the phone shows after a hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    /// `END`: the network closes the session after showing it.
    pub end: bool,
    pub text: String,
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

fn layout<'v>(flow: &'v CompiledFlow, ask: &'v Ask<'v>, budget: Budget) -> Layout<'v> {
    let nav = &flow.locales[ask.lang as usize].nav;
    let prompt = match &ask.reason {
        Some(why) => Cow::Owned(format!("{}\n{}", why.text, ask.prompt.text)),
        None => Cow::Borrowed(ask.prompt.text.as_ref()),
    };
    let footer = Footer {
        more: KeyLine {
            key: &flow.nav.more,
            label: &nav.more,
        },
        prev: KeyLine {
            key: &flow.nav.prev,
            label: &nav.prev,
        },
        back: ask.back.map(|b| KeyLine {
            key: b.key,
            label: b.label,
        }),
        skip: ask.skip.map(|s| KeyLine {
            key: s.key,
            label: s.label,
        }),
    };
    let (pages, degraded) = match page::paginate(&prompt, ask.choices, &footer, budget) {
        Ok(p) => (p, false),
        // `check` proves shipped flows fit; with a smaller gateway budget, degrade to one
        // option per page with the prompt cut, rather than send an over-long screen.
        Err(_) => (fallback_pages(&prompt, ask.choices), true),
    };
    Layout {
        prompt,
        options: ask.choices,
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
    page::paginate(&layout.prompt, ask.choices, &layout.footer, budget).err()
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
