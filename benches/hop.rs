//! One USSD hop without IO (the USSD channel's page keys, the engine's step, the next screen
//! rendered) on the kufatilia flow. Run: `cargo bench --bench hop`.

use std::path::Path;

use sauti::CompiledFlow;
use sauti::channel::ussd;
use sauti::engine::{self, HopContext, SessionState};
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

/// Loading and checking both shipped flows with their translations (start-up cost).
#[divan::bench(sample_count = 20)]
fn load_flows() -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    sauti::flow::load_dir(&[root.join("flows")], &root.join("locales"))
        .0
        .len()
}
