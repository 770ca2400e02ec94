//! What `check` let through now fails it: an echoed free-text answer that, typed in UCS-2 at
//! its full length, would push the receipt off the closing screen; and flow folders holding a
//! FIFO, a link to a device or a huge list are reported, quickly, never read for ever.

mod common;

use std::path::Path;
use std::process::Command;

fn check(flows: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sauti"))
        .arg("check")
        .arg(flows)
        .arg("--locales")
        .arg(flows.parent().unwrap().join("locales"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn setup(flow: &str, ftl: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("flows")).unwrap();
    std::fs::create_dir_all(dir.path().join("locales/fr")).unwrap();
    std::fs::copy(
        Path::new(common::REPO).join("locales/fr/sauti.ftl"),
        dir.path().join("locales/fr/sauti.ftl"),
    )
    .unwrap();
    std::fs::write(dir.path().join("flows/echo.toml"), flow).unwrap();
    std::fs::write(dir.path().join("locales/fr/echo.ftl"), ftl).unwrap();
    dir
}

const FLOW: &str = r#"spec = 1
id = "echo"
version = 1
languages = ["fr"]
ussd = ["*9#"]

[[step]]
id = "what"
kind = "text"
max_len = 100

[[step]]
id = "done"
kind = "end"
"#;

#[test]
fn an_echoed_free_text_answer_is_counted_at_its_worst() {
    let dir = setup(
        FLOW,
        "what = Qu'avez-vous vu?\ndone = Merci. Vous avez dit: { $what }. Gardez ce code: { $receipt }\n",
    );
    let (ok, out) = check(&dir.path().join("flows"));
    assert!(!ok, "{out}");
    assert!(out.contains("echo.toml"), "{out}");
    // A short echo of the same answer fits.
    let dir = setup(
        &FLOW.replace("max_len = 100", "max_len = 10"),
        "what = Qu'avez-vous vu?\ndone = Merci. Vous avez dit: { $what }. Code: { $receipt }\n",
    );
    let (ok, out) = check(&dir.path().join("flows"));
    assert!(ok, "{out}");
}

#[cfg(unix)]
#[test]
fn fifos_devices_and_huge_lists_are_reported_not_read() {
    let dir = setup(FLOW, "what = Quoi?\ndone = Merci.\n");
    let flows = dir.path().join("flows");
    std::os::unix::fs::symlink("/dev/zero", flows.join("zero.toml")).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(flows.join("fifo.toml"))
            .status()
            .unwrap()
            .success()
    );
    let options: Vec<String> = (0..90_000).map(|i| format!("\"o{i}\"")).collect();
    std::fs::write(
        flows.join("huge.toml"),
        format!(
            "spec = 1\nid = \"huge\"\nversion = 1\nlanguages = [\"fr\"]\nussd = [\"*8#\"]\n[lists.l]\noptions = [{}]\n[[step]]\nid = \"a\"\nkind = \"choice\"\nlist = \"l\"\n[[step]]\nid = \"e\"\nkind = \"end\"\n",
            options.join(",")
        ),
    )
    .unwrap();
    let (ok, out) = check(&flows);
    assert!(!ok);
    assert!(
        out.contains("zero.toml:") && out.contains("not a regular file"),
        "{out}"
    );
    assert!(out.contains("fifo.toml:"), "{out}");
    assert!(out.contains("at most 96 options"), "{out}");
}
