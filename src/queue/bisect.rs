//! Finding the culprit of a failed batch, bors-style: the stack
//! `M1..Mn` (each layer merges one more candidate) failed at `Mn`, and
//! `M0` (main) is taken as good; halve the range until the first failing
//! layer is found. With one bad candidate in n this costs ⌈log2 n⌉ runs.

/// The outcome of a bisection over layers `1..=n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bisection {
    /// Layers `1..=good` passed (0: none was shown good); land layer `good`.
    pub good: usize,
    /// The first failing layer (1-based); its candidate is the culprit.
    pub culprit: usize,
}

/// Bisects `n` layers, the last of which is known to fail; `passes(k)`
/// runs the tests on layer `k` (1 ≤ k < n).
pub fn bisect<E>(
    n: usize,
    mut passes: impl FnMut(usize) -> Result<bool, E>,
) -> Result<Bisection, E> {
    let (mut good, mut bad) = (0, n);
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        if passes(mid)? {
            good = mid;
        } else {
            bad = mid;
        }
    }
    Ok(Bisection { good, culprit: bad })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Layers from the culprit on fail.
    fn run(n: usize, culprit: usize) -> (Bisection, usize) {
        let mut runs = 0;
        let found = bisect::<()>(n, |k| {
            runs += 1;
            Ok(k < culprit)
        })
        .unwrap();
        (found, runs)
    }

    #[test]
    fn finds_any_single_culprit_in_sixteen_within_four_runs() {
        for culprit in 1..=16 {
            let (found, runs) = run(16, culprit);
            assert_eq!(found.culprit, culprit);
            assert_eq!(found.good, culprit - 1);
            assert!(runs <= 4, "{runs} runs for culprit {culprit}");
        }
    }

    #[test]
    fn a_single_layer_needs_no_run() {
        assert_eq!(
            run(1, 1),
            (
                Bisection {
                    good: 0,
                    culprit: 1
                },
                0
            )
        );
    }
}
