//! OpenRosa delivery (ODK Central, KoBoToolbox): the XForm a flow exports, the instance a
//! response becomes, and the sink against collectors on loopback answering as Central and
//! KoBoToolbox do (`tests/fixtures/odk-central/`, `tests/fixtures/kobotoolbox/`). Every XML
//! document is read back with roxmltree, a parser independent of the quick-xml that wrote it.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use roxmltree::{Document, Node};
use sauti::flow::CompiledFlow;
use sauti::question::Question;
use sauti::response::{Response, ResponseHead, receipt_of};
use sauti::sink::openrosa::{OpenRosaSink, submission_xml};
use sauti::sink::{Delivery, Sink, SinkConfig, SinkKind};
use serde_json::json;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

const XFORMS: &str = "http://www.w3.org/2002/xforms";
const JR: &str = "http://openrosa.org/javarosa";

fn fixtures() -> PathBuf {
    Path::new(REPO).join("tests/fixtures")
}

fn shipped_flows() -> Vec<CompiledFlow> {
    let repo = Path::new(REPO);
    let (flows, problems) = sauti::flow::load_dir(&[repo.join("flows")], &repo.join("locales"));
    assert!(problems.is_empty(), "{problems:?}");
    assert!(flows.len() >= 2, "both shipped flows load");
    flows
}

fn flow(id: &str) -> CompiledFlow {
    shipped_flows().into_iter().find(|f| f.id == id).unwrap()
}

/// Parses `xml` or fails the test with the parser's reason.
fn parse<'x>(xml: &'x str, what: &str) -> Document<'x> {
    Document::parse(xml).unwrap_or_else(|e| panic!("{what} is not well-formed XML: {e}\n{xml}"))
}

fn children<'a, 'x>(node: Node<'a, 'x>) -> impl Iterator<Item = Node<'a, 'x>> {
    node.children().filter(Node::is_element)
}

fn child<'a, 'x>(node: Node<'a, 'x>, name: &str) -> Node<'a, 'x> {
    children(node)
        .find(|n| n.tag_name().name() == name)
        .unwrap_or_else(|| panic!("<{}> has no <{name}>", node.tag_name().name()))
}

fn names(node: Node) -> Vec<String> {
    children(node)
        .map(|n| n.tag_name().name().to_owned())
        .collect()
}

/// The text of an element, all of it (entities resolved).
fn text_of(node: Node) -> String {
    node.descendants()
        .filter(Node::is_text)
        .filter_map(|n| n.text())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// (a) The exported XForm.

/// The parts of a form a test looks at.
struct Form<'a, 'x> {
    data: Node<'a, 'x>,
    binds: HashMap<String, Node<'a, 'x>>,
    /// Per translation (its `lang`): text id → the `<value>` element.
    translations: Vec<(String, bool, HashMap<String, Node<'a, 'x>>)>,
    body: Node<'a, 'x>,
}

fn parts_of_form<'a, 'x>(doc: &'a Document<'x>) -> Form<'a, 'x> {
    let html = doc.root_element();
    assert_eq!(html.tag_name().name(), "html");
    let head = child(html, "head");
    let model = child(head, "model");
    assert_eq!(model.tag_name().namespace(), Some(XFORMS));
    let data = child(child(model, "instance"), "data");
    let binds = children(model)
        .filter(|n| n.has_tag_name("bind"))
        .map(|b| (b.attribute("nodeset").expect("bind nodeset").to_owned(), b))
        .collect();
    let translations = children(child(model, "itext"))
        .map(|t| {
            let texts = children(t)
                .map(|text| {
                    (
                        text.attribute("id").unwrap().to_owned(),
                        child(text, "value"),
                    )
                })
                .collect();
            let default = t.attribute("default") == Some("true()");
            (t.attribute("lang").unwrap().to_owned(), default, texts)
        })
        .collect();
    Form {
        data,
        binds,
        translations,
        body: child(html, "body"),
    }
}

fn answering(flow: &CompiledFlow) -> Vec<&sauti::flow::Step> {
    flow.steps
        .iter()
        .filter(|s| !matches!(s.question, Question::Info | Question::End))
        .collect()
}

const SAUTI_FIELDS: [&str; 7] = [
    "language",
    "channel",
    "gateway",
    "flow_version",
    "status",
    "respondent",
    "network",
];

#[test]
fn each_shipped_flow_exports_an_xform_declaring_every_answer_and_the_metadata() {
    for flow in shipped_flows() {
        let xml = sauti::xform::xform(&flow);
        let doc = parse(&xml, &format!("the XForm of {}", flow.id));
        let form = parts_of_form(&doc);
        assert_eq!(form.data.attribute("id"), Some(flow.id.as_str()));
        assert_eq!(
            form.data.attribute("version"),
            Some(flow.version.to_string().as_str())
        );

        // start, end, one element per answering step in flow order, the sauti group, meta.
        let mut expected = vec!["start".to_owned(), "end".to_owned()];
        expected.extend(answering(&flow).iter().map(|s| s.id.clone()));
        expected.extend(["sauti".to_owned(), "meta".to_owned()]);
        assert_eq!(names(form.data), expected, "{}", flow.id);
        assert_eq!(names(child(form.data, "sauti")), SAUTI_FIELDS);
        assert_eq!(
            names(child(form.data, "meta")),
            ["instanceID", "instanceName"]
        );

        // ODK's metadata conventions, as pyxform binds them.
        for (field, when) in [("start", "start"), ("end", "end")] {
            let bind = form.binds[&format!("/data/{field}")];
            assert_eq!(bind.attribute("type"), Some("dateTime"));
            assert_eq!(bind.attribute((JR, "preload")), Some("timestamp"));
            assert_eq!(bind.attribute((JR, "preloadParams")), Some(when));
        }
        let id = form.binds["/data/meta/instanceID"];
        assert_eq!(id.attribute((JR, "preload")), Some("uid"));
        assert!(form.binds.contains_key("/data/meta/instanceName"));
        for field in SAUTI_FIELDS {
            assert!(
                form.binds.contains_key(&format!("/data/sauti/{field}")),
                "{field}"
            );
        }
        // The status is a choice of complete, partial and declined.
        let status = form
            .body
            .descendants()
            .find(|n| n.attribute("ref") == Some("/data/sauti/status"))
            .expect("a status control");
        assert_eq!(status.tag_name().name(), "select1");
        let values: Vec<String> = status
            .descendants()
            .filter(|n| n.has_tag_name("value"))
            .map(text_of)
            .collect();
        assert_eq!(values, ["complete", "partial", "declined"]);

        for step in answering(&flow) {
            let path = format!("/data/{}", step.id);
            let bind = form
                .binds
                .get(&path)
                .unwrap_or_else(|| panic!("no bind for {path}"));
            let kind = match &step.question {
                Question::Choice(_) | Question::Multi(_) | Question::Text(_) => "string",
                Question::Number(n) if n.decimal => "decimal",
                Question::Number(_) => "int",
                Question::Date(_) => "date",
                Question::Info | Question::End => unreachable!(),
            };
            assert_eq!(bind.attribute("type"), Some(kind), "{path}");
            let control = form
                .body
                .descendants()
                .find(|n| n.attribute("ref") == Some(path.as_str()))
                .unwrap_or_else(|| panic!("no control for {path}"));
            let expected = match &step.question {
                Question::Choice(_) => "select1",
                Question::Multi(_) => "select",
                _ => "input",
            };
            assert_eq!(control.tag_name().name(), expected, "{path}");
            if let Some(options) = step.question.options() {
                let values: Vec<String> = children(control)
                    .filter(|n| n.has_tag_name("item"))
                    .map(|item| text_of(child(item, "value")))
                    .collect();
                assert_eq!(&values, &options.codes, "{path}");
            }
        }
    }
}

#[test]
fn the_xform_has_a_translation_per_language_with_odk_names_and_the_flows_own_texts() {
    for flow in shipped_flows() {
        let xml = sauti::xform::xform(&flow);
        let doc = parse(&xml, &flow.id);
        let form = parts_of_form(&doc);
        let langs: Vec<(&str, bool)> = form
            .translations
            .iter()
            .map(|(l, d, _)| (l.as_str(), *d))
            .collect();
        assert_eq!(
            langs,
            [
                ("French (fr)", true),
                ("Swahili (sw)", false),
                ("Lingala (ln)", false)
            ]
        );
        // Every itext reference of the form resolves in every language, to a text.
        let refs: Vec<String> = doc
            .descendants()
            .flat_map(|n| {
                n.attributes()
                    .map(|a| a.value().to_owned())
                    .collect::<Vec<_>>()
            })
            .filter_map(|v| {
                v.strip_prefix("jr:itext('")
                    .and_then(|r| r.strip_suffix("')"))
                    .map(str::to_owned)
            })
            .collect();
        assert!(refs.len() > 20, "{}: {} references", flow.id, refs.len());
        for (lang, _, texts) in &form.translations {
            for id in &refs {
                let value = texts
                    .get(id)
                    .unwrap_or_else(|| panic!("{lang}: no text {id}"));
                assert!(!text_of(*value).trim().is_empty(), "{lang}: {id} is empty");
            }
        }
        // The labels are the flow's own, per language.
        for (l, locale) in flow.locales.iter().enumerate() {
            let texts = &form.translations[l].2;
            for (i, step) in flow.steps.iter().enumerate() {
                let Some(options) = step.question.options() else {
                    continue;
                };
                for (o, code) in options.codes.iter().enumerate() {
                    let id = format!("/data/{}/{code}:label", step.id);
                    assert_eq!(text_of(texts[&id]), locale.steps[i].labels[o].text, "{id}");
                }
            }
        }
    }
}

#[test]
fn the_xform_skips_what_sauti_skips_and_checks_what_sauti_checks() {
    let kufatilia = flow("kufatilia");
    let xml = sauti::xform::xform(&kufatilia);
    let doc = parse(&xml, "kufatilia");
    let form = parts_of_form(&doc);
    let attr = |path: &str, name: &str| form.binds[path].attribute(name).map(str::to_owned);

    // Declining consent ends the survey: every later question is relevant only without it.
    assert_eq!(attr("/data/consent", "relevant"), None);
    assert_eq!(attr("/data/consent", "required").as_deref(), Some("true()"));
    let declined = "not(/data/consent = 'no')";
    assert_eq!(
        attr("/data/incident", "relevant").as_deref(),
        Some(declined)
    );
    // `when = "incident == 'other'"`, on top of the consent.
    assert_eq!(
        attr("/data/incident_other", "relevant").as_deref(),
        Some("(not(/data/consent = 'no')) and (/data/incident = 'other')")
    );
    assert!(
        attr("/data/date", "relevant")
            .unwrap()
            .ends_with("(/data/when = 'earlier')")
    );
    // Required unless `required = false`; relevance decides when it applies.
    for id in ["incident", "incident_other", "date", "people"] {
        assert_eq!(
            attr(&format!("/data/{id}"), "required").as_deref(),
            Some("true()"),
            "{id}"
        );
    }
    assert_eq!(attr("/data/site", "required"), None);

    // Limits, with the engine's explanation in each language.
    assert_eq!(
        attr("/data/people", "constraint").as_deref(),
        Some(". >= 0 and . <= 9999")
    );
    assert_eq!(
        attr("/data/territory", "constraint").as_deref(),
        Some("string-length(.) <= 40")
    );
    assert_eq!(
        attr("/data/date", "constraint").as_deref(),
        Some(". >= date('2000-01-01') and . <= today()")
    );
    let message = form.binds["/data/people"]
        .attribute((JR, "constraintMsg"))
        .unwrap();
    assert_eq!(message, "jr:itext('/data/people:jr:constraintMsg')");
    let people: Vec<String> = form
        .translations
        .iter()
        .map(|(_, _, texts)| text_of(texts["/data/people:jr:constraintMsg"]))
        .collect();
    assert_eq!(people[0], "Tapez un nombre de 0 à 9999.");
    assert!(people.iter().all(|m| m.contains("9999")), "{people:?}");
    assert_ne!(people[0], people[1], "French and Swahili differ");
    // A bound of `today` is shown as the form's date of the day.
    let date = form.translations[0].2["/data/date:jr:constraintMsg"];
    let output = child(date, "output");
    assert_eq!(output.attribute("value"), Some("date(today())"));
    assert!(text_of(date).starts_with("Date entre le 2000-01-01 et le "));

    // connectivity: `goto = { no = "coverage" }` skips phone_type; a multi's `when`.
    let connectivity = flow("connectivity");
    let xml = sauti::xform::xform(&connectivity);
    let doc = parse(&xml, "connectivity");
    let form = parts_of_form(&doc);
    let relevant = |path: &str| form.binds[path].attribute("relevant").unwrap().to_owned();
    assert!(relevant("/data/phone_type").contains("not(/data/owns_phone = 'no')"));
    assert!(relevant("/data/coverage").contains("(/data/owns_phone = 'no') or"));
    assert!(relevant("/data/internet_where").ends_with("(selected(/data/services, 'internet'))"));
}

#[test]
fn prompts_echoing_answers_show_them_with_output() {
    let xml = sauti::xform::xform(&flow("kufatilia"));
    let doc = parse(&xml, "kufatilia");
    let form = parts_of_form(&doc);
    for (lang, _, texts) in &form.translations {
        let people = texts["/data/people:label"];
        let output = child(people, "output");
        assert_eq!(
            output.attribute("value"),
            Some("jr:choice-name(/data/incident, '/data/incident')"),
            "{lang}"
        );
        assert!(!text_of(people).contains('{'), "{lang}");
        assert!(!text_of(people).trim().is_empty(), "{lang}");
    }
}

// ---------------------------------------------------------------------------------------------
// (b) The submission.

fn sample_response() -> Response {
    serde_json::from_value(json!({
        "schema": sauti::response::SCHEMA_VERSION,
        "id": "019ab0c4-5e6f-7a12-8b34-56789abcdef0",
        "flow": "kufatilia",
        "flow_version": 1,
        "status": "complete",
        "channel": "ussd",
        "gateway": "africastalking",
        "language": "fr",
        "respondent": "ab".repeat(32),
        "network": "63001",
        "started_at": "2026-11-23T09:20:19.5Z",
        "completed_at": "2026-11-23T09:21:07Z",
        "answers": {
            "consent": { "value": "yes", "label": "Oui" },
            "incident": { "value": "other", "label": "Autre" },
            "incident_other": { "value": "Taxe <illégale> & \"barrière\" d'Idjwi" },
            "when": { "value": "earlier", "label": "Avant" },
            "date": { "value": "2026-03-14" },
            "services": { "value": ["calls", "sms", "internet"], "labels": ["Appels", "SMS", "Internet"] },
            "site": { "value": null, "skipped": true },
            "people": { "value": 12 },
            "weight": { "value": 2.5 }
        }
    }))
    .unwrap()
}

const SAMPLE_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<data xmlns:orx="http://openrosa.org/xforms" id="kufatilia" version="1">
  <start>2026-11-23T09:20:19.5Z</start>
  <end>2026-11-23T09:21:07Z</end>
  <consent>yes</consent>
  <incident>other</incident>
  <incident_other>Taxe &lt;illégale&gt; &amp; "barrière" d'Idjwi</incident_other>
  <when>earlier</when>
  <date>2026-03-14</date>
  <services>calls sms internet</services>
  <site/>
  <people>12</people>
  <weight>2.5</weight>
  <sauti>
    <language>fr</language>
    <channel>ussd</channel>
    <gateway>africastalking</gateway>
    <flow_version>1</flow_version>
    <status>complete</status>
    <respondent>abababababababababababababababababababababababababababababababab</respondent>
    <network>63001</network>
  </sauti>
  <meta>
    <instanceID>uuid:019ab0c4-5e6f-7a12-8b34-56789abcdef0</instanceID>
    <instanceName>kufatilia complete GQQS</instanceName>
  </meta>
</data>
"#;

#[test]
fn a_response_becomes_an_instance_shaped_like_the_fixtures() {
    let response = sample_response();
    let xml = submission_xml(&response);
    assert_eq!(xml, SAMPLE_XML);
    assert_eq!(
        submission_xml(&response),
        xml,
        "the same bytes on every resend"
    );

    for fixture in ["odk-central/instance.xml", "kobotoolbox/instance.xml"] {
        let theirs = std::fs::read_to_string(fixtures().join(fixture)).unwrap();
        let doc = parse(&theirs, fixture);
        let root = doc.root_element();
        assert_eq!(
            Some(root.tag_name().name()),
            root.attribute("id"),
            "{fixture}"
        );
        let meta = child(root, "meta");
        assert!(text_of(child(meta, "instanceID")).starts_with("uuid:"));
        assert_eq!(
            children(root).last().unwrap().tag_name().name(),
            "meta",
            "{fixture}"
        );
    }
    let doc = parse(&xml, "the submission");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "data");
    assert_eq!(
        (root.attribute("id"), root.attribute("version")),
        (Some("kufatilia"), Some("1"))
    );
    assert_eq!(children(root).last().unwrap().tag_name().name(), "meta");
    let receipt = receipt_of(&uuid::Uuid::parse_str(&response.id).unwrap());
    assert!(SAMPLE_XML.contains(&format!("kufatilia complete {receipt}<")));
}

/// A response of `flow` with `status`, as Sauti builds them: a complete survey, a partial one
/// found by the sweep (gateway unknown, `-`), a declined consent.
fn response_of(status: &str, answers: serde_json::Value) -> Response {
    let mut r = sample_response();
    r.status = status.into();
    r.answers = answers.as_object().unwrap().clone();
    if status == "partial" {
        r.gateway = "-".into();
        r.network = None;
        r.language = "sw".into();
        r.channel = "voice".into();
    }
    r
}

#[test]
fn complete_partial_and_declined_submissions_carry_every_metadata_field() {
    let kufatilia = flow("kufatilia");
    let form_xml = sauti::xform::xform(&kufatilia);
    let form_doc = parse(&form_xml, "the form");
    let declared = parts_of_form(&form_doc).data;
    let cases = [
        ("complete", sample_response().answers.clone().into()),
        (
            "partial",
            json!({ "consent": { "value": "yes" }, "incident": { "value": "fraud" } }),
        ),
        (
            "declined",
            json!({ "consent": { "value": "no", "label": "Non" } }),
        ),
    ];
    for (status, answers) in cases {
        let response = response_of(status, answers);
        let xml = submission_xml(&response);
        let doc = parse(&xml, status);
        let root = doc.root_element();
        assert_eq!(
            text_of(child(root, "start")),
            response.started_at,
            "{status}"
        );
        assert_eq!(
            text_of(child(root, "end")),
            response.completed_at,
            "{status}"
        );
        let sauti = child(root, "sauti");
        assert_eq!(names(sauti), SAUTI_FIELDS, "{status}");
        let field = |name: &str| text_of(child(sauti, name));
        assert_eq!(field("language"), response.language);
        assert_eq!(field("channel"), response.channel);
        assert_eq!(field("gateway"), response.gateway);
        assert_eq!(field("flow_version"), response.flow_version.to_string());
        assert_eq!(field("status"), status);
        assert_eq!(field("respondent"), response.respondent);
        assert_eq!(
            field("network"),
            response.network.clone().unwrap_or_default()
        );
        let meta = child(root, "meta");
        assert_eq!(
            text_of(child(meta, "instanceID")),
            format!("uuid:{}", response.id)
        );
        let receipt = receipt_of(&uuid::Uuid::parse_str(&response.id).unwrap());
        assert_eq!(
            text_of(child(meta, "instanceName")),
            format!("kufatilia {status} {receipt}"),
            "a partial or a decline is seen at a glance"
        );
        // Everything sent is declared in the form Central holds (the sample's extra
        // `services` and `weight` aside, which kufatilia does not have).
        for element in children(root) {
            let name = element.tag_name().name();
            if ["services", "weight"].contains(&name) {
                continue;
            }
            let declared_here = children(declared).find(|d| d.tag_name().name() == name);
            let declared_here =
                declared_here.unwrap_or_else(|| panic!("{name} is not in the form"));
            assert_eq!(names(element), names(declared_here), "{name}");
        }
    }
}

#[test]
fn hostile_answers_give_well_formed_xml_with_their_values_intact() {
    let hostile = [
        "<script>alert('x')</script>",
        "a & b && c &amp; &#0; &bogus;",
        "\"double\" and 'single' quotes",
        "*384*1# ** ]]> <![CDATA[ x ]]>",
        "Kinshasa, Bukavu: éèàç ɛɔ Ñ",
        "emoji 🙂👷🏾‍♀️ and \u{10FFFF}",
        "line one\r\nline two\rthree\n\ttabbed  spaced ",
        "controls \u{0}\u{1}\u{8}\u{B}\u{C}\u{1F}\u{FFFE}\u{FFFF} end",
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e \"boom\">]>&e;",
    ];
    let mut answers = serde_json::Map::new();
    for (k, value) in hostile.iter().enumerate() {
        answers.insert(format!("q{k}"), json!({ "value": value }));
    }
    answers.insert("list".into(), json!({ "value": ["a&b", "<c>"] }));
    let mut response = sample_response();
    response.answers = answers;
    response.flow = "flow <&> \"x\"".into();
    response.respondent = "pseudonym'\"<&>".into();
    let xml = submission_xml(&response);
    let doc = parse(&xml, "a submission of hostile answers");
    let root = doc.root_element();
    assert_eq!(root.attribute("id"), Some("flow <&> \"x\""));
    for (k, value) in hostile.iter().enumerate() {
        // XML 1.0 cannot carry control characters at all; everything else arrives as typed.
        let carried: String = value
            .chars()
            .filter(|c| !matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}'))
            .collect();
        assert_eq!(text_of(child(root, &format!("q{k}"))), carried, "q{k}");
    }
    assert_eq!(text_of(child(root, "list")), "a&b <c>");
    assert_eq!(
        text_of(child(child(root, "sauti"), "respondent")),
        "pseudonym'\"<&>"
    );
}

// ---------------------------------------------------------------------------------------------
// (c) The sink against a collector on loopback.

/// A fixture reply: its status and body (`*.response.http`, CRLF or LF head).
fn fixture_reply(path: &str) -> (u16, String) {
    let raw = std::fs::read_to_string(fixtures().join(path)).unwrap();
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .or_else(|| raw.split_once("\n\n"))
        .expect("a head and a body");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// What the collector received.
#[derive(Debug)]
struct Received {
    request_line: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The parts of a multipart body: (part headers, content).
    fn parts(&self) -> Vec<(String, Vec<u8>)> {
        let ct = self.header("content-type").expect("content-type");
        let boundary = ct
            .split("boundary=")
            .nth(1)
            .expect("a boundary")
            .trim_matches('"');
        let delimiter = format!("--{boundary}");
        let body = String::from_utf8(self.body.clone()).expect("utf-8 body");
        assert!(
            body.trim_end().ends_with(&format!("{delimiter}--")),
            "closing delimiter"
        );
        body.split(&delimiter)
            .skip(1)
            .filter(|p| !p.starts_with("--"))
            .map(|p| {
                let p = p.strip_prefix("\r\n").expect("CRLF after the delimiter");
                let (head, content) = p.split_once("\r\n\r\n").expect("part head");
                let content = content
                    .strip_suffix("\r\n")
                    .expect("CRLF before the delimiter");
                (head.to_owned(), content.as_bytes().to_vec())
            })
            .collect()
    }
}

fn read_request(stream: &mut TcpStream) -> Received {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).expect("read request");
        assert!(n > 0, "connection closed before the head ended");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap().to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = buf[head_end + 4..].to_vec();
    if let Some(len) = headers.get("content-length") {
        let len: usize = len.parse().unwrap();
        while body.len() < len {
            let n = stream.read(&mut chunk).expect("read body");
            assert!(n > 0, "connection closed inside the body");
            body.extend_from_slice(&chunk[..n]);
        }
        body.truncate(len);
    } else if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        // De-chunk (reqwest sends a length for multipart bodies it can measure, but be safe).
        loop {
            if body.windows(5).any(|w| w == b"0\r\n\r\n") {
                break;
            }
            let n = stream.read(&mut chunk).expect("read chunks");
            assert!(n > 0);
            body.extend_from_slice(&chunk[..n]);
        }
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16)
                .unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = &rest[eol + 2 + size + 2..];
        }
        body = out;
    }
    Received {
        request_line,
        headers,
        body,
    }
}

/// A collector that answers one request with `status`, `headers` and `body`.
fn collector(
    status: u16,
    headers: &[(&str, &str)],
    body: &str,
) -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/v1/key/Q0t7!vW2$x/projects/7/submission",
        listener.local_addr().unwrap()
    );
    let mut reply = format!(
        "HTTP/1.1 {status} Whatever\r\nContent-Type: text/xml; charset=utf-8\r\nX-OpenRosa-Version: 1.0\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        reply.push_str(&format!("{k}: {v}\r\n"));
    }
    reply.push_str("\r\n");
    reply.push_str(body);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let received = read_request(&mut stream);
        stream.write_all(reply.as_bytes()).unwrap();
        stream.flush().unwrap();
        let _ = tx.send(received);
    });
    (url, rx)
}

fn config(url: &str) -> SinkConfig {
    SinkConfig::new(SinkKind::Openrosa {
        url: url.to_owned(),
        username: Some("sauti@example.org".into()),
        password: Some("pa:ss wörd".into()),
        password_env: None,
        token: None,
        token_env: None,
        token_scheme: "Bearer".into(),
    })
}

fn token_config(url: &str, scheme: &str) -> SinkConfig {
    SinkConfig::new(SinkKind::Openrosa {
        url: url.to_owned(),
        username: None,
        password: None,
        password_env: None,
        token: Some("lSpAIeks!Ru1$CNZs7".into()),
        token_env: None,
        token_scheme: scheme.into(),
    })
}

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Delivers the sample response to a collector answering `status`/`body`.
async fn exchange(status: u16, headers: &[(&str, &str)], body: &str) -> (Delivery, Received) {
    install_crypto();
    let (url, rx) = collector(status, headers, body);
    let sink = OpenRosaSink::new(&config(&url)).unwrap();
    // As a delivery worker hands it over: the head it scheduled, the bytes as queued.
    let queued = serde_json::to_vec(&sample_response()).unwrap();
    let head: ResponseHead = serde_json::from_slice(&queued).unwrap();
    let delivery = sink.deliver(&head, &queued).await;
    let received = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the collector got a request");
    (delivery, received)
}

/// The worker forwards the queued bytes unparsed: a body that is not a response is refused
/// for good by the sink that has to read it, and nothing is sent.
#[tokio::test]
async fn a_queued_body_that_is_not_a_response_is_refused_not_sent() {
    install_crypto();
    let (url, rx) = collector(201, &[], "");
    let sink = OpenRosaSink::new(&config(&url)).unwrap();
    let head = ResponseHead {
        id: "r-1".into(),
        flow: "kufatilia".into(),
        completed_at: "2026-12-08T00:00:00Z".into(),
    };
    assert_permanent(
        &sink
            .deliver(&head, br#"{"id":"r-1","flow":"kufatilia"}"#)
            .await,
        "cannot be read",
    );
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "something was sent"
    );
}

fn assert_retry(d: &Delivery, after: Option<Duration>, contains: &str) {
    match d {
        Delivery::Retry { after: a, error } => {
            assert_eq!(*a, after, "{error}");
            assert!(error.contains(contains), "{error}");
        }
        other => panic!("expected a retry, got {other:?}"),
    }
}

fn assert_permanent(d: &Delivery, contains: &str) {
    match d {
        Delivery::Permanent { error } => assert!(error.contains(contains), "{error}"),
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_submission_is_an_openrosa_multipart_post() {
    let (status, body) = fixture_reply("odk-central/01-openrosa-submit.response.http");
    let (delivery, got) = exchange(status, &[], &body).await;
    assert_eq!(delivery, Delivery::Delivered);

    assert!(
        got.request_line
            .starts_with("POST /v1/key/Q0t7!vW2$x/projects/7/submission "),
        "{}",
        got.request_line
    );
    assert_eq!(got.header("x-openrosa-version"), Some("1.0"));
    assert_eq!(
        got.header("authorization"),
        Some("Basic c2F1dGlAZXhhbXBsZS5vcmc6cGE6c3Mgd8O2cmQ="),
        "base64 of `sauti@example.org:pa:ss wörd`"
    );
    assert!(
        got.header("content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );
    let parts = got.parts();
    assert_eq!(parts.len(), 1);
    let (head, content) = &parts[0];
    // The same part head as the fixture request.
    let fixture =
        std::fs::read_to_string(fixtures().join("odk-central/01-openrosa-submit.request.http"))
            .unwrap();
    let disposition = fixture
        .lines()
        .find(|l| l.starts_with("Content-Disposition"))
        .unwrap()
        .trim_end();
    assert_eq!(
        disposition,
        "Content-Disposition: form-data; name=\"xml_submission_file\"; filename=\"submission.xml\""
    );
    assert!(head.lines().any(|l| l == disposition), "{head}");
    assert!(
        head.lines()
            .any(|l| l.eq_ignore_ascii_case("content-type: text/xml")),
        "{head}"
    );
    assert_eq!(String::from_utf8(content.clone()).unwrap(), SAMPLE_XML);
}

#[tokio::test]
async fn tokens_are_sent_with_their_scheme() {
    install_crypto();
    for (scheme, reply) in [
        (
            "Bearer",
            "odk-central/observed-v2026.2.2/06-submit-key.response.http",
        ),
        ("Token", "kobotoolbox/01-submit.response.http"),
    ] {
        let (status, body) = fixture_reply(reply);
        let (url, rx) = collector(status, &[], &body);
        let sink = OpenRosaSink::new(&token_config(&url, scheme)).unwrap();
        assert_eq!(
            sink.deliver_response(&sample_response()).await,
            Delivery::Delivered
        );
        let got = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(
            got.header("authorization"),
            Some(format!("{scheme} lSpAIeks!Ru1$CNZs7").as_str())
        );
        assert_eq!(got.header("x-openrosa-version"), Some("1.0"));
    }
}

#[tokio::test]
async fn duplicates_count_as_delivered() {
    for reply in [
        // Central: an identical resend is answered 201 again.
        "odk-central/02-openrosa-resubmit-identical.response.http",
        "odk-central/observed-v2026.2.2/11-dup-identical.response.http",
        "odk-central/observed-v2026.2.2/23-concurrent-2.response.http",
        // KoBo: 201, and 202 "Duplicate submission" for identical content.
        "kobotoolbox/01-submit.response.http",
        "kobotoolbox/02-duplicate.response.http",
    ] {
        let (status, body) = fixture_reply(reply);
        assert!(status == 201 || status == 202, "{reply}");
        let (delivery, _) = exchange(status, &[], &body).await;
        assert_eq!(delivery, Delivery::Delivered, "{reply}");
    }
    // KoBo's duplicate wording under a 409 (as some deployments answer) is a duplicate too.
    let (_, kobo_dup) = fixture_reply("kobotoolbox/02-duplicate.response.http");
    let (delivery, _) = exchange(409, &[], &kobo_dup).await;
    assert_eq!(delivery, Delivery::Delivered);
}

/// Central's answer to concurrent sends of one new submission (protocol notes §5.1a): the
/// text of `duplicateSubmission` (409.18) in Central's OpenRosa envelope.
const CENTRAL_DELETED_409: &str = "\n  <OpenRosaResponse xmlns=\"http://openrosa.org/http/response\" items=\"0\">\n    <message nature=\"error\">This submission has been deleted. You may not resubmit it.</message>\n  </OpenRosaResponse>";

#[tokio::test]
async fn centrals_deleted_409_under_concurrent_sends_is_retried() {
    let (delivery, _) = exchange(409, &[], CENTRAL_DELETED_409).await;
    assert_retry(
        &delivery,
        None,
        "HTTP 409: This submission has been deleted. You may not resubmit it.",
    );
    let (delivery, _) = exchange(409, &[("Retry-After", "3")], CENTRAL_DELETED_409).await;
    assert_retry(&delivery, Some(Duration::from_secs(3)), "deleted");
}

#[tokio::test]
async fn the_same_id_with_different_content_is_permanent() {
    for (reply, text) in [
        (
            "odk-central/03-openrosa-conflict.response.http",
            "HTTP 409: A submission already exists with this ID, but with different XML.",
        ),
        (
            "odk-central/observed-v2026.2.2/12-dup-changed.response.http",
            "but with different XML",
        ),
        (
            "kobotoolbox/03-conflict.response.http",
            "HTTP 409: Submission with this instance ID already exists",
        ),
    ] {
        let (status, body) = fixture_reply(reply);
        assert_eq!(status, 409);
        let (delivery, _) = exchange(status, &[], &body).await;
        assert_permanent(&delivery, text);
    }
}

#[tokio::test]
async fn busy_or_failing_collectors_are_retried_when_they_say() {
    let (delivery, _) = exchange(500, &[("Retry-After", "7")], "<html>oops</html>").await;
    assert_retry(
        &delivery,
        Some(Duration::from_secs(7)),
        "HTTP 500: <html>oops</html>",
    );

    let (status, body) = fixture_reply("kobotoolbox/04-locked.response.http");
    assert_eq!(status, 423);
    let (delivery, _) = exchange(status, &[], &body).await;
    assert_retry(
        &delivery,
        None,
        "is currently being processed. Try again later.",
    );

    for status in [408, 429, 502, 503] {
        let (delivery, _) = exchange(status, &[("Retry-After", "1")], "").await;
        assert_retry(
            &delivery,
            Some(Duration::from_secs(1)),
            &format!("HTTP {status}"),
        );
    }
}

#[tokio::test]
async fn refusals_are_permanent_with_a_short_error() {
    for (reply, text) in [
        (
            "odk-central/observed-v2026.2.2/20-wrong-part.response.http",
            "HTTP 400: Required multipart POST field xml_submission_file missing.",
        ),
        (
            "odk-central/observed-v2026.2.2/14-malformed-notxml.response.http",
            "HTTP 400: Required parameter form ID xml attribute missing.",
        ),
        (
            "odk-central/observed-v2026.2.2/19-no-version-header.response.http",
            "X-OpenRosa-Version",
        ),
        (
            "odk-central/observed-v2026.2.2/18-unknown-version.response.http",
            "HTTP 404: The form version specified in this submission '99' does not exist.",
        ),
        (
            "kobotoolbox/05-missing-instanceid.response.http",
            "HTTP 400: Instance ID is required",
        ),
    ] {
        let (status, body) = fixture_reply(reply);
        let (delivery, _) = exchange(status, &[], &body).await;
        assert_permanent(&delivery, text);
    }
    let long = "x".repeat(1000);
    let (delivery, _) = exchange(400, &[], &long).await;
    let Delivery::Permanent { error } = delivery else {
        panic!()
    };
    assert_eq!(error, format!("HTTP 400: {}", "x".repeat(200)));

    let (delivery, _) = exchange(401, &[], "").await;
    assert_permanent(&delivery, "HTTP 401");

    // A redirected POST would come back as a GET: reported, not followed.
    let (delivery, _) = exchange(
        302,
        &[(
            "Location",
            "https://central.example.org/v1/projects/7/submission",
        )],
        "",
    )
    .await;
    assert_permanent(
        &delivery,
        "redirected to https://central.example.org/v1/projects/7/submission",
    );
}

#[tokio::test]
async fn a_collector_that_never_answers_is_retried_after_the_timeout() {
    install_crypto();
    // Listening, so the connection and the request go through, but nobody ever answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/submission", listener.local_addr().unwrap());
    let mut cfg = config(&url);
    cfg.timeout_ms = 300;
    let sink = OpenRosaSink::new(&cfg).unwrap();
    let started = Instant::now();
    let delivery = sink.deliver_response(&sample_response()).await;
    let took = started.elapsed();
    assert_retry(&delivery, None, "timed out");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
    drop(listener);
}

#[tokio::test]
async fn an_unreachable_collector_is_retried() {
    install_crypto();
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sink = OpenRosaSink::new(&config(&format!("http://127.0.0.1:{port}/submission"))).unwrap();
    match sink.deliver_response(&sample_response()).await {
        Delivery::Retry { after: None, error } => assert!(!error.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sink_configuration_is_checked() {
    install_crypto();
    let kind = |username: Option<&str>, password: Option<&str>, token: Option<&str>, url: &str| {
        SinkConfig::new(SinkKind::Openrosa {
            url: url.into(),
            username: username.map(Into::into),
            password: password.map(Into::into),
            password_env: None,
            token: token.map(Into::into),
            token_env: None,
            token_scheme: "Bearer".into(),
        })
    };
    let url = "https://central.example.org/v1/projects/7/submission";
    assert!(
        OpenRosaSink::new(&kind(None, None, None, url)).is_ok(),
        "no credentials (a /v1/key/ url)"
    );
    assert!(OpenRosaSink::new(&kind(Some("u"), Some("p"), None, url)).is_ok());
    assert!(OpenRosaSink::new(&kind(None, None, Some("t"), url)).is_ok());
    assert!(OpenRosaSink::new(&kind(Some("u"), Some("p"), Some("t"), url)).is_err());
    assert!(OpenRosaSink::new(&kind(None, Some("p"), None, url)).is_err());
    assert!(OpenRosaSink::new(&kind(None, None, None, "ftp://x/submission")).is_err());
    assert!(OpenRosaSink::new(&kind(None, None, None, "not a url")).is_err());
    assert!(OpenRosaSink::new(&kind(None, None, Some("bad\ntoken"), url)).is_err());
    let from_env = SinkConfig::new(SinkKind::Openrosa {
        url: url.into(),
        username: None,
        password: None,
        password_env: None,
        token: None,
        token_env: Some("SAUTI_TEST_OPENROSA_TOKEN_THAT_IS_NOT_SET".into()),
        token_scheme: "Token".into(),
    });
    let err = OpenRosaSink::new(&from_env)
        .err()
        .expect("an unset variable is an error");
    assert!(
        err.contains("SAUTI_TEST_OPENROSA_TOKEN_THAT_IS_NOT_SET"),
        "{err}"
    );
    let webhook = SinkConfig::new(SinkKind::File { path: "x".into() });
    assert!(OpenRosaSink::new(&webhook).is_err());
}

// ---------------------------------------------------------------------------------------------
// (d) KoBoToolbox: a collector on loopback that answers as KoBo's OpenRosa endpoint does
// (protocol notes §5.3): `Token` or Basic auth, 201 for a new instance, 202 "Duplicate
// submission" for the same instanceID with identical XML, 409 for different XML, 423 while an
// instance is being processed, 400 without an instanceID.

/// What the KoBo stand-in knows: its credentials, and the instances it stored.
struct Kobo {
    url: String,
    /// Submissions stored, by instanceID, with their XML.
    stored: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    /// Instance IDs it reports as being processed (423).
    processing: Arc<Mutex<Vec<String>>>,
    requests: mpsc::Receiver<Received>,
}

const KOBO_TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";
const KOBO_USER: &str = "sauti_drc";
const KOBO_PASSWORD: &str = "kobo pass:wörd";

fn kobo_reply(fixture: &str) -> String {
    let raw = std::fs::read_to_string(fixtures().join("kobotoolbox").join(fixture)).unwrap();
    let (status, body) = fixture_reply(&format!("kobotoolbox/{fixture}"));
    let reason = raw
        .lines()
        .next()
        .unwrap()
        .splitn(3, ' ')
        .nth(2)
        .unwrap()
        .trim()
        .to_owned();
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/xml; charset=utf-8\r\nX-OpenRosa-Version: 1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// KoBo's answer to one request.
fn kobo_answer(
    got: &Received,
    stored: &Mutex<HashMap<String, Vec<u8>>>,
    processing: &Mutex<Vec<String>>,
) -> String {
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{KOBO_USER}:{KOBO_PASSWORD}")
        )
    );
    let authorised = got
        .header("authorization")
        .is_some_and(|a| a == format!("Token {KOBO_TOKEN}") || a == basic);
    if !authorised {
        let body = "<OpenRosaResponse xmlns=\"http://openrosa.org/http/response\"><message>Authentication credentials were not provided.</message></OpenRosaResponse>";
        return format!(
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"api\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
    let path = got
        .request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default();
    assert!(
        path == "/submission" || path == format!("/{KOBO_USER}/submission"),
        "{path}"
    );
    let parts = got.parts();
    let (_, xml) = parts
        .iter()
        .find(|(head, _)| head.contains("name=\"xml_submission_file\""))
        .expect("an xml_submission_file part");
    let text = String::from_utf8(xml.clone()).unwrap();
    let instance_id = Document::parse(&text).ok().and_then(|doc| {
        doc.descendants()
            .find(|n| n.has_tag_name("instanceID"))
            .map(text_of)
            .filter(|id| !id.is_empty())
    });
    let Some(instance_id) = instance_id else {
        return kobo_reply("05-missing-instanceid.response.http");
    };
    if processing.lock().unwrap().contains(&instance_id) {
        return kobo_reply("04-locked.response.http");
    }
    let mut stored = stored.lock().unwrap();
    match stored.get(&instance_id) {
        None => {
            stored.insert(instance_id, xml.clone());
            kobo_reply("01-submit.response.http")
        }
        Some(earlier) if earlier == xml => kobo_reply("02-duplicate.response.http"),
        Some(_) => kobo_reply("03-conflict.response.http"),
    }
}

/// Starts the KoBo stand-in; `path` is `/submission` or `/<user>/submission`.
fn kobo(path: &str) -> Kobo {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    let stored = Arc::new(Mutex::new(HashMap::new()));
    let processing = Arc::new(Mutex::new(Vec::new()));
    let (tx, requests) = mpsc::channel();
    let (s, p) = (stored.clone(), processing.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let got = read_request(&mut stream);
            let answer = kobo_answer(&got, &s, &p);
            stream.write_all(answer.as_bytes()).unwrap();
            stream.flush().unwrap();
            if tx.send(got).is_err() {
                return;
            }
        }
    });
    Kobo {
        url,
        stored,
        processing,
        requests,
    }
}

fn kobo_token(url: &str, token: &str) -> SinkConfig {
    SinkConfig::new(SinkKind::Openrosa {
        url: url.to_owned(),
        username: None,
        password: None,
        password_env: None,
        token: Some(token.into()),
        token_env: None,
        token_scheme: "Token".into(),
    })
}

fn kobo_basic(url: &str, password: &str) -> SinkConfig {
    SinkConfig::new(SinkKind::Openrosa {
        url: url.to_owned(),
        username: Some(KOBO_USER.into()),
        password: Some(password.into()),
        password_env: None,
        token: None,
        token_env: None,
        token_scheme: "Bearer".into(),
    })
}

#[tokio::test]
async fn kobo_accepts_a_submission_with_its_token() {
    install_crypto();
    let kobo = kobo("/submission");
    let sink = OpenRosaSink::new(&kobo_token(&kobo.url, KOBO_TOKEN)).unwrap();
    assert_eq!(
        sink.deliver_response(&sample_response()).await,
        Delivery::Delivered
    );
    let got = kobo.requests.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(
        got.header("authorization"),
        Some(format!("Token {KOBO_TOKEN}").as_str())
    );
    assert_eq!(got.header("x-openrosa-version"), Some("1.0"));
    let stored = kobo.stored.lock().unwrap();
    let xml = &stored["uuid:019ab0c4-5e6f-7a12-8b34-56789abcdef0"];
    assert_eq!(String::from_utf8(xml.clone()).unwrap(), SAMPLE_XML);
}

#[tokio::test]
async fn kobo_accepts_a_submission_with_basic_auth_at_the_users_url() {
    install_crypto();
    let kobo = kobo(&format!("/{KOBO_USER}/submission"));
    let sink = OpenRosaSink::new(&kobo_basic(&kobo.url, KOBO_PASSWORD)).unwrap();
    assert_eq!(
        sink.deliver_response(&sample_response()).await,
        Delivery::Delivered
    );
    let got = kobo.requests.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(got.header("authorization").unwrap().starts_with("Basic "));
    assert_eq!(kobo.stored.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn kobo_refuses_wrong_credentials_for_good() {
    install_crypto();
    let kobo = kobo("/submission");
    for config in [
        kobo_token(&kobo.url, "not-the-token"),
        kobo_basic(&kobo.url, "wrong"),
    ] {
        let sink = OpenRosaSink::new(&config).unwrap();
        let delivery = sink.deliver_response(&sample_response()).await;
        assert_permanent(
            &delivery,
            "HTTP 401: Authentication credentials were not provided.",
        );
    }
    assert!(kobo.stored.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_resend_kobo_calls_a_duplicate_is_delivered_and_stored_once() {
    install_crypto();
    let kobo = kobo("/submission");
    let sink = OpenRosaSink::new(&kobo_token(&kobo.url, KOBO_TOKEN)).unwrap();
    let response = sample_response();
    // The first send was stored, but its reply was lost: the outbox sends it again.
    assert_eq!(sink.deliver_response(&response).await, Delivery::Delivered);
    assert_eq!(sink.deliver_response(&response).await, Delivery::Delivered);
    let first = kobo.requests.recv_timeout(Duration::from_secs(5)).unwrap();
    let second = kobo.requests.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(first.parts(), second.parts(), "the same bytes");
    assert_eq!(kobo.stored.lock().unwrap().len(), 1);

    // A partial and a declined survey are instances of their own.
    for status in ["partial", "declined"] {
        let mut other = response_of(status, json!({ "consent": { "value": "no" } }));
        other.id = format!("019ab0c4-5e6f-7a12-8b34-56789abcdef{}", status.len());
        assert_eq!(sink.deliver_response(&other).await, Delivery::Delivered);
    }
    assert_eq!(kobo.stored.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn kobo_conflicts_are_permanent_and_busy_instances_retried() {
    install_crypto();
    let kobo = kobo("/submission");
    let sink = OpenRosaSink::new(&kobo_token(&kobo.url, KOBO_TOKEN)).unwrap();
    let response = sample_response();
    assert_eq!(sink.deliver_response(&response).await, Delivery::Delivered);
    // Same instanceID, other content (a record edited by hand, then replayed).
    let mut changed = response.clone();
    changed.status = "partial".into();
    let delivery = sink.deliver_response(&changed).await;
    assert_permanent(
        &delivery,
        "HTTP 409: Submission with this instance ID already exists",
    );

    let mut busy = response.clone();
    busy.id = "019ab0c4-5e6f-7a12-8b34-000000000423".into();
    kobo.processing
        .lock()
        .unwrap()
        .push(format!("uuid:{}", busy.id));
    let delivery = sink.deliver_response(&busy).await;
    assert_retry(&delivery, None, "HTTP 423: Submission uuid:");
    kobo.processing.lock().unwrap().clear();
    assert_eq!(sink.deliver_response(&busy).await, Delivery::Delivered);
}
