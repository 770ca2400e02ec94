//! The generic USSD gateway, with its defaults and with other settings: arbitrary bodies (and
//! method, action, query, headers) through `decode`, `progress`, `cursor`, `decode_session_ended`
//! and `encode_for`. Input: see `sauti_fuzz::split`.
#![no_main]

use std::sync::{Arc, OnceLock};

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use sauti::config::GatewayKind;
use sauti::gateway::generic::{GenericFields, GenericInput, GenericMethod, GenericSettings};
use sauti::gateway::{AdapterSettings, Gateway, adapter};
use sauti_fuzz::{Choices, Reads, Wire, exercise_ussd, split};

/// Besides the default (the first), an action it does not take.
const ACTIONS: &[&str] = &["", "clean"];

/// Besides the default (the first), the fixtures' queries (their requests are GETs), the same in the
/// other settings' field names, then odd ones.
const QUERIES: &[&str] = &[
    "",
    "SESSIONID=634073548&USSDCODE=%2A384%2A7788%23&MSISDN=243810000008&INPUT=",
    "SESSIONID=634073548&USSDCODE=%2A384%2A7788%23&MSISDN=243810000008&INPUT=1%2A2",
    "sessionId=634073548&serviceCode=%2A384%2A7788%23&phoneNumber=243810000008&text=",
    "sessionId=634073548&serviceCode=%2A384%2A7788%23&phoneNumber=243810000008&text=1&networkCode=63001",
    "SESSIONID=1&USSDCODE=1&MSISDN=1&INPUT=%2A%2A",
    "SESSIONID=1&SESSIONID=2&INPUT=%FF",
];

const KNOWN: Choices = Choices {
    methods: Choices::METHODS,
    actions: ACTIONS,
    queries: QUERIES,
};

/// The defaults (`GET` or `POST`, `SESSIONID`, `MSISDN`, `USSDCODE`, cumulative `INPUT`).
fn defaults() -> &'static Arc<dyn Gateway> {
    static G: OnceLock<Arc<dyn Gateway>> = OnceLock::new();
    G.get_or_init(|| {
        adapter(
            GatewayKind::Generic,
            &AdapterSettings {
                name: "generic".into(),
                public_url: "https://sauti.example.org".into(),
                ..AdapterSettings::default()
            },
        )
    })
}

/// `method = "post"`, `input = "latest"`, Africa's Talking's field names and a network field.
fn latest() -> &'static Arc<dyn Gateway> {
    static G: OnceLock<Arc<dyn Gateway>> = OnceLock::new();
    G.get_or_init(|| {
        adapter(
            GatewayKind::Generic,
            &AdapterSettings {
                name: "generic-latest".into(),
                public_url: "https://sauti.example.org".into(),
                generic: Some(GenericSettings {
                    method: GenericMethod::Post,
                    input: GenericInput::Latest,
                    fields: GenericFields {
                        session_id: "sessionId".into(),
                        phone_number: "phoneNumber".into(),
                        service_code: "serviceCode".into(),
                        input: "text".into(),
                        network: Some("networkCode".into()),
                    },
                    continue_prefix: "CONTINUE\n".into(),
                    end_prefix: String::new(),
                    ..GenericSettings::default()
                }),
                ..AdapterSettings::default()
            },
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let (control, body) = split(data);
    let mut u = Unstructured::new(control);
    let Ok(wire) = Wire::read_with(&mut u, "/ussd/generic", &KNOWN) else {
        return;
    };
    let text: &str = u.arbitrary().unwrap_or_default();
    exercise_ussd(defaults().as_ref(), &wire, body, Reads::Cumulative, text);
    exercise_ussd(latest().as_ref(), &wire, body, Reads::Latest, text);
});
