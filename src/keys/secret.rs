//! The API key secret: its format, checksum and hash.
//!
//! ```text
//! scimkit_ 7Zq0…(43 base62 characters: 256 bits from the OS)… 1hT9xA
//! └prefix┘ └──────────────── random part ──────────────────┘ └CRC32┘
//! ```

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AdminError;
use crate::resource::Secret;

/// The prefix of every secret scimkit generates, so that secret scanners (and people)
/// recognise a leaked key.
pub const SECRET_PREFIX: &str = "scimkit_";

/// The length of a generated secret: prefix, random part and checksum.
pub const SECRET_LEN: usize = SECRET_PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;

/// Base62 characters of the random part: 43 × log2(62) = 256.03 bits.
const RANDOM_LEN: usize = 43;
/// Base62 characters of the CRC32 checksum: 62^6 > 2^32.
const CHECKSUM_LEN: usize = 6;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Generates a new secret: [`SECRET_PREFIX`], 43 base62 characters drawn uniformly from
/// the operating system's random number generator (at least 256 bits), and the CRC32 of
/// those characters in 6 base62 characters.
///
/// Fails with [`AdminError::Randomness`] only when the operating system cannot provide
/// random bytes; no weaker source is ever used instead.
pub fn generate_secret() -> Result<Secret, AdminError> {
    let mut secret = String::with_capacity(SECRET_LEN);
    secret.push_str(SECRET_PREFIX);
    push_random_base62(&mut secret, RANDOM_LEN)?;
    let checksum = checksum(&secret.as_bytes()[SECRET_PREFIX.len()..]);
    secret.extend(checksum.iter().map(|&c| char::from(c)));
    Ok(Secret::new(secret))
}

/// A new key id: `key_` and 16 random base62 characters (95 bits: ids never collide, and
/// they are not secret).
pub(crate) fn generate_key_id() -> Result<String, AdminError> {
    let mut id = String::with_capacity(20);
    id.push_str("key_");
    push_random_base62(&mut id, 16)?;
    Ok(id)
}

/// Appends `n` base62 characters drawn uniformly from the operating system's generator.
fn push_random_base62(out: &mut String, n: usize) -> Result<(), AdminError> {
    let mut pool = [0u8; 64];
    let mut used = pool.len();
    let mut pushed = 0;
    while pushed < n {
        if used == pool.len() {
            getrandom::fill(&mut pool).map_err(|e| {
                tracing::error!(error = %e, "the operating system's random number generator failed");
                AdminError::Randomness
            })?;
            used = 0;
        }
        let byte = pool[used];
        used += 1;
        // Rejection sampling: 248 = 4 × 62, so every character is equally likely.
        if byte < 248 {
            out.push(char::from(BASE62[usize::from(byte % 62)]));
            pushed += 1;
        }
    }
    pool.fill(0);
    Ok(())
}

/// Whether `candidate` has the shape of a scimkit secret: the prefix, the length, base62
/// characters and a matching checksum. No store is consulted, so secret scanners and
/// support tools can tell a key from a typo offline; a one-character typo always fails
/// (CRC32 detects every error confined to 32 consecutive bits).
///
/// A well-formed string is not necessarily a valid key; and the authenticator does not
/// use this as a shortcut (see the [module documentation](super#constant-time)).
pub fn is_well_formed(candidate: &str) -> bool {
    let bytes = candidate.as_bytes();
    if bytes.len() != SECRET_LEN || !candidate.starts_with(SECRET_PREFIX) {
        return false;
    }
    let (random, check) = bytes[SECRET_PREFIX.len()..].split_at(RANDOM_LEN);
    random.iter().all(u8::is_ascii_alphanumeric) && checksum(random) == check
}

/// The CRC32 of `random` in base62, fixed width, most significant digit first.
fn checksum(random: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut n = crc32(random);
    let mut out = [b'0'; CHECKSUM_LEN];
    for digit in out.iter_mut().rev() {
        *digit = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// CRC-32/ISO-HDLC (the one of zip, PNG and Ethernet), bitwise: it only ever runs over
/// 43 bytes.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// The SHA-256 digest of a secret: the only form in which a key store keeps it.
///
/// Equality through [`KeyHash::ct_eq`] takes the same time wherever two digests differ.
/// `Debug` does not print the digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// The digest of `secret` (all of it, prefix included).
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// A digest read back from storage.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest, for storage.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest in lower-case hexadecimal, for stores that keep text.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses [`KeyHash::to_hex`] output (either letter case).
    pub fn from_hex(hex: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex, &mut out).ok()?;
        Some(Self(out))
    }

    /// Compares two digests in constant time.
    pub fn ct_eq(&self, other: &KeyHash) -> bool {
        self.0[..].ct_eq(&other.0[..]).into()
    }
}

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn generated_secrets_are_well_formed_distinct_and_prefixed() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert_ne!(a.expose(), b.expose());
        for s in [&a, &b] {
            assert_eq!(s.expose().len(), SECRET_LEN);
            assert!(s.expose().starts_with(SECRET_PREFIX));
            assert!(is_well_formed(s.expose()), "{}", s.expose());
        }
        assert_eq!(format!("{a:?}"), "Secret(***)");
    }

    #[test]
    fn key_ids_are_prefixed_and_distinct() {
        let a = generate_key_id().unwrap();
        assert!(a.starts_with("key_") && a.len() == 20, "{a}");
        assert_ne!(a, generate_key_id().unwrap());
    }

    #[test]
    fn random_part_uses_the_whole_alphabet() {
        let mut seen = [false; 62];
        for _ in 0..20 {
            let s = generate_secret().unwrap();
            for c in s.expose()[SECRET_PREFIX.len()..][..RANDOM_LEN].bytes() {
                if let Some(i) = BASE62.iter().position(|&b| b == c) {
                    seen[i] = true;
                }
            }
        }
        assert!(seen.iter().all(|&s| s), "860 draws cover all 62 characters");
    }

    #[test]
    fn every_single_character_typo_is_detected() {
        let secret = generate_secret().unwrap();
        let s = secret.expose();
        for i in 0..s.len() {
            for replacement in [b'0', b'a', b'Z', b'_', b'9'] {
                let mut typo = s.as_bytes().to_vec();
                if typo[i] == replacement {
                    continue;
                }
                typo[i] = replacement;
                let typo = String::from_utf8(typo).unwrap();
                assert!(!is_well_formed(&typo), "typo at {i} accepted");
            }
        }
    }

    #[test]
    fn malformed_candidates_are_rejected() {
        let secret = generate_secret().unwrap();
        let s = secret.expose();
        assert!(!is_well_formed(""));
        assert!(!is_well_formed(&s[..s.len() - 1]));
        assert!(!is_well_formed(&format!("{s}0")));
        assert!(!is_well_formed(&s.replacen("scimkit_", "scimkit-", 1)));
        assert!(!is_well_formed(&s.to_uppercase()));
        assert!(!is_well_formed("http-test-key"));
    }

    #[test]
    fn key_hash_round_trips_through_hex_and_hides_in_debug() {
        let h = KeyHash::of("scimkit_example");
        assert_eq!(KeyHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(KeyHash::from_hex(&h.to_hex().to_uppercase()), Some(h));
        assert_eq!(KeyHash::from_hex("zz"), None);
        assert_eq!(KeyHash::from_bytes(*h.as_bytes()), h);
        assert!(h.ct_eq(&KeyHash::of("scimkit_example")));
        assert!(!h.ct_eq(&KeyHash::of("scimkit_examplf")));
        assert_eq!(format!("{h:?}"), "KeyHash(..)");
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            KeyHash::of("abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
