//! `compose` on every path of a step: per-task gradients, representation gradients
//! (`rep_grad`) and GradDrop's masking. On each, the loss part receives the batch's losses,
//! the heads are scaled by its weights as the shared gradient is, and FAMO's after-step
//! update runs.
use super::*;
use crate::weighting::{Compose, Famo, GradDrop, PcGrad};

/// The three paths: (label, aggregator, rep_grad).
fn paths() -> Vec<(&'static str, WeightingSpec, bool)> {
    vec![
        ("per-task", WeightingSpec::PcGrad(PcGrad::default()), false),
        ("rep_grad", WeightingSpec::PcGrad(PcGrad::default()), true),
        (
            "graddrop",
            WeightingSpec::GradDrop(GradDrop::default()),
            false,
        ),
    ]
}

fn trainer_for<'a>(
    suite: &'a SuiteData,
    weighting: &'a WeightingSpec,
    training: &'a TrainConfig,
    arch: &'a ArchitectureSpec,
    model: &'a ModelSpec,
) -> Trainer<'a, crate::device::CpuDevice> {
    Trainer::new(
        cpu(),
        RunDefinition {
            suite,
            architecture: arch,
            weighting,
            model,
            training,
            seeds: RunSeeds {
                init: 3,
                batches: 4,
            },
        },
    )
}

fn head_values(trainer: &Trainer<'_, crate::device::CpuDevice>, task: usize) -> Vec<f32> {
    trainer
        .net
        .task_layers(task)
        .flat_map(|l| {
            let layer = &trainer.net.layers[l];
            layer.weight.as_vec().into_iter().chain(layer.bias.as_vec())
        })
        .collect()
}

/// With loss weights (1, 0, 0) only task 0's head moves, whatever the path (Adam leaves a
/// parameter with a zero gradient where it is).
#[test]
fn heads_are_scaled_by_the_loss_weights_on_every_path() {
    let suite = tiny_suite(3, 8, 64, 7);
    let arch = ArchitectureSpec::HardSharing(HardSharing {});
    let model = ModelSpec {
        trunk: vec![8].into(),
        head: vec![],
    };
    for (label, gradient, rep_grad) in paths() {
        let weighting = WeightingSpec::Compose(Compose {
            loss: Box::new(WeightingSpec::Static(Static {
                weights: vec![1.0, 0.0, 0.0],
            })),
            gradient: Box::new(gradient),
        });
        let training = adam_training(1, 16, 1, rep_grad);
        let mut trainer = trainer_for(&suite, &weighting, &training, &arch, &model);
        let before: Vec<Vec<f32>> = (0..3).map(|t| head_values(&trainer, t)).collect();
        let rows: Vec<usize> = (0..16).collect();
        let batch = trainer.batch(&rows);
        trainer.step(&batch);
        assert_ne!(head_values(&trainer, 0), before[0], "{label}: head 0");
        for t in 1..3 {
            assert_eq!(head_values(&trainer, t), before[t], "{label}: head {t}");
        }
    }
}

/// compose(famo, ·): the loss part sees this batch's losses (not constants), and FAMO's
/// logits take their after-step update (one more forward pass) on every path.
#[test]
fn the_loss_part_sees_the_losses_and_famo_updates_on_every_path() {
    let suite = tiny_suite(3, 8, 64, 8);
    let arch = ArchitectureSpec::HardSharing(HardSharing {});
    let model = ModelSpec {
        trunk: vec![8].into(),
        head: vec![],
    };
    for (label, gradient, rep_grad) in paths() {
        let weighting = WeightingSpec::Compose(Compose {
            loss: Box::new(WeightingSpec::Famo(Famo::default())),
            gradient: Box::new(gradient),
        });
        let training = adam_training(1, 16, 1, rep_grad);
        let mut trainer = trainer_for(&suite, &weighting, &training, &arch, &model);
        let rows: Vec<usize> = (0..16).collect();
        let batch = trainer.batch(&rows);
        let losses = engine::batch_losses(&trainer.net, &trainer.kinds, &batch);
        let cost = trainer.step(&batch);
        let (logits, seen) = trainer.weighter.loss_part_state();
        assert_eq!(seen.len(), losses.len(), "{label}: {seen:?}");
        for (a, b) in seen.iter().zip(&losses) {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs(),
                "{label}: {seen:?} vs {losses:?}"
            );
        }
        assert!(
            logits.iter().any(|w| *w != 0.0),
            "{label}: FAMO did not update"
        );
        // Per-task gradients of a trunk network take one trunk forward (`trunk`); the
        // representation paths two.
        let forward = if label == "per-task" { 1 } else { 2 };
        assert_eq!(cost.forward, forward + 1, "{label}: FAMO's extra forward");
    }
}
