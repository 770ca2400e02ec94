//! A real `sauti serve` process on a free loopback port, spoken to over real TCP, and a
//! phone that talks to it the way Africa's Talking does (cumulative `text`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::REPO;

/// How to start a server; every field has a sensible default for tests.
#[derive(Clone)]
pub struct Options {
    pub flows: PathBuf,
    pub locales: PathBuf,
    /// A `sauti.toml` to pass with `--config`.
    pub config: Option<String>,
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    /// A command that runs `sauti` (e.g. `strace -f -o trace`), when not run directly.
    pub wrapper: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            flows: Path::new(REPO).join("flows"),
            locales: Path::new(REPO).join("locales"),
            config: None,
            env: vec![(
                "SAUTI_PSEUDONYM_KEY".into(),
                "test-key-0123456789abcdef".into(),
            )],
            args: Vec::new(),
            wrapper: Vec::new(),
        }
    }
}

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Keeps the temporary directory (data, config) alive as long as the server handle.
    pub dir: Arc<tempfile::TempDir>,
    logs: Arc<Mutex<String>>,
    opts: Options,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(Options::default())
    }

    pub fn start_with(opts: Options) -> Server {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let data_dir = dir.path().join("data");
        Server::spawn(opts, dir, data_dir)
    }

    /// A second process sharing this one's options (and Redis), with its own data directory.
    pub fn sibling(&self) -> Server {
        Server::start_with(self.opts.clone())
    }

    fn spawn(opts: Options, dir: Arc<tempfile::TempDir>, data_dir: PathBuf) -> Server {
        let mut cmd = match opts.wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(env!("CARGO_BIN_EXE_sauti"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_sauti")),
        };
        cmd.current_dir(dir.path())
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--flows")
            .arg(&opts.flows)
            .arg("--locales")
            .arg(&opts.locales)
            .arg("--data-dir")
            .arg(&data_dir)
            .env_remove("SAUTI_PROFILE")
            .env_remove("SAUTI_PSEUDONYM_KEY")
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(config) = &opts.config {
            let path = dir.path().join("sauti.toml");
            std::fs::write(&path, config).unwrap();
            cmd.arg("--config").arg(path);
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        cmd.args(&opts.args);
        let mut child = cmd.spawn().expect("start sauti serve");
        let logs = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let Some(addr) = first.trim().strip_prefix("sauti listening on http://") else {
            let _ = child.wait();
            panic!("server did not start: {first:?}\n{}", logs.lock().unwrap());
        };
        let addr: SocketAddr = addr.parse().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        Server {
            child,
            addr,
            data_dir,
            dir,
            logs,
            opts,
        }
    }

    /// Starts a new process on the same data directory (after a crash or a stop).
    pub fn restart(&mut self) {
        let opts = self.opts.clone();
        let _ = self.child.kill();
        let _ = self.child.wait();
        *self = Server::spawn(opts, self.dir.clone(), self.data_dir.clone());
    }

    /// The `--redis` arguments this server runs with (empty in embedded mode).
    pub fn redis_args(&self) -> Vec<String> {
        let a = &self.opts.args;
        a.iter()
            .position(|x| x == "--redis")
            .map(|i| a[i..(i + 4).min(a.len())].to_vec())
            .unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process printed (stdout and stderr).
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Whether the logs come to contain `needle` within `secs` (the threads that read the
    /// process's output may lag behind it, even after it exited).
    pub fn logs_eventually_contain(&self, needle: &str, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if self.logs().contains(needle) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits for the process to exit; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The responses in `<data-dir>/responses.jsonl`. In embedded mode the file is written
    /// before END; in Redis mode its file sink writes it just after, so wait until it settles.
    pub fn responses(&self) -> Vec<serde_json::Value> {
        let read = || -> Vec<serde_json::Value> {
            let text =
                std::fs::read_to_string(self.data_dir.join("responses.jsonl")).unwrap_or_default();
            // A line being appended right now (no newline yet) is read next time.
            let complete = text.rfind('\n').map_or("", |end| &text[..=end]);
            complete
                .lines()
                .map(|l| serde_json::from_str(l).expect("each line is JSON"))
                .collect()
        };
        if self.redis_args().is_empty() {
            return read();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut last = read();
        let mut stable_since = Instant::now();
        // Settled: unchanged for 400 ms (and, when still empty, for 3 s).
        let settled = |n: usize, since: Instant| {
            since.elapsed() >= Duration::from_millis(if n == 0 { 3000 } else { 400 })
        };
        while Instant::now() < deadline && !settled(last.len(), stable_since) {
            std::thread::sleep(Duration::from_millis(25));
            let now = read();
            if now.len() != last.len() {
                last = now;
                stable_since = Instant::now();
            }
        }
        // The file sink delivers a batch read from the stream concurrently: its lines are in
        // delivery order, not exactly completion order (docs/delivery.md). In completion order:
        last.sort_by(|a, b| {
            let at = |r: &serde_json::Value| {
                (
                    r["completed_at"].as_str().unwrap_or("").to_owned(),
                    r["id"].as_str().unwrap_or("").to_owned(),
                )
            };
            at(a).cmp(&at(b))
        });
        last
    }

    /// Sends raw bytes and reads one response (by its Content-Length, or to the end of
    /// the connection), returning status, headers and body (status 0 if none came).
    pub fn raw(&self, request: &[u8]) -> HttpReply {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        // The server may answer (413) and close before the whole body is sent.
        let _ = s.write_all(request);
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let reply = HttpReply::parse(&buf);
                let want = reply
                    .header("content-length")
                    .and_then(|l| l.parse::<usize>().ok());
                if let Some(n) = want
                    && buf.len() >= end + 4 + n
                {
                    return HttpReply::parse(&buf[..end + 4 + n]);
                }
            }
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        HttpReply::parse(&buf)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> HttpReply {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: sauti.test\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(ct) = content_type {
            req.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.raw(&bytes)
    }

    pub fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> HttpReply {
        let body = serde_html_form::to_string(fields).unwrap();
        self.request(
            "POST",
            path,
            Some("application/x-www-form-urlencoded"),
            body.as_bytes(),
        )
    }

    pub fn get(&self, path: &str) -> HttpReply {
        self.request("GET", path, None, b"")
    }

    /// The sum of every series of metric `name` whose labels contain each of `labels`
    /// (`gateway="x"`), from `GET /metrics`.
    pub fn metric(&self, name: &str, labels: &[&str]) -> f64 {
        let body = self.get("/metrics").body;
        body.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                let (metric, rest) = match series.split_once('{') {
                    Some((m, r)) => (m, r),
                    None => (series, ""),
                };
                (metric == name && labels.iter().all(|want| rest.contains(want)))
                    .then(|| value.parse::<f64>().ok())
                    .flatten()
            })
            .sum()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    fn parse(buf: &[u8]) -> HttpReply {
        let text = String::from_utf8_lossy(buf);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            return HttpReply {
                status: 0,
                headers: vec![],
                body: text.into_owned(),
            };
        };
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        HttpReply {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A phone dialling through Africa's Talking: each input is appended to the cumulative
/// `text` with `*`, exactly as the gateway does.
pub struct AtPhone<'s> {
    pub server: &'s Server,
    pub session_id: String,
    pub service_code: String,
    pub phone_number: String,
    pub text: Option<String>,
    pub path: String,
}

impl<'s> AtPhone<'s> {
    pub fn new(
        server: &'s Server,
        session_id: &str,
        service_code: &str,
        phone_number: &str,
    ) -> AtPhone<'s> {
        AtPhone {
            server,
            session_id: session_id.into(),
            service_code: service_code.into(),
            phone_number: phone_number.into(),
            text: None,
            path: "/ussd/africastalking".into(),
        }
    }

    fn post(&self, text: &str) -> String {
        let reply = self.server.post_form(
            &self.path,
            &[
                ("sessionId", self.session_id.as_str()),
                ("serviceCode", self.service_code.as_str()),
                ("phoneNumber", self.phone_number.as_str()),
                ("networkCode", "63001"),
                ("text", text),
            ],
        );
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        reply.body
    }

    /// The first hop: `text` is empty.
    pub fn dial(&mut self) -> String {
        self.text = Some(String::new());
        self.post("")
    }

    /// The respondent types `input` and presses send.
    pub fn send(&mut self, input: &str) -> String {
        let text = match self.text.as_deref() {
            None | Some("") => input.to_owned(),
            Some(t) => format!("{t}*{input}"),
        };
        self.text = Some(text.clone());
        self.post(&text)
    }

    /// The gateway sends the last hop again (a retry after a timeout).
    pub fn resend(&self) -> String {
        self.post(self.text.as_deref().unwrap_or(""))
    }
}
