//! `imtl_g`: the update with equal projections onto every task's unit gradient.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): equal projections on the present tasks' unit gradients alone, an absent task weighted 0 (a zero gradient has no unit direction).

use super::{Aggregation, Level, Method, MethodSpec, Setup};
use crate::jacobian::Jacobian;
use crate::solvers;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// `imtl_g`: the update with equal projections onto every task's unit gradient,
/// α₂..T = g₁Uᵀ(DUᵀ)⁻¹, α₁ = 1 − Σα₂..T (the gradient part of IMTL; the learnable loss
/// scales of IMTL-L are not included). Task heads get their own task's gradient. Every
/// product it needs is an entry of the Gramian (accumulated in f64 from G on the device).
///
/// Paper: Liu et al. 2021, "Towards impartial multi-task learning"; LibMTL `IMTL`
/// (gradient part). No hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImtlG {}

impl MethodSpec for ImtlG {
    fn level(&self) -> Level {
        Level::Gradient
    }

    fn build<D: Device<f32>>(&self, _setup: Setup) -> Box<dyn Method<D>> {
        Box::new(ImtlG {})
    }
}

impl<D: Device<f32>> Method<D> for ImtlG {
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
        imtl_g(&g.gramian())
    }
}

/// IMTL-G (LibMTL) on the Gramian: uᵢ = gᵢ/‖gᵢ‖, D = [g₁ − gₜ]ₜ₌₂..T, U = [u₁ − uₜ]ₜ₌₂..T,
/// α₂..T = g₁Uᵀ(DUᵀ)⁻¹, α₁ = 1 − Σα₂..T; d = Σ αₜgₜ (equal projections onto every uₜ).
/// Falls back to equal weights 1/T when DUᵀ is singular (event `imtl_g_equal_weights`).
pub fn imtl_g(gram: &[Vec<f64>]) -> Aggregation {
    let t = gram.len();
    let norm: Vec<f64> = (0..t).map(|i| gram[i][i].sqrt().max(1e-300)).collect();
    // gₐ·u_b = Gram[a][b]/‖g_b‖.
    let gu = |a: usize, b: usize| gram[a][b] / norm[b];
    let rhs: Vec<f64> = (1..t).map(|k| gu(0, 0) - gu(0, k)).collect();
    // (DUᵀ)[s][k] = (g₁ − gₛ)·(u₁ − uₖ); solve x·(DUᵀ) = g₁Uᵀ as (DUᵀ)ᵀxᵀ = (g₁Uᵀ)ᵀ.
    let du_t: Vec<Vec<f64>> = (1..t)
        .map(|k| {
            (1..t)
                .map(|s| gu(0, 0) - gu(0, k) - gu(s, 0) + gu(s, k))
                .collect()
        })
        .collect();
    match solvers::solve_linear(&du_t, &rhs) {
        Some(rest) => Aggregation::new(
            std::iter::once(1.0 - rest.iter().sum::<f64>())
                .chain(rest)
                .collect(),
            None,
        ),
        None => Aggregation {
            event: Some("imtl_g_equal_weights"),
            ..Aggregation::new(vec![1.0 / t as f64; t], None)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::testing::*;
    use super::*;

    #[test]
    fn golden_numbers() {
        for (name, grads) in golden_jacobians() {
            assert_close(
                &combine(&grads, &imtl_g(&gram(&grads)).weights),
                &golden_imtl_g(name),
            );
        }
    }

    #[test]
    fn imtl_g_on_hard_cases() {
        for (name, grads, _) in hard_cases() {
            let d = combine64(&grads, &imtl_g(&gram(&grads)).weights);
            assert_matches(name, &d, &hard_imtl_g(name), TOLERANCE.closed_form);
        }
    }

    /// IMTL-G's update has equal projections on every task's unit gradient.
    #[test]
    fn imtl_projects_equally() {
        for grads in random_jacobians() {
            let d = combine(&grads, &imtl_g(&gram(&grads)).weights);
            let projections: Vec<f64> = grads
                .iter()
                .map(|g| solvers::dot(g, &d) / solvers::dot(g, g).sqrt())
                .collect();
            for p in &projections {
                assert!(
                    (p - projections[0]).abs() < 1e-3 * projections[0].abs().max(1.0),
                    "{projections:?}"
                );
            }
        }
    }

    /// The fallback is reported as an event: equal weights when DUᵀ is singular (two equal
    /// task gradients); the regular case reports none.
    #[test]
    fn fallback_is_reported() {
        let same = vec![vec![1.0f32, 2.0], vec![1.0, 2.0], vec![0.0, 1.0]];
        let agg = imtl_g(&gram(&same));
        assert_eq!(agg.event, Some("imtl_g_equal_weights"));
        assert_eq!(agg.weights, vec![1.0 / 3.0; 3]);
        assert_eq!(imtl_g(&gram(&conflicting())).event, None);
    }

    /// IMTL-G from its definition on the f64 rows (the f32 entries promoted exactly):
    /// uₜ = gₜ/‖gₜ‖, D = [g₁ − gₜ], U = [u₁ − uₜ] (t = 2..T) as vectors, DUᵀ and g₁Uᵀ by
    /// compensated dot products, α₂..T = g₁Uᵀ(DUᵀ)⁻¹ by the references' own elimination,
    /// α₁ = 1 − Σα₂..T; d* = Σ αₜgₜ.
    fn exact_imtl_g(grads: &[Vec<f32>]) -> Vec<f64> {
        use super::super::tests::large_cases::{combine_exact, exact_dot, gauss_solve, rows64};
        let g = rows64(grads);
        let t = g.len();
        let u: Vec<Vec<f64>> = g
            .iter()
            .map(|row| {
                let norm = exact_dot(row, row).sqrt();
                row.iter().map(|x| x / norm).collect()
            })
            .collect();
        let minus = |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(x, y)| x - y).collect() };
        let d: Vec<Vec<f64>> = (1..t).map(|s| minus(&g[0], &g[s])).collect();
        let ud: Vec<Vec<f64>> = (1..t).map(|k| minus(&u[0], &u[k])).collect();
        // x·(DUᵀ) = g₁Uᵀ, solved as (DUᵀ)ᵀxᵀ = (g₁Uᵀ)ᵀ.
        let du_t: Vec<Vec<f64>> = (0..t - 1)
            .map(|k| (0..t - 1).map(|s| exact_dot(&d[s], &ud[k])).collect())
            .collect();
        let rhs: Vec<f64> = ud.iter().map(|v| exact_dot(&g[0], v)).collect();
        let rest = gauss_solve(&du_t, &rhs).expect("DUᵀ is regular on the large cases");
        let alpha: Vec<f64> = std::iter::once(1.0 - rest.iter().sum::<f64>())
            .chain(rest)
            .collect();
        combine_exact(&g, &alpha)
    }

    /// Training's route (IMTL-G built from its spec, G as layer blocks on the device, its
    /// Gramian and d = Gᵀw there) on the large nearly opposite cases: d within 1e-3 of the
    /// exact direction (relative, Euclidean norm).
    #[test]
    fn imtl_g_through_training_route_on_large_cases() {
        use super::super::tests::large_cases::*;
        for case in large_cases() {
            let spec = crate::weighting::WeightingSpec::ImtlG(ImtlG {});
            let d = direction_by_training_route(spec, &case);
            let error = relative_l2(&d, &exact_imtl_g(&case.grads));
            eprintln!("imtl_g {}: relative error {error:.2e}", case.name);
            assert!(
                error <= LARGE_TOLERANCE,
                "{}: relative error {error:e}",
                case.name
            );
        }
    }

    #[test]
    fn device_path_matches_the_host() {
        for (_, grads) in golden_jacobians() {
            let spec = crate::weighting::WeightingSpec::ImtlG(ImtlG {});
            let device = method(spec)
                .aggregate(&mut on_device(&grads), &LOSSES)
                .weights;
            assert_weights_close(&device, &imtl_g(&gram(&grads)).weights);
        }
    }
}
