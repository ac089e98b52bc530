//! Telemetry during training: conflict measures of the applied update, TAG's affinity
//! against its first-order expansion, and the passes and weights recorded.
use super::*;

/// Telemetry sees the update each method applies: equal weighting's update is the sum
/// of the task gradients (cosine with it 1), MGDA's never conflicts with a task; the
/// extra passes are counted apart and the training is unchanged; a gradient-level
/// method's conflict measures read its step's own G (the same measures as T passes give).
#[test]
fn conflict_telemetry_measures_the_applied_update() {
    let suite = tiny_suite(3, 8, 64, 9);
    let model = ModelSpec {
        trunk: vec![16].into(),
        head: vec![],
    };
    let run = |weighting: WeightingSpec, conflict_every: usize| {
        let training = TrainConfig {
            conflict_every,
            ..adam_training(2, 16, 1, false)
        };
        train_tiny(
            &suite,
            &ArchitectureSpec::HardSharing(HardSharing {}),
            &weighting,
            &model,
            &training,
            (4, 5),
        )
    };
    let value = |o: &TrainOutcome, measure: &str| -> Vec<f64> {
        o.telemetry
            .iter()
            .filter(|t| t.measure == measure)
            .map(|t| t.value)
            .collect()
    };
    let equal = run(WeightingSpec::Equal(Equal {}), 3);
    // 8 steps, measured at steps 0, 3, 6.
    assert_eq!(value(&equal, "cos_update_mean_grad").len(), 3);
    assert!(value(&equal, "cos_update_mean_grad")
        .iter()
        .all(|c| (c - 1.0).abs() < 1e-5));
    assert_eq!(equal.telemetry_backward_passes, 3 * 3);
    assert_eq!(
        equal.points,
        run(WeightingSpec::Equal(Equal {}), 0).points,
        "telemetry leaves training unchanged"
    );
    let mgda = run(WeightingSpec::Mgda(Default::default()), 2);
    assert!(value(&mgda, "update_conflicts").iter().all(|c| *c == 0.0));
    // A gradient-level step's own G serves the conflict measures: no passes of telemetry's
    // own, training unchanged, the measures those of G taken by T passes.
    assert_eq!(value(&mgda, "update_conflicts").len(), 4);
    assert_eq!(mgda.telemetry_backward_passes, 0);
    assert_eq!(mgda.telemetry_forward_passes, 0);
    assert_eq!(
        mgda.points,
        run(WeightingSpec::Mgda(Default::default()), 0).points
    );
    let with_affinity = train_tiny(
        &suite,
        &ArchitectureSpec::HardSharing(HardSharing {}),
        &WeightingSpec::Mgda(Default::default()),
        &model,
        &TrainConfig {
            conflict_every: 2,
            affinity_every: 2,
            ..adam_training(2, 16, 1, false)
        },
        (4, 5),
    );
    assert_eq!(with_affinity.telemetry_backward_passes, 4 * 3);
    for measure in [
        "cosine",
        "conflict_ratio",
        "cos_update_mean_grad",
        "norm_sum_grads",
    ] {
        let (own, passes) = (value(&mgda, measure), value(&with_affinity, measure));
        assert!(!own.is_empty() && own.len() == passes.len(), "{measure}");
        for (a, b) in own.iter().zip(&passes) {
            assert!(
                (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                "{measure}: {a} vs {b}"
            );
        }
    }
}

/// TAG affinity to first order: Lⱼ(θ − η gᵢ) ≈ Lⱼ(θ) − η gᵢᵀgⱼ, so Z_{i→j}/η approaches
/// gᵢᵀgⱼ / Lⱼ for a small step.
#[test]
fn affinity_matches_its_first_order_expansion() {
    let suite = tiny_suite(3, 8, 64, 4);
    let model = ModelSpec {
        trunk: vec![16].into(),
        head: vec![],
    };
    let training = TrainConfig {
        lr: 1e-3,
        ..adam_training(1, 64, 1, false)
    };
    let arch = ArchitectureSpec::HardSharing(HardSharing {});
    let weighting = WeightingSpec::Equal(Equal {});
    let trainer = Trainer::new(
        cpu(),
        RunDefinition {
            suite: &suite,
            architecture: &arch,
            weighting: &weighting,
            model: &model,
            training: &training,
            seeds: RunSeeds {
                init: 2,
                batches: 3,
            },
        },
    );
    let rows: Vec<usize> = (0..64).collect();
    let batch = trainer.batch(&rows);
    let g = engine::per_task_gradients(&trainer.net, &trainer.kinds, &batch);
    let z = trainer.affinity(&batch, &g);
    let shared = g.jacobian.to_host();
    for i in 0..3 {
        for j in 0..3 {
            let expected = crate::solvers::dot(&shared[i], &shared[j]) / f64::from(g.losses[j]);
            let measured = z[i][j] / 1e-3;
            assert!(
                (measured - expected).abs() < 0.05 * expected.abs() + 1e-3,
                "Z[{i}][{j}]/lr = {measured}, first order {expected}"
            );
        }
        // A step on a task's own gradient lowers its own loss.
        assert!(z[i][i] > 0.0);
    }
}

/// Affinity telemetry is counted apart; the weights recorded are the ones applied.
#[test]
fn affinity_and_weights_are_recorded() {
    let suite = tiny_suite(2, 8, 64, 9);
    let model = ModelSpec {
        trunk: vec![16].into(),
        head: vec![],
    };
    let training = TrainConfig {
        affinity_every: 4,
        weights_every: 2,
        ..adam_training(1, 16, 1, false)
    };
    let run = |weighting: WeightingSpec| {
        train_tiny(
            &suite,
            &ArchitectureSpec::HardSharing(HardSharing {}),
            &weighting,
            &model,
            &training,
            (4, 5),
        )
    };
    let weights = WeightingSpec::Static(Static {
        weights: vec![0.25, 2.0],
    });
    let o = run(weights);
    // 4 steps: affinity at step 0 (2 backward, 2 + 2 forward), weights at steps 0, 2.
    assert_eq!(o.telemetry_backward_passes, 2);
    assert_eq!(o.telemetry_forward_passes, 4);
    assert_eq!(
        o.telemetry
            .iter()
            .filter(|t| t.measure == "affinity")
            .count(),
        4
    );
    let w: Vec<(usize, usize, f64)> = o
        .weights
        .iter()
        .map(|p| (p.step, p.task, p.value))
        .collect();
    assert_eq!(
        w,
        vec![(0, 0, 0.25), (0, 1, 2.0), (2, 0, 0.25), (2, 1, 2.0)]
    );
    // MGDA's weights lie on the simplex.
    let mgda = run(WeightingSpec::Mgda(Default::default()));
    for step in mgda.weights.chunks(2) {
        assert!((step[0].value + step[1].value - 1.0).abs() < 1e-6);
    }
}

/// Gradient magnitudes through training (docs/FORMULAS.md#gradient-magnitudes): at every
/// step that logs cosines, each task's `grad_norm` and the `grad_norm_ratio`; with the
/// cosines they rebuild the logged norm of the summed gradient,
/// ‖Σᵢgᵢ‖² = Σᵢ‖gᵢ‖² + 2Σᵢ<ⱼ cos φᵢⱼ ‖gᵢ‖‖gⱼ‖, for a loss-level method (telemetry's own
/// passes) and a gradient-level one (its step's own G).
#[test]
fn gradient_norms_are_logged_beside_the_cosines() {
    let suite = tiny_suite(3, 8, 64, 9);
    let model = ModelSpec {
        trunk: vec![16].into(),
        head: vec![],
    };
    for weighting in [
        WeightingSpec::Equal(Equal {}),
        WeightingSpec::Mgda(Default::default()),
    ] {
        let o = train_tiny(
            &suite,
            &ArchitectureSpec::HardSharing(HardSharing {}),
            &weighting,
            &model,
            &TrainConfig {
                conflict_every: 3,
                ..adam_training(2, 16, 1, false)
            },
            (4, 5),
        );
        let steps = |measure: &str| -> Vec<usize> {
            let mut s: Vec<usize> = o
                .telemetry
                .iter()
                .filter(|t| t.measure == measure)
                .map(|t| t.step)
                .collect();
            s.dedup();
            s
        };
        assert_eq!(steps("grad_norm"), vec![0, 3, 6]);
        assert_eq!(steps("grad_norm_ratio"), steps("cosine"));
        for step in [0, 3, 6] {
            let at = |measure: &str| -> Vec<(Option<(usize, usize)>, f64)> {
                o.telemetry
                    .iter()
                    .filter(|t| t.step == step && t.measure == measure)
                    .map(|t| (t.tasks, t.value))
                    .collect()
            };
            let norms = at("grad_norm");
            assert_eq!(
                norms.iter().map(|n| n.0).collect::<Vec<_>>(),
                vec![Some((0, 0)), Some((1, 1)), Some((2, 2))]
            );
            let n: Vec<f64> = norms.iter().map(|x| x.1).collect();
            assert!(n.iter().all(|v| *v > 0.0));
            let ratio = at("grad_norm_ratio")[0].1;
            let (max, min) = (
                n.iter().cloned().fold(0.0, f64::max),
                n.iter().cloned().fold(f64::INFINITY, f64::min),
            );
            assert!(ratio >= 1.0 && (ratio - max / min).abs() <= 1e-12 * ratio);
            let mut sum_sq: f64 = n.iter().map(|v| v * v).sum();
            for (tasks, cos) in at("cosine") {
                let (i, j) = tasks.unwrap();
                sum_sq += 2.0 * cos * n[i] * n[j];
            }
            let logged = at("norm_sum_grads")[0].1;
            assert!(
                (sum_sq.sqrt() - logged).abs() <= 1e-9 * logged,
                "{weighting:?} step {step}: {} vs {logged}",
                sum_sq.sqrt()
            );
        }
    }
}
