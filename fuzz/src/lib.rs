//! What the fuzz targets share: the wire request a gateway target builds from its input, the
//! shipped flows, arbitrary answers and session states. See docs/fuzzing.md.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Result, Unstructured};
use sauti::CompiledFlow;
use sauti::channel::{Channel, Rendered};
use sauti::flow::StepIdx;
use sauti::gateway::{Decoded, Gateway, Inbound, InputCursor, Progress, WireRequest};
use sauti::hash::fnv1a;
use sauti::question::{Answer, Invalid};
use sauti::render::ussd::Screen;

/// The repository's root (flows, locales, fixtures).
pub fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The shipped flow `id` (from `flows/`, with the shipped `locales/`).
pub fn shipped(id: &str) -> CompiledFlow {
    let path: PathBuf = root().join("flows").join(format!("{id}.toml"));
    let (mut flows, problems) = sauti::flow::load_dir(&[path], &root().join("locales"));
    assert!(problems.is_empty(), "{problems:?}");
    flows.pop().expect("the shipped flow loads")
}

/// The shipped kufatilia flow, loaded once.
pub fn kufatilia() -> &'static CompiledFlow {
    static FLOW: OnceLock<CompiledFlow> = OnceLock::new();
    FLOW.get_or_init(|| shipped("kufatilia"))
}

/// Splits a target's input into a control part (read with `arbitrary`) and a payload: the first
/// byte is the control part's length. A seed made of a zero byte then a fixture's body is that
/// body, sent with every control at its default (the first choice of each list below).
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return (&[], &[]);
    };
    rest.split_at((n as usize).min(rest.len()))
}

/// One of `known`, or (rarely chosen by the fuzzer, but reachable) an arbitrary string.
pub fn one_of<'a>(u: &mut Unstructured<'a>, known: &[&'static str]) -> Result<&'a str> {
    let i = u.choose_index(known.len() + 1)?;
    match known.get(i) {
        Some(k) => Ok(k),
        None => <&str>::arbitrary(u),
    }
}

/// What a gateway target's control part chooses the method, action and query among (besides an
/// arbitrary string, see [`one_of`]). The first of each is the default (a zero control byte).
/// `fuzz/seeds.py` reads a target's `ACTIONS` and `QUERIES` lists to make seeds of the
/// fixtures' requests, so they are plain lists of string literals.
pub struct Choices {
    pub methods: &'static [&'static str],
    pub actions: &'static [&'static str],
    pub queries: &'static [&'static str],
}

impl Choices {
    /// The methods every gateway target offers.
    pub const METHODS: &'static [&'static str] = &["POST", "GET", "HEAD", "PUT"];

    /// The voice targets' (and Africa's Talking USSD's): callback actions and turns.
    pub const DEFAULT: Choices = Choices {
        methods: Choices::METHODS,
        actions: &["", "gather", "no-input", "recording", "status", "events"],
        queries: &[
            "",
            "step=consent&n=1",
            "n=0",
            "step=lang&n=4294967295",
            "n=4294967296",
            "n=-1",
            "n=1&n=2",
            "step=%ZZ&n=1",
        ],
    };
}

/// A gateway request as the server would hand it over: method, action (what follows the
/// gateway's route), query, headers and body.
pub struct Wire {
    pub method: String,
    pub action: String,
    pub path_and_query: String,
    pub query: String,
    pub headers: hyper::HeaderMap,
    /// Where progress is checked from, besides the cursors derived from the hop.
    pub cursor: InputCursor,
    pub cut: usize,
}

impl Wire {
    /// Reads the request's parts from `u`; `route` is the gateway's path.
    pub fn read(u: &mut Unstructured<'_>, route: &str) -> Result<Wire> {
        Wire::read_with(u, route, &Choices::DEFAULT)
    }

    /// As [`Wire::read`], with the gateway's own known methods, actions and queries.
    pub fn read_with(u: &mut Unstructured<'_>, route: &str, known: &Choices) -> Result<Wire> {
        let method = one_of(u, known.methods)?.to_owned();
        let action = one_of(u, known.actions)?.to_owned();
        let query = one_of(u, known.queries)?.to_owned();
        let mut headers = hyper::HeaderMap::new();
        let extra: Vec<(&str, &[u8])> = u.arbitrary()?;
        for (name, value) in extra.into_iter().take(8) {
            if let (Ok(n), Ok(v)) = (
                hyper::header::HeaderName::from_bytes(name.as_bytes()),
                hyper::header::HeaderValue::from_bytes(value),
            ) {
                headers.append(n, v);
            }
        }
        let mut path_and_query = route.to_owned();
        if !action.is_empty() {
            path_and_query.push('/');
            path_and_query.push_str(&action);
        }
        if !query.is_empty() {
            path_and_query.push('?');
            path_and_query.push_str(&query);
        }
        Ok(Wire {
            method,
            action,
            path_and_query,
            query,
            headers,
            cursor: InputCursor {
                len: u.arbitrary()?,
                hash: u.arbitrary()?,
            },
            cut: u.arbitrary()?,
        })
    }

    pub fn request<'a>(&'a self, body: &'a [u8]) -> WireRequest<'a> {
        WireRequest {
            method: &self.method,
            action: &self.action,
            path_and_query: &self.path_and_query,
            query: &self.query,
            headers: &self.headers,
            body,
        }
    }
}

/// Decodes the request, then reads every hop against a few cursors, and the request as a
/// session-ended notice: nothing may panic, and what `progress` returns must be sound.
pub fn exercise(gateway: &dyn Gateway, wire: &Wire, body: &[u8]) {
    let request = wire.request(body);
    if let Ok(Decoded::Hop(hop)) = gateway.decode(&request) {
        check_progress(gateway, wire, &hop, Reads::Cumulative);
    }
    let _ = gateway.decode_session_ended(&request);
}

/// How a USSD gateway's input reads, for what [`exercise_ussd`] checks of `progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// Every answer of the session joined (Africa's Talking, the generic gateway's default):
    /// once a text is taken it is never new again.
    Cumulative,
    /// Only the newest answer (`gateway::latest_progress`): what is new is the whole input;
    /// a numbered request (`turn`) once taken is never new again, an unnumbered one cannot be
    /// told from its retry and is taken again.
    Latest,
}

/// [`exercise`] for a USSD gateway, then `encode_for` the request of every decoded hop, with
/// a continuing and a last screen of `text`: nothing may panic.
pub fn exercise_ussd(gateway: &dyn Gateway, wire: &Wire, body: &[u8], reads: Reads, text: &str) {
    let request = wire.request(body);
    if let Ok(Decoded::Hop(hop)) = gateway.decode(&request) {
        check_progress(gateway, wire, &hop, reads);
        for end in [false, true] {
            let screen = Rendered::Ussd(Screen {
                end,
                text: text.to_owned(),
            });
            let reply = gateway.encode_for(&request, &screen);
            assert_eq!(reply.status, 200, "{reply:?}");
        }
    }
    let _ = gateway.decode_session_ended(&request);
}

fn check_progress(gateway: &dyn Gateway, wire: &Wire, hop: &Inbound, reads: Reads) {
    let input = hop.input.as_bytes();
    let cut = wire.cut % (input.len() + 1);
    let prefix = |n: usize| InputCursor {
        len: n as u32,
        hash: fnv1a(&input[..n]),
    };
    let mut cursors = vec![
        InputCursor::START,
        InputCursor::of(&hop.input),
        prefix(cut),
        wire.cursor,
        InputCursor {
            len: u32::MAX,
            hash: 0,
        },
    ];
    if let Some(t) = hop.turn {
        cursors.extend(
            [t.saturating_sub(1), t, t.saturating_add(1)].map(|len| InputCursor { len, hash: 0 }),
        );
    }
    for before in &cursors {
        let progress = gateway.progress(before, hop);
        if let Progress::New(new) = progress {
            // What is new is a part of what the gateway sent (all of it, for the newest input).
            assert!(
                hop.input.ends_with(new),
                "{new:?} is not the end of {:?}",
                hop.input
            );
            if reads == Reads::Latest {
                assert_eq!(new, hop.input, "{hop:?}");
            }
        }
        let after = gateway.cursor(before, hop);
        let again = gateway.progress(&after, hop);
        let retry_known = reads == Reads::Cumulative || hop.turn.is_some();
        if gateway.channel() == Channel::Ussd && retry_known && matches!(progress, Progress::New(_))
        {
            // Once taken, the same text again is a retry, never new input.
            assert_eq!(again, Progress::Same, "{progress:?} for {:?}", hop.input);
        }
    }
}

/// A calendar date in `time`'s range.
pub fn date(u: &mut Unstructured<'_>) -> Result<time::Date> {
    let min = time::Date::MIN.to_julian_day();
    let max = time::Date::MAX.to_julian_day();
    let day = u.int_in_range(min..=max)?;
    Ok(time::Date::from_julian_day(day).expect("in range"))
}

/// An answer of any kind (a stored state is checked for its indices, not for its kinds).
pub fn answer(u: &mut Unstructured<'_>) -> Result<Answer> {
    Ok(match u.int_in_range(0..=7u8)? {
        0 => Answer::Choice(u.int_in_range(0..=12)?),
        1 => {
            let n = u.int_in_range(0..=6)?;
            let mut picked: Vec<u16> = (0..n)
                .map(|_| u.int_in_range(0..=12))
                .collect::<Result<_>>()?;
            picked.sort_unstable();
            picked.dedup();
            Answer::Multi(picked)
        }
        2 => Answer::Text(u.arbitrary()?),
        3 => Answer::Integer(u.arbitrary()?),
        4 => Answer::Decimal(u.arbitrary()?),
        5 => Answer::Date(date(u)?),
        6 => Answer::Audio {
            url: u.arbitrary()?,
            secs: u.arbitrary()?,
        },
        _ => Answer::Skipped,
    })
}

/// Answers to some of `steps` steps (at most one per step, as the engine keeps them).
pub fn answers(u: &mut Unstructured<'_>, steps: usize) -> Result<Vec<(StepIdx, Answer)>> {
    let mut out: Vec<(StepIdx, Answer)> = Vec::new();
    for _ in 0..u.int_in_range(0..=steps + 2)? {
        let step = u.int_in_range(0..=steps as StepIdx)?;
        let a = answer(u)?;
        if !out.iter().any(|(s, _)| *s == step) {
            out.push((step, a));
        }
    }
    Ok(out)
}

/// A reason for a re-ask.
pub fn invalid(u: &mut Unstructured<'_>) -> Result<Invalid> {
    Ok(match u.int_in_range(0..=9u8)? {
        0 => Invalid::NotAnOption,
        1 => Invalid::SelectionCount {
            min: u.arbitrary()?,
            max: u.arbitrary()?,
        },
        2 => Invalid::Empty,
        3 => Invalid::TooShort {
            min: u.arbitrary()?,
        },
        4 => Invalid::TooLong {
            max: u.arbitrary()?,
        },
        5 => Invalid::NotANumber,
        6 => Invalid::NotAnInteger,
        7 => Invalid::NumberOutOfRange {
            min: u.arbitrary()?,
            max: u.arbitrary()?,
        },
        8 => Invalid::NotADate {
            example: u.arbitrary()?,
        },
        _ => Invalid::DateOutOfRange {
            min: u.arbitrary()?,
            max: u.arbitrary()?,
        },
    })
}
