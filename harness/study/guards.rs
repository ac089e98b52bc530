//! Plan-time checks that a study's settings can take effect as written, each refused with
//! the key it names rather than carried out as something less: the model-selection rule
//! against the evaluation points each training setting gives (the memory a run needs is
//! `memory`'s).

use mtlbench_algorithms::TrainConfig;
use mtlbench_results::selection::Selection;

/// Refuses a selection rule that needs more evaluation points than some training setting
/// of the plan gives (`best_val` needs 2, `{mean_last: k}` needs k; a run evaluates every
/// `eval_every` epochs and after its last, `TrainConfig::evaluations`).
pub fn check_selection(selection: &Selection, trainings: &[TrainConfig]) -> Result<(), String> {
    for t in trainings {
        let source = format!(
            "training.epochs: {} with training.eval_every: {} gives",
            t.epochs, t.eval_every
        );
        if let Some(why) = selection.refusal(t.evaluations(), &source) {
            return Err(why);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn training(epochs: usize, eval_every: usize) -> TrainConfig {
        TrainConfig {
            eval_every,
            ..TrainConfig::adam(epochs, 8, 0.01)
        }
    }

    #[test]
    fn rules_are_checked_against_the_evaluation_points_of_every_setting() {
        // Evaluations after epochs 5, 10 and 12: three points.
        let three = [training(12, 5)];
        for ok in [Selection::Last, Selection::BestVal, Selection::MeanLast(3)] {
            assert_eq!(check_selection(&ok, &three), Ok(()), "{ok}");
        }
        let err = check_selection(&Selection::MeanLast(4), &three).unwrap_err();
        assert!(
            err.contains(
                "training.epochs: 12 with training.eval_every: 5 gives 3 evaluation points"
            ),
            "{err}"
        );
        // One setting of the grid with a single evaluation is enough to refuse.
        let grid = [training(10, 1), training(1, 1)];
        let err = check_selection(&Selection::BestVal, &grid).unwrap_err();
        assert!(
            err.starts_with("best_val chooses among a run's evaluation points, and training.epochs: 1 with training.eval_every: 1 gives 1 evaluation point: "),
            "{err}"
        );
        assert!(check_selection(&Selection::MeanLast(2), &[training(3, 5)]).is_err());
        assert_eq!(
            check_selection(&Selection::MeanLast(1), &[training(3, 5)]),
            Ok(())
        );
        assert_eq!(check_selection(&Selection::Last, &grid), Ok(()));
    }
}
