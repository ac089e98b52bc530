//! Optimizers over the parameter store: SGD with momentum, Adam (L2 weight decay) and AdamW
//! (decoupled weight decay), with PyTorch's update rules. On every dfdx device the update can
//! be written as dfdx tensor ops (about a dozen passes over each parameter tensor, each with
//! its own allocation); on the CPU it is fused into one loop per parameter tensor over host
//! moments (`fused`), which does the same f32 operations in the same order, so both paths
//! give the same bits.

use crate::error::AlgorithmsError;
use crate::model::Linear;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

mod fused;
#[cfg(test)]
mod tests;

/// `sgd`: v ← μv + g (+ wd·θ in g); θ ← θ − lr·v. PyTorch `torch.optim.SGD`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sgd {
    pub momentum: f64,
    pub weight_decay: f64,
}

impl Default for Sgd {
    fn default() -> Self {
        Sgd {
            momentum: 0.9,
            weight_decay: 0.0,
        }
    }
}

/// `adam` / `adamw`: PyTorch `torch.optim.Adam` (weight decay added to the gradient) and
/// `torch.optim.AdamW` (weight decay applied to the parameters, decoupled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Adam {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for Adam {
    fn default() -> Self {
        Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// AdamW's parameters; its default weight decay is PyTorch's 0.01.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdamW {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamW {
    fn default() -> Self {
        AdamW {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

mtlbench_tasks::registry! {
    /// The model optimizer (its learning rate is `training.lr`).
    pub enum OptimizerSpec {
        Sgd(Sgd) = "sgd": "SGD with momentum (PyTorch SGD)",
        Adam(Adam) = "adam": "Adam with L2 weight decay (PyTorch Adam)",
        AdamW(AdamW) = "adamw": "Adam with decoupled weight decay (PyTorch AdamW)",
    }
}

impl Default for OptimizerSpec {
    fn default() -> Self {
        OptimizerSpec::Adam(Adam::default())
    }
}

impl OptimizerSpec {
    pub fn validate(&self) -> Result<(), AlgorithmsError> {
        let (betas, eps, wd) = match self {
            OptimizerSpec::Sgd(s) => {
                if !(0.0..1.0).contains(&s.momentum) {
                    return Err(AlgorithmsError::invalid("momentum", "must be in [0, 1)"));
                }
                ((0.0, 0.0), 1.0, s.weight_decay)
            }
            OptimizerSpec::Adam(a) => ((a.beta1, a.beta2), a.eps, a.weight_decay),
            OptimizerSpec::AdamW(a) => ((a.beta1, a.beta2), a.eps, a.weight_decay),
        };
        if !((0.0..1.0).contains(&betas.0) && (0.0..1.0).contains(&betas.1)) {
            return Err(AlgorithmsError::invalid("beta1", "betas must be in [0, 1)"));
        }
        if eps.is_nan() || eps <= 0.0 {
            return Err(AlgorithmsError::invalid("eps", "must be > 0"));
        }
        if !(wd >= 0.0 && wd.is_finite()) {
            return Err(AlgorithmsError::invalid(
                "weight_decay",
                "must be finite and ≥ 0",
            ));
        }
        Ok(())
    }
}

/// An optimizer with its state, one moment pair per layer of the parameter store.
pub struct Optimizer<D: Device<f32>> {
    spec: OptimizerSpec,
    lr: f32,
    step: i32,
    state: State<D>,
}

/// The moments (SGD: the momentum buffers as `first`, no `second`), where the update path
/// keeps them.
enum State<D: Device<f32>> {
    /// Tensors on the run's device, updated by dfdx tensor ops: every device but the CPU.
    Tensors {
        first: Vec<Linear<D>>,
        second: Vec<Linear<D>>,
    },
    /// Host vectors, updated by one fused loop per parameter tensor: the CPU (see `fused`).
    Host(fused::HostState),
}

/// One step's update rule with its f32 scalars, the same for both paths.
#[derive(Clone, Copy)]
enum Rule {
    Sgd {
        lr: f32,
        momentum: f32,
        weight_decay: f32,
    },
    Adam(Coefficients),
}

/// Per-step scalars of one Adam update.
#[derive(Clone, Copy)]
struct Coefficients {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    decoupled: bool,
    bias1: f32,
    bias2_sqrt: f32,
}

impl<D: Device<f32>> Optimizer<D> {
    /// A fresh optimizer for `layers`; on the CPU it takes the fused path.
    pub fn new(spec: &OptimizerSpec, lr: f64, layers: &[Linear<D>], dev: &D) -> Self {
        Self::build(spec, lr, layers, dev, crate::device::is_cpu::<D>())
    }

    /// A fresh optimizer that updates by dfdx tensor ops whatever the device (the path of
    /// every device but the CPU; on the CPU, the reference the fused path is tested against).
    pub fn with_tensor_ops(spec: &OptimizerSpec, lr: f64, layers: &[Linear<D>], dev: &D) -> Self {
        Self::build(spec, lr, layers, dev, false)
    }

    fn build(spec: &OptimizerSpec, lr: f64, layers: &[Linear<D>], dev: &D, host: bool) -> Self {
        let moments = match spec {
            OptimizerSpec::Sgd(_) => 1,
            _ => 2,
        };
        let state = if host {
            State::Host(fused::HostState::new(layers, moments))
        } else {
            let zeros = || layers.iter().map(|l| l.zeros_like(dev)).collect::<Vec<_>>();
            State::Tensors {
                first: zeros(),
                second: if moments == 2 { zeros() } else { Vec::new() },
            }
        };
        Optimizer {
            spec: spec.clone(),
            lr: lr as f32,
            step: 0,
            state,
        }
    }

    /// The learning rate of the next updates.
    pub fn lr(&self) -> f64 {
        f64::from(self.lr)
    }

    /// Sets the learning rate of the next updates (a schedule's); the moments stay.
    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr as f32;
    }

    /// Bytes of optimizer state.
    pub fn state_bytes(&self) -> usize {
        let count: usize = match &self.state {
            State::Tensors { first, second } => first.iter().chain(second).map(Linear::numel).sum(),
            State::Host(host) => host.numel(),
        };
        count * std::mem::size_of::<f32>()
    }

    /// The rule of the next update (step `self.step`).
    fn rule(&self) -> Rule {
        match self.spec {
            OptimizerSpec::Sgd(Sgd {
                momentum,
                weight_decay,
            }) => Rule::Sgd {
                lr: self.lr,
                momentum: momentum as f32,
                weight_decay: weight_decay as f32,
            },
            OptimizerSpec::Adam(Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
            })
            | OptimizerSpec::AdamW(AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
            }) => Rule::Adam(Coefficients {
                lr: self.lr,
                beta1: beta1 as f32,
                beta2: beta2 as f32,
                eps: eps as f32,
                weight_decay: weight_decay as f32,
                decoupled: matches!(self.spec, OptimizerSpec::AdamW(_)),
                bias1: 1.0 - (beta1 as f32).powi(self.step),
                bias2_sqrt: (1.0 - (beta2 as f32).powi(self.step)).sqrt(),
            }),
        }
    }

    /// Applies one update to `layers` with gradients `grads` (same order and shapes).
    pub fn update(&mut self, layers: &mut Vec<Linear<D>>, mut grads: Vec<Linear<D>>) {
        assert_eq!(layers.len(), grads.len(), "one gradient per layer");
        self.step += 1;
        let rule = self.rule();
        match &mut self.state {
            State::Host(host) => {
                host.update(rule, fused::on_cpu(layers), fused::on_cpu(&mut grads))
            }
            State::Tensors { first, second } => {
                tensor_update(rule, layers, grads, first, second);
            }
        }
    }

    /// The moments' values, flat per tensor (first moments, then second), whichever path.
    #[cfg(test)]
    fn moments(&self) -> Vec<Vec<f32>> {
        match &self.state {
            State::Tensors { first, second } => first
                .iter()
                .chain(second)
                .flat_map(|l| [tests::values_of(&l.weight), tests::values_of(&l.bias)])
                .collect(),
            State::Host(host) => host.values(),
        }
    }
}

/// The update by dfdx tensor ops. Tensors are taken by value so that dfdx reuses their
/// buffers in place.
fn tensor_update<D: Device<f32>>(
    rule: Rule,
    layers: &mut Vec<Linear<D>>,
    grads: Vec<Linear<D>>,
    first: &mut Vec<Linear<D>>,
    second: &mut Vec<Linear<D>>,
) {
    let params = std::mem::take(layers);
    let firsts = std::mem::take(first);
    let seconds = std::mem::take(second);
    match rule {
        Rule::Sgd {
            lr,
            momentum: mu,
            weight_decay: wd,
        } => {
            for ((p, g), v) in params.into_iter().zip(grads).zip(firsts) {
                let (weight, vw) = sgd(p.weight, g.weight, v.weight, lr, mu, wd);
                let (bias, vb) = sgd(p.bias, g.bias, v.bias, lr, mu, wd);
                layers.push(Linear { weight, bias });
                first.push(Linear {
                    weight: vw,
                    bias: vb,
                });
            }
        }
        Rule::Adam(c) => {
            let state = firsts.into_iter().zip(seconds);
            for ((p, g), (m, v)) in params.into_iter().zip(grads).zip(state) {
                let (weight, mw, vw) = adam(p.weight, g.weight, m.weight, v.weight, c);
                let (bias, mb, vb) = adam(p.bias, g.bias, m.bias, v.bias, c);
                layers.push(Linear { weight, bias });
                first.push(Linear {
                    weight: mw,
                    bias: mb,
                });
                second.push(Linear {
                    weight: vw,
                    bias: vb,
                });
            }
        }
    }
}

type T<S, D> = Tensor<S, f32, D>;

fn sgd<S: Shape, D: Device<f32>>(
    p: T<S, D>,
    g: T<S, D>,
    v: T<S, D>,
    lr: f32,
    momentum: f32,
    weight_decay: f32,
) -> (T<S, D>, T<S, D>) {
    // A zero-size tensor (a cross-stitch unit's bias) has nothing to update, and on CUDA an
    // element-wise kernel over no elements is an invalid launch.
    if p.shape().num_elements() == 0 {
        return (p, v);
    }
    let g = if weight_decay > 0.0 {
        g + p.clone() * weight_decay
    } else {
        g
    };
    let v = if momentum > 0.0 { v * momentum + g } else { g };
    (p - v.clone() * lr, v)
}

fn adam<S: Shape, D: Device<f32>>(
    p: T<S, D>,
    g: T<S, D>,
    m: T<S, D>,
    v: T<S, D>,
    c: Coefficients,
) -> (T<S, D>, T<S, D>, T<S, D>) {
    if p.shape().num_elements() == 0 {
        return (p, m, v);
    }
    let (p, g) = match (c.weight_decay > 0.0, c.decoupled) {
        (false, _) => (p, g),
        (true, true) => (p * (1.0 - c.lr * c.weight_decay), g),
        (true, false) => {
            let g = g + p.clone() * c.weight_decay;
            (p, g)
        }
    };
    let m = m * c.beta1 + g.clone() * (1.0 - c.beta1);
    let v = v * c.beta2 + g.square() * (1.0 - c.beta2);
    // PyTorch's form: θ ← θ − (lr/b₁)·m / (√v/√b₂ + ε).
    let denom = v.clone().sqrt() * (1.0 / c.bias2_sqrt) + c.eps;
    let p = p - (m.clone() / denom) * (c.lr / c.bias1);
    (p, m, v)
}

/// Adam on a small host-side vector (task-weight parameters of FAMO and uncertainty
/// weighting), with PyTorch's `torch.optim.Adam` rule: L2 weight decay added to the
/// gradient, bias-corrected moments.
#[derive(Debug, Clone, PartialEq)]
pub struct HostAdam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Each coordinate's own step count: a coordinate skipped by `update_present` keeps its
    /// value, its moments and its count, as if that step had not happened to it.
    steps: Vec<i32>,
    first: Vec<f64>,
    second: Vec<f64>,
}

impl HostAdam {
    pub fn new(len: usize, lr: f64, weight_decay: f64) -> Self {
        HostAdam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            steps: vec![0; len],
            first: vec![0.0; len],
            second: vec![0.0; len],
        }
    }

    /// One update of `params` with gradient `grad`.
    pub fn update(&mut self, params: &mut [f64], grad: &[f64]) {
        for i in 0..params.len() {
            self.update_one(params, grad, i);
        }
    }

    /// One update of the coordinates `present` marks only (a task without a label in the
    /// batch: docs/FORMULAS.md#missing-labels); the others do not move.
    pub fn update_present(&mut self, params: &mut [f64], grad: &[f64], present: &[bool]) {
        for i in 0..params.len() {
            if present[i] {
                self.update_one(params, grad, i);
            }
        }
    }

    fn update_one(&mut self, params: &mut [f64], grad: &[f64], i: usize) {
        self.steps[i] += 1;
        let bias1 = 1.0 - self.beta1.powi(self.steps[i]);
        let bias2_sqrt = (1.0 - self.beta2.powi(self.steps[i])).sqrt();
        let g = grad[i] + self.weight_decay * params[i];
        self.first[i] = self.beta1 * self.first[i] + (1.0 - self.beta1) * g;
        self.second[i] = self.beta2 * self.second[i] + (1.0 - self.beta2) * g * g;
        let denom = self.second[i].sqrt() / bias2_sqrt + self.eps;
        params[i] -= self.lr / bias1 * self.first[i] / denom;
    }
}

#[cfg(test)]
mod host_tests {
    use super::*;

    /// The host Adam follows the same rule as the tensor Adam (first step ≈ lr·sign(g)).
    #[test]
    fn host_adam_matches_tensor_adam_rule() {
        let mut p = vec![1.0, 0.0];
        let mut adam = HostAdam::new(2, 0.01, 0.0);
        adam.update(&mut p, &[3.0, -0.5]);
        assert!(
            (p[0] - 0.99).abs() < 1e-9 && (p[1] - 0.01).abs() < 1e-9,
            "{p:?}"
        );
        let mut q = vec![2.0];
        let mut decayed = HostAdam::new(1, 0.1, 0.5);
        decayed.update(&mut q, &[0.0]);
        // g = 0 + 0.5·2 = 1 > 0, so θ moves down by lr.
        assert!((q[0] - 1.9).abs() < 1e-7);
    }

    /// A skipped coordinate keeps its value and its moments: its next update is a first
    /// step (lr·sign(g)), not one that a zero gradient's momentum has moved.
    #[test]
    fn skipped_coordinates_do_not_move() {
        let mut p = vec![1.0, 1.0];
        let mut adam = HostAdam::new(2, 0.01, 0.0);
        adam.update(&mut p, &[1.0, 1.0]);
        let after_one = p[1];
        adam.update_present(&mut p, &[1.0, 0.0], &[true, false]);
        assert_eq!(p[1], after_one);
        adam.update_present(&mut p, &[1.0, -4.0], &[true, true]);
        // Second step of coordinate 1: m = 0.9·0.1 − 0.4 = −0.31 → m̂ = −0.31/0.19.
        let m = (0.9 * 0.1 + 0.1 * -4.0) / (1.0 - 0.81);
        let v = (0.999 * 0.001 + 0.001 * 16.0) / (1.0 - 0.999f64.powi(2));
        assert!(
            (p[1] - (after_one - 0.01 * m / (v.sqrt() + 1e-8))).abs() < 1e-12,
            "{p:?}"
        );
    }
}
