//! `uw`: uncertainty weighting with learnable log-variances.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): its term Lᵢ/(2e^{sᵢ}) + sᵢ/2 is skipped: weight 0, and its sᵢ does not move (Adam's state for it is left as it is), so a missing label is not read as a loss of 0 that would drive sᵢ down.

use super::{Level, Method, MethodSpec, Setup, TaskParameters};
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// `uw`: L = Σᵢ [Lᵢ/(2e^{sᵢ}) + sᵢ/2] with learnable sᵢ initialised to −0.5 (LibMTL's
/// form of Kendall et al.'s Σ Lᵢ/(2σᵢ²) + log σᵢ). The sᵢ are trained by Adam with the run's
/// learning rate (LibMTL trains them with the model optimizer, Adam in its examples).
///
/// Paper: Kendall et al. 2018; LibMTL `UW`. No hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Uw {}

impl MethodSpec for Uw {
    fn level(&self) -> Level {
        Level::Loss
    }

    fn build<D: Device<f32>>(&self, setup: Setup) -> Box<dyn Method<D>> {
        Box::new(UwState {
            s: TaskParameters::new(vec![-0.5; setup.tasks], setup.lr, 0.0),
        })
    }
}

struct UwState {
    s: TaskParameters,
}

impl UwState {
    /// The weights, then the update of the marked tasks' sᵢ.
    fn weights(&mut self, losses: &[f32], present: Option<&[bool]>) -> Vec<f32> {
        let s = &self.s.values;
        let weights: Vec<f32> = s.iter().map(|s| (0.5 * (-s).exp()) as f32).collect();
        // ∂/∂sᵢ [Lᵢ/(2e^{sᵢ}) + sᵢ/2] = −Lᵢ/(2e^{sᵢ}) + 1/2.
        let grad: Vec<f64> = s
            .iter()
            .zip(losses)
            .map(|(s, l)| -f64::from(*l) * 0.5 * (-s).exp() + 0.5)
            .collect();
        match present {
            None => self.s.update(&grad),
            Some(p) => self.s.update_present(&grad, p),
        }
        weights
    }
}

impl<D: Device<f32>> Method<D> for UwState {
    /// The absent tasks' terms skipped (see the module doc).
    fn loss_weights_present(&mut self, losses: &[f32], present: &[bool]) -> Vec<f32> {
        let mut w = self.weights(losses, Some(present));
        super::zero_absent(&mut w, present);
        w
    }

    fn loss_weights(&mut self, losses: &[f32]) -> Vec<f32> {
        self.weights(losses, None)
    }

    #[cfg(test)]
    fn loss_part_state(&self) -> (Vec<f64>, Vec<f32>) {
        (self.s.values.clone(), Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::testing::method;
    use super::super::WeightingSpec;
    use super::*;

    #[test]
    fn uncertainty_weights_and_their_update() {
        let mut uw = method(WeightingSpec::Uw(Uw {}));
        let w = uw.loss_weights(&[1.0, 0.2, 5.0]);
        let start = (0.5 * 0.5f64.exp()) as f32;
        assert_eq!(w, vec![start; 3]);
        // ∂/∂s = −L·e^{0.5}/2 + 1/2: negative for L = 1 and 5 (s rises, weight falls),
        // positive for L = 0.2 (s falls, weight rises); Adam's first step is lr·sign.
        let w = uw.loss_weights(&[1.0, 0.2, 5.0]);
        assert!(w[0] < start && w[2] < start && w[1] > start, "{w:?}");
        assert!((f64::from(w[0]) - 0.5 * (0.5f64 - 0.01).exp()).abs() < 1e-6);
    }
}
