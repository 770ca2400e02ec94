//! Comviva Freeflow (a form query, or body): arbitrary bodies (and method, action, query, headers)
//! through `decode`, `progress`, `cursor`, `decode_session_ended` and `encode_for`. Input: see
//! `sauti_fuzz::split`.
#![no_main]

use std::sync::{Arc, OnceLock};

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use sauti::config::GatewayKind;
use sauti::gateway::{AdapterSettings, Gateway, adapter};
use sauti_fuzz::{Choices, Reads, Wire, exercise_ussd, split};

/// Besides the default (the first), an action it does not take.
const ACTIONS: &[&str] = &["", "clean"];

/// Besides the default (the first), the fixtures' queries (their requests are GETs), then odd ones.
const QUERIES: &[&str] = &[
    "",
    "SessionID=4430918277&MSISDN=243990000005&MSC=243990000900&input=384%2A7788",
    "SessionID=4430918277&MSISDN=243990000005&MSC=243990000900&input=1",
    "SessionID=4430918277&MSISDN=243990000005&MSC=243990000900&input=2",
    "SessionID=4430918299&msisdn=243990000006&clean=clean-session&error=522",
    "userid=sauti&password=s3cret&SessionID=4430918300&MSISDN=243990000007&MSC=243990000900&input=384%2A7788",
    "SessionID=1&MSISDN=%2B1&input=",
    "SessionID=%20&clean=",
    "sessionid=1&msisdn=1&INPUT=%FF",
];

const KNOWN: Choices = Choices {
    methods: Choices::METHODS,
    actions: ACTIONS,
    queries: QUERIES,
};

fn gateway() -> &'static Arc<dyn Gateway> {
    static G: OnceLock<Arc<dyn Gateway>> = OnceLock::new();
    G.get_or_init(|| {
        adapter(
            GatewayKind::ComvivaFreeflow,
            &AdapterSettings {
                name: "airtel".into(),
                public_url: "https://sauti.example.org".into(),
                ..AdapterSettings::default()
            },
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let (control, body) = split(data);
    let mut u = Unstructured::new(control);
    let Ok(wire) = Wire::read_with(&mut u, "/ussd/airtel", &KNOWN) else {
        return;
    };
    let text: &str = u.arbitrary().unwrap_or_default();
    exercise_ussd(gateway().as_ref(), &wire, body, Reads::Latest, text);
});
