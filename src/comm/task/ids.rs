//! Task ids: `T-` and random letters, long enough that clones adding tasks
//! while apart do not pick the same id.
//!
//! A clone checks a new id against the tasks it knows, so within one
//! repository ids never repeat; what it cannot see are the tasks other
//! clones added since the last sync. Like beads, the id grows with the
//! number of tasks: it carries at least 40 + 2·log2(n) random bits (and
//! never fewer than 50), so a new id meets one of the n tasks of the board
//! with a chance below 2^-40 / n, and over a whole board of n tasks the
//! chance that any two ever met stays below 2^-41. Older boards used `T-`
//! and 4 hex digits; those ids keep working everywhere (an id is any word
//! [`super::validate_id`] accepts).

use super::{get, DIR};
use crate::comm::{CommError, Snapshot};
use crate::retry::random_id;

/// The prefix of the ids comm-node makes.
const PREFIX: &str = "T-";
/// Random bits every id carries, however small the board.
const MIN_BITS: u32 = 50;
/// Random bits on top of 2·log2(n), for a board of n tasks.
const SAFETY_BITS: u32 = 40;
/// Bits per letter of the id alphabet.
const BITS_PER_CHAR: u32 = 5;
/// Fresh candidates tried before giving up (one is almost always enough).
const ATTEMPTS: usize = 8;

/// Random letters a new id needs on a board of `tasks` tasks.
pub(super) fn id_chars(tasks: usize) -> usize {
    let log2 = usize::BITS - tasks.max(1).leading_zeros();
    let bits = (SAFETY_BITS + 2 * log2).max(MIN_BITS);
    bits.div_ceil(BITS_PER_CHAR) as usize
}

/// A random task id not taken at the snapshot.
pub(super) fn fresh_id(snapshot: &Snapshot) -> Result<String, CommError> {
    let tasks = match snapshot.tip() {
        Some(tip) => crate::comm::shard::files_at(snapshot.repo(), tip, DIR)?.len(),
        None => 0,
    };
    let chars = id_chars(tasks);
    for _ in 0..ATTEMPTS {
        let candidate = random_id(PREFIX, chars);
        if get(snapshot, &candidate)?.is_none() {
            return Ok(candidate);
        }
    }
    Err(CommError::invalid(
        "could not find a free task id",
        "ids are random; run the command again",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_grow_with_the_board() {
        assert_eq!(id_chars(0), 10);
        assert_eq!(id_chars(30), 10);
        assert_eq!(id_chars(1_000), 12);
        assert_eq!(id_chars(100_000), 15);
        // Always at least 40 + 2·log2(n) bits.
        for n in [1usize, 7, 64, 5_000, 1 << 20] {
            let bits = id_chars(n) as f64 * 5.0;
            assert!(bits >= 40.0 + 2.0 * (n as f64).log2(), "{n}");
        }
    }
}
