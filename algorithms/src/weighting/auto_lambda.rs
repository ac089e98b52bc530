//! `auto_lambda`: meta-learned task weights by a finite-difference look-ahead.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): its λᵢ does not move at that step (its hypergradient on this batch is 0, and Adam's momentum would move it anyway) and its weight is recorded as 0; the outer batch's absent tasks add nothing to the outer loss.

use crate::tuning::TuningRange;
use super::{Level, Method, MethodSpec, OwnStep, Setup, TaskParameters};
use crate::engine;
use crate::split::Split;
use crate::error::AlgorithmsError;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// `auto_lambda`: meta-learned task weights λ (unconstrained, initialised to `init`) on
/// L = Σᵢ λᵢLᵢ. Each step: a virtual step θ′ = θ − α∇θ Σλᵢ Lᵢ^tr (α = the run's learning
/// rate; a plain gradient step, where the reference also adds the SGD momentum buffer and
/// weight decay); the outer loss Σ_{i∈primary} Lᵢ on a second batch drawn at random from
/// the training set (as the reference's second shuffled loader) at θ′, v = its gradient;
/// the hypergradient by finite differences (DARTS style), ∇λ ≈ −α[Lᵢ^tr(θ⁺) −
/// Lᵢ^tr(θ⁻)]/(2ε) with θ± = θ ± εv, ε = 0.01/‖v‖ (∇λ of Σλᵢ Lᵢ is the vector of task losses,
/// so no second-order autodiff is needed); Adam on λ with `meta_lr`; then the real step on
/// Σλᵢ Lᵢ with the updated λ. Costs 5 forward and 3 backward passes per step (counted by
/// the step context).
///
/// Paper: Liu et al. 2022, "Auto-Lambda: disentangling dynamic task relationships";
/// reference lorenmt/auto-lambda (`auto_lambda.py`), docs/FORMULAS.md#auto_lambda.
/// Hyper-parameters: `init` 0.1, `meta_lr` 1e-4 (the reference's NYUv2 value), `primary` (task
/// indices of the outer loss; default all tasks: the MTL mode; a subset: auxiliary learning).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoLambda {
    pub init: f64,
    pub meta_lr: f64,
    pub primary: Option<Vec<usize>>,
}

impl Default for AutoLambda {
    fn default() -> Self {
        AutoLambda {
            init: 0.1,
            meta_lr: 1e-4,
            primary: None,
        }
    }
}

impl MethodSpec for AutoLambda {
    /// Tuned: the meta learning rate around the paper's 1e-4.
    fn tuning_ranges(&self) -> Vec<(String, TuningRange)> {
        vec![("meta_lr".into(), TuningRange::LogUniform(1e-5, 1e-3))]
    }

    fn level(&self) -> Level {
        Level::Own
    }

    fn validate(&self, tasks: usize) -> Result<(), AlgorithmsError> {
        if !(self.meta_lr > 0.0 && self.meta_lr.is_finite() && self.init.is_finite()) {
            return Err(AlgorithmsError::invalid(
                "meta_lr",
                "meta_lr must be > 0 and init finite",
            ));
        }
        match &self.primary {
            Some(p) if p.is_empty() || p.iter().any(|t| *t >= tasks) => {
                Err(AlgorithmsError::invalid(
                    "primary",
                    format!("must list task indices in 0..{tasks}"),
                ))
            }
            _ => Ok(()),
        }
    }

    fn build<D: Device<f32>>(&self, setup: Setup) -> Box<dyn Method<D>> {
        Box::new(AutoLambdaState {
            primary: self.primary.clone(),
            lambda: TaskParameters::new(vec![self.init; setup.tasks], self.meta_lr, 0.0),
        })
    }
}

struct AutoLambdaState {
    primary: Option<Vec<usize>>,
    lambda: TaskParameters,
}

impl AutoLambdaState {
    fn weights(&self) -> Vec<f32> {
        self.lambda.values.iter().map(|l| *l as f32).collect()
    }
}

impl<D: Device<f32>> Method<D> for AutoLambdaState {
    fn step(&mut self, ctx: &mut dyn OwnStep<'_, D>) -> Vec<f32> {
        let tasks = ctx.tasks();
        let alpha = ctx.lr() as f32;
        let batch = ctx.batch();
        let lambda = self.weights();
        let train = ctx.weighted_gradients(lambda.clone());
        let virtual_net = ctx.shifted(&engine::flatten(&train.grads), -alpha);
        // The outer batch: as many rows as this one, drawn from the training split.
        if let Some(outer) = ctx.draw_batch(Split::Train) {
            let primary: Vec<f32> = (0..tasks)
                .map(|t| match &self.primary {
                    Some(p) => f32::from(u8::from(p.contains(&t))),
                    None => 1.0,
                })
                .collect();
            let val = ctx.weighted_gradients_of(&virtual_net, &outer, primary);
            let v = engine::flatten(&val.grads);
            let norm = crate::solvers::dot(&v, &v).sqrt();
            if norm > 0.0 && norm.is_finite() {
                let eps = (0.01 / norm) as f32;
                let plus = ctx.losses_of(&ctx.shifted(&v, eps), batch);
                let minus = ctx.losses_of(&ctx.shifted(&v, -eps), batch);
                let hypergradient: Vec<f64> = plus
                    .iter()
                    .zip(&minus)
                    .map(|(p, m)| -f64::from(alpha) * f64::from(p - m) / (2.0 * f64::from(eps)))
                    .collect();
                match batch.present() {
                    None => self.lambda.update(&hypergradient),
                    Some(p) => self.lambda.update_present(&hypergradient, &p),
                }
            }
        }
        let lambda = self.weights();
        let step = ctx.weighted_gradients(lambda.clone());
        let mut applied: Vec<f64> = lambda.iter().map(|w| f64::from(*w)).collect();
        if let Some(p) = batch.present() {
            super::zero_absent(&mut applied, &p);
        }
        ctx.set_weights(applied);
        ctx.apply(step.grads);
        train.losses
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weighting::WeightingSpec;

    #[test]
    fn primary_tasks_and_rates_are_checked() {
        let spec = |a: AutoLambda| WeightingSpec::AutoLambda(a);
        assert!(spec(AutoLambda::default()).validate(3).is_ok());
        let bad = spec(AutoLambda {
            primary: Some(vec![3]),
            ..AutoLambda::default()
        });
        assert_eq!(bad.validate(3).unwrap_err().key(), "primary");
        let bad = spec(AutoLambda {
            meta_lr: 0.0,
            ..AutoLambda::default()
        });
        assert_eq!(bad.validate(3).unwrap_err().key(), "meta_lr");
    }
}
