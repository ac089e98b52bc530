//! The forward pass of a `Network`: the shared part's output for a batch (`SharedRep`),
//! each task's output from it, and the wirings between them (expert mixtures,
//! cross-stitch units, the tape bookkeeping of a representation read by several tasks).

use super::{Network, Sharing};
use crate::model::Linear;
use crate::trunk::LayerOp;
use dfdx::prelude::*;
use std::ops::Range;

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

impl<D: Device<f32>> Network<D> {
    /// Layer `i`'s output for input `x` (before its ReLU): x·W + b, or its convolution
    /// followed by its max-pools.
    pub fn forward_layer<T: Tape<f32, D>>(&self, i: usize, x: T2<D, T>) -> T2<D, T> {
        let layer = &self.layers[i];
        match &self.ops[i] {
            LayerOp::Dense => layer.forward(x),
            LayerOp::Conv {
                conv,
                pools,
                reads_input,
            } => conv.forward_pooled(x, &layer.weight, &layer.bias, pools, !reads_input),
        }
    }

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
            x = self.forward_layer(i, x);
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
                    h = self.forward_layer(i, h).relu();
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
                        .map(|(h, tower)| self.forward_layer(tower.start + l, h).relu())
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

    /// Multiply-adds per input row in the shared layers (a convolution's weight counts
    /// once per output pixel).
    pub fn shared_macs(&self) -> usize {
        self.shared
            .clone()
            .map(|i| {
                let pixels = match &self.ops[i] {
                    LayerOp::Dense => 1,
                    LayerOp::Conv { conv, .. } => {
                        let out = conv.output();
                        out.height * out.width
                    }
                };
                pixels * self.layers[i].macs()
            })
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
