//! Gradient-conflict measures on the per-task gradients of the shared parameters and the
//! applied update (docs/FORMULAS.md#gradient-conflict): pairwise cosines, conflict ratio and
//! severity, gradient magnitude similarity, update conflict, alignment with the mean gradient, the
//! norm of the summed gradient, the condition number of GGᵀ, GradDrop's sign purity, and
//! each task's gradient norm with the ratio of the largest to the smallest
//! (docs/FORMULAS.md#gradient-magnitudes); optionally the pairwise cosines per shared layer. During training they read the
//! Gramian of G (accumulated in f64), the products Gd and the column sums of G; the
//! host forms on `&[Vec<f32>]` serve the tests.

use crate::jacobian::{Direction, Jacobian};
use crate::solvers;
use dfdx::prelude::*;

/// One measured value; `tasks` names the task pair it is about, or (i, i) for a measure of
/// task i alone (`grad_norm`).
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub name: &'static str,
    pub tasks: Option<(usize, usize)>,
    /// The shared layer it was measured on (`None`: all shared parameters).
    pub layer: Option<usize>,
    pub value: f64,
}

impl Measure {
    fn all(name: &'static str, tasks: Option<(usize, usize)>, value: f64) -> Self {
        Measure {
            name,
            tasks,
            layer: None,
            value,
        }
    }
}

/// cos(a, b), NaN when either is zero.
fn cosine(ab: f64, aa: f64, bb: f64) -> f64 {
    if aa > 0.0 && bb > 0.0 {
        ab / (aa.sqrt() * bb.sqrt())
    } else {
        f64::NAN
    }
}

/// The pairwise cosines on each shared layer: `layer_sizes[l]` consecutive entries of
/// every gradient belong to layer l (the layout of `engine::flatten`).
pub fn layer_cosines(grads: &[Vec<f32>], layer_sizes: &[usize]) -> Vec<Measure> {
    let mut offset = 0;
    let blocks: Vec<Vec<Vec<f64>>> = layer_sizes
        .iter()
        .map(|&size| {
            let part: Vec<Vec<f32>> = grads
                .iter()
                .map(|g| g[offset..offset + size].to_vec())
                .collect();
            offset += size;
            solvers::gramian(&part)
        })
        .collect();
    layer_cosines_from(&blocks)
}

/// The pairwise cosines on each shared layer, from the layers' block Gramians.
pub fn layer_cosines_from(blocks: &[Vec<Vec<f64>>]) -> Vec<Measure> {
    let mut out = Vec::new();
    for (l, gram) in blocks.iter().enumerate() {
        for i in 0..gram.len() {
            for j in i + 1..gram.len() {
                out.push(Measure {
                    name: "layer_cosine",
                    tasks: Some((i, j)),
                    layer: Some(l),
                    value: cosine(gram[i][j], gram[i][i], gram[j][j]),
                });
            }
        }
    }
    out
}

/// The pairwise cosines on each shared layer of G on the device (one block Gramian per
/// layer).
pub fn layer_cosines_on_device<D: Device<f32>>(g: &Jacobian<D>) -> Vec<Measure> {
    let blocks: Vec<Vec<Vec<f64>>> = g
        .layer_ranges()
        .into_iter()
        .map(|r| g.block_gramian(r))
        .collect();
    layer_cosines_from(&blocks)
}

/// GradDrop's sign purity Pₖ = ½(1 + Σᵢ gᵢₖ / Σᵢ |gᵢₖ|) per parameter k, summarised as the
/// mean of max(Pₖ, 1 − Pₖ) over parameters with a non-zero gradient: 1 when every task's
/// gradient has the same sign on every parameter, ½ when the signs cancel everywhere.
pub fn sign_purity(grads: &[Vec<f32>]) -> f64 {
    let len = grads.first().map_or(0, Vec::len);
    let (sums, abs): (Vec<f64>, Vec<f64>) = (0..len)
        .map(|k| {
            grads.iter().fold((0.0f64, 0.0f64), |(s, a), g| {
                (s + f64::from(g[k]), a + f64::from(g[k].abs()))
            })
        })
        .unzip();
    sign_purity_from(&sums, &abs)
}

/// The sign purity from the column sums Σᵢ gᵢₖ and Σᵢ |gᵢₖ|.
pub fn sign_purity_from(sums: &[f64], abs: &[f64]) -> f64 {
    let (mut total, mut counted) = (0.0f64, 0usize);
    for (sum, abs) in sums.iter().zip(abs) {
        if *abs > 0.0 {
            let p = 0.5 * (1.0 + sum / abs);
            total += p.max(1.0 - p);
            counted += 1;
        }
    }
    if counted == 0 {
        f64::NAN
    } else {
        total / counted as f64
    }
}

/// What the conflict measures read: the Gramian GGᵀ, each gᵢᵀd for the applied update d,
/// ‖d‖², and the sign purity of G.
pub struct Inputs {
    pub gram: Vec<Vec<f64>>,
    pub g_dot_d: Vec<f64>,
    pub d_norm_sq: f64,
    pub sign_purity: f64,
}

/// Every conflict measure for task gradients `grads` (rows of G) and applied update `d`,
/// on the host.
pub fn measures(grads: &[Vec<f32>], update: &[f32]) -> Vec<Measure> {
    measures_from(&Inputs {
        gram: solvers::gramian(grads),
        g_dot_d: grads.iter().map(|g| solvers::dot(g, update)).collect(),
        d_norm_sq: solvers::dot(update, update),
        sign_purity: sign_purity(grads),
    })
}

/// Every conflict measure for G on the device and the applied update `update` ([P] on the
/// device, in G's blocks): the Gramian and Gd on the device, the column sums for the sign
/// purity.
pub fn measures_on_device<D: Device<f32>>(
    g: &mut Jacobian<D>,
    update: &Direction<D>,
) -> Vec<Measure> {
    let (sums, abs) = g.column_sums();
    let widen = |v: Vec<f32>| -> Vec<f64> { v.into_iter().map(f64::from).collect() };
    let d_norm_sq = update.norm_squared();
    measures_from(&Inputs {
        gram: g.gramian(),
        g_dot_d: g.times(update),
        d_norm_sq,
        sign_purity: sign_purity_from(&widen(sums), &widen(abs)),
    })
}

/// Every conflict measure from what they read.
pub fn measures_from(inputs: &Inputs) -> Vec<Measure> {
    let gram = &inputs.gram;
    let t = gram.len();
    let norm: Vec<f64> = (0..t).map(|i| gram[i][i].max(0.0).sqrt()).collect();
    let mut out = Vec::new();
    let mut conflicts = 0usize;
    let mut severity = Vec::new();
    for i in 0..t {
        for j in i + 1..t {
            let cos = cosine(gram[i][j], gram[i][i], gram[j][j]);
            let gms = 2.0 * norm[i] * norm[j] / (gram[i][i] + gram[j][j]);
            out.push(Measure::all("cosine", Some((i, j)), cos));
            out.push(Measure::all("magnitude_similarity", Some((i, j)), gms));
            if gram[i][j] < 0.0 {
                conflicts += 1;
                severity.push(-cos);
            }
        }
    }
    let pairs = t * (t.saturating_sub(1)) / 2;
    let ratio = if pairs > 0 {
        conflicts as f64 / pairs as f64
    } else {
        f64::NAN
    };
    out.push(Measure::all("conflict_ratio", None, ratio));
    let mean_severity = if severity.is_empty() {
        f64::NAN
    } else {
        severity.iter().sum::<f64>() / severity.len() as f64
    };
    out.push(Measure::all("conflict_severity", None, mean_severity));
    // Update conflict: tasks whose gradient points against the applied update.
    let against = inputs.g_dot_d.iter().filter(|x| **x < 0.0).count();
    out.push(Measure::all("update_conflicts", None, against as f64));
    // ‖Σᵢgᵢ‖² = Σᵢⱼ (GGᵀ)ᵢⱼ and (Σᵢgᵢ)ᵀd = Σᵢ gᵢᵀd.
    let sum_norm = gram.iter().flatten().sum::<f64>().max(0.0).sqrt();
    out.push(Measure::all("norm_sum_grads", None, sum_norm));
    let d_norm = inputs.d_norm_sq.max(0.0).sqrt();
    let alignment = if d_norm > 0.0 && sum_norm > 0.0 {
        inputs.g_dot_d.iter().sum::<f64>() / (d_norm * sum_norm)
    } else {
        f64::NAN
    };
    out.push(Measure::all("cos_update_mean_grad", None, alignment));
    let (values, _) = solvers::symmetric_eigen(gram);
    let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
    // Eigenvalues at rounding level of the largest mean a singular GGᵀ: κ = ∞.
    let condition = if min > max * 1e-12 {
        (max / min).sqrt()
    } else {
        f64::INFINITY
    };
    out.push(Measure::all("condition_number", None, condition));
    out.push(Measure::all("sign_purity", None, inputs.sign_purity));
    // Magnitudes (docs/FORMULAS.md#gradient-magnitudes), after the older measures so that
    // their order in a record is unchanged.
    for (i, n) in norm.iter().enumerate() {
        out.push(Measure::all("grad_norm", Some((i, i)), *n));
    }
    out.push(Measure::all("grad_norm_ratio", None, norm_ratio(&norm)));
    out
}

/// max ‖gᵢ‖ / min ‖gᵢ‖ (≥ 1): ∞ when a task's gradient is zero and another's is not, NaN
/// when all are zero or there are none.
pub fn norm_ratio(norms: &[f64]) -> f64 {
    let max = norms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let min = norms.iter().cloned().fold(f64::INFINITY, f64::min);
    if norms.is_empty() || max <= 0.0 {
        f64::NAN
    } else if min <= 0.0 {
        f64::INFINITY
    } else {
        max / min
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(m: &[Measure], name: &str, tasks: Option<(usize, usize)>) -> f64 {
        m.iter()
            .find(|x| x.name == name && x.tasks == tasks)
            .unwrap()
            .value
    }

    /// g₀ = (1, 0), g₁ = (−1, 1), g₂ = (0, 2); update d = (1, 0).
    #[test]
    fn measures_by_hand() {
        let grads = vec![vec![1.0f32, 0.0], vec![-1.0, 1.0], vec![0.0, 2.0]];
        let m = measures(&grads, &[1.0, 0.0]);
        let r2 = 2f64.sqrt();
        assert!((value(&m, "cosine", Some((0, 1))) + 1.0 / r2).abs() < 1e-12);
        assert!((value(&m, "cosine", Some((1, 2))) - 1.0 / r2).abs() < 1e-12);
        // GMS(0, 2) = 2·1·2/(1 + 4).
        assert!((value(&m, "magnitude_similarity", Some((0, 2))) - 0.8).abs() < 1e-12);
        // Only the pair (0, 1) conflicts: ratio 1/3, severity 1/√2.
        assert!((value(&m, "conflict_ratio", None) - 1.0 / 3.0).abs() < 1e-12);
        assert!((value(&m, "conflict_severity", None) - 1.0 / r2).abs() < 1e-12);
        // g₁ᵀd = −1 < 0: one task conflicts with the update.
        assert_eq!(value(&m, "update_conflicts", None), 1.0);
        // Σg = (0, 3): norm 3, orthogonal to d.
        assert!((value(&m, "norm_sum_grads", None) - 3.0).abs() < 1e-12);
        assert!(value(&m, "cos_update_mean_grad", None).abs() < 1e-12);
        // Three gradients in the plane: GGᵀ is singular, κ infinite.
        assert!(value(&m, "condition_number", None).is_infinite());
        let two = measures(&grads[..2], &[1.0, 0.0]);
        // GGᵀ = [[1, −1], [−1, 2]]: λ = (3 ± √5)/2.
        let expected = ((3.0 + 5f64.sqrt()) / (3.0 - 5f64.sqrt())).sqrt();
        assert!((value(&two, "condition_number", None) - expected).abs() < 1e-9);
        // Signs per coordinate: (+, −, 0) → P = ½(1 + (1−1)/2) = ½; (0, +, +) → P = 1.
        assert!((value(&m, "sign_purity", None) - 0.75).abs() < 1e-12);
    }

    #[test]
    fn sign_purity_and_layer_cosines_by_hand() {
        // One parameter, gradients 3 and −1: P = ½(1 + 2/4) = ¾.
        assert!((sign_purity(&[vec![3.0], vec![-1.0]]) - 0.75).abs() < 1e-12);
        // P = ¼ on the first parameter scores the same (max(P, 1 − P)); the second (all
        // zero) is skipped.
        assert!((sign_purity(&[vec![-3.0, 0.0], vec![1.0, 0.0]]) - 0.75).abs() < 1e-12);
        // Layers of sizes 2 and 1: layer 0 (1, 0)·(0, 1) → 0; layer 1 (2)·(−1) → −1.
        let m = layer_cosines(&[vec![1.0, 0.0, 2.0], vec![0.0, 1.0, -1.0]], &[2, 1]);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].layer, m[0].value), (Some(0), 0.0));
        assert_eq!((m[1].layer, m[1].value), (Some(1), -1.0));
    }

    fn norms(m: &[Measure]) -> Vec<f64> {
        m.iter()
            .filter(|x| x.name == "grad_norm")
            .map(|x| {
                let (i, j) = x.tasks.unwrap();
                assert_eq!(i, j);
                x.value
            })
            .collect()
    }

    /// A hand-made Jacobian: rows (3, 4, 0), (0, 0, −2), (1, 0, 0) have norms 5, 2 and 1,
    /// in task order (task i's norm is measure (i, i)); the ratio is 5/1. A zero row makes
    /// the ratio infinite; all zero, undefined.
    #[test]
    fn gradient_norms_by_hand() {
        let grads = vec![
            vec![3.0f32, 4.0, 0.0],
            vec![0.0, 0.0, -2.0],
            vec![1.0, 0.0, 0.0],
        ];
        let m = measures(&grads, &[1.0, 0.0, 0.0]);
        assert_eq!(norms(&m), vec![5.0, 2.0, 1.0]);
        let tasks: Vec<(usize, usize)> = m
            .iter()
            .filter(|x| x.name == "grad_norm")
            .map(|x| x.tasks.unwrap())
            .collect();
        assert_eq!(tasks, vec![(0, 0), (1, 1), (2, 2)]);
        assert_eq!(value(&m, "grad_norm_ratio", None), 5.0);
        let zero = measures(&[vec![1.0f32, 0.0], vec![0.0, 0.0]], &[1.0, 0.0]);
        assert!(value(&zero, "grad_norm_ratio", None).is_infinite());
        let none = measures(&[vec![0.0f32], vec![0.0]], &[1.0]);
        assert!(value(&none, "grad_norm_ratio", None).is_nan());
        // The older measures come first, in their order, the magnitudes after them.
        let names: Vec<&str> = m.iter().map(|x| x.name).collect();
        let first_norm = names.iter().position(|n| *n == "grad_norm").unwrap();
        assert_eq!(names[first_norm - 1], "sign_purity");
        assert_eq!(*names.last().unwrap(), "grad_norm_ratio");
    }

    /// On seeded random Jacobians (2–5 tasks, 1–40 parameters): the ratio is at least 1 and
    /// equals max/min of the norms; scaling one task's gradient by c (the gradient of c·Lᵢ)
    /// scales its norm by c and leaves the others' bits unchanged.
    #[test]
    fn norm_ratio_is_at_least_one_and_norms_scale() {
        let mut state: u64 = 0x853c_49e6_748f_ea9b;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f64 / (1u64 << 24) as f64 * 2.0 - 1.0) as f32
        };
        for case in 0..200 {
            let t = 2 + case % 4;
            let p = 1 + (case * 7) % 40;
            let grads: Vec<Vec<f32>> = (0..t).map(|_| (0..p).map(|_| next()).collect()).collect();
            let update: Vec<f32> = (0..p).map(|_| next()).collect();
            let m = measures(&grads, &update);
            let n = norms(&m);
            let ratio = value(&m, "grad_norm_ratio", None);
            assert!(ratio >= 1.0, "{ratio}");
            let (max, min) = (
                n.iter().cloned().fold(0.0, f64::max),
                n.iter().cloned().fold(f64::INFINITY, f64::min),
            );
            assert_eq!(ratio, max / min);
            // Each norm against a host sum in f64, independent of the Gramian.
            for (g, norm) in grads.iter().zip(&n) {
                let direct = g.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
                assert!((norm - direct).abs() <= 1e-12 * direct.max(1.0));
            }
            // c a power of two: the scaled gradient is exact in f32.
            let c = 8.0f32;
            let mut scaled = grads.clone();
            let k = case % t;
            scaled[k].iter_mut().for_each(|x| *x *= c);
            let s = norms(&measures(&scaled, &update));
            for i in 0..t {
                let expected = if i == k { n[i] * f64::from(c) } else { n[i] };
                assert_eq!(s[i].to_bits(), expected.to_bits(), "task {i}");
            }
        }
    }
}
