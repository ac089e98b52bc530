//! `gradvac`: gradient vaccine, raising task-pair cosines to moving targets.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): the pairs it takes part in are skipped: no present gᵢ′ is moved towards it, its own gᵢ′ is not formed, and the targets φ̂ of its pairs keep their values (a zero gradient's cosine, read as 0, would pull them towards 0); its coefficients are 0. The orders are drawn as every step, then the absent tasks left out.

use crate::tuning::TuningRange;
use super::{random_orders, Aggregation, Level, Method, MethodSpec, Setup};
use crate::jacobian::Jacobian;
use crate::error::AlgorithmsError;
use dfdx::prelude::*;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// How GradVac splits the shared parameters into groups with their own targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GradVacGranularity {
    /// One group: all shared parameters.
    #[default]
    Whole,
    /// One group per shared layer (weight and bias together).
    Layer,
    /// One group per shared parameter tensor.
    Tensor,
}

/// `gradvac`: gradient vaccine: per task pair (and per parameter group), raise the cosine
/// of gᵢ′ and gⱼ to an EMA target φ̂ᵢⱼ when it falls below it, j in a random order per step;
/// targets start at 0 and move by φ̂ ← (1−β)φ̂ + βρ. With targets at 0 it is PCGrad. Task
/// heads get their own task's gradient.
///
/// Each gᵢ′ is tracked per group as coefficients on the gⱼ, so the method reads only the
/// group's block Gramian (accumulated in f64 from G's columns there) and the direction is, per
/// group, G's columns there combined by the group's coefficients (one product each).
///
/// Paper: Wang et al. 2021, "Gradient vaccine"; LibMTL `GradVac`. Hyper-parameters:
/// `beta` 0.5, `granularity` whole | layer | tensor (default whole, LibMTL's group type 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradVac {
    pub beta: f64,
    pub granularity: GradVacGranularity,
}

impl Default for GradVac {
    fn default() -> Self {
        GradVac {
            beta: 0.5,
            granularity: GradVacGranularity::Whole,
        }
    }
}

impl MethodSpec for GradVac {
    /// Tuned: the EMA factor β of the cosine targets.
    fn tuning_ranges(&self) -> Vec<(String, TuningRange)> {
        vec![("beta".into(), TuningRange::LogUniform(1e-3, 1e-1))]
    }

    fn level(&self) -> Level {
        Level::Gradient
    }

    fn validate(&self, _tasks: usize) -> Result<(), AlgorithmsError> {
        if !(0.0..=1.0).contains(&self.beta) {
            return Err(AlgorithmsError::invalid("beta", "must be in [0, 1]"));
        }
        Ok(())
    }

    fn supports_rep_grad(&self) -> bool {
        false
    }

    fn build<D: Device<f32>>(&self, setup: Setup) -> Box<dyn Method<D>> {
        Box::new(GradVacState {
            spec: self.clone(),
            rng: setup.rng,
            targets: Vec::new(),
        })
    }
}

struct GradVacState {
    spec: GradVac,
    rng: ChaCha8Rng,
    /// The targets φ̂ (T·T·groups).
    targets: Vec<f64>,
}

/// GradVac's parameter groups as column ranges of G, from its layer layout.
pub(crate) fn groups(
    granularity: GradVacGranularity,
    layout: &[(usize, usize)],
    width: usize,
) -> Vec<Range<usize>> {
    let sizes: Vec<usize> = match granularity {
        GradVacGranularity::Whole => vec![width],
        GradVacGranularity::Layer => layout.iter().map(|(w, b)| w + b).collect(),
        GradVacGranularity::Tensor => layout.iter().flat_map(|(w, b)| [*w, *b]).collect(),
    };
    let mut start = 0;
    sizes
        .into_iter()
        .filter(|n| *n > 0)
        .map(|n| {
            start += n;
            start - n..start
        })
        .collect()
}

impl<D: Device<f32>> Method<D> for GradVacState {
    /// The absent tasks' pairs skipped (see the module doc).
    fn aggregate_present(
        &mut self,
        g: &mut Jacobian<D>,
        _losses: &[f32],
        present: &[bool],
    ) -> Aggregation {
        self.combine(g, Some(present))
    }

    fn aggregate(&mut self, g: &mut Jacobian<D>, _losses: &[f32]) -> Aggregation {
        self.combine(g, None)
    }
}

impl GradVacState {
    /// GradVac's step; with `present`, over the present tasks' pairs only.
    fn combine<D: Device<f32>>(&mut self, g: &Jacobian<D>, present: Option<&[bool]>) -> Aggregation {
        let t = g.tasks();
        let ranges = groups(self.spec.granularity, g.layout(), g.width());
        let blocks: Vec<Vec<Vec<f64>>> =
            ranges.iter().map(|r| g.block_gramian(r.clone())).collect();
        if self.targets.is_empty() {
            self.targets = vec![0.0; t * t * ranges.len()];
        }
        let mut orders = random_orders(&mut self.rng, t);
        if let Some(p) = present {
            for (i, order) in orders.iter_mut().enumerate() {
                order.retain(|&j| p[i] && p[j]);
            }
        }
        let mut coefficients = gradvac(&blocks, &orders, self.spec.beta, &mut self.targets);
        if let Some(p) = present {
            coefficients.iter_mut().for_each(|c| super::zero_absent(c, p));
        }
        Aggregation {
            blocks: Some(ranges.into_iter().zip(coefficients).collect()),
            ..Aggregation::new(vec![1.0; t], None)
        }
    }
}

/// GradVac (LibMTL's loop) on the block Gramians `blocks[k]` of the groups: for each i,
/// for j ≠ i in `orders[i]`, per group k with ρ = cos(gᵢ′, gⱼ): if ρ < φ̂ᵢⱼₖ then
/// gᵢ′ += gⱼ·‖gᵢ′‖(φ̂√(1−ρ²) − ρ√(1−φ̂²))/(‖gⱼ‖√(1−φ̂²)); always φ̂ᵢⱼₖ ← (1−β)φ̂ᵢⱼₖ + βρ.
/// d = Σᵢ gᵢ′. `targets` holds φ̂ (T·T·K, row-major). Returns, per group, the coefficients
/// of d on the gⱼ restricted to that group.
pub fn gradvac(
    blocks: &[Vec<Vec<f64>>],
    orders: &[Vec<usize>],
    beta: f64,
    targets: &mut [f64],
) -> Vec<Vec<f64>> {
    let t = orders.len();
    let k_count = blocks.len();
    let mut direction = vec![vec![0.0f64; t]; k_count];
    for i in 0..t {
        // gᵢ′ restricted to group k = Σₘ c[k][m] gₘ there.
        let mut c: Vec<Vec<f64>> = (0..k_count)
            .map(|_| (0..t).map(|m| f64::from(u8::from(m == i))).collect())
            .collect();
        for &j in &orders[i] {
            if j == i {
                continue;
            }
            for (k, gram) in blocks.iter().enumerate() {
                let ck = &mut c[k];
                let along: f64 = (0..t).map(|m| ck[m] * gram[m][j]).sum();
                let ni = (0..t)
                    .map(|a| (0..t).map(|b| ck[a] * ck[b] * gram[a][b]).sum::<f64>())
                    .sum::<f64>()
                    .max(0.0)
                    .sqrt();
                let nj = gram[j][j].max(0.0).sqrt();
                let rho = if ni > 0.0 && nj > 0.0 {
                    along / (ni * nj)
                } else {
                    0.0
                };
                let target = &mut targets[(i * t + j) * k_count + k];
                if rho < *target && nj > 0.0 {
                    let phi = *target;
                    let w = ni * (phi * (1.0 - rho * rho).sqrt() - rho * (1.0 - phi * phi).sqrt())
                        / (nj * (1.0 - phi * phi).sqrt());
                    ck[j] += w;
                }
                *target = (1.0 - beta) * *target + beta * rho;
            }
        }
        for (d, ck) in direction.iter_mut().zip(&c) {
            d.iter_mut().zip(ck).for_each(|(x, y)| *x += y);
        }
    }
    direction
}

#[cfg(test)]
mod tests {
    use super::super::tests::testing::*;
    use super::super::WeightingSpec;
    use super::*;

    /// The direction of per-group coefficients, on the host.
    fn direction(grads: &[Vec<f32>], ranges: &[Range<usize>], c: &[Vec<f64>]) -> Vec<f32> {
        let mut d = vec![0.0f32; grads[0].len()];
        for (range, ck) in ranges.iter().zip(c) {
            let part: Vec<Vec<f32>> = grads.iter().map(|g| g[range.clone()].to_vec()).collect();
            d[range.clone()].copy_from_slice(&combine(&part, ck));
        }
        d
    }

    /// GradVac, two steps (the second uses the targets the first left), whole model and
    /// two groups of the 5 coordinates.
    #[test]
    fn golden_numbers() {
        for (name, grads) in golden_jacobians() {
            for (ranges, want) in [
                (
                    std::iter::once(0..5).collect::<Vec<_>>(),
                    golden_gradvac_whole(name),
                ),
                (vec![0..2, 2..5], golden_gradvac_groups(name)),
            ] {
                let blocks: Vec<Vec<Vec<f64>>> = ranges
                    .iter()
                    .map(|r| {
                        gram(
                            &grads
                                .iter()
                                .map(|g| g[r.clone()].to_vec())
                                .collect::<Vec<_>>(),
                        )
                    })
                    .collect();
                let mut targets = vec![0.0; 9 * ranges.len()];
                let first = gradvac(&blocks, &golden_orders(), 0.5, &mut targets);
                let second = gradvac(&blocks, &golden_orders(), 0.5, &mut targets);
                let both: Vec<f32> = direction(&grads, &ranges, &first)
                    .into_iter()
                    .chain(direction(&grads, &ranges, &second))
                    .collect();
                assert_close(&both, &want);
            }
        }
    }

    #[test]
    fn gradvac_groups_follow_the_shared_layout() {
        let layout = [(6, 2), (4, 1)];
        assert_eq!(groups(GradVacGranularity::Whole, &layout, 13), vec![0..13]);
        assert_eq!(
            groups(GradVacGranularity::Layer, &layout, 13),
            vec![0..8, 8..13]
        );
        assert_eq!(
            groups(GradVacGranularity::Tensor, &layout, 13),
            vec![0..6, 6..8, 8..12, 12..13]
        );
    }

    /// The device path (block Gramians and the per-block direction on the dfdx CPU device)
    /// gives the host's direction to f32 precision, per layer.
    #[test]
    fn device_path_matches_the_host() {
        for (_, grads) in golden_jacobians() {
            let spec = WeightingSpec::GradVac(GradVac {
                granularity: GradVacGranularity::Layer,
                ..GradVac::default()
            });
            let mut m = method(spec);
            let mut g = on_device_with(&grads, vec![(2, 0), (2, 1)]);
            let (mut first, mut second) =
                (m.aggregate(&mut g, &LOSSES), m.aggregate(&mut g, &LOSSES));
            let ranges = vec![0..2, 2..5];
            let blocks: Vec<Vec<Vec<f64>>> = ranges
                .iter()
                .map(|r| {
                    gram(
                        &grads
                            .iter()
                            .map(|g| g[r.clone()].to_vec())
                            .collect::<Vec<_>>(),
                    )
                })
                .collect();
            let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
            let mut targets = vec![0.0; 18];
            for agg in [&mut first, &mut second] {
                let orders = random_orders(&mut rng, 3);
                let host = gradvac(&blocks, &orders, 0.5, &mut targets);
                let device = g.combine_blocks(agg.blocks.as_ref().unwrap());
                let want: Vec<f64> = direction(&grads, &ranges, &host)
                    .iter()
                    .map(|x| f64::from(*x))
                    .collect();
                let got: Vec<f64> = device.to_host().iter().map(|x| f64::from(*x)).collect();
                assert_weights_close(&got, &want);
            }
        }
    }
}
