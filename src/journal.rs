//! The response journal: completed surveys appended as JSON lines to `responses.jsonl`
//! and fsynced before the respondent sees `END`. Concurrent writers share each fsync.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use tokio::sync::{mpsc, oneshot};

use crate::response::Response;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the response journal: {0}")]
    Write(#[from] std::io::Error),
    #[error("the response journal is closed")]
    Closed,
}

struct Append {
    line: Vec<u8>,
    done: oneshot::Sender<Result<(), String>>,
}

/// A handle to the journal writer; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<Append>,
    path: PathBuf,
    /// Woken after every write, so that delivery workers pick new responses up at once.
    appended: std::sync::Arc<tokio::sync::Notify>,
}

/// Waits for the writer thread to flush everything when the last handle is dropped.
pub struct JournalGuard {
    thread: Option<std::thread::JoinHandle<()>>,
}

impl JournalGuard {
    /// Blocks until every queued response is written and synced.
    pub fn finish(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Journal {
    /// Opens (creating if needed) `<dir>/responses.jsonl` and starts its writer thread.
    pub fn open(dir: &Path) -> Result<(Journal, JournalGuard), JournalError> {
        Journal::open_file(&dir.join("responses.jsonl"))
    }

    /// Opens (creating if needed) any JSONL file with the same group-commit writer.
    pub fn open_file(path: &Path) -> Result<(Journal, JournalGuard), JournalError> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        crate::private_fs::create_dir_all(dir).map_err(|source| JournalError::Open {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = path.to_path_buf();
        let file = crate::private_fs::open_append(&path).map_err(|source| JournalError::Open {
            path: path.clone(),
            source,
        })?;
        // Make the file's directory entry durable too, on first creation.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        let (tx, rx) = mpsc::channel::<Append>(4096);
        let appended = std::sync::Arc::new(tokio::sync::Notify::new());
        let notify = appended.clone();
        let thread = std::thread::Builder::new()
            .name("sauti-journal".into())
            .spawn(move || writer(file, rx, notify))
            .map_err(JournalError::Write)?;
        Ok((
            Journal { tx, path, appended },
            JournalGuard {
                thread: Some(thread),
            },
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Notified after each write to the journal.
    pub fn appended(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.appended.clone()
    }

    /// Appends one response; returns once it is on disk (written and fsynced).
    pub async fn append(&self, response: &Response) -> Result<(), JournalError> {
        let line = serde_json::to_vec(response).map_err(std::io::Error::other)?;
        self.append_line(line).await
    }

    /// Appends one JSON line (given without its newline); returns once it is on disk.
    pub async fn append_line(&self, mut line: Vec<u8>) -> Result<(), JournalError> {
        line.push(b'\n');
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Append { line, done })
            .await
            .map_err(|_| JournalError::Closed)?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(JournalError::Write(std::io::Error::other(e))),
            Err(_) => Err(JournalError::Closed),
        }
    }

    /// Whether the data directory still accepts writes (for `/readyz`).
    pub fn writable(&self) -> bool {
        let probe = self.path.with_file_name(".sauti-ready-probe");
        let ok = std::fs::write(&probe, b"ok").is_ok();
        let _ = std::fs::remove_file(&probe);
        ok && !self.tx.is_closed()
    }
}

/// Group commit: everything queued while the previous fsync ran is written, then synced once.
fn writer(
    mut file: File,
    mut rx: mpsc::Receiver<Append>,
    appended: std::sync::Arc<tokio::sync::Notify>,
) {
    let mut batch: Vec<Append> = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
            if batch.len() >= 1024 {
                break;
            }
        }
        let mut buf = Vec::with_capacity(batch.iter().map(|a| a.line.len()).sum());
        for a in &batch {
            buf.extend_from_slice(&a.line);
        }
        let result = file
            .write_all(&buf)
            .and_then(|()| file.sync_data())
            .map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::error!(error = %e, "response journal write failed");
        }
        for a in batch.drain(..) {
            let _ = a.done.send(result.clone());
        }
        appended.notify_waiters();
    }
}
