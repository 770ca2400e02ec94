//! File sink: appends each response as one JSON line to a file and fsyncs it; a response
//! delivered twice (after a crash) is written once, by id.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use super::{Delivery, Sink};
use crate::response::Response;

pub struct FileSink {
    path: PathBuf,
    /// Ids already in the file; the std mutex also serialises the appends.
    written: Mutex<Option<HashSet<String>>>,
}

impl FileSink {
    pub fn new(path: PathBuf) -> FileSink {
        FileSink {
            path,
            written: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn append(&self, id: &str, body: &[u8]) -> std::io::Result<()> {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        if written.is_none() {
            // First use: learn which ids the file already holds.
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
            *written = Some(ids);
        }
        let ids = written.as_mut().expect("loaded above");
        if ids.contains(id) {
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let mut line = body.to_vec();
        line.push(b'\n');
        f.write_all(&line)?;
        f.sync_data()?;
        ids.insert(id.to_owned());
        Ok(())
    }
}

impl Sink for FileSink {
    async fn deliver(&self, response: &Response, body: &[u8]) -> Delivery {
        let id = response.id.clone();
        let body = body.to_vec();
        // Tell the runtime this worker thread blocks on the disk for a moment.
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let written = if multi {
            tokio::task::block_in_place(|| self.append(&id, &body))
        } else {
            self.append(&id, &body)
        };
        match written {
            Ok(()) => Delivery::Delivered,
            Err(e) => Delivery::Retry {
                after: None,
                error: format!("{}: {e}", self.path.display()),
            },
        }
    }
}
