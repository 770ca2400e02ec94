//! GSM 03.38 accounting: how many septets (or UTF-16 units) a string costs on a USSD screen
//! or in an SMS. Text is sent as GSM-7 when every character is in the default alphabet, else as UCS-2.

/// The GSM 03.38 default alphabet (one septet each), in code-point order of the table.
/// 0x09 is the capital `Ç` as ETSI/3GPP/Android draw it; the small `ç` is deliberately
/// *not* counted as GSM-7 because some networks map 0x09 to the other case. The reference
/// `septets_of` is tested against.
#[cfg(test)]
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The extension table: each costs two septets (escape + code).
#[cfg(test)]
const EXTENSION: &str = "\u{000C}^{}\\[~]|€";

/// Septets a character costs in GSM-7, or `None` when it forces UCS-2.
#[inline]
pub fn septets_of(c: char) -> Option<u32> {
    if c.is_ascii() {
        // Fast path: every printable ASCII character except the backtick is GSM-7.
        return match c {
            '^' | '{' | '}' | '\\' | '[' | ']' | '~' | '|' | '\u{000C}' => Some(2),
            '`' => None,
            ' '..='~' | '\n' | '\r' => Some(1),
            _ => None,
        };
    }
    // The non-ASCII letters of the two tables, as a match (a jump table, not a scan of the
    // tables: accented prompts are measured on every hop). A unit test keeps it equal to them.
    match c {
        '£' | '¥' | 'è' | 'é' | 'ù' | 'ì' | 'ò' | 'Ç' | 'Ø' | 'ø' | 'Å' | 'å' | 'Δ' | 'Φ' | 'Γ'
        | 'Λ' | 'Ω' | 'Π' | 'Ψ' | 'Σ' | 'Θ' | 'Ξ' | 'Æ' | 'æ' | 'ß' | 'É' | '¤' | '¡' | 'Ä'
        | 'Ö' | 'Ñ' | 'Ü' | '§' | '¿' | 'ä' | 'ö' | 'ñ' | 'ü' | 'à' => Some(1),
        '€' => Some(2),
        _ => None,
    }
}

/// What a piece of text costs on a USSD screen, in both encodings at once.
/// Measures add up, so a page can be sized from the measures of its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measure {
    /// Septets when sent as GSM-7 (meaningful only while `gsm` is true).
    pub septets: u32,
    /// UTF-16 code units when sent as UCS-2.
    pub units: u32,
    /// Every character is in the GSM 03.38 alphabet.
    pub gsm: bool,
}

impl Default for Measure {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl Measure {
    pub const EMPTY: Measure = Measure {
        septets: 0,
        units: 0,
        gsm: true,
    };
    /// A line feed between two lines of a screen.
    pub const NEWLINE: Measure = Measure {
        septets: 1,
        units: 1,
        gsm: true,
    };

    #[inline]
    pub fn of(s: &str) -> Measure {
        let mut m = Measure::EMPTY;
        for c in s.chars() {
            m.push(c);
        }
        m
    }

    #[inline]
    pub fn push(&mut self, c: char) {
        match septets_of(c) {
            Some(n) => self.septets += n,
            None => self.gsm = false,
        }
        self.units += c.len_utf16() as u32;
    }

    #[inline]
    pub fn plus(self, other: Measure) -> Measure {
        Measure {
            septets: self.septets + other.septets,
            units: self.units + other.units,
            gsm: self.gsm && other.gsm,
        }
    }

    /// This text followed by a line feed and `line`.
    #[inline]
    pub fn then_line(self, line: Measure) -> Measure {
        if self == Measure::EMPTY {
            line
        } else if line == Measure::EMPTY {
            self
        } else {
            self.plus(Measure::NEWLINE).plus(line)
        }
    }

    /// `n` printable ASCII characters other than the extension ones (a key such as `98. `).
    #[inline]
    pub const fn ascii(n: u32) -> Measure {
        Measure {
            septets: n,
            units: n,
            gsm: true,
        }
    }

    /// The figure that counts against the budget: septets in GSM-7, units in UCS-2.
    pub fn cost(&self) -> u32 {
        if self.gsm { self.septets } else { self.units }
    }

    pub fn encoding(&self) -> &'static str {
        if self.gsm { "GSM-7" } else { "UCS-2" }
    }
}

/// A piece of text with its cost measured once (at load time for a flow's texts).
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    pub text: String,
    pub measure: Measure,
}

impl Text {
    pub fn new(text: impl Into<String>) -> Text {
        let text = text.into();
        let measure = Measure::of(&text);
        Text { text, measure }
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The first character of `text` that GSM-7 cannot carry (it makes the whole screen UCS-2).
pub fn first_ucs2(text: &str) -> Option<char> {
    text.chars().find(|&c| septets_of(c).is_none())
}

/// What to write instead of `c` to stay in GSM-7, where a close equivalent exists (French
/// accents GSM-7 lacks, typographic quotes and dashes).
pub fn alternative(c: char) -> Option<&'static str> {
    Some(match c {
        'â' | 'ä' | 'á' | 'ã' => "a",
        'ê' | 'ë' => "e",
        'î' | 'ï' | 'í' => "i",
        'ô' | 'ó' | 'õ' => "o",
        'û' | 'ú' => "u",
        'ç' => "c",
        'Â' | 'À' | 'Á' => "A",
        'Ê' | 'È' | 'Ë' => "E",
        'Î' | 'Ï' => "I",
        'Ô' => "O",
        'Û' | 'Ù' => "U",
        'œ' => "oe",
        'Œ' => "OE",
        '’' | '‘' | 'ʼ' => "'",
        '“' | '”' | '«' | '»' => "\"",
        '–' | '—' => "-",
        '…' => "...",
        '\u{a0}' | '\u{202f}' => " ",
        _ => return None,
    })
}

/// How much one USSD message may hold; configurable per gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Budget {
    /// Septets when the screen is GSM-7 (160 octets = 182 septets).
    pub gsm7_septets: u32,
    /// Characters (UTF-16 units) when one character forces UCS-2.
    pub ucs2_chars: u32,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            gsm7_septets: 182,
            ucs2_chars: 80,
        }
    }
}

impl Budget {
    #[inline]
    pub fn fits(&self, m: Measure) -> bool {
        self.limit(m) >= m.cost()
    }

    pub fn limit(&self, m: Measure) -> u32 {
        if m.gsm {
            self.gsm7_septets
        } else {
            self.ucs2_chars
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The match in `septets_of` is the tables, neither more nor less.
    #[test]
    fn the_non_ascii_match_is_the_tables() {
        for c in BASIC.chars().filter(|c| !c.is_ascii()) {
            assert_eq!(septets_of(c), Some(1), "{c}");
        }
        for c in EXTENSION.chars().filter(|c| !c.is_ascii()) {
            assert_eq!(septets_of(c), Some(2), "{c}");
        }
        for c in ('\u{80}'..='\u{3000}').filter(|c| !BASIC.contains(*c) && !EXTENSION.contains(*c))
        {
            assert_eq!(septets_of(c), None, "{c}");
        }
        for c in (0u8..128).map(char::from) {
            let expected = if BASIC.contains(c) {
                Some(1)
            } else if EXTENSION.contains(c) {
                Some(2)
            } else {
                None
            };
            assert_eq!(septets_of(c), expected, "{c:?}");
        }
    }

    #[test]
    fn french_accents_split_between_the_two_encodings() {
        assert!(Measure::of("é è à ù É").gsm);
        for s in ["ê", "ç", "â", "î", "ô", "û", "’", "\u{2068}"] {
            assert!(!Measure::of(s).gsm, "{s} must force UCS-2");
        }
    }

    #[test]
    fn every_alternative_is_gsm7() {
        for c in ('\u{80}'..='\u{3000}').filter(|&c| septets_of(c).is_none()) {
            if let Some(alt) = alternative(c) {
                assert!(Measure::of(alt).gsm, "{c} -> {alt}");
            }
        }
        assert_eq!(first_ucs2("Où brûlez-vous"), Some('û'));
        assert_eq!(first_ucs2("Où est-ce?"), None);
    }

    #[test]
    fn extension_characters_count_two() {
        assert_eq!(Measure::of("€[]").septets, 6);
        assert_eq!(Measure::of("a|b").septets, 4);
    }

    #[test]
    fn budget_picks_the_encoding_limit() {
        let b = Budget::default();
        assert!(b.fits(Measure::of(&"a".repeat(182))));
        assert!(!b.fits(Measure::of(&"a".repeat(183))));
        assert!(b.fits(Measure::of(&"ê".repeat(80))));
        assert!(!b.fits(Measure::of(&"ê".repeat(81))));
    }
}
