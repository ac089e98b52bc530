//! Unit tests of the training loop and the trainer on tiny planted suites. The helpers
//! (`tiny_suite`, `train_tiny`, `adam_training`, from `architecture::testing`) serve the
//! test files beside it too.

use super::*;
use crate::architecture::{
    Cgc, CrossStitch, HardSharing, Hierarchical, Mmoe, SingleTask, SoftSharing,
};
use crate::device::cpu;
use crate::engine;
use crate::weighting::WeightingSpec;
use crate::weighting::{Equal, Static};

mod compose_paths;
mod meta;
mod missing;
mod recorded;
mod telemetry;

// The helpers shared with the architectures' tests.
use crate::architecture::testing::{adam_training, tiny_suite, train_tiny};

/// Conformance: each registered architecture × weighting lowers the training loss on a
/// tiny suite, and the same seeds give a bit-identical outcome.
#[test]
fn every_method_learns_and_is_deterministic() {
    let suite = tiny_suite(3, 8, 64, 9);
    let model = ModelSpec {
        trunk: vec![16].into(),
        head: vec![],
    };
    let training = adam_training(15, 16, 5, false);
    // single_task, and hard_sharing with every registered weighting.
    let mut methods = vec![
        (
            ArchitectureSpec::SingleTask(SingleTask {}),
            WeightingSpec::Equal(Equal {}),
        ),
        (
            ArchitectureSpec::Mmoe(Mmoe::default()),
            WeightingSpec::Equal(Equal {}),
        ),
        (
            ArchitectureSpec::CrossStitch(CrossStitch {}),
            WeightingSpec::Equal(Equal {}),
        ),
        (
            ArchitectureSpec::Cgc(Cgc::default()),
            WeightingSpec::Mgda(Default::default()),
        ),
        (
            ArchitectureSpec::SoftSharing(SoftSharing::default()),
            WeightingSpec::Equal(Equal {}),
        ),
        (
            ArchitectureSpec::Hierarchical(Hierarchical {
                groups: Some(vec![vec![0, 2], vec![1]]),
                root_depth: Some(0),
                levels: None,
            }),
            WeightingSpec::Mgda(Default::default()),
        ),
    ];

    for (_, weighting) in WeightingSpec::registry() {
        let weighting = match weighting {
            WeightingSpec::Static(_) => WeightingSpec::Static(Static {
                weights: vec![1.0, 0.5, 2.0],
            }),
            other => other,
        };
        methods.push((ArchitectureSpec::HardSharing(HardSharing {}), weighting));
    }
    for (architecture, weighting) in &methods {
        let run = || train_tiny(&suite, architecture, weighting, &model, &training, (4, 5));
        let outcome = run();
        assert_eq!(outcome.status, RunStatus::Ok);
        let train_loss = |epoch: usize| -> f64 {
            outcome
                .points
                .iter()
                .filter(|p| p.split == Split::Train && p.epoch == epoch)
                .map(|p| p.value)
                .sum()
        };
        assert!(
            train_loss(15) < 0.5 * train_loss(1),
            "{architecture:?}: {} → {}",
            train_loss(1),
            train_loss(15)
        );
        assert_eq!(
            outcome,
            run(),
            "{architecture:?} {weighting:?} is deterministic"
        );
        assert_eq!(outcome.steps, 15 * 4);
        // Backward calls and forward passes per step, as the step context counts them: 1
        // and 1 (loss-level; FAMO one more forward; Auto-Lambda 3 and 5; Meta-Weight-Net
        // T + 1 each), T + 1 and 1 (parameter gradients of a trunk network: one trunk
        // forward, T head backward passes and one trunk backward batched over the tasks), T
        // and T (parameter gradients of other architectures), T + 1 and 2
        // (representation).
        let trunk = matches!(architecture, ArchitectureSpec::HardSharing(_));
        let (backward, forward) = if weighting.uses_representation() {
            (4, 2)
        } else if matches!(weighting, WeightingSpec::AutoLambda(_)) {
            (3, 5)
        } else if matches!(weighting, WeightingSpec::MetaWeightNet(_)) {
            (4, 4)
        } else if weighting.is_gradient_level() && trunk {
            (4, 1)
        } else if weighting.is_gradient_level() {
            (3, 3)
        } else {
            (
                1,
                1 + usize::from(matches!(weighting, WeightingSpec::Famo(_))),
            )
        };
        assert_eq!(outcome.backward_passes, 15 * 4 * backward);
        assert_eq!(outcome.forward_passes, 15 * 4 * forward);
    }
}

/// MGDA on representation gradients trains, takes T + 1 backward calls per step, and
/// differs from MGDA on parameter gradients.
#[test]
fn rep_grad_path_trains() {
    let suite = tiny_suite(3, 8, 64, 9);
    let model = ModelSpec {
        trunk: vec![16].into(),
        head: vec![],
    };
    let run = |rep_grad: bool| {
        let training = adam_training(10, 16, 5, rep_grad);
        train_tiny(
            &suite,
            &ArchitectureSpec::HardSharing(HardSharing {}),
            &WeightingSpec::Mgda(Default::default()),
            &model,
            &training,
            (4, 5),
        )
    };
    let rep = run(true);
    assert_eq!(rep.status, RunStatus::Ok);
    assert_eq!(rep.backward_passes, 40 * 4);
    let loss = |o: &TrainOutcome, epoch: usize| -> f64 {
        o.points
            .iter()
            .filter(|p| p.split == Split::Train && p.epoch == epoch)
            .map(|p| p.value)
            .sum()
    };
    assert!(loss(&rep, 10) < 0.7 * loss(&rep, 1));
    assert_ne!(rep.points, run(false).points);
}
