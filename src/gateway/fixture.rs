//! Wire fixtures in the adapters' unit tests: a raw HTTP/1.1 message of
//! `tests/fixtures/<folder>/` (CRLF head, exact `Content-Length`) read into a
//! [`WireRequest`], or into the status, headers and body a reply must have; and a session
//! replayed the way `survey.rs` reads progress (`open`, then `hop`).

use hyper::HeaderMap;
use hyper::header::{HeaderName, HeaderValue};

use super::{Gateway, Inbound, InputCursor, Progress, Reply, WireRequest};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// A raw message: its start line, headers (in order) and body.
fn message(folder: &str, file: &str) -> (String, Vec<(String, String)>, Vec<u8>) {
    let path = format!("{DIR}/{folder}/{file}");
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{path}: no end of head"));
    let head = std::str::from_utf8(&raw[..split]).expect("an ASCII head");
    let body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let start = lines.next().expect("a start line").to_owned();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (name, value) = l.split_once(':').expect("a header line");
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect();
    if let Some((_, len)) = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        assert_eq!(len.parse::<usize>().unwrap(), body.len(), "{path}");
    }
    (start, headers, body)
}

/// A gateway's request, as recorded.
pub struct Request {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Request {
    pub fn read(folder: &str, file: &str) -> Request {
        let (start, fields, body) = message(folder, file);
        let mut parts = start.split(' ');
        let method = parts.next().unwrap().to_owned();
        let target = parts.next().unwrap().to_owned();
        let query = target.split_once('?').map_or("", |(_, q)| q).to_owned();
        let mut headers = HeaderMap::new();
        for (name, value) in fields {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(&value).unwrap(),
            );
        }
        Request {
            method,
            target,
            query,
            headers,
            body,
        }
    }

    /// The request as the server hands it to an adapter (no action: the gateway's route).
    pub fn wire(&self) -> WireRequest<'_> {
        WireRequest {
            method: &self.method,
            action: "",
            path_and_query: &self.target,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
        }
    }
}

/// A reply as the gateway expects it.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn read(folder: &str, file: &str) -> Response {
        let (start, headers, body) = message(folder, file);
        let status = start.split(' ').nth(1).unwrap().parse().unwrap();
        Response {
            status,
            headers,
            body: String::from_utf8(body).unwrap(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// The status, content type and the gateway's own headers (all but `Content-Type` and
    /// `Content-Length`, names compared without case) of `reply` are this response's.
    pub fn assert_head(&self, reply: &Reply) {
        assert_eq!(reply.status, self.status);
        assert_eq!(Some(reply.content_type), self.header("content-type"));
        let mut theirs: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(n, _)| {
                !n.eq_ignore_ascii_case("content-type") && !n.eq_ignore_ascii_case("content-length")
            })
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect();
        let mut ours: Vec<(String, String)> = reply
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect();
        theirs.sort();
        ours.sort();
        assert_eq!(ours, theirs);
        assert_sendable(reply);
    }

    /// [`Response::assert_head`], and the body: exactly, or as JSON when it is JSON.
    pub fn assert_reply(&self, reply: &Reply) {
        self.assert_head(reply);
        if reply.content_type.starts_with("application/json") {
            let ours: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
            assert_eq!(ours, self.json());
        } else {
            assert_eq!(reply.body, self.body);
        }
    }
}

/// The reply's headers can be set the way the server sets them (a static name, which must be
/// lower case, and a valid value), and so can its content type.
pub fn assert_sendable(reply: &Reply) {
    let mut map = HeaderMap::new();
    map.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static(reply.content_type),
    );
    for (name, value) in &reply.headers {
        assert_eq!(
            *name,
            name.to_ascii_lowercase(),
            "header names are sent as given"
        );
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
}

/// One session as `survey.rs` reads it: the first request opens it (progress from
/// [`InputCursor::START`], then the cursor, whatever the progress), later ones move the cursor
/// only when they bring new input. The address must stay the opening's when the gateway
/// repeats it.
#[derive(Default)]
pub struct Session {
    cursor: Option<InputCursor>,
    address: String,
}

impl Session {
    pub fn hop<'h>(&mut self, gateway: &dyn Gateway, hop: &'h Inbound) -> Progress<'h> {
        match self.cursor {
            None => {
                self.address = hop.address.clone();
                self.cursor = Some(gateway.cursor(&InputCursor::START, hop));
                gateway.progress(&InputCursor::START, hop)
            }
            Some(cursor) => {
                if gateway.repeats_address() {
                    assert_eq!(hop.address, self.address, "the session's address");
                }
                let progress = gateway.progress(&cursor, hop);
                if let Progress::New(_) = progress {
                    self.cursor = Some(gateway.cursor(&cursor, hop));
                }
                progress
            }
        }
    }
}
