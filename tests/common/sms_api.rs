//! A stand-in for Africa's Talking's SMS send API as a real local HTTP server: it takes the
//! form Sauti posts (`username`, `to`, `message`, `from`, header `apiKey`), answers as the
//! real API does (`201` and `SMSMessageData.Recipients[]`), and can be taken down.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the API answers.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiMode {
    /// `201`, every recipient `Success` (status code 101).
    Up,
    /// This HTTP status, nothing sent.
    Status(u16),
    /// Connection closed without an answer (as if down).
    Drop,
}

/// One message the API took (or refused).
#[derive(Debug, Clone)]
pub struct Sent {
    pub username: String,
    pub api_key: String,
    pub to: String,
    pub from: String,
    pub message: String,
    /// Accepted (answered `201` with a successful recipient).
    pub accepted: bool,
    pub at: Instant,
}

struct State {
    mode: ApiMode,
    /// Numbers answered with this recipient status code and text (e.g. 403
    /// `InvalidPhoneNumber`) while the request itself succeeds.
    recipient_status: Vec<(String, u16, String)>,
    received: Vec<Sent>,
}

pub struct SmsApi {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

fn field(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

impl SmsApi {
    pub fn start() -> SmsApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            mode: ApiMode::Up,
            recipient_status: Vec::new(),
            received: Vec::new(),
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, shared));
            }
        });
        SmsApi { addr, state }
    }

    /// The URL to give Sauti (`SAUTI_AT_SMS_URL`).
    pub fn url(&self) -> String {
        format!("http://{}/version1/messaging", self.addr)
    }

    pub fn set_mode(&self, mode: ApiMode) {
        self.state.lock().unwrap().mode = mode;
    }

    /// Answers `number` with a failed recipient status (the request itself is a `201`).
    pub fn refuse_number(&self, number: &str, code: u16, status: &str) {
        self.state
            .lock()
            .unwrap()
            .recipient_status
            .push((number.to_owned(), code, status.to_owned()));
    }

    /// Every request received, accepted or not, in order.
    pub fn received(&self) -> Vec<Sent> {
        self.state.lock().unwrap().received.clone()
    }

    /// Messages accepted for `number`, in order.
    pub fn accepted_to(&self, number: &str) -> Vec<String> {
        self.received()
            .into_iter()
            .filter(|s| s.accepted && s.to == number)
            .map(|s| s.message)
            .collect()
    }

    /// Messages accepted, to anyone.
    pub fn accepted(&self) -> Vec<Sent> {
        self.received().into_iter().filter(|s| s.accepted).collect()
    }

    /// Waits until `ok` holds on what was received.
    pub fn wait_for(&self, what: &str, secs: u64, ok: impl Fn(&[Sent]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if ok(&self.received()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {} requests so far",
                self.received().len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the `n`th accepted message to `number` (1-based) and returns it.
    pub fn nth_to(&self, number: &str, n: usize) -> String {
        self.wait_for(&format!("message {n} to {number}"), 20, |_| {
            self.accepted_to(number).len() >= n
        });
        self.accepted_to(number)[n - 1].clone()
    }
}

fn serve(stream: std::net::TcpStream, shared: Arc<Mutex<State>>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut head = Vec::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            head.push(line);
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let api_key = head
            .iter()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("apikey").then(|| v.trim().to_owned())
            })
            .unwrap_or_default();
        let fields: Vec<(String, String)> =
            serde_html_form::from_str(&String::from_utf8_lossy(&body)).unwrap_or_default();
        let (mode, refused) = {
            let st = shared.lock().unwrap();
            let to = field(&fields, "to");
            let refused = st
                .recipient_status
                .iter()
                .find(|(n, _, _)| *n == to)
                .map(|(_, c, s)| (*c, s.clone()));
            (st.mode.clone(), refused)
        };
        let mut sent = Sent {
            username: field(&fields, "username"),
            api_key,
            to: field(&fields, "to"),
            from: field(&fields, "from"),
            message: field(&fields, "message"),
            accepted: false,
            at: Instant::now(),
        };
        let (status, reply) = match mode {
            ApiMode::Drop => {
                shared.lock().unwrap().received.push(sent);
                return;
            }
            ApiMode::Status(s) => (s, "{\"error\":\"down\"}".to_owned()),
            ApiMode::Up => {
                let (code, text) = refused.unwrap_or((101, "Success".into()));
                sent.accepted = code < 200;
                let n = shared.lock().unwrap().received.len();
                (
                    201,
                    serde_json::json!({"SMSMessageData": {
                        "Message": format!("Sent to {}/1 Total Cost: KES 0.8000", u8::from(code < 200)),
                        "Recipients": [{
                            "statusCode": code,
                            "number": sent.to,
                            "status": text,
                            "cost": "KES 0.8000",
                            "messageId": format!("ATXid_{n}"),
                        }]
                    }})
                    .to_string(),
                )
            }
        };
        shared.lock().unwrap().received.push(sent);
        let out = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reply}",
            reply.len()
        );
        if writer.write_all(out.as_bytes()).is_err() {
            return;
        }
    }
}
