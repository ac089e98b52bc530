//! The meta-learned weightings, Auto-Lambda and Meta-Weight-Net: a noise task ends with
//! the lowest weight, and Auto-Lambda's first step follows its first-order hypergradient.
use super::*;

/// A suite whose last task is pure noise: its targets are drawn independently of x.
fn suite_with_noise_task(seed: u64) -> SuiteData {
    use rand::Rng;
    let mut suite = tiny_suite(3, 8, 128, seed);
    let mut rng = seed::stream(seed, &["noise-task"]);
    let y = &mut suite.tasks[2].y;
    for m in [&mut y.train, &mut y.val, &mut y.test] {
        for v in &mut m.data {
            *v = rng.sample::<f32, _>(rand_distr::StandardNormal) * 2.0;
        }
    }
    suite
}

/// The last recorded weight of every task.
fn final_weights(o: &TrainOutcome, tasks: usize) -> Vec<f64> {
    let last = o.weights.iter().map(|w| w.step).max().unwrap();
    (0..tasks)
        .map(|t| {
            o.weights
                .iter()
                .find(|w| w.step == last && w.task == t)
                .unwrap()
                .value
        })
        .collect()
}

/// Auto-Lambda and Meta-Weight-Net: with a pure-noise task among related ones, the
/// noise task's weight ends the lowest, for each of three seeds.
#[test]
fn meta_learned_weights_give_the_noise_task_the_lowest_weight() {
    let model = ModelSpec {
        trunk: vec![16].into(),
        head: vec![],
    };
    let training = TrainConfig {
        weights_every: 1,
        ..adam_training(8, 16, 8, false)
    };
    let methods = [
        WeightingSpec::AutoLambda(crate::weighting::AutoLambda {
            meta_lr: 0.01,
            ..Default::default()
        }),
        WeightingSpec::MetaWeightNet(crate::weighting::MetaWeightNet {
            meta_lr: 0.05,
            ..Default::default()
        }),
    ];
    for weighting in &methods {
        for seed in [1, 2, 3] {
            let suite = suite_with_noise_task(seed);
            let o = train_tiny(
                &suite,
                &ArchitectureSpec::HardSharing(HardSharing {}),
                weighting,
                &model,
                &training,
                (seed, seed + 10),
            );
            assert_eq!(o.status, RunStatus::Ok);
            let w = final_weights(&o, 3);
            eprintln!("{} seed {seed}: weights {w:?}", weighting.kind());
            assert!(
                w[2] < w[0] && w[2] < w[1],
                "{} seed {seed}: weights {w:?}",
                weighting.kind()
            );
        }
    }
}

/// Auto-Lambda's first step against its first-order value: the finite-difference
/// hypergradient approximates hᵢ = −α gᵢᵀv (gᵢ = ∇Lᵢ on the batch at θ, v = ∇ of the
/// outer loss at θ′ = θ − αΣλᵢgᵢ on the same outer batch), and Adam's first step moves
/// each λᵢ from 0.1 by −meta_lr·sign(hᵢ).
#[test]
fn auto_lambda_first_step_follows_the_first_order_hypergradient() {
    let suite = tiny_suite(3, 8, 64, 13);
    let model = ModelSpec {
        trunk: vec![16].into(),
        head: vec![],
    };
    let training = adam_training(1, 16, 1, false);
    let meta_lr = 0.01;
    let weighting = WeightingSpec::AutoLambda(crate::weighting::AutoLambda {
        meta_lr,
        ..Default::default()
    });
    let arch = ArchitectureSpec::HardSharing(HardSharing {});
    let seeds = RunSeeds {
        init: 5,
        batches: 6,
    };
    let mut trainer = Trainer::new(
        cpu(),
        RunDefinition {
            suite: &suite,
            architecture: &arch,
            weighting: &weighting,
            model: &model,
            training: &training,
            seeds,
        },
    );
    let rows: Vec<usize> = (0..16).collect();
    let batch = trainer.batch(&rows);
    // The outer batch the step will draw.
    let mut rng = seed::stream(seeds.batches, &["auto_lambda"]);
    let mut outer_rows = rand::seq::index::sample(&mut rng, 64, 16).into_vec();
    outer_rows.sort_unstable();
    let outer = trainer.batch(&outer_rows);
    let alpha = 0.01f32;
    let task_gradients: Vec<Vec<f32>> = (0..3)
        .map(|t| {
            let one_hot: Vec<f32> = (0..3).map(|k| f32::from(u8::from(k == t))).collect();
            let g =
                engine::weighted_loss_gradients(&trainer.net, &trainer.kinds, &batch, |_| one_hot);
            engine::flatten(&g.grads)
        })
        .collect();
    let combined = crate::weighting::combine(&task_gradients, &[0.1, 0.1, 0.1]);
    let virtual_net = engine::shifted(&trainer.net, &trainer.dev, &combined, -alpha);
    let v = engine::flatten(
        &engine::weighted_loss_gradients(&virtual_net, &trainer.kinds, &outer, |_| vec![1.0; 3])
            .grads,
    );
    let first_order: Vec<f64> = task_gradients
        .iter()
        .map(|g| -f64::from(alpha) * crate::solvers::dot(g, &v))
        .collect();
    trainer.step(&batch);
    let lambda = trainer.last_weights.clone().unwrap();
    for (l, h) in lambda.iter().zip(&first_order) {
        assert!(h.abs() > 1e-6, "a clear hypergradient: {first_order:?}");
        let expected = 0.1 - meta_lr * h.signum();
        assert!(
            (l - expected).abs() < 1e-4,
            "λ {lambda:?}, first-order h {first_order:?}"
        );
    }
}
