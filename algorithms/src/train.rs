//! The training loop of one run: seeded batches, weighted-loss steps, evaluation on the
//! validation split every `eval_every` epochs and on the test split at the end, and
//! divergence detection (a non-finite loss stops the run with status `diverged`).

use crate::architecture::{ArchitectureSpec, Network};
use crate::engine::{self, Batch};
use crate::model::{ModelSpec, Tensor2};
use crate::optimizer::{Optimizer, OptimizerSpec};
use crate::weighting::{Weighter, WeightingSpec};
use crate::AlgorithmsError;
use dfdx::prelude::*;
use mtlbench_tasks::{metrics, seed, Matrix, Splits, SuiteData, TaskKind};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// Training hyper-parameters of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub optimizer: OptimizerSpec,
    /// Evaluate on the validation split every this many epochs (and always at the end).
    pub eval_every: usize,
    /// Gradient-level methods take the task gradients with respect to the shared
    /// representation (LibMTL's `rep_grad`) instead of the shared parameters.
    #[serde(default)]
    pub rep_grad: bool,
    /// Measure gradient conflict every this many steps (0: never). The per-task gradients
    /// this needs are extra passes, counted apart from the training's.
    #[serde(default)]
    pub conflict_every: usize,
    /// With `conflict_every`: also the pairwise cosines per shared layer.
    #[serde(default)]
    pub conflict_per_layer: bool,
    /// Measure TAG's inter-task affinity every this many steps (0: never): T extra
    /// backward passes (shared with conflict telemetry on the same step) and T forwards.
    #[serde(default)]
    pub affinity_every: usize,
    /// Record the task weights the method applied every this many steps (0: never).
    #[serde(default)]
    pub weights_every: usize,
}

impl TrainConfig {
    /// Adam at `lr`, validation every epoch, no telemetry: the settings benchmarks and
    /// tests start from.
    pub fn adam(epochs: usize, batch_size: usize, lr: f64) -> Self {
        TrainConfig {
            epochs,
            batch_size,
            lr,
            optimizer: OptimizerSpec::Adam(crate::optimizer::Adam::default()),
            eval_every: 1,
            rep_grad: false,
            conflict_every: 0,
            conflict_per_layer: false,
            affinity_every: 0,
            weights_every: 0,
        }
    }

    pub fn validate(&self) -> Result<(), AlgorithmsError> {
        if self.epochs == 0 {
            return Err(AlgorithmsError::invalid("epochs", "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(AlgorithmsError::invalid("batch_size", "must be at least 1"));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(AlgorithmsError::invalid("lr", "must be finite and > 0"));
        }
        if self.eval_every == 0 {
            return Err(AlgorithmsError::invalid("eval_every", "must be at least 1"));
        }
        if self.conflict_per_layer && self.conflict_every == 0 {
            return Err(AlgorithmsError::invalid(
                "conflict_per_layer",
                "needs `conflict_every` (the steps at which conflict is measured; 0 = never)",
            ));
        }
        self.optimizer.validate()
    }
}

/// Seeds of one run's random streams. Replicate r of every algorithm gets the same ones,
/// so all algorithms see the same data, batches and initial trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSeeds {
    pub init: u64,
    pub batches: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Train,
    Val,
    Test,
}

impl Split {
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Ok,
    /// A loss became NaN or infinite; the run stopped there.
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
    /// began (see `device::train_on_cuda`); `None` on the CPU.
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

/// A model, its optimizer and the batch buffers, ready to step.
pub struct Trainer<'a, D: Device<f32>> {
    pub dev: D,
    pub def: RunDefinition<'a>,
    pub net: Network<D>,
    pub optimizer: Optimizer<D>,
    pub kinds: Vec<TaskKind>,
    pub weighter: Weighter,
    pub solver: SolverStats,
    /// When set, the next update's shared part is kept in `captured` (telemetry).
    pub capture: bool,
    pub captured: Option<Vec<f32>>,
    /// The task weights of the last step, when the method has them (GradDrop has none).
    pub last_weights: Option<Vec<f64>>,
    /// Auto-Lambda's draws of its second (outer) batch.
    meta_rng: rand_chacha::ChaCha8Rng,
}

impl<'a, D: Device<f32>> Trainer<'a, D> {
    pub fn new(dev: D, def: RunDefinition<'a>) -> Self {
        let suite = def.suite;
        let def_batches = def.seeds.batches;
        let kinds = task_kinds(suite);
        let outputs: Vec<usize> = kinds.iter().map(TaskKind::output_width).collect();
        let net = def.architecture.build(
            &dev,
            def.model,
            suite.input_width(),
            &outputs,
            def.seeds.init,
        );
        let optimizer = Optimizer::new(&def.training.optimizer, def.training.lr, &net.layers, &dev);
        let mut weighter = Weighter::new(
            def.weighting,
            kinds.len(),
            seed::stream(def.seeds.batches, &["weighting"]),
            def.training.lr,
        );
        weighter.set_shared_layout(
            net.layers[net.shared.clone()]
                .iter()
                .map(|l| (l.macs(), l.bias.shape().0))
                .collect(),
        );
        Trainer {
            dev,
            def,
            net,
            optimizer,
            kinds,
            weighter,
            solver: SolverStats::default(),
            capture: false,
            captured: None,
            last_weights: None,
            meta_rng: seed::stream(def_batches, &["auto_lambda"]),
        }
    }

    /// The training batch made of rows `rows` of the training split.
    pub fn batch(&self, rows: &[usize]) -> Batch<D> {
        self.batch_of(Split::Train, rows)
    }

    /// The batch made of rows `rows` of `split`.
    pub fn batch_of(&self, split: Split, rows: &[usize]) -> Batch<D> {
        let suite = self.def.suite;
        let pick = |s: &'a Splits<Matrix>| match split {
            Split::Train => &s.train,
            Split::Val => &s.val,
            Split::Test => &s.test,
        };
        let x = self.dev.tensor_from_vec(
            pick(&suite.x).select_rows(rows).data,
            (rows.len(), suite.input_width()),
        );
        let targets = suite
            .tasks
            .iter()
            .map(|task| target_tensor(&self.dev, task.kind, pick(&task.y), rows))
            .collect();
        Batch { x, targets }
    }

    /// One optimizer step on `batch` with the path the weighting needs: its task losses
    /// and the passes it took.
    pub fn step(&mut self, batch: &Batch<D>) -> StepCost {
        let tasks = self.kinds.len();
        if matches!(self.def.weighting, WeightingSpec::MetaWeightNet(_)) {
            let losses = self.step_meta_weight_net(batch);
            return StepCost {
                losses,
                forward: tasks + 1,
                backward: tasks + 1,
            };
        }
        if let Some(spec) = self.weighter.auto_lambda().cloned() {
            let losses = self.step_auto_lambda(batch, &spec);
            return StepCost {
                losses,
                forward: 5,
                backward: 3,
            };
        }
        let (losses, mut cost) = if self.weighter.uses_representation()
            || (self.def.training.rep_grad && self.weighter.is_gradient_level())
        {
            (
                self.step_rep(batch),
                StepCost {
                    losses: Vec::new(),
                    forward: 2,
                    backward: tasks + 1,
                },
            )
        } else if self.weighter.is_gradient_level() {
            (
                self.step_per_task(batch),
                StepCost {
                    losses: Vec::new(),
                    forward: tasks,
                    backward: tasks,
                },
            )
        } else {
            let weighter = &mut self.weighter;
            let mut applied = Vec::new();
            let step = engine::weighted_loss_gradients(&self.net, &self.kinds, batch, |l| {
                applied = weighter.loss_weights(l);
                applied.clone()
            });
            self.last_weights = Some(applied.iter().map(|w| f64::from(*w)).collect());
            self.apply(step.grads);
            (
                step.losses,
                StepCost {
                    losses: Vec::new(),
                    forward: 1,
                    backward: 1,
                },
            )
        };
        if self.weighter.needs_losses_after_step() {
            // FAMO: the same batch's losses after the update (one more forward).
            let after = engine::batch_losses(&self.net, &self.kinds, batch);
            self.weighter.after_step(&after);
            cost.forward += 1;
        }
        cost.losses = losses;
        cost
    }

    /// One optimizer step through the per-task gradients (T forward+backward passes): the
    /// weighting aggregates the shared gradients; each head takes its own task's gradient,
    /// times the method's head scale (Nash-MTL's αᵢ), or its loss weight for loss-level
    /// weightings.
    pub fn step_per_task(&mut self, batch: &Batch<D>) -> Vec<f32> {
        let g = engine::per_task_gradients(&self.net, &self.kinds, batch);
        let aggregation = self.weighter.aggregate(&g.shared, &g.losses);
        if let Some(event) = aggregation.event {
            self.solver.count(event);
        }
        if let Some(report) = aggregation.report {
            self.solver.add(report);
        }
        self.keep_weights(&aggregation);
        let direction = match aggregation.direction {
            Some(direction) => direction,
            None => crate::aggregate::combine(&g.shared, &aggregation.weights),
        };
        let head_scale: Vec<f32> =
            match (&aggregation.head_scales, self.weighter.is_gradient_level()) {
                (Some(scales), _) => scales.iter().map(|w| *w as f32).collect(),
                (None, true) => vec![1.0; self.kinds.len()],
                (None, false) => aggregation.weights.iter().map(|w| *w as f32).collect(),
            };
        let grads =
            engine::assemble_gradients(&self.net, &self.dev, &direction, g.own, &head_scale);
        self.apply(grads);
        g.losses
    }

    /// One optimizer step through the task gradients of the shared representation: one
    /// trunk forward, a forward+backward of each head, the aggregation (or GradDrop's
    /// masking) of the per-sample representation gradients, and one trunk backward.
    pub fn step_rep(&mut self, batch: &Batch<D>) -> Vec<f32> {
        let r = engine::rep_gradients(&self.net, &self.dev, &self.kinds, batch);
        let width = r.shape.1;
        let tasks = self.kinds.len();
        let (combined, head_scale): (Vec<f32>, Vec<f32>) = if self.weighter.uses_representation() {
            let (combined, heads) = self
                .weighter
                .graddrop(&r.per_sample, &r.rep, width, &r.losses);
            (combined, heads.iter().map(|h| *h as f32).collect())
        } else {
            // Weights from the batch-summed representation gradients (LibMTL's rep_grad).
            let summed: Vec<Vec<f32>> = r
                .per_sample
                .iter()
                .map(|g| {
                    let mut s = vec![0.0f32; width];
                    for row in g.chunks(width) {
                        s.iter_mut().zip(row).for_each(|(a, b)| *a += b);
                    }
                    s
                })
                .collect();
            let aggregation = self.weighter.aggregate(&summed, &r.losses);
            if let Some(event) = aggregation.event {
                self.solver.count(event);
            }
            if let Some(report) = aggregation.report {
                self.solver.add(report);
            }
            self.keep_weights(&aggregation);
            let heads = aggregation
                .head_scales
                .clone()
                .unwrap_or_else(|| vec![1.0; tasks]);
            (
                crate::aggregate::combine(&r.per_sample, &aggregation.weights),
                heads.iter().map(|h| *h as f32).collect(),
            )
        };
        let shared = engine::backprop_rep(&self.net, &self.dev, batch, combined);
        let grads = engine::assemble_with_shared(&self.net, shared, r.own, &head_scale);
        self.apply(grads);
        r.losses
    }

    /// Auto-Lambda's step (see `weighting::AutoLambda`): the meta update of λ from a
    /// virtual step and a finite-difference hypergradient, then the real step on Σλᵢ Lᵢ.
    /// Returns the task losses on `batch` before the update.
    fn step_auto_lambda(
        &mut self,
        batch: &Batch<D>,
        spec: &crate::weighting::AutoLambda,
    ) -> Vec<f32> {
        let tasks = self.kinds.len();
        let alpha = self.def.training.lr as f32;
        let lambda = self.weighter.loss_weights(&[]);
        let train =
            engine::weighted_loss_gradients(&self.net, &self.kinds, batch, |_| lambda.clone());
        let virtual_net =
            engine::shifted(&self.net, &self.dev, &engine::flatten(&train.grads), -alpha);
        // The outer batch: as many rows as this one, drawn from the training split.
        let n = self.def.suite.x.train.rows;
        let size = batch.x.shape().0.min(n);
        let mut rows = rand::seq::index::sample(&mut self.meta_rng, n, size).into_vec();
        rows.sort_unstable();
        let outer = self.batch(&rows);
        let primary: Vec<f32> = (0..tasks)
            .map(|t| match &spec.primary {
                Some(p) => f32::from(u8::from(p.contains(&t))),
                None => 1.0,
            })
            .collect();
        let val =
            engine::weighted_loss_gradients(&virtual_net, &self.kinds, &outer, |_| primary.clone());
        let v = engine::flatten(&val.grads);
        let norm = crate::solvers::dot(&v, &v).sqrt();
        if norm > 0.0 && norm.is_finite() {
            let eps = (0.01 / norm) as f32;
            let plus = engine::batch_losses(
                &engine::shifted(&self.net, &self.dev, &v, eps),
                &self.kinds,
                batch,
            );
            let minus = engine::batch_losses(
                &engine::shifted(&self.net, &self.dev, &v, -eps),
                &self.kinds,
                batch,
            );
            let hypergradient: Vec<f64> = plus
                .iter()
                .zip(&minus)
                .map(|(p, m)| -f64::from(alpha) * f64::from(p - m) / (2.0 * f64::from(eps)))
                .collect();
            self.weighter.meta_update(&hypergradient);
        }
        let lambda = self.weighter.loss_weights(&[]);
        let step =
            engine::weighted_loss_gradients(&self.net, &self.kinds, batch, |_| lambda.clone());
        self.last_weights = Some(lambda.iter().map(|w| f64::from(*w)).collect());
        self.apply(step.grads);
        train.losses
    }

    /// Meta-Weight-Net's step (see `meta_weight`): each task's full gradient, the weights
    /// from the weight network, a look-ahead on a validation batch, the network's meta
    /// step, and the real update Σ v̄ᵢgᵢ with the updated weights. Returns the task losses.
    fn step_meta_weight_net(&mut self, batch: &Batch<D>) -> Vec<f32> {
        let tasks = self.kinds.len();
        let alpha = self.def.training.lr as f32;
        let mut losses = Vec::new();
        let mut grads: Vec<Vec<f32>> = Vec::with_capacity(tasks);
        for t in 0..tasks {
            let one_hot: Vec<f32> = (0..tasks).map(|k| f32::from(u8::from(k == t))).collect();
            let step = engine::weighted_loss_gradients(&self.net, &self.kinds, batch, |_| one_hot);
            losses = step.losses;
            grads.push(engine::flatten(&step.grads));
        }
        let features = self
            .weighter
            .mwn_features(&losses)
            .expect("meta_weight_net has its weight network");
        let combine = |w: &[f64]| -> Vec<f32> { crate::aggregate::combine(&grads, w) };
        let weights = self.weighter.mwn_weights(&features);
        let ahead = engine::shifted(&self.net, &self.dev, &combine(&weights), -alpha);
        // The meta batch: rows of the validation split, as many as this batch.
        let val_rows = self.def.suite.x.val.rows;
        if val_rows > 0 {
            let size = batch.x.shape().0.min(val_rows);
            let mut rows = rand::seq::index::sample(&mut self.meta_rng, val_rows, size).into_vec();
            rows.sort_unstable();
            let meta = self.batch_of(Split::Val, &rows);
            let ones = vec![1.0f32; tasks];
            let val = engine::weighted_loss_gradients(&ahead, &self.kinds, &meta, |_| ones);
            let g_val = engine::flatten(&val.grads);
            // First order: ∂L_val/∂v̄ᵢ ≈ −α g_valᵀgᵢ.
            let d_weights: Vec<f64> = grads
                .iter()
                .map(|g| -f64::from(alpha) * crate::solvers::dot(&g_val, g))
                .collect();
            self.weighter.mwn_update(&features, &d_weights);
        }
        let weights = self.weighter.mwn_weights(&features);
        let update = engine::unflatten_all(&self.net, &self.dev, &combine(&weights));
        self.last_weights = Some(weights);
        self.apply(update);
        losses
    }

    /// The aggregation's task weights: w when its update is Gᵀw, and DB-MTL's αᵢ on its
    /// smoothed gradients ĝᵢ (GradVac's own direction has none).
    fn keep_weights(&mut self, aggregation: &crate::aggregate::Aggregation) {
        self.last_weights = ((aggregation.direction.is_none()
            || self.weighter.direction_has_task_weights())
            && aggregation.weights.len() == self.kinds.len())
        .then(|| aggregation.weights.clone());
    }

    /// TAG's look-ahead affinity Z_{i→j} = 1 − Lⱼ(θ_s − η gᵢ)/Lⱼ(θ_s) on `batch` for every
    /// ordered pair (i, j), with η the run's learning rate (a plain gradient step; the
    /// reference code's momentum look-ahead is not used): `z[i][j]`.
    pub fn affinity(&self, batch: &Batch<D>, grads: &engine::TaskGradients<D>) -> Vec<Vec<f64>> {
        let lr = self.def.training.lr as f32;
        grads
            .shared
            .iter()
            .map(|g| {
                let ahead = engine::look_ahead(&self.net, &self.dev, g, lr);
                let after = engine::batch_losses(&ahead, &self.kinds, batch);
                after
                    .iter()
                    .zip(&grads.losses)
                    .map(|(a, b)| 1.0 - f64::from(*a) / f64::from(*b))
                    .collect()
            })
            .collect()
    }

    /// Hands the gradients to the optimizer (with `soft_sharing`'s penalty gradient added),
    /// keeping the shared part when capturing.
    fn apply(&mut self, mut grads: Vec<crate::model::Linear<D>>) {
        if let ArchitectureSpec::SoftSharing(soft) = self.def.architecture {
            if soft.lambda > 0.0 {
                soft_penalty_gradient(&self.net, soft, &mut grads);
            }
        }
        if self.capture {
            self.captured = Some(engine::flatten(&grads[self.net.shared.clone()]));
        }
        self.optimizer.update(&mut self.net.layers, grads);
    }

    /// Predictions of every task on `x`, in chunks to bound memory.
    pub fn predict(&self, x: &Matrix) -> Vec<Matrix> {
        const CHUNK: usize = 1024;
        let mut preds: Vec<Vec<f32>> = vec![Vec::new(); self.kinds.len()];
        let all: Vec<usize> = (0..x.rows).collect();
        for rows in all.chunks(CHUNK) {
            let xs = self
                .dev
                .tensor_from_vec(x.select_rows(rows).data, (rows.len(), x.cols));
            let z = self.net.shared_output(xs);
            for (t, pred) in preds.iter_mut().enumerate() {
                pred.extend(self.net.task_output(t, z.branch()).as_vec());
            }
        }
        preds
            .into_iter()
            .zip(&self.kinds)
            .map(|(data, kind)| Matrix::new(x.rows, kind.output_width(), data))
            .collect()
    }

    fn evaluate(&self, split: Split, epoch: usize, step: usize, out: &mut Vec<EvalPoint>) {
        let suite = self.def.suite;
        let x = match split {
            Split::Val => &suite.x.val,
            _ => &suite.x.test,
        };
        for (t, pred) in self.predict(x).iter().enumerate() {
            let task = &suite.tasks[t];
            let target = if split == Split::Val {
                &task.y.val
            } else {
                &task.y.test
            };
            for (spec, value) in metrics::evaluate(task, pred, target) {
                out.push(EvalPoint {
                    epoch,
                    step,
                    task: t,
                    split,
                    metric: spec.name,
                    higher_is_better: spec.higher_is_better,
                    value,
                });
            }
        }
    }
}

/// Adds the gradient of `soft_sharing`'s penalty to `grads`: for each trunk layer,
/// tower i gets 2λ(θᵢ − θ̄) (`mean`) or 2λT(θᵢ − θ̄) (`pairwise`), weight and bias alike.
fn soft_penalty_gradient<D: Device<f32>>(
    net: &Network<D>,
    soft: &crate::architecture::SoftSharing,
    grads: &mut [crate::model::Linear<D>],
) {
    let towers = net.towers.len();
    let scale = match soft.penalty {
        crate::architecture::SoftPenalty::Mean => 2.0 * soft.lambda,
        crate::architecture::SoftPenalty::Pairwise => 2.0 * soft.lambda * towers as f64,
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
            g.weight = g.weight.clone() + (layer(t).weight.clone() - weight_mean.clone()) * scale;
            g.bias = g.bias.clone() + (layer(t).bias.clone() - bias_mean.clone()) * scale;
        }
    }
}

/// Rows of `y` as a target tensor: the values for regression, one-hot rows for
/// classification.
fn target_tensor<D: Device<f32>>(
    dev: &D,
    kind: TaskKind,
    y: &Matrix,
    rows: &[usize],
) -> Tensor2<D> {
    match kind {
        TaskKind::Regression { outputs } => {
            dev.tensor_from_vec(y.select_rows(rows).data, (rows.len(), outputs))
        }
        TaskKind::Classification { classes } => {
            let mut data = vec![0.0f32; rows.len() * classes];
            for (i, &r) in rows.iter().enumerate() {
                data[i * classes + y.data[r] as usize] = 1.0;
            }
            dev.tensor_from_vec(data, (rows.len(), classes))
        }
    }
}

/// Trains one run to the end (or to divergence) and returns its measurements.
pub fn train<D: Device<f32>>(
    dev: D,
    def: RunDefinition<'_>,
    on_epoch: &dyn Fn(usize),
) -> TrainOutcome {
    train_network(dev, def, on_epoch).0
}

/// `train`, also handing back the trained network (the `transfer` start of adaptation).
pub fn train_network<D: Device<f32>>(
    dev: D,
    def: RunDefinition<'_>,
    on_epoch: &dyn Fn(usize),
) -> (TrainOutcome, Network<D>) {
    let cfg = def.training.clone();
    let batch_seed = def.seeds.batches;
    let mut trainer = Trainer::new(dev, def);
    let tasks = trainer.kinds.len();
    let n = trainer.def.suite.x.train.rows;
    let mut outcome = TrainOutcome {
        status: RunStatus::Ok,
        message: None,
        points: Vec::new(),
        steps: 0,
        forward_passes: 0,
        backward_passes: 0,
        parameter_bytes: trainer.net.numel() * std::mem::size_of::<f32>(),
        optimizer_bytes: trainer.optimizer.state_bytes(),
        device_memory_bytes: None,
        solver: None,
        telemetry: Vec::new(),
        telemetry_backward_passes: 0,
        telemetry_forward_passes: 0,
        weights: Vec::new(),
    };
    let mut order: Vec<usize> = (0..n).collect();
    for epoch in 1..=cfg.epochs {
        // The epoch's order depends on (replicate, epoch) only: every algorithm of a
        // replicate sees the same batches.
        order.sort_unstable();
        order.shuffle(&mut seed::stream(
            batch_seed,
            &["epoch", &epoch.to_string()],
        ));
        let mut loss_sums = vec![0.0f64; tasks];
        for rows in order.chunks(cfg.batch_size) {
            let batch = trainer.batch(rows);
            // Telemetry: the task gradients at the current parameters (and, for
            // conflict, the update this step applies).
            let has_shared = !trainer.net.shared.is_empty();
            let due = |every: usize| has_shared && every > 0 && outcome.steps.is_multiple_of(every);
            let (conflict, affinity) = (due(cfg.conflict_every), due(cfg.affinity_every));
            let task_gradients = (conflict || affinity)
                .then(|| engine::per_task_gradients(&trainer.net, &trainer.kinds, &batch));
            if let Some(g) = &task_gradients {
                outcome.telemetry_backward_passes += tasks;
                outcome.telemetry_forward_passes += tasks;
                if affinity {
                    outcome.telemetry_forward_passes += tasks;
                    for (i, row) in trainer.affinity(&batch, g).iter().enumerate() {
                        for (j, z) in row.iter().enumerate() {
                            for (measure, value) in
                                [("affinity", *z), ("affinity_per_lr", z / cfg.lr)]
                            {
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
            trainer.capture = conflict;
            let StepCost {
                losses,
                forward,
                backward,
            } = trainer.step(&batch);
            if let (Some(g), Some(update)) = (&task_gradients, trainer.captured.take()) {
                let mut measured = crate::conflict::measures(&g.shared, &update);
                if cfg.conflict_per_layer {
                    let sizes: Vec<usize> = trainer.net.layers[trainer.net.shared.clone()]
                        .iter()
                        .map(|l| l.numel())
                        .collect();
                    measured.extend(crate::conflict::layer_cosines(&g.shared, &sizes));
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
            outcome.steps += 1;
            outcome.forward_passes += forward;
            outcome.backward_passes += backward;
            if let Some(t) = losses.iter().position(|l| !l.is_finite()) {
                outcome.status = RunStatus::Diverged;
                outcome.message = Some(format!(
                    "task {t} loss became {} at epoch {epoch}, step {}",
                    losses[t], outcome.steps
                ));
                outcome.solver = (!trainer.solver.is_empty()).then_some(trainer.solver);
                return (outcome, trainer.net);
            }
            for (sum, l) in loss_sums.iter_mut().zip(&losses) {
                *sum += f64::from(*l) * rows.len() as f64;
            }
        }
        trainer
            .weighter
            .end_epoch(loss_sums.iter().map(|s| s / n as f64).collect());
        for (t, sum) in loss_sums.iter().enumerate() {
            outcome.points.push(EvalPoint {
                epoch,
                step: outcome.steps,
                task: t,
                split: Split::Train,
                metric: "loss".into(),
                higher_is_better: false,
                value: sum / n as f64,
            });
        }
        if epoch % cfg.eval_every == 0 || epoch == cfg.epochs {
            trainer.evaluate(Split::Val, epoch, outcome.steps, &mut outcome.points);
        }
        on_epoch(epoch);
    }
    trainer.evaluate(Split::Test, cfg.epochs, outcome.steps, &mut outcome.points);
    outcome.solver = (!trainer.solver.is_empty()).then_some(trainer.solver);
    (outcome, trainer.net)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::{
        Cgc, CrossStitch, HardSharing, Hierarchical, Mmoe, SingleTask, SoftPenalty, SoftSharing,
    };
    use crate::device::cpu;
    use crate::weighting::{Equal, Static};
    use crate::WeightingSpec;
    use mtlbench_tasks::planted_correlation::PlantedCorrelation;

    mod compose_paths;
    mod recorded;

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

    /// A small planted suite: `tasks` tasks, `inputs` features, `train` rows (val and test
    /// a quarter and a half of that).
    fn tiny_suite(tasks: usize, inputs: usize, train: usize, seed: u64) -> SuiteData {
        PlantedCorrelation {
            tasks,
            input_dim: inputs,
            train,
            val: train / 4,
            test: train / 2,
            ..Default::default()
        }
        .generate(seed)
        .unwrap()
    }

    /// Trains one run on the CPU with seeds (init, batches).
    fn train_tiny(
        suite: &SuiteData,
        architecture: &ArchitectureSpec,
        weighting: &WeightingSpec,
        model: &ModelSpec,
        training: &TrainConfig,
        (init, batches): (u64, u64),
    ) -> TrainOutcome {
        let def = RunDefinition {
            suite,
            architecture,
            weighting,
            model,
            training,
            seeds: RunSeeds { init, batches },
        };
        train(cpu(), def, &|_| {})
    }

    /// Adam at lr 0.01.
    fn adam_training(
        epochs: usize,
        batch_size: usize,
        eval_every: usize,
        rep_grad: bool,
    ) -> TrainConfig {
        TrainConfig {
            eval_every,
            rep_grad,
            ..TrainConfig::adam(epochs, batch_size, 0.01)
        }
    }

    /// Conformance: each registered architecture × weighting lowers the training loss on a
    /// tiny suite, and the same seeds give a bit-identical outcome.
    #[test]
    fn every_method_learns_and_is_deterministic() {
        let suite = tiny_suite(3, 8, 64, 9);
        let model = ModelSpec {
            trunk: vec![16],
            head: vec![],
        };
        let training = adam_training(15, 16, 5, false);
        // single_task, and hard_sharing with every registered weighting.
        let mut methods = vec![
            (
                ArchitectureSpec::SingleTask(SingleTask {}),
                WeightingSpec::Equal(Equal {}),
            ),
            (
                ArchitectureSpec::Mmoe(Mmoe::default()),
                WeightingSpec::Equal(Equal {}),
            ),
            (
                ArchitectureSpec::CrossStitch(CrossStitch {}),
                WeightingSpec::Equal(Equal {}),
            ),
            (
                ArchitectureSpec::Cgc(Cgc::default()),
                WeightingSpec::Mgda(Default::default()),
            ),
            (
                ArchitectureSpec::SoftSharing(SoftSharing::default()),
                WeightingSpec::Equal(Equal {}),
            ),
            (
                ArchitectureSpec::Hierarchical(Hierarchical {
                    groups: Some(vec![vec![0, 2], vec![1]]),
                    root_depth: Some(0),
                    levels: None,
                }),
                WeightingSpec::Mgda(Default::default()),
            ),
        ];

        for (_, weighting) in WeightingSpec::registry() {
            let weighting = match weighting {
                WeightingSpec::Static(_) => WeightingSpec::Static(Static {
                    weights: vec![1.0, 0.5, 2.0],
                }),
                other => other,
            };
            methods.push((ArchitectureSpec::HardSharing(HardSharing {}), weighting));
        }
        for (architecture, weighting) in &methods {
            let run = || train_tiny(&suite, architecture, weighting, &model, &training, (4, 5));
            let outcome = run();
            assert_eq!(outcome.status, RunStatus::Ok);
            let train_loss = |epoch: usize| -> f64 {
                outcome
                    .points
                    .iter()
                    .filter(|p| p.split == Split::Train && p.epoch == epoch)
                    .map(|p| p.value)
                    .sum()
            };
            assert!(
                train_loss(15) < 0.5 * train_loss(1),
                "{architecture:?}: {} → {}",
                train_loss(1),
                train_loss(15)
            );
            assert_eq!(
                outcome,
                run(),
                "{architecture:?} {weighting:?} is deterministic"
            );
            assert_eq!(outcome.steps, 15 * 4);
            // Backward calls and forward passes per step: 1 and 1 (loss-level; FAMO one more
            // forward; Auto-Lambda 3 and 5; Meta-Weight-Net T + 1 each), T and T (parameter gradients), T + 1 and 2
            // (representation).
            let (backward, forward) = if weighting.uses_representation() {
                (4, 2)
            } else if matches!(weighting, WeightingSpec::AutoLambda(_)) {
                (3, 5)
            } else if matches!(weighting, WeightingSpec::MetaWeightNet(_)) {
                (4, 4)
            } else if weighting.is_gradient_level() {
                (3, 3)
            } else {
                (
                    1,
                    1 + usize::from(matches!(weighting, WeightingSpec::Famo(_))),
                )
            };
            assert_eq!(outcome.backward_passes, 15 * 4 * backward);
            assert_eq!(outcome.forward_passes, 15 * 4 * forward);
        }
    }

    /// One MMoE expert, which starts from the trunk's weights, with a one-way softmax gate
    /// (always exactly 1) is hard sharing: bit-identical training.
    #[test]
    fn one_expert_mmoe_is_hard_sharing() {
        let suite = tiny_suite(2, 6, 40, 2);
        let model = ModelSpec {
            trunk: vec![8],
            head: vec![],
        };
        let training = adam_training(3, 8, 1, false);
        let run = |architecture: &ArchitectureSpec| {
            train_tiny(
                &suite,
                architecture,
                &WeightingSpec::Equal(Equal {}),
                &model,
                &training,
                (1, 2),
            )
            .points
        };
        assert_eq!(
            run(&ArchitectureSpec::Mmoe(Mmoe { experts: 1 })),
            run(&ArchitectureSpec::HardSharing(HardSharing {}))
        );
    }

    /// MGDA on representation gradients trains, takes T + 1 backward calls per step, and
    /// differs from MGDA on parameter gradients.
    #[test]
    fn rep_grad_path_trains() {
        let suite = tiny_suite(3, 8, 64, 9);
        let model = ModelSpec {
            trunk: vec![16],
            head: vec![],
        };
        let run = |rep_grad: bool| {
            let training = adam_training(10, 16, 5, rep_grad);
            train_tiny(
                &suite,
                &ArchitectureSpec::HardSharing(HardSharing {}),
                &WeightingSpec::Mgda(Default::default()),
                &model,
                &training,
                (4, 5),
            )
        };
        let rep = run(true);
        assert_eq!(rep.status, RunStatus::Ok);
        assert_eq!(rep.backward_passes, 40 * 4);
        let loss = |o: &TrainOutcome, epoch: usize| -> f64 {
            o.points
                .iter()
                .filter(|p| p.split == Split::Train && p.epoch == epoch)
                .map(|p| p.value)
                .sum()
        };
        assert!(loss(&rep, 10) < 0.7 * loss(&rep, 1));
        assert_ne!(rep.points, run(false).points);
    }

    /// Telemetry sees the update each method applies: equal weighting's update is the sum
    /// of the task gradients (cosine with it 1), MGDA's never conflicts with a task; the
    /// extra passes are counted apart and the training is unchanged.
    #[test]
    fn conflict_telemetry_measures_the_applied_update() {
        let suite = tiny_suite(3, 8, 64, 9);
        let model = ModelSpec {
            trunk: vec![16],
            head: vec![],
        };
        let run = |weighting: WeightingSpec, conflict_every: usize| {
            let training = TrainConfig {
                conflict_every,
                ..adam_training(2, 16, 1, false)
            };
            train_tiny(
                &suite,
                &ArchitectureSpec::HardSharing(HardSharing {}),
                &weighting,
                &model,
                &training,
                (4, 5),
            )
        };
        let value = |o: &TrainOutcome, measure: &str| -> Vec<f64> {
            o.telemetry
                .iter()
                .filter(|t| t.measure == measure)
                .map(|t| t.value)
                .collect()
        };
        let equal = run(WeightingSpec::Equal(Equal {}), 3);
        // 8 steps, measured at steps 0, 3, 6.
        assert_eq!(value(&equal, "cos_update_mean_grad").len(), 3);
        assert!(value(&equal, "cos_update_mean_grad")
            .iter()
            .all(|c| (c - 1.0).abs() < 1e-5));
        assert_eq!(equal.telemetry_backward_passes, 3 * 3);
        assert_eq!(
            equal.points,
            run(WeightingSpec::Equal(Equal {}), 0).points,
            "telemetry leaves training unchanged"
        );
        let mgda = run(WeightingSpec::Mgda(Default::default()), 2);
        assert!(value(&mgda, "update_conflicts").iter().all(|c| *c == 0.0));
    }

    /// TAG affinity to first order: Lⱼ(θ − η gᵢ) ≈ Lⱼ(θ) − η gᵢᵀgⱼ, so Z_{i→j}/η approaches
    /// gᵢᵀgⱼ / Lⱼ for a small step.
    #[test]
    fn affinity_matches_its_first_order_expansion() {
        let suite = tiny_suite(3, 8, 64, 4);
        let model = ModelSpec {
            trunk: vec![16],
            head: vec![],
        };
        let training = TrainConfig {
            lr: 1e-3,
            ..adam_training(1, 64, 1, false)
        };
        let arch = ArchitectureSpec::HardSharing(HardSharing {});
        let weighting = WeightingSpec::Equal(Equal {});
        let trainer = Trainer::new(
            cpu(),
            RunDefinition {
                suite: &suite,
                architecture: &arch,
                weighting: &weighting,
                model: &model,
                training: &training,
                seeds: RunSeeds {
                    init: 2,
                    batches: 3,
                },
            },
        );
        let rows: Vec<usize> = (0..64).collect();
        let batch = trainer.batch(&rows);
        let g = engine::per_task_gradients(&trainer.net, &trainer.kinds, &batch);
        let z = trainer.affinity(&batch, &g);
        for i in 0..3 {
            for j in 0..3 {
                let expected =
                    crate::solvers::dot(&g.shared[i], &g.shared[j]) / f64::from(g.losses[j]);
                let measured = z[i][j] / 1e-3;
                assert!(
                    (measured - expected).abs() < 0.05 * expected.abs() + 1e-3,
                    "Z[{i}][{j}]/lr = {measured}, first order {expected}"
                );
            }
            // A step on a task's own gradient lowers its own loss.
            assert!(z[i][i] > 0.0);
        }
    }

    /// Affinity telemetry is counted apart; the weights recorded are the ones applied.
    #[test]
    fn affinity_and_weights_are_recorded() {
        let suite = tiny_suite(2, 8, 64, 9);
        let model = ModelSpec {
            trunk: vec![16],
            head: vec![],
        };
        let training = TrainConfig {
            affinity_every: 4,
            weights_every: 2,
            ..adam_training(1, 16, 1, false)
        };
        let run = |weighting: WeightingSpec| {
            train_tiny(
                &suite,
                &ArchitectureSpec::HardSharing(HardSharing {}),
                &weighting,
                &model,
                &training,
                (4, 5),
            )
        };
        let weights = WeightingSpec::Static(Static {
            weights: vec![0.25, 2.0],
        });
        let o = run(weights);
        // 4 steps: affinity at step 0 (2 backward, 2 + 2 forward), weights at steps 0, 2.
        assert_eq!(o.telemetry_backward_passes, 2);
        assert_eq!(o.telemetry_forward_passes, 4);
        assert_eq!(
            o.telemetry
                .iter()
                .filter(|t| t.measure == "affinity")
                .count(),
            4
        );
        let w: Vec<(usize, usize, f64)> = o
            .weights
            .iter()
            .map(|p| (p.step, p.task, p.value))
            .collect();
        assert_eq!(
            w,
            vec![(0, 0, 0.25), (0, 1, 2.0), (2, 0, 0.25), (2, 1, 2.0)]
        );
        // MGDA's weights lie on the simplex.
        let mgda = run(WeightingSpec::Mgda(Default::default()));
        for step in mgda.weights.chunks(2) {
            assert!((step[0].value + step[1].value - 1.0).abs() < 1e-6);
        }
    }

    /// soft_sharing with λ = 0 is single_task, bit for bit; a larger λ keeps the towers
    /// closer (monotonically); a large λ brings the test loss towards hard_sharing's.
    #[test]
    fn soft_sharing_interpolates_between_single_task_and_hard_sharing() {
        let suite = tiny_suite(3, 8, 96, 21);
        let model = ModelSpec {
            trunk: vec![16],
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

    /// One group holding every task, or every task at the top level, is hard_sharing bit for
    /// bit; singleton groups without a root are single_task.
    #[test]
    fn hierarchical_special_cases_are_the_basic_architectures() {
        let suite = tiny_suite(3, 8, 64, 5);
        let model = ModelSpec {
            trunk: vec![12, 8],
            head: vec![],
        };
        let training = adam_training(3, 16, 1, false);
        let run = |arch: &ArchitectureSpec| {
            train_tiny(
                &suite,
                arch,
                &WeightingSpec::Equal(Equal {}),
                &model,
                &training,
                (1, 2),
            )
            .points
        };
        let hard = run(&ArchitectureSpec::HardSharing(HardSharing {}));
        for root_depth in [0, 1, 2] {
            let one_group = ArchitectureSpec::Hierarchical(Hierarchical {
                groups: Some(vec![vec![0, 1, 2]]),
                root_depth: Some(root_depth),
                levels: None,
            });
            assert_eq!(run(&one_group), hard, "root_depth {root_depth}");
        }
        let top = ArchitectureSpec::Hierarchical(Hierarchical {
            groups: None,
            root_depth: None,
            levels: Some(vec![2, 2, 2]),
        });
        assert_eq!(run(&top), hard);
        // `{kind: hierarchical}` with no parameters: every task in one group.
        assert_eq!(
            run(&ArchitectureSpec::Hierarchical(Hierarchical::default())),
            hard
        );
        let singletons = ArchitectureSpec::Hierarchical(Hierarchical {
            groups: Some(vec![vec![0], vec![1], vec![2]]),
            root_depth: Some(0),
            levels: None,
        });
        let single = run(&ArchitectureSpec::SingleTask(SingleTask {}));
        let tree = run(&singletons);
        for (a, b) in tree.iter().zip(&single) {
            assert!(
                (a.value - b.value).abs() <= 1e-5 * b.value.abs().max(1.0),
                "{a:?} vs {b:?}"
            );
        }
    }

    /// A suite whose last task is pure noise: its targets are drawn independently of x.
    fn suite_with_noise_task(seed: u64) -> SuiteData {
        use rand::Rng;
        let mut suite = tiny_suite(3, 8, 128, seed);
        let mut rng = seed::stream(seed, &["noise-task"]);
        let y = &mut suite.tasks[2].y;
        for m in [&mut y.train, &mut y.val, &mut y.test] {
            for v in &mut m.data {
                *v = rng.sample::<f32, _>(rand_distr::StandardNormal) * 2.0;
            }
        }
        suite
    }

    /// The last recorded weight of every task.
    fn final_weights(o: &TrainOutcome, tasks: usize) -> Vec<f64> {
        let last = o.weights.iter().map(|w| w.step).max().unwrap();
        (0..tasks)
            .map(|t| {
                o.weights
                    .iter()
                    .find(|w| w.step == last && w.task == t)
                    .unwrap()
                    .value
            })
            .collect()
    }

    /// Auto-Lambda and Meta-Weight-Net: with a pure-noise task among related ones, the
    /// noise task's weight ends the lowest, for each of three seeds.
    #[test]
    fn meta_learned_weights_give_the_noise_task_the_lowest_weight() {
        let model = ModelSpec {
            trunk: vec![16],
            head: vec![],
        };
        let training = TrainConfig {
            weights_every: 1,
            ..adam_training(8, 16, 8, false)
        };
        let methods = [
            WeightingSpec::AutoLambda(crate::weighting::AutoLambda {
                meta_lr: 0.01,
                ..Default::default()
            }),
            WeightingSpec::MetaWeightNet(crate::weighting::MetaWeightNetSpec {
                meta_lr: 0.05,
                ..Default::default()
            }),
        ];
        for weighting in &methods {
            for seed in [1, 2, 3] {
                let suite = suite_with_noise_task(seed);
                let o = train_tiny(
                    &suite,
                    &ArchitectureSpec::HardSharing(HardSharing {}),
                    weighting,
                    &model,
                    &training,
                    (seed, seed + 10),
                );
                assert_eq!(o.status, RunStatus::Ok);
                let w = final_weights(&o, 3);
                eprintln!("{} seed {seed}: weights {w:?}", weighting.kind());
                assert!(
                    w[2] < w[0] && w[2] < w[1],
                    "{} seed {seed}: weights {w:?}",
                    weighting.kind()
                );
            }
        }
    }

    /// soft_sharing's penalty gradient by hand: two towers whose single trunk weights are
    /// 1 and 3 (θ̄ = 2), biases 0 and 2 (mean 1); λ = 0.5 adds 2λ(θᵢ − θ̄) = ∓1 (mean form)
    /// and 2λT(θᵢ − θ̄) = ∓2 (pairwise) to zero gradients; heads are untouched.
    #[test]
    fn soft_penalty_gradient_by_hand() {
        let dev = cpu();
        let model = ModelSpec {
            trunk: vec![1],
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
            let mut grads: Vec<crate::model::Linear<_>> =
                net.layers.iter().map(|l| l.zeros_like(&dev)).collect();
            soft_penalty_gradient(
                &net,
                &SoftSharing {
                    lambda: 0.5,
                    penalty,
                },
                &mut grads,
            );
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

    /// Auto-Lambda's first step against its first-order value: the finite-difference
    /// hypergradient approximates hᵢ = −α gᵢᵀv (gᵢ = ∇Lᵢ on the batch at θ, v = ∇ of the
    /// outer loss at θ′ = θ − αΣλᵢgᵢ on the same outer batch), and Adam's first step moves
    /// each λᵢ from 0.1 by −meta_lr·sign(hᵢ).
    #[test]
    fn auto_lambda_first_step_follows_the_first_order_hypergradient() {
        let suite = tiny_suite(3, 8, 64, 13);
        let model = ModelSpec {
            trunk: vec![16],
            head: vec![],
        };
        let training = adam_training(1, 16, 1, false);
        let meta_lr = 0.01;
        let weighting = WeightingSpec::AutoLambda(crate::weighting::AutoLambda {
            meta_lr,
            ..Default::default()
        });
        let arch = ArchitectureSpec::HardSharing(HardSharing {});
        let seeds = RunSeeds {
            init: 5,
            batches: 6,
        };
        let mut trainer = Trainer::new(
            cpu(),
            RunDefinition {
                suite: &suite,
                architecture: &arch,
                weighting: &weighting,
                model: &model,
                training: &training,
                seeds,
            },
        );
        let rows: Vec<usize> = (0..16).collect();
        let batch = trainer.batch(&rows);
        // The outer batch the step will draw.
        let mut rng = seed::stream(seeds.batches, &["auto_lambda"]);
        let mut outer_rows = rand::seq::index::sample(&mut rng, 64, 16).into_vec();
        outer_rows.sort_unstable();
        let outer = trainer.batch(&outer_rows);
        let alpha = 0.01f32;
        let task_gradients: Vec<Vec<f32>> = (0..3)
            .map(|t| {
                let one_hot: Vec<f32> = (0..3).map(|k| f32::from(u8::from(k == t))).collect();
                let g =
                    engine::weighted_loss_gradients(&trainer.net, &trainer.kinds, &batch, |_| {
                        one_hot
                    });
                engine::flatten(&g.grads)
            })
            .collect();
        let combined = crate::aggregate::combine(&task_gradients, &[0.1, 0.1, 0.1]);
        let virtual_net = engine::shifted(&trainer.net, &trainer.dev, &combined, -alpha);
        let v = engine::flatten(
            &engine::weighted_loss_gradients(&virtual_net, &trainer.kinds, &outer, |_| {
                vec![1.0; 3]
            })
            .grads,
        );
        let first_order: Vec<f64> = task_gradients
            .iter()
            .map(|g| -f64::from(alpha) * crate::solvers::dot(g, &v))
            .collect();
        trainer.step(&batch);
        let lambda = trainer.last_weights.clone().unwrap();
        for (l, h) in lambda.iter().zip(&first_order) {
            assert!(h.abs() > 1e-6, "a clear hypergradient: {first_order:?}");
            let expected = 0.1 - meta_lr * h.signum();
            assert!(
                (l - expected).abs() < 1e-4,
                "λ {lambda:?}, first-order h {first_order:?}"
            );
        }
    }
}
