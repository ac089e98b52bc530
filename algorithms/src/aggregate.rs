//! Gradient aggregators: from the per-task gradients gᵢ of the shared parameters (rows of
//! G) to one update direction d = Gᵀw. Each returns the weights w on the raw gᵢ, so the
//! direction, its telemetry and its tests share one form. Definitions: FORMULAS.md b.5.

use crate::solvers::{self, SolverReport};
use serde::{Deserialize, Serialize};

/// Weights on the raw task gradients (d = Σᵢ wᵢgᵢ) and, for methods that solve an inner
/// problem, how it was solved.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregation {
    pub weights: Vec<f64>,
    pub report: Option<SolverReport>,
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
    Aggregation {
        weights: alpha.iter().zip(&scale).map(|(a, s)| a * s).collect(),
        report: Some(report),
    }
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
    Aggregation {
        weights,
        report: None,
    }
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
    Aggregation {
        weights: w
            .iter()
            .map(|wi| (1.0 / t as f64 + lambda * wi) / divisor)
            .collect(),
        report: Some(report),
    }
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

    include!("aggregate_golden.rs");

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
        }
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

    /// Permuting the tasks permutes MGDA's and CAGrad's weights; PCGrad with one order
    /// for all tasks removes every conflict of each projected gradient with the others
    /// processed last.
    #[test]
    fn permutation_equivariance() {
        for grads in random_jacobians() {
            let t = grads.len();
            let perm: Vec<usize> = (0..t).rev().collect();
            let permuted: Vec<Vec<f32>> = perm.iter().map(|&i| grads[i].clone()).collect();
            let losses = vec![1.0; t];
            for (a, b) in [
                (
                    mgda(&grads, &losses, MgdaNormalizer::L2, 1e-10, 100_000).weights,
                    mgda(&permuted, &losses, MgdaNormalizer::L2, 1e-10, 100_000).weights,
                ),
                (
                    cagrad(&grads, 0.5, 1, 1e-10, 100_000).weights,
                    cagrad(&permuted, 0.5, 1, 1e-10, 100_000).weights,
                ),
            ] {
                let da = combine(&grads, &a);
                let db = combine(&permuted, &b);
                for (x, y) in da.iter().zip(&db) {
                    assert!((x - y).abs() < 1e-4, "{da:?} vs {db:?}");
                }
            }
        }
    }

    /// Without conflicts PCGrad is the plain sum and CAGrad with c = 0 is the mean.
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
}
