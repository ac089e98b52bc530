//! The fused CPU update: on `dfdx::tensor::Cpu`, SGD, Adam and AdamW update each parameter
//! tensor in one scalar loop over host vectors instead of about a dozen dfdx tensor ops
//! (each a full pass over the tensor with its own allocation), which made the optimizer a
//! large share of a small network's training step.
//!
//! dfdx gives no mutable view of a CPU tensor's buffer, so the moments live here as host
//! `Vec<f32>`s (one per weight and per bias); a parameter and its gradient are copied into
//! scratch vectors (`copy_into`), updated in one loop, and the parameter is copied back
//! (`copy_from`, in place unless its buffer is shared, which dfdx then copies first).
//! Both copies are of the *physical* buffer: parameters and gradients are in dfdx's
//! standard row-major layout, as every tensor the crate builds for them is (checked in
//! debug builds).
//!
//! The loops do exactly the f32 operations of the tensor-op path (`super::sgd`,
//! `super::adam`), in the same order, with the same scalars: dfdx's CPU kernels compute
//! `x * s`, `x + s`, `x + y`, `x - y`, `x / y`, `x.sqrt()` and `square` as `x.powi(2)`,
//! which is `x * x` exactly; Rust contracts nothing into fused multiply-adds. So both paths
//! give the same bits and the records of a run do not depend on the path; the tests
//! (`super::tests`) check it for every rule. Other devices (CUDA) keep the tensor ops.
//!
//! The path is picked by the device's type (`device::is_cpu`), and the generic
//! `Vec<Linear<D>>` is seen as `Vec<Linear<Cpu>>` through `Any` (`on_cpu`), so the crate's
//! `D: Device<f32>` bounds stay as they are.

use super::{Coefficients, Rule};
use crate::model::Linear;
use dfdx::prelude::*;
use dfdx::tensor::Cpu;
use std::any::Any;

/// `layers` of a device `D` that is the CPU, as CPU layers. Panics for another device:
/// only an optimizer built for the CPU holds a `HostState`.
// The vector, not a slice: `Any` downcasts sized values only.
#[allow(clippy::ptr_arg)]
pub(super) fn on_cpu<D: Device<f32>>(layers: &mut Vec<Linear<D>>) -> &mut Vec<Linear<Cpu>> {
    (layers as &mut dyn Any)
        .downcast_mut()
        .expect("the fused optimizer path runs on the CPU device only")
}

/// The optimizer state of the fused path.
pub(super) struct HostState {
    /// Per layer, the weight's and the bias's first moments (SGD: momentum buffers).
    first: Vec<[Vec<f32>; 2]>,
    /// Per layer, the weight's and the bias's second moments; empty for SGD.
    second: Vec<[Vec<f32>; 2]>,
    /// Scratch for one parameter tensor's values and its gradient's, as long as the
    /// largest tensor, reused for every tensor and step.
    param: Vec<f32>,
    grad: Vec<f32>,
}

impl HostState {
    /// Zero moments for `layers` (`moments`: 1 for SGD, 2 for Adam).
    pub(super) fn new<D: Device<f32>>(layers: &[Linear<D>], moments: usize) -> Self {
        let zeros = || -> Vec<[Vec<f32>; 2]> {
            layers
                .iter()
                .map(|l| {
                    [
                        vec![0.0; l.weight.shape().num_elements()],
                        vec![0.0; l.bias.shape().0],
                    ]
                })
                .collect()
        };
        let largest = layers
            .iter()
            .map(|l| l.weight.shape().num_elements().max(l.bias.shape().0))
            .max()
            .unwrap_or(0);
        HostState {
            first: zeros(),
            second: if moments == 2 { zeros() } else { Vec::new() },
            param: vec![0.0; largest],
            grad: vec![0.0; largest],
        }
    }

    /// Number of f32s of optimizer state (as the tensor path counts it).
    pub(super) fn numel(&self) -> usize {
        self.first
            .iter()
            .chain(&self.second)
            .map(|[w, b]| w.len() + b.len())
            .sum()
    }

    /// The moments' values, flat per tensor (first moments, then second).
    #[cfg(test)]
    pub(super) fn values(&self) -> Vec<Vec<f32>> {
        self.first
            .iter()
            .chain(&self.second)
            .flat_map(|[w, b]| [w.clone(), b.clone()])
            .collect()
    }

    /// One update of `layers` with `grads` by `rule`.
    pub(super) fn update(&mut self, rule: Rule, layers: &mut [Linear<Cpu>], grads: &[Linear<Cpu>]) {
        assert_eq!(layers.len(), self.first.len(), "one moment pair per layer");
        for (k, (layer, grad)) in layers.iter_mut().zip(grads).enumerate() {
            self.tensor(rule, &mut layer.weight, &grad.weight, k, 0);
            self.tensor(rule, &mut layer.bias, &grad.bias, k, 1);
        }
    }

    /// Updates tensor `j` (0 weight, 1 bias) of layer `k`, `p`, with gradient `g`.
    fn tensor<S: Shape>(
        &mut self,
        rule: Rule,
        p: &mut Tensor<S, f32, Cpu>,
        g: &Tensor<S, f32, Cpu>,
        k: usize,
        j: usize,
    ) {
        let n = p.shape().num_elements();
        // A zero-size tensor (a cross-stitch unit's bias) has nothing to update.
        if n == 0 {
            return;
        }
        assert_eq!(
            g.shape().num_elements(),
            n,
            "a gradient of the parameter's shape"
        );
        let (param, grad) = (&mut self.param[..n], &mut self.grad[..n]);
        p.copy_into(param);
        g.copy_into(grad);
        debug_assert!(standard_layout(p, param) && standard_layout(g, grad));
        match rule {
            Rule::Sgd {
                lr,
                momentum,
                weight_decay,
            } => sgd(
                param,
                grad,
                &mut self.first[k][j],
                lr,
                momentum,
                weight_decay,
            ),
            Rule::Adam(c) => adam(
                param,
                grad,
                &mut self.first[k][j],
                &mut self.second[k][j],
                c,
            ),
        }
        p.copy_from(param);
    }
}

/// Whether `physical` (a copy of `t`'s buffer) lists `t`'s elements in row-major order.
fn standard_layout<S: Shape>(t: &Tensor<S, f32, Cpu>, physical: &[f32]) -> bool {
    let logical = t.as_vec();
    logical.len() == physical.len()
        && logical
            .iter()
            .zip(physical)
            .all(|(a, b)| a.to_bits() == b.to_bits())
}

/// `super::sgd` on slices: g ← g + wd·θ (when wd > 0); v ← μv + g (v ← g when μ = 0);
/// θ ← θ − lr·v.
fn sgd(p: &mut [f32], g: &[f32], v: &mut [f32], lr: f32, momentum: f32, weight_decay: f32) {
    assert!(g.len() == p.len() && v.len() == p.len());
    let (decay, heavy) = (weight_decay > 0.0, momentum > 0.0);
    for ((p, &g), v) in p.iter_mut().zip(g).zip(v.iter_mut()) {
        let g = if decay { g + *p * weight_decay } else { g };
        *v = if heavy { *v * momentum + g } else { g };
        *p -= *v * lr;
    }
}

/// `super::adam` on slices, operation for operation:
/// AdamW θ ← θ·(1 − lr·wd), or Adam g ← g + wd·θ (when wd > 0);
/// m ← m·β₁ + g·(1 − β₁); v ← v·β₂ + g²·(1 − β₂);
/// θ ← θ − (m / (√v·(1/√b₂) + ε))·(lr/b₁).
fn adam(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], c: Coefficients) {
    assert!(g.len() == p.len() && m.len() == p.len() && v.len() == p.len());
    let decoupled = c.weight_decay > 0.0 && c.decoupled;
    let coupled = c.weight_decay > 0.0 && !c.decoupled;
    // The scalars exactly as the tensor path computes them.
    let shrink = 1.0 - c.lr * c.weight_decay;
    let (keep1, take1) = (c.beta1, 1.0 - c.beta1);
    let (keep2, take2) = (c.beta2, 1.0 - c.beta2);
    let unbias2 = 1.0 / c.bias2_sqrt;
    let step = c.lr / c.bias1;
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let theta = if decoupled { *p * shrink } else { *p };
        let g = if coupled {
            g + theta * c.weight_decay
        } else {
            g
        };
        *m = *m * keep1 + g * take1;
        // dfdx's square is g.powi(2), which is g * g exactly.
        *v = *v * keep2 + (g * g) * take2;
        let denom = v.sqrt() * unbias2 + c.eps;
        *p = theta - (*m / denom) * step;
    }
}
