//! A real HTTP collector for delivery tests: listens on a free loopback port, records
//! every request, and answers as told (accept, fail with a status, hang, or drop).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Answer with this status (2xx to accept).
    Status(u16),
    /// Answer with this status and a `Retry-After` in seconds.
    RetryAfter(u16, u32),
    /// Answer with this status after this many milliseconds.
    Delay(u16, u64),
    /// Read the request, then never answer.
    Hang,
    /// Close the connection without answering (as if down).
    Drop,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The status it was answered (None: not answered).
    pub answered: Option<u16>,
    /// When it arrived.
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

struct State {
    mode: Mode,
    received: Vec<Received>,
    /// Deliveries (by `webhook-id`) being answered right now.
    answering: Vec<String>,
    /// Ids that arrived while an earlier request with the same id was still being answered.
    concurrent_duplicates: Vec<String>,
}

pub struct Collector {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

fn read_request(s: &mut TcpStream) -> Option<Received> {
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split_whitespace().nth(1)?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received {
        path,
        headers,
        body,
        answered: None,
        at: Instant::now(),
    })
}

/// Marks a request answered (or abandoned) when its handler is done with it.
struct Answering {
    state: Arc<Mutex<State>>,
    id: String,
}

impl Drop for Answering {
    fn drop(&mut self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = st.answering.iter().position(|x| *x == self.id) {
            st.answering.remove(i);
        }
    }
}

impl Collector {
    pub fn start(mode: Mode) -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            mode,
            received: Vec::new(),
            answering: Vec::new(),
            concurrent_duplicates: Vec::new(),
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || {
                    while let Some(req) = read_request(&mut stream) {
                        // Recorded on arrival: a sender may die before the answer.
                        let id = req.header("webhook-id").unwrap_or("").to_owned();
                        let index = {
                            let mut st = shared.lock().unwrap();
                            if !id.is_empty() && st.answering.contains(&id) {
                                st.concurrent_duplicates.push(id.clone());
                            }
                            st.answering.push(id.clone());
                            st.received.push(req);
                            st.received.len() - 1
                        };
                        let answering = Answering {
                            state: shared.clone(),
                            id,
                        };
                        let mode = shared.lock().unwrap().mode.clone();
                        let (status, extra) = match mode {
                            Mode::Status(s) => (s, String::new()),
                            Mode::RetryAfter(s, secs) => (s, format!("Retry-After: {secs}\r\n")),
                            Mode::Delay(s, ms) => {
                                std::thread::sleep(Duration::from_millis(ms));
                                (s, String::new())
                            }
                            Mode::Hang => {
                                std::thread::sleep(Duration::from_secs(30));
                                return;
                            }
                            Mode::Drop => return,
                        };
                        shared.lock().unwrap().received[index].answered = Some(status);
                        drop(answering);
                        let body = if status < 300 { "ok" } else { "no" };
                        let reply = format!(
                            "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{extra}\r\n{body}",
                            body.len()
                        );
                        if stream.write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Collector { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Ids that arrived again while the collector was still answering the same id.
    pub fn concurrent_duplicates(&self) -> Vec<String> {
        self.state.lock().unwrap().concurrent_duplicates.clone()
    }

    /// Requests still being answered (or held, in `Hang` and `Delay`).
    pub fn answering(&self) -> usize {
        self.state.lock().unwrap().answering.len()
    }

    /// Requests it answered with a 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.answered.is_some_and(|s| (200..300).contains(&s)))
            .collect()
    }

    /// Arrival times of the requests it answered with a 2xx.
    pub fn accepted_times(&self) -> Vec<Instant> {
        self.accepted().iter().map(|r| r.at).collect()
    }

    /// Waits until `ok` holds on what was received.
    pub fn wait_for(&self, what: &str, secs: u64, ok: impl Fn(&[Received]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if ok(&self.received()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:?}",
                self.received().len()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}
