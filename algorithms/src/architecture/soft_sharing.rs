//! `soft_sharing`: one tower per task, an L2 penalty pulling corresponding trunk layers
//! together, and the penalty's exact gradient.

use super::{single_task, Architecture, Builder, Footprint, Layout, Network, Shape};
use crate::model::Linear;
use crate::tuning::TuningRange;
use crate::error::AlgorithmsError;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// How `soft_sharing` measures the distance between the task towers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SoftPenalty {
    /// λ Σᵢ ‖θᵢ − θ̄‖², θ̄ the towers' mean.
    #[default]
    Mean,
    /// λ Σ_{i<j} ‖θᵢ − θⱼ‖² (Duong et al. 2015; MMoE's "L2-Constrained" baseline).
    Pairwise,
}

/// `soft_sharing`: one tower per task (trunk + head, as `single_task`, from the same
/// initial weights), trained jointly with L = Σᵢ Lᵢ(θᵢ) + λ·penalty over the corresponding
/// trunk layers of the towers. The penalty's gradient is exact: for `mean`,
/// ∂/∂θᵢ Σₖ‖θₖ − θ̄‖² = 2(θᵢ − θ̄) (the terms through θ̄ cancel, since Σₖ(θₖ − θ̄) = 0, so
/// treating θ̄ as a constant gives the same gradient); for `pairwise`, 2T(θᵢ − θ̄). It is
/// added to the task gradients before the optimizer step. Nothing is shared, so only
/// loss-level weightings apply.
///
/// Paper: Duong et al. 2015, "Low resource dependency parsing: cross-lingual parameter
/// sharing in a neural network parser"; docs/FORMULAS.md#soft_sharing. Hyper-parameters: `lambda`
/// 0.01, `penalty` mean | pairwise (mean).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SoftSharing {
    pub lambda: f64,
    pub penalty: SoftPenalty,
}

impl Default for SoftSharing {
    fn default() -> Self {
        SoftSharing {
            lambda: 0.01,
            penalty: SoftPenalty::Mean,
        }
    }
}

impl Architecture for SoftSharing {
    /// Tuned: the penalty weight λ.
    fn tuning_ranges(&self) -> Vec<(String, TuningRange)> {
        vec![(
            "lambda".into(),
            TuningRange::LogUniform(1e-4, 1e-1),
        )]
    }

    fn validate(&self) -> Result<(), AlgorithmsError> {
        if !(self.lambda >= 0.0 && self.lambda.is_finite()) {
            return Err(AlgorithmsError::invalid("lambda", "must be finite and ≥ 0"));
        }
        Ok(())
    }

    fn has_shared_parameters(&self) -> bool {
        false
    }

    fn footprint(&self, shape: &Shape<'_>) -> Footprint {
        single_task::towers_footprint(shape)
    }

    fn build<D: Device<f32>>(&self, b: &mut Builder<'_, D>) -> Layout {
        single_task::towers(b)
    }
}

impl SoftSharing {
    /// Adds the gradient of the penalty to `grads`: for each trunk layer, tower i gets
    /// 2λ(θᵢ − θ̄) (`mean`) or 2λT(θᵢ − θ̄) (`pairwise`), weight and bias alike.
    pub fn penalty_gradient<D: Device<f32>>(&self, net: &Network<D>, grads: &mut [Linear<D>]) {
        let towers = net.towers.len();
        let scale = match self.penalty {
            SoftPenalty::Mean => 2.0 * self.lambda,
            SoftPenalty::Pairwise => 2.0 * self.lambda * towers as f64,
        } as f32;
        let depth = net.towers[0].trunk.len();
        for l in 0..depth {
            let layer = |t: usize| &net.layers[net.towers[t].trunk.start + l];
            let (mut weight_sum, mut bias_sum) = (layer(0).weight.clone(), layer(0).bias.clone());
            for t in 1..towers {
                weight_sum = weight_sum + layer(t).weight.clone();
                bias_sum = bias_sum + layer(t).bias.clone();
            }
            let (weight_mean, bias_mean) = (weight_sum / towers as f32, bias_sum / towers as f32);
            for t in 0..towers {
                let i = net.towers[t].trunk.start + l;
                let g = &mut grads[i];
                g.weight =
                    g.weight.clone() + (layer(t).weight.clone() - weight_mean.clone()) * scale;
                g.bias = g.bias.clone() + (layer(t).bias.clone() - bias_mean.clone()) * scale;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Its penalty gradient by hand, and training that moves from single_task towards
    //! hard_sharing as λ grows.
    use super::*;
    use crate::architecture::testing::{adam_training, tiny_suite, train_tiny};
    use crate::architecture::{ArchitectureSpec, HardSharing, SingleTask};
    use crate::device::cpu;
    use crate::model::ModelSpec;
    use crate::split::Split;
    use crate::train::{RunDefinition, RunSeeds, Trainer};
    use crate::weighting::Equal;
    use crate::weighting::WeightingSpec;

    /// Σ over trunk layers and towers of ‖θᵢ − θ̄‖²: how far apart `soft_sharing`'s towers are.
    fn tower_spread<D: Device<f32>>(net: &Network<D>) -> f64 {
        let towers = net.towers.len();
        let depth = net.towers[0].trunk.len();
        let mut total = 0.0f64;
        for l in 0..depth {
            let values: Vec<Vec<f32>> = (0..towers)
                .map(|t| {
                    let layer = &net.layers[net.towers[t].trunk.start + l];
                    let mut v = layer.weight.as_vec();
                    v.extend(layer.bias.as_vec());
                    v
                })
                .collect();
            for k in 0..values[0].len() {
                let mean = values.iter().map(|v| f64::from(v[k])).sum::<f64>() / towers as f64;
                total += values
                    .iter()
                    .map(|v| (f64::from(v[k]) - mean).powi(2))
                    .sum::<f64>();
            }
        }
        total
    }

    /// soft_sharing with λ = 0 is single_task, bit for bit; a larger λ keeps the towers
    /// closer (monotonically); a large λ brings the test loss towards hard_sharing's.
    #[test]
    fn soft_sharing_interpolates_between_single_task_and_hard_sharing() {
        let suite = tiny_suite(3, 8, 96, 21);
        let model = ModelSpec {
            trunk: vec![16].into(),
            head: vec![],
        };
        let training = adam_training(6, 16, 6, false);
        let equal = WeightingSpec::Equal(Equal {});
        let soft = |lambda: f64, penalty: SoftPenalty| {
            ArchitectureSpec::SoftSharing(SoftSharing { lambda, penalty })
        };
        let run =
            |arch: &ArchitectureSpec| train_tiny(&suite, arch, &equal, &model, &training, (3, 4));
        assert_eq!(
            run(&soft(0.0, SoftPenalty::Mean)).points,
            run(&ArchitectureSpec::SingleTask(SingleTask {})).points
        );
        // The towers' spread after training, by λ.
        let spread = |lambda: f64, penalty: SoftPenalty| {
            let arch = soft(lambda, penalty);
            let mut trainer = Trainer::new(
                cpu(),
                RunDefinition {
                    suite: &suite,
                    architecture: &arch,
                    weighting: &equal,
                    model: &model,
                    training: &training,
                    seeds: RunSeeds {
                        init: 3,
                        batches: 4,
                    },
                },
            );
            let rows: Vec<usize> = (0..96).collect();
            for _ in 0..6 {
                for chunk in rows.chunks(16) {
                    let batch = trainer.batch(chunk);
                    trainer.step(&batch);
                }
            }
            tower_spread(&trainer.net)
        };
        let spreads: Vec<f64> = [0.0, 0.01, 0.1, 1.0]
            .iter()
            .map(|l| spread(*l, SoftPenalty::Mean))
            .collect();
        assert!(spreads[0] > 0.0);
        assert!(spreads.windows(2).all(|w| w[1] < w[0]), "{spreads:?}");
        // Pairwise is T times the mean form's pull: at the same λ the towers stay closer.
        assert!(spread(0.1, SoftPenalty::Pairwise) < spreads[2]);
        let test_loss = |arch: &ArchitectureSpec| -> f64 {
            run(arch)
                .points
                .iter()
                .filter(|p| p.split == Split::Test && p.metric == "mse")
                .map(|p| p.value)
                .sum()
        };
        // As λ grows the test loss moves from single_task's to hard_sharing's (here sharing
        // hurts: single 1.57, hard 3.21). With Adam a much larger λ overshoots (λ = 10:
        // 3.65): the stiff penalty slows training. Under plain SGD the tied towers' trunk
        // moves by the mean of the task gradients, 1/T of hard sharing's step, so the limit
        // is hard sharing at a smaller trunk learning rate rather than hard sharing itself.
        let hard = test_loss(&ArchitectureSpec::HardSharing(HardSharing {}));
        let single = test_loss(&ArchitectureSpec::SingleTask(SingleTask {}));
        let losses: Vec<f64> = [0.1, 1.0, 3.0]
            .iter()
            .map(|l| test_loss(&soft(*l, SoftPenalty::Mean)))
            .collect();
        let towards_hard = |a: f64, b: f64| (b - hard).abs() < (a - hard).abs();
        assert!(
            towards_hard(single, losses[0])
                && towards_hard(losses[0], losses[1])
                && towards_hard(losses[1], losses[2]),
            "{losses:?}, hard {hard}, single {single}"
        );
        assert!(
            (losses[2] - hard).abs() < 0.2 * (single - hard).abs(),
            "{losses:?}, hard {hard}, single {single}"
        );
    }

    /// soft_sharing's penalty gradient by hand: two towers whose single trunk weights are
    /// 1 and 3 (θ̄ = 2), biases 0 and 2 (mean 1); λ = 0.5 adds 2λ(θᵢ − θ̄) = ∓1 (mean form)
    /// and 2λT(θᵢ − θ̄) = ∓2 (pairwise) to zero gradients; heads are untouched.
    #[test]
    fn soft_penalty_gradient_by_hand() {
        let dev = cpu();
        let model = ModelSpec {
            trunk: vec![1].into(),
            head: vec![],
        };
        let arch = ArchitectureSpec::SoftSharing(SoftSharing::default());
        let mut net = arch.build(&dev, &model, 1, &[1, 1], 1);
        for (t, (w, b)) in [(1.0f32, 0.0f32), (3.0, 2.0)].into_iter().enumerate() {
            let i = net.towers[t].trunk.start;
            net.layers[i].weight = dev.tensor_from_vec(vec![w], (1, 1));
            net.layers[i].bias = dev.tensor_from_vec(vec![b], (1,));
        }
        for (penalty, expected) in [(SoftPenalty::Mean, 1.0f32), (SoftPenalty::Pairwise, 2.0)] {
            let mut grads: Vec<Linear<_>> = net.layers.iter().map(|l| l.zeros_like(&dev)).collect();
            SoftSharing {
                lambda: 0.5,
                penalty,
            }
            .penalty_gradient(&net, &mut grads);
            for (t, sign) in [(0, -1.0f32), (1, 1.0)] {
                let i = net.towers[t].trunk.start;
                assert_eq!(
                    grads[i].weight.as_vec(),
                    vec![sign * expected],
                    "{penalty:?}"
                );
                assert_eq!(grads[i].bias.as_vec(), vec![sign * expected], "{penalty:?}");
                let head = net.towers[t].head.start;
                assert_eq!(grads[head].weight.as_vec(), vec![0.0]);
            }
        }
    }

    /// T towers as single_task (the penalty is no forward pass): 3 · 18 + 3 · 2 = 60.
    #[test]
    fn step_cost_counts_every_tower() {
        let a = ArchitectureSpec::SoftSharing(SoftSharing::default());
        assert_eq!(crate::architecture::testing::tiny_step_cost(&a), 60);
    }
}
