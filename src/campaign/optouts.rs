//! The SMS opt-out list: respondents (by pseudonym) who texted a stop word, kept past their
//! conversation and across restarts so that no campaign texts them again until they opt in.
//!
//! `<data-dir>/sms-optouts.jsonl`: one line per change, `{"pseudonym":…,"out":true}` for a
//! stop word and `"out":false` for a keyword texted afterwards; the last line of a pseudonym
//! wins. Pseudonyms only: the list says nothing a response does not already say.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One change to the list.
#[derive(Debug, Serialize, Deserialize)]
struct Change {
    pseudonym: String,
    out: bool,
}

/// The respondents who opted out, in memory, written through to disk.
pub struct OptOuts {
    path: PathBuf,
    // Held across the write: two changes of one respondent land in the order they are made.
    out: tokio::sync::Mutex<HashSet<String>>,
}

impl std::fmt::Debug for OptOuts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OptOuts").field("path", &self.path).finish()
    }
}

impl OptOuts {
    /// The file of `data_dir` (read now; created with the first change).
    pub fn open(data_dir: &Path) -> std::io::Result<OptOuts> {
        let path = data_dir.join("sms-optouts.jsonl");
        let mut out = HashSet::new();
        for c in super::lines::read::<Change>(&path)? {
            if c.out {
                out.insert(c.pseudonym);
            } else {
                out.remove(&c.pseudonym);
            }
        }
        Ok(OptOuts {
            path,
            out: tokio::sync::Mutex::new(out),
        })
    }

    /// Whether `pseudonym` opted out (and not back in).
    pub async fn contains(&self, pseudonym: &str) -> bool {
        self.out.lock().await.contains(pseudonym)
    }

    /// How many respondents are opted out now.
    pub async fn len(&self) -> usize {
        self.out.lock().await.len()
    }

    /// Whether nobody is opted out.
    pub async fn is_empty(&self) -> bool {
        self.out.lock().await.is_empty()
    }

    /// `pseudonym` texted a stop word: on disk before this returns (once per change).
    pub async fn opt_out(&self, pseudonym: &str) -> std::io::Result<()> {
        self.set(pseudonym, true).await
    }

    /// `pseudonym` texted a keyword: campaigns may text them again.
    pub async fn opt_in(&self, pseudonym: &str) -> std::io::Result<()> {
        self.set(pseudonym, false).await
    }

    async fn set(&self, pseudonym: &str, out: bool) -> std::io::Result<()> {
        let mut set = self.out.lock().await;
        if set.contains(pseudonym) == out {
            return Ok(());
        }
        let change = Change {
            pseudonym: pseudonym.to_owned(),
            out,
        };
        super::lines::append_json(&self.path, &change).await?;
        if out {
            set.insert(pseudonym.to_owned());
        } else {
            set.remove(pseudonym);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_opt_out_survives_a_restart_and_a_keyword_undoes_it() {
        let dir = tempfile::tempdir().unwrap();
        let list = OptOuts::open(dir.path()).unwrap();
        list.opt_out("aa").await.unwrap();
        list.opt_out("aa").await.unwrap();
        list.opt_out("bb").await.unwrap();
        list.opt_in("bb").await.unwrap();
        let again = OptOuts::open(dir.path()).unwrap();
        assert!(again.contains("aa").await);
        assert!(!again.contains("bb").await);
        assert_eq!(again.len().await, 1);
        let text = std::fs::read_to_string(dir.path().join("sms-optouts.jsonl")).unwrap();
        assert_eq!(
            text.lines().count(),
            3,
            "a repeated change is not written: {text}"
        );
    }
}
