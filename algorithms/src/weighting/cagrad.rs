//! `cagrad`: conflict-averse gradient descent.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): the conflict-averse direction of the present tasks' gradients alone (their average and its ball), an absent task weighted 0.

use crate::tuning::TuningRange;
use super::{validate_solver, Aggregation, Level, Method, MethodSpec, Setup};
use crate::jacobian::Jacobian;
use crate::solvers;
use crate::error::AlgorithmsError;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// `cagrad`: d = ḡ + φ/‖g_w‖·g_w with w* = argmin_{w∈Δ} wᵀA·1/T + φ√(wᵀAw), φ = c‖ḡ‖,
/// rescaled (docs/FORMULAS.md#cagrad; LibMTL's form, with its 1e-8 terms). Task heads get their own
/// task's gradient. A = GGᵀ is accumulated in f64 from G; the T×T problem is solved on the
/// host in f64 and d = Gᵀw formed on the device.
///
/// Paper: Liu et al. 2021; LibMTL `CAGrad`. Hyper-parameters: `c` 0.5 (LibMTL's default;
/// the CAGrad NYUv2 runs use 0.4), `rescale` 1 (0 none, 1 ÷(1+c²), 2 ÷(1+c)), `tolerance`
/// 1e-10, `max_iterations` 10000.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaGrad {
    pub c: f64,
    pub rescale: u8,
    pub tolerance: f64,
    pub max_iterations: usize,
}

impl Default for CaGrad {
    fn default() -> Self {
        CaGrad {
            c: 0.5,
            rescale: 1,
            tolerance: 1e-10,
            max_iterations: 10_000,
        }
    }
}

impl MethodSpec for CaGrad {
    /// Tuned: c over the paper's sweep 0.1–0.9.
    fn tuning_ranges(&self) -> Vec<(String, TuningRange)> {
        vec![("c".into(), TuningRange::Uniform(0.1, 0.9))]
    }

    fn level(&self) -> Level {
        Level::Gradient
    }

    fn validate(&self, _tasks: usize) -> Result<(), AlgorithmsError> {
        if !(self.c >= 0.0 && self.c.is_finite()) {
            return Err(AlgorithmsError::invalid("c", "must be finite and ≥ 0"));
        }
        if self.rescale > 2 {
            return Err(AlgorithmsError::invalid("rescale", "must be 0, 1 or 2"));
        }
        validate_solver(self.tolerance, self.max_iterations)
    }

    fn build<D: Device<f32>>(&self, _setup: Setup) -> Box<dyn Method<D>> {
        Box::new(self.clone())
    }
}

impl<D: Device<f32>> Method<D> for CaGrad {
    /// With tasks absent from the batch: this rule over the present tasks alone (see the
    /// module doc).
    fn aggregate_present(
        &mut self,
        g: &mut Jacobian<D>,
        losses: &[f32],
        present: &[bool],
    ) -> Aggregation {
        super::over_present(g, losses, present, |g, l| self.aggregate(g, l))
    }

    fn aggregate(&mut self, g: &mut Jacobian<D>, _losses: &[f32]) -> Aggregation {
        cagrad(
            &g.gramian(),
            self.c,
            self.rescale,
            self.tolerance,
            self.max_iterations,
        )
    }
}

/// CAGrad (LibMTL's form) on A = GGᵀ: ‖g₀‖ = √mean(A), φ = c‖g₀‖ + 1e-8,
/// w* = argmin_{w∈Δ} wᵀA(1/T)·1 + φ√(wᵀAw + 1e-8); g_w = Σ wᵢ*gᵢ;
/// d = ḡ + φ/(‖g_w‖ + 1e-8)·g_w, rescaled by 1/(1+c²) (mode 1), 1/(1+c) (mode 2) or not (0).
pub fn cagrad(
    a: &[Vec<f64>],
    c: f64,
    rescale: u8,
    tolerance: f64,
    max_iterations: usize,
) -> Aggregation {
    let t = a.len();
    let mean_a = a.iter().flatten().sum::<f64>() / (t * t) as f64;
    let phi = c * mean_a.max(0.0).sqrt() + 1e-8;
    let b: Vec<f64> = (0..t)
        .map(|i| a[i].iter().sum::<f64>() / t as f64)
        .collect();
    let mut aw = vec![0.0; t];
    let (w, report) = solvers::minimize_on_simplex(
        t,
        |w, grad| {
            for (i, x) in aw.iter_mut().enumerate() {
                *x = (0..t).map(|j| a[i][j] * w[j]).sum();
            }
            let quad = (w.iter().zip(&aw).map(|(x, y)| x * y).sum::<f64>() + 1e-8).sqrt();
            for (i, g) in grad.iter_mut().enumerate() {
                *g = b[i] + phi * aw[i] / quad;
            }
            w.iter().zip(&b).map(|(x, y)| x * y).sum::<f64>() + phi * quad
        },
        tolerance,
        max_iterations,
    );
    let gw_norm = (0..t)
        .map(|i| (0..t).map(|j| w[i] * w[j] * a[i][j]).sum::<f64>())
        .sum::<f64>()
        .max(0.0)
        .sqrt();
    let lambda = phi / (gw_norm + 1e-8);
    let divisor = match rescale {
        0 => 1.0,
        1 => 1.0 + c * c,
        _ => 1.0 + c,
    };
    Aggregation::new(
        w.iter()
            .map(|wi| (1.0 / t as f64 + lambda * wi) / divisor)
            .collect(),
        Some(report),
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::testing::*;
    use super::*;

    #[test]
    fn golden_numbers() {
        for (name, grads) in golden_jacobians() {
            for (rescale, want) in golden_cagrad(name) {
                let agg = cagrad(&gram(&grads), 0.5, rescale, 1e-10, 100_000);
                assert_close(&combine(&grads, &agg.weights), &want);
            }
        }
    }

    /// CAGrad (c = 0.5, every rescale mode), to the solver's default tolerance.
    #[test]
    fn cagrad_on_hard_cases() {
        for (name, grads, _) in hard_cases() {
            for (rescale, want) in hard_cagrad(name) {
                let agg = cagrad(&gram(&grads), 0.5, rescale, 1e-10, 10_000);
                let d = combine64(&grads, &agg.weights);
                assert_matches(&format!("{name} {rescale}"), &d, &want, TOLERANCE.cagrad);
            }
        }
    }

    #[test]
    fn reduces_to_the_mean_without_c() {
        let w = cagrad(&gram(&aligned()), 0.0, 1, 1e-10, 100_000).weights;
        for wi in w {
            assert!((wi - 1.0 / 3.0).abs() < 1e-6);
        }
    }

    #[test]
    fn device_path_matches_the_host() {
        for (_, grads) in golden_jacobians() {
            let spec = crate::weighting::WeightingSpec::CaGrad(CaGrad::default());
            let device = method(spec)
                .aggregate(&mut on_device(&grads), &LOSSES)
                .weights;
            let host = cagrad(&gram(&grads), 0.5, 1, 1e-10, 10_000).weights;
            assert_weights_close(&device, &host);
        }
    }
}
