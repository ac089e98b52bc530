//! `famo`: fast adaptive multitask optimization, with its logit update after the step.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): the step is FAMO's on the present tasks alone: z = softmax of their logits, c = Σ over them, an absent task weighted 0; after the step δ and the logit update are theirs only, and an absent task's logit does not move (its Lᵢ = 0 would give log Dᵢ of a negative gap when Lᵢ^min > 0, and δᵢ = 0 is no observation).

use crate::tuning::TuningRange;
use super::{softmax, Level, Method, MethodSpec, Setup, TaskParameters};
use crate::error::AlgorithmsError;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// `famo`: z = softmax(w), Dᵢ = Lᵢ − Lᵢ^min + 1e-8, the update of Σᵢ zᵢ log Dᵢ / sg(Σᵢ zᵢ/Dᵢ);
/// after the model step, on the same batch, δᵢ = log Dᵢ(before) − log Dᵢ(after), the logits
/// w get the gradient J_softmax(w)ᵀδ and an Adam step. One extra forward pass per step.
/// The reference's gradient clipping of its experiment scripts is not applied.
///
/// Paper: Liu et al. 2023, "FAMO: fast adaptive multitask optimization"; LibMTL `FAMO`.
/// Hyper-parameters: `lr` 0.025 (Adam on w), `weight_decay` γ 1e-3 (LibMTL's default;
/// `famo.py` uses 0.01), `min_losses` (default all 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Famo {
    pub lr: f64,
    pub weight_decay: f64,
    pub min_losses: Option<Vec<f64>>,
}

impl Default for Famo {
    fn default() -> Self {
        Famo {
            lr: 0.025,
            weight_decay: 1e-3,
            min_losses: None,
        }
    }
}

impl MethodSpec for Famo {
    /// Tuned: the logits' learning rate around the paper's 0.025.
    fn tuning_ranges(&self) -> Vec<(String, TuningRange)> {
        vec![("lr".into(), TuningRange::LogUniform(1e-3, 1e-1))]
    }

    fn level(&self) -> Level {
        Level::Loss
    }

    fn validate(&self, tasks: usize) -> Result<(), AlgorithmsError> {
        if !(self.lr > 0.0 && self.lr.is_finite() && self.weight_decay >= 0.0) {
            return Err(AlgorithmsError::invalid(
                "lr",
                "lr must be > 0 and weight_decay ≥ 0",
            ));
        }
        match &self.min_losses {
            Some(m) if m.len() != tasks => Err(AlgorithmsError::invalid(
                "min_losses",
                format!("has {} values but the suite has {tasks} tasks", m.len()),
            )),
            _ => Ok(()),
        }
    }

    fn build<D: Device<f32>>(&self, setup: Setup) -> Box<dyn Method<D>> {
        Box::new(FamoState {
            min_losses: self
                .min_losses
                .clone()
                .unwrap_or_else(|| vec![0.0; setup.tasks]),
            logits: TaskParameters::new(vec![0.0; setup.tasks], self.lr, self.weight_decay),
            losses_before: Vec::new(),
            present: None,
        })
    }
}

struct FamoState {
    min_losses: Vec<f64>,
    logits: TaskParameters,
    /// The losses of the current step before the model update.
    losses_before: Vec<f32>,
    /// The tasks with a label in the current step's batch, when one has none.
    present: Option<Vec<bool>>,
}

impl FamoState {
    /// log Dᵢ = log(Lᵢ − Lᵢ^min + 1e-8).
    fn log_gap(&self, losses: &[f32]) -> Vec<f64> {
        losses
            .iter()
            .zip(&self.min_losses)
            .map(|(l, min)| (f64::from(*l) - min + 1e-8).ln())
            .collect()
    }
}

impl FamoState {
    /// z = softmax of the present tasks' logits (all, without `present`), 0 for the others.
    fn z(&self) -> Vec<f64> {
        match &self.present {
            None => softmax(&self.logits.values, 1.0),
            Some(p) => {
                let keep = super::missing::present_indices(p);
                let sub: Vec<f64> = keep.iter().map(|&i| self.logits.values[i]).collect();
                super::missing::expand(&softmax(&sub, 1.0), &keep, p.len())
            }
        }
    }

    /// log Dᵢ of the present tasks, 0 for the others (which z weights 0).
    fn log_gap_present(&self, losses: &[f32]) -> Vec<f64> {
        let mut gaps = self.log_gap(losses);
        if let Some(p) = &self.present {
            super::zero_absent(&mut gaps, p);
        }
        gaps
    }
}

impl<D: Device<f32>> Method<D> for FamoState {
    /// FAMO on the present tasks alone (see the module doc).
    fn loss_weights_present(&mut self, losses: &[f32], present: &[bool]) -> Vec<f32> {
        self.losses_before = losses.to_vec();
        self.present = Some(present.to_vec());
        let z = self.z();
        let gaps: Vec<f64> = self.log_gap_present(losses).iter().map(|g| g.exp()).collect();
        let c: f64 = (0..z.len()).filter(|&i| present[i]).map(|i| z[i] / gaps[i]).sum();
        (0..z.len())
            .map(|i| if present[i] { (z[i] / (c * gaps[i])) as f32 } else { 0.0 })
            .collect()
    }

    fn loss_weights(&mut self, losses: &[f32]) -> Vec<f32> {
        self.losses_before = losses.to_vec();
        self.present = None;
        let z = softmax(&self.logits.values, 1.0);
        let gaps: Vec<f64> = self.log_gap(losses).iter().map(|g| g.exp()).collect();
        let c: f64 = z.iter().zip(&gaps).map(|(zi, di)| zi / di).sum();
        // ∇ of Σ zᵢ log Dᵢ / c with c held constant: Σ zᵢ/(c·Dᵢ) ∇Lᵢ.
        z.iter()
            .zip(&gaps)
            .map(|(zi, di)| (zi / (c * di)) as f32)
            .collect()
    }

    fn needs_losses_after_step(&self) -> bool {
        true
    }

    fn after_step(&mut self, losses_after: &[f32]) {
        let before = self.log_gap_present(&self.losses_before);
        let after = self.log_gap_present(losses_after);
        let delta: Vec<f64> = before.iter().zip(&after).map(|(b, a)| b - a).collect();
        let z = self.z();
        // J_softmax(w)ᵀδ = z ⊙ δ − z (zᵀδ).
        let z_delta: f64 = z.iter().zip(&delta).map(|(a, b)| a * b).sum();
        let grad: Vec<f64> = z
            .iter()
            .zip(&delta)
            .map(|(zi, di)| zi * di - zi * z_delta)
            .collect();
        match &self.present {
            None => self.logits.update(&grad),
            Some(p) => self.logits.update_present(&grad, p),
        }
    }

    #[cfg(test)]
    fn loss_part_state(&self) -> (Vec<f64>, Vec<f32>) {
        (self.logits.values.clone(), self.losses_before.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::testing::method;
    use super::super::WeightingSpec;
    use super::*;

    #[test]
    fn famo_starts_inverse_to_losses_and_favours_the_slower_task() {
        let mut famo = method(WeightingSpec::Famo(Famo::default()));
        let before = [1.0f32, 2.0, 4.0];
        let w = famo.loss_weights(&before);
        // z uniform: wᵢ = (1/Lᵢ)/Σⱼ(1/Lⱼ).
        let inv_sum = 1.0 + 0.5 + 0.25;
        for (wi, li) in w.iter().zip(before) {
            assert!((f64::from(*wi) - (1.0 / f64::from(li)) / inv_sum).abs() < 1e-6);
        }
        // Task 0 halves its loss, tasks 1 and 2 do not move: its logit falls.
        assert!(famo.needs_losses_after_step());
        famo.after_step(&[0.5, 2.0, 4.0]);
        let z = softmax(&famo.loss_part_state().0, 1.0);
        assert!(z[0] < z[1] && (z[1] - z[2]).abs() < 1e-12, "{z:?}");
    }
}
