//! XLSForm names made into Sauti ids (letters, digits, `-`, `_`, a step or list id starting
//! with a letter), unique where they must be, each change said so that a report can show it.

use std::collections::BTreeSet;

/// Whether `s` is a step, list or flow id (docs/flow-format.md).
pub fn is_id(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(is_id_char)
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Whether `s` is an option code (the same characters, any first one).
pub fn is_code(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_id_char)
}

/// Ids handed out so far in one namespace.
#[derive(Debug, Default)]
pub struct Ids {
    taken: BTreeSet<String>,
}

impl Ids {
    /// `name` as an id (`starts_with_letter` for step, list and flow ids, not option codes):
    /// other characters become `_`, a `q` goes first if needed, and `_2`, `_3`... make it
    /// unique. Returns the id, and whether it differs from `name`.
    pub fn make(&mut self, name: &str, starts_with_letter: bool) -> (String, bool) {
        let mut base: String = name
            .trim()
            .chars()
            .map(|c| if is_id_char(c) { c } else { '_' })
            .collect();
        if base.is_empty()
            || (starts_with_letter && !base.starts_with(|c: char| c.is_ascii_alphabetic()))
        {
            base.insert(0, 'q');
        }
        let mut id = base.clone();
        let mut n = 2;
        while self.taken.contains(&id) {
            id = format!("{base}_{n}");
            n += 1;
        }
        self.taken.insert(id.clone());
        let changed = id != name;
        (id, changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_valid_unique_ids() {
        let mut ids = Ids::default();
        assert_eq!(ids.make("age", true), ("age".into(), false));
        assert_eq!(ids.make("age", true), ("age_2".into(), true));
        assert_eq!(ids.make("my.name", true), ("my_name".into(), true));
        assert_eq!(ids.make("_hidden", true), ("q_hidden".into(), true));
        assert_eq!(ids.make("2nd", true), ("q2nd".into(), true));
        assert_eq!(ids.make("lieu é", true), ("lieu__".into(), true));
        for id in ["age_2", "my_name", "q_hidden", "q2nd", "lieu__"] {
            assert!(is_id(id), "{id}");
        }
        let mut codes = Ids::default();
        assert_eq!(codes.make("1", false), ("1".into(), false));
        assert_eq!(codes.make("wash plant", false), ("wash_plant".into(), true));
        assert!(is_code("1") && !is_code("a b") && !is_code(""));
    }
}
