//! Africa's Talking USSD: arbitrary bodies (and method, action, query, headers) through
//! `decode`, `progress`, `cursor` and `decode_session_ended`. Input: see `sauti_fuzz::split`.
#![no_main]

use std::sync::{Arc, OnceLock};

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use sauti::config::GatewayKind;
use sauti::gateway::{AdapterSettings, Gateway, adapter};
use sauti_fuzz::{Wire, exercise, split};

fn gateway() -> &'static Arc<dyn Gateway> {
    static G: OnceLock<Arc<dyn Gateway>> = OnceLock::new();
    G.get_or_init(|| {
        adapter(
            GatewayKind::Africastalking,
            &AdapterSettings {
                name: "africastalking".into(),
                public_url: "https://sauti.example.org".into(),
                auth_token: None,
                generic: None,
                generic_sms: None,
            },
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let (control, body) = split(data);
    let Ok(wire) = Wire::read(&mut Unstructured::new(control), "/ussd/africastalking") else {
        return;
    };
    exercise(gateway().as_ref(), &wire, body);
});
