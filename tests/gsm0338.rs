//! The GSM-7 counter agrees with every GSM 03.38 fixture (copied from the protocol notes).

use sauti::render::gsm7::septets_of;
use sauti::render::{Budget, Measure};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gsm0338");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/{name}")).unwrap()
}

fn char_of(code_point: &str) -> char {
    let hex = code_point.trim_start_matches("U+");
    char::from_u32(u32::from_str_radix(hex, 16).unwrap()).unwrap()
}

#[test]
fn every_default_alphabet_character_costs_one_septet() {
    let table: Value = serde_json::from_str(&fixture("gsm7-alphabet.json")).unwrap();
    let mut seen = 0;
    for (code, cp) in table["default"].as_object().unwrap() {
        let Some(cp) = cp.as_str() else { continue }; // 0x1B is the escape
        let c = char_of(cp);
        assert_eq!(septets_of(c), Some(1), "{code} {c:?}");
        seen += 1;
    }
    assert_eq!(seen, 127);
}

#[test]
fn every_extension_character_costs_two_septets() {
    let table: Value = serde_json::from_str(&fixture("gsm7-alphabet.json")).unwrap();
    let ext = table["extension_two_septets"].as_object().unwrap();
    assert_eq!(ext.len(), 10);
    for (code, cp) in ext {
        let c = char_of(cp.as_str().unwrap());
        assert_eq!(septets_of(c), Some(2), "{code} {c:?}");
    }
}

#[test]
fn french_and_lingala_letters_are_classified_as_the_notes_say() {
    let chars: Value = serde_json::from_str(&fixture("french-chars.json")).unwrap();
    for (s, class) in chars.as_object().unwrap() {
        let c = s.chars().next().unwrap();
        let got = septets_of(c);
        match class.as_str().unwrap() {
            "basic" => assert_eq!(got, Some(1), "{c}"),
            "extension" => assert_eq!(got, Some(2), "{c}"),
            "ucs2" => assert_eq!(got, None, "{c}"),
            // 0x09 is `Ç` for ETSI/3GPP; we count the small `ç` as UCS-2 so that a screen is
            // never sent as GSM-7 with a letter some networks would show in the wrong case.
            "ambiguous-0x09" => assert_eq!(got, if c == 'Ç' { Some(1) } else { None }, "{c}"),
            other => panic!("unknown class {other}"),
        }
    }
}

#[test]
fn a_screen_of_182_septets_fits_and_183_does_not() {
    let budget = Budget::default();
    let fits = fixture("screen-182-septets.txt");
    let m = Measure::of(&fits);
    assert!(m.gsm);
    assert_eq!(m.septets, 182);
    assert!(budget.fits(m));
    let over = Measure::of(&fixture("screen-183-septets.txt"));
    assert_eq!(over.septets, 183);
    assert!(!budget.fits(over));
}

#[test]
fn extension_characters_count_double_on_a_screen() {
    let text = fixture("screen-extension-chars.txt");
    let m = Measure::of(&text);
    assert_eq!(text.chars().count(), 14);
    assert_eq!(m.septets, 17);
    assert!(m.gsm);
}

#[test]
fn one_circumflex_turns_the_screen_into_ucs2() {
    let text = fixture("screen-ucs2-trigger.txt");
    let m = Measure::of(&text);
    assert!(!m.gsm);
    assert_eq!(m.units as usize, text.encode_utf16().count());
    assert_eq!(Budget::default().limit(m), 80);
}
