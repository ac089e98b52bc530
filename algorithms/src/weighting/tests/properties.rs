//! torchjd-style properties of the gradient-level methods on random Jacobians (proptest):
//! non-conflict, permutation invariance and scale invariance, across methods.
use super::testing::*;
use crate::solvers;
use crate::weighting::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{RngAlgorithm, RngSeed, TestRunner};

/// UPGrad and Nash-MTL never conflict with a task (gᵢᵀd ≥ 0), on the seeded Jacobians.
#[test]
fn upgrad_and_nash_are_non_conflicting() {
    for grads in random_jacobians() {
        for d in [
            combine(
                &grads,
                &upgrad(&gram(&grads), UpGradRegularisation::None, 1e-12, 100_000).weights,
            ),
            combine(&grads, &nash_mtl(&gram(&grads), 1e9, 1e-12, 100).weights),
        ] {
            for g in &grads {
                assert!(
                    solvers::dot(g, &d) >= -1e-6,
                    "conflict: {}",
                    solvers::dot(g, &d)
                );
            }
        }
    }
}

/// The cases are drawn from a fixed seed (whatever `PROPTEST_RNG_SEED` says), so every
/// run, in CI or here, checks the same Jacobians.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x6d74_6c62_656e_6368),
        ..ProptestConfig::default()
    }
}

#[test]
fn cases_are_the_same_every_run() {
    let draw = || {
        let mut runner = TestRunner::new(config(1));
        jacobian().new_tree(&mut runner).unwrap().current()
    };
    assert_eq!(draw(), draw());
}

/// T×P Jacobians with T in 2..=5, P = 6, entries in [−1, 1].
fn jacobian() -> impl Strategy<Value = Vec<Vec<f32>>> {
    (2usize..=5).prop_flat_map(|t| prop::collection::vec(prop::collection::vec(-1.0f32..1.0, 6), t))
}

fn close(a: &[f32], b: &[f32], tolerance: f32) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (x - y).abs() <= tolerance * (1.0 + y.abs()))
}

proptest! {
    #![proptest_config(config(64))]

    /// MGDA, exact UPGrad and Nash-MTL never conflict with a task: Gd ≥ 0. torchjd's
    /// ridge (Ĝ = GGᵀ/tr + εI, ε = 1e-4) relaxes its projections: from the KKT
    /// conditions of each projection, gⱼᵀd ≥ −ε·tr(GGᵀ)·wⱼ — near-singular G reach that
    /// bound (found by this test: a 5×6 Jacobian with gⱼᵀd = −6e-4).
    #[test]
    fn non_conflicting(g in jacobian()) {
        let ones = vec![1.0f32; g.len()];
        let a = gram(&g);
        let trace: f64 = g.iter().map(|gi| solvers::dot(gi, gi)).sum();
        let exact = vec![0.0; g.len()];
        let up = upgrad(&a, UpGradRegularisation::None, 1e-10, 100_000).weights;
        let torchjd = upgrad(&a, UpGradRegularisation::Torchjd, 1e-10, 100_000).weights;
        let ridge: Vec<f64> = torchjd.iter().map(|w| 1e-4 * trace * w).collect();
        for (d, slack) in [
            (combine(&g, &mgda(&a, &ones, MgdaNormalizer::None, 1e-10, 100_000).weights), &exact),
            (combine(&g, &up), &exact),
            (combine(&g, &torchjd), &ridge),
            (combine(&g, &nash_mtl(&a, 1e9, 1e-10, 100).weights), &exact),
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
        let (a, r) = (gram(&g), gram(&reversed));
        let ones = vec![1.0f32; g.len()];
        let pairs = [
            (mgda(&a, &ones, MgdaNormalizer::L2, 1e-10, 100_000).weights, mgda(&r, &ones, MgdaNormalizer::L2, 1e-10, 100_000).weights),
            (cagrad(&a, 0.5, 1, 1e-10, 100_000).weights, cagrad(&r, 0.5, 1, 1e-10, 100_000).weights),
            (upgrad(&a, UpGradRegularisation::None, 1e-10, 100_000).weights, upgrad(&r, UpGradRegularisation::None, 1e-10, 100_000).weights),
            (upgrad(&a, UpGradRegularisation::Torchjd, 1e-10, 100_000).weights, upgrad(&r, UpGradRegularisation::Torchjd, 1e-10, 100_000).weights),
            (aligned_mtl(&a).weights, aligned_mtl(&r).weights),
        ];
        for (x, y) in pairs {
            prop_assert!(close(&combine(&g, &x), &combine(&reversed, &y), 1e-3));
        }
    }

    /// MGDA with the l2 normaliser ignores a positive rescaling of a task's gradient
    /// (ĝᵢ = gᵢ/‖gᵢ‖). IMTL-G does not: its weights sum to 1, so scaling g₁ moves d.
    #[test]
    fn scale_invariant(g in jacobian(), c in 0.1f32..10.0) {
        let mut scaled = g.clone();
        scaled[0].iter_mut().for_each(|x| *x *= c);
        let ones = vec![1.0f32; g.len()];
        let a = combine(&g, &mgda(&gram(&g), &ones, MgdaNormalizer::L2, 1e-10, 100_000).weights);
        let b = combine(&scaled, &mgda(&gram(&scaled), &ones, MgdaNormalizer::L2, 1e-10, 100_000).weights);
        prop_assert!(close(&a, &b, 1e-3));
    }
}
