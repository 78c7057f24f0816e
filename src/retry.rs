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

/// `prefix` and `digits` (at most 16) random hex digits: short readable
/// ids (`T-3f9a`, `R-3f9a1c`) whose callers check them against what exists.
pub fn short_id(prefix: &str, digits: usize) -> String {
    let hex = format!("{:016x}", random_u64());
    format!("{prefix}{}", &hex[..digits.min(16)])
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
