//! `rlw`: random loss weights drawn fresh each step.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): the weights are drawn as every step (the stream moves alike), the absent task's set to 0; the present ones are not rescaled.

use super::{softmax, Level, Method, MethodSpec, Setup};
use dfdx::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The distribution RLW draws its weights from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RlwDistribution {
    /// λ = softmax(ε), ε ~ N(0, I), Σλ = 1 (LibMTL).
    #[default]
    Libmtl,
    /// λᵢ ~ U(0, 1), rescaled to Σλ = T.
    Uniform,
    /// λ = softmax(ε), ε ~ N(0, I), rescaled to Σλ = T.
    Normal,
    /// λ ~ Dirichlet(1, …, 1), rescaled to Σλ = T.
    Dirichlet,
    /// λᵢ ~ Bernoulli(½), rescaled to Σλ = T (all ones when every draw is 0).
    Bernoulli,
    /// One task drawn uniformly gets weight T, the others 0.
    ConstrainedBernoulli,
}

/// `rlw`: L = Σᵢ λᵢLᵢ with λ drawn fresh each step from the run's own stream.
///
/// Paper: Lin et al. 2022, random loss weighting; LibMTL `RLW`; Kurin et al. 2022 for the
/// rescaled variants (their `random_normal` is not offered). Hyper-parameters:
/// `distribution` libmtl | uniform | normal | dirichlet | bernoulli | constrained_bernoulli
/// (default libmtl).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rlw {
    pub distribution: RlwDistribution,
}

impl MethodSpec for Rlw {
    fn level(&self) -> Level {
        Level::Loss
    }

    fn build<D: Device<f32>>(&self, setup: Setup) -> Box<dyn Method<D>> {
        Box::new(RlwState {
            distribution: self.distribution,
            rng: setup.rng,
        })
    }
}

struct RlwState {
    distribution: RlwDistribution,
    rng: ChaCha8Rng,
}

impl<D: Device<f32>> Method<D> for RlwState {
    fn loss_weights(&mut self, losses: &[f32]) -> Vec<f32> {
        let t = losses.len();
        let rng = &mut self.rng;
        let draws: Vec<f64> = match self.distribution {
            RlwDistribution::Libmtl | RlwDistribution::Normal => {
                let eps: Vec<f64> = (0..t)
                    .map(|_| rng.sample(rand_distr::StandardNormal))
                    .collect();
                softmax(&eps, 1.0)
            }
            RlwDistribution::Uniform => (0..t).map(|_| rng.gen::<f64>()).collect(),
            RlwDistribution::Dirichlet => (0..t).map(|_| rng.sample(rand_distr::Exp1)).collect(),
            RlwDistribution::Bernoulli => {
                let b: Vec<f64> = (0..t)
                    .map(|_| f64::from(u8::from(rng.gen::<bool>())))
                    .collect();
                if b.iter().all(|x| *x == 0.0) {
                    vec![1.0; t]
                } else {
                    b
                }
            }
            RlwDistribution::ConstrainedBernoulli => {
                let pick = rng.gen_range(0..t);
                (0..t).map(|i| f64::from(u8::from(i == pick))).collect()
            }
        };
        let total = if self.distribution == RlwDistribution::Libmtl {
            1.0
        } else {
            t as f64
        };
        let sum: f64 = draws.iter().sum();
        draws
            .into_iter()
            .map(|d| (total * d / sum) as f32)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::testing::method;
    use super::super::WeightingSpec;
    use super::*;

    #[test]
    fn weights_by_distribution() {
        let losses = [0.5f32, 2.0, 4.0];
        // RLW: a fresh point of the simplex each step, reproducible from the stream.
        let mut r = method(WeightingSpec::Rlw(Rlw::default()));
        let (a, b) = (r.loss_weights(&losses), r.loss_weights(&losses));
        assert!((a.iter().sum::<f32>() - 1.0).abs() < 1e-6 && a != b);
        assert_eq!(
            a,
            method(WeightingSpec::Rlw(Rlw::default())).loss_weights(&losses)
        );
        // Kurin's variants sum to T; constrained Bernoulli picks exactly one task.
        for distribution in [
            RlwDistribution::Uniform,
            RlwDistribution::Normal,
            RlwDistribution::Dirichlet,
            RlwDistribution::Bernoulli,
            RlwDistribution::ConstrainedBernoulli,
        ] {
            let mut r = method(WeightingSpec::Rlw(Rlw { distribution }));
            for _ in 0..20 {
                let w = r.loss_weights(&losses);
                let sum: f32 = w.iter().sum();
                assert!(
                    (sum - 3.0).abs() < 1e-5 && w.iter().all(|x| *x >= 0.0),
                    "{distribution:?} {w:?}"
                );
                if distribution == RlwDistribution::ConstrainedBernoulli {
                    assert_eq!(w.iter().filter(|x| **x == 3.0).count(), 1);
                }
            }
        }
    }
}
