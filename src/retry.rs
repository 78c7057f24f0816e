//! Waiting out contention: jittered exponential backoff, and the random
//! bits it (and event ids) need, without pulling in a random-number crate.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long to sleep before retry number `attempt` (0-based): uniformly
/// random up to a cap that doubles from 50 µs to 20 ms ("full jitter").
pub fn backoff(attempt: usize) -> Duration {
    let cap_us = (50u64 << attempt.min(9)).min(20_000);
    Duration::from_micros(random_u64() % cap_us + 1)
}

/// The letters of random ids: digits and lowercase letters without `i`,
/// `l`, `o` and `u` (Crockford's base 32), so none is mistaken for another.
const ID_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// `prefix` and `chars` random letters of [`ID_ALPHABET`], 5 bits each:
/// readable ids (`T-4k7qm2x9ta`, `R-3f9a1cq0m2`) whose callers check them
/// against what exists.
pub fn random_id(prefix: &str, chars: usize) -> String {
    let mut out = String::with_capacity(prefix.len() + chars);
    out.push_str(prefix);
    let (mut bits, mut left) = (0u64, 0);
    for _ in 0..chars {
        if left < 5 {
            (bits, left) = (random_u64(), 64);
        }
        out.push(char::from(ID_ALPHABET[(bits & 31) as usize]));
        (bits, left) = (bits >> 5, left - 5);
    }
    out
}

/// 64 random bits from the standard library's OS-seeded hasher keys, mixed
/// with the time and the process id.
pub fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_have_the_length_and_letters_asked_for() {
        for chars in [0, 1, 12, 13, 30] {
            let id = random_id("T-", chars);
            let random = id.strip_prefix("T-").unwrap();
            assert_eq!(random.len(), chars);
            assert!(random.bytes().all(|b| ID_ALPHABET.contains(&b)), "{id}");
        }
        let ids: std::collections::HashSet<String> =
            (0..1000).map(|_| random_id("R-", 10)).collect();
        assert_eq!(ids.len(), 1000);
    }
}
