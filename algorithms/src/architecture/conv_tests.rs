//! Conv trunks end to end: every architecture trains with conv and pool layers on a tiny
//! synthetic image suite (its loss falls; the same seeds give a bit-identical run), the
//! `lenet` preset trains on 28×28 images, and (ignored by default) the time of one LeNet
//! step on a batch of 256 and a short run on the real MultiMNIST.

use crate::architecture::testing::{adam_training, train_tiny};
use crate::architecture::{
    ArchitectureSpec, Cgc, CrossStitch, HardSharing, Hierarchical, Mmoe, SingleTask, SoftSharing,
};
use crate::model::ModelSpec;
use crate::split::Split;
use crate::train::{RunStatus, TrainConfig, TrainOutcome};
use crate::trunk::{ConvSpec, Trunk, TrunkLayer};
use crate::weighting::Equal;
use crate::weighting::WeightingSpec;
use dfdx::prelude::*;
use mtlbench_tasks::metrics::default_metrics;
use mtlbench_tasks::{seed, ImageShape, Matrix, Splits, SuiteData, TaskData, TaskKind};
use rand::Rng;

/// Images of `side`×`side` pixels and two channels (noise, plus a bright 3×3 blob in the
/// first channel and its negative in the second) with two tasks: whether the blob is in
/// the top half (classification), and its column / side (regression). `rows` per split
/// (train; val and test a quarter and a half).
fn blob_suite(side: usize, rows: usize, seed_value: u64) -> SuiteData {
    let image = ImageShape {
        height: side,
        width: side,
        channels: 2,
    };
    let mut rng = seed::stream(seed_value, &["blobs"]);
    let mut split = |n: usize| {
        let mut x = Vec::with_capacity(n * image.len());
        let (mut top, mut column) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let (bi, bj) = (rng.gen_range(0..side - 2), rng.gen_range(0..side - 2));
            for i in 0..side {
                for j in 0..side {
                    let blob = (bi..bi + 3).contains(&i) && (bj..bj + 3).contains(&j);
                    let v = if blob { 1.0 } else { 0.0 };
                    x.push(v + rng.gen_range(-0.1..0.1f32));
                    x.push(-v + rng.gen_range(-0.1..0.1f32));
                }
            }
            top.push(if bi + 1 < side / 2 { 1.0 } else { 0.0 });
            column.push(bj as f32 / side as f32);
        }
        (
            Matrix::new(n, image.len(), x),
            Matrix::new(n, 1, top),
            Matrix::new(n, 1, column),
        )
    };
    let (train, val, test) = (split(rows), split(rows / 4), split(rows / 2));
    let task =
        |name: &str, kind: TaskKind, pick: fn(&(Matrix, Matrix, Matrix)) -> Matrix| TaskData {
            name: name.into(),
            kind,
            metrics: default_metrics(kind),
            y: Splits {
                train: pick(&train),
                val: pick(&val),
                test: pick(&test),
            },
            target_scale: 1.0,
            present: None,
        };
    let tasks = vec![
        task("top", TaskKind::Classification { classes: 2 }, |s| {
            s.1.clone()
        }),
        task("column", TaskKind::Regression { outputs: 1 }, |s| {
            s.2.clone()
        }),
    ];
    SuiteData {
        name: "blobs".into(),
        x: Splits {
            train: train.0.clone(),
            val: val.0.clone(),
            test: test.0.clone(),
        },
        tasks,
        planted_correlation: None,
        image: Some(image),
    }
}

fn conv(out: usize, kernel: usize, stride: usize, padding: usize) -> TrunkLayer {
    TrunkLayer::Conv(ConvSpec {
        out,
        kernel,
        stride,
        padding,
    })
}

/// The training loss summed over tasks after `epoch`.
fn train_loss(outcome: &TrainOutcome, epoch: usize) -> f64 {
    outcome
        .points
        .iter()
        .filter(|p| p.split == Split::Train && p.epoch == epoch)
        .map(|p| p.value)
        .sum()
}

/// Every architecture builds the conv trunk (as its trunk, its towers, its experts or its
/// task tree), trains, lowers its loss, and repeats bit for bit.
#[test]
fn every_architecture_trains_a_conv_trunk() {
    let suite = blob_suite(8, 64, 3);
    let model = ModelSpec {
        trunk: Trunk(vec![
            conv(4, 3, 1, 1),
            TrunkLayer::MaxPool(2),
            conv(6, 3, 2, 0),
            TrunkLayer::Flatten,
            TrunkLayer::Dense(8),
        ]),
        head: vec![],
    };
    model.validate().unwrap();
    model.validate_input(suite.image).unwrap();
    let training = adam_training(8, 16, 4, false);
    let equal = WeightingSpec::Equal(Equal {});
    let architectures = [
        ArchitectureSpec::HardSharing(HardSharing {}),
        ArchitectureSpec::SingleTask(SingleTask {}),
        ArchitectureSpec::SoftSharing(SoftSharing::default()),
        ArchitectureSpec::Mmoe(Mmoe { experts: 2 }),
        ArchitectureSpec::Cgc(Cgc::default()),
        ArchitectureSpec::CrossStitch(CrossStitch {}),
        ArchitectureSpec::Hierarchical(Hierarchical {
            groups: Some(vec![vec![1], vec![0]]),
            root_depth: Some(1),
            levels: None,
        }),
        ArchitectureSpec::Hierarchical(Hierarchical {
            groups: None,
            root_depth: None,
            levels: Some(vec![3, 2]),
        }),
    ];
    for arch in &architectures {
        arch.validate_for(2, model.trunk.depth()).unwrap();
        let run = || train_tiny(&suite, arch, &equal, &model, &training, (5, 6));
        let outcome = run();
        assert_eq!(
            outcome.status,
            RunStatus::Ok,
            "{arch:?}: {:?}",
            outcome.message
        );
        assert!(
            train_loss(&outcome, 8) < 0.7 * train_loss(&outcome, 1),
            "{arch:?}: {} → {}",
            train_loss(&outcome, 1),
            train_loss(&outcome, 8)
        );
        assert_eq!(outcome, run(), "{arch:?} is deterministic");
    }
}

/// Every registered architecture's default builds a conv trunk and gives every task an
/// output of its width (a new architecture is covered without being named here).
#[test]
fn every_registered_architecture_builds_a_conv_trunk() {
    let dev = crate::device::cpu();
    let suite = blob_suite(8, 8, 1);
    let model = ModelSpec {
        trunk: Trunk(vec![
            conv(3, 3, 1, 1),
            TrunkLayer::MaxPool(2),
            TrunkLayer::Dense(5),
        ]),
        head: vec![4],
    };
    let x = dev.tensor_from_vec(suite.x.train.data.clone(), (8, suite.input_width()));
    for (entry, arch) in ArchitectureSpec::registry() {
        let net = arch.build(&dev, &model, suite.input_shape(), &[2, 1], 1);
        let rep = net.shared_output(x.clone());
        for (t, width) in [2, 1].into_iter().enumerate() {
            let y = net.task_output(t, rep.branch());
            assert_eq!(y.shape(), &(8, width), "{}", entry.kind);
        }
    }
}

/// A gradient-level weighting (per-task passes through the conv layers) trains too.
#[test]
fn per_task_gradients_flow_through_conv_layers() {
    let suite = blob_suite(8, 64, 4);
    let model = ModelSpec {
        trunk: Trunk(vec![
            conv(4, 3, 1, 0),
            TrunkLayer::MaxPool(2),
            TrunkLayer::Dense(8),
        ]),
        head: vec![],
    };
    let training = adam_training(8, 16, 8, false);
    let outcome = train_tiny(
        &suite,
        &ArchitectureSpec::HardSharing(HardSharing {}),
        &WeightingSpec::Mgda(Default::default()),
        &model,
        &training,
        (1, 2),
    );
    assert_eq!(outcome.status, RunStatus::Ok);
    assert!(train_loss(&outcome, 8) < 0.7 * train_loss(&outcome, 1));
}

/// The blob suite at 28×28 with its first channel only: MultiMNIST's input shape.
fn lenet_suite(rows: usize, seed_value: u64) -> SuiteData {
    let mut suite = blob_suite(28, rows, seed_value);
    // Keep the first channel: 28×28×1, as MultiMNIST.
    let keep = |m: &Matrix| {
        let data = m.data.iter().step_by(2).copied().collect();
        Matrix::new(m.rows, m.cols / 2, data)
    };
    suite.x = Splits {
        train: keep(&suite.x.train),
        val: keep(&suite.x.val),
        test: keep(&suite.x.test),
    };
    suite.image = Some(mtlbench_tasks::real::multi_mnist::IMAGE);
    suite
}

/// Evaluation takes a conv network's rows 64 at a time (`Trainer::predict`): every row's
/// predictions are the same bits whatever the chunk (of at least two rows), for the LeNet
/// with a hidden head layer (`multimnist-published`'s model) in three architectures, after
/// some training so that the weights are not those of the initialisation. A single row
/// takes gemm's matrix-vector route, which need not round the same (in the first version
/// of this test, every row alone did not), so `predict` never makes a one-row chunk.
#[test]
fn predictions_do_not_depend_on_the_evaluation_chunk() {
    use crate::architecture::{SingleTask, SoftSharing};
    use crate::train::{chunk_bounds, RunDefinition, RunSeeds, Trainer};
    let suite = lenet_suite(2400, 8);
    let model = ModelSpec {
        trunk: Trunk::preset("lenet").unwrap(),
        head: vec![50],
    };
    let training = adam_training(2, 32, 1, false);
    for architecture in [
        ArchitectureSpec::HardSharing(HardSharing {}),
        ArchitectureSpec::SingleTask(SingleTask {}),
        ArchitectureSpec::SoftSharing(SoftSharing::default()),
    ] {
        let mut trainer = Trainer::new(
            crate::device::cpu(),
            RunDefinition {
                suite: &suite,
                architecture: &architecture,
                weighting: &WeightingSpec::Equal(Equal {}),
                model: &model,
                training: &training,
                seeds: RunSeeds {
                    init: 5,
                    batches: 6,
                },
            },
        );
        for k in 0..4 {
            let batch = trainer.batch(&(k * 32..(k + 1) * 32).collect::<Vec<_>>());
            trainer.step(&batch);
        }
        let x = &suite.x.test;
        let bits = |bounds: &[std::ops::Range<usize>]| -> Vec<Vec<u32>> {
            trainer
                .predict_in(x, bounds)
                .iter()
                .map(|m| m.data.iter().map(|v| v.to_bits()).collect())
                .collect()
        };
        let whole = bits(&chunk_bounds(x.rows, x.rows, false));
        assert!(x.rows > 1024 && whole[0].iter().any(|&b| b != whole[0][0]));
        for chunk in [2, 7, 64, 100, 1024] {
            let chunks = bits(&chunk_bounds(x.rows, chunk, false));
            assert!(chunks == whole, "{architecture:?}, chunk {chunk}");
        }
        let predicted: Vec<Vec<u32>> = trainer
            .predict(x)
            .iter()
            .map(|m| m.data.iter().map(|v| v.to_bits()).collect())
            .collect();
        assert!(predicted == whole, "{architecture:?}: predict");
    }
}

/// The `lenet` preset builds on a MultiMNIST-shaped suite (28×28×1) and trains.
#[test]
fn lenet_trains_on_28_by_28_images() {
    let suite = lenet_suite(64, 7);
    let model = ModelSpec {
        trunk: Trunk::preset("lenet").unwrap(),
        head: vec![],
    };
    model.validate_input(suite.image).unwrap();
    let net = ArchitectureSpec::HardSharing(HardSharing {}).build(
        &crate::device::cpu(),
        &model,
        suite.input_shape(),
        &[2, 1],
        1,
    );
    let shapes: Vec<(usize, usize)> = net.layers[net.shared.clone()]
        .iter()
        .map(|l| *l.weight.shape())
        .collect();
    assert_eq!(shapes, vec![(25, 10), (250, 20), (320, 50)]);
    let training = adam_training(15, 16, 15, false);
    let run = || {
        train_tiny(
            &suite,
            &ArchitectureSpec::HardSharing(HardSharing {}),
            &WeightingSpec::Equal(Equal {}),
            &model,
            &training,
            (3, 4),
        )
    };
    let outcome = run();
    assert_eq!(outcome.status, RunStatus::Ok);
    assert!(
        train_loss(&outcome, 15) < 0.5 * train_loss(&outcome, 1),
        "{} → {}",
        train_loss(&outcome, 1),
        train_loss(&outcome, 15)
    );
    assert_eq!(outcome, run());
}

/// LeNet on the real MultiMNIST (needs `MTLBENCH_DATA`; `.ci/run` runs it when the data is
/// there, about 8 s in the test build): a short run whose test accuracy beats chance on
/// both tasks.
#[test]
#[ignore = "needs the MultiMNIST files under MTLBENCH_DATA"]
fn lenet_on_multi_mnist() {
    use mtlbench_tasks::real::multi_mnist::{MultiImage, MultiMnist};
    use mtlbench_tasks::SuiteSpec;
    let spec = SuiteSpec::MultiMnist(MultiMnist(MultiImage {
        train: 4000,
        val: 500,
        test: 1000,
        ..Default::default()
    }));
    let suite = spec.generate(1).unwrap();
    assert_eq!(suite.image, spec.image_shape());
    let model = ModelSpec {
        trunk: Trunk::preset("lenet").unwrap(),
        head: vec![50],
    };
    let outcome = train_tiny(
        &suite,
        &ArchitectureSpec::HardSharing(HardSharing {}),
        &WeightingSpec::Equal(Equal {}),
        &model,
        &TrainConfig {
            eval_every: 3,
            ..TrainConfig::adam(3, 64, 0.001)
        },
        (1, 2),
    );
    assert_eq!(outcome.status, RunStatus::Ok);
    for epoch in 1..=3 {
        println!(
            "epoch {epoch}: training loss {:.3}",
            train_loss(&outcome, epoch)
        );
    }
    for task in 0..2 {
        let accuracy = outcome
            .points
            .iter()
            .find(|p| p.split == Split::Test && p.task == task && p.metric == "accuracy")
            .unwrap()
            .value;
        println!("task {task}: test accuracy {accuracy:.3}");
        assert!(accuracy > 0.5, "task {task}: {accuracy}");
    }
}
