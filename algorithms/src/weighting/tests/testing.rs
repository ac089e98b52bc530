//! Shared fixtures of the method tests: the golden Jacobians and tables of
//! `scripts/golden_aggregators.py`, the hard cases, random Jacobians, host arithmetic in
//! f64 and the tolerances.
// The generated tables print 17 digits, more than f64 needs.
#![allow(clippy::excessive_precision, clippy::type_complexity, dead_code)]

use crate::device::{cpu, CpuDevice};
use crate::jacobian::Jacobian;
pub use crate::weighting::combine;
pub use crate::weighting::MgdaNormalizer;
use crate::weighting::{Method, WeightingSpec};
use rand::SeedableRng;

/// A method for 3 tasks with the test stream (seed 1) and learning rate 0.01.
pub fn method(spec: WeightingSpec) -> Box<dyn Method<CpuDevice>> {
    method_for(spec, 3)
}

pub fn method_for(spec: WeightingSpec, tasks: usize) -> Box<dyn Method<CpuDevice>> {
    spec.build(tasks, rand_chacha::ChaCha8Rng::seed_from_u64(1), 0.01)
}

/// G on the dfdx CPU device (one whole block: no layer layout).
pub fn on_device(grads: &[Vec<f32>]) -> Jacobian<CpuDevice> {
    Jacobian::from_host(&cpu(), grads, Vec::new())
}

/// G on the dfdx CPU device with a layer layout.
pub fn on_device_with(grads: &[Vec<f32>], layout: Vec<(usize, usize)>) -> Jacobian<CpuDevice> {
    Jacobian::from_host(&cpu(), grads, layout)
}

/// The Gramian in f64 on the host (the golden path).
pub fn gram(grads: &[Vec<f32>]) -> Vec<Vec<f64>> {
    crate::solvers::gramian(grads)
}

/// The golden Jacobians of `scripts/golden_aggregators.py` (T = 3, P = 5).
pub fn conflicting() -> Vec<Vec<f32>> {
    vec![
        vec![1.0, -2.0, 0.5, 0.0, 3.0],
        vec![-1.5, 1.0, 0.0, 2.0, -1.0],
        vec![0.5, 0.5, -2.0, 1.0, 0.0],
    ]
}
pub fn aligned() -> Vec<Vec<f32>> {
    vec![
        vec![1.0, 0.5, 0.2, 0.0, 0.3],
        vec![0.8, 0.7, 0.0, 0.1, 0.2],
        vec![1.2, 0.4, 0.3, 0.2, 0.1],
    ]
}
pub const LOSSES: [f32; 3] = [0.5, 2.0, 1.5];

pub fn golden_jacobians() -> [(&'static str, Vec<Vec<f32>>); 2] {
    [("conflicting", conflicting()), ("aligned", aligned())]
}

/// The task orders of the golden tables (PCGrad, GradVac).
pub fn golden_orders() -> Vec<Vec<usize>> {
    vec![vec![1, 2, 0], vec![2, 0, 1], vec![0, 1, 2]]
}

pub fn assert_close(got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!(
            (f64::from(*g) - w).abs() < 1e-5,
            "got {got:?}, want {want:?}"
        );
    }
}

/// Weights of the device path against the host's, to f32 precision (relative to the
/// largest weight).
pub fn assert_weights_close(device: &[f64], host: &[f64]) {
    assert_eq!(device.len(), host.len());
    let scale = host.iter().map(|x| x.abs()).fold(1.0, f64::max);
    for (d, h) in device.iter().zip(host) {
        assert!(
            (d - h).abs() <= 1e-4 * scale,
            "device {device:?} vs host {host:?}"
        );
    }
}

include!("golden.rs");
include!("golden_hard.rs");

/// Seeded random Jacobians for the property checks.
pub fn random_jacobians() -> Vec<Vec<Vec<f32>>> {
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

/// d = Σᵢ wᵢgᵢ in f64.
pub fn combine64(grads: &[Vec<f32>], weights: &[f64]) -> Vec<f64> {
    (0..grads[0].len())
        .map(|k| {
            grads
                .iter()
                .zip(weights)
                .map(|(g, w)| w * f64::from(g[k]))
                .sum()
        })
        .collect()
}

/// max |got − want| / max |want|.
pub fn relative_error(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().map(|x| x.abs()).fold(0.0, f64::max);
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f64::max)
        / scale
}

pub fn assert_matches(what: &str, got: &[f64], want: &[f64], tolerance: f64) {
    let error = relative_error(got, want);
    assert!(
        error <= tolerance,
        "{what}: relative error {error:e}\n got {got:?}\nwant {want:?}"
    );
}

pub fn dot64(g: &[f32], d: &[f64]) -> f64 {
    g.iter().zip(d).map(|(x, y)| f64::from(*x) * y).sum()
}

pub fn norm64(d: &[f64]) -> f64 {
    d.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// PCGrad's task orders in the hard-case tests: task i visits i+1, i+2, … (mod T), as the
/// script.
pub fn orders_of(t: usize) -> Vec<Vec<usize>> {
    (0..t)
        .map(|i| (0..t).map(|k| (i + 1 + k) % t).collect())
        .collect()
}

/// Relative tolerances (max error / max |exact|), each a few times the largest error
/// measured on the hard cases.
pub struct Tolerances {
    /// Finite formulas evaluated in f64 (PCGrad, IMTL-G, the eigen-decomposition of
    /// Aligned-MTL) and Newton's method to 1e-10 (Nash-MTL): measured ≤ 5e-12 (on the
    /// nearly opposite pair, whose Gramian has condition number ≈ 1e6; ≤ 1e-14 elsewhere).
    pub closed_form: f64,
    /// Accelerated projected gradient to a Frank–Wolfe gap of 1e-10, then the exact
    /// solution on the optimal face (`solvers::min_norm_weights`). The iteration alone
    /// stalled 3.4e-6 away on the nearly opposite pair; with the finish: measured 1.4e-13.
    pub mgda: f64,
    /// The same solver on CAGrad's problem: measured 1.9e-7 on the nearly opposite pair,
    /// ≤ 4e-9 elsewhere.
    pub cagrad: f64,
    /// Computed in f32 (DB-MTL's moving averages): measured ≤ 4.3e-7.
    pub f32_arithmetic: f64,
}

pub const TOLERANCE: Tolerances = Tolerances {
    closed_form: 1e-11,
    mgda: 1e-12,
    cagrad: 1e-6,
    f32_arithmetic: 2e-6,
};
