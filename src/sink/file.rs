//! File sink: appends each response as one JSON line to a file, fsynced (concurrent
//! deliveries share an fsync); a response delivered twice (after a crash) is written once.

use std::collections::HashSet;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Mutex;

use super::{Delivery, Sink};
use crate::journal::{Journal, JournalGuard};
use crate::response::ResponseHead;

pub struct FileSink {
    path: PathBuf,
    /// Opened on first use: ids already in the file, and its group-commit writer.
    state: tokio::sync::OnceCell<Result<Open, String>>,
}

struct Open {
    /// Ids written or being written; an id is removed again if its write fails.
    ids: Mutex<HashSet<String>>,
    journal: Journal,
    _guard: JournalGuard,
}

impl FileSink {
    pub fn new(path: PathBuf) -> FileSink {
        FileSink {
            path,
            state: tokio::sync::OnceCell::new(),
        }
    }

    fn open(&self) -> Result<Open, String> {
        let mut ids = HashSet::new();
        if let Ok(f) = std::fs::File::open(&self.path) {
            for line in std::io::BufReader::new(f).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(id) = v["id"].as_str()
                {
                    ids.insert(id.to_owned());
                }
            }
        }
        let (journal, guard) = Journal::open_file(&self.path).map_err(|e| e.to_string())?;
        Ok(Open {
            ids: Mutex::new(ids),
            journal,
            _guard: guard,
        })
    }
}

impl Sink for FileSink {
    async fn deliver(&self, response: &ResponseHead, body: &[u8]) -> Delivery {
        let open = self.state.get_or_init(|| async { self.open() }).await;
        let open = match open {
            Ok(o) => o,
            Err(e) => {
                return Delivery::Retry {
                    after: None,
                    error: format!("{}: {e}", self.path.display()),
                };
            }
        };
        if !open
            .ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(response.id.clone())
        {
            return Delivery::Delivered;
        }
        match open.journal.append_line(body.to_vec()).await {
            Ok(()) => Delivery::Delivered,
            Err(e) => {
                open.ids
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&response.id);
                Delivery::Retry {
                    after: None,
                    error: format!("{}: {e}", self.path.display()),
                }
            }
        }
    }
}
