//! `sauti simulate`: walks a flow in the terminal exactly as a USSD phone would show it
//! (with the `CON`/`END` marker and the screen's cost), or as plain text, then prints the response.

use std::io::{self, BufRead, Write};

use crate::channel::ussd;
use crate::engine::{self, At, HopContext, SessionState, View};
use crate::flow::CompiledFlow;
use crate::render::{self, Budget, Measure, Screen};
use crate::response::{Response, SCHEMA_VERSION, answers_json};

/// How the simulator shows each view.
#[derive(Debug, Clone, Copy)]
pub enum Display {
    /// USSD screens within this budget, paged, with their cost.
    Ussd(Budget),
    /// The plain-text renderer: the whole view, no budget, no pages.
    Plain,
}

/// Where the respondent's inputs come from.
pub enum Inputs<'a> {
    /// Given up front (`--answers 1,2,abc`).
    List(Vec<String>),
    /// Typed line by line.
    Reader(&'a mut dyn BufRead),
}

impl Inputs<'_> {
    fn next(&mut self, out: &mut dyn Write) -> io::Result<Option<String>> {
        match self {
            Inputs::List(l) => {
                if l.is_empty() {
                    return Ok(None);
                }
                let v = l.remove(0);
                writeln!(out, "> {v}")?;
                Ok(Some(v))
            }
            Inputs::Reader(r) => {
                write!(out, "> ")?;
                out.flush()?;
                let mut line = String::new();
                if r.read_line(&mut line)? == 0 {
                    writeln!(out)?;
                    return Ok(None);
                }
                Ok(Some(line.trim_end_matches(['\n', '\r']).to_owned()))
            }
        }
    }
}

/// What a screen costs against the budget, as `148/182 GSM-7`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ScreenCost {
    /// Septets in GSM-7, characters (UTF-16 units) in UCS-2.
    pub cost: u32,
    /// The budget's limit for that encoding.
    pub limit: u32,
    pub encoding: &'static str,
}

impl ScreenCost {
    pub fn of(text: &str, budget: Budget) -> ScreenCost {
        let m = Measure::of(text);
        ScreenCost {
            cost: m.cost(),
            limit: budget.limit(m),
            encoding: m.encoding(),
        }
    }

    fn unit(&self) -> &'static str {
        if self.encoding == "GSM-7" {
            "septets"
        } else {
            "chars"
        }
    }
}

fn show(out: &mut dyn Write, screen: &Screen, budget: Budget) -> io::Result<()> {
    let c = ScreenCost::of(&screen.text, budget);
    let marker = if screen.end { "END" } else { "CON" };
    writeln!(
        out,
        "--- {marker} · {}/{} {} ({}) ---",
        c.cost,
        c.limit,
        c.unit(),
        c.encoding
    )?;
    writeln!(out, "{marker} {}", screen.text)?;
    Ok(())
}

/// What a finished conversation records, as the real engine would: `None` for a refusal
/// when the flow counts none. Simulated: no respondent or network; `gateway` names the tool.
pub fn response(
    gateway: &str,
    flow: &CompiledFlow,
    state: &SessionState,
    id: &uuid::Uuid,
    started_at: &str,
    completed_at: &str,
) -> Option<Response> {
    let declined = flow.consent.filter(|c| c.declined(state));
    if declined.is_some_and(|c| !c.count_refusals) {
        return None;
    }
    Some(Response {
        schema: SCHEMA_VERSION,
        id: id.to_string(),
        flow: flow.id.clone(),
        flow_version: flow.version,
        status: if declined.is_some() {
            "declined"
        } else {
            "complete"
        }
        .into(),
        channel: "simulator".into(),
        gateway: gateway.into(),
        language: flow.languages[state.lang as usize].clone(),
        respondent: "simulator".into(),
        network: None,
        started_at: started_at.to_owned(),
        completed_at: completed_at.to_owned(),
        answers: match declined {
            Some(_) => Default::default(),
            None => answers_json(flow, state),
        },
    })
}

/// Runs a whole conversation; returns the response when the survey was completed.
pub fn run(
    flow: &CompiledFlow,
    lang: Option<u8>,
    inputs: &mut Inputs<'_>,
    out: &mut dyn Write,
    ctx: &HopContext,
    display: Display,
    now: &str,
) -> io::Result<Option<Response>> {
    let id = uuid::Uuid::now_v7();
    let mut hop = engine::start(flow, lang, &crate::response::receipt_of(&id));
    let mut page = 0;
    loop {
        let view = hop.view(flow);
        match display {
            Display::Ussd(budget) => show(
                out,
                &render::ussd::screen(flow, &view, page, budget),
                budget,
            )?,
            Display::Plain => writeln!(out, "{}", render::plain::render(&view))?,
        }
        if let View::End(_) = view {
            break;
        }
        let Some(input) = inputs.next(out)? else {
            writeln!(out, "(no more input: the session is left unfinished)")?;
            return Ok(None);
        };
        (hop, page) = match display {
            Display::Ussd(budget) => {
                let turn = ussd::step(
                    flow,
                    &hop.state,
                    hop.reason.as_ref(),
                    page,
                    &input,
                    ctx,
                    budget,
                );
                (turn.hop, turn.page)
            }
            Display::Plain => (engine::step(flow, &hop.state, &input, ctx), 0),
        };
    }
    let At::Done(_) = hop.state.at else {
        writeln!(out, "(the session was closed before the end of the survey)")?;
        return Ok(None);
    };
    let Some(response) = response("simulate", flow, &hop.state, &id, now, now) else {
        writeln!(out, "(declined: nothing is recorded)")?;
        return Ok(None);
    };
    writeln!(out, "--- response ---")?;
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&response).map_err(io::Error::other)?
    )?;
    Ok(Some(response))
}

/// `sauti simulate`: loads and checks the flow (a path or an id), then runs it on standard
/// input, or on `answers` when given, printing to standard output.
pub fn command(
    flow: &str,
    lang: Option<&str>,
    answers: Option<Vec<String>>,
    locales: &std::path::Path,
    display: Display,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let budget = match display {
        Display::Ussd(b) => b,
        Display::Plain => Budget::default(),
    };
    let flow = crate::check::load_one(flow, locales, budget)?;
    let lang = match lang {
        Some(tag) => Some(flow.language_index(tag).with_context(|| {
            format!(
                "flow `{}` is not offered in `{tag}` (offered: {})",
                flow.id,
                flow.languages.join(", ")
            )
        })?),
        None => None,
    };
    let now = time::OffsetDateTime::now_utc();
    let ctx = HopContext { today: now.date() };
    let stamp = crate::recorder::rfc3339(now);
    let stdin = io::stdin();
    let mut lock = stdin.lock();
    let inputs = match answers {
        Some(list) => Inputs::List(list),
        None => Inputs::Reader(&mut lock),
    };
    let mut out = io::stdout().lock();
    let mut inputs = inputs;
    run(&flow, lang, &mut inputs, &mut out, &ctx, display, &stamp)?;
    // Answers meant for questions that never came: the script and the flow disagree.
    if let Inputs::List(left) = &inputs
        && !left.is_empty()
    {
        anyhow::bail!(
            "{} answer(s) left over after the session ended: {}",
            left.len(),
            left.iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}
