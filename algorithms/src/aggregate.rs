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
    /// A fallback the method took at this step instead of its rule, counted per run
    /// (`imtl_g_equal_weights`, `aligned_mtl_zero_update`).
    pub event: Option<&'static str>,
}

impl Aggregation {
    fn new(weights: Vec<f64>, report: Option<SolverReport>) -> Self {
        Aggregation {
            event: None,
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
/// Falls back to equal weights 1/T when DUᵀ is singular (event `imtl_g_equal_weights`).
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
    match solvers::solve_linear(&du_t, &rhs) {
        Some(rest) => Aggregation::new(
            std::iter::once(1.0 - rest.iter().sum::<f64>())
                .chain(rest)
                .collect(),
            None,
        ),
        None => Aggregation {
            event: Some("imtl_g_equal_weights"),
            ..Aggregation::new(vec![1.0 / t as f64; t], None)
        },
    }
}

/// Aligned-MTL (LibMTL): GGᵀ = VΛVᵀ keeping λ > λ_max·T·ε₃₂ (float32 machine epsilon, as
/// LibMTL's torch default); B = √λ_min·VΛ^{−1/2}Vᵀ; wᵢ = column sums of B. With no
/// eigenvalue kept (all gradients zero) the update is zero (event `aligned_mtl_zero_update`).
pub fn aligned_mtl(grads: &[Vec<f32>]) -> Aggregation {
    let t = grads.len();
    let (values, vectors) = solvers::symmetric_eigen(&solvers::gramian(grads));
    let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let tolerance = max * t as f64 * f64::from(f32::EPSILON);
    let kept: Vec<usize> = (0..t).filter(|&k| values[k] > tolerance).collect();
    if kept.is_empty() {
        return Aggregation {
            event: Some("aligned_mtl_zero_update"),
            ..Aggregation::new(vec![0.0; t], None)
        };
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

/// How UPGrad's inner problems treat the Gramian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UpGradRegularisation {
    /// The definition: Q = GGᵀ (scaled by its trace, which leaves every projection as it
    /// is), so each gᵢ lands exactly on the dual cone and gⱼᵀd ≥ 0 for every task.
    #[default]
    None,
    /// torchjd's default: Q = GGᵀ/tr(GGᵀ) (the zero matrix when tr < 1e-4) + 1e-4·I. The
    /// ridge moves the answer when the task gradients differ much in norm, and d may then
    /// conflict with a small task (gⱼᵀd ≥ −1e-4·tr(GGᵀ)·wⱼ only).
    Torchjd,
}

/// UPGrad: for each task i, vᵢ = argmin_v vᵀQv s.t. v ≥ eᵢ/T, with Q = GGᵀ (exact) or
/// torchjd's regularised Gramian; w = Σᵢ vᵢ. Each gᵢ/T is projected onto the dual cone
/// {d: Gd ≥ 0} of the rows of G, and the projections are summed. Each inner problem is
/// solved exactly by an active-set method (`solvers::min_quadratic_above_exact`), with
/// accelerated projected gradient to `tolerance` as the fallback when that fails (a
/// singular free block). The report is the worst of the T inner solves: the most linear
/// solves or iterations, and the largest KKT residual (on Q scaled to unit trace).
pub fn upgrad(
    grads: &[Vec<f32>],
    regularisation: UpGradRegularisation,
    tolerance: f64,
    max_iterations: usize,
) -> Aggregation {
    let t = grads.len();
    let gram = solvers::gramian(grads);
    let trace: f64 = (0..t).map(|i| gram[i][i]).sum();
    let q: Vec<Vec<f64>> = (0..t)
        .map(|i| {
            (0..t)
                .map(|j| match regularisation {
                    UpGradRegularisation::None if trace > 0.0 => gram[i][j] / trace,
                    UpGradRegularisation::None => 0.0,
                    UpGradRegularisation::Torchjd => {
                        let normalized = if trace < 1e-4 {
                            0.0
                        } else {
                            gram[i][j] / trace
                        };
                        normalized + if i == j { 1e-4 } else { 0.0 }
                    }
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
        let exact = solvers::min_quadratic_above_exact(&q, &lower).map(|(v, solves)| {
            let gap = solvers::quadratic_above_residual(&q, &lower, &v);
            (
                v,
                SolverReport {
                    iterations: solves,
                    gap,
                },
            )
        });
        let (v, report) = match exact {
            Some((v, report)) if report.gap <= tolerance => (v, report),
            _ => solvers::min_quadratic_above(&q, &lower, tolerance, max_iterations),
        };
        weights.iter_mut().zip(&v).for_each(|(w, x)| *w += x);
        worst.iterations = worst.iterations.max(report.iterations);
        worst.gap = worst.gap.max(report.gap);
    }
    Aggregation::new(weights, Some(worst))
}

/// Nash-MTL's bargaining weights: α > 0 with (Mα)ᵢ = 1/αᵢ for M = GGᵀ/‖GGᵀ‖_F (the
/// reference's normalisation: α is √‖GGᵀ‖_F times the solution of (GGᵀα)ᵢ = 1/αᵢ), solved
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
        event: None,
        weights: alpha.iter().map(|a| a * clip).collect(),
        report: Some(SolverReport { iterations, gap }),
        head_scales: Some(alpha),
        direction: None,
    }
}

/// DB-MTL's balancing of (already smoothed) task gradients ĝᵢ: αᵢ = maxⱼ‖ĝⱼ‖/(‖ĝᵢ‖ + 1e-8),
/// d = Σ αᵢĝᵢ (every task contributes with the largest norm). The 1e-8 is LibMTL's: a
/// vanishing ĝᵢ keeps a vanishing contribution instead of being blown up to the largest
/// norm. The direction is returned itself; the weights are the αᵢ on the ĝᵢ.
pub fn db_mtl(smoothed: &[Vec<f32>]) -> Aggregation {
    let norms: Vec<f64> = smoothed.iter().map(|g| solvers::dot(g, g).sqrt()).collect();
    let max = norms.iter().cloned().fold(0.0, f64::max);
    let alpha: Vec<f64> = norms.iter().map(|n| max / (n + 1e-8)).collect();
    Aggregation {
        event: None,
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
        event: None,
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
mod hard;
#[cfg(test)]
mod tests;
