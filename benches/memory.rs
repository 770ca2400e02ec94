//! Resident memory of the embedded session store with 100,000 live sessions, each a few
//! answers into the kufatilia survey: `cargo bench --bench memory` (reads /proc/self/status).

use std::path::Path;
use std::time::Duration;

use sauti::channel::ChannelMemory;
use sauti::engine::{self, HopContext};
use sauti::gateway::InputCursor;
use sauti::session::{
    MemoryStore, Ownership, ResumeWrite, SessionKey, SessionRecord, SessionStore,
};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let n: usize = if quick { 1_000 } else { 100_000 };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (flows, problems) =
        sauti::flow::load_dir(&[root.join("flows/kufatilia.toml")], &root.join("locales"));
    assert!(problems.is_empty());
    let flow = &flows[0];
    let ctx = HopContext {
        today: time::macros::date!(2026 - 11 - 23),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let before = rss_kib();
    let store = MemoryStore::new(n * 2, Duration::from_secs(48 * 3600));
    rt.block_on(async {
        for i in 0..n {
            let id = uuid::Uuid::now_v7();
            let mut hop = engine::start(flow, None, "K7Q4");
            // Language, consent, incident, when, province, territory: six answers in.
            for input in ["1", "1", "2", "1", "1", "Mwenga"] {
                hop = engine::step(flow, &hop.state, input, &ctx);
            }
            let respondent = format!("{:064x}", i as u128 * 7919);
            let record = SessionRecord {
                flow_id: flow.id.clone(),
                flow_version: flow.version,
                response_id: id,
                respondent: respondent.clone(),
                network: Some("63001".into()),
                started_at_ms: 1_795_000_000_000,
                address: sauti::session::address_tag("*384*1#"),
                cursor: InputCursor::of("1*1*2*1*1*Mwenga"),
                channel: ChannelMemory::Ussd { page: 0 },
                reason: None,
                state: hop.state,
                gateway: "africastalking".into(),
                last_hop_ms: 1_795_000_042_000,
            };
            let key = SessionKey {
                respondent,
                gateway: "africastalking".into(),
                session_id: format!("ATUid_{i:032x}"),
            };
            store
                .save(
                    &key,
                    &record,
                    0,
                    Duration::from_secs(3600),
                    ResumeWrite::Keep,
                    None,
                    Ownership::hold(1),
                )
                .await
                .unwrap();
        }
    });
    let after = rss_kib();
    let per = (after.saturating_sub(before)) as f64 * 1024.0 / n as f64;
    println!(
        "memory store: {n} live sessions (each with its resume record): RSS {} MiB -> {} MiB, {:.0} bytes per session",
        before / 1024,
        after / 1024,
        per
    );
    assert_eq!(store.len(), n);
}
