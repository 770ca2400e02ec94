//! Every `sauti` command the README and the docs show runs as written, on a copy of the
//! project: a researcher who copies one never meets a flag that does not exist, an example
//! that exits for want of a setting, or answers that no longer fit the flow.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// A command line from a ```sh block of a document.
struct Shown {
    doc: String,
    line: String,
}

fn shown_commands() -> Vec<Shown> {
    let mut docs = vec![PathBuf::from(REPO).join("README.md")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(Path::new(REPO).join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    more.sort();
    docs.extend(more);
    let mut out = Vec::new();
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        let mut in_shell = false;
        for line in text.lines() {
            let trimmed = line.trim();
            if let Some(lang) = trimmed.strip_prefix("```") {
                in_shell = !in_shell && matches!(lang, "sh" | "bash" | "shell");
                continue;
            }
            if !in_shell {
                continue;
            }
            let command = trimmed.split(" # ").next().unwrap_or("").trim();
            let is_sauti = command
                .split_whitespace()
                .find(|w| !w.contains('='))
                .is_some_and(|w| w == "sauti" || w == "cargo");
            if is_sauti && !command.starts_with('#') {
                out.push(Shown {
                    doc: doc.file_name().unwrap().to_string_lossy().into_owned(),
                    line: command.to_owned(),
                });
            }
        }
    }
    out
}

/// Splits a command line as a shell would (quotes, no expansions but the ones the docs use).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (None, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        out.push(word);
    }
    out
}

/// A copy of the project, with a sink for the outbox commands and a few responses.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["flows", "locales/fr", "locales/sw", "locales/ln"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for e in std::fs::read_dir(Path::new(REPO).join(sub)).unwrap() {
            let e = e.unwrap();
            if e.path().is_file() {
                std::fs::copy(e.path(), dir.path().join(sub).join(e.file_name())).unwrap();
            }
        }
    }
    std::fs::write(
        dir.path().join("sauti.toml"),
        "[sinks.partners]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hooks\"\nsecret = \"whsec_c2F1dGktdGVzdC13ZWJob29rLXNlY3JldC0zMmJ5dGU=\"\n",
    )
    .unwrap();
    // Responses as `simulate` makes them, in the data directory the docs use.
    let mut journal = String::new();
    for answers in [
        "1,1,2,5,14032026,1,Mwenga,000,12,2",
        "2,1,1,1,1,Shabunda,000,3,2",
        "3,2",
    ] {
        let out = sauti(dir.path(), &["simulate", "kufatilia", "--answers", answers]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let json = stdout
            .split("--- response ---")
            .nth(1)
            .unwrap_or_else(|| panic!("simulate {answers}: {stdout}"));
        let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        journal.push_str(&v.to_string());
        journal.push('\n');
    }
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/responses.jsonl"), journal).unwrap();
    dir
}

fn sauti(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sauti"))
        .current_dir(dir)
        .args(args)
        .env_remove("SAUTI_PROFILE")
        .env_remove("SAUTI_PSEUDONYM_KEY")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Why a command is not run here, when it is not: it needs something of the reader's.
fn not_runnable_here(args: &[String]) -> Option<&'static str> {
    if args.iter().any(|a| a.contains('<')) {
        return Some("a placeholder for the reader's own value");
    }
    if args.iter().any(|a| a.starts_with("redis://")) {
        return Some("the reader's Redis");
    }
    if args
        .iter()
        .any(|a| a.starts_with("/etc/") || a == "household.xlsx" || a.ends_with("my-survey.toml"))
    {
        return Some("a file of the reader's");
    }
    None
}

#[test]
fn every_command_in_the_docs_runs_as_written() {
    let shown = shown_commands();
    assert!(
        shown.len() > 20,
        "the docs show more commands than {}",
        shown.len()
    );
    let dir = project();
    let mut ran = 0;
    let mut failures = Vec::new();
    for s in &shown {
        let mut all = words(&s.line);
        let mut env = Vec::new();
        while all
            .first()
            .is_some_and(|w| w.contains('=') && !w.starts_with('-'))
        {
            let w = all.remove(0);
            let (k, v) = w.split_once('=').unwrap();
            // `$(openssl rand -hex 32)`: a key of that shape.
            let v = if v.starts_with("$(") {
                "0123456789abcdef".repeat(4)
            } else {
                v.to_owned()
            };
            env.push((k.to_owned(), v));
        }
        // `$(openssl rand -hex 32)` split into words: drop the rest of it.
        all.retain(|w| !w.starts_with("rand") && w != "-hex" && w != "32)");
        let args: Vec<String> = match all.first().map(String::as_str) {
            Some("sauti") => all[1..].to_vec(),
            // `cargo run [--release] -- ...` only (not `cargo +nightly fuzz run`).
            Some("cargo") if all.get(1).is_some_and(|w| w == "run") => {
                match all.iter().position(|w| w == "--") {
                    Some(i) => all[i + 1..].to_vec(),
                    None => continue,
                }
            }
            _ => continue,
        };
        let (args, stdout_to) = match args.iter().position(|a| a == ">") {
            Some(i) => (args[..i].to_vec(), args.get(i + 1).cloned()),
            None => (args, None),
        };
        if not_runnable_here(&args).is_some() {
            continue;
        }
        ran += 1;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sauti"));
        cmd.current_dir(dir.path())
            .args(&args)
            .env_remove("SAUTI_PROFILE")
            .env_remove("SAUTI_PSEUDONYM_KEY")
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if args.first().is_some_and(|a| a == "serve") {
            // A server: it runs as written when it gets to listening (on a free port here).
            let mut child = cmd.args(["--listen", "127.0.0.1:0"]).spawn().unwrap();
            let mut first = String::new();
            let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
            let deadline = Instant::now() + Duration::from_secs(20);
            let _ = std::io::BufRead::read_line(&mut out, &mut first);
            let _ = child.kill();
            let _ = child.wait();
            if !first.starts_with("sauti listening on") || Instant::now() > deadline {
                failures.push(format!("{}: `{}` did not start: {first}", s.doc, s.line));
            }
            continue;
        }
        let out = cmd.output().unwrap();
        if let Some(file) = stdout_to {
            std::fs::write(dir.path().join(file), &out.stdout).unwrap();
        }
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // `check --voice` is shown as the check that fails while recordings are missing.
        let documented_failure =
            args.iter().any(|a| a == "--voice") && text.contains("no recording of");
        if !out.status.success() && !documented_failure {
            failures.push(format!(
                "{}: `{}` exited {:?}:\n{}",
                s.doc,
                s.line,
                out.status.code(),
                text.lines().take(8).collect::<Vec<_>>().join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(ran > 15, "only {ran} commands ran");
}
