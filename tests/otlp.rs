//! An operator points Sauti at an OpenTelemetry collector: every hop of a respondent's report
//! arrives there as a span, under the respondent's pseudonym and never their number, with the
//! collector's token sent but never printed.

mod common;

use std::collections::BTreeMap;

use common::collector::{Collector, Mode};
use common::server::{AtPhone, Options, Server};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;

const TOKEN: &str = "Bearer otlp-s3cret-token";

fn text(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
        .and_then(|v| match v {
            Value::StringValue(s) => Some(s.clone()),
            _ => None,
        })
}

#[test]
fn every_hop_of_a_report_reaches_the_collector_as_a_span_under_a_pseudonym() {
    let collector = Collector::start(Mode::Status(200));
    let mut server = Server::start_with(Options {
        config: Some(format!(
            "[otlp]\nendpoint = \"{}\"\nheaders = {{ authorization = \"{TOKEN}\" }}\nservice_name = \"sauti-kivu\"\n",
            collector.url("")
        )),
        ..Options::default()
    });
    assert!(
        server.logs_eventually_contain(&format!("traces: OTLP to http://{}", collector.addr), 5),
        "{}",
        server.logs()
    );
    let inputs = ["1", "1", "2", "1", "1", "Mwenga", "000", "3", "2"];
    let mut phone = AtPhone::new(&server, "ATUid_otlp", "*384*1#", "+243810000771");
    phone.dial();
    for input in inputs {
        phone.send(input);
    }
    assert!(phone.text.is_some());
    // Stopping flushes the spans still queued.
    assert!(server.terminate(), "{}", server.logs());

    let posts = collector.received();
    assert!(!posts.is_empty(), "no export reached the collector");
    let mut hops = Vec::new();
    for post in &posts {
        assert_eq!(post.path, "/v1/traces");
        assert_eq!(post.header("authorization"), Some(TOKEN));
        assert_eq!(post.header("content-type"), Some("application/x-protobuf"));
        for number in ["243810000771", "810000771", "0810000771"] {
            assert!(
                !post
                    .body
                    .windows(number.len())
                    .any(|w| w == number.as_bytes()),
                "the phone number reached the collector"
            );
        }
        let request = ExportTraceServiceRequest::decode(post.body.as_slice()).unwrap();
        for resource in request.resource_spans {
            let attributes = resource.resource.unwrap_or_default().attributes;
            assert_eq!(
                text(&attributes, "service.name").as_deref(),
                Some("sauti-kivu")
            );
            for scope in resource.scope_spans {
                for span in scope.spans.into_iter().filter(|s| s.name == "hop") {
                    let fields: BTreeMap<&str, String> =
                        ["gateway", "channel", "flow", "result", "respondent"]
                            .into_iter()
                            .filter_map(|k| Some((k, text(&span.attributes, k)?)))
                            .collect();
                    hops.push((span.start_time_unix_nano, fields));
                }
            }
        }
    }
    hops.sort_by_key(|(start, _)| *start);
    assert_eq!(hops.len(), 1 + inputs.len(), "one span per hop: {hops:?}");
    let pseudonym = hops[0].1["respondent"].clone();
    assert!(pseudonym.len() >= 8, "{pseudonym:?}");
    for (_, fields) in &hops {
        assert_eq!(fields["gateway"], "africastalking");
        assert_eq!(fields["channel"], "ussd");
        assert_eq!(fields["flow"], "kufatilia");
        assert_eq!(
            fields["respondent"], pseudonym,
            "one respondent, one pseudonym"
        );
    }
    let results: Vec<&str> = hops.iter().map(|(_, f)| f["result"].as_str()).collect();
    assert_eq!(results.last(), Some(&"completed"), "{results:?}");
    assert!(results[..results.len() - 1].iter().all(|r| *r == "served"));
    assert!(
        !server.logs().contains("otlp-s3cret-token"),
        "the collector's token was printed"
    );
}

#[test]
fn a_collector_that_is_down_never_stops_a_survey() {
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Server::start_with(Options {
        config: Some(format!(
            "[otlp]\nendpoint = \"http://127.0.0.1:{port}/v1/traces?token=otlp-query-s3cret\"\ntimeout_ms = 500\n"
        )),
        ..Options::default()
    });
    let mut phone = AtPhone::new(&server, "ATUid_otlp_down", "*384*1#", "+243810000772");
    phone.dial();
    let mut last = String::new();
    for input in ["1", "1", "2", "1", "1", "Mwenga", "000", "3", "2"] {
        last = phone.send(input);
    }
    assert!(last.starts_with("END"), "{last}");
    assert_eq!(server.responses().len(), 1);
    assert!(server.terminate(), "{}", server.logs());
    assert!(
        server.logs_eventually_contain("OTLP export failed", 5),
        "{}",
        server.logs()
    );
    // The failure is logged without the URL and the token in it.
    assert!(
        !server.logs().contains("otlp-query-s3cret"),
        "{}",
        server.logs()
    );
}
