//! A researcher adds Swahili to a survey written in French: `sauti locales` writes the file to
//! translate (and the engine's texts the new folder lacks), `check` says what is still
//! untranslated, and once translated the survey passes.

use std::path::Path;
use std::process::{Command, Output};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn sauti(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sauti"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_skeleton_for_a_new_language_once_translated_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("flows")).unwrap();
    std::fs::create_dir_all(p.join("locales/fr")).unwrap();
    // The incident report, offered in French and Swahili, with only French written so far.
    let flow = std::fs::read_to_string(Path::new(REPO).join("flows/kufatilia.toml")).unwrap();
    let flow = flow
        .lines()
        .map(|l| {
            if l.starts_with("languages") {
                "languages = [\"fr\", \"sw\"]".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(p.join("flows/kufatilia.toml"), flow).unwrap();
    for f in ["kufatilia.ftl", "sauti.ftl"] {
        std::fs::copy(
            Path::new(REPO).join("locales/fr").join(f),
            p.join("locales/fr").join(f),
        )
        .unwrap();
    }
    let before = sauti(p, &["check"]);
    assert!(!before.status.success());
    assert!(
        text(&before).contains("`sauti locales kufatilia --lang sw --locales locales` writes it"),
        "{}",
        text(&before)
    );

    let made = sauti(p, &["locales", "kufatilia", "--lang", "sw"]);
    assert!(made.status.success(), "{}", text(&made));
    let skeleton = std::fs::read_to_string(p.join("locales/sw/kufatilia.ftl")).unwrap();
    assert!(skeleton.contains("# fr: consent = "), "{skeleton}");
    assert!(p.join("locales/sw/sauti.ftl").exists());

    // Valid at once, but every sentence is still French: check says so.
    let untranslated = sauti(p, &["check"]);
    assert!(untranslated.status.success(), "{}", text(&untranslated));
    assert!(
        text(&untranslated).contains("in `sw` is the same as in `fr`: not translated yet?"),
        "{}",
        text(&untranslated)
    );

    // The translator fills every message in.
    let translated: String = skeleton
        .lines()
        .map(|l| match l.split_once(" = ") {
            Some((id, value)) if !l.starts_with('#') && !l.starts_with(' ') => {
                format!("{id} = (sw) {value}\n")
            }
            _ => format!("{l}\n"),
        })
        .collect();
    std::fs::write(p.join("locales/sw/kufatilia.ftl"), translated).unwrap();
    let done = sauti(p, &["check"]);
    assert!(done.status.success(), "{}", text(&done));
    assert!(!text(&done).contains("not translated"), "{}", text(&done));

    // Run again, it adds nothing and keeps the translation.
    let again = sauti(p, &["locales", "kufatilia", "--lang", "sw"]);
    assert!(
        text(&again).contains(": 0 message(s) to translate added"),
        "{}",
        text(&again)
    );
    assert!(
        std::fs::read_to_string(p.join("locales/sw/kufatilia.ftl"))
            .unwrap()
            .contains("(sw)")
    );
}
