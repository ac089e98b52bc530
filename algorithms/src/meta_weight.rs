//! Meta-Weight-Net adapted to task weighting (docs/FORMULAS.md#meta_weight_net): a small
//! host-side MLP V (2 → hidden → 1, ReLU then sigmoid) maps each task's features (its
//! loss Lᵢ and loss ratio Lᵢ/Lᵢ(first step)) to a raw weight vᵢ; the task weights are
//! v̄ᵢ = T·vᵢ/Σⱼvⱼ (the reference normalises to sum 1 over a batch; sum T keeps equal
//! weighting's scale). V is trained by the one-step look-ahead, first order: with gᵢ the
//! task gradients and g_val the gradient of the validation loss at θ̂ = θ − α Σ v̄ᵢgᵢ,
//! ∂L_val/∂v̄ᵢ ≈ −α g_valᵀgᵢ, chained through the normalisation and V by hand; SGD with
//! Nesterov momentum 0.9 and weight decay 5e-4 (the reference's meta optimiser).

use mtlbench_tasks::seed;
use rand::Rng;
use rand_distr::Uniform;

/// The weight network and its optimiser state. Parameters in one flat vector:
/// W1 (hidden×2), b1 (hidden), W2 (hidden), b2 (1).
#[derive(Debug, Clone, PartialEq)]
pub struct WeightMlp {
    hidden: usize,
    params: Vec<f64>,
    velocity: Vec<f64>,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
}

/// What the backward pass needs from the forward pass of one input.
struct Cache {
    input: [f64; 2],
    pre: Vec<f64>,
    out: f64,
}

impl WeightMlp {
    /// PyTorch's default initialisation (U(±1/√fan_in)) from the stream `seed`.
    pub fn new(hidden: usize, lr: f64, seed: u64) -> Self {
        let mut rng = seed::stream(seed, &["meta_weight_net"]);
        let mut params = Vec::with_capacity(4 * hidden + 1);
        let first = Uniform::new_inclusive(-1.0 / 2f64.sqrt(), 1.0 / 2f64.sqrt());
        params.extend((0..3 * hidden).map(|_| rng.sample(first)));
        let bound = 1.0 / (hidden as f64).sqrt();
        let second = Uniform::new_inclusive(-bound, bound);
        params.extend((0..hidden + 1).map(|_| rng.sample(second)));
        WeightMlp {
            hidden,
            velocity: vec![0.0; params.len()],
            params,
            lr,
            momentum: 0.9,
            weight_decay: 5e-4,
        }
    }

    fn forward_one(&self, input: [f64; 2]) -> Cache {
        let h = self.hidden;
        let (w1, rest) = self.params.split_at(2 * h);
        let (b1, rest) = rest.split_at(h);
        let (w2, b2) = rest.split_at(h);
        let pre: Vec<f64> = (0..h)
            .map(|k| w1[2 * k] * input[0] + w1[2 * k + 1] * input[1] + b1[k])
            .collect();
        let z: f64 = pre.iter().zip(w2).map(|(p, w)| p.max(0.0) * w).sum::<f64>() + b2[0];
        Cache {
            input,
            pre,
            out: 1.0 / (1.0 + (-z).exp()),
        }
    }

    /// The raw outputs vᵢ for each task's features.
    pub fn raw(&self, features: &[[f64; 2]]) -> Vec<f64> {
        features.iter().map(|f| self.forward_one(*f).out).collect()
    }

    /// The task weights v̄ᵢ = T·vᵢ/Σv.
    pub fn weights(&self, features: &[[f64; 2]]) -> Vec<f64> {
        normalise(&self.raw(features))
    }

    /// The gradient of a loss with respect to V's parameters, given the loss's gradient
    /// with respect to the normalised weights v̄.
    pub fn gradient(&self, features: &[[f64; 2]], d_weights: &[f64]) -> Vec<f64> {
        let t = features.len() as f64;
        let caches: Vec<Cache> = features.iter().map(|f| self.forward_one(*f)).collect();
        let raw: Vec<f64> = caches.iter().map(|c| c.out).collect();
        let sum: f64 = raw.iter().sum();
        // ∂v̄ᵢ/∂vⱼ = T(δᵢⱼ/S − vᵢ/S²).
        let weighted: f64 = d_weights.iter().zip(&raw).map(|(d, v)| d * v).sum();
        let d_raw: Vec<f64> = d_weights
            .iter()
            .map(|d| t * (d / sum - weighted / (sum * sum)))
            .collect();
        let h = self.hidden;
        let w2 = &self.params[3 * h..4 * h];
        let mut grad = vec![0.0; self.params.len()];
        for (c, dv) in caches.iter().zip(&d_raw) {
            let dz = dv * c.out * (1.0 - c.out);
            for k in 0..h {
                let active = c.pre[k] > 0.0;
                grad[3 * h + k] += dz * c.pre[k].max(0.0);
                if active {
                    let dpre = dz * w2[k];
                    grad[2 * k] += dpre * c.input[0];
                    grad[2 * k + 1] += dpre * c.input[1];
                    grad[2 * h + k] += dpre;
                }
            }
            grad[4 * h] += dz;
        }
        grad
    }

    /// One SGD step with Nesterov momentum and weight decay.
    pub fn step(&mut self, grad: &[f64]) {
        for ((p, v), g) in self.params.iter_mut().zip(&mut self.velocity).zip(grad) {
            let g = g + self.weight_decay * *p;
            *v = self.momentum * *v + g;
            *p -= self.lr * (g + self.momentum * *v);
        }
    }
}

/// v̄ᵢ = T·vᵢ/Σv (equal weights when the sum is 0).
fn normalise(raw: &[f64]) -> Vec<f64> {
    let sum: f64 = raw.iter().sum();
    let t = raw.len() as f64;
    if sum > 0.0 {
        raw.iter().map(|v| t * v / sum).collect()
    } else {
        vec![1.0; raw.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written gradient matches central finite differences of a loss of v̄.
    #[test]
    fn gradient_matches_finite_differences() {
        let net = WeightMlp::new(5, 0.1, 3);
        let features = [[0.7, 1.0], [1.3, 0.4], [0.2, 0.9]];
        // L(v̄) = Σ cᵢ v̄ᵢ².
        let c = [0.5, -1.0, 2.0];
        let loss = |n: &WeightMlp| -> f64 {
            n.weights(&features)
                .iter()
                .zip(&c)
                .map(|(v, c)| c * v * v)
                .sum()
        };
        let w = net.weights(&features);
        let d: Vec<f64> = w.iter().zip(&c).map(|(v, c)| 2.0 * c * v).collect();
        let grad = net.gradient(&features, &d);
        for i in 0..net.params.len() {
            let (mut up, mut down) = (net.clone(), net.clone());
            up.params[i] += 1e-6;
            down.params[i] -= 1e-6;
            let numeric = (loss(&up) - loss(&down)) / 2e-6;
            assert!(
                (numeric - grad[i]).abs() < 1e-6,
                "param {i}: {numeric} vs {}",
                grad[i]
            );
        }
        // Weights sum to T.
        assert!((w.iter().sum::<f64>() - 3.0).abs() < 1e-12);
    }
}
