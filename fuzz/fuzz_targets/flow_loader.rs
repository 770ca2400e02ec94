//! Flow loading: arbitrary TOML as a flow file and arbitrary Fluent as its French translation
//! (beside the shipped `locales/fr/sauti.ftl`), loaded with `flow::load_dir`; a flow that loads
//! is then walked for a few hops (`engine::start`/`step`), each rendered as a USSD screen and a
//! voice script. Input: the flow, a 0xFF byte, its French texts, and optionally another 0xFF
//! and the respondent's inputs, one a line (`@rec` answers with a recording).
#![no_main]

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sauti::engine::{self, HopContext};
use sauti::gsm7::Budget;
use sauti::render::{ussd, voice};

/// Where each input is written: `flows/flow.toml`, `locales/fr/<flow id>.ftl`.
struct Dir {
    _tmp: tempfile::TempDir,
    flow: PathBuf,
    fr: PathBuf,
    locales: PathBuf,
    engine: Vec<u8>,
}

fn dir() -> &'static Dir {
    static DIR: OnceLock<Dir> = OnceLock::new();
    DIR.get_or_init(|| {
        // In memory where there is a tmpfs: each input is written there.
        let base = Path::new("/dev/shm");
        let tmp = if base.is_dir() {
            tempfile::tempdir_in(base)
        } else {
            tempfile::tempdir()
        }
        .expect("a temporary directory");
        let locales = tmp.path().join("locales");
        let fr = locales.join("fr");
        std::fs::create_dir_all(&fr).unwrap();
        std::fs::create_dir_all(tmp.path().join("flows")).unwrap();
        let engine = std::fs::read(sauti_fuzz::root().join("locales/fr/sauti.ftl")).unwrap();
        std::fs::write(fr.join("sauti.ftl"), &engine).unwrap();
        Dir {
            flow: tmp.path().join("flows/flow.toml"),
            fr,
            locales,
            engine,
            _tmp: tmp,
        }
    })
}

thread_local! {
    /// The translation file the previous input wrote.
    static LAST: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

/// The flow's id, which names its translation file (anything unusable as a file name is left
/// to the loader to refuse: the texts are then written as `flow.ftl`).
fn flow_id(toml_text: &[u8]) -> String {
    std::str::from_utf8(toml_text)
        .ok()
        .and_then(|s| s.parse::<toml::Table>().ok())
        .and_then(|t| t.get("id").and_then(|v| v.as_str().map(str::to_owned)))
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
        .unwrap_or_else(|| "flow".into())
}

/// `SAUTI_FUZZ_VERBOSE=1`: print what the loader found and where the walk ended (to see what
/// an input does: `cargo +nightly fuzz run flow_loader <file>`).
fn verbose() -> bool {
    static V: OnceLock<bool> = OnceLock::new();
    *V.get_or_init(|| std::env::var_os("SAUTI_FUZZ_VERBOSE").is_some())
}

const SCRIPT: &[&str] = &[
    "1", "1", "2", "3", "0", "1", "98", "99", "1 3", "25032026", "@rec", "Kamituga", "000", "00",
    "12", "1", "2", "1",
];

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0xFF);
    let toml_text = parts.next().unwrap_or_default();
    let ftl = parts.next().unwrap_or_default();
    let inputs: Vec<String> = match parts.next() {
        Some(lines) => String::from_utf8_lossy(lines)
            .lines()
            .take(32)
            .map(str::to_owned)
            .collect(),
        None => SCRIPT.iter().map(|s| (*s).to_owned()).collect(),
    };

    let d = dir();
    let ftl_path = d.fr.join(format!("{}.ftl", flow_id(toml_text)));
    LAST.with(|last| {
        if let Some(prev) = last.borrow_mut().take() {
            if prev.ends_with("sauti.ftl") {
                std::fs::write(&prev, &d.engine).unwrap();
            } else {
                let _ = std::fs::remove_file(&prev);
            }
        }
        *last.borrow_mut() = Some(ftl_path.clone());
    });
    std::fs::write(&d.flow, toml_text).unwrap();
    std::fs::write(&ftl_path, ftl).unwrap();

    let (flows, problems) = sauti::flow::load_dir(std::slice::from_ref(&d.flow), &d.locales);
    if verbose() {
        for p in &problems {
            eprintln!("{p}");
        }
        eprintln!("{} flow(s) loaded", flows.len());
    }
    let ctx = HopContext {
        today: time::Date::from_calendar_date(2026, time::Month::March, 14).unwrap(),
    };
    let budget = Budget::default();
    for flow in &flows {
        let languages: Vec<u8> = (0..flow.languages.len() as u8).collect();
        let show = |hop: &engine::Hop| {
            let view = hop.view(flow);
            for page in [0, 1] {
                let _ = ussd::screen(flow, &view, page, budget);
                let _ = voice::script(flow, &view, page, &languages);
            }
        };
        let mut hop = engine::start(flow, None, "R7K2");
        show(&hop);
        for input in &inputs {
            if hop.state.is_finished() {
                break;
            }
            hop = if input == "@rec" {
                engine::step_recording(flow, &hop.state, "https://x.example/r.wav", Some(3))
            } else {
                engine::step(flow, &hop.state, input, &ctx)
            };
            show(&hop);
        }
        if verbose() {
            eprintln!("walked to {:?}", hop.state.at);
        }
        if let Some(resumed) = engine::offer_resume(flow, &hop.state) {
            show(&resumed);
        }
    }
});
