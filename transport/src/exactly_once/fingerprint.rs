//! Step and request fingerprints (spec §2.2): a stable 128-bit hash.
//!
//! Algorithm: SipHash-1-3 with 128-bit output (crate `siphasher`, the
//! algorithm Rust's std uses for `HashMap`, here with fixed keys), over
//! length-prefixed parts with lengths and integers written little-endian. The
//! keys below and this framing are part of the on-store format: changing
//! them makes every logged step of a running call diverge.

use std::fmt;
use std::hash::Hasher as _;

use siphasher::sip128::{Hasher128 as _, SipHasher13};

/// Fixed keys ("mu2sls-fp-v1" spread over two words); never change them.
const KEY0: u64 = 0x6d75_3273_6c73_2d66;
const KEY1: u64 = 0x7000_2d76_3100_0001;

/// A 128-bit fingerprint of a step or a request.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Fingerprint(pub(crate) u128);

impl Fingerprint {
    /// The fingerprint of `parts`, each framed by its length so that
    /// `["ab", "c"]` and `["a", "bc"]` differ.
    pub(crate) fn of(parts: &[&[u8]]) -> Fingerprint {
        let mut hasher = SipHasher13::new_with_keys(KEY0, KEY1);
        hasher.write(&(parts.len() as u64).to_le_bytes());
        for part in parts {
            hasher.write(&(part.len() as u64).to_le_bytes());
            hasher.write(part);
        }
        Fingerprint(hasher.finish128().into())
    }

    /// The fingerprint of a request: its method and its arguments'
    /// canonical encoding.
    pub(crate) fn request(method: &str, canonical: &[u8]) -> Fingerprint {
        Fingerprint::of(&[b"request", method.as_bytes(), canonical])
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_and_framed() {
        // Pinned: a change here is an on-store format change.
        assert_eq!(format!("{:?}", Fingerprint::of(&[b"put", b"svc", b"k"])), "1550c257382577f2b353c37ba24d805f");
        assert_ne!(Fingerprint::of(&[b"ab", b"c"]), Fingerprint::of(&[b"a", b"bc"]));
        assert_ne!(Fingerprint::of(&[b"a"]), Fingerprint::of(&[b"a", b""]));
    }
}
