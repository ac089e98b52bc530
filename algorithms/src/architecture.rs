//! The architecture registry: how parameters are shared between tasks, and the network
//! layout each architecture builds (which layers are shared, which belong to a task, and
//! how a task reads the shared part).

use crate::model::{Linear, ModelSpec};
use crate::AlgorithmsError;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// `single_task`: T independent networks, each the trunk followed by the task's head.
/// The baseline every transfer number is measured against. Every tower's trunk starts from
/// the same initial weights as the shared trunk of `hard_sharing` in the same replicate.
///
/// Paper: the single-task learning (STL) baseline of every MTL paper; LibMTL has no STL
/// baseline (its reference numbers are per-paper constants). No hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SingleTask {}

/// `hard_sharing`: one trunk shared by all tasks, one head per task.
///
/// Paper: Caruana 1997, "Multitask Learning"; LibMTL `architecture.HPS`. No
/// hyper-parameters (widths come from the study's `model`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardSharing {}

/// `mmoe`: `experts` expert networks (each of the trunk's shape) read the input; each task
/// mixes their outputs with its own softmax gate, a linear map of the input, then applies
/// its head. Experts are shared; gates and heads belong to their task.
///
/// Paper: Ma et al. 2018, "Modeling task relationships in multi-task learning with
/// multi-gate mixture-of-experts"; LibMTL `architecture.MMoE`. Hyper-parameters:
/// `experts` 4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mmoe {
    pub experts: usize,
}

impl Default for Mmoe {
    fn default() -> Self {
        Mmoe { experts: 4 }
    }
}

/// `cgc`: customized gate control, the single-level PLE: `shared_experts` experts read by
/// every task plus `task_experts` experts per task; task t's gate mixes the shared experts
/// and its own.
///
/// Paper: Tang et al. 2020, "Progressive layered extraction (PLE)"; LibMTL
/// `architecture.CGC`. Hyper-parameters: `shared_experts` 2, `task_experts` 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cgc {
    pub shared_experts: usize,
    pub task_experts: usize,
}

impl Default for Cgc {
    fn default() -> Self {
        Cgc {
            shared_experts: 2,
            task_experts: 1,
        }
    }
}

/// `cross_stitch`: one tower per task (trunk of the study's shape); after every trunk
/// layer, task t's activation becomes Σₛ αₜₛ hₛ with a learnable T×T matrix α per layer,
/// initialised to 0.9 on the diagonal and 0.1/(T−1) elsewhere (the paper's (0.9, 0.1) for
/// two tasks, rows summing to 1). The towers and the α are shared parameters (every task's
/// loss reaches them); the heads are task-specific.
///
/// Paper: Misra et al. 2016, "Cross-stitch networks for multi-task learning"; LibMTL
/// `architecture.Cross_stitch`. No hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossStitch {}

/// How `soft_sharing` measures the distance between the task towers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SoftPenalty {
    /// λ Σᵢ ‖θᵢ − θ̄‖², θ̄ the towers' mean.
    #[default]
    Mean,
    /// λ Σ_{i<j} ‖θᵢ − θⱼ‖² (Duong et al. 2015; MMoE's "L2-Constrained" baseline).
    Pairwise,
}

/// `soft_sharing`: one tower per task (trunk + head, as `single_task`, from the same
/// initial weights), trained jointly with L = Σᵢ Lᵢ(θᵢ) + λ·penalty over the corresponding
/// trunk layers of the towers. The penalty's gradient is exact: for `mean`,
/// ∂/∂θᵢ Σₖ‖θₖ − θ̄‖² = 2(θᵢ − θ̄) (the terms through θ̄ cancel, since Σₖ(θₖ − θ̄) = 0, so
/// treating θ̄ as a constant gives the same gradient); for `pairwise`, 2T(θᵢ − θ̄). It is
/// added to the task gradients before the optimizer step. Nothing is shared, so only
/// loss-level weightings apply.
///
/// Paper: Duong et al. 2015, "Low resource dependency parsing: cross-lingual parameter
/// sharing in a neural network parser"; FORMULAS.md b.5. Hyper-parameters: `lambda` 0.01,
/// `penalty` mean | pairwise (mean).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SoftSharing {
    pub lambda: f64,
    pub penalty: SoftPenalty,
}

impl Default for SoftSharing {
    fn default() -> Self {
        SoftSharing {
            lambda: 0.01,
            penalty: SoftPenalty::Mean,
        }
    }
}

/// `hierarchical`: tasks organised as a hierarchy, in one of two forms.
///
/// - Task tree (`groups`): the first `root_depth` trunk layers are shared by all tasks;
///   each group gets its own copy of the remaining trunk layers, computed once for its
///   tasks; then the task heads. Every copy starts from the trunk's initial weights, so one
///   group holding every task is `hard_sharing` and singleton groups with `root_depth: 0`
///   are `single_task`.
/// - Depth supervision (`levels`): one trunk; task t's head reads the trunk's output after
///   `levels[t]` layers (lower-level tasks lower), so the trunk has max(levels) layers.
///
/// All trunk layers count as shared parameters (a task outside a group has a zero
/// gradient there), so every weighting applies.
///
/// Paper: Søgaard & Goldberg 2016, "Deep multi-task learning with low level tasks
/// supervised at lower layers" (depth supervision); Hashimoto et al. 2017 (JMT). The task
/// tree is the group form of tree-structured sharing. FORMULAS.md b.5 marks the details
/// [unverified]; JMT's successive regularisation is not implemented. Hyper-parameters:
/// `groups` (lists of task indices covering every task once) with `root_depth` (1), or
/// `levels` (one depth ≥ 1 per task), not both; `root_depth` belongs to `groups`. With
/// neither (the default), every task is in one group: `hard_sharing`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Hierarchical {
    pub groups: Option<Vec<Vec<usize>>>,
    /// `None` when the study does not give it (then 1); written as its value, so the
    /// record's hyper-parameters do not depend on whether it was given.
    #[serde(serialize_with = "serialize_root_depth")]
    pub root_depth: Option<usize>,
    pub levels: Option<Vec<usize>>,
}

impl Hierarchical {
    /// The shared root's depth of the task tree (default 1).
    pub fn root_depth(&self) -> usize {
        self.root_depth.unwrap_or(1)
    }
}

fn serialize_root_depth<S: serde::Serializer>(
    root_depth: &Option<usize>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(root_depth.unwrap_or(1) as u64)
}

mtlbench_tasks::registry! {
    /// How an algorithm shares parameters between tasks.
    pub enum ArchitectureSpec {
        SingleTask(SingleTask) = "single_task":
            "T independent networks (trunk + head per task): the single-task baseline",
        HardSharing(HardSharing) = "hard_sharing":
            "one shared trunk, one head per task (Caruana 1997; LibMTL HPS)",
        Mmoe(Mmoe) = "mmoe":
            "shared experts mixed by a softmax gate per task (Ma et al. 2018; LibMTL MMoE)",
        Cgc(Cgc) = "cgc":
            "shared and task-specific experts, one gate per task (Tang et al. 2020; LibMTL CGC)",
        CrossStitch(CrossStitch) = "cross_stitch":
            "one tower per task, mixed after every layer by learnable cross-stitch units (Misra et al. 2016)",
        SoftSharing(SoftSharing) = "soft_sharing":
            "one tower per task, an L2 penalty pulls corresponding trunk layers together (Duong et al. 2015)",
        Hierarchical(Hierarchical) = "hierarchical":
            "task tree (groups share layers above a common root) or depth supervision (levels) (Søgaard & Goldberg 2016)",
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
    /// Layers shared by every task, contiguous; empty for `single_task`.
    pub shared: Range<usize>,
    pub towers: Vec<Tower>,
    pub sharing: Sharing,
}

type T2<D, T> = Tensor<(usize, usize), f32, D, T>;

/// What the shared part hands to each task: the trunk's output, or the input followed by
/// the shared experts' outputs.
pub struct SharedRep<D: Device<f32>, T> {
    pub parts: Vec<T2<D, T>>,
}

impl<D: Device<f32>, T: Tape<f32, D> + Default> SharedRep<D, T> {
    /// A copy for one more task branch: the same values with an empty tape, so that the
    /// shared ops are recorded once (on the branch that takes the original) and every
    /// branch's gradient still reaches them when the losses are summed.
    pub fn branch(&self) -> Self {
        SharedRep {
            parts: self.parts.iter().map(|p| p.with_empty_tape()).collect(),
        }
    }
}

impl ArchitectureSpec {
    pub fn validate(&self) -> Result<(), AlgorithmsError> {
        match self {
            ArchitectureSpec::Mmoe(m) if m.experts == 0 => {
                Err(AlgorithmsError::invalid("experts", "must be at least 1"))
            }
            ArchitectureSpec::Cgc(c) if c.shared_experts + c.task_experts == 0 => Err(
                AlgorithmsError::invalid("shared_experts", "at least one expert is needed"),
            ),
            ArchitectureSpec::SoftSharing(s) if !(s.lambda >= 0.0 && s.lambda.is_finite()) => {
                Err(AlgorithmsError::invalid("lambda", "must be finite and ≥ 0"))
            }
            ArchitectureSpec::Hierarchical(h) if h.groups.is_some() && h.levels.is_some() => {
                Err(AlgorithmsError::invalid(
                    "groups",
                    "give either `groups` (task tree) or `levels` (depth supervision), not both",
                ))
            }
            ArchitectureSpec::Hierarchical(h) if h.levels.is_some() && h.root_depth.is_some() => {
                Err(AlgorithmsError::invalid(
                    "root_depth",
                    "belongs to the task tree (`groups`); with `levels` each task's depth is \
                     its level",
                ))
            }
            _ => Ok(()),
        }
    }

    /// Checks what depends on the suite's task count and the trunk's depth.
    pub fn validate_for(&self, tasks: usize, depth: usize) -> Result<(), AlgorithmsError> {
        let ArchitectureSpec::Hierarchical(h) = self else {
            return Ok(());
        };
        if let Some(groups) = &h.groups {
            let mut seen = vec![0usize; tasks];
            for t in groups.iter().flatten() {
                if *t >= tasks {
                    return Err(AlgorithmsError::invalid(
                        "groups",
                        format!("task {t} does not exist: the suite has {tasks} tasks"),
                    ));
                }
                seen[*t] += 1;
            }
            if let Some(t) = seen.iter().position(|c| *c != 1) {
                return Err(AlgorithmsError::invalid(
                    "groups",
                    format!("task {t} must be in exactly one group"),
                ));
            }
            if groups.iter().any(Vec::is_empty) {
                return Err(AlgorithmsError::invalid("groups", "a group is empty"));
            }
            if h.root_depth() > depth {
                return Err(AlgorithmsError::invalid(
                    "root_depth",
                    format!("{} exceeds the trunk's {depth} layers", h.root_depth()),
                ));
            }
        }
        if let Some(levels) = &h.levels {
            if levels.len() != tasks {
                return Err(AlgorithmsError::invalid(
                    "levels",
                    format!("{} levels for {tasks} tasks", levels.len()),
                ));
            }
            if let Some(l) = levels.iter().find(|l| **l == 0 || **l > depth) {
                return Err(AlgorithmsError::invalid(
                    "levels",
                    format!("level {l} is not in 1..={depth} (the trunk's layers)"),
                ));
            }
        }
        Ok(())
    }

    /// Whether the architecture has parameters shared between tasks (gradient-level
    /// weightings need them).
    pub fn has_shared_parameters(&self) -> bool {
        !matches!(
            self,
            ArchitectureSpec::SingleTask(_) | ArchitectureSpec::SoftSharing(_)
        )
    }

    /// Builds the network for a suite with input width `inputs` and one output width per
    /// task, initialised from `init_seed`.
    pub fn build<D: Device<f32>>(
        &self,
        dev: &D,
        model: &ModelSpec,
        inputs: usize,
        outputs: &[usize],
        init_seed: u64,
    ) -> Network<D> {
        let tasks = outputs.len();
        let mut layers = Vec::new();
        // An MLP of the trunk's shape, its layers drawn from the stream named by `labels`
        // plus the layer index.
        // Trunk layers `from..to` (layer l reads width trunk[l − 1], or the input).
        let push_trunk_part = |layers: &mut Vec<Linear<D>>,
                               labels: &[&str],
                               from: usize,
                               to: usize|
         -> Range<usize> {
            let start = layers.len();
            for l in from..to {
                let width = if l == 0 { inputs } else { model.trunk[l - 1] };
                let layer = l.to_string();
                let names: Vec<&str> = labels.iter().copied().chain([layer.as_str()]).collect();
                layers.push(Linear::init(dev, width, model.trunk[l], init_seed, &names));
            }
            start..layers.len()
        };
        let push_trunk = |layers: &mut Vec<Linear<D>>, labels: &[&str]| -> Range<usize> {
            push_trunk_part(layers, labels, 0, model.trunk.len())
        };
        let trunk_out = *model.trunk.last().expect("validated: trunk is not empty");
        // Task `task`'s head reading a representation of width `width`.
        let push_head_from =
            |layers: &mut Vec<Linear<D>>, task: usize, mut width: usize| -> Range<usize> {
                let start = layers.len();
                let widths = model.head.iter().chain(std::iter::once(&outputs[task]));
                for (l, &w) in widths.enumerate() {
                    let labels = ["head", &task.to_string(), &l.to_string()];
                    layers.push(Linear::init(dev, width, w, init_seed, &labels));
                    width = w;
                }
                start..layers.len()
            };
        let push_head =
            |layers: &mut Vec<Linear<D>>, task: usize| push_head_from(layers, task, trunk_out);
        // One head per task reading the shared part directly (no private layers).
        let push_heads = |layers: &mut Vec<Linear<D>>| -> Vec<Tower> {
            (0..tasks)
                .map(|t| Tower {
                    trunk: layers.len()..layers.len(),
                    head: push_head(layers, t),
                })
                .collect()
        };
        match self {
            ArchitectureSpec::HardSharing(_) => {
                let shared = push_trunk(&mut layers, &["trunk"]);
                let towers = push_heads(&mut layers);
                Network {
                    layers,
                    shared,
                    towers,
                    sharing: Sharing::Trunk,
                }
            }
            ArchitectureSpec::Hierarchical(h) => match (&h.groups, &h.levels) {
                (Some(groups), _) => {
                    let depth = model.trunk.len();
                    let root = push_trunk_part(&mut layers, &["trunk"], 0, h.root_depth());
                    let group_ranges: Vec<Range<usize>> = groups
                        .iter()
                        .map(|_| push_trunk_part(&mut layers, &["trunk"], h.root_depth(), depth))
                        .collect();
                    let shared = root.start..layers.len();
                    let mut group_of = vec![0; tasks];
                    for (g, members) in groups.iter().enumerate() {
                        for &t in members {
                            group_of[t] = g;
                        }
                    }
                    let towers = push_heads(&mut layers);
                    Network {
                        layers,
                        shared,
                        towers,
                        sharing: Sharing::Groups {
                            root,
                            groups: group_ranges,
                            group_of,
                        },
                    }
                }
                (None, levels) => {
                    let levels = levels
                        .clone()
                        .unwrap_or_else(|| vec![model.trunk.len(); tasks]);
                    let top = *levels.iter().max().unwrap_or(&1);
                    let shared = push_trunk_part(&mut layers, &["trunk"], 0, top);
                    let towers = (0..tasks)
                        .map(|t| Tower {
                            trunk: layers.len()..layers.len(),
                            head: push_head_from(&mut layers, t, model.trunk[levels[t] - 1]),
                        })
                        .collect();
                    Network {
                        layers,
                        shared,
                        towers,
                        sharing: Sharing::Levels { levels },
                    }
                }
            },
            ArchitectureSpec::SingleTask(_) | ArchitectureSpec::SoftSharing(_) => {
                let towers = (0..tasks)
                    .map(|t| {
                        let trunk = push_trunk(&mut layers, &["trunk"]);
                        Tower {
                            trunk,
                            head: push_head(&mut layers, t),
                        }
                    })
                    .collect();
                Network {
                    layers,
                    shared: 0..0,
                    towers,
                    sharing: Sharing::Trunk,
                }
            }
            ArchitectureSpec::CrossStitch(_) => {
                let depth = model.trunk.len();
                let start = layers.len();
                for _ in 0..depth {
                    let off = if tasks > 1 {
                        0.1 / (tasks - 1) as f32
                    } else {
                        0.0
                    };
                    let alpha: Vec<f32> = (0..tasks * tasks)
                        .map(|k| if k / tasks == k % tasks { 0.9 } else { off })
                        .collect();
                    layers.push(Linear {
                        weight: dev.tensor_from_vec(alpha, (tasks, tasks)),
                        bias: dev.tensor_from_vec(Vec::new(), (0,)),
                    });
                }
                let stitches = start..layers.len();
                let trunks: Vec<Range<usize>> = (0..tasks)
                    .map(|_| push_trunk(&mut layers, &["trunk"]))
                    .collect();
                let shared = start..layers.len();
                let towers = push_heads(&mut layers);
                Network {
                    layers,
                    shared,
                    towers,
                    sharing: Sharing::CrossStitch {
                        stitches,
                        towers: trunks,
                    },
                }
            }
            ArchitectureSpec::Mmoe(_) | ArchitectureSpec::Cgc(_) => {
                let (n_shared, n_own) = match self {
                    ArchitectureSpec::Mmoe(m) => (m.experts, 0),
                    ArchitectureSpec::Cgc(c) => (c.shared_experts, c.task_experts),
                    _ => unreachable!("expert architectures only"),
                };
                // Shared expert 0 starts from the trunk's weights (as hard_sharing's trunk
                // and single_task's towers do): paired comparisons, and one expert
                // reproduces hard_sharing exactly.
                let shared_experts: Vec<Range<usize>> = (0..n_shared)
                    .map(|e| match e {
                        0 => push_trunk(&mut layers, &["trunk"]),
                        _ => push_trunk(&mut layers, &["expert", &e.to_string()]),
                    })
                    .collect();
                let shared = shared_experts.first().map_or(0, |r| r.start)..layers.len();
                let mut task_experts = Vec::with_capacity(tasks);
                let mut gates = Vec::with_capacity(tasks);
                let mut towers = Vec::with_capacity(tasks);
                for t in 0..tasks {
                    let start = layers.len();
                    let own: Vec<Range<usize>> = (0..n_own)
                        .map(|e| {
                            push_trunk(
                                &mut layers,
                                &["task-expert", &t.to_string(), &e.to_string()],
                            )
                        })
                        .collect();
                    let labels = ["gate", &t.to_string()];
                    layers.push(Linear::init(
                        dev,
                        inputs,
                        n_shared + n_own,
                        init_seed,
                        &labels,
                    ));
                    gates.push(layers.len() - 1);
                    task_experts.push(own);
                    let trunk = start..layers.len();
                    towers.push(Tower {
                        trunk,
                        head: push_head(&mut layers, t),
                    });
                }
                Network {
                    layers,
                    shared,
                    towers,
                    sharing: Sharing::Experts {
                        shared_experts,
                        task_experts,
                        gates,
                    },
                }
            }
        }
    }
}

impl<D: Device<f32>> Network<D> {
    /// Applies `layers[range]` in order, ReLU after each one, and after the last one too
    /// when `relu_last`.
    pub fn apply<T: Tape<f32, D>>(
        &self,
        range: Range<usize>,
        mut x: T2<D, T>,
        relu_last: bool,
    ) -> T2<D, T> {
        let last = range.end;
        for i in range {
            x = self.layers[i].forward(x);
            if i + 1 < last || relu_last {
                x = x.relu();
            }
        }
        x
    }

    /// The shared part's output for input `x`.
    pub fn shared_output<T: Tape<f32, D> + Default>(&self, x: T2<D, T>) -> SharedRep<D, T> {
        match &self.sharing {
            Sharing::Trunk => SharedRep {
                parts: vec![self.apply(self.shared.clone(), x, true)],
            },
            Sharing::Experts { shared_experts, .. } => {
                // The input feeds every gate (parts[0]) and every shared expert.
                let mut inputs = uses(x, shared_experts.len() + 1).into_iter();
                let mut parts = vec![inputs.next().expect("one handle for the gates")];
                for (range, input) in shared_experts.iter().zip(inputs) {
                    parts.push(self.apply(range.clone(), input, true));
                }
                SharedRep { parts }
            }
            Sharing::Groups { root, groups, .. } => {
                let z = self.apply(root.clone(), x, true);
                let parts = uses(z, groups.len())
                    .into_iter()
                    .zip(groups)
                    .map(|(z, range)| self.apply(range.clone(), z, true))
                    .collect();
                SharedRep { parts }
            }
            Sharing::Levels { .. } => {
                // Every layer's output: a copy on an empty tape for the tasks that read it,
                // the original (with the tape) going on to the next layer.
                let mut parts = Vec::with_capacity(self.shared.len());
                let mut h = x;
                for i in self.shared.clone() {
                    h = self.layers[i].forward(h).relu();
                    if i + 1 < self.shared.end {
                        parts.push(h.with_empty_tape());
                    }
                }
                parts.push(h);
                SharedRep { parts }
            }
            Sharing::CrossStitch { stitches, towers } => {
                let mut hs = uses(x, towers.len());
                for l in 0..stitches.len() {
                    hs = hs
                        .into_iter()
                        .zip(towers)
                        .map(|(h, tower)| self.layers[tower.start + l].forward(h).relu())
                        .collect();
                    hs = stitch(&self.layers[stitches.start + l].weight, hs);
                }
                SharedRep { parts: hs }
            }
        }
    }

    /// Task `task`'s output from the shared part's output.
    pub fn task_output<T: Tape<f32, D> + Default>(
        &self,
        task: usize,
        rep: SharedRep<D, T>,
    ) -> T2<D, T> {
        let tower = &self.towers[task];
        let z = match &self.sharing {
            Sharing::Trunk => {
                let z = rep.parts.into_iter().next().expect("a trunk output");
                self.apply(tower.trunk.clone(), z, true)
            }
            Sharing::CrossStitch { .. } => read_part(rep.parts, task),
            Sharing::Groups { group_of, .. } => read_part(rep.parts, group_of[task]),
            Sharing::Levels { levels } => read_part(rep.parts, levels[task] - 1),
            Sharing::Experts {
                task_experts,
                gates,
                ..
            } => {
                let mut parts = rep.parts.into_iter();
                let x = parts.next().expect("the input");
                let mut outputs: Vec<T2<D, T>> = parts.collect();
                for range in &task_experts[task] {
                    outputs.push(self.apply(range.clone(), x.with_empty_tape(), true));
                }
                let gate = self.layers[gates[task]].forward(x);
                mix(gate.softmax::<Axis<1>>(), outputs)
            }
        };
        self.apply(tower.head.clone(), z, false)
    }

    /// Multiply-adds per input row in the shared layers.
    pub fn shared_macs(&self) -> usize {
        self.layers[self.shared.clone()]
            .iter()
            .map(Linear::macs)
            .sum()
    }

    /// Number of scalars in the whole model.
    pub fn numel(&self) -> usize {
        self.layers.iter().map(Linear::numel).sum()
    }

    /// The layer indices that belong to task `task` alone.
    pub fn task_layers(&self, task: usize) -> impl Iterator<Item = usize> {
        let tower = &self.towers[task];
        tower.trunk.clone().chain(tower.head.clone())
    }
}

/// Part `k` of a shared representation with the tapes of the other parts merged in: the
/// ops behind them are recorded on their tapes, and no gradient path may be dropped.
fn read_part<D: Device<f32>, T: Tape<f32, D> + Default>(
    mut parts: Vec<T2<D, T>>,
    k: usize,
) -> T2<D, T> {
    let (value, mut tape) = parts.swap_remove(k).split_tape();
    for other in parts {
        tape = tape.merge(other.split_tape().1);
    }
    value.put_tape(tape)
}

/// `n` handles on `x` for `n` uses: the first n − 1 read it through an empty tape and the
/// last takes the original with its tape, so the ops behind `x` are recorded once and every
/// use's gradient still reaches them once the tapes merge.
fn uses<D: Device<f32>, T: Tape<f32, D> + Default>(x: T2<D, T>, n: usize) -> Vec<T2<D, T>> {
    let mut handles: Vec<T2<D, T>> = (1..n).map(|_| x.with_empty_tape()).collect();
    handles.push(x);
    handles
}

/// The cross-stitch mix: output t = Σₛ α[t][s]·hₛ (each hₛ feeds T outputs).
fn stitch<D: Device<f32>, T: Tape<f32, D> + Default>(
    alpha: &Tensor<(usize, usize), f32, D>,
    hs: Vec<T2<D, T>>,
) -> Vec<T2<D, T>> {
    let tasks = hs.len();
    let (n, width) = *hs[0].shape();
    let mut handles: Vec<Vec<Option<T2<D, T>>>> = hs
        .into_iter()
        .map(|h| uses(h, tasks).into_iter().map(Some).collect())
        .collect();
    (0..tasks)
        .map(|t| {
            let mut total: Option<T2<D, T>> = None;
            for (s, copies) in handles.iter_mut().enumerate() {
                let h = copies[t].take().expect("each copy used once");
                // α joins the tape here (slicing gives a new tensor, so without a tape
                // the gradient would stop at the slice).
                let coefficient = alpha
                    .retaped::<T>()
                    .slice((t..t + 1, s..s + 1))
                    .reshape_like(&())
                    .broadcast_like(&(n, width));
                let term = h * coefficient;
                total = Some(match total {
                    None => term,
                    Some(sum) => sum + term,
                });
            }
            total.expect("at least one task")
        })
        .collect()
}

/// Σₖ probs[:, k] ⊙ outputs[k]: each row's mixture of the expert outputs.
fn mix<D: Device<f32>, T: Tape<f32, D> + Default>(
    probs: T2<D, T>,
    outputs: Vec<T2<D, T>>,
) -> T2<D, T> {
    let n = probs.shape().0;
    let handles = uses(probs, outputs.len());
    let mut total: Option<T2<D, T>> = None;
    for (k, (out, p)) in outputs.into_iter().zip(handles).enumerate() {
        let width = out.shape().1;
        let column = p
            .slice((.., k..k + 1))
            .reshape_like(&(n,))
            .broadcast_like::<_, Axis<1>>(&(n, width));
        let term = column * out;
        total = Some(match total {
            None => term,
            Some(sum) => sum + term,
        });
    }
    total.expect("at least one expert")
}
