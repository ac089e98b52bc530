//! `upgrad`: the sum of the task gradients' projections onto the dual cone.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): the projections onto the dual cone of the present tasks' gradients alone, an absent task weighted 0.

use super::{validate_solver, Aggregation, Level, Method, MethodSpec, Setup};
use crate::jacobian::Jacobian;
use crate::solvers::{self, SolverReport};
use crate::error::AlgorithmsError;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// How UPGrad's inner problems treat the Gramian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UpGradRegularisation {
    /// The definition: Q = GGᵀ (scaled by its trace, which leaves every projection as it
    /// is), so each gᵢ lands exactly on the dual cone and gⱼᵀd ≥ 0 for every task.
    #[default]
    None,
    /// torchjd's default: Q = GGᵀ/tr(GGᵀ) (the zero matrix when tr < 1e-4) + 1e-4·I. The
    /// ridge moves the answer when the task gradients differ much in norm, and d may then
    /// conflict with a small task (gⱼᵀd ≥ −1e-4·tr(GGᵀ)·wⱼ only).
    Torchjd,
}

/// `upgrad`: project each gᵢ onto the dual cone {d: Gd ≥ 0} of the task gradients and sum
/// the projections (weights w = Σᵢ vᵢ, vᵢ = argmin vᵀQv s.t. v ≥ eᵢ/T). With the default
/// `regularisation: none`, Q = GGᵀ and each projection is exact, so d never conflicts with
/// a task (gⱼᵀd ≥ 0); `torchjd` solves torchjd's problem instead, Q = GGᵀ/tr(GGᵀ) + 1e-4·I,
/// whose ridge moves d when the task gradients differ much in norm (measured on a Jacobian
/// whose norms differ 51×: 11% from the exact projection, and conflicting with a task).
/// The inner problems are solved exactly by an active-set method (accelerated projected
/// gradient to `tolerance` as a fallback). Task heads get their own task's gradient.
/// Q is read from the Gramian (accumulated in f64 from G); the T problems are solved on
/// the host in f64, and d = Gᵀw is one product on the device.
///
/// Paper: Quinton & Rey 2024, "Jacobian descent for multi-objective optimization"; torchjd
/// `UPGrad` (whose default is the regularised form). Hyper-parameters: `regularisation`
/// none | torchjd (default none), `tolerance` 1e-10, `max_iterations` 10000 (fallback).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpGrad {
    pub regularisation: UpGradRegularisation,
    pub tolerance: f64,
    pub max_iterations: usize,
}

impl Default for UpGrad {
    fn default() -> Self {
        UpGrad {
            regularisation: UpGradRegularisation::None,
            tolerance: 1e-10,
            max_iterations: 10_000,
        }
    }
}

impl MethodSpec for UpGrad {
    fn level(&self) -> Level {
        Level::Gradient
    }

    fn validate(&self, _tasks: usize) -> Result<(), AlgorithmsError> {
        validate_solver(self.tolerance, self.max_iterations)
    }

    fn build<D: Device<f32>>(&self, _setup: Setup) -> Box<dyn Method<D>> {
        Box::new(self.clone())
    }
}

impl<D: Device<f32>> Method<D> for UpGrad {
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
        upgrad(
            &g.gramian(),
            self.regularisation,
            self.tolerance,
            self.max_iterations,
        )
    }
}

/// UPGrad on the Gramian: for each task i, vᵢ = argmin_v vᵀQv s.t. v ≥ eᵢ/T, with Q = GGᵀ
/// (exact) or torchjd's regularised Gramian; w = Σᵢ vᵢ. Each gᵢ/T is projected onto the
/// dual cone {d: Gd ≥ 0} of the rows of G, and the projections are summed. Each inner
/// problem is solved exactly by an active-set method (`solvers::min_quadratic_above_exact`),
/// with accelerated projected gradient to `tolerance` as the fallback when that fails (a
/// singular free block). The report is the worst of the T inner solves: the most linear
/// solves or iterations, and the largest KKT residual (on Q scaled to unit trace).
pub fn upgrad(
    gram: &[Vec<f64>],
    regularisation: UpGradRegularisation,
    tolerance: f64,
    max_iterations: usize,
) -> Aggregation {
    let t = gram.len();
    let trace: f64 = (0..t).map(|i| gram[i][i]).sum();
    let q: Vec<Vec<f64>> = (0..t)
        .map(|i| {
            (0..t)
                .map(|j| match regularisation {
                    UpGradRegularisation::None if trace > 0.0 => gram[i][j] / trace,
                    UpGradRegularisation::None => 0.0,
                    UpGradRegularisation::Torchjd => {
                        let normalized = if trace < 1e-4 {
                            0.0
                        } else {
                            gram[i][j] / trace
                        };
                        normalized + if i == j { 1e-4 } else { 0.0 }
                    }
                })
                .collect()
        })
        .collect();
    let mut weights = vec![0.0; t];
    let mut worst = SolverReport {
        iterations: 0,
        gap: 0.0,
    };
    for i in 0..t {
        let lower: Vec<f64> = (0..t)
            .map(|j| if j == i { 1.0 / t as f64 } else { 0.0 })
            .collect();
        let exact = solvers::min_quadratic_above_exact(&q, &lower).map(|(v, solves)| {
            let gap = solvers::quadratic_above_residual(&q, &lower, &v);
            (
                v,
                SolverReport {
                    iterations: solves,
                    gap,
                },
            )
        });
        let (v, report) = match exact {
            Some((v, report)) if report.gap <= tolerance => (v, report),
            _ => solvers::min_quadratic_above(&q, &lower, tolerance, max_iterations),
        };
        weights.iter_mut().zip(&v).for_each(|(w, x)| *w += x);
        worst.iterations = worst.iterations.max(report.iterations);
        worst.gap = worst.gap.max(report.gap);
    }
    Aggregation::new(weights, Some(worst))
}

#[cfg(test)]
mod tests {
    use super::super::tests::testing::*;
    use super::*;

    #[test]
    fn golden_numbers() {
        for (name, grads) in golden_jacobians() {
            for (regularisation, want) in [
                (UpGradRegularisation::None, golden_upgrad(name)),
                (UpGradRegularisation::Torchjd, golden_upgrad_torchjd(name)),
            ] {
                assert_close(
                    &combine(
                        &grads,
                        &upgrad(&gram(&grads), regularisation, 1e-12, 100_000).weights,
                    ),
                    &want,
                );
            }
        }
    }

    /// UPGrad's exact form is the exact projection onto the dual cone (to 1e-12 relative)
    /// and never conflicts with a task; torchjd's regularised form is torchjd's answer,
    /// which on the 51× norm ratio lands 11% away and conflicts with task 1.
    #[test]
    fn upgrad_on_hard_cases() {
        for (name, grads, _) in hard_cases() {
            let exact = upgrad(&gram(&grads), UpGradRegularisation::None, 1e-10, 10_000);
            let d = combine64(&grads, &exact.weights);
            assert_matches(name, &d, &hard_upgrad(name), 1e-12);
            for (i, g) in grads.iter().enumerate() {
                let g_norm = dot64(g, &g.iter().map(|x| f64::from(*x)).collect::<Vec<_>>()).sqrt();
                assert!(
                    dot64(g, &d) >= -1e-12 * g_norm * norm64(&d),
                    "{name}: task {i} conflicts: {}",
                    dot64(g, &d)
                );
            }
            assert!(
                exact.report.unwrap().gap <= 1e-12,
                "{name}: {:?}",
                exact.report
            );
            let torchjd = upgrad(&gram(&grads), UpGradRegularisation::Torchjd, 1e-10, 10_000);
            let dt = combine64(&grads, &torchjd.weights);
            assert_matches(name, &dt, &hard_upgrad_torchjd(name), 1e-12);
        }
        let (_, grads, _) = &hard_cases()[0];
        let exact = hard_upgrad("ratio");
        let torchjd = hard_upgrad_torchjd("ratio");
        let distance = norm64(
            &exact
                .iter()
                .zip(&torchjd)
                .map(|(a, b)| a - b)
                .collect::<Vec<_>>(),
        ) / norm64(&exact);
        assert!((0.10..0.12).contains(&distance), "{distance}");
        assert!(dot64(&grads[1], &torchjd) < 0.0);
    }

    #[test]
    fn device_path_matches_the_host() {
        for (_, grads) in golden_jacobians() {
            let spec = crate::weighting::WeightingSpec::UpGrad(UpGrad::default());
            let device = method(spec)
                .aggregate(&mut on_device(&grads), &LOSSES)
                .weights;
            let host = upgrad(&gram(&grads), UpGradRegularisation::None, 1e-10, 10_000);
            assert_weights_close(&device, &host.weights);
        }
    }
}
