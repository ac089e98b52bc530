//! Tests of the gradient aggregators: golden numbers, hand-computed cases and properties.
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

include!("golden.rs");

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
        for (regularisation, want) in [
            (UpGradRegularisation::None, golden_upgrad(name)),
            (UpGradRegularisation::Torchjd, golden_upgrad_torchjd(name)),
        ] {
            assert_close(
                &combine(
                    &grads,
                    &upgrad(&grads, regularisation, 1e-12, 100_000).weights,
                ),
                &want,
            );
        }
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
            combine(
                &grads,
                &upgrad(&grads, UpGradRegularisation::None, 1e-12, 100_000).weights,
            ),
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
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{RngAlgorithm, RngSeed, TestRunner};

    /// The cases are drawn from a fixed seed (whatever `PROPTEST_RNG_SEED` says), so
    /// every run, in CI or here, checks the same Jacobians.
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
        (2usize..=5)
            .prop_flat_map(|t| prop::collection::vec(prop::collection::vec(-1.0f32..1.0, 6), t))
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
            let trace: f64 = g.iter().map(|gi| solvers::dot(gi, gi)).sum();
            let exact = vec![0.0; g.len()];
            let up = upgrad(&g, UpGradRegularisation::None, 1e-10, 100_000).weights;
            let torchjd = upgrad(&g, UpGradRegularisation::Torchjd, 1e-10, 100_000).weights;
            let ridge: Vec<f64> = torchjd.iter().map(|w| 1e-4 * trace * w).collect();
            for (d, slack) in [
                (combine(&g, &mgda(&g, &ones, MgdaNormalizer::None, 1e-10, 100_000).weights), &exact),
                (combine(&g, &up), &exact),
                (combine(&g, &torchjd), &ridge),
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
                (upgrad(&g, UpGradRegularisation::None, 1e-10, 100_000).weights, upgrad(&reversed, UpGradRegularisation::None, 1e-10, 100_000).weights),
                (upgrad(&g, UpGradRegularisation::Torchjd, 1e-10, 100_000).weights, upgrad(&reversed, UpGradRegularisation::Torchjd, 1e-10, 100_000).weights),
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

/// DB-MTL's αᵢ = max‖ĝ‖/(‖ĝᵢ‖ + 1e-8) (LibMTL): a task whose smoothed gradient vanishes
/// (1e-12 here) adds at most 1e-4 to the update instead of a full unit; without the 1e-8 it
/// would be scaled by 1e12 to the largest norm.
#[test]
fn db_mtl_does_not_blow_up_a_vanishing_gradient() {
    let smoothed = vec![vec![1.0f32, 0.0], vec![0.0, 1e-12]];
    let agg = db_mtl(&smoothed);
    let d = agg.direction.unwrap();
    assert!((d[0] - 1.0).abs() < 1e-6, "{d:?}");
    assert!(d[1].abs() < 1e-3, "{d:?}");
    assert!((agg.weights[0] - 1.0).abs() < 1e-7);
    // A zero gradient contributes nothing, with a finite weight.
    let agg = db_mtl(&[vec![3.0f32, 4.0], vec![0.0, 0.0]]);
    assert_eq!(agg.direction.unwrap(), vec![3.0, 4.0]);
    assert!(agg.weights.iter().all(|w| w.is_finite()));
}

/// Nash-MTL solves (Mα)ᵢ = 1/αᵢ for M = GGᵀ/‖GGᵀ‖_F (the reference's normalisation): its α
/// is √‖GGᵀ‖_F times the solution of the paper's (GGᵀα)ᵢ = 1/αᵢ, and is unchanged when every
/// gradient is scaled by 8 (the paper's α would be divided by 8).
#[test]
fn nash_mtl_normalises_the_gramian_by_its_frobenius_norm() {
    let grads = conflicting();
    let gram = solvers::gramian(&grads);
    let frobenius = gram.iter().flatten().map(|x| x * x).sum::<f64>().sqrt();
    let alpha = nash_mtl(&grads, 1e9, 1e-12, 100).head_scales.unwrap();
    let paper: Vec<f64> = alpha.iter().map(|a| a / frobenius.sqrt()).collect();
    for i in 0..3 {
        let lhs: f64 = (0..3).map(|j| gram[i][j] * paper[j]).sum();
        assert!(
            (lhs - 1.0 / paper[i]).abs() < 1e-9 * lhs.abs(),
            "(GGᵀα*)ᵢ = {lhs} vs 1/α*ᵢ = {}",
            1.0 / paper[i]
        );
    }
    let scaled: Vec<Vec<f32>> = grads
        .iter()
        .map(|g| g.iter().map(|x| 8.0 * x).collect())
        .collect();
    let alpha_scaled = nash_mtl(&scaled, 1e9, 1e-12, 100).head_scales.unwrap();
    for (a, b) in alpha.iter().zip(&alpha_scaled) {
        assert!((a - b).abs() < 1e-9 * a, "{alpha:?} vs {alpha_scaled:?}");
    }
}

/// The fallbacks are reported as events, counted per run: IMTL-G's equal weights when DUᵀ
/// is singular (two equal task gradients) and Aligned-MTL's zero update when no eigenvalue
/// is kept (all gradients zero); the regular cases report none.
#[test]
fn fallbacks_are_reported() {
    let same = vec![vec![1.0f32, 2.0], vec![1.0, 2.0], vec![0.0, 1.0]];
    let agg = imtl_g(&same);
    assert_eq!(agg.event, Some("imtl_g_equal_weights"));
    assert_eq!(agg.weights, vec![1.0 / 3.0; 3]);
    assert_eq!(imtl_g(&conflicting()).event, None);
    let zero = vec![vec![0.0f32; 4]; 3];
    let agg = aligned_mtl(&zero);
    assert_eq!(agg.event, Some("aligned_mtl_zero_update"));
    assert_eq!(agg.weights, vec![0.0; 3]);
    assert_eq!(aligned_mtl(&conflicting()).event, None);
}
