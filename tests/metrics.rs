//! What an operator's monitoring scrapes after a few conversations, one of them abandoned at a
//! known question: hops by gateway, flow and result, sessions started and completed, surveys
//! abandoned by step and language, hop latency, deliveries by sink.

mod common;

use common::server::{AtPhone, Options, Server};

#[test]
fn the_counters_tell_what_happened_abandonment_by_step_included() {
    let server = Server::start_with(Options {
        config: Some("resume_window_secs = 1\npartials_sweep_secs = 1\n".into()),
        ..Options::default()
    });
    for (i, number) in ["+243810000991", "+243810000992"].iter().enumerate() {
        let mut phone = AtPhone::new(&server, &format!("ATUid_m{i}"), "*384*1#", number);
        phone.dial();
        for input in ["1", "1", "2", "1", "1", "Mwenga", "000", "3", "2"] {
            phone.send(input);
        }
    }
    // A Swahili respondent who stops at "when did it happen?".
    let mut gone = AtPhone::new(&server, "ATUid_gone", "*384*1#", "+243810000993");
    gone.dial();
    for input in ["2", "1", "4"] {
        gone.send(input);
    }
    // An unknown service code.
    let mut lost = AtPhone::new(&server, "ATUid_lost", "*999#", "+243810000994");
    assert!(lost.dial().starts_with("END"));

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while server.metric("sauti_surveys_abandoned_total", &[]) < 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            server.get("/metrics").body
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let m = |name: &str, labels: &[&str]| server.metric(name, labels);
    assert_eq!(
        m(
            "sauti_surveys_abandoned_total",
            &["flow=\"kufatilia\"", "language=\"sw\"", "step=\"when\""]
        ),
        1.0,
        "{}",
        server.get("/metrics").body
    );
    let ours = ["gateway=\"africastalking\"", "flow=\"kufatilia\""];
    assert_eq!(m("sauti_sessions_started_total", &ours), 3.0);
    assert_eq!(m("sauti_surveys_completed_total", &ours), 2.0);
    assert_eq!(
        m(
            "sauti_hops_total",
            &[ours[0], ours[1], "result=\"completed\""]
        ),
        2.0
    );
    // 2 × 10 hops and 4 of the one who left, every one served.
    assert_eq!(
        m("sauti_hops_total", &[ours[0], ours[1], "result=\"served\""]),
        18.0 + 4.0
    );
    assert_eq!(m("sauti_hops_total", &["result=\"unknown_address\""]), 1.0);
    assert_eq!(m("sauti_hop_duration_seconds_count", &[]), 25.0);
    assert_eq!(
        m("sauti_outbox_queued_total", &["sink=\"file\""]),
        3.0,
        "two complete, one partial"
    );
}

/// A delivering sink's queue: its depth and the age of its oldest response are exported.
#[test]
fn the_outbox_depth_and_age_are_exported() {
    let collector = common::collector::Collector::start(common::collector::Mode::Status(200));
    let server = Server::start_with(Options {
        config: Some(format!(
            "[sinks.partners]\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"whsec_c2F1dGktdGVzdC13ZWJob29rLXNlY3JldC0zMmJ5dGU=\"\n",
            collector.url("/hooks")
        )),
        ..Options::default()
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let body = server.get("/metrics").body;
        if body.contains("sauti_outbox_depth{sink=\"partners\"} 0")
            && body.contains("sauti_outbox_oldest_age_seconds{sink=\"partners\"} 0")
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{body}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
