//! The recorded prompts: files under the audio directory, `DIR/<lang>/<message-id>.wav` (or
//! `.mp3`; `<message-id>.synthetic.wav` for a machine-made stand-in), found once at start-up
//! and served at `GET /audio/<lang>/<file>` with ranges and cache headers.

pub mod http;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::hash::FnvBuildHasher;

/// How a prompt exists on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFile {
    /// Relative to the audio directory, `/`-separated: `fr/incident.wav`.
    pub path: String,
    /// Made by a speech synthesiser (`sauti prompts --synthesize`), not a person.
    pub synthetic: bool,
    /// Where gateways fetch it: the catalogue's base URL and `path`.
    pub url: Arc<str>,
}

/// Every recorded prompt, by language and message id.
#[derive(Debug, Clone, Default)]
pub struct AudioCatalogue {
    dir: PathBuf,
    /// By language, then message id; looked up for every clip of every prompt.
    by_lang: HashMap<String, HashMap<String, AudioFile, FnvBuildHasher>, FnvBuildHasher>,
}

/// The audio formats served, by extension, with their content type.
pub const FORMATS: &[(&str, &str)] = &[("mp3", "audio/mpeg"), ("wav", "audio/wav")];

const SYNTHETIC: &str = ".synthetic";

impl AudioCatalogue {
    /// The prompts under `dir`, fetched by gateways under `base_url` (`https://host/audio`);
    /// a missing directory is an empty catalogue. A recording made by a person wins over a
    /// synthetic one for the same message.
    pub fn scan(dir: &Path, base_url: &str) -> std::io::Result<AudioCatalogue> {
        let base_url = base_url.trim_end_matches('/');
        let mut catalogue = AudioCatalogue {
            dir: dir.to_path_buf(),
            by_lang: HashMap::default(),
        };
        let langs = match std::fs::read_dir(dir) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(catalogue),
            Err(e) => return Err(e),
        };
        for lang in langs {
            let lang = lang?;
            if !lang.file_type()?.is_dir() {
                continue;
            }
            let Some(tag) = lang.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if !safe_name(&tag) {
                continue;
            }
            let files = catalogue.by_lang.entry(tag.clone()).or_default();
            for file in std::fs::read_dir(lang.path())? {
                let file = file?;
                if !file.file_type()?.is_file() {
                    continue;
                }
                let Some(name) = file.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                let Some((stem, ext)) = name.rsplit_once('.') else {
                    continue;
                };
                if !safe_name(&name) || !FORMATS.iter().any(|(e, _)| *e == ext) {
                    continue;
                }
                let (id, synthetic) = match stem.strip_suffix(SYNTHETIC) {
                    Some(id) => (id, true),
                    None => (stem, false),
                };
                let path = format!("{tag}/{name}");
                let found = AudioFile {
                    url: format!("{base_url}/{path}").into(),
                    path,
                    synthetic,
                };
                match files.get(id) {
                    // A person's recording beats a synthetic one; mp3 beats wav (smaller).
                    Some(have) if !have.synthetic && synthetic => {}
                    Some(have) if have.synthetic == synthetic && have.path.ends_with(".mp3") => {}
                    _ => {
                        files.insert(id.to_owned(), found);
                    }
                }
            }
        }
        Ok(catalogue)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The recording of message `id` in `lang`, relative to the audio directory.
    #[inline]
    pub fn file(&self, lang: &str, id: &str) -> Option<&str> {
        self.entry(lang, id).map(|f| f.path.as_str())
    }

    pub fn entry(&self, lang: &str, id: &str) -> Option<&AudioFile> {
        self.by_lang.get(lang)?.get(id)
    }

    /// The file to serve for `GET /audio/<rel>`: only a file this catalogue found, never a
    /// path built from the request.
    pub fn served(&self, rel: &str) -> Option<(PathBuf, &'static str)> {
        let (lang, name) = rel.split_once('/')?;
        let files = self.by_lang.get(lang)?;
        let file = files.values().find(|f| f.path == rel)?;
        let ext = name.rsplit_once('.')?.1;
        let mime = FORMATS.iter().find(|(e, _)| *e == ext)?.1;
        Some((self.dir.join(&file.path), mime))
    }

    /// How many recordings it holds.
    pub fn len(&self) -> usize {
        self.by_lang.values().map(|m| m.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// File and folder names the catalogue accepts: no separators, no dot files, nothing odd.
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recordings_are_found_by_language_and_message() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("fr")).unwrap();
        std::fs::create_dir_all(dir.path().join("sw")).unwrap();
        for f in [
            "fr/incident.wav",
            "fr/consent.synthetic.wav",
            "fr/consent.mp3",
            "sw/incident.synthetic.wav",
            "sw/notes.txt",
            "sw/.hidden.wav",
        ] {
            std::fs::write(dir.path().join(f), b"RIFF").unwrap();
        }
        let c = AudioCatalogue::scan(dir.path(), "https://cdn.example/a/").unwrap();
        assert_eq!(c.file("fr", "incident"), Some("fr/incident.wav"));
        assert_eq!(c.file("fr", "consent"), Some("fr/consent.mp3"));
        assert_eq!(
            &*c.entry("fr", "consent").unwrap().url,
            "https://cdn.example/a/fr/consent.mp3"
        );
        assert!(c.entry("sw", "incident").unwrap().synthetic);
        assert_eq!(c.file("sw", "notes"), None);
        assert_eq!(c.file("ln", "incident"), None);
        assert_eq!(c.len(), 3);
        assert!(c.served("fr/incident.wav").is_some());
        assert!(c.served("fr/../../etc/passwd").is_none());
        assert!(c.served("sw/.hidden.wav").is_none());
        assert!(
            AudioCatalogue::scan(&dir.path().join("none"), "")
                .unwrap()
                .is_empty()
        );
    }
}
