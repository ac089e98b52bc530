//! `TrainConfig`: the training hyper-parameters of one run, their defaults
//! (`TrainConfig::adam`) and their validation.

use crate::error::AlgorithmsError;
use crate::optimizer::OptimizerSpec;
use serde::{Deserialize, Serialize};

/// The training settings, declared once. Hands them to the macro `$then` (in scope where
/// this is invoked) in three groups: `axes` (a study may list several values of each: a
/// grid axis; with the label its runs' algorithm labels show and its default), `fixed`
/// (one value, with its default) and `switches` (one value, `Default::default()` by
/// default, optional in a stored `TrainConfig`). `TrainConfig` is made from it here, the
/// study's training grid in the harness, so a new setting is added in this one place.
#[macro_export]
macro_rules! training_settings {
    ($then:ident) => {
        $then! {
            axes {
                epochs ("epochs"): usize = 20,
                batch_size ("bs"): usize = 64,
                lr ("lr"): f64 = 1e-3,
            }
            fixed {
                optimizer: $crate::OptimizerSpec = $crate::OptimizerSpec::default(),
                /// Evaluate on the validation split every this many epochs (and always at
                /// the end).
                eval_every: usize = 1,
            }
            switches {
                /// Gradient-level methods take the task gradients with respect to the
                /// shared representation (LibMTL's `rep_grad`; hard_sharing only) instead
                /// of the shared parameters.
                rep_grad: bool,
                /// Measure gradient conflict every this many steps (0: never). The
                /// per-task gradients this needs are extra passes, counted apart from the
                /// training's.
                conflict_every: usize,
                /// With `conflict_every`: also the pairwise cosines per shared layer.
                conflict_per_layer: bool,
                /// Measure TAG's inter-task affinity every this many steps (0: never): T
                /// extra backward passes (shared with conflict telemetry on the same step)
                /// and T forwards.
                affinity_every: usize,
                /// Record the task weights the method applied every this many steps (0:
                /// never).
                weights_every: usize,
                /// Step decay of the learning rate: × `factor` every `every` epochs
                /// (absent: constant). Left out of the canonical form when absent, so the
                /// ids of runs without it do not move.
                #[serde(skip_serializing_if = "Option::is_none")]
                lr_decay: Option<$crate::train::LrDecay>,
            }
        }
    };
}

/// `TrainConfig` from `training_settings!`: every setting one value.
macro_rules! train_config {
    (
        axes { $($(#[$am:meta])* $a:ident ($label:literal): $at:ty = $ad:expr,)* }
        fixed { $($(#[$fm:meta])* $f:ident: $ft:ty = $fd:expr,)* }
        switches { $($(#[$sm:meta])* $s:ident: $st:ty,)* }
    ) => {
        /// Training hyper-parameters of one run (declared in `training_settings!`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct TrainConfig {
            $($(#[$am])* pub $a: $at,)*
            $($(#[$fm])* pub $f: $ft,)*
            $($(#[$sm])* #[serde(default)] pub $s: $st,)*
        }
    };
}

training_settings!(train_config);

impl TrainConfig {
    /// Adam at `lr`, validation every epoch, no telemetry: the settings benchmarks and
    /// tests start from.
    pub fn adam(epochs: usize, batch_size: usize, lr: f64) -> Self {
        TrainConfig {
            epochs,
            batch_size,
            lr,
            optimizer: OptimizerSpec::Adam(crate::optimizer::Adam::default()),
            eval_every: 1,
            rep_grad: false,
            conflict_every: 0,
            conflict_per_layer: false,
            affinity_every: 0,
            weights_every: 0,
            lr_decay: None,
        }
    }

    /// The learning rate of epoch `epoch` (1-based): `lr · factor^⌊epoch / every⌋` with
    /// `lr_decay`, else `lr` (docs/FORMULAS.md#learning-rate-decay). With every = 10 the
    /// 10th epoch is the first at `lr · factor`, as Sener & Koltun's training script does.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        match self.lr_decay {
            Some(LrDecay { every, factor }) => {
                let k = epoch / every.max(1);
                self.lr * factor.powi(k.min(i32::MAX as usize) as i32)
            }
            None => self.lr,
        }
    }

    /// Whether the run evaluates the validation and test splits after epoch `epoch`
    /// (1-based): every `eval_every` epochs, and after the last epoch.
    pub fn evaluates_after(&self, epoch: usize) -> bool {
        epoch.is_multiple_of(self.eval_every) || epoch == self.epochs
    }

    /// The number of evaluation points a run has: the epochs `evaluates_after` names,
    /// ⌈epochs / eval_every⌉ (a multiple of `eval_every` that is the last epoch counts
    /// once).
    pub fn evaluations(&self) -> usize {
        self.epochs.div_ceil(self.eval_every.max(1))
    }

    pub fn validate(&self) -> Result<(), AlgorithmsError> {
        if self.epochs == 0 {
            return Err(AlgorithmsError::invalid("epochs", "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(AlgorithmsError::invalid("batch_size", "must be at least 1"));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(AlgorithmsError::invalid("lr", "must be finite and > 0"));
        }
        if self.eval_every == 0 {
            return Err(AlgorithmsError::invalid("eval_every", "must be at least 1"));
        }
        if self.conflict_per_layer && self.conflict_every == 0 {
            return Err(AlgorithmsError::invalid(
                "conflict_per_layer",
                "needs `conflict_every` (the steps at which conflict is measured; 0 = never)",
            ));
        }
        if let Some(d) = &self.lr_decay {
            if d.every == 0 {
                return Err(AlgorithmsError::invalid(
                    "lr_decay.every",
                    "must be at least 1 (epochs)",
                ));
            }
            if !(d.factor > 0.0 && d.factor <= 1.0) {
                return Err(AlgorithmsError::invalid(
                    "lr_decay.factor",
                    "must be in (0, 1]",
                ));
            }
        }
        self.optimizer.validate()
    }
}

/// A step decay of the learning rate: `training.lr_decay: {every: 10, factor: 0.85}`
/// multiplies it by 0.85 every 10 epochs (docs/FORMULAS.md#learning-rate-decay).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrDecay {
    /// Epochs between two decays.
    pub every: usize,
    /// The factor on the learning rate at each decay, in (0, 1].
    pub factor: f64,
}

#[cfg(test)]
mod tests {
    use crate::architecture::testing::{adam_training, tiny_suite, train_tiny};
    use crate::architecture::{ArchitectureSpec, HardSharing};
    use crate::model::ModelSpec;
    use crate::split::Split;
    use crate::train::RunStatus;
    use crate::weighting::{Equal, WeightingSpec};

    /// `evaluations` counts the evaluation points training makes: ⌈epochs / eval_every⌉,
    /// checked against the epochs a trained run's validation points carry.
    #[test]
    fn evaluations_count_the_points_training_makes() {
        let suite = tiny_suite(2, 4, 16, 1);
        let model = ModelSpec {
            trunk: vec![4].into(),
            head: vec![],
        };
        for (epochs, eval_every, expected) in [
            (1, 1, vec![1]),
            (1, 5, vec![1]),
            (4, 2, vec![2, 4]),
            (5, 2, vec![2, 4, 5]),
            (7, 3, vec![3, 6, 7]),
        ] {
            let training = adam_training(epochs, 8, eval_every, false);
            let outcome = train_tiny(
                &suite,
                &ArchitectureSpec::HardSharing(HardSharing {}),
                &WeightingSpec::Equal(Equal {}),
                &model,
                &training,
                (1, 2),
            );
            assert_eq!(outcome.status, RunStatus::Ok);
            let mut evaluated: Vec<usize> = outcome
                .points
                .iter()
                .filter(|p| p.split == Split::Val)
                .map(|p| p.epoch)
                .collect();
            evaluated.dedup();
            assert_eq!(
                evaluated, expected,
                "epochs {epochs}, eval_every {eval_every}"
            );
            assert_eq!(training.evaluations(), expected.len());
        }
    }

    /// The schedule's golden values (every 10 epochs × 0.85, as MGDA-UB's training script:
    /// the 10th epoch is the first decayed one), and no schedule: the constant rate.
    #[test]
    fn lr_at_decays_every_k_epochs_from_the_kth() {
        use super::{LrDecay, TrainConfig};
        let mut cfg = TrainConfig::adam(100, 256, 0.01);
        assert!((1..=100).all(|e| cfg.lr_at(e) == 0.01));
        cfg.lr_decay = Some(LrDecay {
            every: 10,
            factor: 0.85,
        });
        for (epoch, lr) in [
            (1, 0.01),
            (9, 0.01),
            (10, 0.0085),
            (19, 0.0085),
            (20, 0.007225),
            (99, 0.0023161694628320312),
            (100, 0.0019687440434072266),
        ] {
            let got = cfg.lr_at(epoch);
            assert!((got - lr).abs() <= 1e-15, "epoch {epoch}: {got} ≠ {lr}");
        }
        cfg.validate().unwrap();
        for (every, factor) in [(0, 0.5), (2, 0.0), (2, 1.5), (2, f64::NAN)] {
            cfg.lr_decay = Some(LrDecay { every, factor });
            assert!(cfg.validate().is_err(), "every {every}, factor {factor}");
        }
        // Absent, the key is left out of the canonical form: run ids do not move.
        cfg.lr_decay = None;
        let json = serde_json::to_string(&cfg).unwrap();
        assert!(!json.contains("lr_decay"), "{json}");
    }

    /// Training follows the schedule: with a decay every 2 epochs the first epoch trains
    /// as without it and the second does not; a factor of 1 changes nothing.
    #[test]
    fn training_follows_the_decay() {
        use super::LrDecay;
        let suite = tiny_suite(2, 4, 32, 3);
        let model = ModelSpec {
            trunk: vec![4].into(),
            head: vec![],
        };
        let train = |decay: Option<LrDecay>| {
            let mut training = adam_training(3, 8, 1, false);
            training.optimizer = crate::OptimizerSpec::Sgd(crate::optimizer::Sgd {
                momentum: 0.0,
                weight_decay: 0.0,
            });
            training.lr = 0.1;
            training.lr_decay = decay;
            let outcome = train_tiny(
                &suite,
                &ArchitectureSpec::HardSharing(HardSharing {}),
                &WeightingSpec::Equal(Equal {}),
                &model,
                &training,
                (5, 6),
            );
            assert_eq!(outcome.status, RunStatus::Ok);
            outcome
                .points
                .iter()
                .filter(|p| p.split == Split::Train)
                .map(|p| (p.epoch, p.value))
                .collect::<Vec<_>>()
        };
        let constant = train(None);
        let decayed = train(Some(LrDecay {
            every: 2,
            factor: 0.5,
        }));
        let epoch = |points: &[(usize, f64)], e: usize| -> Vec<f64> {
            points.iter().filter(|p| p.0 == e).map(|p| p.1).collect()
        };
        assert_eq!(epoch(&constant, 1), epoch(&decayed, 1));
        assert_ne!(epoch(&constant, 2), epoch(&decayed, 2));
        let unit = train(Some(LrDecay {
            every: 1,
            factor: 1.0,
        }));
        assert_eq!(constant, unit);
    }
}
