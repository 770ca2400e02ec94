//! Real `redis-server` processes for the tests: one shared per test binary (or the one in
//! `REDIS_URL`), dedicated ones that a test may stop and restart, and a 3-master cluster.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::server::Options;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Sends one inline command and returns the first reply line.
pub fn command(port: u16, cmd: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    s.write_all(format!("{cmd}\r\n").as_bytes()).ok()?;
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Sends one command with binary-safe arguments (RESP) and returns the start of the reply.
pub fn command_args(port: u16, args: &[&[u8]]) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut request = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        request.extend_from_slice(arg);
        request.extend_from_slice(b"\r\n");
    }
    s.write_all(&request).ok()?;
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `redis-server` on a free loopback port, stopped when dropped (and when the test
/// process exits: it runs under a shell that kills it when our pipe closes).
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    extra: Vec<String>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[], None)
    }

    pub fn start_with(extra: &[&str], dir: Option<&Path>) -> RedisServer {
        let dir = dir
            .map(Path::to_path_buf)
            .unwrap_or_else(std::env::temp_dir);
        let mut r = RedisServer {
            child: None,
            port: free_port(),
            dir,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        // A free port can be taken by another process before redis-server binds it (tests
        // start many servers at once): then it is tried again on another.
        for _ in 0..3 {
            if r.spawn(Duration::from_secs(5)) {
                return r;
            }
            // Ours did not come up (whoever holds the port may answer PING: not waited on).
            if let Some(mut c) = r.child.take() {
                drop(c.stdin.take());
                let _ = c.wait();
            }
            r.port = free_port();
        }
        r.run();
        r
    }

    fn run(&mut self) {
        let port = self.port;
        assert!(
            self.spawn(Duration::from_secs(15)),
            "timed out waiting for redis-server on {port}"
        );
    }

    /// Starts redis-server on `self.port`; whether it answers within `wait`.
    fn spawn(&mut self, wait: Duration) -> bool {
        let args = format!(
            "redis-server --port {} --bind 127.0.0.1 --save '' --appendonly no --dir {} {}",
            self.port,
            self.dir.display(),
            self.extra.join(" ")
        );
        // The shell kills redis-server as soon as our end of its stdin closes.
        let script =
            format!("{args} >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid; wait $pid");
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (install it: apt-get install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if command(self.port, "PING").is_some_and(|r| r.starts_with("+PONG")) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server (its data goes with it: nothing is persisted).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            drop(c.stdin.take());
            let _ = c.wait();
        }
        let port = self.port;
        wait_until("redis-server to stop", || command(port, "PING").is_none());
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            drop(c.stdin.take());
            let _ = c.wait();
        }
    }
}

/// The Redis the shared tests use: `REDIS_URL` when set, else one started for this binary.
pub fn shared_url() -> String {
    static SHARED: LazyLock<(String, Option<RedisServer>)> =
        LazyLock::new(|| match std::env::var("REDIS_URL") {
            Ok(url) if !url.is_empty() => (url, None),
            _ => {
                let r = RedisServer::start();
                (r.url(), Some(r))
            }
        });
    SHARED.0.clone()
}

/// Server options on the shared Redis, with a key prefix of their own so that tests
/// running in parallel never see each other's sessions.
pub fn options() -> Options {
    options_on(&shared_url(), &unique_prefix())
}

pub fn unique_prefix() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn options_on(url: &str, prefix: &str) -> Options {
    let mut o = Options::default();
    o.args.extend([
        "--redis".to_owned(),
        url.to_owned(),
        "--redis-key-prefix".to_owned(),
        prefix.to_owned(),
    ]);
    o
}

/// Whether `redis-cli` is here (the cluster test needs it to create the cluster).
pub fn have_redis_cli() -> bool {
    Command::new("redis-cli")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Three masters on free ports, joined with `redis-cli --cluster create`.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    pub fn start() -> RedisCluster {
        let dir = tempfile::tempdir().unwrap();
        let nodes: Vec<RedisServer> = (0..3)
            .map(|i| {
                let node_dir = dir.path().join(format!("n{i}"));
                std::fs::create_dir_all(&node_dir).unwrap();
                RedisServer::start_with(
                    &[
                        "--cluster-enabled yes",
                        "--cluster-config-file nodes.conf",
                        "--cluster-node-timeout 2000",
                    ],
                    Some(&node_dir),
                )
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        for n in &nodes {
            let port = n.port;
            wait_until("cluster_state:ok", || {
                command(port, "CLUSTER INFO").is_some_and(|r| r.contains("cluster_state:ok"))
            });
        }
        RedisCluster { nodes, _dir: dir }
    }

    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", hosts.join(","))
    }
}
