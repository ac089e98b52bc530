//! The `Trainer`: a run's network, optimizer and weighting, ready to step, with its step
//! paths (weighted loss, per-task gradients, representation gradients, Auto-Lambda and
//! Meta-Weight-Net), `soft_sharing`'s penalty gradient, prediction and evaluation.

use super::{task_kinds, EvalPoint, RunDefinition, SolverStats, Split, StepCost};
use crate::architecture::{ArchitectureSpec, Network};
use crate::engine::{self, Batch};
use crate::model::Tensor2;
use crate::optimizer::Optimizer;
use crate::weighting::{Weighter, WeightingSpec};
use dfdx::prelude::*;
use mtlbench_tasks::{metrics, seed, Matrix, Splits, TaskKind};

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
            suite.input_shape(),
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

    /// Hands the gradients to the optimizer (with `soft_sharing`'s penalty gradient added),
    /// keeping the shared part when capturing.
    fn apply(&mut self, mut grads: Vec<crate::model::Linear<D>>) {
        if let ArchitectureSpec::SoftSharing(soft) = self.def.architecture {
            if soft.lambda > 0.0 {
                soft.penalty_gradient(&self.net, &mut grads);
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

    pub(super) fn evaluate(
        &self,
        split: Split,
        epoch: usize,
        step: usize,
        out: &mut Vec<EvalPoint>,
    ) {
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
