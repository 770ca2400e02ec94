//! FNV-1a, a small stable hash: the same value in every process and every build, which
//! `DefaultHasher` does not promise. Used for fingerprints, never for security.

/// An incremental FNV-1a (64-bit) hasher.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

/// The hash of nothing.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

impl Default for Fnv {
    fn default() -> Self {
        Fnv(FNV_OFFSET)
    }
}

impl Fnv {
    pub fn update(&mut self, bytes: &[u8]) -> &mut Self {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

impl std::hash::Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// For maps keyed by short trusted strings (message ids, language tags) that a hop looks up
/// many times: several times faster than the default SipHash, and nothing an outsider sends
/// is ever a key.
pub type FnvBuildHasher = std::hash::BuildHasherDefault<Fnv>;

pub fn fnv1a(bytes: &[u8]) -> u64 {
    Fnv::default().update(bytes).finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_the_reference_vectors() {
        assert_eq!(super::fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(super::fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(super::fnv1a(b"foobar"), 0x85944171f73967e8);
    }
}
