//! The `Trainer`: a run's network, optimizer and weighting method, ready to step (the
//! method's level picks the path of the step context), `soft_sharing`'s penalty gradient,
//! prediction and evaluation.

use super::{task_kinds, EvalPoint, RunDefinition, SolverStats, Split, StepContext, StepCost};
use crate::architecture::{ArchitectureSpec, Network};
use crate::engine::Batch;
use crate::model::Tensor2;
use crate::optimizer::Optimizer;
use crate::weighting::{Level, Weighter};
use dfdx::prelude::*;
use mtlbench_tasks::{metrics, seed, Matrix, Splits, TaskKind};

/// The path of a training step (`Trainer::step_path`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StepPath {
    /// The method's own step (look-ahead methods).
    Own,
    /// One trunk forward, the heads' representation gradients combined by the method
    /// (`masking`: GradDrop's per-element rule; else weights from their batch sums).
    Representation { masking: bool },
    /// G of the shared parameters on the device, weighted by the method.
    Gradient,
    /// One backward of the weighted sum of the losses.
    Loss,
}

/// A model, its optimizer and the batch buffers, ready to step.
pub struct Trainer<'a, D: Device<f32>> {
    pub dev: D,
    pub def: RunDefinition<'a>,
    pub net: Network<D>,
    pub optimizer: Optimizer<D>,
    pub kinds: Vec<TaskKind>,
    pub weighter: Weighter<D>,
    pub solver: SolverStats,
    /// When set, the next update's shared part is kept in `captured` (telemetry), flat on
    /// the device.
    pub capture: bool,
    pub captured: Option<crate::jacobian::Direction<D>>,
    /// When set, the next gradient-level step keeps its G (at the parameters before its
    /// update) in `captured_jacobian`, for conflict telemetry to read instead of taking
    /// T passes of its own.
    pub capture_jacobian: bool,
    pub captured_jacobian: Option<crate::jacobian::Jacobian<D>>,
    /// The task weights of the last step, when the method has them (GradDrop has none).
    pub last_weights: Option<Vec<f64>>,
    /// The draws of extra batches (Auto-Lambda's outer batch, Meta-Weight-Net's meta
    /// batch).
    pub(super) meta_rng: rand_chacha::ChaCha8Rng,
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
        let weighter = Weighter::new(
            def.weighting,
            kinds.len(),
            seed::stream(def.seeds.batches, &["weighting"]),
            def.training.lr,
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
            capture_jacobian: false,
            captured_jacobian: None,
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
        let labels = suite
            .tasks
            .iter()
            .map(|task| label_mask(&self.dev, task, split, rows))
            .collect();
        Batch { x, targets, labels }
    }

    /// The path a step of this run takes: the weighting's level, with `rep_grad` sending a
    /// gradient-level method through the representation gradients.
    pub(super) fn step_path(&self) -> StepPath {
        match self.def.weighting.level() {
            Level::Own => StepPath::Own,
            Level::Representation => StepPath::Representation { masking: true },
            Level::Gradient if self.def.training.rep_grad => {
                StepPath::Representation { masking: false }
            }
            Level::Gradient => StepPath::Gradient,
            Level::Loss => StepPath::Loss,
        }
    }

    /// One optimizer step on `batch` with the path the weighting needs: its task losses
    /// and the passes it took, as counted by the step context.
    pub fn step(&mut self, batch: &Batch<D>) -> StepCost {
        if batch.present().is_some_and(|p| !p.contains(&true)) {
            // No task has a label in the batch: nothing to learn from, no update
            // (docs/FORMULAS.md#missing-labels).
            self.last_weights = Some(vec![0.0; self.kinds.len()]);
            return StepCost {
                losses: vec![0.0; self.kinds.len()],
                forward: 0,
                backward: 0,
            };
        }
        let path = self.step_path();
        let mut method = self.weighter.take();
        let mut ctx = StepContext::new(self, batch);
        let losses = match path {
            StepPath::Own => method.step(&mut ctx),
            StepPath::Representation { masking } => ctx.representation_step(&mut *method, masking),
            StepPath::Gradient => ctx.gradient_step(&mut *method),
            StepPath::Loss => ctx.loss_step(&mut *method),
        };
        if method.needs_losses_after_step() {
            // FAMO: the same batch's losses after the update (one more forward).
            let after = ctx.losses();
            method.after_step(&after);
        }
        let (forward, backward) = ctx.passes();
        self.weighter.put(method);
        StepCost {
            losses,
            forward,
            backward,
        }
    }

    /// One optimizer step through the per-task gradients (T forward+backward passes), for
    /// any method (a loss-level one weights the task gradients by its loss weights).
    pub fn step_per_task(&mut self, batch: &Batch<D>) -> Vec<f32> {
        let mut method = self.weighter.take();
        let losses = StepContext::new(self, batch).gradient_step(&mut *method);
        self.weighter.put(method);
        losses
    }

    /// Hands the gradients to the optimizer (with `soft_sharing`'s penalty gradient added),
    /// keeping the shared part when capturing.
    pub(super) fn apply(&mut self, mut grads: Vec<crate::model::Linear<D>>) {
        if let ArchitectureSpec::SoftSharing(soft) = self.def.architecture {
            if soft.lambda > 0.0 {
                soft.penalty_gradient(&self.net, &mut grads);
            }
        }
        if self.capture {
            self.captured = Some(crate::jacobian::Direction::from_layers(
                &grads[self.net.shared.clone()],
            ));
        }
        self.optimizer.update(&mut self.net.layers, grads);
    }

    /// Predictions of every task on `x`, in chunks to bound memory: 1,024 rows at a time,
    /// or 64 where the shared part has a conv layer, whose patch matrix holds k²·C values
    /// per output pixel of every row (LeNet's first layer: 57 KB a row) and at 1,024 rows
    /// outgrows the caches (`mtlbench bench --workload lenet`: an evaluated row cost about
    /// 1.5× as much at 1,024 rows as at 64). A conv network's last chunk never holds a
    /// single row (one row takes gemm's matrix-vector route, which need not round the
    /// same; it joins the chunk before), so that its rows' predictions do not depend on the
    /// chunk (tested); dense networks keep plain chunks of 1,024, as their committed
    /// records were made.
    pub fn predict(&self, x: &Matrix) -> Vec<Matrix> {
        let conv = self
            .net
            .ops
            .iter()
            .any(|op| matches!(op, crate::trunk::LayerOp::Conv { .. }));
        let bounds = if conv {
            chunk_bounds(x.rows, 64, true)
        } else {
            chunk_bounds(x.rows, 1024, false)
        };
        self.predict_in(x, &bounds)
    }

    /// `predict` over the row ranges `bounds` (one forward pass each).
    pub(crate) fn predict_in(&self, x: &Matrix, bounds: &[std::ops::Range<usize>]) -> Vec<Matrix> {
        let mut preds: Vec<Vec<f32>> = vec![Vec::new(); self.kinds.len()];
        for range in bounds {
            let rows: Vec<usize> = range.clone().collect();
            let rows = &rows;
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

    /// Appends every task's metrics on `split` to `out`; a task whose outputs are not all
    /// finite stops it, and its index is returned (the run has diverged).
    pub(crate) fn evaluate(
        &self,
        split: Split,
        epoch: usize,
        step: usize,
        out: &mut Vec<EvalPoint>,
    ) -> Option<usize> {
        let suite = self.def.suite;
        let x = match split {
            Split::Val => &suite.x.val,
            _ => &suite.x.test,
        };
        for (t, pred) in self.predict(x).iter().enumerate() {
            if !pred.data.iter().all(|v| v.is_finite()) {
                return Some(t);
            }
            let task = &suite.tasks[t];
            let target = if split == Split::Val {
                &task.y.val
            } else {
                &task.y.test
            };
            // Scored on the labelled rows only (the test split is always complete).
            let labelled = match (&task.present, split) {
                (Some(present), Split::Val) => Some(
                    (0..present.val.len())
                        .filter(|&r| present.val[r])
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            };
            let kept;
            let (pred, target) = match &labelled {
                Some(rows) => {
                    kept = (pred.select_rows(rows), target.select_rows(rows));
                    (&kept.0, &kept.1)
                }
                None => (pred, target),
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
        None
    }
}

/// Consecutive ranges of `chunk` rows covering `rows`; with `no_single_tail`, a last range
/// of one row (of several) joins the range before it.
pub(crate) fn chunk_bounds(
    rows: usize,
    chunk: usize,
    no_single_tail: bool,
) -> Vec<std::ops::Range<usize>> {
    let chunk = chunk.max(1);
    let mut bounds: Vec<std::ops::Range<usize>> = (0..rows)
        .step_by(chunk)
        .map(|s| s..(s + chunk).min(rows))
        .collect();
    if no_single_tail && bounds.len() > 1 && bounds.last().is_some_and(|r| r.len() == 1) {
        let last = bounds.pop().expect("a last range");
        bounds.last_mut().expect("a range before it").end = last.end;
    }
    bounds
}

/// Task `task`'s labelled rows among `rows` of `split`, when one of them has no label
/// (`missing_labels`; the test split is always complete).
fn label_mask<D: Device<f32>>(
    dev: &D,
    task: &mtlbench_tasks::TaskData,
    split: Split,
    rows: &[usize],
) -> Option<crate::engine::LabelMask<D>> {
    let present = match (split, &task.present) {
        (Split::Train, Some(p)) => &p.train,
        (Split::Val, Some(p)) => &p.val,
        _ => return None,
    };
    let count = rows.iter().filter(|&&r| present[r]).count();
    if count == rows.len() {
        return None;
    }
    let width = task.kind.output_width();
    let data = rows
        .iter()
        .flat_map(|&r| std::iter::repeat_n(f32::from(u8::from(present[r])), width))
        .collect();
    Some(crate::engine::LabelMask {
        rows: dev.tensor_from_vec(data, (rows.len(), width)),
        count,
    })
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

#[cfg(test)]
mod tests {
    use super::chunk_bounds;

    #[test]
    fn chunk_bounds_cover_the_rows_and_merge_a_single_tail() {
        assert_eq!(chunk_bounds(130, 64, false), vec![0..64, 64..128, 128..130]);
        assert_eq!(chunk_bounds(129, 64, false), vec![0..64, 64..128, 128..129]);
        assert_eq!(chunk_bounds(129, 64, true), vec![0..64, 64..129]);
        assert_eq!(chunk_bounds(1, 64, true), vec![0..1]);
        assert_eq!(chunk_bounds(64, 64, true), vec![0..64]);
        assert_eq!(
            chunk_bounds(0, 64, true),
            Vec::<std::ops::Range<usize>>::new()
        );
    }
}
