//! `aligned_mtl`: align the principal components of the gradient matrix.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): the present tasks' gradient matrix alone is aligned, an absent task weighted 0 (its zero row would be a zero singular value).

use super::{Aggregation, Level, Method, MethodSpec, Setup};
use crate::jacobian::Jacobian;
use crate::solvers;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// `aligned_mtl`: GGᵀ = VΛVᵀ (eigenvalues ≤ λ_max·T·ε₃₂ dropped), B = √λ_min·VΛ^{−1/2}Vᵀ,
/// wᵢ = column sums of B (LibMTL's `min` scale mode). Task heads get their own task's
/// gradient. The eigen-decomposition is of the T×T Gramian (accumulated in f64 from G),
/// in f64 on the host.
///
/// Paper: Senushkin et al. 2023, "Independent component alignment for multi-task
/// learning"; LibMTL `Aligned_MTL`. No hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignedMtl {}

impl MethodSpec for AlignedMtl {
    fn level(&self) -> Level {
        Level::Gradient
    }

    fn build<D: Device<f32>>(&self, _setup: Setup) -> Box<dyn Method<D>> {
        Box::new(AlignedMtl {})
    }
}

impl<D: Device<f32>> Method<D> for AlignedMtl {
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
        aligned_mtl(&g.gramian())
    }
}

/// Aligned-MTL (LibMTL) on the Gramian: GGᵀ = VΛVᵀ keeping λ > λ_max·T·ε₃₂ (float32 machine
/// epsilon, as LibMTL's torch default); B = √λ_min·VΛ^{−1/2}Vᵀ; wᵢ = column sums of B. With
/// no eigenvalue kept (all gradients zero) the update is zero (event
/// `aligned_mtl_zero_update`).
pub fn aligned_mtl(gram: &[Vec<f64>]) -> Aggregation {
    let t = gram.len();
    let (values, vectors) = solvers::symmetric_eigen(gram);
    let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let tolerance = max * t as f64 * f64::from(f32::EPSILON);
    let kept: Vec<usize> = (0..t).filter(|&k| values[k] > tolerance).collect();
    if kept.is_empty() {
        return Aggregation {
            event: Some("aligned_mtl_zero_update"),
            ..Aggregation::new(vec![0.0; t], None)
        };
    }
    let lambda_min = kept
        .iter()
        .map(|&k| values[k])
        .fold(f64::INFINITY, f64::min);
    let weights = (0..t)
        .map(|j| {
            // Σᵢ Bᵢⱼ with B = √λ_min Σₖ vₖvₖᵀ/√λₖ.
            kept.iter()
                .map(|&k| {
                    (0..t).map(|i| vectors[i][k]).sum::<f64>() * vectors[j][k] / values[k].sqrt()
                })
                .sum::<f64>()
                * lambda_min.sqrt()
        })
        .collect();
    Aggregation::new(weights, None)
}

#[cfg(test)]
mod tests {
    use super::super::tests::testing::*;
    use super::*;

    #[test]
    fn golden_numbers() {
        for (name, grads) in golden_jacobians() {
            assert_close(
                &combine(&grads, &aligned_mtl(&gram(&grads)).weights),
                &golden_aligned_mtl(name),
            );
        }
    }

    #[test]
    fn aligned_mtl_on_hard_cases() {
        for (name, grads, _) in hard_cases() {
            let d = combine64(&grads, &aligned_mtl(&gram(&grads)).weights);
            assert_matches(name, &d, &hard_aligned_mtl(name), TOLERANCE.closed_form);
        }
    }

    /// The fallback is reported as an event: a zero update when no eigenvalue is kept (all
    /// gradients zero); the regular case reports none.
    #[test]
    fn fallback_is_reported() {
        let zero = vec![vec![0.0f32; 4]; 3];
        let agg = aligned_mtl(&gram(&zero));
        assert_eq!(agg.event, Some("aligned_mtl_zero_update"));
        assert_eq!(agg.weights, vec![0.0; 3]);
        assert_eq!(aligned_mtl(&gram(&conflicting())).event, None);
    }

    #[test]
    fn device_path_matches_the_host() {
        for (_, grads) in golden_jacobians() {
            let spec = crate::weighting::WeightingSpec::AlignedMtl(AlignedMtl {});
            let device = method(spec)
                .aggregate(&mut on_device(&grads), &LOSSES)
                .weights;
            assert_weights_close(&device, &aligned_mtl(&gram(&grads)).weights);
        }
    }
}
