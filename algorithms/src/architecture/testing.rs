//! Helpers of the architectures' and the training loop's tests: a tiny planted suite and
//! one training run on the CPU.

use crate::architecture::ArchitectureSpec;
use crate::device::cpu;
use crate::model::ModelSpec;
use crate::train::{train, RunDefinition, RunSeeds, TrainConfig, TrainOutcome};
use crate::weighting::WeightingSpec;
use mtlbench_tasks::planted_correlation::PlantedCorrelation;
use mtlbench_tasks::SuiteData;

/// A small planted suite: `tasks` tasks, `inputs` features, `train` rows (val and test
/// a quarter and a half of that).
pub fn tiny_suite(tasks: usize, inputs: usize, train: usize, seed: u64) -> SuiteData {
    PlantedCorrelation {
        tasks,
        input_dim: inputs,
        train,
        val: train / 4,
        test: train / 2,
        ..Default::default()
    }
    .generate(seed)
    .unwrap()
}

/// Trains one run on the CPU with seeds (init, batches).
pub fn train_tiny(
    suite: &SuiteData,
    architecture: &ArchitectureSpec,
    weighting: &WeightingSpec,
    model: &ModelSpec,
    training: &TrainConfig,
    (init, batches): (u64, u64),
) -> TrainOutcome {
    let def = RunDefinition {
        suite,
        architecture,
        weighting,
        model,
        training,
        seeds: RunSeeds { init, batches },
    };
    train(cpu(), def, &|_| {})
}

/// Adam at lr 0.01.
pub fn adam_training(
    epochs: usize,
    batch_size: usize,
    eval_every: usize,
    rep_grad: bool,
) -> TrainConfig {
    TrainConfig {
        eval_every,
        rep_grad,
        ..TrainConfig::adam(epochs, batch_size, 0.01)
    }
}

/// The multiply-adds per row `architecture` counts for a dense trunk [3, 2] on 4 inputs,
/// no hidden head layer and three tasks of one output each: the shape the step-cost tests
/// count by hand (trunk 4·3 + 3·2 = 18, each head 2·1 = 2).
pub fn tiny_step_cost(architecture: &ArchitectureSpec) -> u128 {
    let layers = crate::trunk::Trunk::from(vec![3, 2])
        .resolve(4.into())
        .unwrap();
    let shape = super::Shape {
        layers: &layers,
        input_width: 4,
        head: &[],
        outputs: &[1, 1, 1],
    };
    architecture.step_cost(&shape)
}
