//! `meta_weight_net`: task weights from a small network trained by a look-ahead on
//! validation batches (the network itself is `crate::meta_weight`).
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): the weight network weighs the present tasks alone (their weights normalised to sum k, the number present), an absent task weighted 0 and left out of the meta-gradient; a task's first loss, the reference of its loss ratio, is its loss at its first batch with a label (not a 0 that the ratio would divide by).

use crate::tuning::TuningRange;
use super::{Level, Method, MethodSpec, OwnStep, Setup};
use crate::engine;
use crate::meta_weight::WeightMlp;
use crate::split::Split;
use crate::error::AlgorithmsError;
use dfdx::prelude::*;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// `meta_weight_net`: Meta-Weight-Net adapted to tasks (see `meta_weight`): an MLP
/// 2 → `hidden` → 1 maps each task's (loss, loss ratio to its first-step loss) to a
/// weight; trained each step by the first-order one-step look-ahead on a batch of the
/// validation split (the meta set), SGD Nesterov 0.9, weight decay 5e-4, lr `meta_lr`;
/// the real step then uses the updated weights. T + 1 forward and backward passes a step
/// (T when the suite has no validation split), counted by the step context.
///
/// Paper: Shu et al. 2019, "Meta-Weight-Net: learning an explicit mapping for sample
/// weighting" (per-sample weights; reference xjtushujun/meta-weight-net); the task
/// adaptation is this project's (docs/FORMULAS.md#meta_weight_net). First order: the task gradients
/// at θ stand in for their values along the look-ahead (the reference differentiates through it).
/// Weights are normalised to sum T (the reference: sum 1). Hyper-parameters: `hidden` 100,
/// `meta_lr` 1e-3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetaWeightNet {
    pub hidden: usize,
    pub meta_lr: f64,
}

impl Default for MetaWeightNet {
    fn default() -> Self {
        MetaWeightNet {
            hidden: 100,
            meta_lr: 1e-3,
        }
    }
}

impl MethodSpec for MetaWeightNet {
    /// Tuned: the weight network's learning rate.
    fn tuning_ranges(&self) -> Vec<(String, TuningRange)> {
        vec![("meta_lr".into(), TuningRange::LogUniform(1e-4, 1e-2))]
    }

    fn level(&self) -> Level {
        Level::Own
    }

    fn validate(&self, _tasks: usize) -> Result<(), AlgorithmsError> {
        if self.hidden == 0 || !(self.meta_lr > 0.0 && self.meta_lr.is_finite()) {
            return Err(AlgorithmsError::invalid(
                "hidden",
                "hidden must be ≥ 1 and meta_lr > 0",
            ));
        }
        Ok(())
    }

    fn build<D: Device<f32>>(&self, setup: Setup) -> Box<dyn Method<D>> {
        let mut rng = setup.rng;
        Box::new(MetaWeightNetState {
            net: WeightMlp::new(self.hidden, self.meta_lr, rng.gen()),
            first_losses: Vec::new(),
        })
    }
}

struct MetaWeightNetState {
    net: WeightMlp,
    /// Each task's loss at its first batch with a label.
    first_losses: Vec<Option<f32>>,
}

impl MetaWeightNetState {
    /// The input features of each of the tasks `keep`: (Lᵢ, Lᵢ/Lᵢ(first step)).
    fn features(&mut self, losses: &[f32], keep: &[usize]) -> Vec<[f64; 2]> {
        if self.first_losses.is_empty() {
            self.first_losses = vec![None; losses.len()];
        }
        keep.iter()
            .map(|&i| {
                let (l, f) = (losses[i], *self.first_losses[i].get_or_insert(losses[i]));
                [f64::from(l), f64::from(l) / f64::from(f.max(1e-12))]
            })
            .collect()
    }
}

impl<D: Device<f32>> Method<D> for MetaWeightNetState {
    /// Each task's full gradient, the weights from the weight network, a look-ahead on a
    /// validation batch, the network's meta step, and the real update Σ v̄ᵢgᵢ with the
    /// updated weights. Returns the task losses.
    fn step(&mut self, ctx: &mut dyn OwnStep<'_, D>) -> Vec<f32> {
        let tasks = ctx.tasks();
        let alpha = ctx.lr() as f32;
        let mut losses = Vec::new();
        let mut grads: Vec<Vec<f32>> = Vec::with_capacity(tasks);
        for t in 0..tasks {
            let one_hot: Vec<f32> = (0..tasks).map(|k| f32::from(u8::from(k == t))).collect();
            let step = ctx.weighted_gradients(one_hot);
            losses = step.losses;
            grads.push(engine::flatten(&step.grads));
        }
        // The present tasks (all of them when every task has a label in the batch).
        let present = ctx.batch().present();
        let keep: Vec<usize> = match &present {
            Some(p) => super::missing::present_indices(p),
            None => (0..tasks).collect(),
        };
        let features = self.features(&losses, &keep);
        let kept: Vec<Vec<f32>> = keep.iter().map(|&i| grads[i].clone()).collect();
        let combine = |w: &[f64]| -> Vec<f32> { super::combine(&kept, w) };
        let weights = self.net.weights(&features);
        let ahead = ctx.shifted(&combine(&weights), -alpha);
        // The meta batch: rows of the validation split, as many as this batch.
        if let Some(meta) = ctx.draw_batch(Split::Val) {
            let ones = vec![1.0f32; tasks];
            let val = ctx.weighted_gradients_of(&ahead, &meta, ones);
            let g_val = engine::flatten(&val.grads);
            // First order: ∂L_val/∂v̄ᵢ ≈ −α g_valᵀgᵢ.
            let d_weights: Vec<f64> = kept
                .iter()
                .map(|g| -f64::from(alpha) * crate::solvers::dot(&g_val, g))
                .collect();
            let grad = self.net.gradient(&features, &d_weights);
            self.net.step(&grad);
        }
        let weights = self.net.weights(&features);
        let update = ctx.unflatten_all(&combine(&weights));
        ctx.set_weights(super::missing::expand(&weights, &keep, tasks));
        ctx.apply(update);
        losses
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weighting::WeightingSpec;

    #[test]
    fn hidden_and_rate_are_checked() {
        let spec =
            |hidden, meta_lr| WeightingSpec::MetaWeightNet(MetaWeightNet { hidden, meta_lr });
        assert!(spec(100, 1e-3).validate(3).is_ok());
        assert_eq!(spec(0, 1e-3).validate(3).unwrap_err().key(), "hidden");
        assert_eq!(spec(10, 0.0).validate(3).unwrap_err().key(), "hidden");
    }
}
