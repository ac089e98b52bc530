//! `scale_invariant`: the sum of the log losses, invariant to each loss's scale.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): weighted 0 (its 1/Lᵢ would be 1/0, and 0·∞ a NaN gradient); the present tasks keep 1/Lᵢ.

use super::{Level, Method, MethodSpec, Setup};
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// `scale_invariant`: L = Σᵢ log Lᵢ, i.e. the update of Σᵢ Lᵢ/sg(Lᵢ).
///
/// Paper: the scale-invariant baseline of Navon et al. 2022 (Nash-MTL, "SI"); the
/// reference is Nash-MTL's `ScaleInvariantLinearScalarization`. No hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleInvariant {}

impl MethodSpec for ScaleInvariant {
    fn level(&self) -> Level {
        Level::Loss
    }

    fn build<D: Device<f32>>(&self, _setup: Setup) -> Box<dyn Method<D>> {
        Box::new(ScaleInvariant {})
    }
}

/// wᵢ = 1/Lᵢ; no state.
impl<D: Device<f32>> Method<D> for ScaleInvariant {
    fn loss_weights(&mut self, losses: &[f32]) -> Vec<f32> {
        losses.iter().map(|l| 1.0 / l).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::testing::method;
    use super::super::WeightingSpec;
    use super::*;

    #[test]
    fn weights_are_inverse_losses() {
        assert_eq!(
            method(WeightingSpec::ScaleInvariant(ScaleInvariant {})).loss_weights(&[0.5, 2.0, 4.0]),
            vec![2.0, 0.5, 0.25]
        );
    }
}
