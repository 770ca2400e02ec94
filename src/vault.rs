//! Phone numbers encrypted at rest: the few places that must keep a raw number to text it
//! later (the SMS send queue, a campaign's panel) hold it sealed with ChaCha20-Poly1305.
//!
//! The key is `SAUTI_NUMBER_KEY` (64 hex digits) when set, otherwise derived from the
//! pseudonym key (HMAC-SHA256 under a fixed label), so a deployment has one secret to keep
//! unless it wants two: whoever holds the pseudonym key can already link numbers.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use ring::aead::{self, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use sha2::Sha256;

/// What a sealed value starts with, so that a plain number is never mistaken for one.
const PREFIX: &str = "v1:";

/// Seals and opens phone numbers.
pub struct NumberVault {
    key: LessSafeKey,
}

impl std::fmt::Debug for NumberVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NumberVault(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("SAUTI_NUMBER_KEY must be 64 hexadecimal digits (e.g. `openssl rand -hex 32`)")]
    BadKey,
}

impl NumberVault {
    /// A vault over a 32-byte key.
    pub fn new(key: &[u8; 32]) -> NumberVault {
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, key).expect("32-byte key");
        NumberVault {
            key: LessSafeKey::new(unbound),
        }
    }

    /// The key derived from the pseudonym key (its own label: the two never coincide).
    pub fn derived_from(pseudonym_key: &[u8]) -> NumberVault {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(pseudonym_key)
            .expect("HMAC takes any key length");
        mac.update(b"sauti number vault v1");
        let key: [u8; 32] = mac.finalize().into_bytes().into();
        NumberVault::new(&key)
    }

    /// `SAUTI_NUMBER_KEY` when set, or the key derived from the pseudonym key.
    pub fn from_env_or(pseudonym_key: &[u8]) -> Result<NumberVault, VaultError> {
        match std::env::var("SAUTI_NUMBER_KEY") {
            Ok(hex_key) => {
                let bytes = hex::decode(hex_key.trim()).map_err(|_| VaultError::BadKey)?;
                let key: [u8; 32] = bytes.try_into().map_err(|_| VaultError::BadKey)?;
                Ok(NumberVault::new(&key))
            }
            Err(_) => Ok(NumberVault::derived_from(pseudonym_key)),
        }
    }

    /// `v1:` + base64(nonce ‖ ciphertext ‖ tag), a fresh random nonce each time.
    pub fn seal(&self, number: &str) -> String {
        let mut nonce = [0u8; aead::NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the system's random source");
        let mut buf = number.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
            .expect("sealing a short value");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
        )
    }

    /// The number in `sealed`, or `None` if it was not sealed with this key (or altered).
    pub fn open(&self, sealed: &str) -> Option<String> {
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(sealed.strip_prefix(PREFIX)?)
            .ok()?;
        if raw.len() < aead::NONCE_LEN + CHACHA20_POLY1305.tag_len() {
            return None;
        }
        let (nonce, rest) = raw.split_at(aead::NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = rest.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::empty(), &mut buf).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_number_opens_only_with_its_key_and_never_shows() {
        let vault = NumberVault::derived_from(b"0123456789abcdef0123");
        let sealed = vault.seal("+243810000001");
        assert!(!sealed.contains("243810000001"));
        assert_ne!(sealed, vault.seal("+243810000001"), "fresh nonce each time");
        assert_eq!(vault.open(&sealed).as_deref(), Some("+243810000001"));
        let other = NumberVault::derived_from(b"fedcba98765432100123");
        assert_eq!(other.open(&sealed), None);
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(vault.open(&tampered), None);
        assert_eq!(vault.open("+243810000001"), None);
    }
}
