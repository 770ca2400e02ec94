//! Files that hold surveys, acknowledgements or keys are Sauti's alone: created 0600, their
//! directories 0700, whatever the umask (a shared server must not let other accounts read
//! responses or the pseudonym key).

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates `dir` and its missing parents, each readable by this user only, and makes each
/// level durable: a directory created but not fsynced in its parent can vanish in a power
/// loss with every file inside it.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at.filter(|d| !d.as_os_str().is_empty()) {
        if d.is_dir() {
            break;
        }
        missing.push(d);
        at = d.parent();
    }
    for d in missing.into_iter().rev() {
        let mut b = DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        match b.create(d) {
            Ok(()) => sync_parent(d)?,
            // Made meanwhile by another thread or process: theirs to make durable.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Fsyncs `dir` itself (its entries: files created, renamed or removed in it).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)?.sync_all()
}

/// Fsyncs the directory holding `path`, so that its entry for `path` is durable.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Opens `path` for appending, creating it readable by this user only (and durable in its
/// directory when it is new).
pub fn open_append(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.append(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    match o.open(path) {
        Ok(f) => {
            sync_parent(path)?;
            Ok(f)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            OpenOptions::new().append(true).open(path)
        }
        Err(e) => Err(e),
    }
}

/// Creates `path` (it must not exist), readable by this user only, durable in its directory.
pub fn create_new(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let f = o.open(path)?;
    sync_parent(path)?;
    Ok(f)
}

/// Replaces `path` with `data` so that a crash leaves either the old or the new content:
/// written to a temporary file beside it, fsynced, renamed over it, directory fsynced.
pub fn replace(path: &Path, data: &[u8]) -> io::Result<()> {
    replace_then(path, data, || {})
}

/// [`replace`], running `before_rename` once the new content is durable beside the old.
pub fn replace_then(path: &Path, data: &[u8], before_rename: impl FnOnce()) -> io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let _ = std::fs::remove_file(&tmp);
    let mut f = create_new(&tmp)?;
    io::Write::write_all(&mut f, data)?;
    f.sync_all()?;
    drop(f);
    before_rename();
    std::fs::rename(&tmp, path)?;
    sync_parent(path)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_and_directories_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        super::create_dir_all(&nested).unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);
        super::open_append(&nested.join("f")).unwrap();
        assert_eq!(mode(&nested.join("f")), 0o600);
        super::create_new(&nested.join("g")).unwrap();
        assert_eq!(mode(&nested.join("g")), 0o600);
        assert!(super::create_new(&nested.join("g")).is_err());
    }

    #[test]
    fn a_replaced_file_has_the_new_content_and_no_temporary_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/deeper/acks");
        super::create_dir_all(path.parent().unwrap()).unwrap();
        super::replace(&path, b"one\n").unwrap();
        super::replace(&path, b"two\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two\n");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("acks")]);
    }
}
