//! `imtl_l`: IMTL's learnable loss scales (the loss part of IMTL).
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): its term e^{sᵢ}Lᵢ − sᵢ is skipped: weight 0, and its sᵢ does not move (Adam's state for it is left as it is), so a missing label is not read as a loss of 0 that would drive sᵢ up.

use super::{Level, Method, MethodSpec, Setup, TaskParameters};
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// `imtl_l`: the loss part of IMTL: each loss becomes e^{sᵢ}Lᵢ − sᵢ with learnable sᵢ
/// (initialised to 0), trained by Adam at the run's learning rate (LibMTL trains them with
/// the model optimizer). Full IMTL is `{kind: compose, loss: {kind: imtl_l}, gradient:
/// {kind: imtl_g}}`, as LibMTL's `IMTL` applies IMTL-G to the scaled losses' gradients.
///
/// Paper: Liu et al. 2021, "Towards impartial multi-task learning"; LibMTL `IMTL` (loss
/// part). No hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImtlL {}

impl MethodSpec for ImtlL {
    fn level(&self) -> Level {
        Level::Loss
    }

    fn build<D: Device<f32>>(&self, setup: Setup) -> Box<dyn Method<D>> {
        Box::new(ImtlLState {
            s: TaskParameters::new(vec![0.0; setup.tasks], setup.lr, 0.0),
        })
    }
}

struct ImtlLState {
    s: TaskParameters,
}

impl ImtlLState {
    /// The scales, then the update of the marked tasks' sᵢ.
    fn weights(&mut self, losses: &[f32], present: Option<&[bool]>) -> Vec<f32> {
        let s = &self.s.values;
        let weights: Vec<f32> = s.iter().map(|s| s.exp() as f32).collect();
        // ∂/∂sᵢ [e^{sᵢ}Lᵢ − sᵢ] = e^{sᵢ}Lᵢ − 1.
        let grad: Vec<f64> = s
            .iter()
            .zip(losses)
            .map(|(s, l)| s.exp() * f64::from(*l) - 1.0)
            .collect();
        match present {
            None => self.s.update(&grad),
            Some(p) => self.s.update_present(&grad, p),
        }
        weights
    }
}

impl<D: Device<f32>> Method<D> for ImtlLState {
    /// The absent tasks' terms skipped (see the module doc).
    fn loss_weights_present(&mut self, losses: &[f32], present: &[bool]) -> Vec<f32> {
        let mut w = self.weights(losses, Some(present));
        super::zero_absent(&mut w, present);
        w
    }

    fn loss_weights(&mut self, losses: &[f32]) -> Vec<f32> {
        self.weights(losses, None)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::testing::method;
    use super::super::WeightingSpec;
    use super::*;

    #[test]
    fn imtl_l_scales_move_towards_equal_scaled_losses() {
        let mut imtl = method(WeightingSpec::ImtlL(ImtlL {}));
        assert_eq!(imtl.loss_weights(&[2.0, 0.5, 1.0]), vec![1.0; 3]);
        // ∂/∂s = L − 1 at s = 0: s₀ falls (L = 2), s₁ rises (L = 0.5), s₂ stays.
        let w = imtl.loss_weights(&[2.0, 0.5, 1.0]);
        assert!(w[0] < 1.0 && w[1] > 1.0 && w[2] == 1.0, "{w:?}");
    }
}
