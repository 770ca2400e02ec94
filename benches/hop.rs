//! One hop without IO on the kufatilia flow: USSD (the channel's page keys, the engine's step,
//! the next screen rendered) and voice (the channel's keys, the engine's step, the next prompt
//! and the gateway's XML). Run: `cargo bench --bench hop`.

use std::path::Path;

use std::sync::Arc;

use sauti::CompiledFlow;
use sauti::audio::AudioCatalogue;
use sauti::channel::voice::{self, Memory};
use sauti::channel::{Input, Rendered, ussd};
use sauti::engine::{self, HopContext, SessionState};
use sauti::gateway::Gateway;
use sauti::gateway::africastalking_voice::AfricasTalkingVoice;
use sauti::gateway::twilio::Twilio;
use sauti::render::voice::{TtsVoice, VoiceSettings, recording_script};
use sauti::render::{Budget, Screen};

/// The allocator `sauti` ships with (src/main.rs): hop timings depend on it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

fn kufatilia() -> CompiledFlow {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (flows, problems) =
        sauti::flow::load_dir(&[root.join("flows/kufatilia.toml")], &root.join("locales"));
    assert!(problems.is_empty(), "{problems:?}");
    flows.into_iter().next().unwrap()
}

fn ctx() -> HopContext {
    HopContext {
        today: time::macros::date!(2026 - 11 - 23),
    }
}

/// What a USSD hop computes from a stored session: the next state and the screen to send
/// (both returned, as `engine::step` returned both before the engine was channel-neutral:
/// divan drops what a benchmark returns outside the timing).
fn hop(flow: &CompiledFlow, state: &SessionState, input: &str, ctx: &HopContext) -> Screen {
    let budget = Budget::default();
    let turn = ussd::step(flow, state, None, 0, input, ctx, budget);
    turn.screen(flow, budget)
}

/// The state after `inputs`, starting from the language screen.
fn after(flow: &CompiledFlow, inputs: &[&str]) -> SessionState {
    let ctx = ctx();
    let mut state = engine::start(flow, None, "K7Q4").state;
    for i in inputs {
        state = engine::step(flow, &state, i, &ctx).state;
    }
    state
}

/// Picking an incident type: a 9-option menu answered, the next menu rendered.
#[divan::bench]
fn choice_hop(bencher: divan::Bencher) {
    let flow = kufatilia();
    let ctx = ctx();
    let state = after(&flow, &["1", "1"]);
    bencher.bench_local(|| hop(&flow, divan::black_box(&state), divan::black_box("3"), &ctx));
}

/// A number answer whose next prompt is static, nine answers into the survey.
#[divan::bench]
fn number_hop_deep(bencher: divan::Bencher) {
    let flow = kufatilia();
    let ctx = ctx();
    let state = after(
        &flow,
        &["2", "1", "2", "5", "14032026", "1", "Mwenga", "Kamituga"],
    );
    bencher.bench_local(|| {
        hop(
            &flow,
            divan::black_box(&state),
            divan::black_box("12"),
            &ctx,
        )
    });
}

/// A wrong key: the question is re-asked with a localised reason (Fluent on this path).
#[divan::bench]
fn invalid_hop(bencher: divan::Bencher) {
    let flow = kufatilia();
    let ctx = ctx();
    let state = after(&flow, &["3", "1"]);
    bencher.bench_local(|| {
        hop(
            &flow,
            divan::black_box(&state),
            divan::black_box("42"),
            &ctx,
        )
    });
}

/// A prompt that echoes an earlier answer: formatted by Fluent at each hop.
#[divan::bench]
fn dynamic_prompt_hop(bencher: divan::Bencher) {
    let flow = kufatilia();
    let ctx = ctx();
    let state = after(&flow, &["1", "1", "2", "1", "1", "Mwenga"]);
    bencher.bench_local(|| {
        hop(
            &flow,
            divan::black_box(&state),
            divan::black_box("Kamituga"),
            &ctx,
        )
    });
}

/// Voice settings: French by a text-to-speech voice, Swahili and Lingala from recordings (the
/// files are empty: only their names matter to a hop).
fn voice_settings() -> (VoiceSettings, tempfile::TempDir) {
    let flow = kufatilia();
    let dir = tempfile::tempdir().unwrap();
    for lang in 1..flow.languages.len() as u8 {
        for line in recording_script(&flow, lang) {
            let path = dir.path().join(&line.lang).join(format!("{}.wav", line.id));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"").unwrap();
        }
    }
    let mut settings = VoiceSettings {
        catalogue: Arc::new(
            AudioCatalogue::scan(dir.path(), "https://sauti.example.org/audio").unwrap(),
        ),
        ..VoiceSettings::default()
    };
    settings.tts.insert(
        "fr".into(),
        Arc::new(TtsVoice {
            voice: "Polly.Lea".into(),
            language: "fr-FR".into(),
        }),
    );
    (settings, dir)
}

/// What a voice hop computes from a stored session: the caller's key through the voice
/// channel and the engine, the next prompt chosen clip by clip, and the gateway's XML.
fn voice_hop(
    flow: &CompiledFlow,
    state: &SessionState,
    input: &str,
    ctx: &HopContext,
    settings: &VoiceSettings,
    gateway: &dyn Gateway,
) -> String {
    let (hop, memory) = voice::step(
        flow,
        state,
        None,
        Memory::default(),
        Input::Keys(input),
        ctx,
        settings,
    );
    let prompt = voice::render(flow, &hop.view(flow), memory, 3, settings);
    gateway.encode(&Rendered::Voice(prompt)).body
}

/// The USSD `choice_hop` by phone call in French (text-to-speech), answered through Twilio.
#[divan::bench]
fn voice_choice_hop_tts(bencher: divan::Bencher) {
    let flow = kufatilia();
    let ctx = ctx();
    let (settings, _dir) = voice_settings();
    let twilio = Twilio::new("https://sauti.example.org", "twilio", Some("token".into()));
    let state = after(&flow, &["1", "1"]);
    bencher.bench_local(|| {
        voice_hop(
            &flow,
            divan::black_box(&state),
            divan::black_box("3"),
            &ctx,
            &settings,
            &twilio,
        )
    });
}

/// The same in Swahili: every part played from its recording, through Africa's Talking.
#[divan::bench]
fn voice_choice_hop_recorded(bencher: divan::Bencher) {
    let flow = kufatilia();
    let ctx = ctx();
    let (settings, _dir) = voice_settings();
    let at = AfricasTalkingVoice::new("https://sauti.example.org", "africastalking");
    let state = after(&flow, &["2", "1"]);
    bencher.bench_local(|| {
        voice_hop(
            &flow,
            divan::black_box(&state),
            divan::black_box("3"),
            &ctx,
            &settings,
            &at,
        )
    });
}

/// Loading and checking both shipped flows with their translations (start-up cost).
#[divan::bench(sample_count = 20)]
fn load_flows() -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    sauti::flow::load_dir(&[root.join("flows")], &root.join("locales"))
        .0
        .len()
}
