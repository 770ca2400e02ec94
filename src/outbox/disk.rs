//! The embedded outbox: `responses.jsonl` (appended and fsynced by the hop) is the queue;
//! each sink keeps what it has delivered in `outbox/<sink>.acks` and its dead letters (and
//! their replays) in `outbox/<sink>.dead`. All appends are fsynced, so `kill -9` loses nothing.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::journal::JournalProgress;

use super::{
    Admin, DeadLetter, Entry, Item, OutboxError, Queue, SinkStatus, now_rfc3339, now_unix_ms,
    unix_ms,
};
use crate::response::ResponseHead;

/// A line of `<sink>.dead`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum DeadEvent {
    Dead(DeadLetter),
    Replayed { id: String, at: String },
}

struct State<P> {
    /// Bytes of the queue file already read.
    offset: u64,
    /// Bytes of the dead file already read (replays are written there by `sauti outbox`).
    dead_offset: u64,
    /// Delivered or dead: never handed out again (until replayed).
    done: HashSet<String>,
    /// Handed to the worker, not yet acknowledged.
    taken: HashSet<String>,
    pending: VecDeque<Entry<P>>,
    queued_ids: HashSet<String>,
    /// When dead letters were put back (unix ms): their retries count from then.
    replayed_at: HashMap<String, i64>,
}

impl<P> State<P> {
    fn new(dead_offset: u64, done: HashSet<String>, replayed_at: HashMap<String, i64>) -> State<P> {
        State {
            offset: 0,
            dead_offset,
            done,
            taken: HashSet::new(),
            pending: VecDeque::new(),
            queued_ids: HashSet::new(),
            replayed_at,
        }
    }
}

pub struct DiskQueue<P = ResponseHead> {
    sink: String,
    flows: Vec<String>,
    log: PathBuf,
    acks: PathBuf,
    dead: PathBuf,
    state: Mutex<State<P>>,
    /// How far `responses.jsonl` is durable: nothing past it is read (a failed write is being
    /// cut back there).
    journal: Arc<JournalProgress>,
}

fn append_line(path: &Path, line: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        crate::private_fs::create_dir_all(dir)?;
    }
    let mut f = crate::private_fs::open_append(path)?;
    let mut buf = line.to_vec();
    buf.push(b'\n');
    f.write_all(&buf)?;
    f.sync_data()
}

/// Complete lines of `path` from byte `from`; returns them and the new offset.
fn read_lines(path: &Path, from: u64) -> std::io::Result<(Vec<String>, u64)> {
    read_lines_until(path, from, u64::MAX)
}

/// Complete lines of `path` between bytes `from` and `until`.
fn read_lines_until(path: &Path, from: u64, until: u64) -> std::io::Result<(Vec<String>, u64)> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), from)),
        Err(e) => return Err(e),
    };
    let mut f = std::io::BufReader::new(f);
    f.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::new();
    f.take(until.saturating_sub(from)).read_to_end(&mut bytes)?;
    // A line still being written (no newline yet) is read next time.
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let lines = bytes[..complete]
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty())
        .collect();
    Ok((lines, from + complete as u64))
}

fn read_acks(path: &Path) -> std::io::Result<HashSet<String>> {
    Ok(read_lines(path, 0)?
        .0
        .into_iter()
        .map(|l| l.trim().to_owned())
        .collect())
}

/// When each replayed response was last put back (unix ms).
fn replay_times(events: &[String]) -> HashMap<String, i64> {
    events
        .iter()
        .filter_map(|line| match serde_json::from_str::<DeadEvent>(line) {
            Ok(DeadEvent::Replayed { id, at }) => {
                Some((id, unix_ms(&at).unwrap_or_else(now_unix_ms)))
            }
            _ => None,
        })
        .collect()
}

/// Dead letters still dead (not replayed), in order.
fn current_dead(events: &[String]) -> Vec<DeadLetter> {
    let mut dead: Vec<DeadLetter> = Vec::new();
    for line in events {
        match serde_json::from_str::<DeadEvent>(line) {
            Ok(DeadEvent::Dead(d)) => {
                dead.retain(|x| x.id != d.id);
                dead.push(d);
            }
            Ok(DeadEvent::Replayed { id, .. }) => dead.retain(|x| x.id != id),
            Err(_) => {}
        }
    }
    dead
}

impl DiskQueue<ResponseHead> {
    /// The queue of `sink` over `data_dir/responses.jsonl`, read as far as `journal` says
    /// it is durable (and woken by it after each append).
    pub fn open(
        data_dir: &Path,
        sink: &str,
        flows: &[String],
        journal: Arc<JournalProgress>,
    ) -> Result<DiskQueue, OutboxError> {
        DiskQueue::open_log(data_dir, "responses.jsonl", sink, flows, journal)
    }

    /// For `sauti outbox`: reads the files, runs no worker.
    pub fn admin(data_dir: &Path, sink: &str, flows: &[String]) -> DiskQueue {
        DiskQueue::paths(
            data_dir,
            "responses.jsonl",
            sink,
            flows,
            JournalProgress::whole_file(),
        )
    }
}

impl<P: Item> DiskQueue<P> {
    /// The queue of `sink` over the journal `data_dir/<log>`.
    pub fn open_log(
        data_dir: &Path,
        log: &str,
        sink: &str,
        flows: &[String],
        journal: Arc<JournalProgress>,
    ) -> Result<DiskQueue<P>, OutboxError> {
        let q = DiskQueue::paths(data_dir, log, sink, flows, journal);
        let mut done = read_acks(&q.acks)?;
        let (events, dead_offset) = read_lines(&q.dead, 0)?;
        for d in current_dead(&events) {
            done.insert(d.id);
        }
        *q.state.try_lock().expect("new queue") =
            State::new(dead_offset, done, replay_times(&events));
        Ok(q)
    }

    fn paths(
        data_dir: &Path,
        log: &str,
        sink: &str,
        flows: &[String],
        journal: Arc<JournalProgress>,
    ) -> DiskQueue<P> {
        DiskQueue {
            sink: sink.to_owned(),
            flows: flows.to_vec(),
            log: data_dir.join(log),
            acks: data_dir.join("outbox").join(format!("{sink}.acks")),
            dead: data_dir.join("outbox").join(format!("{sink}.dead")),
            state: Mutex::new(State::new(0, HashSet::new(), HashMap::new())),
            journal,
        }
    }

    /// For `sauti outbox`: reads the files of the journal `log`, runs no worker.
    pub fn admin_of(data_dir: &Path, log: &str, sink: &str, flows: &[String]) -> DiskQueue<P> {
        DiskQueue::paths(data_dir, log, sink, flows, JournalProgress::whole_file())
    }

    fn wants(&self, flow: &str) -> bool {
        self.flows.is_empty() || self.flows.iter().any(|f| f == flow)
    }

    fn refill(&self, st: &mut State<P>) -> Result<(), OutboxError> {
        // Replays written by `sauti outbox replay` since the last look: hand them out again.
        let (events, dead_offset) = read_lines(&self.dead, st.dead_offset)?;
        st.dead_offset = dead_offset;
        let replayed = replay_times(&events);
        let rescan = !replayed.is_empty();
        for (id, at) in replayed {
            st.done.remove(&id);
            st.replayed_at.insert(id, at);
        }
        if rescan {
            st.offset = 0;
        }
        let (lines, offset) = read_lines_until(&self.log, st.offset, self.journal.durable_len())?;
        st.offset = offset;
        for line in lines {
            let Some(item) = P::parse(line.as_bytes()) else {
                tracing::warn!(sink = %self.sink, journal = %self.log.display(), "skipping an unreadable line of the journal");
                continue;
            };
            let id = item.id().to_owned();
            if !self.wants(item.flow())
                || st.done.contains(&id)
                || st.taken.contains(&id)
                || st.queued_ids.contains(&id)
            {
                continue;
            }
            st.queued_ids.insert(id.clone());
            let queued_at_ms = st
                .replayed_at
                .get(&id)
                .copied()
                .or_else(|| item.queued_at_ms())
                .unwrap_or_else(now_unix_ms);
            st.pending.push_back(Entry {
                key: id,
                item,
                body: line.into_bytes(),
                queued_at_ms,
            });
        }
        Ok(())
    }
}

impl<P: Item> Queue<P> for DiskQueue<P> {
    async fn next_batch(&self, max: usize, wait: Duration) -> Result<Vec<Entry<P>>, OutboxError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Registered before looking, so an append between the look and the wait is seen.
            let appended = self.journal.notified();
            tokio::pin!(appended);
            appended.as_mut().enable();
            {
                let mut st = self.state.lock().await;
                self.refill(&mut st)?;
                let n = st.pending.len().min(max);
                if n > 0 {
                    let batch: Vec<Entry<P>> = st.pending.drain(..n).collect();
                    for e in &batch {
                        st.queued_ids.remove(&e.key);
                        st.taken.insert(e.key.clone());
                    }
                    return Ok(batch);
                }
            }
            let poll = deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .min(Duration::from_secs(1));
            if poll.is_zero() {
                return Ok(Vec::new());
            }
            let _ = tokio::time::timeout(poll, appended).await;
        }
    }

    async fn ack_many(&self, entries: &[Entry<P>]) -> Result<(), OutboxError> {
        let path = self.acks.clone();
        let ids: Vec<u8> = entries
            .iter()
            .map(|e| e.key.as_str())
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes();
        // Under the lock: a compaction rewrites this file only while it holds the lock.
        let mut st = self.state.lock().await;
        tokio::task::spawn_blocking(move || append_line(&path, &ids))
            .await
            .map_err(std::io::Error::other)??;
        for e in entries {
            st.taken.remove(&e.key);
            st.done.insert(e.key.clone());
        }
        Ok(())
    }

    async fn bury(&self, entry: &Entry<P>, error: &str, attempts: u32) -> Result<(), OutboxError> {
        let event = DeadEvent::Dead(DeadLetter {
            id: entry.key.clone(),
            flow: entry.item.flow().to_owned(),
            error: error.to_owned(),
            attempts,
            at: now_rfc3339(),
        });
        let line = serde_json::to_vec(&event).map_err(std::io::Error::other)?;
        let path = self.dead.clone();
        tokio::task::spawn_blocking(move || append_line(&path, &line))
            .await
            .map_err(std::io::Error::other)??;
        let mut st = self.state.lock().await;
        st.taken.remove(&entry.key);
        st.done.insert(entry.key.clone());
        // Our own event: nothing to replay in it.
        let (_, offset) = read_lines(&self.dead, st.dead_offset)?;
        st.dead_offset = offset;
        Ok(())
    }

    async fn keep(&self, _entries: &[Entry<P>]) -> Result<(), OutboxError> {
        Ok(())
    }
}

/// A queue held still while the journal is compacted: no read, acknowledgement or burial
/// happens until it is dropped.
pub struct Held<'a, P> {
    queue: &'a DiskQueue<P>,
    state: tokio::sync::MutexGuard<'a, State<P>>,
}

impl<P> DiskQueue<P> {
    /// Holds the queue still (see [`Held`]).
    pub async fn hold(&self) -> Held<'_, P> {
        Held {
            queue: self,
            state: self.state.lock().await,
        }
    }
}

impl<P> Held<'_, P> {
    /// The flows this sink takes (empty: every flow).
    pub fn flows(&self) -> Vec<String> {
        self.queue.flows.clone()
    }

    /// The ids this sink has delivered, as its acknowledgement file says.
    pub fn delivered(&self) -> Result<HashSet<String>, OutboxError> {
        Ok(read_acks(&self.queue.acks)?)
    }

    /// After the journal was compacted to the responses `kept`: the acknowledgements of the
    /// others are dropped (their responses are gone; each id is used once), and the queue reads
    /// the new journal from its start. Crash-safe: a crash before the rename leaves the old
    /// file, whose extra ids name responses that no longer exist.
    pub fn journal_compacted(&mut self, kept: &HashSet<String>) -> Result<(), OutboxError> {
        let acks = read_acks(&self.queue.acks)?;
        let mut still: Vec<&String> = acks.iter().filter(|id| kept.contains(*id)).collect();
        still.sort();
        if still.len() < acks.len() {
            let mut body = Vec::new();
            for id in still {
                body.extend_from_slice(id.as_bytes());
                body.push(b'\n');
            }
            crate::private_fs::replace(&self.queue.acks, &body)?;
        }
        self.state.offset = 0;
        Ok(())
    }

    /// Rewrites the dead-letter file with the letters still dead (replays and replaced letters
    /// left out). Only at start: `sauti outbox replay` from another process appends to it.
    pub fn compact_dead_letters(&mut self) -> Result<(), OutboxError> {
        let (events, _) = read_lines(&self.queue.dead, 0)?;
        let dead = current_dead(&events);
        let acked = read_acks(&self.queue.acks)?;
        // A replay not yet delivered keeps its time: its retries count from it.
        let replays: Vec<DeadEvent> = replay_times(&events)
            .into_iter()
            .filter(|(id, _)| !acked.contains(id) && !dead.iter().any(|d| &d.id == id))
            .map(|(id, at)| DeadEvent::Replayed {
                id,
                at: crate::survey::rfc3339(
                    time::OffsetDateTime::from_unix_timestamp_nanos(at as i128 * 1_000_000)
                        .unwrap_or_else(|_| time::OffsetDateTime::now_utc()),
                ),
            })
            .collect();
        if dead.len() + replays.len() == events.len() {
            return Ok(());
        }
        let mut body = Vec::new();
        for event in dead.into_iter().map(DeadEvent::Dead).chain(replays) {
            body.extend(serde_json::to_vec(&event).map_err(std::io::Error::other)?);
            body.push(b'\n');
        }
        crate::private_fs::replace(&self.queue.dead, &body)?;
        let (_, offset) = read_lines(&self.queue.dead, 0)?;
        self.state.dead_offset = offset;
        Ok(())
    }
}

impl<P: Item> Admin for DiskQueue<P> {
    async fn status(&self) -> Result<SinkStatus, OutboxError> {
        let acks = read_acks(&self.acks)?;
        let dead: HashSet<String> = current_dead(&read_lines(&self.dead, 0)?.0)
            .into_iter()
            .map(|d| d.id)
            .collect();
        let mut status = SinkStatus {
            sink: self.sink.clone(),
            dead: dead.len() as u64,
            ..SinkStatus::default()
        };
        let mut seen = HashSet::new();
        for line in read_lines(&self.log, 0)?.0 {
            let Some(r) = P::parse(line.as_bytes()) else {
                continue;
            };
            if !self.wants(r.flow()) || !seen.insert(r.id().to_owned()) {
                continue;
            }
            if acks.contains(r.id()) {
                status.delivered += 1;
            } else if !dead.contains(r.id()) {
                status.queued += 1;
                let age = r.queued_at_ms().map_or(0, |at| {
                    (now_unix_ms().saturating_sub(at) / 1000).max(0) as u64
                });
                status.oldest_age_secs = Some(status.oldest_age_secs.map_or(age, |a| a.max(age)));
            }
        }
        Ok(status)
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, OutboxError> {
        Ok(current_dead(&read_lines(&self.dead, 0)?.0))
    }

    async fn replay(&self, id: Option<&str>) -> Result<usize, OutboxError> {
        let dead = current_dead(&read_lines(&self.dead, 0)?.0);
        let chosen: Vec<&DeadLetter> = dead
            .iter()
            .filter(|d| id.is_none_or(|i| d.id == i))
            .collect();
        if let (Some(i), true) = (id, chosen.is_empty()) {
            return Err(OutboxError::NoSuchDeadLetter(i.to_owned()));
        }
        for d in &chosen {
            let event = DeadEvent::Replayed {
                id: d.id.clone(),
                at: now_rfc3339(),
            };
            append_line(
                &self.dead,
                &serde_json::to_vec(&event).map_err(std::io::Error::other)?,
            )?;
        }
        Ok(chosen.len())
    }
}
