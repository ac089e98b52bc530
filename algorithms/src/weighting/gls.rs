//! `gls`: the geometric mean of the task losses.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): the geometric mean of the present tasks' losses alone, (Π_{i present} Lᵢ)^{1/k}/(k·Lᵢ) for the k present tasks, an absent task weighted 0 (a loss of 0 would make the product 0 and its weight 0/0).

use super::{Level, Method, MethodSpec, Setup};
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// `gls`: L = (Πᵢ Lᵢ)^{1/T}, whose gradient is Σᵢ [(ΠL)^{1/T}/(T·Lᵢ)] ∇Lᵢ.
///
/// Paper: Chennupati et al. 2019, geometric loss strategy; LibMTL `GLS`. No
/// hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gls {}

impl MethodSpec for Gls {
    fn level(&self) -> Level {
        Level::Loss
    }

    fn build<D: Device<f32>>(&self, _setup: Setup) -> Box<dyn Method<D>> {
        Box::new(Gls {})
    }
}

/// No state.
impl<D: Device<f32>> Method<D> for Gls {
    /// The present tasks' geometric mean (see the module doc).
    fn loss_weights_present(&mut self, losses: &[f32], present: &[bool]) -> Vec<f32> {
        let keep = super::missing::present_indices(present);
        let sub: Vec<f32> = keep.iter().map(|&i| losses[i]).collect();
        let w: Vec<f64> = <Self as Method<D>>::loss_weights(self, &sub)
            .into_iter()
            .map(f64::from)
            .collect();
        super::missing::expand(&w, &keep, losses.len())
            .into_iter()
            .map(|w| w as f32)
            .collect()
    }

    fn loss_weights(&mut self, losses: &[f32]) -> Vec<f32> {
        let t = losses.len();
        let log_mean = losses.iter().map(|l| f64::from(*l).ln()).sum::<f64>() / t as f64;
        let geometric = log_mean.exp();
        losses
            .iter()
            .map(|l| (geometric / (t as f64 * f64::from(*l))) as f32)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::testing::method;
    use super::super::WeightingSpec;
    use super::*;

    #[test]
    fn weights_by_hand() {
        let losses = [0.5f32, 2.0, 4.0];
        // GLS: (0.5·2·4)^(1/3) = 4^(1/3); wᵢ = 4^(1/3)/(3Lᵢ).
        let g = 4f64.powf(1.0 / 3.0);
        let w = method(WeightingSpec::Gls(Gls {})).loss_weights(&losses);
        for (wi, li) in w.iter().zip(losses) {
            assert!((f64::from(*wi) - g / (3.0 * f64::from(li))).abs() < 1e-6);
        }
    }
}
