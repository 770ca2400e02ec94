//! Twilio Voice: arbitrary bodies (and method, action, query, headers) through `decode`,
//! `progress`, `cursor` and `decode_session_ended`. Most inputs are signed as Twilio would sign
//! them (the first control byte says how), so that the fuzzer gets past the signature check.
#![no_main]

use std::sync::{Arc, OnceLock};

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use sauti::config::GatewayKind;
use sauti::gateway::twilio_signature;
use sauti::gateway::{AdapterSettings, Gateway, adapter};
use sauti_fuzz::{Wire, exercise, one_of, split};

const TOKEN: &str = "12345";
const PUBLIC_URL: &str = "https://sauti.example.org";

fn gateway() -> &'static Arc<dyn Gateway> {
    static G: OnceLock<Arc<dyn Gateway>> = OnceLock::new();
    G.get_or_init(|| {
        adapter(
            GatewayKind::Twilio,
            &AdapterSettings {
                name: "twilio".into(),
                public_url: PUBLIC_URL.into(),
                auth_token: Some(TOKEN.into()),
                generic: None,
                generic_sms: None,
            },
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let (control, body) = split(data);
    let mut u = Unstructured::new(control);
    // 0: signed right; 1: with the default port; 2: for another URL; 3: no signature;
    // 4: an arbitrary header value.
    let Ok(how) = u.int_in_range(0..=4u8) else {
        return;
    };
    let Ok(given) = one_of(
        &mut u,
        &["", "not base64!", "AAAA", "RSOYDt4T1cUTdK1PDd93/VVr8B8="],
    ) else {
        return;
    };
    let Ok(mut wire) = Wire::read(&mut u, "/gateways/twilio/voice") else {
        return;
    };
    let params: Vec<(String, String)> = serde_html_form::from_bytes(body).unwrap_or_default();
    let signature = match how {
        0 => twilio_signature::sign(
            TOKEN,
            &format!("{PUBLIC_URL}{}", wire.path_and_query),
            &params,
        ),
        1 => twilio_signature::sign(
            TOKEN,
            &format!("https://sauti.example.org:443{}", wire.path_and_query),
            &params,
        ),
        2 => twilio_signature::sign(TOKEN, PUBLIC_URL, &params),
        3 => String::new(),
        _ => given.to_owned(),
    };
    if how != 3
        && let Ok(v) = hyper::header::HeaderValue::from_str(&signature)
    {
        wire.headers.insert("x-twilio-signature", v);
    }
    exercise(gateway().as_ref(), &wire, body);
});
