//! `graddrop`: gradient sign dropout on the shared representation.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): its per-sample gradients are zero, so it adds nothing to the sign purity (Σ gᵢ and Σ |gᵢ|) nor to the masked sum: the rule is that of the present tasks, with no change; its head gradient is zero.

use crate::tuning::TuningRange;
use super::{Level, Method, MethodSpec, RepresentationInput, Setup};
use crate::error::AlgorithmsError;
use dfdx::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// `graddrop`: gradient sign dropout on the shared representation: per feature, keep each
/// task's gradient with the probability that its sign agrees with the batch's sign purity
/// P; the masked sum is backpropagated through the trunk. Always uses the representation
/// path (one trunk forward and backward; needs `hard_sharing`). Uniform draws come from the
/// run's stream. The masks are elementwise over the per-sample representation gradients
/// (n × width per task), read on the host.
///
/// Paper: Chen et al. 2020, "Just pick a sign"; LibMTL `GradDrop`. Hyper-parameters:
/// `leak` 0.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradDrop {
    pub leak: f64,
}

impl MethodSpec for GradDrop {
    /// Tuned: the leak of the sign dropout.
    fn tuning_ranges(&self) -> Vec<(String, TuningRange)> {
        vec![("leak".into(), TuningRange::Uniform(0.0, 0.5))]
    }

    fn level(&self) -> Level {
        Level::Representation
    }

    fn validate(&self, _tasks: usize) -> Result<(), AlgorithmsError> {
        if !(0.0..=1.0).contains(&self.leak) {
            return Err(AlgorithmsError::invalid("leak", "must be in [0, 1]"));
        }
        Ok(())
    }

    fn build<D: Device<f32>>(&self, setup: Setup) -> Box<dyn Method<D>> {
        Box::new(GradDropState {
            leak: self.leak,
            rng: setup.rng,
        })
    }
}

struct GradDropState {
    leak: f64,
    rng: ChaCha8Rng,
}

impl<D: Device<f32>> Method<D> for GradDropState {
    fn representation(&mut self, r: &RepresentationInput<'_>) -> (Vec<f32>, Vec<f64>) {
        let uniform: Vec<f64> = (0..r.width).map(|_| self.rng.gen::<f64>()).collect();
        (
            graddrop(r.per_sample, r.rep, r.width, &uniform, self.leak),
            vec![1.0; r.per_sample.len()],
        )
    }
}

/// GradDrop (LibMTL's form, leak ℓ) on per-sample representation gradients Gᵢ (n × width):
/// ∇ᵢ = Σ_batch sign(rep)·Gᵢ (width); P = ½(1 + Σᵢ∇ᵢ/(Σᵢ|∇ᵢ| + 1e-7)); with U (width, from
/// the run's stream) Mᵢ = 1[P > U]·1[∇ᵢ > 0] + 1[P < U]·1[∇ᵢ < 0]; the gradient passed back
/// is Σᵢ Gᵢ ⊙ (ℓ + (1−ℓ)Mᵢ) (masks broadcast over the batch).
pub fn graddrop(
    per_sample: &[Vec<f32>],
    rep: &[f32],
    width: usize,
    uniform: &[f64],
    leak: f64,
) -> Vec<f32> {
    let rows = rep.len() / width.max(1);
    let signal: Vec<Vec<f64>> = per_sample
        .iter()
        .map(|g| {
            let mut s = vec![0.0f64; width];
            for r in 0..rows {
                for c in 0..width {
                    let k = r * width + c;
                    s[c] += f64::from(rep[k].signum() * f32::from(rep[k] != 0.0)) * f64::from(g[k]);
                }
            }
            s
        })
        .collect();
    let odds: Vec<f64> = (0..width)
        .map(|c| {
            let sum: f64 = signal.iter().map(|s| s[c]).sum();
            let abs: f64 = signal.iter().map(|s| s[c].abs()).sum();
            0.5 * (1.0 + sum / (abs + 1e-7))
        })
        .collect();
    let mut out = vec![0.0f32; rep.len()];
    for (g, s) in per_sample.iter().zip(&signal) {
        let keep: Vec<f64> = (0..width)
            .map(|c| {
                let mask =
                    (odds[c] > uniform[c] && s[c] > 0.0) || (odds[c] < uniform[c] && s[c] < 0.0);
                leak + (1.0 - leak) * f64::from(u8::from(mask))
            })
            .collect();
        for r in 0..rows {
            for c in 0..width {
                let k = r * width + c;
                out[k] += (f64::from(g[k]) * keep[c]) as f32;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GradDrop by hand: width 2, two samples, two tasks. Column 0: both tasks push the
    /// same way (P = 1), so every positive signal is kept whatever U; column 1: the tasks
    /// disagree, P = ½(1 + (2 − 1)/3) = 2/3, and U = 0.5 keeps the positive task only.
    #[test]
    fn graddrop_by_hand() {
        let rep = [1.0f32, 1.0, 2.0, -1.0];
        let g0 = vec![1.0f32, 1.0, 1.0, -1.0]; // signal: (1 + 2·1, 1 + (−1)(−1)) = (3, 2)
        let g1 = vec![0.5f32, -1.0, 0.0, 0.0]; // signal: (0.5, −1)
        let out = graddrop(&[g0.clone(), g1.clone()], &rep, 2, &[0.99, 0.5], 0.0);
        // Column 0 keeps both; column 1 keeps task 0 only.
        assert_eq!(out, vec![1.5, 1.0, 1.0, -1.0]);
        // With leak 1 nothing is dropped: the plain sum.
        let sum: Vec<f32> = g0.iter().zip(&g1).map(|(a, b)| a + b).collect();
        assert_eq!(graddrop(&[g0, g1], &rep, 2, &[0.99, 0.5], 1.0), sum);
    }
}
