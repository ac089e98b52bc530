//! The weighting methods as plug-ins: how per-task losses (loss-level methods), the task
//! gradients of the shared parameters (gradient-level methods) or of the shared
//! representation (GradDrop) become one update, or a method's own step (meta-learned
//! weights). One file per method holds its configuration, state, validation, its
//! implementation of [`Method`] and its tests; this module holds the registry (one line per
//! method), the trait and the helpers they share.
//!
//! Adding a loss-level or gradient-level method: a new file with its configuration `Name`
//! (implementing [`MethodSpec`]), its running state `NameState` (implementing [`Method`];
//! a method that keeps nothing between steps implements [`Method`] on its configuration)
//! and its tests, and one line in `methods!` below (`Name(file::Name) = "kind":
//! "description"`). The fixtures the tests share are in `tests/`.

use crate::architecture::Network;
use crate::engine::{Batch, StepGradients};
use crate::error::AlgorithmsError;
use crate::jacobian::Jacobian;
use crate::model::Linear;
use crate::solvers::SolverReport;
use crate::split::Split;
use crate::tuning::TuningRange;
use dfdx::prelude::*;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::ops::Range;

mod missing;
pub(crate) use missing::{over_present, zero_absent};

#[cfg(test)]
mod tests;

/// Declares each method's module (its file, whose public items are re-exported here), the
/// registry (through `mtlbench_tasks::registry!`) and its dispatch to each method's
/// [`MethodSpec`]: one line per method.
macro_rules! methods {
    ($( $variant:ident($module:ident :: $ty:ident) = $kind:literal : $desc:literal ),+ $(,)?) => {
        $(
            mod $module;
            pub use $module::*;
        )+

        mtlbench_tasks::registry! {
            /// How per-task losses or gradients are combined.
            pub enum WeightingSpec {
                $( $variant($ty) = $kind : $desc ),+
            }
        }

        impl WeightingSpec {
            /// The method's configuration behind the shared interface.
            fn spec(&self) -> &dyn MethodSpec {
                match self {
                    $( WeightingSpec::$variant(c) => c ),+
                }
            }

            /// A run's method: this configuration with its state. `rng` is the run's
            /// weighting stream; `lr` the run's learning rate.
            pub fn build<D: Device<f32>>(&self, tasks: usize, rng: ChaCha8Rng, lr: f64) -> Box<dyn Method<D>> {
                let setup = Setup { tasks, rng, lr };
                match self {
                    $( WeightingSpec::$variant(c) => c.build(setup) ),+
                }
            }
        }
    };
}

methods! {
    Equal(equal::Equal) = "equal": "L = Σᵢ Lᵢ (LibMTL `EW`)",
    Static(static_weights::Static) = "static": "L = Σᵢ wᵢLᵢ with given weights",
    ScaleInvariant(scale_invariant::ScaleInvariant) = "scale_invariant": "L = Σᵢ log Lᵢ (Nash-MTL's SI baseline)",
    Gls(gls::Gls) = "gls": "L = (Πᵢ Lᵢ)^(1/T) (LibMTL `GLS`)",
    Rlw(rlw::Rlw) = "rlw": "random weights drawn each step from the run's stream: `distribution` libmtl (softmax(N(0, I)), LibMTL `RLW`), or Kurin et al.'s uniform / normal / dirichlet / bernoulli / constrained_bernoulli rescaled to Σλ = T",
    Dwa(dwa::Dwa) = "dwa": "weights from the last two epochs' loss ratios, τ = 2 (LibMTL `DWA`)",
    Uw(uw::Uw) = "uw": "uncertainty weighting, learnable sᵢ from −0.5 (LibMTL `UW`)",
    Famo(famo::Famo) = "famo": "FAMO's adaptive log-loss weights, updated from the same batch after each step (LibMTL `FAMO`)",
    ImtlL(imtl_l::ImtlL) = "imtl_l": "IMTL's learnable loss scales e^sᵢ·Lᵢ − sᵢ; full IMTL is `compose` of `imtl_l` and `imtl_g` (LibMTL `IMTL`)",
    Mgda(mgda::Mgda) = "mgda": "min-norm point of the task gradients, finished exactly on the optimal face; normaliser none / l2 / loss / loss_plus (LibMTL `MGDA`)",
    PcGrad(pcgrad::PcGrad) = "pcgrad": "projects conflicting gradients, random order per step (LibMTL `PCGrad`)",
    GradVac(gradvac::GradVac) = "gradvac": "raises task-pair gradient cosines to EMA targets, β = 0.5, whole / layer / tensor groups (LibMTL `GradVac`)",
    GradDrop(graddrop::GradDrop) = "graddrop": "sign dropout of the task gradients on the shared representation, leak 0 (LibMTL `GradDrop`; `hard_sharing` only)",
    CaGrad(cagrad::CaGrad) = "cagrad": "conflict-averse direction, c = 0.5, rescale 1 (LibMTL `CAGrad`)",
    ImtlG(imtl_g::ImtlG) = "imtl_g": "equal projections on every unit task gradient (LibMTL `IMTL`, gradient part)",
    AlignedMtl(aligned_mtl::AlignedMtl) = "aligned_mtl": "aligns the gradient matrix's principal components (LibMTL `Aligned_MTL`)",
    UpGrad(upgrad::UpGrad) = "upgrad": "sum of the projections of each task gradient onto the dual cone of the task gradients (torchjd `UPGrad`); `regularisation` none (default: the exact projections, so no task conflicts with the update) or torchjd (torchjd's default: Gramian divided by its trace, + 1e-4·I, which moves the result when the gradient norms differ much)",
    NashMtl(nash_mtl::NashMtl) = "nash_mtl": "Nash bargaining weights: (Mα)ᵢ = 1/αᵢ with M = GGᵀ/‖GGᵀ‖_F, the Gramian divided by its Frobenius norm as the reference code does, so α and the head scales are √‖GGᵀ‖_F times the solution of the paper's (GGᵀα)ᵢ = 1/αᵢ (and unchanged when all gradients are rescaled); solved exactly; shared update clipped to norm 1 (Nash-MTL)",
    DbMtl(db_mtl::DbMtl) = "db_mtl": "EMA of log-loss gradients, rescaled to the largest norm, αᵢ = max‖ĝ‖/(‖ĝᵢ‖ + 1e-8) (LibMTL `DB_MTL`); not composable (a loss weight cancels in ∇log(wᵢLᵢ)); its default constant EMA (β 0.9, β_σ 0, as LibMTL) trains poorly with Adam on `planted_correlation`, β_σ 0.5 or β 0 do not (see its doc)",
    GradNorm(gradnorm::GradNorm) = "gradnorm": "weights T·softmax(s), s trained to balance weighted gradient norms, α = 1.5 (LibMTL `GradNorm`; `last_shared_layer: true` for the paper's form)",
    MetaWeightNet(meta_weight_net::MetaWeightNet) = "meta_weight_net": "Meta-Weight-Net adapted to tasks: an MLP 2 → `hidden` (100) → 1 maps each task's loss and loss ratio to its weight (normalised to sum T), trained each step by the first-order one-step look-ahead on a validation-split batch (SGD Nesterov, `meta_lr` 1e-3); T + 1 forward and backward passes per step (Shu et al. 2019)",
    AutoLambda(auto_lambda::AutoLambda) = "auto_lambda": "Auto-Lambda (Liu et al. 2022): unconstrained λ (init 0.1) on Σλᵢ Lᵢ, meta-learned each step by a virtual gradient step, the outer loss of the `primary` tasks (default all) on a second random training batch and a finite-difference hypergradient, Adam on λ with `meta_lr` (1e-4); then the real step. 5 forward and 3 backward passes per step. Record `weights_every` to see λ",
    Compose(compose::Compose) = "compose": "a loss weighting followed by a gradient aggregator: `{kind: compose, loss: {kind: uw}, gradient: {kind: pcgrad}}` scales each task's gradient and head by the loss weight, then aggregates (label `uw+pcgrad`)",
}

/// What a method takes each step, which decides the passes the step makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The task losses only: one forward of the trunk, one backward of Σ wᵢLᵢ.
    Loss,
    /// The task gradients of the shared parameters (rows of G, on the device), or of the
    /// shared representation with `training.rep_grad`. On a trunk network
    /// (`hard_sharing`) G comes from one trunk forward, T head passes and one trunk
    /// backward batched over the tasks (`crate::trunk_gradients`; dense trunks), chosen by
    /// measurement over T forward and backward passes: on the CPU, one thread, G and its
    /// Gramian took 5.7–6.2 against 8.7 ms on W1 and 2.63 against 3.27 s on W2
    /// (`mtlbench bench` prints both); T passes on the other architectures and conv trunks.
    Gradient,
    /// The per-sample task gradients of the shared representation itself (GradDrop).
    Representation,
    /// Its own step through the step context (meta-learned weights).
    Own,
}

/// What a method's state is built from.
pub struct Setup {
    pub tasks: usize,
    /// The run's weighting stream (random weights, task orders, uniform draws).
    pub rng: ChaCha8Rng,
    /// The run's learning rate (learnable task parameters are trained with it).
    pub lr: f64,
}

/// A method's configuration: what it needs, its checks, and how its state is built.
pub trait MethodSpec {
    fn level(&self) -> Level;
    /// Checks the configuration against a suite of `tasks` tasks.
    fn validate(&self, _tasks: usize) -> Result<(), AlgorithmsError> {
        Ok(())
    }
    /// The keys a study must give because their default fails `validate`.
    fn required_keys(&self) -> &'static [&'static str] {
        &[]
    }
    /// Whether the update can be taken on representation gradients (`rep_grad`).
    fn supports_rep_grad(&self) -> bool {
        true
    }
    /// The label in algorithm names when it is not the kind (a composition's).
    fn label(&self) -> Option<String> {
        None
    }
    /// The ranges of its own hyper-parameters an equal tuning budget searches (`tune`),
    /// from the values its paper and reference code sweep: (field, range).
    fn tuning_ranges(&self) -> Vec<(String, TuningRange)> {
        Vec::new()
    }
    fn build<D: Device<f32>>(&self, setup: Setup) -> Box<dyn Method<D>>
    where
        Self: Sized;
}

/// A run's method with its state. Each hook serves one [`Level`]; the defaults are those of
/// plain equal weighting.
pub trait Method<D: Device<f32>> {
    /// Loss-level: the weights wᵢ of this step's losses (the update is the gradient of
    /// Σ wᵢLᵢ with the wᵢ held constant).
    fn loss_weights(&mut self, losses: &[f32]) -> Vec<f32> {
        vec![1.0; losses.len()]
    }

    /// Gradient-level: the combination of the rows of `g` (the task gradients of this step)
    /// given the task `losses`. A loss-level method used here returns its loss weights.
    fn aggregate(&mut self, _g: &mut Jacobian<D>, losses: &[f32]) -> Aggregation {
        let w: Vec<f64> = self
            .loss_weights(losses)
            .into_iter()
            .map(f64::from)
            .collect();
        Aggregation {
            head_scales: Some(w.clone()),
            ..Aggregation::new(w, None)
        }
    }

    /// Loss level, when some task has no label in this step's batch (`present[i]` false:
    /// its loss is 0 and its gradient zero; docs/FORMULAS.md#missing-labels). The
    /// default: the method's weights with an absent task's set to 0, for methods whose
    /// weights and state a zero loss does not disturb; the others answer from the present
    /// tasks alone (their files say how).
    fn loss_weights_present(&mut self, losses: &[f32], present: &[bool]) -> Vec<f32> {
        let mut w = self.loss_weights(losses);
        zero_absent(&mut w, present);
        w
    }

    /// Gradient level, the same. The default is the loss-level one (`aggregate`'s default
    /// on `loss_weights_present`); every gradient-level method answers itself, most by
    /// [`over_present`]: its rule on the present tasks' rows of G alone, an absent task
    /// weighted 0 with its head scaled by 0.
    fn aggregate_present(
        &mut self,
        _g: &mut Jacobian<D>,
        losses: &[f32],
        present: &[bool],
    ) -> Aggregation {
        let w: Vec<f64> = self
            .loss_weights_present(losses, present)
            .into_iter()
            .map(f64::from)
            .collect();
        Aggregation {
            head_scales: Some(w.clone()),
            ..Aggregation::new(w, None)
        }
    }

    /// Representation level (GradDrop): the gradient passed back into the trunk, from each
    /// task's per-sample representation gradients, and the scale of each task's head.
    fn representation(&mut self, _r: &RepresentationInput<'_>) -> (Vec<f32>, Vec<f64>) {
        unreachable!("only representation-level methods combine representation gradients")
    }

    /// Own level: the whole step through `ctx`; returns the task losses before the update.
    fn step(&mut self, _ctx: &mut dyn OwnStep<'_, D>) -> Vec<f32> {
        unreachable!("only meta-learned methods take their own step")
    }

    /// Records an epoch's mean training losses.
    fn end_epoch(&mut self, _means: &[f64]) {}

    /// Whether the method needs the same batch's losses after the model update (FAMO).
    fn needs_losses_after_step(&self) -> bool {
        false
    }

    /// The same batch's losses after the model update.
    fn after_step(&mut self, _losses_after: &[f32]) {}

    /// The loss part's learnable parameters and the losses it last received (tests).
    #[cfg(test)]
    fn loss_part_state(&self) -> (Vec<f64>, Vec<f32>) {
        (Vec::new(), Vec::new())
    }
}

/// What a method's own step may do (meta-learned weights): passes on the run's network or
/// on a shifted copy, extra batches, and handing the update to the optimizer. The training
/// loop's step context implements it and counts every pass; `'s` is the step's.
pub trait OwnStep<'s, D: Device<f32>> {
    fn tasks(&self) -> usize;
    /// The run's learning rate.
    fn lr(&self) -> f64;
    /// This step's batch.
    fn batch(&self) -> &'s Batch<D>;
    /// The task losses of `net` on `batch` (one forward).
    fn losses_of(&mut self, net: &Network<D>, batch: &Batch<D>) -> Vec<f32>;
    /// Gradients of Σ wᵢLᵢ of the network on this batch (one forward, one backward).
    fn weighted_gradients(&mut self, weights: Vec<f32>) -> StepGradients<D>;
    /// Gradients of Σ wᵢLᵢ of `net` on `batch` (one forward, one backward).
    fn weighted_gradients_of(
        &mut self,
        net: &Network<D>,
        batch: &Batch<D>,
        weights: Vec<f32>,
    ) -> StepGradients<D>;
    /// A batch of as many rows as this one drawn from `split` with the run's meta stream;
    /// `None` when the split is empty.
    fn draw_batch(&mut self, split: Split) -> Option<Batch<D>>;
    /// The network with `scale` × `flat` added to its parameters.
    fn shifted(&self, flat: &[f32], scale: f32) -> Network<D>;
    /// `flat` cut into the network's layer shapes.
    fn unflatten_all(&self, flat: &[f32]) -> Vec<Linear<D>>;
    /// The task weights this step records.
    fn set_weights(&mut self, weights: Vec<f64>);
    /// Hands the update to the optimizer.
    fn apply(&mut self, grads: Vec<Linear<D>>);
}

/// GradDrop's input: the representation's values and each task's per-sample gradient of
/// it (row-major n × width), with the task losses.
pub struct RepresentationInput<'r> {
    pub per_sample: &'r [Vec<f32>],
    pub rep: &'r [f32],
    pub width: usize,
    pub losses: &'r [f32],
    /// Which tasks have a label in the batch, when one has none (its per-sample gradients
    /// are zero).
    pub present: Option<&'r [bool]>,
}

/// One form for every gradient-level method's answer: weights w on the rows of G (the
/// direction is d = Gᵀw, one product on the device), or per column block (GradVac's
/// per-group coefficients), with the head scales, the inner solve's report and a fallback
/// event.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregation {
    /// Weights on the rows of G as the method left it (DB-MTL replaces the rows by its
    /// smoothed gradients ĝᵢ, so its weights are the αᵢ on the ĝᵢ).
    pub weights: Vec<f64>,
    pub report: Option<SolverReport>,
    /// Scales of each task's own (head) gradients; `None` leaves them unscaled.
    pub head_scales: Option<Vec<f64>>,
    /// Per column block, its own weights on the rows (GradVac per layer or tensor): the
    /// direction's columns in each block are those of G combined by the block's weights.
    /// `weights` then carries no task weights.
    pub blocks: Option<Vec<(Range<usize>, Vec<f64>)>>,
    /// A fallback the method took at this step instead of its rule, counted per run
    /// (`imtl_g_equal_weights`, `aligned_mtl_zero_update`).
    pub event: Option<&'static str>,
}

impl Aggregation {
    pub fn new(weights: Vec<f64>, report: Option<SolverReport>) -> Self {
        Aggregation {
            event: None,
            weights,
            report,
            head_scales: None,
            blocks: None,
        }
    }

    /// The task weights to record: w when the update is Gᵀw (none for per-block weights).
    pub fn task_weights(&self, tasks: usize) -> Option<Vec<f64>> {
        (self.blocks.is_none() && self.weights.len() == tasks).then(|| self.weights.clone())
    }
}

/// d = Σᵢ wᵢ gᵢ on the host, in f64 (tests and golden numbers).
pub fn combine(grads: &[Vec<f32>], weights: &[f64]) -> Vec<f32> {
    let len = grads.first().map_or(0, Vec::len);
    let mut out = vec![0.0f64; len];
    for (g, w) in grads.iter().zip(weights) {
        out.iter_mut()
            .zip(g)
            .for_each(|(o, x)| *o += w * f64::from(*x));
    }
    out.into_iter().map(|v| v as f32).collect()
}

impl WeightingSpec {
    /// Checks the weighting against a suite of `tasks` tasks.
    pub fn validate(&self, tasks: usize) -> Result<(), AlgorithmsError> {
        self.spec().validate(tasks)
    }

    /// Checks the weighting against `training.rep_grad`: representation gradients serve
    /// gradient-level methods that weight this step's task gradients; a loss-level
    /// weighting would ignore the setting, and DB-MTL and GradVac need parameter gradients.
    pub fn validate_rep_grad(&self, rep_grad: bool) -> Result<(), AlgorithmsError> {
        if !rep_grad || self.uses_representation() {
            return Ok(());
        }
        if !self.is_gradient_level() {
            return Err(AlgorithmsError::invalid(
                "rep_grad",
                format!(
                    "`{}` is loss-level: it takes no task gradients, so rep_grad would be ignored",
                    self.label()
                ),
            ));
        }
        if !self.supports_rep_grad() {
            return Err(AlgorithmsError::invalid(
                "rep_grad",
                format!("`{}` needs parameter gradients", self.label()),
            ));
        }
        Ok(())
    }

    /// The keys a study must give because they have no default (the default value fails
    /// `validate`): `static`'s `weights`.
    pub fn required_keys(&self) -> &'static [&'static str] {
        self.spec().required_keys()
    }

    /// What the method takes each step.
    pub fn level(&self) -> Level {
        self.spec().level()
    }

    /// Whether the method works on the shared representation itself (GradDrop), so the
    /// architecture must hand every task one shared trunk output.
    pub fn uses_representation(&self) -> bool {
        self.level() == Level::Representation
    }

    /// Whether the method's update can be taken on representation gradients (`rep_grad`):
    /// those that return weights on this step's task gradients.
    pub fn supports_rep_grad(&self) -> bool {
        self.spec().supports_rep_grad()
    }

    /// The ranges of the method's own hyper-parameters for `tune`: (field path, dotted for
    /// a composition's parts, and range).
    pub fn tuning_ranges(&self) -> Vec<(String, TuningRange)> {
        self.spec().tuning_ranges()
    }

    /// The label of this weighting in algorithm names: its kind, or `loss+gradient` for a
    /// composition.
    pub fn label(&self) -> String {
        self.spec()
            .label()
            .unwrap_or_else(|| self.kind().to_string())
    }

    /// Whether the method needs task gradients (of the shared parameters or of the
    /// representation) rather than only the task losses.
    pub fn is_gradient_level(&self) -> bool {
        matches!(self.level(), Level::Gradient | Level::Representation)
    }
}

/// A run's method, held by the trainer; taken out while the method runs a step.
pub struct Weighter<D: Device<f32>> {
    method: Option<Box<dyn Method<D>>>,
}

impl<D: Device<f32>> Weighter<D> {
    pub fn new(spec: &WeightingSpec, tasks: usize, rng: ChaCha8Rng, lr: f64) -> Self {
        Weighter {
            method: Some(spec.build(tasks, rng, lr)),
        }
    }

    /// The method, for the length of a step.
    pub fn take(&mut self) -> Box<dyn Method<D>> {
        self.method
            .take()
            .expect("the method is back after each step")
    }

    pub fn put(&mut self, method: Box<dyn Method<D>>) {
        self.method = Some(method);
    }

    fn get(&mut self) -> &mut dyn Method<D> {
        self.method
            .as_deref_mut()
            .expect("the method is back after each step")
    }

    /// Records an epoch's mean training losses.
    pub fn end_epoch(&mut self, means: Vec<f64>) {
        self.get().end_epoch(&means);
    }

    /// The loss part's learnable parameters and the losses it last received.
    #[cfg(test)]
    pub(crate) fn loss_part_state(&self) -> (Vec<f64>, Vec<f32>) {
        self.method
            .as_deref()
            .expect("the method is back after each step")
            .loss_part_state()
    }
}

/// softmax(x/τ), computed with max-subtraction.
pub(crate) fn softmax(x: &[f64], temperature: f64) -> Vec<f64> {
    let max = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| ((v - max) / temperature).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.into_iter().map(|v| v / sum).collect()
}

/// One random order of the tasks per task (PCGrad, GradVac), from the run's stream.
pub(crate) fn random_orders(rng: &mut ChaCha8Rng, tasks: usize) -> Vec<Vec<usize>> {
    (0..tasks)
        .map(|_| {
            let mut order: Vec<usize> = (0..tasks).collect();
            order.shuffle(rng);
            order
        })
        .collect()
}

/// The checks of an inner solver's settings.
pub(crate) fn validate_solver(
    tolerance: f64,
    max_iterations: usize,
) -> Result<(), AlgorithmsError> {
    if !(tolerance > 0.0 && tolerance.is_finite()) {
        return Err(AlgorithmsError::invalid(
            "tolerance",
            "must be finite and > 0",
        ));
    }
    if max_iterations == 0 {
        return Err(AlgorithmsError::invalid(
            "max_iterations",
            "must be at least 1",
        ));
    }
    Ok(())
}

/// Learnable per-task parameters trained by Adam on the host (UW's and IMTL-L's sᵢ, FAMO's
/// logits, GradNorm's s, Auto-Lambda's λ).
pub(crate) struct TaskParameters {
    pub values: Vec<f64>,
    adam: crate::optimizer::HostAdam,
}

impl TaskParameters {
    pub fn new(values: Vec<f64>, lr: f64, weight_decay: f64) -> Self {
        let adam = crate::optimizer::HostAdam::new(values.len(), lr, weight_decay);
        TaskParameters { values, adam }
    }

    pub fn update(&mut self, grad: &[f64]) {
        self.adam.update(&mut self.values, grad);
    }

    /// An update of the present tasks' parameters only (the others do not move; see
    /// `HostAdam::update_present`).
    pub fn update_present(&mut self, grad: &[f64], present: &[bool]) {
        self.adam.update_present(&mut self.values, grad, present);
    }
}
