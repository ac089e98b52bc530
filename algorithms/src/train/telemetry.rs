//! Telemetry taken during training, every so many steps: gradient conflict between the
//! task gradients and the update applied (`conflict_every`), TAG's inter-task affinity
//! (`affinity_every`) and the task weights applied (`weights_every`).

use super::{TrainConfig, TrainOutcome, Trainer};
use crate::engine::{self, Batch};
use dfdx::prelude::*;

/// The weight a method gave one task at one step: the factor of its loss (loss-level
/// methods) or of its gradient gᵢ in the update (gradient-level methods).
#[derive(Debug, Clone, PartialEq)]
pub struct WeightPoint {
    pub step: usize,
    pub epoch: usize,
    pub task: usize,
    pub value: f64,
}

/// One conflict or affinity measure at one step, on the shared parameters (or one shared
/// layer), before that step's update. Affinity pairs are ordered (source, target).
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryPoint {
    pub step: usize,
    pub epoch: usize,
    pub measure: &'static str,
    pub tasks: Option<(usize, usize)>,
    pub layer: Option<usize>,
    pub value: f64,
}

impl<'a, D: Device<f32>> Trainer<'a, D> {
    /// TAG's look-ahead affinity Z_{i→j} = 1 − Lⱼ(θ_s − η gᵢ)/Lⱼ(θ_s) on `batch` for every
    /// ordered pair (i, j), with η the run's learning rate (a plain gradient step; the
    /// reference code's momentum look-ahead is not used): `z[i][j]`.
    pub fn affinity(&self, batch: &Batch<D>, grads: &engine::TaskGradients<D>) -> Vec<Vec<f64>> {
        let lr = self.def.training.lr as f32;
        (0..grads.losses.len())
            .map(|i| {
                let g = grads.jacobian.row(i);
                let ahead = engine::look_ahead(&self.net, &self.dev, &g, lr);
                let after = engine::batch_losses(&ahead, &self.kinds, batch);
                after
                    .iter()
                    .zip(&grads.losses)
                    .map(|(a, b)| 1.0 - f64::from(*a) / f64::from(*b))
                    .collect()
            })
            .collect()
    }
}

/// Telemetry before step `outcome.steps` of epoch `epoch`: when conflict or affinity is due,
/// the task gradients at the current parameters (their passes counted as telemetry's) and
/// the affinity measures; the trainer is set to capture the update when conflict is due.
/// A gradient-level step (without `rep_grad`) takes G at these parameters on this batch
/// itself: when only conflict is due, the trainer keeps that G for `after_step` and no
/// passes are added (the conflict measures then read the G the method weighted).
pub(super) fn before_step<D: Device<f32>>(
    trainer: &mut Trainer<'_, D>,
    batch: &Batch<D>,
    cfg: &TrainConfig,
    epoch: usize,
    outcome: &mut TrainOutcome,
) -> Option<engine::TaskGradients<D>> {
    let tasks = trainer.kinds.len();
    // Telemetry: the task gradients at the current parameters (and, for
    // conflict, the update this step applies).
    let has_shared = !trainer.net.shared.is_empty();
    // A step where a task has no label is not measured: its zero gradient has no
    // direction, and its loss of 0 no relative change (docs/FORMULAS.md#missing-labels).
    let measurable = has_shared && batch.present().is_none();
    let due = |every: usize| measurable && every > 0 && outcome.steps.is_multiple_of(every);
    let (conflict, affinity) = (due(cfg.conflict_every), due(cfg.affinity_every));
    trainer.capture = conflict;
    let step_takes_g = trainer.step_path() == super::trainer::StepPath::Gradient;
    if conflict && !affinity && step_takes_g {
        trainer.capture_jacobian = true;
        return None;
    }
    let task_gradients = (conflict || affinity)
        .then(|| engine::per_task_gradients(&trainer.net, &trainer.kinds, batch));
    if let Some(g) = &task_gradients {
        outcome.telemetry_backward_passes += tasks;
        outcome.telemetry_forward_passes += tasks;
        if affinity {
            outcome.telemetry_forward_passes += tasks;
            for (i, row) in trainer.affinity(batch, g).iter().enumerate() {
                for (j, z) in row.iter().enumerate() {
                    for (measure, value) in [("affinity", *z), ("affinity_per_lr", z / cfg.lr)] {
                        outcome.telemetry.push(TelemetryPoint {
                            step: outcome.steps,
                            epoch,
                            measure,
                            tasks: Some((i, j)),
                            layer: None,
                            value,
                        });
                    }
                }
            }
        }
    }
    task_gradients
}

/// Telemetry after the step: the conflict measures between the task gradients of
/// `before_step` and the update the step applied, and the task weights it applied when
/// they are due.
pub(super) fn after_step<D: Device<f32>>(
    trainer: &mut Trainer<'_, D>,
    task_gradients: Option<&engine::TaskGradients<D>>,
    cfg: &TrainConfig,
    epoch: usize,
    outcome: &mut TrainOutcome,
) {
    trainer.capture_jacobian = false;
    let jacobian = trainer
        .captured_jacobian
        .take()
        .or_else(|| task_gradients.map(|g| g.jacobian.clone()));
    if let (Some(mut jacobian), Some(update)) = (jacobian, trainer.captured.take()) {
        let mut measured = crate::conflict::measures_on_device(&mut jacobian, &update);
        if cfg.conflict_per_layer {
            measured.extend(crate::conflict::layer_cosines_on_device(&jacobian));
        }
        for m in measured {
            outcome.telemetry.push(TelemetryPoint {
                step: outcome.steps,
                epoch,
                measure: m.name,
                tasks: m.tasks,
                layer: m.layer,
                value: m.value,
            });
        }
    }
    if cfg.weights_every > 0 && outcome.steps.is_multiple_of(cfg.weights_every) {
        if let Some(weights) = &trainer.last_weights {
            for (task, value) in weights.iter().enumerate() {
                outcome.weights.push(WeightPoint {
                    step: outcome.steps,
                    epoch,
                    task,
                    value: *value,
                });
            }
        }
    }
}
