//! One training step's gradients: the loss-weighted path (one forward of the shared
//! trunk, one backward of Σ wᵢLᵢ), the per-task path (a forward+backward per task, giving
//! the task gradients of the shared parameters as one [T, P] tensor on the device) and the
//! representation path, plus the write-back of a combined shared direction.

use crate::architecture::{Network, SharedRep};
use crate::jacobian::{Direction, Jacobian};
use crate::model::{Linear, Tensor2};
use dfdx::prelude::*;
use mtlbench_tasks::TaskKind;

/// A batch on the device: inputs and one target matrix per task (one-hot rows for
/// classification tasks), and which rows carry each task's label when some do not.
pub struct Batch<D: Device<f32>> {
    pub x: Tensor2<D>,
    pub targets: Vec<Tensor2<D>>,
    /// Per task, its labelled rows when some row of the batch has no label
    /// (`missing_labels`); `None` (or an empty list) when every row has one.
    pub labels: Vec<Option<LabelMask<D>>>,
}

/// The rows of a batch that carry a task's label (docs/FORMULAS.md#missing-labels).
#[derive(Clone)]
pub struct LabelMask<D: Device<f32>> {
    /// 1 on a labelled row, 0 on the others, as wide as the task's output (n × width).
    pub rows: Tensor2<D>,
    /// The labelled rows.
    pub count: usize,
}

impl<D: Device<f32>> Batch<D> {
    /// Task `t`'s labelled rows, when some row has no label.
    pub fn mask(&self, t: usize) -> Option<&LabelMask<D>> {
        self.labels.get(t).and_then(Option::as_ref)
    }

    /// How many rows carry task `t`'s label.
    pub fn labelled(&self, t: usize) -> usize {
        self.mask(t).map_or(self.x.shape().0, |m| m.count)
    }

    /// Which tasks have a label in this batch, when one has none (`None`: every task has
    /// one, and the step takes the path of a fully labelled batch).
    pub fn present(&self) -> Option<Vec<bool>> {
        let present: Vec<bool> = (0..self.targets.len())
            .map(|t| self.labelled(t) > 0)
            .collect();
        present.contains(&false).then_some(present)
    }

    /// Task `t`'s loss of `pred`: `task_loss` over the labelled rows only. Unlabelled rows
    /// are multiplied by 0 in the prediction and the target, so that they add nothing to the
    /// sum nor to the gradient, and the mean over all rows is rescaled to one over the
    /// labelled rows (n / count); a task without a label in the batch has loss 0 and a zero
    /// gradient. Without a mask, exactly `task_loss`.
    pub fn loss<T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        t: usize,
        kind: TaskKind,
        pred: Tensor<(usize, usize), f32, D, T>,
    ) -> Tensor<(), f32, D, T> {
        let target = self.targets[t].clone();
        match self.mask(t) {
            None => task_loss(kind, pred, target),
            Some(mask) => {
                let n = pred.shape().0;
                let scale = if mask.count == 0 {
                    0.0
                } else {
                    n as f32 / mask.count as f32
                };
                task_loss(kind, pred * mask.rows.clone(), target * mask.rows.clone()) * scale
            }
        }
    }
}

/// Task `kind`'s loss of `pred` against `target`: mean squared error over all entries
/// for regression, mean softmax cross-entropy over rows for classification.
pub fn task_loss<D: Device<f32>, T: Tape<f32, D>>(
    kind: TaskKind,
    pred: Tensor<(usize, usize), f32, D, T>,
    target: Tensor2<D>,
) -> Tensor<(), f32, D, T> {
    match kind {
        TaskKind::Regression { .. } => (pred - target).square().mean(),
        TaskKind::Classification { .. } => cross_entropy_with_logits_loss(pred, target),
    }
}

/// The gradient of parameter `t`; zeros for a parameter that took no part in the loss
/// (such as the empty bias of a cross-stitch unit).
pub(crate) fn gradient_of<S: Shape, D: Device<f32>>(
    gradients: &mut Gradients<f32, D>,
    t: &Tensor<S, f32, D>,
) -> Tensor<S, f32, D> {
    gradients
        .get_or_alloc_mut(t)
        .expect("allocating a zero gradient");
    gradients.get(t)
}

/// The gradients of `layers` (weight and bias each), in order.
pub(crate) fn layer_gradients<'a, D: Device<f32>>(
    gradients: &mut Gradients<f32, D>,
    layers: impl Iterator<Item = &'a Linear<D>>,
) -> Vec<Linear<D>> {
    layers
        .map(|l| Linear {
            weight: gradient_of(gradients, &l.weight),
            bias: gradient_of(gradients, &l.bias),
        })
        .collect()
}

/// Gradients of every layer and the task losses of one step.
pub struct StepGradients<D: Device<f32>> {
    pub grads: Vec<Linear<D>>,
    pub losses: Vec<f32>,
}

/// Gradients of Σᵢ wᵢLᵢ for every layer, by one forward of the shared trunk and one
/// backward: every task branch but the last reads the shared output through
/// `with_empty_tape`, and summing the losses merges the tapes. The weights come from
/// `weights_of(losses)` once the losses are known, and are held constant.
pub fn weighted_loss_gradients<D: Device<f32>>(
    net: &Network<D>,
    kinds: &[TaskKind],
    batch: &Batch<D>,
    weights_of: impl FnOnce(&[f32]) -> Vec<f32>,
) -> StepGradients<D> {
    let tasks = kinds.len();
    let shared = net.shared_output(batch.x.clone().traced(Gradients::leaky()));
    let mut shared = Some(shared);
    let mut values = Vec::with_capacity(tasks);
    let mut taped = Vec::with_capacity(tasks);
    for t in 0..tasks {
        let z = if t + 1 < tasks {
            shared.as_ref().expect("kept until the last task").branch()
        } else {
            shared.take().expect("taken once")
        };
        let loss = batch.loss(t, kinds[t], net.task_output(t, z));
        values.push(loss.as_vec()[0]);
        taped.push(loss);
    }
    let weights = weights_of(&values);
    let total = taped
        .into_iter()
        .zip(weights)
        .map(|(loss, w)| loss * w)
        .reduce(|sum, weighted| sum + weighted)
        .expect("at least one task");
    let mut gradients = total.backward();
    let grads = layer_gradients(&mut gradients, net.layers.iter());
    StepGradients {
        grads,
        losses: values,
    }
}

/// Each task's gradients, from one forward+backward per task.
pub struct TaskGradients<D: Device<f32>> {
    pub losses: Vec<f32>,
    /// G: the rows gᵢ = ∇_{θ_s} Lᵢ on the device (columns layer by layer, weight then
    /// bias).
    pub jacobian: Jacobian<D>,
    /// Task i's gradients of its own layers, in `Network::task_layers` order.
    pub own: Vec<Vec<Linear<D>>>,
}

/// Per-task gradients of the shared parameters (as G on the device) and of each task's own
/// layers. The shared trunk runs forward once per task: a dfdx tape is consumed by its
/// backward, and on the CPU this measured faster than one batched pass over T copies of
/// the shared weights (`/work/shared/cuda.md`: 18.0 against 29.2 ms on W1).
pub fn per_task_gradients<D: Device<f32>>(
    net: &Network<D>,
    kinds: &[TaskKind],
    batch: &Batch<D>,
) -> TaskGradients<D> {
    let tasks = kinds.len();
    let mut losses = Vec::with_capacity(tasks);
    let mut shared = Vec::with_capacity(tasks);
    let mut own = Vec::with_capacity(tasks);
    for t in 0..tasks {
        let z = net.shared_output(batch.x.clone().traced(Gradients::leaky()));
        let loss = batch.loss(t, kinds[t], net.task_output(t, z));
        losses.push(loss.as_vec()[0]);
        let mut gradients = loss.backward();
        shared.push(layer_gradients(
            &mut gradients,
            net.layers[net.shared.clone()].iter(),
        ));
        own.push(layer_gradients(
            &mut gradients,
            net.task_layers(t).map(|i| &net.layers[i]),
        ));
    }
    TaskGradients {
        losses,
        jacobian: Jacobian::from_layers(&shared),
        own,
    }
}

/// The shared layers' gradients of direction `d` (G's column blocks), each block reshaped
/// on the device into its parameter.
pub fn shared_direction<D: Device<f32>>(
    net: &Network<D>,
    dev: &D,
    d: &Direction<D>,
) -> Vec<Linear<D>> {
    d.to_layers(&net.layers[net.shared.clone()], dev)
}

/// Layers' gradients as one flat vector (weight then bias per layer; the order of
/// `per_task_gradients`).
pub fn flatten<D: Device<f32>>(layers: &[Linear<D>]) -> Vec<f32> {
    let mut flat = Vec::with_capacity(layers.iter().map(Linear::numel).sum());
    for layer in layers {
        flat.extend(layer.weight.as_vec());
        // as_vec of an empty tensor panics in dfdx 0.13: skip empty biases.
        if layer.bias.shape().0 > 0 {
            flat.extend(layer.bias.as_vec());
        }
    }
    flat
}

/// A flat vector over `layers` (the layout of `flatten`) as layers of the same shapes.
fn unflatten<D: Device<f32>>(layers: &[Linear<D>], dev: &D, flat: &[f32]) -> Vec<Linear<D>> {
    let mut offset = 0;
    let out = layers
        .iter()
        .map(|layer| {
            let (w_shape, b_shape) = (*layer.weight.shape(), *layer.bias.shape());
            let w_len = w_shape.0 * w_shape.1;
            let weight = dev.tensor_from_vec(flat[offset..offset + w_len].to_vec(), w_shape);
            offset += w_len;
            let bias = dev.tensor_from_vec(flat[offset..offset + b_shape.0].to_vec(), b_shape);
            offset += b_shape.0;
            Linear { weight, bias }
        })
        .collect();
    assert_eq!(offset, flat.len(), "flat vector length matches the layers");
    out
}

/// A flat vector over every layer as layers: a full gradient.
pub fn unflatten_all<D: Device<f32>>(net: &Network<D>, dev: &D, flat: &[f32]) -> Vec<Linear<D>> {
    unflatten(&net.layers, dev, flat)
}

/// A copy of `net` whose layers `range` moved by `scale`·`flat` (`flat` over those layers).
fn shift<D: Device<f32>>(
    net: &Network<D>,
    range: std::ops::Range<usize>,
    dev: &D,
    flat: &[f32],
    scale: f32,
) -> Network<D> {
    let mut out = net.clone();
    for (i, step) in range.clone().zip(unflatten(&net.layers[range], dev, flat)) {
        let layer = &mut out.layers[i];
        layer.weight = layer.weight.clone() + step.weight * scale;
        // Empty biases (cross-stitch units) have nothing to move.
        if layer.bias.shape().0 > 0 {
            layer.bias = layer.bias.clone() + step.bias * scale;
        }
    }
    out
}

/// A copy of `net` with every parameter moved by `scale`·`flat` (`flat` over all layers):
/// Auto-Lambda's virtual and finite-difference points, Reptile's and FOMAML's steps.
pub fn shifted<D: Device<f32>>(net: &Network<D>, dev: &D, flat: &[f32], scale: f32) -> Network<D> {
    shift(net, 0..net.layers.len(), dev, flat, scale)
}

/// A copy of `net` whose shared parameters took the plain gradient step θ_s − η·g
/// (TAG's look-ahead), g a direction on the device (G's blocks); task layers unchanged.
pub fn look_ahead<D: Device<f32>>(
    net: &Network<D>,
    dev: &D,
    g: &Direction<D>,
    lr: f32,
) -> Network<D> {
    let mut out = net.clone();
    let range = net.shared.clone();
    for (i, step) in range.clone().zip(g.to_layers(&net.layers[range], dev)) {
        let layer = &mut out.layers[i];
        layer.weight = layer.weight.clone() - step.weight * lr;
        if layer.bias.shape().0 > 0 {
            layer.bias = layer.bias.clone() - step.bias * lr;
        }
    }
    out
}

/// The task losses of `net` on `batch` (one shared forward, no tape).
pub fn batch_losses<D: Device<f32>>(
    net: &Network<D>,
    kinds: &[TaskKind],
    batch: &Batch<D>,
) -> Vec<f32> {
    let z = net.shared_output(batch.x.clone());
    (0..kinds.len())
        .map(|t| {
            let pred = net.task_output(t, z.branch());
            batch.loss(t, kinds[t], pred).as_vec()[0]
        })
        .collect()
}

/// The full gradient list from the shared layers' gradients (in order) and each task's
/// own gradients × `scale[i]`.
pub fn assemble_with_shared<D: Device<f32>>(
    net: &Network<D>,
    shared: Vec<Linear<D>>,
    own: Vec<Vec<Linear<D>>>,
    scale: &[f32],
) -> Vec<Linear<D>> {
    let mut grads: Vec<Option<Linear<D>>> = vec![None; net.layers.len()];
    for (i, g) in net.shared.clone().zip(shared) {
        grads[i] = Some(g);
    }
    for (t, layers) in own.into_iter().enumerate() {
        for (i, g) in net.task_layers(t).zip(layers) {
            // No kernel over a zero-size bias (a cross-stitch unit's): invalid on CUDA.
            let bias = if g.bias.shape().0 == 0 {
                g.bias
            } else {
                g.bias * scale[t]
            };
            grads[i] = Some(Linear {
                weight: g.weight * scale[t],
                bias,
            });
        }
    }
    grads
        .into_iter()
        .map(|g| g.expect("every layer is shared or owned by one task"))
        .collect()
}

/// Each task's gradient with respect to the shared representation (LibMTL's `rep_grad`),
/// from one forward of the trunk and a forward+backward of each head only.
pub struct RepGradients<D: Device<f32>> {
    pub losses: Vec<f32>,
    /// The representation (n × width) on the device.
    pub rep: Tensor2<D>,
    /// ∂Lᵢ/∂rep per sample (n × width) on the device, one per task.
    pub per_sample: Vec<Tensor2<D>>,
    /// Task i's gradients of its own layers, in `Network::task_layers` order.
    pub own: Vec<Vec<Linear<D>>>,
}

/// Per-task gradients of the shared representation. Only for networks whose tasks read one
/// shared trunk output (`hard_sharing`).
pub fn rep_gradients<D: Device<f32>>(
    net: &Network<D>,
    kinds: &[TaskKind],
    batch: &Batch<D>,
) -> RepGradients<D> {
    let rep = net
        .shared_output(batch.x.clone())
        .parts
        .into_iter()
        .next()
        .expect("a trunk output");
    let mut out = RepGradients {
        losses: Vec::with_capacity(kinds.len()),
        rep: rep.clone(),
        per_sample: Vec::with_capacity(kinds.len()),
        own: Vec::with_capacity(kinds.len()),
    };
    for (t, kind) in kinds.iter().enumerate() {
        let input = SharedRep {
            parts: vec![rep.clone().traced(Gradients::leaky())],
        };
        let loss = batch.loss(t, *kind, net.task_output(t, input));
        out.losses.push(loss.as_vec()[0]);
        let mut gradients = loss.backward();
        out.per_sample.push(gradient_of(&mut gradients, &rep));
        out.own.push(layer_gradients(
            &mut gradients,
            net.task_layers(t).map(|i| &net.layers[i]),
        ));
    }
    out
}

/// Gradients of the shared layers when the representation receives gradient `rep_grad`
/// (n × width): the backward of ⟨rep, rep_grad⟩ through the trunk.
pub fn backprop_rep<D: Device<f32>>(
    net: &Network<D>,
    batch: &Batch<D>,
    rep_grad: Tensor2<D>,
) -> Vec<Linear<D>> {
    let rep = net
        .shared_output(batch.x.clone().traced(Gradients::leaky()))
        .parts
        .into_iter()
        .next()
        .expect("a trunk output");
    let mut gradients = (rep * rep_grad).sum().backward();
    layer_gradients(&mut gradients, net.layers[net.shared.clone()].iter())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::{
        ArchitectureSpec, Cgc, CrossStitch, HardSharing, Hierarchical, Mmoe, SingleTask,
    };
    use crate::device::cpu;
    use crate::model::ModelSpec;

    fn batch(dev: &crate::device::CpuDevice) -> Batch<crate::device::CpuDevice> {
        let x: Vec<f32> = (0..12).map(|i| (i as f32 * 0.37).sin()).collect();
        Batch {
            x: dev.tensor_from_vec(x, (4, 3)),
            targets: vec![
                dev.tensor_from_vec(vec![0.5, -1.0, 0.2, 0.1, 0.0, 0.3, -0.4, 0.9], (4, 2)),
                dev.tensor_from_vec(vec![1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0], (4, 2)),
            ],
            labels: Vec::new(),
        }
    }

    const KINDS: [TaskKind; 2] = [
        TaskKind::Regression { outputs: 2 },
        TaskKind::Classification { classes: 2 },
    ];

    /// The loss-weighted path and the per-task path followed by the weighted sum give the
    /// same gradients: the write-back and the tape splitting are both right.
    #[test]
    fn both_paths_agree() {
        let dev = cpu();
        let model = ModelSpec {
            trunk: vec![5, 4].into(),
            head: vec![3],
        };
        for arch in [
            ArchitectureSpec::HardSharing(HardSharing {}),
            ArchitectureSpec::SingleTask(SingleTask {}),
            ArchitectureSpec::Mmoe(Mmoe { experts: 3 }),
            ArchitectureSpec::Cgc(Cgc {
                shared_experts: 2,
                task_experts: 2,
            }),
            ArchitectureSpec::CrossStitch(CrossStitch {}),
            ArchitectureSpec::Hierarchical(Hierarchical {
                groups: Some(vec![vec![1], vec![0]]),
                root_depth: Some(1),
                levels: None,
            }),
            ArchitectureSpec::Hierarchical(Hierarchical {
                groups: None,
                root_depth: None,
                levels: Some(vec![1, 2]),
            }),
        ] {
            let net = arch.build(&dev, &model, 3, &[2, 2], 11);
            let b = batch(&dev);
            let weights = [0.7f32, 1.9];
            let fused = weighted_loss_gradients(&net, &KINDS, &b, |_| weights.to_vec());
            let per_task = per_task_gradients(&net, &KINDS, &b);
            assert_eq!(fused.losses, per_task.losses);
            let w64: Vec<f64> = weights.iter().map(|w| f64::from(*w)).collect();
            let direction = per_task.jacobian.combine(&w64);
            let shared = shared_direction(&net, &dev, &direction);
            let assembled = assemble_with_shared(&net, shared, per_task.own, &weights);
            for (a, f) in assembled.iter().zip(&fused.grads) {
                for (x, y) in a.weight.as_vec().iter().zip(f.weight.as_vec()) {
                    assert!((x - y).abs() < 1e-6, "{x} vs {y}");
                }
                let empty = a.bias.shape().0 == 0;
                for (x, y) in (if empty { Vec::new() } else { a.bias.as_vec() })
                    .iter()
                    .zip(if empty { Vec::new() } else { f.bias.as_vec() })
                {
                    assert!((x - y).abs() < 1e-6, "{x} vs {y}");
                }
            }
        }
    }

    /// Gradients match a finite difference of the loss, for a shared weight and for a
    /// task's own weight (an MMoE gate included).
    #[test]
    fn gradient_matches_finite_difference() {
        let dev = cpu();
        let model = ModelSpec {
            trunk: vec![4].into(),
            head: vec![],
        };
        for arch in [
            ArchitectureSpec::HardSharing(HardSharing {}),
            ArchitectureSpec::Mmoe(Mmoe { experts: 2 }),
            ArchitectureSpec::Cgc(Cgc {
                shared_experts: 1,
                task_experts: 1,
            }),
            ArchitectureSpec::CrossStitch(CrossStitch {}),
            ArchitectureSpec::Hierarchical(Hierarchical {
                groups: Some(vec![vec![0], vec![1]]),
                root_depth: Some(0),
                levels: None,
            }),
        ] {
            let net = arch.build(&dev, &model, 3, &[2, 2], 3);
            let b = batch(&dev);
            let g = weighted_loss_gradients(&net, &KINDS, &b, |_| vec![1.0, 1.0]);
            // Task 1's last own layer before its head (the gate for MMoE and CGC), else
            // its head.
            let tower = &net.towers[1];
            let own = if tower.trunk.is_empty() {
                tower.head.start
            } else {
                tower.trunk.end - 1
            };
            for layer in [0, own] {
                let loss_with = |delta: f32| -> f64 {
                    let mut n2 = net.clone();
                    let mut w = n2.layers[layer].weight.as_vec();
                    w[1] += delta;
                    n2.layers[layer].weight =
                        dev.tensor_from_vec(w, *net.layers[layer].weight.shape());
                    let s = weighted_loss_gradients(&n2, &KINDS, &b, |_| vec![1.0, 1.0]);
                    s.losses.iter().map(|v| f64::from(*v)).sum()
                };
                let h = 1e-2;
                let numeric = (loss_with(h) - loss_with(-h)) / (2.0 * f64::from(h));
                let analytic = f64::from(g.grads[layer].weight.as_vec()[1]);
                assert!(
                    (numeric - analytic).abs() < 2e-3,
                    "{arch:?} layer {layer}: {numeric} vs {analytic}"
                );
            }
        }
    }

    /// The representation path (per-sample ∂Lᵢ/∂rep, weighted, backpropagated through the
    /// trunk once) gives the loss-weighted path's gradients.
    #[test]
    fn representation_path_agrees() {
        let dev = cpu();
        let model = ModelSpec {
            trunk: vec![5, 4].into(),
            head: vec![3],
        };
        let net = ArchitectureSpec::HardSharing(HardSharing {}).build(&dev, &model, 3, &[2, 2], 5);
        let b = batch(&dev);
        let weights = [0.7f32, 1.9];
        let fused = weighted_loss_gradients(&net, &KINDS, &b, |_| weights.to_vec());
        let r = rep_gradients(&net, &KINDS, &b);
        assert_eq!(r.losses, fused.losses);
        let w64: Vec<f64> = weights.iter().map(|w| f64::from(*w)).collect();
        let per_sample: Vec<Vec<f32>> = r.per_sample.iter().map(|g| g.as_vec()).collect();
        let combined =
            dev.tensor_from_vec(crate::weighting::combine(&per_sample, &w64), *r.rep.shape());
        let shared = backprop_rep(&net, &b, combined);
        let assembled = assemble_with_shared(&net, shared, r.own, &weights);
        for (a, f) in assembled.iter().zip(&fused.grads) {
            for (x, y) in a.weight.as_vec().iter().zip(f.weight.as_vec()) {
                assert!((x - y).abs() < 1e-6, "{x} vs {y}");
            }
        }
    }
}
