//! Append-only files of JSON lines (a campaign's progress and events, the opt-out list):
//! each line fsynced before it counts; a line torn by a crash is skipped, never glued.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The most a line file may hold to be read (a panel of a million members is ~60 MB of
/// progress): a file grown past it by anything but Sauti is refused, not read into memory.
const MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Appends `line` (a newline added) to `path`, created 0600, and fsyncs it. A last line left
/// torn by a crash is ended first, so that it stays one unreadable line.
pub fn append(path: &Path, line: &[u8]) -> std::io::Result<()> {
    let mut file = crate::private_fs::open_append(path)?;
    let mut out = Vec::with_capacity(line.len() + 2);
    if ends_torn(path)? {
        out.push(b'\n');
    }
    out.extend_from_slice(line);
    out.push(b'\n');
    file.write_all(&out)?;
    file.sync_data()
}

/// Appends `value` as a JSON line (see [`append`]), off the async threads.
pub async fn append_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let line = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || append(&path, &line))
        .await
        .map_err(std::io::Error::other)?
}

/// Whether `path` is non-empty and does not end with a newline.
fn ends_torn(path: &Path) -> std::io::Result<bool> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    f.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    f.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// Every readable line of `path` as a `T`, in order; none if the file does not exist. Lines
/// that are not a `T` (torn by a crash, or written by hand) are skipped.
pub fn read<T: DeserializeOwned>(path: &Path) -> std::io::Result<Vec<T>> {
    let bytes = match std::fs::File::open(path) {
        Ok(f) => {
            let mut bytes = Vec::new();
            f.take(MAX_BYTES + 1).read_to_end(&mut bytes)?;
            if bytes.len() as u64 > MAX_BYTES {
                return Err(std::io::Error::other(format!(
                    "{} is larger than {MAX_BYTES} bytes",
                    path.display()
                )));
            }
            bytes
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_line_is_skipped_and_the_next_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("progress");
        append(&path, b"1").unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"torn")
            .unwrap();
        append(&path, b"3").unwrap();
        assert_eq!(read::<u32>(&path).unwrap(), vec![1, 3]);
        assert!(read::<u32>(&dir.path().join("none")).unwrap().is_empty());
    }
}
