//! Reading the files researchers write (flows, translations): regular files only, and bounded,
//! so that a link to `/dev/zero` or a FIFO in the flows folder is a problem reported, never a
//! process reading until memory runs out or waiting for ever.

use std::io::Read;
use std::path::Path;

/// The largest flow or translation file read (a flow of hundreds of steps is a few tens of KiB).
pub const MAX_BYTES: u64 = 1024 * 1024;

/// The text of `path`, or why it was not read.
pub fn read(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("cannot read: not a regular file (a FIFO, a device or a folder?)".into());
    }
    if meta.len() > MAX_BYTES {
        return Err(format!(
            "cannot read: {} bytes, more than the {MAX_BYTES} a flow or translation file may have",
            meta.len()
        ));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| format!("cannot read: {e}"))?;
    if text.len() as u64 > MAX_BYTES {
        return Err(format!(
            "cannot read: more than the {MAX_BYTES} bytes a flow or translation file may have"
        ));
    }
    Ok(text)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_of_a_sane_size_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("a.toml");
        std::fs::write(&ok, "spec = 1").unwrap();
        assert_eq!(read(&ok).unwrap(), "spec = 1");
        let zero = dir.path().join("zero.toml");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(read(&zero).unwrap_err().contains("not a regular file"));
        let fifo = dir.path().join("fifo.toml");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        assert!(read(&fifo).unwrap_err().contains("not a regular file"));
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_BYTES as usize + 1]).unwrap();
        assert!(read(&big).unwrap_err().contains("bytes"));
        assert!(read(dir.path()).is_err());
    }
}
