//! One shutdown path for `serve` and `deliver`, after mini-redis's `shutdown.rs`: on SIGINT or
//! SIGTERM, stop accepting, finish accepted hops, then deliveries in flight, then the journal.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::journal::JournalGuard;
use crate::server::{self, App};

/// A shutdown notice shared by tasks: one `notify()`, seen by every clone and receiver.
#[derive(Clone, Debug)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown {
            tx: Arc::new(watch::channel(false).0),
        }
    }

    /// Tells every task watching this notice to stop (idempotent).
    pub fn notify(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_shutdown(&self) -> bool {
        *self.tx.borrow()
    }

    /// Returns once `notify()` has been called (at once if it already was).
    pub async fn recv(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|stop| *stop).await;
    }

    /// A receiver that turns true on `notify()`, for tasks that take a `watch` (the workers).
    pub fn receiver(&self) -> watch::Receiver<bool> {
        self.tx.subscribe()
    }
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called (inside the
/// runtime), not when it is first polled: a signal sent meanwhile is not lost.
#[cfg(unix)]
pub fn signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let int = signal(SignalKind::interrupt()).ok();
    let term = signal(SignalKind::terminate()).ok();
    async move {
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(int) => {},
            () = wait(term) => {},
        }
    }
}

#[cfg(not(unix))]
pub fn signal() -> impl Future<Output = ()> + Send + 'static {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The HTTP side of `serve`: a bound listener and what its handlers need.
pub struct Http {
    pub listener: TcpListener,
    pub app: Arc<App>,
}

/// Everything a running process must stop, in order.
pub struct Running {
    /// `serve` only; `deliver` has no HTTP server.
    pub http: Option<Http>,
    /// Background tasks (flow reloads, the partials sweeper) that return on `shutdown`.
    pub background: Vec<JoinHandle<()>>,
    /// The delivery workers, which stop taking new work when `stop_workers` is notified
    /// and return once their deliveries in flight are finished and acknowledged.
    pub workers: Vec<JoinHandle<()>>,
    pub stop_workers: Shutdown,
    /// `serve` only: flushed last, once no hop can append to it any more.
    pub journal: Option<JournalGuard>,
}

/// Runs until `trigger` resolves (in `sauti`: [`signal`]) or `shutdown` is notified, then
/// stops in order: no new connections; accepted hops finish (within `grace`); background tasks
/// return; workers finish and acknowledge deliveries in flight (within `grace`); the
/// journal's last fsync (within `grace`). Used by both `serve` and `deliver`.
pub async fn run(
    running: Running,
    shutdown: Shutdown,
    trigger: impl Future<Output = ()>,
    grace: Duration,
) {
    let Running {
        http,
        background,
        workers,
        stop_workers,
        journal,
    } = running;
    let triggered = async {
        tokio::select! {
            () = trigger => {}
            () = shutdown.recv() => {}
        }
        shutdown.notify();
        tracing::info!("shutdown signal received: finishing hops in flight");
    };
    // 1. Stop accepting; accepted connections finish within the grace period (server::run).
    let app = match http {
        Some(Http { listener, app }) => {
            server::run(listener, app.clone(), triggered).await;
            Some(app)
        }
        None => {
            triggered.await;
            None
        }
    };
    // 2. Background tasks return on `shutdown`.
    for task in background {
        let abort = task.abort_handle();
        if tokio::time::timeout(grace, task).await.is_err() {
            abort.abort();
        }
    }
    // 3. Deliveries in flight finish and are acknowledged; the rest stays queued for the
    //    next start (a worker still busy after the grace period is abandoned: what it held is
    //    delivered again later, under the same id).
    stop_workers.notify();
    let deadline = Instant::now() + grace;
    for w in workers {
        if tokio::time::timeout_at(deadline, w).await.is_err() {
            tracing::warn!(
                "deliveries still in flight after the grace period; they will be retried"
            );
        }
    }
    // 4. No hop can append any more: drop the journal handles and wait for the last fsync.
    drop(app);
    if let Some(journal) = journal {
        let flushed = tokio::task::spawn_blocking(move || journal.finish());
        if tokio::time::timeout(grace, flushed).await.is_err() {
            tracing::warn!("connections still open after the grace period; exiting");
        }
    }
    tracing::info!("stopped");
}
