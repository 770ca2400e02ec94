//! ODK's way of naming a form language, `English name (code)` (`French (fr)`), which Collect,
//! Enketo and KoBo show in their language menus and pyxform writes from `label::French (fr)`.

/// English names of the languages Sauti's flows use or are likely to (two-letter codes).
const NAMES: &[(&str, &str)] = &[
    ("ar", "Arabic"),
    ("en", "English"),
    ("fr", "French"),
    ("kg", "Kongo"),
    ("ln", "Lingala"),
    ("lu", "Luba-Katanga"),
    ("pt", "Portuguese"),
    ("rw", "Kinyarwanda"),
    ("sw", "Swahili"),
];

/// `French (fr)`; a code without a known name is its own name (`xx (xx)`).
pub fn odk_name(code: &str) -> String {
    let name = NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(code, |(_, name)| name);
    format!("{name} ({code})")
}

/// The code of a language named in English (`French` → `fr`), as the names above spell them.
pub fn code_of_name(name: &str) -> Option<&'static str> {
    NAMES
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name.trim()))
        .map(|(code, _)| *code)
}

#[cfg(test)]
mod tests {
    #[test]
    fn languages_are_named_as_odk_names_them() {
        assert_eq!(super::odk_name("fr"), "French (fr)");
        assert_eq!(super::odk_name("sw"), "Swahili (sw)");
        assert_eq!(super::odk_name("ln"), "Lingala (ln)");
        assert_eq!(super::odk_name("xx"), "xx (xx)");
        assert_eq!(super::code_of_name("swahili"), Some("sw"));
        assert_eq!(super::code_of_name("Klingon"), None);
    }
}
