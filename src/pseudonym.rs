//! Respondents' pseudonyms: a keyed HMAC-SHA256 of the phone number, computed at the edge
//! so that the raw number is never stored, logged or written.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Turns phone numbers into stable pseudonyms that cannot be reversed without the key
/// (an unkeyed hash of the ~10⁹ possible numbers would be brute-forced in seconds).
#[derive(Clone)]
pub struct Pseudonymizer {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer(..)")
    }
}

/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 16;

/// The fewest different bytes a key may hold: `aaaaaaaaaaaaaaaa` is long enough and guessable.
pub const MIN_DISTINCT_BYTES: usize = 8;

#[derive(Debug, thiserror::Error)]
#[error(
    "the pseudonym key must be at least {MIN_KEY_BYTES} bytes with at least {MIN_DISTINCT_BYTES} different ones (e.g. `openssl rand -hex 32`)"
)]
pub struct KeyTooShort;

impl Pseudonymizer {
    pub fn new(key: &[u8]) -> Result<Pseudonymizer, KeyTooShort> {
        let mut seen = [false; 256];
        for &b in key {
            seen[b as usize] = true;
        }
        let distinct = seen.iter().filter(|s| **s).count();
        if key.len() < MIN_KEY_BYTES || distinct < MIN_DISTINCT_BYTES {
            return Err(KeyTooShort);
        }
        let mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| KeyTooShort)?;
        Ok(Pseudonymizer { mac })
    }

    /// `hex(HMAC-SHA256(key, number))`, the number reduced to its digits first so that
    /// `+243 810 000 001` and `243810000001` are the same respondent.
    pub fn of(&self, phone_number: &str) -> String {
        let mut mac = self.mac.clone();
        // The digits in one update (a byte per update cost 2k instructions a hop); E.164
        // numbers have at most 15 digits, longer inputs go in chunks.
        let mut digits = [0u8; 32];
        let mut n = 0;
        for b in phone_number.bytes().filter(u8::is_ascii_digit) {
            if n == digits.len() {
                mac.update(&digits);
                n = 0;
            }
            digits[n] = b;
            n += 1;
        }
        mac.update(&digits[..n]);
        // Into a buffer, not char by char through an iterator (another 2k instructions).
        let mut hex = [0u8; 64];
        hex::encode_to_slice(mac.finalize().into_bytes(), &mut hex)
            .expect("64 hex digits for 32 bytes");
        String::from_utf8_lossy(&hex).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_number_same_pseudonym_whatever_the_format() {
        let p = Pseudonymizer::new(b"0123456789abcdef0123").unwrap();
        assert_eq!(p.of("+243 810 000 001"), p.of("243810000001"));
        assert_ne!(p.of("+243810000001"), p.of("+243810000002"));
        assert_eq!(p.of("+243810000001").len(), 64);
        assert!(!p.of("+243810000001").contains("243810000001"));
        // Stable across versions: pseudonyms already stored must keep matching.
        assert_eq!(
            p.of("+243 810 000 001"),
            "9cda4ae8c4c6fb99dcae44dea00058f92d01ff0bf66b3d64c2bd16d00abf901d"
        );
        // Longer than one chunk of digits: every digit still counts.
        let long = "1".repeat(40);
        assert_ne!(p.of(&long), p.of(&long[..39]));
        assert_ne!(p.of(&long), p.of(&format!("{}2", &long[..39])));
    }

    #[test]
    fn another_key_gives_other_pseudonyms() {
        let a = Pseudonymizer::new(b"0123456789abcdef0123").unwrap();
        let b = Pseudonymizer::new(b"fedcba98765432100123").unwrap();
        assert_ne!(a.of("+243810000001"), b.of("+243810000001"));
        assert!(Pseudonymizer::new(b"short").is_err());
        assert!(Pseudonymizer::new(b"aaaaaaaaaaaaaaaaaaaaaaaa").is_err());
        assert!(Pseudonymizer::new(b"abababababababababababab").is_err());
    }
}
