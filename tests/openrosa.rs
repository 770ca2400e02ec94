//! OpenRosa delivery (ODK Central, KoBoToolbox): the XForm a flow exports, the instance a
//! response becomes, and the sink against a collector on loopback answering with the replies
//! recorded in `tests/fixtures/odk-central/` and `tests/fixtures/kobotoolbox/`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sauti::flow::CompiledFlow;
use sauti::question::Question;
use sauti::response::Response;
use sauti::sink::openrosa::{OpenRosaSink, submission_xml};
use sauti::sink::{Delivery, Sink, SinkConfig, SinkKind};
use serde_json::json;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

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

// ---------------------------------------------------------------------------------------------
// XML well-formedness, without an XML crate.

/// Checks that `&` starts a reference (`&name;`, `&#10;`, `&#xA;`) everywhere in `s`.
fn check_references(s: &str) -> Result<(), String> {
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        rest = &rest[i + 1..];
        let end = rest
            .find(';')
            .ok_or_else(|| format!("bare `&` before {rest:.20}"))?;
        let name = &rest[..end];
        let ok = match name.strip_prefix('#') {
            Some(n) => match n.strip_prefix('x') {
                Some(h) => !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()),
                None => !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()),
            },
            None => ["amp", "lt", "gt", "quot", "apos"].contains(&name),
        };
        if !ok {
            return Err(format!("bad reference `&{name};`"));
        }
    }
    Ok(())
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit() || c == '-' || c == '.'
}

/// Reads an XML name at the start of `s`; returns it and the rest.
fn name(s: &str) -> Result<(&str, &str), String> {
    if !s.starts_with(is_name_start) {
        return Err(format!("expected a name at {s:.30}"));
    }
    let end = s.find(|c: char| !is_name_char(c)).unwrap_or(s.len());
    Ok((&s[..end], &s[end..]))
}

/// A small well-formedness check: one root, balanced tags, quoted unique attributes, valid
/// references, no `<` in text or attribute values, declared namespace prefixes.
fn well_formed(xml: &str) -> Result<(), String> {
    let mut rest = xml;
    if let Some(after) = rest.strip_prefix("<?xml") {
        rest = &after[after.find("?>").ok_or("unterminated XML declaration")? + 2..];
    }
    let mut stack: Vec<(String, Vec<String>)> = Vec::new();
    let mut roots = 0;
    loop {
        let lt = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..lt];
        if stack.is_empty() && !text.trim().is_empty() {
            return Err(format!("text outside the root: {text:.30}"));
        }
        check_references(text)?;
        rest = &rest[lt..];
        if rest.is_empty() {
            break;
        }
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = &after[after.find("-->").ok_or("unterminated comment")? + 3..];
        } else if let Some(after) = rest.strip_prefix("<?") {
            rest = &after[after
                .find("?>")
                .ok_or("unterminated processing instruction")?
                + 2..];
        } else if let Some(after) = rest.strip_prefix("</") {
            let (tag, after) = name(after)?;
            let after = after.trim_start();
            rest = after
                .strip_prefix('>')
                .ok_or_else(|| format!("bad end tag </{tag}"))?;
            match stack.pop() {
                Some((open, _)) if open == tag => {}
                Some((open, _)) => return Err(format!("</{tag}> closes <{open}>")),
                None => return Err(format!("</{tag}> closes nothing")),
            }
        } else {
            let (tag, mut after) = name(&rest[1..])?;
            if stack.is_empty() {
                roots += 1;
                if roots > 1 {
                    return Err(format!("a second root <{tag}>"));
                }
            }
            let mut attrs: Vec<&str> = Vec::new();
            let mut prefixes: Vec<String> = Vec::new();
            let empty = loop {
                let trimmed = after.trim_start();
                if let Some(a) = trimmed.strip_prefix("/>") {
                    after = a;
                    break true;
                }
                if let Some(a) = trimmed.strip_prefix('>') {
                    after = a;
                    break false;
                }
                if trimmed.len() == after.len() {
                    return Err(format!("no space before an attribute of <{tag}>"));
                }
                let (attr, a) = name(trimmed)?;
                let a = a
                    .trim_start()
                    .strip_prefix('=')
                    .ok_or_else(|| format!("attribute {attr} has no `=`"))?;
                let a = a.trim_start();
                let quote = a.chars().next().filter(|q| *q == '"' || *q == '\'');
                let quote =
                    quote.ok_or_else(|| format!("attribute {attr} of <{tag}> is not quoted"))?;
                let a = &a[1..];
                let close = a
                    .find(quote)
                    .ok_or_else(|| format!("attribute {attr} is not closed"))?;
                let value = &a[..close];
                if value.contains('<') {
                    return Err(format!("`<` in attribute {attr}"));
                }
                check_references(value)?;
                if attrs.contains(&attr) {
                    return Err(format!("attribute {attr} twice on <{tag}>"));
                }
                attrs.push(attr);
                if let Some(p) = attr.strip_prefix("xmlns:") {
                    prefixes.push(p.to_owned());
                }
                after = &a[close + 1..];
            };
            let declared = |p: &str| {
                p == "xml"
                    || prefixes.iter().any(|d| d == p)
                    || stack.iter().any(|(_, ps)| ps.iter().any(|d| d == p))
            };
            for n in std::iter::once(&tag).chain(attrs.iter().filter(|a| !a.starts_with("xmlns"))) {
                if let Some((p, _)) = n.split_once(':')
                    && !declared(p)
                {
                    return Err(format!("prefix {p} of {n} is not declared"));
                }
            }
            if !empty {
                stack.push((tag.to_owned(), prefixes));
            }
            rest = after;
        }
    }
    if let Some((open, _)) = stack.pop() {
        return Err(format!("<{open}> is never closed"));
    }
    if roots != 1 {
        return Err("no root element".into());
    }
    Ok(())
}

/// The in-test checker, then Python's (namespace-aware) parser when python3 is installed.
fn assert_well_formed(xml: &str, what: &str) {
    if let Err(e) = well_formed(xml) {
        panic!("{what} is not well-formed: {e}\n{xml}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.xml");
    std::fs::write(&path, xml).unwrap();
    let script = "import sys, xml.dom.minidom, xml.etree.ElementTree as ET\n\
                  xml.dom.minidom.parse(sys.argv[1]); ET.parse(sys.argv[1])";
    match std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "{what}: python3 refuses it: {}\n{xml}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("python3 not available ({e}); in-test XML check only"),
    }
}

#[test]
fn the_well_formedness_checker_catches_broken_xml() {
    assert!(well_formed("<a x=\"1\"><b/>t &amp; u</a>").is_ok());
    for bad in [
        "<a><b></a></b>",
        "<a x=1/>",
        "<a>&</a>",
        "<a x=\"1\" x=\"2\"/>",
        "<a/><b/>",
        "<a>",
        "<p:a/>",
        "<a>x < y</a>",
    ] {
        assert!(well_formed(bad).is_err(), "{bad} passes");
    }
}

// ---------------------------------------------------------------------------------------------
// (a) The exported XForm.

/// The element names directly inside `<data …>` … `</data>` of an exported form.
fn instance_fields(form: &str) -> Vec<String> {
    let start = form.find("<data ").expect("instance root <data>");
    let body = &form[start..];
    let body = &body[body.find('>').unwrap() + 1..body.find("</data>").unwrap()];
    let mut fields = Vec::new();
    let mut depth = 0;
    for tag in body.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap();
        if let Some(_close) = tag.strip_prefix('/') {
            depth -= 1;
        } else if tag.ends_with('/') {
            if depth == 0 {
                fields.push(tag.trim_end_matches('/').trim().to_owned());
            }
        } else {
            if depth == 0 {
                fields.push(tag.trim().to_owned());
            }
            depth += 1;
        }
    }
    fields
}

#[test]
fn each_shipped_flow_exports_a_well_formed_xform_declaring_every_answer() {
    for flow in shipped_flows() {
        let form = sauti::xform::xform(&flow);
        assert_well_formed(&form, &format!("the XForm of {}", flow.id));

        assert!(form.contains("<h:html") && form.contains("<h:head>") && form.contains("<h:body>"));
        assert!(
            form.contains(&format!(
                "<data id=\"{}\" version=\"{}\">",
                flow.id, flow.version
            )),
            "{}: instance root",
            flow.id
        );
        assert!(form.contains("<meta>\n            <instanceID/>\n          </meta>"));
        assert!(form.contains("nodeset=\"/data/meta/instanceID\""));

        // One instance element per answering step, in flow order, then meta.
        let answering: Vec<&str> = flow
            .steps
            .iter()
            .filter(|s| !matches!(s.question, Question::Info | Question::End))
            .map(|s| s.id.as_str())
            .collect();
        let mut expected: Vec<String> = answering.iter().map(|s| s.to_string()).collect();
        expected.push("meta".into());
        assert_eq!(instance_fields(&form), expected, "{}", flow.id);
        for s in flow
            .steps
            .iter()
            .filter(|s| matches!(s.question, Question::Info | Question::End))
        {
            assert!(
                !form.contains(&format!("/data/{}\"", s.id)),
                "{}: {} is declared",
                flow.id,
                s.id
            );
        }

        // Translations: fr (the default), sw, ln.
        assert_eq!(flow.languages, ["fr", "sw", "ln"]);
        assert!(form.contains("<translation lang=\"fr\" default=\"true()\">"));
        assert!(form.contains("<translation lang=\"sw\">"));
        assert!(form.contains("<translation lang=\"ln\">"));
        assert_eq!(form.matches("default=\"true()\"").count(), 1);

        for step in flow
            .steps
            .iter()
            .filter(|s| answering.contains(&s.id.as_str()))
        {
            let id = &step.id;
            let bind = form
                .lines()
                .find(|l| l.contains(&format!("<bind nodeset=\"/data/{id}\"")))
                .unwrap_or_else(|| panic!("{}: no bind for {id}", flow.id));
            let kind = match &step.question {
                Question::Choice(_) | Question::Multi(_) | Question::Text(_) => "string",
                Question::Number(n) if n.decimal => "decimal",
                Question::Number(_) => "int",
                Question::Date(_) => "date",
                Question::Info | Question::End => unreachable!(),
            };
            assert!(bind.contains(&format!("type=\"{kind}\"")), "{bind}");
            assert_eq!(
                form.matches(&format!("<text id=\"{id}:label\">")).count(),
                3,
                "{}: {id} has a label in each language",
                flow.id
            );
            assert!(form.contains(&format!("<label ref=\"jr:itext('{id}:label')\"/>")));
            let control = match &step.question {
                Question::Choice(_) => "select1",
                Question::Multi(_) => "select",
                _ => "input",
            };
            assert!(
                form.contains(&format!("<{control} ref=\"/data/{id}\">")),
                "{id}: {control}"
            );
            if let Some(options) = step.question.options() {
                for code in &options.codes {
                    assert_eq!(
                        form.matches(&format!("<text id=\"{id}-{code}:label\">"))
                            .count(),
                        3
                    );
                    assert!(form.contains(&format!(
                        "<label ref=\"jr:itext('{id}-{code}:label')\"/>\n        <value>{code}</value>"
                    )));
                }
            }
        }
        // The texts are the flow's own, per language.
        for (l, locale) in flow.locales.iter().enumerate() {
            let first = flow
                .steps
                .iter()
                .position(|s| s.question.options().is_some())
                .unwrap();
            let label = &locale.steps[first].labels[0].text;
            let code = &flow.steps[first].question.options().unwrap().codes[0];
            let translation = form.split("<translation ").nth(l + 1).unwrap();
            assert!(translation.starts_with(&format!("lang=\"{}\"", flow.languages[l])));
            let expected = format!(
                "<text id=\"{}-{code}:label\"><value>{}</value></text>",
                flow.steps[first].id,
                sauti::xform::escape(label)
            );
            assert!(translation.contains(&expected), "{expected}");
        }
    }
}

#[test]
fn only_questions_on_every_path_are_required() {
    let flows = shipped_flows();
    let kufatilia = flows.iter().find(|f| f.id == "kufatilia").unwrap();
    let form = sauti::xform::xform(kufatilia);
    let bind = |id: &str| {
        form.lines()
            .find(|l| l.contains(&format!("nodeset=\"/data/{id}\"")))
            .unwrap()
    };
    // consent is always asked; declining skips everything else; `when` and `required = false`
    // make questions skippable too.
    assert!(bind("consent").contains("required=\"true()\""));
    for id in ["incident", "incident_other", "date", "site", "people"] {
        assert!(!bind(id).contains("required"), "{}", bind(id));
    }
    assert!(
        bind("people").contains("constraint=\". &gt;= 0 and . &lt;= 9999\""),
        "{}",
        bind("people")
    );
    assert!(bind("territory").contains("constraint=\"string-length(.) &lt;= 40\""));
}

#[test]
fn prompts_echoing_answers_show_them_with_output() {
    let flows = shipped_flows();
    let form = sauti::xform::xform(flows.iter().find(|f| f.id == "kufatilia").unwrap());
    let people: Vec<&str> = form
        .lines()
        .filter(|l| l.contains("<text id=\"people:label\">"))
        .collect();
    assert_eq!(people.len(), 3);
    for line in people {
        assert!(
            line.contains(
                "<value><output value=\"jr:choice-name(/data/incident, '/data/incident')\"/>: "
            ),
            "{line}"
        );
        assert!(!line.contains('{'), "{line}");
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
  <consent>yes</consent>
  <incident>other</incident>
  <incident_other>Taxe &lt;illégale&gt; &amp; &quot;barrière&quot; d&apos;Idjwi</incident_other>
  <when>earlier</when>
  <date>2026-03-14</date>
  <services>calls sms internet</services>
  <site/>
  <people>12</people>
  <weight>2.5</weight>
  <meta>
    <instanceID>uuid:019ab0c4-5e6f-7a12-8b34-56789abcdef0</instanceID>
  </meta>
</data>
"#;

/// `(root element, id, version)` of an instance.
fn root_of(xml: &str) -> (String, String, String) {
    let start = xml.find("?>").map_or(0, |i| i + 2);
    let open = &xml[start..];
    let open = &open[open.find('<').unwrap() + 1..];
    let open = &open[..open.find('>').unwrap()];
    let root = open.split_whitespace().next().unwrap().to_owned();
    let attr = |name: &str| {
        let at = open
            .find(&format!(" {name}=\""))
            .unwrap_or_else(|| panic!("no {name} on <{root}>"))
            + name.len()
            + 3;
        open[at..at + open[at..].find('"').unwrap()].to_owned()
    };
    (root.clone(), attr("id"), attr("version"))
}

fn instance_id_of(xml: &str) -> String {
    let meta = &xml[xml.find("<meta>").expect("meta")..];
    let start = meta.find("<instanceID>").expect("meta/instanceID") + "<instanceID>".len();
    meta[start..start + meta[start..].find("</instanceID>").unwrap()].to_owned()
}

#[test]
fn a_response_becomes_an_instance_shaped_like_the_fixtures() {
    let response = sample_response();
    let xml = submission_xml(&response);
    assert_eq!(xml, SAMPLE_XML);
    assert_well_formed(&xml, "the submission");
    assert_eq!(
        submission_xml(&response),
        xml,
        "the same bytes on every resend"
    );

    for fixture in ["odk-central/instance.xml", "kobotoolbox/instance.xml"] {
        let theirs = std::fs::read_to_string(fixtures().join(fixture)).unwrap();
        assert_well_formed(&theirs, fixture);
        let (root, id, _version) = root_of(&theirs);
        assert_eq!(root, id, "{fixture}: the form is found by the root's id");
        assert!(instance_id_of(&theirs).starts_with("uuid:"));
        // Ours has the same parts: root id and version, meta/instanceID `uuid:` + id, last.
        assert!(
            theirs.trim_end().ends_with(&format!("</meta>\n</{root}>")),
            "{fixture}"
        );
    }
    let (root, id, version) = root_of(&xml);
    assert_eq!(
        (root.as_str(), id.as_str(), version.as_str()),
        ("data", "kufatilia", "1")
    );
    assert_eq!(instance_id_of(&xml), format!("uuid:{}", response.id));
    assert!(xml.trim_end().ends_with("</meta>\n</data>"));
}

#[test]
fn submission_fields_are_those_of_the_exported_form() {
    let flows = shipped_flows();
    let flow = flows.iter().find(|f| f.id == "kufatilia").unwrap();
    let mut response = sample_response();
    response.answers.remove("services");
    response.answers.remove("weight");
    let form = sauti::xform::xform(flow);
    let declared = instance_fields(&form);
    let xml = submission_xml(&response);
    let (_, id, version) = root_of(&xml);
    assert_eq!((id, version), (flow.id.clone(), flow.version.to_string()));
    for step in response.answers.keys() {
        assert!(declared.contains(step), "{step} is not in the form");
        assert!(xml.contains(&format!("<{step}")));
    }
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
    let response = sample_response();
    let delivery = sink.deliver(&response, b"{}").await;
    let received = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the collector got a request");
    (delivery, received)
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
            sink.deliver(&sample_response(), b"{}").await,
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
    let delivery = sink.deliver(&sample_response(), b"{}").await;
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
    match sink.deliver(&sample_response(), b"{}").await {
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
