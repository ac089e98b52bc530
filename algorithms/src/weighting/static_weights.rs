//! `static`: fixed loss weights given in the study.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): its loss is 0 and its gradient zero; the others keep their given weights, the absent task's is recorded as 0.

use super::{Level, Method, MethodSpec, Setup};
use crate::error::AlgorithmsError;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// `static`: L = Σᵢ wᵢ Lᵢ with fixed weights given in the study.
///
/// Paper: linear scalarisation with hand-set weights (the grid-searched baseline of Kendall
/// et al. 2018). Hyper-parameters: `weights` (one per task, ≥ 0; no default — the plan
/// rejects an empty list).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Static {
    pub weights: Vec<f64>,
}

impl MethodSpec for Static {
    fn level(&self) -> Level {
        Level::Loss
    }

    fn validate(&self, tasks: usize) -> Result<(), AlgorithmsError> {
        if self.weights.len() != tasks {
            return Err(AlgorithmsError::invalid(
                "weights",
                format!(
                    "has {} values but the suite has {tasks} tasks",
                    self.weights.len()
                ),
            ));
        }
        if self.weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(AlgorithmsError::invalid(
                "weights",
                "every weight must be finite and ≥ 0",
            ));
        }
        Ok(())
    }

    fn required_keys(&self) -> &'static [&'static str] {
        &["weights"]
    }

    fn build<D: Device<f32>>(&self, _setup: Setup) -> Box<dyn Method<D>> {
        Box::new(StaticState {
            weights: self.weights.iter().map(|w| *w as f32).collect(),
        })
    }
}

struct StaticState {
    weights: Vec<f32>,
}

impl<D: Device<f32>> Method<D> for StaticState {
    fn loss_weights(&mut self, _losses: &[f32]) -> Vec<f32> {
        self.weights.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::testing::method;
    use super::super::WeightingSpec;
    use super::*;

    #[test]
    fn weights_as_given_and_checked() {
        let spec = WeightingSpec::Static(Static {
            weights: vec![1.0, 0.5, 0.0],
        });
        assert_eq!(
            method(spec.clone()).loss_weights(&[3.0; 3]),
            vec![1.0, 0.5, 0.0]
        );
        assert!(spec.validate(3).is_ok());
        assert_eq!(spec.validate(2).unwrap_err().key(), "weights");
        let negative = WeightingSpec::Static(Static {
            weights: vec![1.0, -0.5, 0.0],
        });
        assert_eq!(negative.validate(3).unwrap_err().key(), "weights");
        assert_eq!(spec.required_keys(), &["weights"]);
    }
}
