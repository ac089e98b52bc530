//! The task gradients of a trunk network (every task reads one shared trunk of linear
//! layers with ReLU, `Sharing::Trunk`) without a trunk pass per task: one forward of the
//! trunk keeping each layer's input, each task's head forward and backward on the trunk's
//! output (a leaf), then one backward through the trunk batched over the T tasks — the T
//! representation gradients as one [T, n, width] tensor, each layer's T weight gradients
//! by one batched product, the input gradients of all tasks by one product — giving G's
//! column blocks ([T, P_k] per parameter tensor) on the device directly. The arithmetic
//! is that of T backward passes; only the trunk's forward is shared and the products are
//! larger.
//!
//! On the CPU the ReLU derivative and the bias sums are loops of their own over buffers
//! read by one copy, and each layer's input is broadcast over the tasks instead of stacked
//! T times; they give dfdx's generic route bit for bit (tested), which other devices take.
//!
//! Measured against T forward and backward passes with `mtlbench bench` (release build,
//! CPU, one thread; G and its Gramian alone): W1 (T = 10, batch 100, trunk 250→4×100)
//! 4.8–5.0 ms against 8.1–8.6 ms (5.7–6.2 ms before the CPU loops), W2 (trunk 4×1024,
//! batch 1024) 1.9–2.2 s against 2.8–3.7 s. The saving is the T − 1 trunk forwards and the
//! larger products; the T trunk backwards remain, so on W2, whose trunk is most of the
//! work, a gradient-level step stays 4.4–5.4× the `equal` step. One batched pass over T
//! copies of the shared weights was slower on the CPU than T passes (`/work/shared/cuda.md`:
//! 29.2 against 18.0 ms), so it is not offered.

use crate::architecture::{Network, SharedRep, Sharing};
use crate::device::{host_values, is_cpu};
use crate::engine::{gradient_of, layer_gradients, Batch, TaskGradients};
use crate::jacobian::Jacobian;
use crate::model::Tensor2;
use crate::trunk::LayerOp;
use dfdx::prelude::*;
use mtlbench_tasks::TaskKind;

type Tensor3<D> = Tensor<(usize, usize, usize), f32, D>;

/// Whether `net`'s task gradients can be taken by [`task_gradients`]: a trunk network
/// whose shared layers are all dense (a conv trunk takes T passes).
pub fn applies<D: Device<f32>>(net: &Network<D>) -> bool {
    matches!(net.sharing, Sharing::Trunk)
        && !net.shared.is_empty()
        && net
            .shared
            .clone()
            .all(|i| matches!(net.ops[i], LayerOp::Dense))
}

/// The task gradients of a trunk network by one trunk forward and one batched trunk
/// backward (see the module doc); `None` when `net` is not a trunk network.
pub fn task_gradients<D: Device<f32>>(
    net: &Network<D>,
    kinds: &[TaskKind],
    batch: &Batch<D>,
) -> Option<TaskGradients<D>> {
    task_gradients_by(net, kinds, batch, is_cpu::<D>())
}

/// [`task_gradients`] by the CPU's own loops (`cpu`) or by dfdx's generic operations.
fn task_gradients_by<D: Device<f32>>(
    net: &Network<D>,
    kinds: &[TaskKind],
    batch: &Batch<D>,
    cpu: bool,
) -> Option<TaskGradients<D>> {
    if !applies(net) {
        return None;
    }
    let tasks = kinds.len();
    let shared = net.shared.clone();
    // Forward, keeping each layer's input; the last output is the representation.
    let mut inputs: Vec<Tensor2<D>> = Vec::with_capacity(shared.len());
    let mut x = batch.x.clone();
    for i in shared.clone() {
        inputs.push(x.clone());
        x = net.layers[i].forward(x).relu();
    }
    let rep = x;
    // Each task's head on the representation as a leaf.
    let mut losses = Vec::with_capacity(tasks);
    let mut rep_grads = Vec::with_capacity(tasks);
    let mut own = Vec::with_capacity(tasks);
    for (t, kind) in kinds.iter().enumerate() {
        let input = SharedRep {
            parts: vec![rep.clone().traced(Gradients::leaky())],
        };
        let loss = batch.loss(t, *kind, net.task_output(t, input));
        losses.push(loss.as_vec()[0]);
        let mut gradients = loss.backward();
        rep_grads.push(gradient_of(&mut gradients, &rep));
        own.push(layer_gradients(
            &mut gradients,
            net.task_layers(t).map(|i| &net.layers[i]),
        ));
    }
    // Backward through the trunk, batched over the tasks: d holds ∂Lₜ/∂(layer output).
    let mut next: Option<Tensor3<D>> = Some(rep_grads.stack());
    let mut pieces: Vec<Tensor2<D>> = Vec::with_capacity(2 * shared.len());
    for (l, i) in shared.clone().enumerate().rev() {
        let layer = &net.layers[i];
        let (fan_in, fan_out) = *layer.weight.shape();
        let output = if l + 1 < inputs.len() {
            &inputs[l + 1]
        } else {
            &rep
        };
        let n = output.shape().0;
        let d = next.take().expect("the gradient of this layer's output");
        let d_pre = relu_backward(d, output, cpu);
        // ∂Lₜ/∂W = Xᵀ·dₜ for every task by one batched product ([T, in, n]·[T, n, out]).
        let x_in = repeat(&inputs[l], tasks, cpu);
        let weight: Tensor3<D> = x_in.permute::<_, Axes3<0, 2, 1>>().matmul(d_pre.clone());
        if layer.bias.shape().0 > 0 {
            pieces.push(sum_rows(&d_pre, cpu));
        }
        pieces.push(weight.reshape_like(&(tasks, fan_in * fan_out)));
        if l > 0 {
            // ∂Lₜ/∂X = dₜ·Wᵀ for every task by one product ([T·n, out]·[out, in]).
            let flat = d_pre.reshape_like(&(tasks * n, fan_out));
            next = Some(
                flat.matmul(layer.weight.clone().permute::<_, Axes2<1, 0>>())
                    .reshape_like(&(tasks, n, fan_in)),
            );
        }
    }
    // The pieces were collected last layer first, bias before weight: reversed, they are
    // G's column blocks in order (layer by layer, weight then bias).
    pieces.reverse();
    let layout = net.layers[shared]
        .iter()
        .map(|l| (l.macs(), l.bias.shape().0))
        .collect();
    Some(TaskGradients {
        losses,
        jacobian: Jacobian::from_blocks(pieces, tasks, layout),
        own,
    })
}

/// ∂L/∂(pre-activation) of a ReLU layer for every task: `d` [T, n, out] times the ReLU's
/// derivative at the layer's `output` [n, out] (1 where it is positive, else 0). On the
/// CPU (`cpu`) one loop over the buffers; otherwise a mask broadcast over the tasks. Both
/// multiply each element by 1 or 0, so they agree bit for bit.
fn relu_backward<D: Device<f32>>(d: Tensor3<D>, output: &Tensor2<D>, cpu: bool) -> Tensor3<D> {
    let shape = *d.shape();
    let dev = d.device().clone();
    if cpu {
        let out = host_values(output);
        let mut values = host_values(&d);
        for task in values.chunks_exact_mut(out.len().max(1)) {
            for (v, o) in task.iter_mut().zip(&out) {
                *v *= if *o > 0.0 { 1.0 } else { 0.0 };
            }
        }
        return dev.tensor_from_vec(values, shape);
    }
    let (n, fan_out) = *output.shape();
    let mask = output
        .clone()
        .gt(0.0)
        .choose(dev.ones_like(&(n, fan_out)), dev.zeros_like(&(n, fan_out)));
    d * mask.broadcast_like::<_, Axis<0>>(&shape)
}

/// `x` [n, in] seen T times as [T, n, in]: a broadcast on the CPU (stride 0; the batched
/// product reads each task's slice from the same buffer), T stacked copies elsewhere
/// (CUDA's batched product needs a non-zero batch stride).
fn repeat<D: Device<f32>>(x: &Tensor2<D>, tasks: usize, cpu: bool) -> Tensor3<D> {
    let (n, width) = *x.shape();
    if cpu {
        x.clone().broadcast_like::<_, Axis<0>>(&(tasks, n, width))
    } else {
        vec![x.clone(); tasks].stack()
    }
}

/// Σᵢ d[t, i, j] for every task t and column j ([T, n, out] → [T, out]). On the CPU one pass
/// over the rows, each sum accumulated from 0 in row order as dfdx's reduction does;
/// otherwise dfdx's reduction.
fn sum_rows<D: Device<f32>>(d: &Tensor3<D>, cpu: bool) -> Tensor2<D> {
    let (tasks, n, width) = *d.shape();
    if !cpu {
        return d.clone().sum::<(usize, usize), Axis<1>>();
    }
    let values = host_values(d);
    let mut sums = vec![0.0f32; tasks * width];
    if width > 0 {
        for (task, acc) in values
            .chunks_exact(n * width)
            .zip(sums.chunks_exact_mut(width))
        {
            for row in task.chunks_exact(width) {
                for (a, v) in acc.iter_mut().zip(row) {
                    *a += v;
                }
            }
        }
    }
    d.device().tensor_from_vec(sums, (tasks, width))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::{ArchitectureSpec, HardSharing, Mmoe};
    use crate::device::cpu;
    use crate::model::ModelSpec;

    type Fixture = (Cpu, Network<Cpu>, [TaskKind; 3], Batch<Cpu>);

    /// A trunk 6→5→4 whose ReLUs zero many activations, two regression tasks and a
    /// classification task, on a batch of 5.
    fn fixture() -> Fixture {
        let dev = cpu();
        let model = ModelSpec {
            trunk: vec![6, 5, 4].into(),
            head: vec![3],
        };
        let kinds = [
            TaskKind::Regression { outputs: 2 },
            TaskKind::Classification { classes: 3 },
            TaskKind::Regression { outputs: 1 },
        ];
        let net =
            ArchitectureSpec::HardSharing(HardSharing {}).build(&dev, &model, 3, &[2, 3, 1], 7);
        let x: Vec<f32> = (0..15).map(|i| (i as f32 * 0.71).sin()).collect();
        let batch = Batch {
            x: dev.tensor_from_vec(x, (5, 3)),
            targets: vec![
                dev.tensor_from_vec((0..10).map(|i| (i as f32 * 0.3).cos()).collect(), (5, 2)),
                dev.tensor_from_vec(
                    (0..15).map(|i| f32::from(u8::from(i % 4 == 0))).collect(),
                    (5, 3),
                ),
                dev.tensor_from_vec((0..5).map(|i| i as f32 * 0.2).collect(), (5, 1)),
            ],
            labels: Vec::new(),
        };
        (dev, net, kinds, batch)
    }

    /// The batched route gives the T-pass route's losses, G (to f32 rounding) and head
    /// gradients, weights and biases (bit for bit), on a trunk with a zero-activation-heavy
    /// ReLU and a classification task.
    #[test]
    fn batched_route_matches_task_passes() {
        let (dev, net, kinds, batch) = fixture();
        let model = ModelSpec {
            trunk: vec![6, 5, 4].into(),
            head: vec![3],
        };
        let passes = crate::engine::per_task_gradients(&net, &kinds, &batch);
        let batched = task_gradients(&net, &kinds, &batch).unwrap();
        assert_eq!(passes.losses, batched.losses);
        assert_eq!(passes.jacobian.layout(), batched.jacobian.layout());
        for (a, b) in passes
            .jacobian
            .to_host()
            .iter()
            .zip(&batched.jacobian.to_host())
        {
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-6 * (1.0 + x.abs()), "{x} vs {y}");
            }
        }
        // The heads' own gradients, weights and biases, of every head layer of every task.
        assert_eq!(passes.own.len(), 3);
        for (a, b) in passes.own.iter().zip(&batched.own) {
            assert_eq!(a.len(), b.len());
            assert!(!a.is_empty());
            for (x, y) in a.iter().zip(b) {
                assert_eq!(x.weight.as_vec(), y.weight.as_vec());
                assert_eq!(x.bias.as_vec(), y.bias.as_vec());
            }
            // The output layer's bias gradient is not zero: the comparison compares something.
            let output = b.last().expect("a head layer").bias.as_vec();
            assert!(output.iter().any(|v| *v != 0.0), "{output:?}");
        }
        let mmoe =
            ArchitectureSpec::Mmoe(Mmoe { experts: 2 }).build(&dev, &model, 3, &[2, 3, 1], 7);
        assert!(task_gradients(&mmoe, &kinds, &batch).is_none());
    }

    /// The CPU's own loops (ReLU derivative, bias sums, the input seen T times by a
    /// broadcast) give the generic route's G bit for bit, zeros' signs included.
    #[test]
    fn cpu_loops_match_the_generic_route_bit_for_bit() {
        let (_, net, kinds, batch) = fixture();
        let own = task_gradients_by(&net, &kinds, &batch, true).unwrap();
        let generic = task_gradients_by(&net, &kinds, &batch, false).unwrap();
        let bits = |g: &TaskGradients<Cpu>| -> Vec<Vec<u32>> {
            g.jacobian
                .to_host()
                .iter()
                .map(|row| row.iter().map(|v| v.to_bits()).collect())
                .collect()
        };
        assert_eq!(bits(&own), bits(&generic));
        assert_eq!(own.losses, generic.losses);
        // Some gradient entries are exactly zero (dead ReLUs): the mask did something.
        assert!(own.jacobian.to_host().iter().flatten().any(|v| *v == 0.0));
    }
}
