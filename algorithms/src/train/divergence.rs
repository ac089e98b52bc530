//! When a run has diverged. The rule, checked after every training step and at every
//! evaluation point; the run stops at the first breach with status `diverged` and a
//! message saying which task, what value and where:
//!
//! - a task's training loss on a batch is not finite (NaN or ±∞);
//! - a task's training loss on a batch exceeds `EXPLOSION_FACTOR` (10⁶) times its loss on
//!   the run's first batch (a first loss of exactly 0 leaves only the first rule for that
//!   task) — a loss that finite arithmetic still represents, but whose metrics (a
//!   normalised MSE of 10²⁸) measure nothing but the explosion;
//! - the network's outputs for the validation or the test split are not all finite, so
//!   that no metric is computed from them (that evaluation's points are not kept).
//!
//! Runs that do not breach the rule are untouched: the checks read values, never change
//! them.

/// How many times its first batch loss a task's loss may grow to before the run counts as
/// diverged.
pub const EXPLOSION_FACTOR: f64 = 1e6;

/// Watches a run's per-task training losses for the rule above.
#[derive(Debug, Clone, Default)]
pub struct DivergenceWatch {
    /// Each task's loss on the first batch (set by the first step).
    first: Vec<f32>,
}

impl DivergenceWatch {
    /// The breach in one step's task losses, if any: the task and the sentence that says
    /// what happened (without where).
    pub fn step(&mut self, losses: &[f32]) -> Option<(usize, String)> {
        if let Some(t) = losses.iter().position(|l| !l.is_finite()) {
            return Some((t, format!("task {t} loss became {}", losses[t])));
        }
        if self.first.is_empty() {
            self.first = losses.to_vec();
            return None;
        }
        losses.iter().enumerate().find_map(|(t, &l)| {
            let first = self.first[t];
            (first > 0.0 && f64::from(l) > EXPLOSION_FACTOR * f64::from(first)).then(|| {
                (
                    t,
                    format!(
                        "task {t} loss became {l:e}, more than {EXPLOSION_FACTOR:e} times its first value {first}"
                    ),
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_and_exploded_losses_breach_the_rule() {
        let mut watch = DivergenceWatch::default();
        // A non-finite loss breaches it from the first step on.
        assert_eq!(
            DivergenceWatch::default().step(&[1.0, f32::NAN]),
            Some((1, "task 1 loss became NaN".to_string()))
        );
        assert_eq!(watch.step(&[2.0, 0.5]), None);
        // Up to 10⁶ × the first value is allowed; task 1's bound is 500000.
        assert_eq!(watch.step(&[2.0e6, 5.0e5]), None);
        assert_eq!(watch.step(&[1.0, 5.0e5 * 1.0001]).map(|b| b.0), Some(1));
        let (t, message) = watch.step(&[2.1e6, 0.1]).unwrap();
        assert_eq!(t, 0);
        assert!(
            message.starts_with("task 0 loss became 2.1e6, more than 1e6 times its first value 2"),
            "{message}"
        );
        assert_eq!(
            watch.step(&[f32::INFINITY, 0.1]),
            Some((0, "task 0 loss became inf".to_string()))
        );
    }

    /// Adam at a learning rate of 1000 on a tiny regression suite: the losses stay finite
    /// (about 10²⁰) but explode; the run stops at the first step whose loss breaches the
    /// rule, `diverged`, with only finite points.
    #[test]
    fn a_huge_learning_rate_is_recorded_as_diverged() {
        use crate::architecture::testing::{tiny_suite, train_tiny};
        use crate::architecture::{ArchitectureSpec, HardSharing};
        use crate::model::ModelSpec;
        use crate::split::Split;
        use crate::train::{RunStatus, TrainConfig};
        use crate::weighting::{Equal, WeightingSpec};
        let suite = tiny_suite(2, 4, 32, 3);
        let model = ModelSpec {
            trunk: vec![8].into(),
            head: vec![],
        };
        let run = |lr: f64| {
            let training = TrainConfig::adam(5, 8, lr);
            train_tiny(
                &suite,
                &ArchitectureSpec::HardSharing(HardSharing {}),
                &WeightingSpec::Equal(Equal {}),
                &model,
                &training,
                (1, 2),
            )
        };
        let exploded = run(1000.0);
        assert_eq!(
            exploded.status,
            RunStatus::Diverged,
            "{:?}",
            exploded.message
        );
        let message = exploded.message.clone().unwrap();
        assert!(
            message.contains("times its first value") && message.contains(" at epoch 1, step "),
            "{message}"
        );
        assert!(exploded.points.iter().all(|p| p.value.is_finite()));
        assert!(exploded.steps < 5 * 4, "stopped early: {}", exploded.steps);
        // The same run at a sane learning rate breaches nothing.
        let sane = run(0.01);
        assert_eq!(sane.status, RunStatus::Ok);
        assert!(sane.points.iter().any(|p| p.split == Split::Test));
    }

    /// Outputs that are not finite at an evaluation (here task 1's, through an infinite
    /// bias of its output layer) mark the run diverged and keep none of that evaluation's
    /// points, whose metrics would be NaN.
    #[test]
    fn non_finite_outputs_at_an_evaluation_diverge_the_run() {
        use crate::architecture::testing::tiny_suite;
        use crate::architecture::{ArchitectureSpec, HardSharing};
        use crate::device::cpu;
        use crate::model::ModelSpec;
        use crate::train::{
            evaluate_point, RunDefinition, RunSeeds, RunStatus, Split, TrainConfig, Trainer,
        };
        use crate::weighting::{Equal, WeightingSpec};
        use dfdx::prelude::*;
        let suite = tiny_suite(2, 4, 32, 3);
        let (architecture, weighting) = (
            ArchitectureSpec::HardSharing(HardSharing {}),
            WeightingSpec::Equal(Equal {}),
        );
        let model = ModelSpec {
            trunk: vec![8].into(),
            head: vec![],
        };
        let training = TrainConfig::adam(3, 8, 0.01);
        let mut trainer = Trainer::new(
            cpu(),
            RunDefinition {
                suite: &suite,
                architecture: &architecture,
                weighting: &weighting,
                model: &model,
                training: &training,
                seeds: RunSeeds {
                    init: 1,
                    batches: 2,
                },
            },
        );
        let mut outcome = crate::train::TrainOutcome::empty(RunStatus::Ok, None);
        assert!(evaluate_point(&trainer, 2, &mut outcome));
        let evaluated = outcome.points.len();
        assert!(outcome.points.iter().any(|p| p.split == Split::Test));
        assert_eq!(outcome.status, RunStatus::Ok);
        let last = trainer.net.towers[1].head.end - 1;
        let width = trainer.net.layers[last].bias.shape().0;
        trainer.net.layers[last].bias = trainer
            .dev
            .tensor_from_vec(vec![f32::INFINITY; width], (width,));
        assert!(!evaluate_point(&trainer, 3, &mut outcome));
        assert_eq!(outcome.status, RunStatus::Diverged);
        assert_eq!(
            outcome.message.as_deref(),
            Some("task 1 outputs on the val split are not finite at epoch 3, step 0")
        );
        assert_eq!(
            outcome.points.len(),
            evaluated,
            "task 0's val points dropped too"
        );
    }

    #[test]
    fn a_first_loss_of_zero_leaves_only_the_finiteness_rule() {
        let mut watch = DivergenceWatch::default();
        assert_eq!(watch.step(&[0.0]), None);
        assert_eq!(watch.step(&[1.0e30]), None);
        assert!(watch.step(&[f32::NAN]).is_some());
    }
}
