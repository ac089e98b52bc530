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
//! Measured against T forward and backward passes with `mtlbench bench` (release build,
//! CPU, one thread; G and its Gramian alone): W1 (T = 10, batch 100, trunk 250→4×100)
//! 5.7–6.2 ms against 8.7 ms, W2 (trunk 4×1024, batch 1024) 2.63 s against 3.27 s. The
//! saving is the T − 1 trunk forwards and the larger products; the T trunk backwards
//! remain, so on W2, whose trunk is most of the work, a gradient-level step stays about
//! 5.5× the `equal` step. One batched pass over T copies of the shared weights was slower
//! on the CPU than T passes (`/work/shared/cuda.md`: 29.2 against 18.0 ms), so it is not
//! offered.

use crate::architecture::{Network, SharedRep, Sharing};
use crate::engine::{gradient_of, layer_gradients, task_loss, Batch, TaskGradients};
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
        let loss = task_loss(*kind, net.task_output(t, input), batch.targets[t].clone());
        losses.push(loss.as_vec()[0]);
        let mut gradients = loss.backward();
        rep_grads.push(gradient_of(&mut gradients, &rep));
        own.push(layer_gradients(
            &mut gradients,
            net.task_layers(t).map(|i| &net.layers[i]),
        ));
    }
    // Backward through the trunk, batched over the tasks: d holds ∂Lₜ/∂(layer output).
    let dev = rep.device().clone();
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
        // Through the ReLU: its derivative is 1 where the output is positive.
        let mask = output
            .clone()
            .gt(0.0)
            .choose(dev.ones_like(&(n, fan_out)), dev.zeros_like(&(n, fan_out)));
        let d_pre = d * mask.broadcast_like::<_, Axis<0>>(&(tasks, n, fan_out));
        // ∂Lₜ/∂W = Xᵀ·dₜ for every task by one batched product ([T, in, n]·[T, n, out]);
        // the input is stacked T times so that no batch stride is zero (CUDA's batched
        // product needs it).
        let x_in: Tensor3<D> = vec![inputs[l].clone(); tasks].stack();
        let weight: Tensor3<D> = x_in.permute::<_, Axes3<0, 2, 1>>().matmul(d_pre.clone());
        let bias: Tensor2<D> = d_pre.clone().sum::<(usize, usize), Axis<1>>();
        if layer.bias.shape().0 > 0 {
            pieces.push(bias);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::{ArchitectureSpec, HardSharing, Mmoe};
    use crate::device::cpu;
    use crate::model::ModelSpec;

    /// The batched route gives the T-pass route's losses, G and head gradients (to f32
    /// rounding), on a trunk with a zero-activation-heavy ReLU and a classification task.
    #[test]
    fn batched_route_matches_task_passes() {
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
        for (a, b) in passes.own.iter().zip(&batched.own) {
            for (x, y) in a.iter().zip(b) {
                assert_eq!(x.weight.as_vec(), y.weight.as_vec());
            }
        }
        let mmoe =
            ArchitectureSpec::Mmoe(Mmoe { experts: 2 }).build(&dev, &model, 3, &[2, 3, 1], 7);
        assert!(task_gradients(&mmoe, &kinds, &batch).is_none());
    }
}
