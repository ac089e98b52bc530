//! Gradient aggregators: from the per-task gradients gᵢ of the shared parameters (rows of
//! G) to one update direction d = Gᵀw. Each returns the weights w on the raw gᵢ, so the
//! direction, its telemetry and its tests share one form. Definitions: FORMULAS.md b.5.

use crate::solvers::{self, SolverReport};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Weights on the raw task gradients (d = Σᵢ wᵢgᵢ) and, for methods that solve an inner
/// problem, how it was solved.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregation {
    pub weights: Vec<f64>,
    pub report: Option<SolverReport>,
    /// Scales of each task's own (head) gradients; `None` leaves them unscaled.
    pub head_scales: Option<Vec<f64>>,
    /// The shared direction itself, for methods whose direction is not a combination of
    /// this step's gᵢ (DB-MTL's moving averages); `None` means Gᵀw.
    pub direction: Option<Vec<f32>>,
}

impl Aggregation {
    fn new(weights: Vec<f64>, report: Option<SolverReport>) -> Self {
        Aggregation {
            weights,
            report,
            head_scales: None,
            direction: None,
        }
    }
}

/// d = Σᵢ wᵢ gᵢ.
pub fn combine(grads: &[Vec<f32>], weights: &[f64]) -> Vec<f32> {
    let len = grads.first().map_or(0, Vec::len);
    let mut out = vec![0.0f64; len];
    for (g, w) in grads.iter().zip(weights) {
        out.iter_mut()
            .zip(g)
            .for_each(|(o, x)| *o += w * f64::from(*x));
    }
    out.into_iter().map(|v| v as f32).collect()
}

/// MGDA's gradient normaliser ĝᵢ = gᵢ/nᵢ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MgdaNormalizer {
    /// nᵢ = 1.
    #[default]
    None,
    /// nᵢ = ‖gᵢ‖.
    L2,
    /// nᵢ = Lᵢ.
    Loss,
    /// nᵢ = Lᵢ‖gᵢ‖.
    LossPlus,
}

/// MGDA: α* = argmin_{α∈Δ} ‖Σ αᵢ ĝᵢ‖², d = Σ αᵢ* ĝᵢ (weights αᵢ*/nᵢ on the raw gᵢ).
pub fn mgda(
    grads: &[Vec<f32>],
    losses: &[f32],
    normalizer: MgdaNormalizer,
    tolerance: f64,
    max_iterations: usize,
) -> Aggregation {
    let norms: Vec<f64> = grads.iter().map(|g| solvers::dot(g, g).sqrt()).collect();
    let scale: Vec<f64> = (0..grads.len())
        .map(|i| {
            let loss = f64::from(losses[i]);
            let n = match normalizer {
                MgdaNormalizer::None => 1.0,
                MgdaNormalizer::L2 => norms[i],
                MgdaNormalizer::Loss => loss,
                MgdaNormalizer::LossPlus => loss * norms[i],
            };
            if n > 0.0 {
                1.0 / n
            } else {
                0.0
            }
        })
        .collect();
    let raw = solvers::gramian(grads);
    let m: Vec<Vec<f64>> = (0..grads.len())
        .map(|i| {
            (0..grads.len())
                .map(|j| scale[i] * scale[j] * raw[i][j])
                .collect()
        })
        .collect();
    let (alpha, report) = solvers::min_norm_weights(&m, tolerance, max_iterations);
    Aggregation::new(
        alpha.iter().zip(&scale).map(|(a, s)| a * s).collect(),
        Some(report),
    )
}

/// PCGrad: gᵢ′ ← gᵢ; for each j in `orders[i]`: if gᵢ′ᵀgⱼ < 0 then gᵢ′ ← gᵢ′ − (gᵢ′ᵀgⱼ/‖gⱼ‖²)gⱼ;
/// d = Σᵢ gᵢ′ (summed, as LibMTL). j = i is skipped unless `libmtl_loop` (LibMTL's loop does
/// not skip it). Each gᵢ′ is tracked as coefficients on the gⱼ, so d = Gᵀw exactly.
pub fn pcgrad(grads: &[Vec<f32>], orders: &[Vec<usize>], libmtl_loop: bool) -> Aggregation {
    let t = grads.len();
    let gram = solvers::gramian(grads);
    let mut weights = vec![0.0; t];
    for i in 0..t {
        // gᵢ′ = Σₖ c[k] gₖ, so gᵢ′ᵀgⱼ = Σₖ c[k] Gram[k][j].
        let mut c = vec![0.0; t];
        c[i] = 1.0;
        for &j in &orders[i] {
            if j == i && !libmtl_loop {
                continue;
            }
            let along: f64 = (0..t).map(|k| c[k] * gram[k][j]).sum();
            if along < 0.0 && gram[j][j] > 0.0 {
                c[j] -= along / gram[j][j];
            }
        }
        weights.iter_mut().zip(&c).for_each(|(w, ck)| *w += ck);
    }
    Aggregation::new(weights, None)
}

/// CAGrad (LibMTL's form): A = GGᵀ, ‖g₀‖ = √mean(A), φ = c‖g₀‖ + 1e-8,
/// w* = argmin_{w∈Δ} wᵀA(1/T)·1 + φ√(wᵀAw + 1e-8); g_w = Σ wᵢ*gᵢ;
/// d = ḡ + φ/(‖g_w‖ + 1e-8)·g_w, rescaled by 1/(1+c²) (mode 1), 1/(1+c) (mode 2) or not (0).
pub fn cagrad(
    grads: &[Vec<f32>],
    c: f64,
    rescale: u8,
    tolerance: f64,
    max_iterations: usize,
) -> Aggregation {
    let t = grads.len();
    let a = solvers::gramian(grads);
    let mean_a = a.iter().flatten().sum::<f64>() / (t * t) as f64;
    let phi = c * mean_a.max(0.0).sqrt() + 1e-8;
    let b: Vec<f64> = (0..t)
        .map(|i| a[i].iter().sum::<f64>() / t as f64)
        .collect();
    let (w, report) = solvers::minimize_on_simplex(
        t,
        |w| {
            let aw: Vec<f64> = (0..t)
                .map(|i| (0..t).map(|j| a[i][j] * w[j]).sum())
                .collect();
            let quad = (w.iter().zip(&aw).map(|(x, y)| x * y).sum::<f64>() + 1e-8).sqrt();
            let value = w.iter().zip(&b).map(|(x, y)| x * y).sum::<f64>() + phi * quad;
            let grad = (0..t).map(|i| b[i] + phi * aw[i] / quad).collect();
            (value, grad)
        },
        tolerance,
        max_iterations,
    );
    let gw_norm = (0..t)
        .map(|i| (0..t).map(|j| w[i] * w[j] * a[i][j]).sum::<f64>())
        .sum::<f64>()
        .max(0.0)
        .sqrt();
    let lambda = phi / (gw_norm + 1e-8);
    let divisor = match rescale {
        0 => 1.0,
        1 => 1.0 + c * c,
        _ => 1.0 + c,
    };
    Aggregation::new(
        w.iter()
            .map(|wi| (1.0 / t as f64 + lambda * wi) / divisor)
            .collect(),
        Some(report),
    )
}

/// IMTL-G (LibMTL): uᵢ = gᵢ/‖gᵢ‖, D = [g₁ − gₜ]ₜ₌₂..T, U = [u₁ − uₜ]ₜ₌₂..T,
/// α₂..T = g₁Uᵀ(DUᵀ)⁻¹, α₁ = 1 − Σα₂..T; d = Σ αₜgₜ (equal projections onto every uₜ).
/// Falls back to equal weights 1/T when DUᵀ is singular.
pub fn imtl_g(grads: &[Vec<f32>]) -> Aggregation {
    let t = grads.len();
    let gram = solvers::gramian(grads);
    let norm: Vec<f64> = (0..t).map(|i| gram[i][i].sqrt().max(1e-300)).collect();
    // gₐ·u_b = Gram[a][b]/‖g_b‖.
    let gu = |a: usize, b: usize| gram[a][b] / norm[b];
    let rhs: Vec<f64> = (1..t).map(|k| gu(0, 0) - gu(0, k)).collect();
    // (DUᵀ)[s][k] = (g₁ − gₛ)·(u₁ − uₖ); solve x·(DUᵀ) = g₁Uᵀ as (DUᵀ)ᵀxᵀ = (g₁Uᵀ)ᵀ.
    let du_t: Vec<Vec<f64>> = (1..t)
        .map(|k| {
            (1..t)
                .map(|s| gu(0, 0) - gu(0, k) - gu(s, 0) + gu(s, k))
                .collect()
        })
        .collect();
    let weights = match solvers::solve_linear(&du_t, &rhs) {
        Some(rest) => std::iter::once(1.0 - rest.iter().sum::<f64>())
            .chain(rest)
            .collect(),
        None => vec![1.0 / t as f64; t],
    };
    Aggregation::new(weights, None)
}

/// Aligned-MTL (LibMTL): GGᵀ = VΛVᵀ keeping λ > λ_max·T·ε₃₂ (float32 machine epsilon, as
/// LibMTL's torch default); B = √λ_min·VΛ^{−1/2}Vᵀ; wᵢ = column sums of B.
pub fn aligned_mtl(grads: &[Vec<f32>]) -> Aggregation {
    let t = grads.len();
    let (values, vectors) = solvers::symmetric_eigen(&solvers::gramian(grads));
    let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let tolerance = max * t as f64 * f64::from(f32::EPSILON);
    let kept: Vec<usize> = (0..t).filter(|&k| values[k] > tolerance).collect();
    if kept.is_empty() {
        return Aggregation::new(vec![0.0; t], None);
    }
    let lambda_min = kept
        .iter()
        .map(|&k| values[k])
        .fold(f64::INFINITY, f64::min);
    let weights = (0..t)
        .map(|j| {
            // Σᵢ Bᵢⱼ with B = √λ_min Σₖ vₖvₖᵀ/√λₖ.
            kept.iter()
                .map(|&k| {
                    (0..t).map(|i| vectors[i][k]).sum::<f64>() * vectors[j][k] / values[k].sqrt()
                })
                .sum::<f64>()
                * lambda_min.sqrt()
        })
        .collect();
    Aggregation::new(weights, None)
}

/// UPGrad (torchjd): Ĝ = GGᵀ/tr(GGᵀ) (the zero matrix when tr < 1e-4) + 1e-4·I; for each
/// task i, vᵢ = argmin_v vᵀĜv s.t. v ≥ eᵢ/T; w = Σᵢ vᵢ. Each gᵢ/T is projected onto the dual
/// cone of the rows of G, and the projections are summed. The report is the worst of the
/// T inner solves.
pub fn upgrad(grads: &[Vec<f32>], tolerance: f64, max_iterations: usize) -> Aggregation {
    let t = grads.len();
    let gram = solvers::gramian(grads);
    let trace: f64 = (0..t).map(|i| gram[i][i]).sum();
    let q: Vec<Vec<f64>> = (0..t)
        .map(|i| {
            (0..t)
                .map(|j| {
                    let normalized = if trace < 1e-4 {
                        0.0
                    } else {
                        gram[i][j] / trace
                    };
                    normalized + if i == j { 1e-4 } else { 0.0 }
                })
                .collect()
        })
        .collect();
    let mut weights = vec![0.0; t];
    let mut worst = SolverReport {
        iterations: 0,
        gap: 0.0,
    };
    for i in 0..t {
        let lower: Vec<f64> = (0..t)
            .map(|j| if j == i { 1.0 / t as f64 } else { 0.0 })
            .collect();
        let (v, report) = solvers::min_quadratic_above(&q, &lower, tolerance, max_iterations);
        weights.iter_mut().zip(&v).for_each(|(w, x)| *w += x);
        worst.iterations = worst.iterations.max(report.iterations);
        worst.gap = worst.gap.max(report.gap);
    }
    Aggregation::new(weights, Some(worst))
}

/// Nash-MTL's bargaining weights: α > 0 with (Mα)ᵢ = 1/αᵢ for M = GGᵀ/‖GGᵀ‖_F, solved
/// exactly (to `tolerance` on ‖Mα − 1/α‖) as the minimiser of ½αᵀMα − Σ log αᵢ by damped
/// Newton, not by the reference's CCCP. The update is that of Σ αᵢLᵢ (heads scaled by
/// αᵢ), with the shared part clipped to norm `max_norm` (as the reference).
pub fn nash_mtl(
    grads: &[Vec<f32>],
    max_norm: f64,
    tolerance: f64,
    max_iterations: usize,
) -> Aggregation {
    let t = grads.len();
    let gram = solvers::gramian(grads);
    let frobenius = gram
        .iter()
        .flatten()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(1e-300);
    let m: Vec<Vec<f64>> = gram
        .iter()
        .map(|r| r.iter().map(|x| x / frobenius).collect())
        .collect();
    let m_times = |a: &[f64]| -> Vec<f64> {
        (0..t)
            .map(|i| (0..t).map(|j| m[i][j] * a[j]).sum())
            .collect()
    };
    let phi = |a: &[f64]| -> f64 {
        let ma = m_times(a);
        0.5 * a.iter().zip(&ma).map(|(x, y)| x * y).sum::<f64>()
            - a.iter().map(|x| x.ln()).sum::<f64>()
    };
    let residual_of = |a: &[f64]| -> Vec<f64> {
        m_times(a)
            .iter()
            .zip(a)
            .map(|(ma, x)| ma - 1.0 / x)
            .collect()
    };
    let mut alpha = vec![1.0; t];
    let mut iterations = max_iterations;
    for iteration in 0..max_iterations {
        let grad = residual_of(&alpha);
        if grad.iter().map(|g| g * g).sum::<f64>().sqrt() <= tolerance {
            iterations = iteration;
            break;
        }
        let hessian: Vec<Vec<f64>> = (0..t)
            .map(|i| {
                (0..t)
                    .map(|j| {
                        m[i][j]
                            + if i == j {
                                1.0 / (alpha[i] * alpha[i])
                            } else {
                                0.0
                            }
                    })
                    .collect()
            })
            .collect();
        let negative: Vec<f64> = grad.iter().map(|g| -g).collect();
        let Some(direction) = solvers::solve_linear(&hessian, &negative) else {
            iterations = iteration;
            break;
        };
        // Backtracking: stay in α > 0 and do not increase the objective.
        let current = phi(&alpha);
        let mut step = 1.0;
        let mut moved = false;
        while step >= 1e-20 {
            let candidate: Vec<f64> = alpha
                .iter()
                .zip(&direction)
                .map(|(a, d)| a + step * d)
                .collect();
            if candidate.iter().all(|a| *a > 0.0) && phi(&candidate) <= current {
                alpha = candidate;
                moved = true;
                break;
            }
            step *= 0.5;
        }
        if !moved {
            iterations = iteration;
            break;
        }
    }
    let gap = residual_of(&alpha)
        .iter()
        .map(|g| g * g)
        .sum::<f64>()
        .sqrt();
    // Clip the shared update Σ αᵢgᵢ to max_norm; the heads keep αᵢ.
    let norm = (0..t)
        .map(|i| {
            (0..t)
                .map(|j| alpha[i] * alpha[j] * gram[i][j])
                .sum::<f64>()
        })
        .sum::<f64>()
        .max(0.0)
        .sqrt();
    let clip = if norm > max_norm {
        max_norm / norm
    } else {
        1.0
    };
    Aggregation {
        weights: alpha.iter().map(|a| a * clip).collect(),
        report: Some(SolverReport { iterations, gap }),
        head_scales: Some(alpha),
        direction: None,
    }
}

/// DB-MTL's balancing of (already smoothed) task gradients ĝᵢ: αᵢ = maxⱼ‖ĝⱼ‖/‖ĝᵢ‖,
/// d = Σ αᵢĝᵢ (every task contributes with the largest norm). The direction is returned
/// itself; the weights are the αᵢ on the ĝᵢ.
pub fn db_mtl(smoothed: &[Vec<f32>]) -> Aggregation {
    let norms: Vec<f64> = smoothed.iter().map(|g| solvers::dot(g, g).sqrt()).collect();
    let max = norms.iter().cloned().fold(0.0, f64::max);
    let alpha: Vec<f64> = norms
        .iter()
        .map(|n| if *n > 0.0 { max / n } else { 0.0 })
        .collect();
    Aggregation {
        direction: Some(combine(smoothed, &alpha)),
        weights: alpha,
        report: None,
        head_scales: None,
    }
}

/// How GradVac splits the shared parameters into groups with their own targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GradVacGranularity {
    /// One group: all shared parameters.
    #[default]
    Whole,
    /// One group per shared layer (weight and bias together).
    Layer,
    /// One group per shared parameter tensor.
    Tensor,
}

/// GradVac (LibMTL's loop): for each i, for j ≠ i in `orders[i]`, per group k with
/// ρ = cos(gᵢ′, gⱼ): if ρ < φ̂ᵢⱼₖ then gᵢ′ += gⱼ·‖gᵢ′‖(φ̂√(1−ρ²) − ρ√(1−φ̂²))/(‖gⱼ‖√(1−φ̂²));
/// always φ̂ᵢⱼₖ ← (1−β)φ̂ᵢⱼₖ + βρ. d = Σᵢ gᵢ′. `targets` holds φ̂ (T·T·K, row-major).
pub fn gradvac(
    grads: &[Vec<f32>],
    orders: &[Vec<usize>],
    groups: &[Range<usize>],
    beta: f64,
    targets: &mut [f64],
) -> Aggregation {
    let t = grads.len();
    let k_count = groups.len();
    let len = grads.first().map_or(0, Vec::len);
    let raw: Vec<Vec<f64>> = grads
        .iter()
        .map(|g| g.iter().map(|x| f64::from(*x)).collect())
        .collect();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut direction = vec![0.0f64; len];
    for i in 0..t {
        let mut g = raw[i].clone();
        for &j in &orders[i] {
            if j == i {
                continue;
            }
            for (k, range) in groups.iter().enumerate() {
                let gi = &g[range.clone()];
                let gj = &raw[j][range.clone()];
                let (ni, nj) = (dot(gi, gi).sqrt(), dot(gj, gj).sqrt());
                let rho = if ni > 0.0 && nj > 0.0 {
                    dot(gi, gj) / (ni * nj)
                } else {
                    0.0
                };
                let target = &mut targets[(i * t + j) * k_count + k];
                if rho < *target && nj > 0.0 {
                    let phi = *target;
                    let w = ni * (phi * (1.0 - rho * rho).sqrt() - rho * (1.0 - phi * phi).sqrt())
                        / (nj * (1.0 - phi * phi).sqrt());
                    for (x, y) in g[range.clone()].iter_mut().zip(gj) {
                        *x += w * y;
                    }
                }
                *target = (1.0 - beta) * *target + beta * rho;
            }
        }
        direction.iter_mut().zip(&g).for_each(|(d, x)| *d += x);
    }
    Aggregation {
        weights: vec![1.0; t],
        report: None,
        head_scales: None,
        direction: Some(direction.into_iter().map(|v| v as f32).collect()),
    }
}

/// GradDrop (LibMTL's form, leak ℓ) on per-sample representation gradients Gᵢ (n × width):
/// ∇ᵢ = Σ_batch sign(rep)·Gᵢ (width); P = ½(1 + Σᵢ∇ᵢ/(Σᵢ|∇ᵢ| + 1e-7)); with U (width, from
/// the run's stream) Mᵢ = 1[P > U]·1[∇ᵢ > 0] + 1[P < U]·1[∇ᵢ < 0]; the gradient passed back
/// is Σᵢ Gᵢ ⊙ (ℓ + (1−ℓ)Mᵢ) (masks broadcast over the batch).
pub fn graddrop(
    per_sample: &[Vec<f32>],
    rep: &[f32],
    width: usize,
    uniform: &[f64],
    leak: f64,
) -> Vec<f32> {
    let rows = rep.len() / width.max(1);
    let signal: Vec<Vec<f64>> = per_sample
        .iter()
        .map(|g| {
            let mut s = vec![0.0f64; width];
            for r in 0..rows {
                for c in 0..width {
                    let k = r * width + c;
                    s[c] += f64::from(rep[k].signum() * f32::from(rep[k] != 0.0)) * f64::from(g[k]);
                }
            }
            s
        })
        .collect();
    let odds: Vec<f64> = (0..width)
        .map(|c| {
            let sum: f64 = signal.iter().map(|s| s[c]).sum();
            let abs: f64 = signal.iter().map(|s| s[c].abs()).sum();
            0.5 * (1.0 + sum / (abs + 1e-7))
        })
        .collect();
    let mut out = vec![0.0f32; rep.len()];
    for (g, s) in per_sample.iter().zip(&signal) {
        let keep: Vec<f64> = (0..width)
            .map(|c| {
                let mask =
                    (odds[c] > uniform[c] && s[c] > 0.0) || (odds[c] < uniform[c] && s[c] < 0.0);
                leak + (1.0 - leak) * f64::from(u8::from(mask))
            })
            .collect();
        for r in 0..rows {
            for c in 0..width {
                let k = r * width + c;
                out[k] += (f64::from(g[k]) * keep[c]) as f32;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The golden Jacobians of `scripts/golden_aggregators.py` (T = 3, P = 5).
    fn conflicting() -> Vec<Vec<f32>> {
        vec![
            vec![1.0, -2.0, 0.5, 0.0, 3.0],
            vec![-1.5, 1.0, 0.0, 2.0, -1.0],
            vec![0.5, 0.5, -2.0, 1.0, 0.0],
        ]
    }
    fn aligned() -> Vec<Vec<f32>> {
        vec![
            vec![1.0, 0.5, 0.2, 0.0, 0.3],
            vec![0.8, 0.7, 0.0, 0.1, 0.2],
            vec![1.2, 0.4, 0.3, 0.2, 0.1],
        ]
    }
    const LOSSES: [f32; 3] = [0.5, 2.0, 1.5];

    fn assert_close(got: &[f32], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!(
                (f64::from(*g) - w).abs() < 1e-5,
                "got {got:?}, want {want:?}"
            );
        }
    }

    include!("aggregate/golden.rs");

    #[test]
    fn golden_numbers() {
        for (name, grads) in [("conflicting", conflicting()), ("aligned", aligned())] {
            for (normalizer, want) in golden_mgda(name) {
                let agg = mgda(&grads, &LOSSES, normalizer, 1e-10, 100_000);
                assert_close(&combine(&grads, &agg.weights), &want);
            }
            let orders = vec![vec![1, 2, 0], vec![2, 0, 1], vec![0, 1, 2]];
            assert_close(
                &combine(&grads, &pcgrad(&grads, &orders, false).weights),
                &golden_pcgrad(name),
            );
            for (rescale, want) in golden_cagrad(name) {
                let agg = cagrad(&grads, 0.5, rescale, 1e-10, 100_000);
                assert_close(&combine(&grads, &agg.weights), &want);
            }
            assert_close(
                &combine(&grads, &imtl_g(&grads).weights),
                &golden_imtl_g(name),
            );
            // GradVac, two steps (the second uses the targets the first left), whole model
            // and two groups of the 5 coordinates.
            for (groups, want) in [
                (
                    std::iter::once(0..5).collect::<Vec<_>>(),
                    golden_gradvac_whole(name),
                ),
                (vec![0..2, 2..5], golden_gradvac_groups(name)),
            ] {
                let mut targets = vec![0.0; 9 * groups.len()];
                let first = gradvac(&grads, &orders, &groups, 0.5, &mut targets);
                let second = gradvac(&grads, &orders, &groups, 0.5, &mut targets);
                let both: Vec<f32> = first
                    .direction
                    .unwrap()
                    .into_iter()
                    .chain(second.direction.unwrap())
                    .collect();
                assert_close(&both, &want);
            }
            assert_close(
                &combine(&grads, &aligned_mtl(&grads).weights),
                &golden_aligned_mtl(name),
            );
            assert_close(
                &combine(&grads, &upgrad(&grads, 1e-12, 100_000).weights),
                &golden_upgrad(name),
            );
            let nash = nash_mtl(&grads, 100.0, 1e-12, 100);
            assert_close(&combine(&grads, &nash.weights), &golden_nash_mtl(name));
            assert_eq!(
                nash.head_scales.as_ref(),
                Some(&nash.weights),
                "no clipping at max_norm 100"
            );
            let clipped = nash_mtl(&grads, 1.0, 1e-12, 100);
            assert_close(
                &combine(&grads, &clipped.weights),
                &golden_nash_mtl_clipped(name),
            );
        }
    }

    /// GradDrop by hand: width 2, two samples, two tasks. Column 0: both tasks push the
    /// same way (P = 1), so every positive signal is kept whatever U; column 1: the tasks
    /// disagree, P = ½(1 + (2 − 1)/3) = 2/3, and U = 0.5 keeps the positive task only.
    #[test]
    fn graddrop_by_hand() {
        let rep = [1.0f32, 1.0, 2.0, -1.0];
        let g0 = vec![1.0f32, 1.0, 1.0, -1.0]; // signal: (1 + 2·1, 1 + (−1)(−1)) = (3, 2)
        let g1 = vec![0.5f32, -1.0, 0.0, 0.0]; // signal: (0.5, −1)
        let out = graddrop(&[g0.clone(), g1.clone()], &rep, 2, &[0.99, 0.5], 0.0);
        // Column 0 keeps both; column 1 keeps task 0 only.
        assert_eq!(out, vec![1.5, 1.0, 1.0, -1.0]);
        // With leak 1 nothing is dropped: the plain sum.
        let sum: Vec<f32> = g0.iter().zip(&g1).map(|(a, b)| a + b).collect();
        assert_eq!(graddrop(&[g0, g1], &rep, 2, &[0.99, 0.5], 1.0), sum);
    }

    /// Seeded random Jacobians for the property checks.
    fn random_jacobians() -> Vec<Vec<Vec<f32>>> {
        use rand::Rng;
        let mut rng = mtlbench_tasks::seed::stream(1, &["aggregate-properties"]);
        (0..50)
            .map(|k| {
                let t = 2 + k % 5;
                (0..t)
                    .map(|_| (0..7).map(|_| rng.gen_range(-1.0f32..1.0)).collect())
                    .collect()
            })
            .collect()
    }

    /// UPGrad and Nash-MTL never conflict with a task (gᵢᵀd ≥ 0); IMTL-G's update has
    /// equal projections on every task's unit gradient.
    #[test]
    fn upgrad_and_nash_are_non_conflicting_imtl_projects_equally() {
        for grads in random_jacobians() {
            for d in [
                combine(&grads, &upgrad(&grads, 1e-12, 100_000).weights),
                combine(&grads, &nash_mtl(&grads, 1e9, 1e-12, 100).weights),
            ] {
                for g in &grads {
                    assert!(
                        solvers::dot(g, &d) >= -1e-6,
                        "conflict: {}",
                        solvers::dot(g, &d)
                    );
                }
            }
            let d = combine(&grads, &imtl_g(&grads).weights);
            let projections: Vec<f64> = grads
                .iter()
                .map(|g| solvers::dot(g, &d) / solvers::dot(g, g).sqrt())
                .collect();
            for p in &projections {
                assert!(
                    (p - projections[0]).abs() < 1e-3 * projections[0].abs().max(1.0),
                    "{projections:?}"
                );
            }
        }
    }

    /// MGDA's min-norm direction never conflicts: gᵢᵀd ≥ ‖d‖² ≥ 0 for every task.
    #[test]
    fn mgda_is_non_conflicting() {
        for grads in random_jacobians() {
            let losses = vec![1.0; grads.len()];
            let d = combine(
                &grads,
                &mgda(&grads, &losses, MgdaNormalizer::None, 1e-10, 100_000).weights,
            );
            let dd = solvers::dot(&d, &d);
            for g in &grads {
                assert!(solvers::dot(g, &d) >= dd - 1e-5, "gᵀd below ‖d‖²");
            }
        }
    }

    #[test]
    fn reduces_to_plain_sums_without_conflict() {
        let grads = aligned();
        let orders = vec![vec![0, 1, 2]; 3];
        assert_eq!(pcgrad(&grads, &orders, false).weights, vec![1.0, 1.0, 1.0]);
        let w = cagrad(&grads, 0.0, 1, 1e-10, 100_000).weights;
        for wi in w {
            assert!((wi - 1.0 / 3.0).abs() < 1e-6);
        }
    }

    mod properties {
        //! torchjd-style properties of the aggregators on random Jacobians (proptest).
        use super::super::*;
        use proptest::prelude::*;

        /// T×P Jacobians with T in 2..=5, P = 6, entries in [−1, 1].
        fn jacobian() -> impl Strategy<Value = Vec<Vec<f32>>> {
            (2usize..=5)
                .prop_flat_map(|t| prop::collection::vec(prop::collection::vec(-1.0f32..1.0, 6), t))
        }

        fn close(a: &[f32], b: &[f32], tolerance: f32) -> bool {
            a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= tolerance * (1.0 + y.abs()))
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

            /// MGDA and Nash-MTL never conflict with a task: Gd ≥ 0. UPGrad's ridge
            /// (Ĝ = GGᵀ/tr + εI, ε = 1e-4, as torchjd) relaxes its projections: from the
            /// KKT conditions of each projection, gⱼᵀd ≥ −ε·tr(GGᵀ)·wⱼ — near-singular G
            /// reach that bound (found by this test: a 5×6 Jacobian with gⱼᵀd = −6e-4).
            #[test]
            fn non_conflicting(g in jacobian()) {
                let ones = vec![1.0f32; g.len()];
                let trace: f64 = g.iter().map(|gi| solvers::dot(gi, gi)).sum();
                let exact = vec![0.0; g.len()];
                let up = upgrad(&g, 1e-10, 100_000).weights;
                let ridge: Vec<f64> = up.iter().map(|w| 1e-4 * trace * w).collect();
                for (d, slack) in [
                    (combine(&g, &mgda(&g, &ones, MgdaNormalizer::None, 1e-10, 100_000).weights), &exact),
                    (combine(&g, &up), &ridge),
                    (combine(&g, &nash_mtl(&g, 1e9, 1e-10, 100).weights), &exact),
                ] {
                    for (gi, s) in g.iter().zip(slack) {
                        prop_assert!(solvers::dot(gi, &d) >= -s - 1e-5);
                    }
                }
            }

            /// Reversing the task order leaves each method's update unchanged.
            #[test]
            fn permutation_invariant_update(g in jacobian()) {
                let reversed: Vec<Vec<f32>> = g.iter().rev().cloned().collect();
                let ones = vec![1.0f32; g.len()];
                let pairs = [
                    (mgda(&g, &ones, MgdaNormalizer::L2, 1e-10, 100_000).weights, mgda(&reversed, &ones, MgdaNormalizer::L2, 1e-10, 100_000).weights),
                    (cagrad(&g, 0.5, 1, 1e-10, 100_000).weights, cagrad(&reversed, 0.5, 1, 1e-10, 100_000).weights),
                    (upgrad(&g, 1e-10, 100_000).weights, upgrad(&reversed, 1e-10, 100_000).weights),
                    (aligned_mtl(&g).weights, aligned_mtl(&reversed).weights),
                ];
                for (a, b) in pairs {
                    prop_assert!(close(&combine(&g, &a), &combine(&reversed, &b), 1e-3));
                }
            }

            /// MGDA with the l2 normaliser ignores a positive rescaling of a task's gradient
            /// (ĝᵢ = gᵢ/‖gᵢ‖). IMTL-G does not: its weights sum to 1, so scaling g₁ moves d.
            #[test]
            fn scale_invariant(g in jacobian(), c in 0.1f32..10.0) {
                let mut scaled = g.clone();
                scaled[0].iter_mut().for_each(|x| *x *= c);
                let ones = vec![1.0f32; g.len()];
                let a = combine(&g, &mgda(&g, &ones, MgdaNormalizer::L2, 1e-10, 100_000).weights);
                let b = combine(&scaled, &mgda(&scaled, &ones, MgdaNormalizer::L2, 1e-10, 100_000).weights);
                prop_assert!(close(&a, &b, 1e-3));
            }
        }
    }
}
