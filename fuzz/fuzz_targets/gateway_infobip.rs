//! Infobip USSD sessions (JSON, `session/<id>/<verb>`): arbitrary bodies (and method, action,
//! query, headers) through `decode`, `progress`, `cursor`, `decode_session_ended` and `encode_for`.
//! Input: see `sauti_fuzz::split`.
#![no_main]

use std::sync::{Arc, OnceLock};

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use sauti::config::GatewayKind;
use sauti::gateway::{AdapterSettings, Gateway, adapter};
use sauti_fuzz::{Choices, Reads, Wire, exercise_ussd, split};

/// Besides the default (the first), the fixtures' actions (`session/5548721/start`, `response`, `end`), then actions
/// it refuses or reads oddly.
const ACTIONS: &[&str] = &[
    "",
    "session/5548721/start",
    "session/5548721/response",
    "session/5548721/end",
    "session/5548721/status",
    "session//start",
    "session/ /response",
    "session/a/b/end",
    "start",
    "/end/",
    "session/%2F/start",
];

/// Besides the default (the first), queries (the path is read from `path_and_query` when the action is empty).
const QUERIES: &[&str] = &["", "x=1", "a/session/1/start"];

const KNOWN: Choices = Choices {
    methods: Choices::METHODS,
    actions: ACTIONS,
    queries: QUERIES,
};

fn gateway() -> &'static Arc<dyn Gateway> {
    static G: OnceLock<Arc<dyn Gateway>> = OnceLock::new();
    G.get_or_init(|| {
        adapter(
            GatewayKind::Infobip,
            &AdapterSettings {
                name: "infobip".into(),
                public_url: "https://sauti.example.org".into(),
                ..AdapterSettings::default()
            },
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let (control, body) = split(data);
    let mut u = Unstructured::new(control);
    let Ok(wire) = Wire::read_with(&mut u, "/ussd/infobip", &KNOWN) else {
        return;
    };
    let text: &str = u.arbitrary().unwrap_or_default();
    exercise_ussd(gateway().as_ref(), &wire, body, Reads::Latest, text);
});
