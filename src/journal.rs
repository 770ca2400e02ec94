//! The response journal: completed surveys appended as JSON lines to `responses.jsonl`
//! and fsynced before the respondent sees `END`. Concurrent writers share each fsync.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// Which records a compaction keeps (given a line without its newline).
type Keep = Box<dyn Fn(&[u8]) -> bool + Send>;

/// Where the writer says how an append went.
type Done = oneshot::Sender<Result<(), String>>;

/// What the writer thread is asked to do.
enum Command {
    Append {
        line: Vec<u8>,
        done: Done,
    },
    /// Rewrite the file with only the records `keep` accepts (see [`Journal::compact`]).
    Compact {
        keep: Keep,
        done: oneshot::Sender<std::io::Result<Compacted>>,
    },
}

/// `SAUTI_FAILPOINT_COMPACTION_PAUSE_MS`: how long a compaction waits between writing the new
/// journal and renaming it over the old one (crash tests only; unset in production).
static COMPACTION_PAUSE_MS: std::sync::LazyLock<Option<u64>> = std::sync::LazyLock::new(|| {
    std::env::var("SAUTI_FAILPOINT_COMPACTION_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
});

/// What a compaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compacted {
    pub kept: usize,
    pub dropped: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// How far the journal is durable, for its readers: they read up to [`JournalProgress::durable_len`]
/// only, never bytes of a write that failed and is being cut back.
#[derive(Debug)]
pub struct JournalProgress {
    /// Woken after every write, so that delivery workers pick new responses up at once.
    notify: tokio::sync::Notify,
    durable: AtomicU64,
}

impl JournalProgress {
    /// For a reader of a journal written by another process: everything in the file.
    pub fn whole_file() -> Arc<JournalProgress> {
        Arc::new(JournalProgress {
            notify: tokio::sync::Notify::new(),
            durable: AtomicU64::new(u64::MAX),
        })
    }

    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    /// Bytes of the file written and fsynced.
    pub fn durable_len(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }
}

/// A handle to the journal writer; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<Command>,
    path: PathBuf,
    progress: Arc<JournalProgress>,
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

    /// Opens (creating if needed) any JSONL file with the same group-commit writer. A torn
    /// or unreadable last record (a crash or power loss mid-write) is moved to
    /// `<file>.quarantine` first, so that the next record never lands glued to it.
    pub fn open_file(path: &Path) -> Result<(Journal, JournalGuard), JournalError> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let open = |source| JournalError::Open {
            path: path.to_path_buf(),
            source,
        };
        crate::private_fs::create_dir_all(dir).map_err(|source| JournalError::Open {
            path: dir.to_path_buf(),
            source,
        })?;
        let file = crate::private_fs::open_append(path).map_err(open)?;
        let len = repair_tail(path, &file).map_err(open)?;
        Journal::start(path, file, len)
    }

    /// Starts the writer thread over `file`, whose first `len` bytes are complete records.
    fn start<F: JournalFile + Send + 'static>(
        path: &Path,
        file: F,
        len: u64,
    ) -> Result<(Journal, JournalGuard), JournalError> {
        let (tx, rx) = mpsc::channel::<Command>(4096);
        let progress = Arc::new(JournalProgress {
            notify: tokio::sync::Notify::new(),
            durable: AtomicU64::new(len),
        });
        let shared = progress.clone();
        let thread = std::thread::Builder::new()
            .name("sauti-journal".into())
            .spawn({
                let path = path.to_path_buf();
                move || writer(file, &path, len, rx, &shared)
            })
            .map_err(JournalError::Write)?;
        Ok((
            Journal {
                tx,
                path: path.to_path_buf(),
                progress,
            },
            JournalGuard {
                thread: Some(thread),
            },
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Notified after each write to the journal, with how far it is durable.
    pub fn progress(&self) -> Arc<JournalProgress> {
        self.progress.clone()
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
            .send(Command::Append { line, done })
            .await
            .map_err(|_| JournalError::Closed)?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(JournalError::Write(std::io::Error::other(e))),
            Err(_) => Err(JournalError::Closed),
        }
    }

    /// Rewrites the journal with only the records `keep` accepts (a line without its
    /// newline), between two batches of appends: a new file is written beside it, fsynced,
    /// renamed over it and the directory fsynced, so that a crash leaves the old file or the
    /// new one. Readers must start again from the beginning of the new file (its
    /// [`JournalProgress::durable_len`] is the new file's).
    pub async fn compact(
        &self,
        keep: impl Fn(&[u8]) -> bool + Send + 'static,
    ) -> Result<Compacted, JournalError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Command::Compact {
                keep: Box::new(keep),
                done,
            })
            .await
            .map_err(|_| JournalError::Closed)?;
        match wait.await {
            Ok(r) => r.map_err(JournalError::Write),
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

/// What the writer needs of its file: a seam, so that tests can make writes and fsyncs fail.
trait JournalFile {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    fn sync(&mut self) -> std::io::Result<()>;
    /// Cuts the file back to `len` bytes, durably.
    fn cut_back(&mut self, len: u64) -> std::io::Result<()>;
    /// Appends from now on to the file now at `path` (after it was replaced).
    fn reopen(&mut self, path: &Path) -> std::io::Result<()>;
}

impl JournalFile for File {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write_all(bytes)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_data()
    }

    fn cut_back(&mut self, len: u64) -> std::io::Result<()> {
        self.set_len(len)?;
        self.sync_all()
    }

    fn reopen(&mut self, path: &Path) -> std::io::Result<()> {
        *self = crate::private_fs::open_append(path)?;
        Ok(())
    }
}

/// Group commit: everything queued while the previous fsync ran is written, then synced once.
/// A batch whose write or fsync fails is cut back off the file before anything else is
/// appended (after a failed fsync its bytes may be gone from the disk, or half there), and
/// every hop in it is told it failed.
fn writer<F: JournalFile>(
    mut file: F,
    path: &Path,
    mut len: u64,
    mut rx: mpsc::Receiver<Command>,
    progress: &JournalProgress,
) {
    let mut batch: Vec<(Vec<u8>, Done)> = Vec::new();
    // Bytes past `len` that could not be cut back yet: nothing is appended after them.
    let mut torn = false;
    let mut next = rx.blocking_recv();
    while let Some(first) = next.take() {
        match first {
            Command::Append { line, done } => batch.push((line, done)),
            Command::Compact { keep, done } => {
                let result = if torn {
                    Err(std::io::Error::other("the journal ends in a failed write"))
                } else {
                    compact(&mut file, path, len, &*keep)
                };
                if let Ok(c) = &result {
                    len = c.bytes_after;
                    progress.durable.store(len, Ordering::Release);
                }
                let _ = done.send(result);
                progress.notify.notify_waiters();
                next = rx.blocking_recv();
                continue;
            }
        }
        while batch.len() < 1024 {
            match rx.try_recv() {
                Ok(Command::Append { line, done }) => batch.push((line, done)),
                // Compacted once the batch before it is written.
                Ok(compaction) => {
                    next = Some(compaction);
                    break;
                }
                Err(_) => break,
            }
        }
        let mut buf = Vec::with_capacity(batch.iter().map(|a| a.0.len()).sum());
        for a in &batch {
            buf.extend_from_slice(&a.0);
        }
        if torn {
            match file.cut_back(len) {
                Ok(()) => torn = false,
                Err(e) => {
                    tracing::error!(error = %e, "the response journal still cannot be cut back to its last complete record; refusing to append")
                }
            }
        }
        let result = if torn {
            Err("the journal ends in a failed write that cannot be removed".to_owned())
        } else {
            file.append(&buf)
                .and_then(|()| file.sync())
                .map_err(|e| e.to_string())
        };
        match &result {
            Ok(()) => {
                len += buf.len() as u64;
                progress.durable.store(len, Ordering::Release);
            }
            Err(e) if !torn => {
                tracing::error!(error = %e, "response journal write failed; cutting it back to its last complete record");
                if let Err(e) = file.cut_back(len) {
                    tracing::error!(error = %e, "cannot cut the response journal back; refusing to append until it can be");
                    torn = true;
                }
            }
            Err(_) => {}
        }
        for (_, done) in batch.drain(..) {
            let _ = done.send(result.clone());
        }
        progress.notify.notify_waiters();
        if next.is_none() {
            next = rx.blocking_recv();
        }
    }
}

/// Writes the records of `path` (its first `len` bytes) that `keep` accepts to a new file
/// beside it, fsyncs it, renames it over the journal, fsyncs the directory, and appends to
/// the new file from then on.
fn compact<F: JournalFile>(
    file: &mut F,
    path: &Path,
    len: u64,
    keep: &dyn Fn(&[u8]) -> bool,
) -> std::io::Result<Compacted> {
    let mut old = Vec::new();
    File::open(path)?.take(len).read_to_end(&mut old)?;
    let mut kept = Vec::with_capacity(old.len() / 2);
    let mut stats = Compacted {
        bytes_before: len,
        ..Compacted::default()
    };
    for line in old.split_inclusive(|&b| b == b'\n') {
        let record = line.strip_suffix(b"\n").unwrap_or(line);
        if record.is_empty() {
            continue;
        }
        if keep(record) {
            kept.extend_from_slice(record);
            kept.push(b'\n');
            stats.kept += 1;
        } else {
            stats.dropped += 1;
        }
    }
    stats.bytes_after = kept.len() as u64;
    crate::private_fs::replace_then(path, &kept, || {
        // A failpoint for crash tests (tests/compaction.rs): a compaction that lasts, so that
        // `kill -9` can land between the new file and the rename.
        if let Some(ms) = *COMPACTION_PAUSE_MS {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
    })?;
    file.reopen(path)?;
    Ok(stats)
}

/// Finds where the last complete, readable record of `path` ends; moves what follows (a
/// torn line, or a last line that is not a record) to `<path>.quarantine` and cuts the file
/// there. Returns the length kept.
fn repair_tail(path: &Path, file: &File) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    // Records are a few KiB: the last MiB holds the end of the last good one.
    let window = len.min(1 << 20);
    let mut tail = vec![0; window as usize];
    let mut reader = File::open(path)?;
    reader.seek(SeekFrom::Start(len - window))?;
    reader.read_exact(&mut tail)?;
    let base = len - window;
    let mut keep = match tail.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None if base == 0 => 0,
        None => return Ok(len),
    };
    // A complete last line that is not a record (bytes a failed fsync left behind).
    loop {
        let start = tail[..keep.saturating_sub(1)]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        if keep == 0 || (start == 0 && base > 0) {
            break;
        }
        let line = &tail[start..keep];
        let blank = line.iter().all(u8::is_ascii_whitespace);
        if blank || serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok() {
            break;
        }
        keep = start;
    }
    if keep == tail.len() {
        return Ok(len);
    }
    let quarantined = &tail[keep..];
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".quarantine");
    let quarantine = path.with_file_name(name);
    let mut q = crate::private_fs::open_append(&quarantine)?;
    q.write_all(quarantined)?;
    if !quarantined.ends_with(b"\n") {
        q.write_all(b"\n")?;
    }
    q.sync_all()?;
    let kept = base + keep as u64;
    file.set_len(kept)?;
    file.sync_all()?;
    tracing::warn!(
        bytes = quarantined.len(),
        file = %path.display(),
        quarantine = %quarantine.display(),
        "the journal ended in an incomplete or unreadable record (a crash mid-write): moved it aside"
    );
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::Path;

    use super::{File, Journal, JournalFile};

    fn record(n: u32) -> Vec<u8> {
        format!(r#"{{"schema":1,"id":"r{n}","answers":{{"place":"Mwenga"}}}}"#).into_bytes()
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// A journal file whose appends and fsyncs fail when told: the nth append writes half of
    /// its bytes then fails (a full disk), the nth fsync fails (an I/O error).
    struct Faulty {
        file: File,
        appends: u32,
        syncs: u32,
        fail_append: Option<u32>,
        fail_sync: Option<u32>,
        fail_cut: u32,
    }

    impl JournalFile for Faulty {
        fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
            self.appends += 1;
            if Some(self.appends) == self.fail_append {
                self.file.write_all(&bytes[..bytes.len() / 2])?;
                return Err(std::io::Error::other("no space left on device"));
            }
            self.file.write_all(bytes)
        }

        fn sync(&mut self) -> std::io::Result<()> {
            self.syncs += 1;
            if Some(self.syncs) == self.fail_sync {
                return Err(std::io::Error::other("input/output error"));
            }
            self.file.sync_data()
        }

        fn cut_back(&mut self, len: u64) -> std::io::Result<()> {
            if self.fail_cut > 0 {
                self.fail_cut -= 1;
                return Err(std::io::Error::other("read-only file system"));
            }
            self.file.cut_back(len)
        }

        fn reopen(&mut self, path: &Path) -> std::io::Result<()> {
            self.file.reopen(path)
        }
    }

    fn faulty_journal(
        path: &Path,
        fail_append: Option<u32>,
        fail_sync: Option<u32>,
        fail_cut: u32,
    ) -> (Journal, super::JournalGuard) {
        let file = crate::private_fs::open_append(path).unwrap();
        let faulty = Faulty {
            file,
            appends: 0,
            syncs: 0,
            fail_append,
            fail_sync,
            fail_cut,
        };
        Journal::start(path, faulty, 0).unwrap()
    }

    #[tokio::test]
    async fn a_failed_write_or_fsync_is_cut_back_and_never_glued_to_the_next_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("responses.jsonl");
        // Append 2 fails half-way; the fsync of append 3 fails.
        let (journal, guard) = faulty_journal(&path, Some(2), Some(2), 0);
        assert!(journal.append_line(record(1)).await.is_ok());
        assert!(journal.append_line(record(2)).await.is_err());
        assert!(journal.append_line(record(3)).await.is_err());
        assert!(journal.append_line(record(4)).await.is_ok());
        assert_eq!(
            journal.progress().durable_len(),
            std::fs::metadata(&path).unwrap().len()
        );
        drop(journal);
        guard.finish();
        let got = lines(&path);
        assert_eq!(got.len(), 2, "{got:?}");
        for l in &got {
            serde_json::from_str::<serde_json::Value>(l).unwrap();
        }
        assert!(got[1].contains("\"r4\""));
    }

    #[tokio::test]
    async fn a_journal_that_cannot_be_cut_back_refuses_to_append_until_it_can() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("responses.jsonl");
        // Append 1 fails half-way and the file cannot be cut back twice.
        let (journal, guard) = faulty_journal(&path, Some(1), None, 2);
        assert!(journal.append_line(record(1)).await.is_err());
        // Still torn: refused without writing after the fragment.
        assert!(journal.append_line(record(2)).await.is_err());
        assert!(journal.append_line(record(3)).await.is_ok());
        drop(journal);
        guard.finish();
        let got = lines(&path);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("\"r3\""));
    }

    #[tokio::test]
    async fn a_torn_last_record_is_quarantined_and_the_next_survey_stays_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("responses.jsonl");
        let torn = &record(2)[..20];
        let mut before = record(1);
        before.push(b'\n');
        before.extend_from_slice(torn);
        std::fs::write(&path, &before).unwrap();
        let (journal, guard) = Journal::open_file(&path).unwrap();
        journal.append_line(record(3)).await.unwrap();
        drop(journal);
        guard.finish();
        let got = lines(&path);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[1].contains("\"r3\""), "{got:?}");
        let quarantine = std::fs::read(dir.path().join("responses.jsonl.quarantine")).unwrap();
        assert_eq!(&quarantine[..torn.len()], torn);
    }

    #[tokio::test]
    async fn a_complete_but_unreadable_last_line_is_quarantined_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("responses.jsonl");
        let mut before = record(1);
        before.extend_from_slice(b"\n\0\0\0\0garbage{\"schema\n");
        std::fs::write(&path, &before).unwrap();
        let (journal, guard) = Journal::open_file(&path).unwrap();
        journal.append_line(record(2)).await.unwrap();
        drop(journal);
        guard.finish();
        let got = lines(&path);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].contains("\"r1\"") && got[1].contains("\"r2\""),
            "{got:?}"
        );
        assert!(
            std::fs::read(dir.path().join("responses.jsonl.quarantine"))
                .unwrap()
                .starts_with(b"\0\0\0\0garbage")
        );
        // A clean journal is left as it is.
        let (journal, guard) = Journal::open_file(&path).unwrap();
        drop(journal);
        guard.finish();
        assert_eq!(lines(&path).len(), 2);
    }
}
