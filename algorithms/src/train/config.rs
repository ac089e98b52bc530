//! `TrainConfig`: the training hyper-parameters of one run, their defaults
//! (`TrainConfig::adam`) and their validation.

use crate::optimizer::OptimizerSpec;
use crate::AlgorithmsError;
use serde::{Deserialize, Serialize};

/// Training hyper-parameters of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub optimizer: OptimizerSpec,
    /// Evaluate on the validation split every this many epochs (and always at the end).
    pub eval_every: usize,
    /// Gradient-level methods take the task gradients with respect to the shared
    /// representation (LibMTL's `rep_grad`) instead of the shared parameters.
    #[serde(default)]
    pub rep_grad: bool,
    /// Measure gradient conflict every this many steps (0: never). The per-task gradients
    /// this needs are extra passes, counted apart from the training's.
    #[serde(default)]
    pub conflict_every: usize,
    /// With `conflict_every`: also the pairwise cosines per shared layer.
    #[serde(default)]
    pub conflict_per_layer: bool,
    /// Measure TAG's inter-task affinity every this many steps (0: never): T extra
    /// backward passes (shared with conflict telemetry on the same step) and T forwards.
    #[serde(default)]
    pub affinity_every: usize,
    /// Record the task weights the method applied every this many steps (0: never).
    #[serde(default)]
    pub weights_every: usize,
}

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
        }
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
        self.optimizer.validate()
    }
}
