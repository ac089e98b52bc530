//! `nash_mtl`: Nash bargaining weights of the task gradients.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): the bargaining solution of the present tasks alone, an absent task weighted 0 ((Mα)ᵢ = 1/αᵢ has no solution for a zero row).

use super::{validate_solver, Aggregation, Level, Method, MethodSpec, Setup};
use crate::jacobian::Jacobian;
use crate::solvers::{self, SolverReport};
use crate::error::AlgorithmsError;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// `nash_mtl`: the Nash bargaining weights α > 0 with (Mα)ᵢ = 1/αᵢ for M = GGᵀ/‖GGᵀ‖_F, the
/// Gramian divided by its Frobenius norm as the reference code does; solved exactly by
/// damped Newton (not the reference's CCCP); the update of Σ αᵢLᵢ (heads scaled by αᵢ),
/// shared part clipped to `max_norm`. Weights are recomputed every step. The Gramian is one
/// product on the device; Newton runs on the host in f64; d = Gᵀ(clip·α) on the device.
///
/// The normalisation matters: the paper's equation is (GGᵀα)ᵢ = 1/αᵢ, and if α* solves it,
/// √‖GGᵀ‖_F·α* solves the normalised one. So α and the head scales here (and in the
/// reference) are √‖GGᵀ‖_F times the paper's, and do not change when every gradient is
/// scaled by the same factor (the paper's would scale by its inverse).
///
/// Paper: Navon et al. 2022; reference AvivNavon/nash-mtl `NashMTL`. Hyper-parameters:
/// `max_norm` 1.0, `tolerance` 1e-10, `max_iterations` 100 (Newton steps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NashMtl {
    pub max_norm: f64,
    pub tolerance: f64,
    pub max_iterations: usize,
}

impl Default for NashMtl {
    fn default() -> Self {
        NashMtl {
            max_norm: 1.0,
            tolerance: 1e-10,
            max_iterations: 100,
        }
    }
}

impl MethodSpec for NashMtl {
    fn level(&self) -> Level {
        Level::Gradient
    }

    fn validate(&self, _tasks: usize) -> Result<(), AlgorithmsError> {
        if !(self.max_norm > 0.0 && self.max_norm.is_finite()) {
            return Err(AlgorithmsError::invalid(
                "max_norm",
                "must be finite and > 0",
            ));
        }
        validate_solver(self.tolerance, self.max_iterations)
    }

    fn build<D: Device<f32>>(&self, _setup: Setup) -> Box<dyn Method<D>> {
        Box::new(self.clone())
    }
}

impl<D: Device<f32>> Method<D> for NashMtl {
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
        nash_mtl(
            &g.gramian(),
            self.max_norm,
            self.tolerance,
            self.max_iterations,
        )
    }
}

/// Nash-MTL's bargaining weights on the Gramian: α > 0 with (Mα)ᵢ = 1/αᵢ for
/// M = GGᵀ/‖GGᵀ‖_F, solved exactly (to `tolerance` on ‖Mα − 1/α‖) as the minimiser of
/// ½αᵀMα − Σ log αᵢ by damped Newton. The update is that of Σ αᵢLᵢ (heads scaled by αᵢ),
/// with the shared part clipped to norm `max_norm` (as the reference).
pub fn nash_mtl(
    gram: &[Vec<f64>],
    max_norm: f64,
    tolerance: f64,
    max_iterations: usize,
) -> Aggregation {
    let t = gram.len();
    let frobenius = gram
        .iter()
        .flatten()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(1e-300);
    let m: Vec<Vec<f64>> = gram
        .iter()
        .map(|r| r.iter().map(|x| x / frobenius).collect())
        .collect();
    let m_times = |a: &[f64]| -> Vec<f64> {
        (0..t)
            .map(|i| (0..t).map(|j| m[i][j] * a[j]).sum())
            .collect()
    };
    let phi = |a: &[f64]| -> f64 {
        let ma = m_times(a);
        0.5 * a.iter().zip(&ma).map(|(x, y)| x * y).sum::<f64>()
            - a.iter().map(|x| x.ln()).sum::<f64>()
    };
    let residual_of = |a: &[f64]| -> Vec<f64> {
        m_times(a)
            .iter()
            .zip(a)
            .map(|(ma, x)| ma - 1.0 / x)
            .collect()
    };
    let mut alpha = vec![1.0; t];
    let mut iterations = max_iterations;
    for iteration in 0..max_iterations {
        let grad = residual_of(&alpha);
        if grad.iter().map(|g| g * g).sum::<f64>().sqrt() <= tolerance {
            iterations = iteration;
            break;
        }
        let hessian: Vec<Vec<f64>> = (0..t)
            .map(|i| {
                (0..t)
                    .map(|j| {
                        m[i][j]
                            + if i == j {
                                1.0 / (alpha[i] * alpha[i])
                            } else {
                                0.0
                            }
                    })
                    .collect()
            })
            .collect();
        let negative: Vec<f64> = grad.iter().map(|g| -g).collect();
        let Some(direction) = solvers::solve_linear(&hessian, &negative) else {
            iterations = iteration;
            break;
        };
        // Backtracking: stay in α > 0 and do not increase the objective.
        let current = phi(&alpha);
        let mut step = 1.0;
        let mut moved = false;
        while step >= 1e-20 {
            let candidate: Vec<f64> = alpha
                .iter()
                .zip(&direction)
                .map(|(a, d)| a + step * d)
                .collect();
            if candidate.iter().all(|a| *a > 0.0) && phi(&candidate) <= current {
                alpha = candidate;
                moved = true;
                break;
            }
            step *= 0.5;
        }
        if !moved {
            iterations = iteration;
            break;
        }
    }
    let gap = residual_of(&alpha)
        .iter()
        .map(|g| g * g)
        .sum::<f64>()
        .sqrt();
    // Clip the shared update Σ αᵢgᵢ to max_norm; the heads keep αᵢ.
    let norm = (0..t)
        .map(|i| {
            (0..t)
                .map(|j| alpha[i] * alpha[j] * gram[i][j])
                .sum::<f64>()
        })
        .sum::<f64>()
        .max(0.0)
        .sqrt();
    let clip = if norm > max_norm {
        max_norm / norm
    } else {
        1.0
    };
    Aggregation {
        weights: alpha.iter().map(|a| a * clip).collect(),
        head_scales: Some(alpha),
        ..Aggregation::new(Vec::new(), Some(SolverReport { iterations, gap }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::testing::*;
    use super::*;

    #[test]
    fn golden_numbers() {
        for (name, grads) in golden_jacobians() {
            let nash = nash_mtl(&gram(&grads), 100.0, 1e-12, 100);
            assert_close(&combine(&grads, &nash.weights), &golden_nash_mtl(name));
            assert_eq!(
                nash.head_scales.as_ref(),
                Some(&nash.weights),
                "no clipping at max_norm 100"
            );
            let clipped = nash_mtl(&gram(&grads), 1.0, 1e-12, 100);
            assert_close(
                &combine(&grads, &clipped.weights),
                &golden_nash_mtl_clipped(name),
            );
        }
    }

    /// Nash-MTL, unclipped (max_norm 100) and clipped to norm 1.
    #[test]
    fn nash_mtl_on_hard_cases() {
        for (name, grads, _) in hard_cases() {
            for (max_norm, want) in [
                (100.0, hard_nash_mtl(name)),
                (1.0, hard_nash_mtl_clipped(name)),
            ] {
                let agg = nash_mtl(&gram(&grads), max_norm, 1e-10, 100);
                let d = combine64(&grads, &agg.weights);
                assert_matches(
                    &format!("{name} {max_norm}"),
                    &d,
                    &want,
                    TOLERANCE.closed_form,
                );
            }
        }
    }

    /// Nash-MTL solves (Mα)ᵢ = 1/αᵢ for M = GGᵀ/‖GGᵀ‖_F (the reference's normalisation): its
    /// α is √‖GGᵀ‖_F times the solution of the paper's (GGᵀα)ᵢ = 1/αᵢ, and is unchanged when
    /// every gradient is scaled by 8 (the paper's α would be divided by 8).
    #[test]
    fn nash_mtl_normalises_the_gramian_by_its_frobenius_norm() {
        let grads = conflicting();
        let gram = gram(&grads);
        let frobenius = gram.iter().flatten().map(|x| x * x).sum::<f64>().sqrt();
        let alpha = nash_mtl(&gram, 1e9, 1e-12, 100).head_scales.unwrap();
        let paper: Vec<f64> = alpha.iter().map(|a| a / frobenius.sqrt()).collect();
        for i in 0..3 {
            let lhs: f64 = (0..3).map(|j| gram[i][j] * paper[j]).sum();
            assert!(
                (lhs - 1.0 / paper[i]).abs() < 1e-9 * lhs.abs(),
                "(GGᵀα*)ᵢ = {lhs} vs 1/α*ᵢ = {}",
                1.0 / paper[i]
            );
        }
        let scaled: Vec<Vec<f32>> = grads
            .iter()
            .map(|g| g.iter().map(|x| 8.0 * x).collect())
            .collect();
        let alpha_scaled = nash_mtl(&super::super::tests::testing::gram(&scaled), 1e9, 1e-12, 100)
            .head_scales
            .unwrap();
        for (a, b) in alpha.iter().zip(&alpha_scaled) {
            assert!((a - b).abs() < 1e-9 * a, "{alpha:?} vs {alpha_scaled:?}");
        }
    }

    #[test]
    fn device_path_matches_the_host() {
        for (_, grads) in golden_jacobians() {
            let spec = crate::weighting::WeightingSpec::NashMtl(NashMtl::default());
            let device = method(spec).aggregate(&mut on_device(&grads), &LOSSES);
            let host = nash_mtl(&gram(&grads), 1.0, 1e-10, 100);
            assert_weights_close(&device.weights, &host.weights);
            assert_weights_close(
                device.head_scales.as_ref().unwrap(),
                host.head_scales.as_ref().unwrap(),
            );
        }
    }
}
