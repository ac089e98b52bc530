//! Training with missing labels (docs/FORMULAS.md#missing-labels): a task's loss over its
//! labelled rows, unlabelled targets never read, and every registered method trained on a
//! suite where a task has no label in most batches.

use super::*;
use mtlbench_tasks::{Matrix, Presence, SuiteData};

/// `suite` with task `task` labelled on the training rows `labelled` only, and on every
/// other validation row.
fn with_labels(mut suite: SuiteData, task: usize, labelled: &[usize]) -> SuiteData {
    let n = suite.x.train.rows;
    let val = suite.x.val.rows;
    suite.tasks[task].present = Some(Presence {
        train: (0..n).map(|r| labelled.contains(&r)).collect(),
        val: (0..val).map(|r| r % 2 == 0).collect(),
    });
    suite
}

/// The targets of task `task`'s unlabelled training and validation rows replaced by
/// `value`.
fn scramble(mut suite: SuiteData, task: usize, value: f32) -> SuiteData {
    let t = &mut suite.tasks[task];
    let present = t.present.clone().unwrap();
    let fill = |y: &mut Matrix, present: &[bool]| {
        for (r, p) in present.iter().enumerate() {
            if !p {
                let cols = y.cols;
                y.data[r * cols..(r + 1) * cols]
                    .iter_mut()
                    .for_each(|v| *v = value);
            }
        }
    };
    fill(&mut t.y.train, &present.train);
    fill(&mut t.y.val, &present.val);
    suite
}

fn model() -> ModelSpec {
    ModelSpec {
        trunk: vec![16].into(),
        head: vec![],
    }
}

/// An unlabelled row's target is never read: not by the loss, its gradient, the epoch's
/// training loss nor the validation metrics. The same run with those targets set to 10⁶
/// gives the bit-identical outcome (with every label present it would not).
#[test]
fn unlabelled_targets_are_never_read() {
    let labelled: Vec<usize> = (0..64).filter(|r| r % 3 != 0).collect();
    let suite = with_labels(tiny_suite(3, 8, 64, 9), 1, &labelled);
    let scrambled = scramble(suite.clone(), 1, 1e6);
    let training = adam_training(4, 8, 2, false);
    for weighting in [
        WeightingSpec::Equal(Equal {}),
        WeightingSpec::Mgda(Default::default()),
    ] {
        let run = |s: &SuiteData| {
            train_tiny(
                s,
                &ArchitectureSpec::HardSharing(HardSharing {}),
                &weighting,
                &model(),
                &training,
                (4, 5),
            )
        };
        let a = run(&suite);
        assert_eq!(a.status, RunStatus::Ok);
        assert_eq!(a, run(&scrambled), "{}", weighting.kind());
        let mut complete = scrambled.clone();
        complete.tasks[1].present = None;
        assert_ne!(a.points, run(&complete).points);
    }
}

/// A task's loss on a batch is its mean over the labelled rows (the loss of the batch made
/// of those rows alone); with none, 0 with a zero gradient.
#[test]
fn a_task_loss_is_its_mean_over_labelled_rows() {
    let suite = with_labels(tiny_suite(2, 4, 16, 3), 0, &[1, 2, 5, 9]);
    let (arch, w, m) = (
        ArchitectureSpec::HardSharing(HardSharing {}),
        WeightingSpec::Equal(Equal {}),
        model(),
    );
    let training = adam_training(1, 8, 1, false);
    let def = RunDefinition {
        suite: &suite,
        architecture: &arch,
        weighting: &w,
        model: &m,
        training: &training,
        seeds: RunSeeds {
            init: 1,
            batches: 2,
        },
    };
    let trainer = Trainer::new(cpu(), def);
    let kinds = trainer.kinds.clone();
    let rows: Vec<usize> = (0..8).collect();
    let masked = engine::batch_losses(&trainer.net, &kinds, &trainer.batch(&rows));
    let alone = engine::batch_losses(&trainer.net, &kinds, &trainer.batch(&[1, 2, 5]));
    assert!(
        (masked[0] - alone[0]).abs() < 1e-6 * alone[0].abs().max(1.0),
        "{masked:?} {alone:?}"
    );
    // Task 1 has every label: its loss is that of the whole batch.
    let mut full = suite.clone();
    full.tasks[0].present = None;
    let unmasked = {
        let def = RunDefinition {
            suite: &full,
            ..def_of(&suite, &arch, &w, &m, &training)
        };
        let t = Trainer::new(cpu(), def);
        engine::batch_losses(&t.net, &kinds, &t.batch(&rows))
    };
    assert_eq!(masked[1], unmasked[1]);
    // No label of task 0 in rows 10..16: loss 0 and a zero gradient, so the weighted
    // gradient is task 1's alone.
    let none: Vec<usize> = (10..16).collect();
    let batch = trainer.batch(&none);
    assert_eq!(batch.present(), Some(vec![false, true]));
    let both = engine::weighted_loss_gradients(&trainer.net, &kinds, &batch, |_| vec![1.0, 1.0]);
    let one = engine::weighted_loss_gradients(&trainer.net, &kinds, &batch, |_| vec![0.0, 1.0]);
    assert_eq!(both.losses[0], 0.0);
    assert_eq!(engine::flatten(&both.grads), engine::flatten(&one.grads));
}

fn def_of<'a>(
    suite: &'a SuiteData,
    architecture: &'a ArchitectureSpec,
    weighting: &'a WeightingSpec,
    model: &'a ModelSpec,
    training: &'a TrainConfig,
) -> RunDefinition<'a> {
    RunDefinition {
        suite,
        architecture,
        weighting,
        model,
        training,
        seeds: RunSeeds {
            init: 1,
            batches: 2,
        },
    }
}

/// The steps (0-based) whose batch holds none of the rows `labelled`, by the training
/// loop's order (`seed::stream(batches, ["epoch", e])` over the sorted rows).
fn absent_steps(n: usize, batch: usize, epochs: usize, seed: u64, labelled: &[usize]) -> Vec<bool> {
    use rand::seq::SliceRandom;
    let mut out = Vec::new();
    for epoch in 1..=epochs {
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut mtlbench_tasks::seed::stream(
            seed,
            &["epoch", &epoch.to_string()],
        ));
        out.extend(
            order
                .chunks(batch)
                .map(|rows| !rows.iter().any(|r| labelled.contains(r))),
        );
    }
    out
}

/// Conformance: every registered method trains on a suite where task 1 has 3 labelled
/// training rows of 64 (absent from most batches of 8): the run ends `ok` with finite
/// values, and wherever a method records task weights, task 1's is 0 at every step whose
/// batch holds none of its labels.
#[test]
fn every_method_trains_with_a_task_absent_from_batches() {
    let labelled = [3, 30, 51];
    let suite = with_labels(tiny_suite(3, 8, 64, 9), 1, &labelled);
    let (epochs, batch) = (4, 8);
    let training = TrainConfig {
        weights_every: 1,
        ..adam_training(epochs, batch, 2, false)
    };
    let absent = absent_steps(64, batch, epochs, 5, &labelled);
    assert!(absent.iter().filter(|a| **a).count() >= 20);
    for (_, weighting) in WeightingSpec::registry() {
        let weighting = match weighting {
            WeightingSpec::Static(_) => WeightingSpec::Static(Static {
                weights: vec![1.0, 0.5, 2.0],
            }),
            other => other,
        };
        let outcome = train_tiny(
            &suite,
            &ArchitectureSpec::HardSharing(HardSharing {}),
            &weighting,
            &model(),
            &training,
            (4, 5),
        );
        let kind = weighting.kind();
        assert_eq!(
            outcome.status,
            RunStatus::Ok,
            "{kind}: {:?}",
            outcome.message
        );
        assert!(outcome.points.iter().all(|p| p.value.is_finite()), "{kind}");
        assert!(
            outcome.weights.iter().all(|p| p.value.is_finite()),
            "{kind}"
        );
        let mut checked = 0;
        for p in outcome.weights.iter().filter(|p| p.task == 1) {
            if absent[p.step] {
                assert_eq!(p.value, 0.0, "{kind}: step {}", p.step);
                checked += 1;
            }
        }
        // GradDrop and GradVac record no task weights (per-element masks, per-block
        // coefficients); every other method does.
        let records = !matches!(
            weighting,
            WeightingSpec::GradDrop(_) | WeightingSpec::GradVac(_)
        );
        assert_eq!(checked > 0, records, "{kind}");
    }
}

/// A training fraction that keeps no labelled row of a task fails the run, saying so.
#[test]
fn a_run_without_a_labelled_row_of_a_task_fails() {
    let suite = with_labels(tiny_suite(2, 4, 16, 3), 1, &[]);
    let outcome = train_tiny(
        &suite,
        &ArchitectureSpec::HardSharing(HardSharing {}),
        &WeightingSpec::Equal(Equal {}),
        &model(),
        &adam_training(1, 8, 1, false),
        (1, 2),
    );
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome
        .message
        .unwrap()
        .contains("task 1 has no labelled row"));
}
