//! The weighting registry: how per-task losses become one update.

use crate::AlgorithmsError;
use serde::{Deserialize, Serialize};

/// `equal`: L = Σᵢ Lᵢ.
///
/// Paper: the uniform-scalarisation baseline of every MTL paper. LibMTL `EW` (which sums,
/// as here); torchjd's `Mean` averages instead, which only rescales the learning rate.
/// No hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Equal {}

/// `static`: L = Σᵢ wᵢ Lᵢ with fixed weights given in the study.
///
/// Paper: linear scalarisation with hand-set weights (the grid-searched baseline of Kendall
/// et al. 2018). Hyper-parameters: `weights` (one per task, ≥ 0; default: empty, which the
/// plan rejects — the weights must be given).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Static {
    pub weights: Vec<f64>,
}

mtlbench_tasks::registry! {
    /// How per-task losses are combined.
    pub enum WeightingSpec {
        Equal(Equal) = "equal": "L = Σᵢ Lᵢ (LibMTL EW)",
        Static(Static) = "static": "L = Σᵢ wᵢ Lᵢ with fixed weights (weights: one per task)",
    }
}

impl WeightingSpec {
    /// Checks the weighting against a suite of `tasks` tasks.
    pub fn validate(&self, tasks: usize) -> Result<(), AlgorithmsError> {
        match self {
            WeightingSpec::Equal(_) => Ok(()),
            WeightingSpec::Static(s) => {
                if s.weights.len() != tasks {
                    return Err(AlgorithmsError::invalid(
                        "weights",
                        format!(
                            "has {} values but the suite has {tasks} tasks",
                            s.weights.len()
                        ),
                    ));
                }
                if s.weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
                    return Err(AlgorithmsError::invalid(
                        "weights",
                        "every weight must be finite and ≥ 0",
                    ));
                }
                Ok(())
            }
        }
    }

    /// The loss weights for `tasks` tasks.
    pub fn loss_weights(&self, tasks: usize) -> Vec<f32> {
        match self {
            WeightingSpec::Equal(_) => vec![1.0; tasks],
            WeightingSpec::Static(s) => s.weights.iter().map(|w| *w as f32).collect(),
        }
    }
}
