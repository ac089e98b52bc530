//! `dwa`: dynamic weight average from the ratios of the last two epochs' mean losses.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): its weight is set to 0 for the step; the epoch means DWA reads are over each task's labelled rows, so a missing label is never read as a loss of 0.

use crate::tuning::TuningRange;
use super::{softmax, Level, Method, MethodSpec, Setup};
use crate::error::AlgorithmsError;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// `dwa`: for epoch e > 2, wᵢ = T·exp(rᵢ/τ)/Σⱼexp(rⱼ/τ) with rᵢ = L̄ᵢ(e−1)/L̄ᵢ(e−2), the
/// ratio of the last two epoch-mean training losses; wᵢ = 1 for the first 2 epochs.
///
/// Paper: Liu et al. 2019, dynamic weight average; LibMTL `DWA`.
/// Hyper-parameters: `temperature` τ = 2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dwa {
    pub temperature: f64,
}

impl Default for Dwa {
    fn default() -> Self {
        Dwa { temperature: 2.0 }
    }
}

impl MethodSpec for Dwa {
    /// Tuned: DWA's temperature T (LibMTL's default 2).
    fn tuning_ranges(&self) -> Vec<(String, TuningRange)> {
        vec![("temperature".into(), TuningRange::LogUniform(0.5, 5.0))]
    }

    fn level(&self) -> Level {
        Level::Loss
    }

    fn validate(&self, _tasks: usize) -> Result<(), AlgorithmsError> {
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(AlgorithmsError::invalid(
                "temperature",
                "must be finite and > 0",
            ));
        }
        Ok(())
    }

    fn build<D: Device<f32>>(&self, _setup: Setup) -> Box<dyn Method<D>> {
        Box::new(DwaState {
            temperature: self.temperature,
            epoch_means: Vec::new(),
        })
    }
}

struct DwaState {
    temperature: f64,
    /// Epoch-mean training losses of the finished epochs.
    epoch_means: Vec<Vec<f64>>,
}

impl<D: Device<f32>> Method<D> for DwaState {
    fn loss_weights(&mut self, losses: &[f32]) -> Vec<f32> {
        let t = losses.len();
        match self.epoch_means.as_slice() {
            [.., before, last] => {
                let ratios: Vec<f64> = last.iter().zip(before).map(|(a, b)| a / b).collect();
                softmax(&ratios, self.temperature)
                    .into_iter()
                    .map(|w| (t as f64 * w) as f32)
                    .collect()
            }
            _ => vec![1.0; t],
        }
    }

    fn end_epoch(&mut self, means: &[f64]) {
        self.epoch_means.push(means.to_vec());
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::testing::method;
    use super::super::WeightingSpec;
    use super::*;

    #[test]
    fn dwa_uses_the_last_two_epochs() {
        let mut d = method(WeightingSpec::Dwa(Dwa { temperature: 2.0 }));
        assert_eq!(d.loss_weights(&[1.0; 3]), vec![1.0; 3]);
        d.end_epoch(&[1.0, 1.0, 2.0]);
        assert_eq!(d.loss_weights(&[1.0; 3]), vec![1.0; 3]);
        d.end_epoch(&[0.5, 1.0, 2.0]);
        // r = (0.5, 1, 1); w = 3·exp(r/2)/Σ exp(r/2).
        let e = [0.25f64.exp(), 0.5f64.exp(), 0.5f64.exp()];
        let s: f64 = e.iter().sum();
        let w = d.loss_weights(&[1.0; 3]);
        for (wi, ei) in w.iter().zip(e) {
            assert!((f64::from(*wi) - 3.0 * ei / s).abs() < 1e-6);
        }
        assert!(WeightingSpec::Dwa(Dwa { temperature: 0.0 })
            .validate(3)
            .is_err());
    }
}
