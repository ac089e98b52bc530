//! Convergence, reported rather than assumed: a run is *still improving at the end* when
//! its best validation point — the one `best_val` selects (the mean over tasks of each
//! task's primary validation metrics, relative to the first evaluation; ties to the
//! earlier) — lies in the last 20% of its evaluation points, i.e. at index
//! i ≥ ⌊0.8·n⌋ of its n points (n = 10: the last 2; n = 15: the last 3). Such a run would
//! probably have scored better with more training, so a comparison that includes it
//! measures where training stopped as much as the method; the summary counts them per
//! row and flags the rows that have any (see docs/FORMULAS.md#still-improving-at-the-end).
//!
//! n counts the evaluation points `best_val` can score (a validation value of every
//! primary metric). A run with fewer than 5 of them is not judged (`None`): with n < 5 the
//! last 20% is less than one point.

use crate::record::RunRecord;
use crate::selection::{best_val_epoch, scored_epochs};

/// The share of a run's last evaluation points in which a best validation point means
/// "still improving at the end".
pub const LAST_SHARE: f64 = 0.2;

/// The fewest evaluation points a run needs to be judged.
pub const MIN_EVALUATIONS: usize = 5;

/// Whether `run`'s best validation point lies in the last `LAST_SHARE` of its evaluation
/// points; `None` when the run has fewer than `MIN_EVALUATIONS` validation evaluations.
pub fn still_improving(run: &RunRecord) -> Option<bool> {
    let mut epochs: Vec<usize> = run
        .points
        .iter()
        .filter(|p| p.split == "val")
        .map(|p| p.epoch)
        .collect();
    epochs.sort_unstable();
    epochs.dedup();
    // The evaluation points `best_val` can score (every primary metric present).
    let (epochs, _) = scored_epochs(run, &epochs);
    let n = epochs.len();
    if n < MIN_EVALUATIONS {
        return None;
    }
    let best = best_val_epoch(run, &epochs)?;
    let index = epochs.iter().position(|&e| e == best)?;
    Some(index >= first_late_index(n))
}

/// The first index of the last `LAST_SHARE` of `n` evaluation points: ⌊(1 − share)·n⌋,
/// in integers (⌊4n/5⌋) so that no rounding of 0.8·n moves it.
fn first_late_index(n: usize) -> usize {
    debug_assert!((LAST_SHARE - 0.2).abs() < 1e-12);
    4 * n / 5
}

/// Of `runs` (one row's replicates): how many are still improving at the end, and how many
/// were judged.
pub fn count(runs: &[&RunRecord]) -> (usize, usize) {
    runs.iter()
        .filter_map(|r| still_improving(r))
        .fold((0, 0), |(yes, judged), s| {
            (yes + usize::from(s), judged + 1)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{test_run, Point};

    /// A run with one accuracy task whose validation accuracy at evaluation i is `acc[i]`.
    fn run(acc: &[f64]) -> RunRecord {
        let mut r = test_run("hard_sharing", 0, &[]);
        r.points.clear();
        for (i, &a) in acc.iter().enumerate() {
            for split in ["val", "test"] {
                r.points.push(Point {
                    task: "t0".into(),
                    split: split.into(),
                    metric: "accuracy".into(),
                    higher_is_better: true,
                    epoch: i + 1,
                    step: (i + 1) * 10,
                    value: a,
                });
            }
        }
        r
    }

    #[test]
    fn the_last_fifth_is_the_last_two_of_ten_and_three_of_fifteen() {
        assert_eq!(first_late_index(10), 8);
        assert_eq!(first_late_index(15), 12);
        assert_eq!(first_late_index(5), 4);
        assert_eq!(first_late_index(8), 6);
        // 10 points: best at index 8 (the 9th) is late, at index 7 is not.
        let mut acc = vec![0.5; 10];
        acc[8] = 0.9;
        assert_eq!(still_improving(&run(&acc)), Some(true));
        let mut acc = vec![0.5; 10];
        acc[7] = 0.9;
        assert_eq!(still_improving(&run(&acc)), Some(false));
    }

    #[test]
    fn a_rising_curve_is_still_improving_and_a_plateau_is_not() {
        let rising: Vec<f64> = (0..10).map(|i| 0.5 + 0.04 * i as f64).collect();
        assert_eq!(still_improving(&run(&rising)), Some(true));
        // A plateau reached at evaluation 4: ties go to the earlier point.
        let plateau: Vec<f64> = (0..10).map(|i| 0.5 + 0.1 * (i.min(3)) as f64).collect();
        assert_eq!(still_improving(&run(&plateau)), Some(false));
        // Too few points to judge.
        assert_eq!(still_improving(&run(&[0.5, 0.6, 0.7, 0.8])), None);
        let runs = [run(&rising), run(&plateau), run(&[0.5])];
        assert_eq!(count(&runs.iter().collect::<Vec<_>>()), (1, 2));
    }
}
