//! `mgda`: the min-norm point of the (normalised) task gradients.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): the min-norm point of the present tasks' (normalised) gradients alone, an absent task weighted 0: a zero row would be the hull's min-norm point, so every step would be a zero update (and `l2` would divide by its zero norm).

use super::{validate_solver, Aggregation, Level, Method, MethodSpec, Setup};
use crate::jacobian::Jacobian;
use crate::solvers;
use crate::error::AlgorithmsError;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// MGDA's gradient normaliser ĝᵢ = gᵢ/nᵢ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MgdaNormalizer {
    /// nᵢ = 1.
    #[default]
    None,
    /// nᵢ = ‖gᵢ‖.
    L2,
    /// nᵢ = Lᵢ.
    Loss,
    /// nᵢ = Lᵢ‖gᵢ‖.
    LossPlus,
}

/// `mgda`: d = Σ αᵢ*ĝᵢ with α* = argmin_{α∈Δ} ‖Σ αᵢĝᵢ‖² (the min-norm point), ĝᵢ = gᵢ/nᵢ.
/// Solved by accelerated projected gradient on the simplex to `tolerance` (Frank–Wolfe
/// gap), not by the reference's 250-iteration Frank–Wolfe. Task heads get their own
/// task's gradient, unscaled (as LibMTL).
///
/// The problem is T×T: it reads the Gramian GGᵀ (accumulated in f64 from G on the device)
/// and solves on the host in f64; the direction Gᵀw is formed on the device.
///
/// Paper: Sener & Koltun 2018; LibMTL `MGDA` (`mgda_gn`). Hyper-parameters: `normalizer`
/// none | l2 | loss | loss_plus (default none), `tolerance` 1e-10, `max_iterations` 10000.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mgda {
    pub normalizer: MgdaNormalizer,
    pub tolerance: f64,
    pub max_iterations: usize,
}

impl Default for Mgda {
    fn default() -> Self {
        Mgda {
            normalizer: MgdaNormalizer::None,
            tolerance: 1e-10,
            max_iterations: 10_000,
        }
    }
}

impl MethodSpec for Mgda {
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

impl<D: Device<f32>> Method<D> for Mgda {
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

    fn aggregate(&mut self, g: &mut Jacobian<D>, losses: &[f32]) -> Aggregation {
        mgda(
            &g.gramian(),
            losses,
            self.normalizer,
            self.tolerance,
            self.max_iterations,
        )
    }
}

/// MGDA on the Gramian `gram` = GGᵀ: α* = argmin_{α∈Δ} ‖Σ αᵢ ĝᵢ‖², d = Σ αᵢ* ĝᵢ (weights
/// αᵢ*/nᵢ on the raw gᵢ).
pub fn mgda(
    gram: &[Vec<f64>],
    losses: &[f32],
    normalizer: MgdaNormalizer,
    tolerance: f64,
    max_iterations: usize,
) -> Aggregation {
    let t = gram.len();
    let norms: Vec<f64> = (0..t).map(|i| gram[i][i].max(0.0).sqrt()).collect();
    let scale: Vec<f64> = (0..t)
        .map(|i| {
            let loss = f64::from(losses[i]);
            let n = match normalizer {
                MgdaNormalizer::None => 1.0,
                MgdaNormalizer::L2 => norms[i],
                MgdaNormalizer::Loss => loss,
                MgdaNormalizer::LossPlus => loss * norms[i],
            };
            if n > 0.0 {
                1.0 / n
            } else {
                0.0
            }
        })
        .collect();
    let m: Vec<Vec<f64>> = (0..t)
        .map(|i| (0..t).map(|j| scale[i] * scale[j] * gram[i][j]).collect())
        .collect();
    let (alpha, report) = solvers::min_norm_weights(&m, tolerance, max_iterations);
    Aggregation::new(
        alpha.iter().zip(&scale).map(|(a, s)| a * s).collect(),
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
            for (normalizer, want) in golden_mgda(name) {
                let agg = mgda(&gram(&grads), &LOSSES, normalizer, 1e-10, 100_000);
                assert_close(&combine(&grads, &agg.weights), &want);
            }
        }
    }

    /// MGDA (every normaliser), to the solver's default tolerance (Frank–Wolfe gap 1e-10).
    #[test]
    fn mgda_on_hard_cases() {
        for (name, grads, losses) in hard_cases() {
            for (normalizer, want) in hard_mgda(name) {
                let agg = mgda(&gram(&grads), &losses, normalizer, 1e-10, 10_000);
                let d = combine64(&grads, &agg.weights);
                assert_matches(&format!("{name} {normalizer:?}"), &d, &want, TOLERANCE.mgda);
            }
        }
    }

    /// MGDA's min-norm direction never conflicts: gᵢᵀd ≥ ‖d‖² ≥ 0 for every task.
    #[test]
    fn mgda_is_non_conflicting() {
        for grads in random_jacobians() {
            let losses = vec![1.0; grads.len()];
            let d = combine(
                &grads,
                &mgda(&gram(&grads), &losses, MgdaNormalizer::None, 1e-10, 100_000).weights,
            );
            let dd = solvers::dot(&d, &d);
            for g in &grads {
                assert!(solvers::dot(g, &d) >= dd - 1e-5, "gᵀd below ‖d‖²");
            }
        }
    }

    /// The min-norm point of the rows scaled by 1/nᵢ, from exact f64 arithmetic on the f32
    /// rows: every face of the simplex solved exactly (its KKT system, M_FF a = μ1,
    /// Σa = 1, by the references' own elimination), the best feasible one kept; d* =
    /// Σ (aᵢ/nᵢ) gᵢ.
    fn exact_mgda(grads: &[Vec<f32>], losses: &[f32], normalizer: MgdaNormalizer) -> Vec<f64> {
        use super::super::tests::large_cases::{combine_exact, exact_gram, gauss_solve, rows64};
        let gram = exact_gram(grads);
        let t = gram.len();
        let n: Vec<f64> = (0..t)
            .map(|i| {
                let (norm, loss) = (gram[i][i].sqrt(), f64::from(losses[i]));
                match normalizer {
                    MgdaNormalizer::None => 1.0,
                    MgdaNormalizer::L2 => norm,
                    MgdaNormalizer::Loss => loss,
                    MgdaNormalizer::LossPlus => loss * norm,
                }
            })
            .collect();
        let m = |i: usize, j: usize| gram[i][j] / (n[i] * n[j]);
        let mut best: Option<(f64, Vec<f64>)> = None;
        for face in 1usize..1 << t {
            let idx: Vec<usize> = (0..t).filter(|i| face >> i & 1 == 1).collect();
            let k = idx.len();
            let mut kkt = vec![vec![0.0; k + 1]; k + 1];
            for (r, &i) in idx.iter().enumerate() {
                for (c, &j) in idx.iter().enumerate() {
                    kkt[r][c] = m(i, j);
                }
                kkt[r][k] = -1.0;
                kkt[k][r] = 1.0;
            }
            let mut rhs = vec![0.0; k + 1];
            rhs[k] = 1.0;
            let Some(solution) = gauss_solve(&kkt, &rhs) else {
                continue;
            };
            if solution[..k].iter().any(|a| *a < 0.0) {
                continue;
            }
            let mut a = vec![0.0; t];
            for (r, &i) in idx.iter().enumerate() {
                a[i] = solution[r];
            }
            let value: f64 = (0..t)
                .flat_map(|i| (0..t).map(move |j| (i, j)))
                .map(|(i, j)| a[i] * a[j] * m(i, j))
                .sum();
            if best.as_ref().is_none_or(|(v, _)| value < *v) {
                best = Some((value, a));
            }
        }
        let (_, a) = best.expect("a vertex is always feasible");
        let weights: Vec<f64> = a.iter().zip(&n).map(|(a, n)| a / n).collect();
        combine_exact(&rows64(grads), &weights)
    }

    /// Training's route (MGDA built from its spec, G as layer blocks on the device, its
    /// Gramian and d = Gᵀw there) on the large nearly opposite cases: d within 1e-3 of the
    /// exact min-norm direction (relative, Euclidean norm), for every normaliser.
    #[test]
    fn mgda_through_training_route_on_large_cases() {
        use super::super::tests::large_cases::*;
        for case in large_cases() {
            for normalizer in [
                MgdaNormalizer::None,
                MgdaNormalizer::L2,
                MgdaNormalizer::Loss,
                MgdaNormalizer::LossPlus,
            ] {
                let spec = crate::weighting::WeightingSpec::Mgda(Mgda {
                    normalizer,
                    ..Mgda::default()
                });
                let d = direction_by_training_route(spec, &case);
                let want = exact_mgda(&case.grads, &case.losses, normalizer);
                let error = relative_l2(&d, &want);
                eprintln!("mgda {} {normalizer:?}: relative error {error:.2e}", case.name);
                assert!(
                    error <= LARGE_TOLERANCE,
                    "{} {normalizer:?}: relative error {error:e}",
                    case.name
                );
            }
        }
    }

    /// The device path (G on the dfdx CPU device, its Gramian by one product) gives the
    /// host's weights to f32 precision.
    #[test]
    fn device_path_matches_the_host() {
        for (_, grads) in golden_jacobians() {
            let mut m = method(crate::weighting::WeightingSpec::Mgda(Mgda {
                normalizer: MgdaNormalizer::L2,
                ..Mgda::default()
            }));
            let device = m.aggregate(&mut on_device(&grads), &LOSSES).weights;
            let host = mgda(&gram(&grads), &LOSSES, MgdaNormalizer::L2, 1e-10, 10_000).weights;
            assert_weights_close(&device, &host);
        }
    }
}
