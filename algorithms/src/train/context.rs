//! The step context: what a method's step may do — the passes (task losses, loss-weighted
//! gradients, task gradients of the shared parameters, representation gradients,
//! look-aheads), extra batches, and handing the update to the optimizer — on the trainer's
//! network, optimizer, batch and random streams. Every forward and backward pass goes
//! through it and is counted here, so a step's cost is measured, not declared. The three
//! standard paths (loss-level, gradient-level, representation) are written on it.

use super::{Split, Trainer};
use crate::architecture::Network;
use crate::device::host_values;
use crate::engine::{self, Batch, RepGradients, StepGradients, TaskGradients};
use crate::jacobian::Jacobian;
use crate::model::Linear;
use crate::weighting::{Aggregation, Method, OwnStep, RepresentationInput};
use dfdx::prelude::*;

/// One step's access to the trainer, counting the passes it makes.
pub struct StepContext<'s, 'a, D: Device<f32>> {
    trainer: &'s mut Trainer<'a, D>,
    batch: &'s Batch<D>,
    forward: usize,
    backward: usize,
}

impl<'s, 'a, D: Device<f32>> StepContext<'s, 'a, D> {
    pub fn new(trainer: &'s mut Trainer<'a, D>, batch: &'s Batch<D>) -> Self {
        StepContext {
            trainer,
            batch,
            forward: 0,
            backward: 0,
        }
    }

    /// The forward and backward passes made so far.
    pub fn passes(&self) -> (usize, usize) {
        (self.forward, self.backward)
    }

    pub fn tasks(&self) -> usize {
        self.trainer.kinds.len()
    }

    /// The model optimizer's learning rate at this step: the run's `lr`, or with
    /// `lr_decay` the epoch's decayed rate (Auto-Lambda's and Meta-Weight-Net's look-ahead
    /// step mimics the update the optimizer makes).
    pub fn lr(&self) -> f64 {
        let training = &self.trainer.def.training;
        if training.lr_decay.is_some() {
            self.trainer.optimizer.lr()
        } else {
            training.lr
        }
    }

    /// This step's batch.
    pub fn batch(&self) -> &'s Batch<D> {
        self.batch
    }

    pub fn net(&self) -> &Network<D> {
        &self.trainer.net
    }

    pub fn dev(&self) -> &D {
        &self.trainer.dev
    }

    /// The task losses of the network on this batch (one forward).
    pub fn losses(&mut self) -> Vec<f32> {
        self.forward += 1;
        engine::batch_losses(&self.trainer.net, &self.trainer.kinds, self.batch)
    }

    /// The task losses of `net` on `batch` (one forward).
    pub fn losses_of(&mut self, net: &Network<D>, batch: &Batch<D>) -> Vec<f32> {
        self.forward += 1;
        engine::batch_losses(net, &self.trainer.kinds, batch)
    }

    /// Gradients of Σ wᵢLᵢ of the network on this batch, w from `weights_of(losses)` (one
    /// forward, one backward).
    pub fn weighted_gradients(
        &mut self,
        weights_of: impl FnOnce(&[f32]) -> Vec<f32>,
    ) -> StepGradients<D> {
        self.forward += 1;
        self.backward += 1;
        engine::weighted_loss_gradients(
            &self.trainer.net,
            &self.trainer.kinds,
            self.batch,
            weights_of,
        )
    }

    /// Gradients of Σ wᵢLᵢ of `net` on `batch` (one forward, one backward).
    pub fn weighted_gradients_of(
        &mut self,
        net: &Network<D>,
        batch: &Batch<D>,
        weights_of: impl FnOnce(&[f32]) -> Vec<f32>,
    ) -> StepGradients<D> {
        self.forward += 1;
        self.backward += 1;
        engine::weighted_loss_gradients(net, &self.trainer.kinds, batch, weights_of)
    }

    /// The task gradients of the shared parameters as G on the device, and of each task's
    /// own layers: on a trunk network by one trunk forward, T head backward passes and one
    /// trunk backward batched over the tasks (`trunk`), otherwise by T forward and T
    /// backward passes.
    pub fn task_gradients(&mut self) -> TaskGradients<D> {
        let tasks = self.tasks();
        let (net, kinds) = (&self.trainer.net, &self.trainer.kinds);
        match crate::trunk_gradients::task_gradients(net, kinds, self.batch) {
            Some(g) => {
                self.forward += 1;
                self.backward += tasks + 1;
                g
            }
            None => {
                self.forward += tasks;
                self.backward += tasks;
                engine::per_task_gradients(net, kinds, self.batch)
            }
        }
    }

    /// The task gradients of the shared representation (one trunk forward, T head
    /// backward passes).
    pub fn rep_gradients(&mut self) -> RepGradients<D> {
        self.forward += 1;
        self.backward += self.tasks();
        engine::rep_gradients(&self.trainer.net, &self.trainer.kinds, self.batch)
    }

    /// The shared layers' gradients when the representation receives `rep_grad` (one
    /// forward and one backward of the trunk).
    pub fn backprop_rep(&mut self, rep_grad: Tensor<(usize, usize), f32, D>) -> Vec<Linear<D>> {
        self.forward += 1;
        self.backward += 1;
        engine::backprop_rep(&self.trainer.net, self.batch, rep_grad)
    }

    /// A batch of as many rows as this one (fewer if the split is smaller) drawn from
    /// `split` with the run's meta stream; `None` when the split is empty.
    pub fn draw_batch(&mut self, split: Split) -> Option<Batch<D>> {
        let suite = self.trainer.def.suite;
        let n = match split {
            Split::Train => suite.x.train.rows,
            Split::Val => suite.x.val.rows,
            Split::Test => suite.x.test.rows,
        };
        if n == 0 {
            return None;
        }
        let size = self.batch.x.shape().0.min(n);
        let mut rows = rand::seq::index::sample(&mut self.trainer.meta_rng, n, size).into_vec();
        rows.sort_unstable();
        Some(self.trainer.batch_of(split, &rows))
    }

    /// A copy of the network with every parameter moved by `scale`·`flat` (`flat` over all
    /// layers, host layout of `engine::flatten`).
    pub fn shifted(&self, flat: &[f32], scale: f32) -> Network<D> {
        engine::shifted(&self.trainer.net, &self.trainer.dev, flat, scale)
    }

    /// A flat vector over every layer as layer gradients.
    pub fn unflatten_all(&self, flat: &[f32]) -> Vec<Linear<D>> {
        engine::unflatten_all(&self.trainer.net, &self.trainer.dev, flat)
    }

    /// Records the task weights this step applied.
    pub fn set_weights(&mut self, weights: Vec<f64>) {
        self.trainer.last_weights = Some(weights);
    }

    /// Records an aggregation: its solver report, fallback event and task weights.
    pub fn record(&mut self, aggregation: &Aggregation) {
        if let Some(event) = aggregation.event {
            self.trainer.solver.count(event);
        }
        if let Some(report) = aggregation.report {
            self.trainer.solver.add(report);
        }
        self.trainer.last_weights = aggregation.task_weights(self.tasks());
    }

    /// Hands every layer's gradient to the optimizer.
    pub fn apply(&mut self, grads: Vec<Linear<D>>) {
        self.trainer.apply(grads);
    }

    /// The loss-level step: one forward, the method's weights of the losses, one backward
    /// of Σ wᵢLᵢ.
    pub fn loss_step(&mut self, method: &mut dyn Method<D>) -> Vec<f32> {
        let mut applied = Vec::new();
        let present = self.batch.present();
        let step = self.weighted_gradients(|l| {
            applied = match &present {
                None => method.loss_weights(l),
                Some(p) => method.loss_weights_present(l, p),
            };
            applied.clone()
        });
        self.set_weights(applied.iter().map(|w| f64::from(*w)).collect());
        self.apply(step.grads);
        step.losses
    }

    /// The gradient-level step: G on the device, the method's weights (from the Gramian),
    /// d = Gᵀw on the device into the shared layers; each head takes its own task's
    /// gradient times the method's head scale.
    pub fn gradient_step(&mut self, method: &mut dyn Method<D>) -> Vec<f32> {
        let TaskGradients {
            losses,
            mut jacobian,
            own,
        } = self.task_gradients();
        if std::mem::take(&mut self.trainer.capture_jacobian) {
            self.trainer.captured_jacobian = Some(jacobian.clone());
        }
        let aggregation = match self.batch.present() {
            None => method.aggregate(&mut jacobian, &losses),
            Some(p) => method.aggregate_present(&mut jacobian, &losses, &p),
        };
        self.record(&aggregation);
        let direction = match &aggregation.blocks {
            Some(blocks) => jacobian.combine_blocks(blocks),
            None => jacobian.combine(&aggregation.weights),
        };
        let heads = head_scales(&aggregation, losses.len());
        let net = &self.trainer.net;
        let shared = engine::shared_direction(net, &self.trainer.dev, &direction);
        let grads = engine::assemble_with_shared(net, shared, own, &heads);
        self.apply(grads);
        losses
    }

    /// The representation step: one trunk forward, each head's forward and backward, the
    /// method's combination of the representation gradients (GradDrop's masking, or the
    /// weights of a gradient-level method on their batch sums with `rep_grad`), and one
    /// trunk backward.
    pub fn representation_step(&mut self, method: &mut dyn Method<D>, masking: bool) -> Vec<f32> {
        let r = self.rep_gradients();
        let shape = *r.rep.shape();
        let tasks = r.per_sample.len();
        let dev = self.trainer.dev.clone();
        let present = self.batch.present();
        let (combined, heads) = if masking {
            let per_sample: Vec<Vec<f32>> = r.per_sample.iter().map(host_values).collect();
            let rep = host_values(&r.rep);
            let (combined, heads) = method.representation(&RepresentationInput {
                per_sample: &per_sample,
                rep: &rep,
                width: shape.1,
                losses: &r.losses,
                present: present.as_deref(),
            });
            (
                dev.tensor_from_vec(combined, shape),
                heads.iter().map(|h| *h as f32).collect(),
            )
        } else {
            // Weights from the batch-summed representation gradients (LibMTL's rep_grad).
            let stacked = r.per_sample.clone().stack();
            let summed = stacked.clone().sum::<(usize, usize), Axis<1>>();
            let mut g = Jacobian::from_rows(summed, Vec::new());
            let aggregation = match &present {
                None => method.aggregate(&mut g, &r.losses),
                Some(p) => method.aggregate_present(&mut g, &r.losses, p),
            };
            self.record(&aggregation);
            let heads = head_scales(&aggregation, tasks);
            let rows = stacked.reshape_like(&(tasks, shape.0 * shape.1));
            let combined = match Jacobian::from_rows(rows, Vec::new())
                .combine(&aggregation.weights)
                .blocks
                .pop()
            {
                Some(d) => d.reshape_like(&shape),
                None => dev.zeros_like(&shape),
            };
            (combined, heads)
        };
        let shared = self.backprop_rep(combined);
        let grads = engine::assemble_with_shared(&self.trainer.net, shared, r.own, &heads);
        self.apply(grads);
        r.losses
    }
}

/// A method's own step goes through the context's passes, so they are counted too.
impl<'s, D: Device<f32>> OwnStep<'s, D> for StepContext<'s, '_, D> {
    fn tasks(&self) -> usize {
        Self::tasks(self)
    }

    fn lr(&self) -> f64 {
        Self::lr(self)
    }

    fn batch(&self) -> &'s Batch<D> {
        Self::batch(self)
    }

    fn losses_of(&mut self, net: &Network<D>, batch: &Batch<D>) -> Vec<f32> {
        Self::losses_of(self, net, batch)
    }

    fn weighted_gradients(&mut self, weights: Vec<f32>) -> StepGradients<D> {
        Self::weighted_gradients(self, |_| weights)
    }

    fn weighted_gradients_of(
        &mut self,
        net: &Network<D>,
        batch: &Batch<D>,
        weights: Vec<f32>,
    ) -> StepGradients<D> {
        Self::weighted_gradients_of(self, net, batch, |_| weights)
    }

    fn draw_batch(&mut self, split: Split) -> Option<Batch<D>> {
        Self::draw_batch(self, split)
    }

    fn shifted(&self, flat: &[f32], scale: f32) -> Network<D> {
        Self::shifted(self, flat, scale)
    }

    fn unflatten_all(&self, flat: &[f32]) -> Vec<Linear<D>> {
        Self::unflatten_all(self, flat)
    }

    fn set_weights(&mut self, weights: Vec<f64>) {
        Self::set_weights(self, weights)
    }

    fn apply(&mut self, grads: Vec<Linear<D>>) {
        Self::apply(self, grads)
    }
}

/// The heads' scales of an aggregation (1 when it gives none).
fn head_scales(aggregation: &Aggregation, tasks: usize) -> Vec<f32> {
    match &aggregation.head_scales {
        Some(scales) => scales.iter().map(|w| *w as f32).collect(),
        None => vec![1.0; tasks],
    }
}
