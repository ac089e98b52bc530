//! The architecture registry: how parameters are shared between tasks, and the network
//! layout each architecture builds (which layers are shared, which belong to a task).

use crate::model::{Linear, ModelSpec};
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

mtlbench_tasks::registry! {
    /// How an algorithm shares parameters between tasks.
    pub enum ArchitectureSpec {
        SingleTask(SingleTask) = "single_task":
            "T independent networks (trunk + head per task): the single-task baseline",
        HardSharing(HardSharing) = "hard_sharing":
            "one shared trunk, one head per task (Caruana 1997; LibMTL HPS)",
    }
}

/// One task's own layers: an optional private trunk, then its head.
#[derive(Debug, Clone, PartialEq)]
pub struct Tower {
    pub trunk: Range<usize>,
    pub head: Range<usize>,
}

/// Every layer of a model in one flat list (the order the optimizer walks), with the
/// ranges that say which are shared and which belong to each task.
#[derive(Debug, Clone)]
pub struct Network<D: Device<f32>> {
    pub layers: Vec<Linear<D>>,
    /// Layers shared by every task (the shared trunk); empty for `single_task`.
    pub shared: Range<usize>,
    pub towers: Vec<Tower>,
}

impl ArchitectureSpec {
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
        let mut layers = Vec::new();
        let push_trunk = |layers: &mut Vec<Linear<D>>| -> Range<usize> {
            let start = layers.len();
            let mut width = inputs;
            for (l, &w) in model.trunk.iter().enumerate() {
                layers.push(Linear::init(
                    dev,
                    width,
                    w,
                    init_seed,
                    &["trunk", &l.to_string()],
                ));
                width = w;
            }
            start..layers.len()
        };
        let trunk_out = *model.trunk.last().expect("validated: trunk is not empty");
        let push_head = |layers: &mut Vec<Linear<D>>, task: usize| -> Range<usize> {
            let start = layers.len();
            let mut width = trunk_out;
            let widths = model.head.iter().chain(std::iter::once(&outputs[task]));
            for (l, &w) in widths.enumerate() {
                let labels = ["head", &task.to_string(), &l.to_string()];
                layers.push(Linear::init(dev, width, w, init_seed, &labels));
                width = w;
            }
            start..layers.len()
        };
        match self {
            ArchitectureSpec::HardSharing(_) => {
                let shared = push_trunk(&mut layers);
                let towers = (0..outputs.len())
                    .map(|t| Tower {
                        trunk: layers.len()..layers.len(),
                        head: push_head(&mut layers, t),
                    })
                    .collect();
                Network {
                    layers,
                    shared,
                    towers,
                }
            }
            ArchitectureSpec::SingleTask(_) => {
                let towers = (0..outputs.len())
                    .map(|t| {
                        let trunk = push_trunk(&mut layers);
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
        mut x: Tensor<(usize, usize), f32, D, T>,
        relu_last: bool,
    ) -> Tensor<(usize, usize), f32, D, T> {
        let last = range.end;
        for i in range {
            x = self.layers[i].forward(x);
            if i + 1 < last || relu_last {
                x = x.relu();
            }
        }
        x
    }

    /// Task `task`'s output from the shared representation `z` (the input itself when
    /// nothing is shared).
    pub fn task_output<T: Tape<f32, D>>(
        &self,
        task: usize,
        z: Tensor<(usize, usize), f32, D, T>,
    ) -> Tensor<(usize, usize), f32, D, T> {
        let tower = &self.towers[task];
        let z = self.apply(tower.trunk.clone(), z, true);
        self.apply(tower.head.clone(), z, false)
    }

    /// The shared representation of `x` (x itself when nothing is shared).
    pub fn shared_output<T: Tape<f32, D>>(
        &self,
        x: Tensor<(usize, usize), f32, D, T>,
    ) -> Tensor<(usize, usize), f32, D, T> {
        self.apply(self.shared.clone(), x, true)
    }

    /// Number of scalars in the shared layers.
    pub fn shared_numel(&self) -> usize {
        self.layers[self.shared.clone()]
            .iter()
            .map(Linear::numel)
            .sum()
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
