//! Test fixtures in training's sizes: large Jacobians (tens of thousands of columns, cut
//! into layer blocks) whose task gradients come in nearly opposite pairs (cosines closer to
//! −1 than −0.99999) with non-dyadic entries, the route training takes with them (the
//! method built from its spec, G on the device, its Gramian and Gᵀw there), and exact f64
//! arithmetic on the same f32 entries for the references each method's test computes from
//! its definition.

use super::testing::{method_for, on_device_with, LOSSES};
use crate::weighting::WeightingSpec;
use rand::Rng;

/// A large case: its name, G's rows (f32, as training has them), the layer layout G is cut
/// into on the device ((weight, bias) sizes), and the task losses.
pub struct LargeCase {
    pub name: &'static str,
    pub grads: Vec<Vec<f32>>,
    pub layout: Vec<(usize, usize)>,
    pub losses: Vec<f32>,
}

/// The large cases. Rows are s·(b + εn) rounded to f32, with b and n independent uniform
/// vectors on [−1, 1]: a row of scale −s′ on the same b is nearly opposite (cosine ≈
/// −1 + ε²/2), and the entries use the whole f32 mantissa, so products and sums round.
pub fn large_cases() -> Vec<LargeCase> {
    let mut rng = mtlbench_tasks::seed::stream(1, &["large-opposite-cases"]);
    let mut random = |p: usize| -> Vec<f64> { (0..p).map(|_| rng.gen_range(-1.0..1.0)).collect() };
    let row = |s: f64, b: &[f64], e: f64, n: &[f64]| -> Vec<f32> {
        b.iter()
            .zip(n)
            .map(|(x, y)| (s * (x + e * y)) as f32)
            .collect()
    };
    // Two tasks nearly opposite (cosine ≈ −1 + 1e-6) and a third, small one.
    let p = 30_011;
    let (b, n, r) = (random(p), random(p), random(p));
    let pair_and_small = LargeCase {
        name: "pair_and_small",
        grads: vec![
            row(0.37, &b, 0.0, &n),
            row(-1.9, &b, 1.4e-3, &n),
            row(2.3e-3, &r, 0.0, &n),
        ],
        layout: vec![(24_000, 120), (5_800, 91)],
        losses: LOSSES.to_vec(),
    };
    // Two nearly opposite pairs on independent directions, 50× apart in scale.
    let p = 50_000;
    let (b, c, n1, n2) = (random(p), random(p), random(p), random(p));
    let two_pairs = LargeCase {
        name: "two_pairs",
        grads: vec![
            row(1.0, &b, 0.0, &n1),
            row(-0.61, &b, 1e-3, &n1),
            row(0.013, &c, 0.0, &n2),
            row(-0.021, &c, 5e-4, &n2),
        ],
        layout: vec![(40_000, 200), (9_750, 50)],
        losses: vec![0.5, 2.0, 1.5, 0.8],
    };
    // Five tasks: three nearly collinear (two of them opposite the third) and an opposite
    // pair.
    let p = 20_000;
    let (b, c, n1, n2, n3) = (random(p), random(p), random(p), random(p), random(p));
    let five_tasks = LargeCase {
        name: "five_tasks",
        grads: vec![
            row(0.7, &b, 0.0, &n1),
            row(-1.3, &b, 1.2e-3, &n1),
            row(0.45, &b, 9e-4, &n2),
            row(-0.2, &c, 0.0, &n3),
            row(0.19, &c, 1.1e-3, &n3),
        ],
        layout: vec![(16_000, 400), (3_500, 100)],
        losses: vec![0.5, 2.0, 1.5, 0.8, 1.2],
    };
    vec![pair_and_small, two_pairs, five_tasks]
}

/// d = Gᵀw by training's route: the method built from `spec` (the test stream, seed 1),
/// G on the CPU device in the case's layer blocks, the method's weights from the device's
/// Gramian, d combined on the device; read back as f64.
pub fn direction_by_training_route(spec: WeightingSpec, case: &LargeCase) -> Vec<f64> {
    let mut method = method_for(spec, case.grads.len());
    let mut g = on_device_with(&case.grads, case.layout.clone());
    let aggregation = method.aggregate(&mut g, &case.losses);
    g.combine(&aggregation.weights)
        .to_host()
        .into_iter()
        .map(f64::from)
        .collect()
}

/// Σ xₖ with Neumaier's compensation: the error is about one rounding of the result,
/// whatever the number of terms.
pub fn exact_sum(terms: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut carry) = (0.0f64, 0.0f64);
    for x in terms {
        let t = sum + x;
        carry += if sum.abs() >= x.abs() {
            (sum - t) + x
        } else {
            (x - t) + sum
        };
        sum = t;
    }
    sum + carry
}

/// aᵀb of f64 vectors, compensated.
pub fn exact_dot(a: &[f64], b: &[f64]) -> f64 {
    exact_sum(a.iter().zip(b).map(|(x, y)| x * y))
}

/// The rows promoted to f64 (exactly).
pub fn rows64(grads: &[Vec<f32>]) -> Vec<Vec<f64>> {
    grads
        .iter()
        .map(|g| g.iter().map(|x| f64::from(*x)).collect())
        .collect()
}

/// GGᵀ of the f32 rows in f64: every product of two f32 values is exact in f64, and the
/// compensated sums make each entry correct to about one rounding.
pub fn exact_gram(grads: &[Vec<f32>]) -> Vec<Vec<f64>> {
    let rows = rows64(grads);
    (0..rows.len())
        .map(|i| {
            (0..rows.len())
                .map(|j| exact_dot(&rows[i], &rows[j]))
                .collect()
        })
        .collect()
}

/// Σᵢ wᵢgᵢ of f64 rows, each column summed with compensation.
pub fn combine_exact(rows: &[Vec<f64>], weights: &[f64]) -> Vec<f64> {
    (0..rows[0].len())
        .map(|k| exact_sum(rows.iter().zip(weights).map(|(g, w)| w * g[k])))
        .collect()
}

/// The cosine of the most nearly opposite pair of rows.
pub fn most_opposite_cosine(grads: &[Vec<f32>]) -> f64 {
    let m = exact_gram(grads);
    let t = m.len();
    (0..t)
        .flat_map(|i| (i + 1..t).map(move |j| (i, j)))
        .map(|(i, j)| m[i][j] / (m[i][i] * m[j][j]).sqrt())
        .fold(f64::INFINITY, f64::min)
}

/// ‖got − want‖₂ / ‖want‖₂.
pub fn relative_l2(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let diff: Vec<f64> = got.iter().zip(want).map(|(g, w)| g - w).collect();
    exact_dot(&diff, &diff).sqrt() / exact_dot(want, want).sqrt()
}

/// Solves A x = b by Gaussian elimination with partial pivoting (the references' own
/// solver, apart from the one the methods use); `None` when a pivot vanishes.
pub fn gauss_solve(a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut m: Vec<Vec<f64>> = a
        .iter()
        .zip(b)
        .map(|(row, v)| row.iter().copied().chain([*v]).collect())
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[pivot][col] == 0.0 {
            return None;
        }
        m.swap(col, pivot);
        for r in col + 1..n {
            let f = m[r][col] / m[col][col];
            for c in col..=n {
                m[r][c] -= f * m[col][c];
            }
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let tail: f64 = (r + 1..n).map(|c| m[r][c] * x[c]).sum();
        x[r] = (m[r][n] - tail) / m[r][r];
    }
    Some(x)
}

/// The largest relative error (‖d − d*‖₂/‖d*‖₂) the methods may make on the large cases.
pub const LARGE_TOLERANCE: f64 = 1e-3;

/// Every large case is what it claims: tens of thousands of columns, a pair of tasks with
/// cosine below −0.99999, non-dyadic entries (most need more than 12 mantissa bits), and a
/// layout that covers every column.
#[test]
fn large_cases_are_large_nearly_opposite_and_non_dyadic() {
    for case in large_cases() {
        let p = case.grads[0].len();
        assert!(p >= 20_000, "{}", case.name);
        let cosine = most_opposite_cosine(&case.grads);
        assert!(cosine < -0.99999, "{}: {cosine}", case.name);
        let total: usize = case.layout.iter().map(|(w, b)| w + b).sum();
        assert_eq!(total, p, "{}", case.name);
        let long = case.grads[0]
            .iter()
            .filter(|x| x.to_bits() & 0x0fff != 0)
            .count();
        assert!(long > p / 2, "{}", case.name);
        assert_eq!(case.losses.len(), case.grads.len());
    }
}
