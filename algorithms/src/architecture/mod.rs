//! The architecture registry: how parameters are shared between tasks, and the network
//! layout each architecture builds (which layers are shared, which belong to a task, and
//! how a task reads the shared part).
//!
//! One file per architecture holds its config (serde), its validation, its build and its
//! tests, behind the `Architecture` trait; this file keeps the registry (one line per
//! architecture), the `Builder` the builds share, and the `Network` they produce; the
//! forward pass is in `forward.rs`. Adding an architecture is one new file and one
//! registry line (and a `Sharing` variant only when it needs a new wiring).

#[cfg(test)]
mod conv_tests;
mod footprint;
mod forward;
#[cfg(test)]
pub(crate) mod testing;

pub use footprint::{dense, Footprint, Part, Shape};
pub use forward::SharedRep;

use crate::error::AlgorithmsError;
use crate::model::{Linear, ModelSpec};
use crate::trunk::{LayerOp, ResolvedLayer};
use crate::tuning::TuningRange;
use dfdx::prelude::*;
use mtlbench_tasks::InputShape;
use std::ops::Range;

/// What an architecture is: its checks, the network it builds, and the answers the plan
/// asks of it (what it shares, what it costs). `ArchitectureSpec` dispatches to its
/// variant's implementation.
pub trait Architecture {
    /// Checks the hyper-parameters alone (keys relative to the architecture's YAML entry).
    fn validate(&self) -> Result<(), AlgorithmsError> {
        Ok(())
    }

    /// Checks what depends on the suite's task count and the trunk's depth.
    fn validate_for(&self, _tasks: usize, _depth: usize) -> Result<(), AlgorithmsError> {
        Ok(())
    }

    /// Whether the architecture has parameters shared between tasks (gradient-level
    /// weightings need them).
    fn has_shared_parameters(&self) -> bool {
        true
    }

    /// Whether every task reads one shared representation, the output of one shared
    /// trunk, whose task gradients representation-level methods (GradDrop) and
    /// `training.rep_grad` take.
    fn exposes_shared_representation(&self) -> bool {
        false
    }

    /// Whether its tasks train as independent networks that no weighting couples: a study
    /// runs it once, with equal weighting, and neither checks nor tunes the weightings
    /// against it.
    fn ignores_weighting(&self) -> bool {
        false
    }

    /// The ranges of its own hyper-parameters an equal tuning budget searches (`tune`).
    fn tuning_ranges(&self) -> Vec<(String, TuningRange)> {
        Vec::new()
    }

    /// The network's parameters, activations and multiply-adds per row for a model of
    /// shape `shape`, counted as `build` lays the layers out.
    fn footprint(&self, shape: &Shape<'_>) -> Footprint;

    /// Pushes the network's layers onto `b` and says how they are shared.
    fn build<D: Device<f32>>(&self, b: &mut Builder<'_, D>) -> Layout;
}

/// Declares each architecture's module (its file, whose public items are re-exported
/// here), `ArchitectureSpec` through `mtlbench_tasks::registry!`, and its dispatch to each
/// architecture's [`Architecture`]: one line per architecture.
macro_rules! architectures {
    ($( $variant:ident($module:ident :: $ty:ident) = $kind:literal : $desc:literal ),+ $(,)?) => {
        $(
            mod $module;
            pub use $module::*;
        )+

        mtlbench_tasks::registry! {
            /// How an algorithm shares parameters between tasks.
            pub enum ArchitectureSpec {
                $( $variant($ty) = $kind : $desc ),+
            }
        }

        impl ArchitectureSpec {
            pub fn validate(&self) -> Result<(), AlgorithmsError> {
                match self { $( ArchitectureSpec::$variant(a) => Architecture::validate(a) ),+ }
            }

            /// Checks what depends on the suite's task count and the trunk's depth.
            pub fn validate_for(&self, tasks: usize, depth: usize) -> Result<(), AlgorithmsError> {
                match self { $( ArchitectureSpec::$variant(a) => Architecture::validate_for(a, tasks, depth) ),+ }
            }

            /// Whether the architecture has parameters shared between tasks
            /// (gradient-level weightings need them).
            pub fn has_shared_parameters(&self) -> bool {
                match self { $( ArchitectureSpec::$variant(a) => Architecture::has_shared_parameters(a) ),+ }
            }

            /// Whether every task reads one shared representation (representation-level
            /// methods and `rep_grad` need it).
            pub fn exposes_shared_representation(&self) -> bool {
                match self { $( ArchitectureSpec::$variant(a) => Architecture::exposes_shared_representation(a) ),+ }
            }

            /// Whether its tasks train as independent networks that no weighting couples.
            pub fn ignores_weighting(&self) -> bool {
                match self { $( ArchitectureSpec::$variant(a) => Architecture::ignores_weighting(a) ),+ }
            }

            /// The ranges of the architecture's own hyper-parameters for `tune`.
            pub fn tuning_ranges(&self) -> Vec<(String, TuningRange)> {
                match self { $( ArchitectureSpec::$variant(a) => Architecture::tuning_ranges(a) ),+ }
            }

            /// The network's parameters, activations and multiply-adds per row for a
            /// model of shape `shape`.
            pub fn footprint(&self, shape: &Shape<'_>) -> Footprint {
                match self { $( ArchitectureSpec::$variant(a) => Architecture::footprint(a, shape) ),+ }
            }

            fn layout<D: Device<f32>>(&self, b: &mut Builder<'_, D>) -> Layout {
                match self { $( ArchitectureSpec::$variant(a) => Architecture::build(a, b) ),+ }
            }
        }
    };
}

architectures! {
    SingleTask(single_task::SingleTask) = "single_task":
        "T independent networks (trunk + head); each starts from the same trunk weights as `hard_sharing`'s shared trunk",
    HardSharing(hard_sharing::HardSharing) = "hard_sharing":
        "one shared trunk, one head per task (LibMTL `HPS`)",
    Mmoe(mmoe::Mmoe) = "mmoe":
        "`experts` (4) shared experts of the trunk's shape, mixed by a softmax gate per task (LibMTL `MMoE`)",
    Cgc(cgc::Cgc) = "cgc":
        "`shared_experts` (2) plus `task_experts` (1) per task, one gate per task (LibMTL `CGC`)",
    CrossStitch(cross_stitch::CrossStitch) = "cross_stitch":
        "one tower per task, mixed after every trunk layer by learnable T×T cross-stitch units (0.9 / 0.1 init; LibMTL `Cross_stitch`)",
    SoftSharing(soft_sharing::SoftSharing) = "soft_sharing":
        "one tower per task (as `single_task`, same initial weights) plus λ·Σᵢ‖θᵢ − θ̄‖² over corresponding trunk layers (`penalty: mean`, default; `pairwise`: λ·Σ_{i<j}‖θᵢ − θⱼ‖²), `lambda` 0.01; the penalty's gradient is exact (the terms through θ̄ cancel) and added before the optimizer step. λ = 0 is `single_task` bit for bit. Shares no parameters: loss-level weightings only (Duong et al. 2015)",
    Hierarchical(hierarchical::Hierarchical) = "hierarchical":
        "a task tree, `groups` (every task in one group) with `root_depth` (1): the first trunk layers shared by all tasks, the rest copied per group and computed once per group (one group of all tasks is `hard_sharing` bit for bit); or depth supervision, `levels` (one per task): task t's head reads the trunk after `levels[t]` layers (Søgaard & Goldberg 2016); one form or the other, `root_depth` with `groups` only; `{kind: hierarchical}` alone is one group of all tasks. All trunk layers count as shared, so every weighting applies",
}

impl ArchitectureSpec {
    /// Multiply-adds of one input row's forward pass through the network of shape
    /// `shape` (every expert, tower, group copy, gate and cross-stitch unit it computes).
    pub fn step_cost(&self, shape: &Shape<'_>) -> u128 {
        self.footprint(shape).macs()
    }

    /// Builds the network for a suite with input `input` (a width, or a width and an image
    /// shape) and one output width per task, initialised from `init_seed`. The trunk must
    /// fit the input (`ModelSpec::validate_input`, checked when a study is planned).
    pub fn build<D: Device<f32>>(
        &self,
        dev: &D,
        model: &ModelSpec,
        input: impl Into<InputShape>,
        outputs: &[usize],
        init_seed: u64,
    ) -> Network<D> {
        let input = input.into();
        let trunk = model.trunk.resolve(input).unwrap_or_else(|e| {
            panic!(
                "model.{}: {} (the plan checks the trunk against the suite)",
                e.key(),
                e.message()
            )
        });
        let mut b = Builder {
            dev,
            model,
            input,
            trunk,
            outputs,
            init_seed,
            layers: Vec::new(),
            ops: Vec::new(),
        };
        let Layout {
            shared,
            towers,
            sharing,
        } = self.layout(&mut b);
        Network {
            layers: b.layers,
            ops: b.ops,
            shared,
            towers,
            sharing,
        }
    }
}

/// What a build hands back besides the layers: which are shared, each task's own, and
/// how tasks read the shared part.
pub struct Layout {
    pub shared: Range<usize>,
    pub towers: Vec<Tower>,
    pub sharing: Sharing,
}

/// The layer list under construction, with what every build reads: the model's shape,
/// the suite's input and output widths, and the initialisation seed.
pub struct Builder<'a, D: Device<f32>> {
    dev: &'a D,
    model: &'a ModelSpec,
    input: InputShape,
    /// The trunk's layers with parameters, resolved against the input.
    trunk: Vec<ResolvedLayer>,
    outputs: &'a [usize],
    init_seed: u64,
    layers: Vec<Linear<D>>,
    ops: Vec<LayerOp>,
}

impl<D: Device<f32>> Builder<'_, D> {
    /// Number of tasks.
    pub fn tasks(&self) -> usize {
        self.outputs.len()
    }

    /// Number of trunk layers (with parameters: dense and conv).
    pub fn depth(&self) -> usize {
        self.trunk.len()
    }

    /// The input's width.
    pub fn input_width(&self) -> usize {
        self.input.width
    }

    /// Number of layers pushed so far (the index of the next one).
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether no layer was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Pushes a layer computed by `op`; returns its index.
    pub fn push(&mut self, layer: Linear<D>, op: LayerOp) -> usize {
        self.layers.push(layer);
        self.ops.push(op);
        self.layers.len() - 1
    }

    /// Trunk layers `from..to` (layer l reads the output of layer l − 1, or the input),
    /// drawn from the stream named by `labels` plus the layer index.
    pub fn trunk_part(&mut self, labels: &[&str], from: usize, to: usize) -> Range<usize> {
        let start = self.len();
        for l in from..to {
            let layer = l.to_string();
            let names: Vec<&str> = labels.iter().copied().chain([layer.as_str()]).collect();
            let spec = &self.trunk[l];
            let linear = Linear::init(self.dev, spec.rows, spec.cols, self.init_seed, &names);
            let op = spec.op.clone();
            self.push(linear, op);
        }
        start..self.len()
    }

    /// A whole trunk drawn from the stream `labels`.
    pub fn trunk(&mut self, labels: &[&str]) -> Range<usize> {
        self.trunk_part(labels, 0, self.depth())
    }

    /// The width of the trunk's output after its first `depth` layers.
    pub fn trunk_width(&self, depth: usize) -> usize {
        self.trunk[depth - 1].width
    }

    /// Task `task`'s head reading a representation of width `width`.
    pub fn head_from(&mut self, task: usize, mut width: usize) -> Range<usize> {
        let start = self.len();
        let widths: Vec<usize> = self
            .model
            .head
            .iter()
            .copied()
            .chain(std::iter::once(self.outputs[task]))
            .collect();
        for (l, w) in widths.into_iter().enumerate() {
            let labels = ["head", &task.to_string(), &l.to_string()];
            self.linear(width, w, &labels);
            width = w;
        }
        start..self.len()
    }

    /// Task `task`'s head reading the whole trunk's output.
    pub fn head(&mut self, task: usize) -> Range<usize> {
        let width = self.trunk_width(self.depth());
        self.head_from(task, width)
    }

    /// One head per task reading the shared part directly (no private layers).
    pub fn heads(&mut self) -> Vec<Tower> {
        (0..self.tasks())
            .map(|t| Tower {
                trunk: self.len()..self.len(),
                head: self.head(t),
            })
            .collect()
    }

    /// A dense layer of `inputs` × `outputs` drawn from the stream `labels`.
    pub fn linear(&mut self, inputs: usize, outputs: usize, labels: &[&str]) -> usize {
        let layer = Linear::init(self.dev, inputs, outputs, self.init_seed, labels);
        self.push(layer, LayerOp::Dense)
    }

    /// A dense layer with the given weight and an empty bias (cross-stitch units).
    pub fn weight(&mut self, values: Vec<f32>, shape: (usize, usize)) -> usize {
        let layer = Linear {
            weight: self.dev.tensor_from_vec(values, shape),
            bias: self.dev.tensor_from_vec(Vec::new(), (0,)),
        };
        self.push(layer, LayerOp::Dense)
    }
}

/// One task's own layers: a block before its head (a private trunk, or its own experts
/// and gate), then its head.
#[derive(Debug, Clone, PartialEq)]
pub struct Tower {
    pub trunk: Range<usize>,
    pub head: Range<usize>,
}

/// How tasks read the shared layers.
#[derive(Debug, Clone, PartialEq)]
pub enum Sharing {
    /// The shared layers are one trunk whose output every task reads (empty for
    /// `single_task`).
    Trunk,
    /// Experts read the input; task t's gate (layer `gates[t]`) mixes the shared experts'
    /// outputs and those of its own experts.
    Experts {
        shared_experts: Vec<Range<usize>>,
        task_experts: Vec<Vec<Range<usize>>>,
        gates: Vec<usize>,
    },
    /// Task tree: the `root` layers feed every group's layers (`groups[g]`, computed once
    /// per group); task t reads the output of group `group_of[t]`.
    Groups {
        root: Range<usize>,
        groups: Vec<Range<usize>>,
        group_of: Vec<usize>,
    },
    /// Depth supervision: one trunk; task t reads its output after `levels[t]` layers.
    Levels { levels: Vec<usize> },
    /// One trunk per task (`towers[t]`); after trunk layer l, stitch layer `stitches.start
    /// + l` (a T×T weight) mixes the towers' activations. Task t reads its tower's output.
    CrossStitch {
        stitches: Range<usize>,
        towers: Vec<Range<usize>>,
    },
}

/// Every layer of a model in one flat list (the order the optimizer walks), with the
/// ranges that say which are shared and which belong to each task.
#[derive(Debug, Clone)]
pub struct Network<D: Device<f32>> {
    pub layers: Vec<Linear<D>>,
    /// How each layer computes its output (dense, or a convolution and its pools).
    pub ops: Vec<LayerOp>,
    /// Layers shared by every task, contiguous; empty for `single_task`.
    pub shared: Range<usize>,
    pub towers: Vec<Tower>,
    pub sharing: Sharing,
}
