//! The training loop of one run: seeded batches, weighted-loss steps, evaluation on the
//! validation and test splits every `eval_every` epochs and after the last, and divergence
//! detection (`divergence`: a non-finite loss, a loss above 10⁶ times its first value, or
//! non-finite outputs stop the run with status `diverged`).
//!
//! The run's definition, outcome and epoch loop are here; `config` holds the
//! hyper-parameters (`TrainConfig`), `trainer` the model and its step paths (`Trainer`),
//! `telemetry` the conflict, affinity and weight measures taken during training.

mod config;
mod context;
pub mod divergence;
mod telemetry;
mod trainer;

pub use config::{LrDecay, TrainConfig};
pub use context::StepContext;
pub use telemetry::{TelemetryPoint, WeightPoint};
pub(crate) use trainer::chunk_bounds;
pub use trainer::Trainer;

use crate::architecture::{ArchitectureSpec, Network};
use crate::device;
use crate::model::ModelSpec;
use crate::split::Split;
use crate::weighting::WeightingSpec;
use dfdx::prelude::*;
use mtlbench_tasks::{seed, SuiteData, TaskKind};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// Seeds of one run's random streams. Replicate r of every algorithm gets the same ones,
/// so all algorithms see the same data, batches and initial trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSeeds {
    pub init: u64,
    pub batches: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Ok,
    /// The run breached the divergence rule (`divergence`: a loss became NaN or infinite,
    /// or grew above 10⁶ times its first value, or the outputs did); it stopped there.
    Diverged,
    /// The run could not be carried out (the message says why).
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Diverged => "diverged",
            RunStatus::Failed => "failed",
        }
    }
}

/// One measured value: task `task`'s `metric` on `split` after `epoch` epochs (`step`
/// optimizer steps). The train split's metric is `loss`, the epoch's mean training loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalPoint {
    pub epoch: usize,
    pub step: usize,
    pub task: usize,
    pub split: Split,
    pub metric: String,
    pub higher_is_better: bool,
    pub value: f64,
}

/// How a method's inner problem (min-norm point, QP, Nash equation) was solved over a
/// run: every step's iteration count and gap, summarised.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SolverStats {
    pub solves: usize,
    pub mean_iterations: f64,
    pub max_iterations: usize,
    /// The largest final gap (Frank–Wolfe gap, KKT or equation residual) of any step.
    pub max_gap: f64,
    /// Counted events: the steps at which the method fell back instead of applying its
    /// rule (IMTL-G: equal weights, DUᵀ singular; Aligned-MTL: a zero update, no
    /// eigenvalue kept). Each method has one kind of fallback (`Aggregation::event`).
    pub fallbacks: usize,
}

impl SolverStats {
    fn add(&mut self, report: crate::solvers::SolverReport) {
        self.solves += 1;
        self.mean_iterations +=
            (report.iterations as f64 - self.mean_iterations) / self.solves as f64;
        self.max_iterations = self.max_iterations.max(report.iterations);
        self.max_gap = self.max_gap.max(report.gap);
    }

    fn count(&mut self, _event: &'static str) {
        self.fallbacks += 1;
    }

    /// Whether anything was solved or counted (otherwise the run has no statistics).
    fn is_empty(&self) -> bool {
        self.solves == 0 && self.fallbacks == 0
    }
}

/// What a run produced, and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOutcome {
    pub status: RunStatus,
    pub message: Option<String>,
    pub points: Vec<EvalPoint>,
    pub steps: usize,
    pub forward_passes: usize,
    pub backward_passes: usize,
    pub parameter_bytes: usize,
    pub optimizer_bytes: usize,
    /// On a GPU: the device memory in use when the run ended less that in use when it
    /// began (see `train_on_cuda`); `None` on the CPU.
    pub device_memory_bytes: Option<usize>,
    /// Inner-solver statistics, for methods that solve one each step.
    pub solver: Option<SolverStats>,
    /// Gradient-conflict measures (see `conflict`), every `conflict_every` steps.
    pub telemetry: Vec<TelemetryPoint>,
    /// Backward and forward passes spent on telemetry alone (not in `backward_passes`,
    /// `forward_passes`).
    pub telemetry_backward_passes: usize,
    pub telemetry_forward_passes: usize,
    /// The task weights applied, every `weights_every` steps.
    pub weights: Vec<WeightPoint>,
}

impl TrainOutcome {
    /// An outcome with `status` and `message` and nothing measured yet.
    pub fn empty(status: RunStatus, message: Option<String>) -> Self {
        TrainOutcome {
            status,
            message,
            points: Vec::new(),
            steps: 0,
            forward_passes: 0,
            backward_passes: 0,
            parameter_bytes: 0,
            optimizer_bytes: 0,
            device_memory_bytes: None,
            solver: None,
            telemetry: Vec::new(),
            telemetry_backward_passes: 0,
            telemetry_forward_passes: 0,
            weights: Vec::new(),
        }
    }
}

/// One step's task losses (before the update) and its forward and backward passes.
#[derive(Debug, Clone, PartialEq)]
pub struct StepCost {
    pub losses: Vec<f32>,
    pub forward: usize,
    pub backward: usize,
}

/// Everything that defines one run's training, apart from the device.
pub struct RunDefinition<'a> {
    pub suite: &'a SuiteData,
    pub architecture: &'a ArchitectureSpec,
    pub weighting: &'a WeightingSpec,
    pub model: &'a ModelSpec,
    pub training: &'a TrainConfig,
    pub seeds: RunSeeds,
}

/// The suite's task kinds, in task order.
pub fn task_kinds(suite: &SuiteData) -> Vec<TaskKind> {
    suite.tasks.iter().map(|t| t.kind).collect()
}

/// Trains one run to the end (or to divergence) and returns its measurements.
pub fn train<D: Device<f32>>(
    dev: D,
    def: RunDefinition<'_>,
    on_epoch: &dyn Fn(usize),
) -> TrainOutcome {
    train_network(dev, def, on_epoch).0
}

/// Trains one run on a fresh CPU device, calling `on_epoch` after each epoch.
pub fn train_on_cpu(def: RunDefinition<'_>, on_epoch: &dyn Fn(usize)) -> TrainOutcome {
    train(device::cpu(), def, on_epoch)
}

/// Trains one run on this thread's CUDA device, then returns the memory the run's tensors
/// held (dfdx keeps freed blocks in a cache) so that the next run starts empty.
#[cfg(feature = "cuda")]
pub fn train_on_cuda(
    def: RunDefinition<'_>,
    on_epoch: &dyn Fn(usize),
) -> Result<TrainOutcome, String> {
    use dfdx::tensor::Cache;
    let dev = device::worker_cuda()?;
    let in_use = || {
        cudarc::driver::result::mem_get_info()
            .ok()
            .map(|(free, total)| total.saturating_sub(free))
    };
    let before = in_use();
    // A run that panics (out of device memory, say) still returns its cached blocks, so
    // that the thread's next runs start empty; then the panic goes on to the sweep.
    let trained = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        train(dev.clone(), def, on_epoch)
    }));
    let used = in_use();
    let emptied = dev.try_empty_cache();
    let mut outcome = match trained {
        Ok(outcome) => outcome,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    outcome.device_memory_bytes = before.zip(used).map(|(b, a)| a.saturating_sub(b));
    emptied.map_err(|e| format!("cannot release device memory: {}", device::cuda_error(&e)))?;
    Ok(outcome)
}

/// `train`, also handing back the trained network (the `transfer` start of adaptation).
pub fn train_network<D: Device<f32>>(
    dev: D,
    def: RunDefinition<'_>,
    on_epoch: &dyn Fn(usize),
) -> (TrainOutcome, Network<D>) {
    let cfg = def.training.clone();
    let batch_seed = def.seeds.batches;
    let unlabelled = def.suite.tasks.iter().position(|t| {
        t.present
            .as_ref()
            .is_some_and(|p| !p.train.is_empty() && !p.train.contains(&true))
    });
    let mut trainer = Trainer::new(dev, def);
    let tasks = trainer.kinds.len();
    let n = trainer.def.suite.x.train.rows;
    let mut outcome = TrainOutcome {
        parameter_bytes: trainer.net.numel() * std::mem::size_of::<f32>(),
        optimizer_bytes: trainer.optimizer.state_bytes(),
        ..TrainOutcome::empty(RunStatus::Ok, None)
    };
    if let Some(t) = unlabelled {
        // A training fraction can keep no labelled row of a task (`missing_labels`).
        outcome.status = RunStatus::Failed;
        outcome.message = Some(format!(
            "task {t} has no labelled row in the {n} training rows of this run: a larger training fraction or a smaller `missing_labels.fraction` keeps some"
        ));
        return (outcome, trainer.net);
    }
    let mut order: Vec<usize> = (0..n).collect();
    let mut watch = divergence::DivergenceWatch::default();
    for epoch in 1..=cfg.epochs {
        if cfg.lr_decay.is_some() {
            trainer.optimizer.set_lr(cfg.lr_at(epoch));
        }
        // The epoch's order depends on (replicate, epoch) only: every algorithm of a
        // replicate sees the same batches.
        order.sort_unstable();
        order.shuffle(&mut seed::stream(
            batch_seed,
            &["epoch", &epoch.to_string()],
        ));
        let mut loss_sums = vec![0.0f64; tasks];
        // Each task's labelled rows of the epoch (all of them without missing labels): a
        // task's epoch loss is its mean over its labelled rows.
        let mut labelled = vec![0usize; tasks];
        for rows in order.chunks(cfg.batch_size) {
            let batch = trainer.batch(rows);
            let task_gradients =
                telemetry::before_step(&mut trainer, &batch, &cfg, epoch, &mut outcome);
            let StepCost {
                losses,
                forward,
                backward,
            } = trainer.step(&batch);
            telemetry::after_step(
                &mut trainer,
                task_gradients.as_ref(),
                &cfg,
                epoch,
                &mut outcome,
            );
            outcome.steps += 1;
            outcome.forward_passes += forward;
            outcome.backward_passes += backward;
            if let Some((_, what)) = watch.step(&losses) {
                outcome.status = RunStatus::Diverged;
                outcome.message = Some(format!("{what} at epoch {epoch}, step {}", outcome.steps));
                outcome.solver = (!trainer.solver.is_empty()).then_some(trainer.solver);
                return (outcome, trainer.net);
            }
            for (t, (sum, l)) in loss_sums.iter_mut().zip(&losses).enumerate() {
                let rows = batch.labelled(t);
                *sum += f64::from(*l) * rows as f64;
                labelled[t] += rows;
            }
        }
        let means: Vec<f64> = loss_sums
            .iter()
            .zip(&labelled)
            .map(|(sum, rows)| sum / *rows as f64)
            .collect();
        trainer.weighter.end_epoch(means.clone());
        for (t, mean) in means.into_iter().enumerate() {
            outcome.points.push(EvalPoint {
                epoch,
                step: outcome.steps,
                task: t,
                split: Split::Train,
                metric: "loss".into(),
                higher_is_better: false,
                value: mean,
            });
        }
        // Validation and test at every evaluation point, so that the report can select one
        // (results' `selection`) without retraining.
        if cfg.evaluates_after(epoch) && !evaluate_point(&trainer, epoch, &mut outcome) {
            outcome.solver = (!trainer.solver.is_empty()).then_some(trainer.solver);
            return (outcome, trainer.net);
        }
        on_epoch(epoch);
    }
    outcome.solver = (!trainer.solver.is_empty()).then_some(trainer.solver);
    (outcome, trainer.net)
}

/// Evaluates the validation and the test split after `epoch` into `outcome`. When a task's
/// outputs are not all finite, that evaluation's points are dropped (a record stores finite
/// values only), the outcome is marked diverged with a message, and `false` returned.
fn evaluate_point<D: Device<f32>>(
    trainer: &Trainer<'_, D>,
    epoch: usize,
    outcome: &mut TrainOutcome,
) -> bool {
    let kept = outcome.points.len();
    for split in [Split::Val, Split::Test] {
        if let Some(t) = trainer.evaluate(split, epoch, outcome.steps, &mut outcome.points) {
            outcome.points.truncate(kept);
            outcome.status = RunStatus::Diverged;
            outcome.message = Some(format!(
                "task {t} outputs on the {} split are not finite at epoch {epoch}, step {}",
                split.as_str(),
                outcome.steps
            ));
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests;
