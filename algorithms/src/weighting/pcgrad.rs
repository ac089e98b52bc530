//! `pcgrad`: project each task gradient off those it conflicts with.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): projections among the present tasks only, in random orders drawn over them; an absent task weighted 0 (projecting onto a zero gradient divides by its zero norm).

use super::{random_orders, Aggregation, Level, Method, MethodSpec, Setup};
use crate::jacobian::Jacobian;
use dfdx::prelude::*;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// `pcgrad`: project each gᵢ off every gⱼ it conflicts with (gᵢ′ᵀgⱼ < 0), j in a random
/// order drawn per step from the run's stream; d = Σᵢ gᵢ′ (summed, as LibMTL). Task heads
/// get their own task's gradient.
///
/// Each gᵢ′ is tracked as coefficients on the gⱼ, so the projections read only the Gramian
/// GGᵀ (accumulated in f64 from G on the device) and d = Gᵀw exactly (one product on the
/// device).
///
/// Paper: Yu et al. 2020; LibMTL `PCGrad`. Hyper-parameters: `libmtl_loop` (default
/// false): also "project" gᵢ′ on gᵢ itself, as LibMTL's loop does.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PcGrad {
    pub libmtl_loop: bool,
}

impl MethodSpec for PcGrad {
    fn level(&self) -> Level {
        Level::Gradient
    }

    fn build<D: Device<f32>>(&self, setup: Setup) -> Box<dyn Method<D>> {
        Box::new(PcGradState {
            libmtl_loop: self.libmtl_loop,
            rng: setup.rng,
        })
    }
}

struct PcGradState {
    libmtl_loop: bool,
    rng: ChaCha8Rng,
}

impl<D: Device<f32>> Method<D> for PcGradState {
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
        let orders = random_orders(&mut self.rng, g.tasks());
        pcgrad(&g.gramian(), &orders, self.libmtl_loop)
    }
}

/// PCGrad on the Gramian: gᵢ′ ← gᵢ; for each j in `orders[i]`: if gᵢ′ᵀgⱼ < 0 then
/// gᵢ′ ← gᵢ′ − (gᵢ′ᵀgⱼ/‖gⱼ‖²)gⱼ; d = Σᵢ gᵢ′. j = i is skipped unless `libmtl_loop`.
pub fn pcgrad(gram: &[Vec<f64>], orders: &[Vec<usize>], libmtl_loop: bool) -> Aggregation {
    let t = gram.len();
    let mut weights = vec![0.0; t];
    for i in 0..t {
        // gᵢ′ = Σₖ c[k] gₖ, so gᵢ′ᵀgⱼ = Σₖ c[k] Gram[k][j].
        let mut c = vec![0.0; t];
        c[i] = 1.0;
        for &j in &orders[i] {
            if j == i && !libmtl_loop {
                continue;
            }
            let along: f64 = (0..t).map(|k| c[k] * gram[k][j]).sum();
            if along < 0.0 && gram[j][j] > 0.0 {
                c[j] -= along / gram[j][j];
            }
        }
        weights.iter_mut().zip(&c).for_each(|(w, ck)| *w += ck);
    }
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
                &combine(
                    &grads,
                    &pcgrad(&gram(&grads), &golden_orders(), false).weights,
                ),
                &golden_pcgrad(name),
            );
        }
    }

    #[test]
    fn pcgrad_on_hard_cases() {
        for (name, grads, _) in hard_cases() {
            let agg = pcgrad(&gram(&grads), &orders_of(grads.len()), false);
            let d = combine64(&grads, &agg.weights);
            assert_matches(name, &d, &hard_pcgrad(name), TOLERANCE.closed_form);
        }
    }

    #[test]
    fn reduces_to_a_plain_sum_without_conflict() {
        let grads = aligned();
        let orders = vec![vec![0, 1, 2]; 3];
        assert_eq!(
            pcgrad(&gram(&grads), &orders, false).weights,
            vec![1.0, 1.0, 1.0]
        );
    }

    /// PCGrad from its definition on the f64 rows (the f32 entries promoted exactly): each
    /// gᵢ′ a vector, projected off gⱼ in `orders[i]` while gᵢ′ᵀgⱼ < 0 (compensated dot
    /// products); d* = Σᵢ gᵢ′.
    fn exact_pcgrad(grads: &[Vec<f32>], orders: &[Vec<usize>]) -> Vec<f64> {
        use super::super::tests::large_cases::{exact_dot, exact_sum, rows64};
        let g = rows64(grads);
        let projected: Vec<Vec<f64>> = (0..g.len())
            .map(|i| {
                let mut own = g[i].clone();
                for &j in orders[i].iter().filter(|j| **j != i) {
                    let along = exact_dot(&own, &g[j]);
                    if along < 0.0 {
                        let c = along / exact_dot(&g[j], &g[j]);
                        own.iter_mut().zip(&g[j]).for_each(|(x, y)| *x -= c * y);
                    }
                }
                own
            })
            .collect();
        (0..g[0].len())
            .map(|k| exact_sum(projected.iter().map(|row| row[k])))
            .collect()
    }

    /// Training's route (PCGrad built from its spec with the test stream, G as layer
    /// blocks on the device, its Gramian and d = Gᵀw there) on the large nearly opposite
    /// cases: d within 1e-3 of the exact direction (relative, Euclidean norm) for the task
    /// orders the same stream draws.
    #[test]
    fn pcgrad_through_training_route_on_large_cases() {
        use super::super::tests::large_cases::*;
        for case in large_cases() {
            let spec = crate::weighting::WeightingSpec::PcGrad(PcGrad::default());
            let d = direction_by_training_route(spec, &case);
            let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
            let orders = random_orders(&mut rng, case.grads.len());
            let error = relative_l2(&d, &exact_pcgrad(&case.grads, &orders));
            eprintln!("pcgrad {}: relative error {error:.2e}", case.name);
            assert!(
                error <= LARGE_TOLERANCE,
                "{}: relative error {error:e}",
                case.name
            );
        }
    }

    /// The device path gives the host's weights to f32 precision (same task orders: the
    /// same stream).
    #[test]
    fn device_path_matches_the_host() {
        for (_, grads) in golden_jacobians() {
            let spec = crate::weighting::WeightingSpec::PcGrad(PcGrad::default());
            let device = method(spec)
                .aggregate(&mut on_device(&grads), &LOSSES)
                .weights;
            let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
            let orders = random_orders(&mut rng, 3);
            assert_weights_close(&device, &pcgrad(&gram(&grads), &orders, false).weights);
        }
    }
}
