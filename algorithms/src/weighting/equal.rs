//! `equal`: the sum of the task losses, the baseline of every comparison.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): its loss is 0 and its gradient zero, so it adds nothing; its weight is recorded as 0.

use super::{Level, Method, MethodSpec, Setup};
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// `equal`: L = Σᵢ Lᵢ.
///
/// Paper: the uniform-scalarisation baseline of every MTL paper. LibMTL `EW` (which sums,
/// as here); torchjd's `Mean` averages instead, which only rescales the learning rate.
/// No hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Equal {}

impl MethodSpec for Equal {
    fn level(&self) -> Level {
        Level::Loss
    }

    fn build<D: Device<f32>>(&self, _setup: Setup) -> Box<dyn Method<D>> {
        Box::new(Equal {})
    }
}

/// Weights 1 on every loss (the trait's defaults); no state.
impl<D: Device<f32>> Method<D> for Equal {}

#[cfg(test)]
mod tests {
    use super::super::tests::testing::method;
    use super::super::WeightingSpec;
    use super::*;

    #[test]
    fn every_weight_is_one() {
        let mut m = method(WeightingSpec::Equal(Equal {}));
        assert_eq!(m.loss_weights(&[0.5, 2.0, 4.0]), vec![1.0; 3]);
    }
}
