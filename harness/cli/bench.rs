//! `mtlbench bench`: time per training step on W1 (the GradNorm toy at its paper size) and
//! W2 (the same with a 4×1024 trunk and batch 1024) against the same run's matmul rate,
//! every weighting's step relative to `equal`, the step of the `lenet` conv trunk (on
//! request), the peak heap bytes of each of those trainers (`memory_meter`; on a GPU the
//! host's share only), the throughput of a small sweep on 1 and 2 threads (and of a sweep of
//! small LeNet runs with the LeNet workload), and with the real data the cost of a
//! `multimnist-published` epoch's training and evaluation. Figures are printed, never
//! asserted: read them as ratios of one run.

use crate::error::HarnessError;
use crate::run::device::Backend;
use crate::run::memory_meter;
use crate::run::sweep::{run_sweep, SweepOptions};
use crate::study::config::parse_study;
use crate::study::plan;
use mtlbench_algorithms::architecture::{HardSharing, SingleTask};
use mtlbench_algorithms::bench::{
    forward_flops, matmul_gflops, seconds_per_evaluated_row, seconds_per_step,
    seconds_per_task_gradients, BenchDevice,
};
use mtlbench_algorithms::device::cpu;
use mtlbench_algorithms::train::{RunDefinition, RunSeeds, Trainer};
use mtlbench_algorithms::trunk::Trunk;
use mtlbench_algorithms::weighting::{Equal, Static};
use mtlbench_algorithms::{ArchitectureSpec, ModelSpec, TrainConfig, WeightingSpec};
use mtlbench_tasks::gradnorm_toy::GradnormToy;
use mtlbench_tasks::{Matrix, Splits, SuiteData, TaskData, TaskKind};
use std::time::Instant;

const SWEEP_STUDY: &str = "\
name: bench-sweep
seed: 1
replicates: 4
suites:
  - kind: planted_correlation
    tasks: 4
    train: 400
    test: 400
architectures:
  - kind: single_task
  - kind: hard_sharing
model:
  trunk: [64, 64]
training:
  epochs: 40
  batch_size: 32
";

fn one_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    in_pool(1, f)
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .expect("a thread pool")
        .install(f)
}

/// Which workloads `bench` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// W1: gradnorm_toy T=10, 250→4×100, batch 100.
    W1,
    /// W2: the same with trunk 4×1024 and batch 1024 (minutes on one CPU core).
    W2,
    /// LeNet: the `lenet` trunk on batches of 256 28×28 images, two 10-class tasks.
    Lenet,
    /// W1, W2, then LeNet.
    All,
}

/// A workload's shape: the GradNorm toy with T = 10 tasks of 100 outputs, input 250,
/// a trunk of 4 layers of `width` units, batch `batch`.
#[derive(Debug, Clone, Copy)]
struct Shape {
    name: &'static str,
    width: usize,
    batch: usize,
    /// Divides the timed steps (W2's steps are ~100× longer).
    step_divisor: usize,
}

const W1: Shape = Shape {
    name: "W1",
    width: 100,
    batch: 100,
    step_divisor: 1,
};
const W2: Shape = Shape {
    name: "W2",
    width: 1024,
    batch: 1024,
    step_divisor: 10,
};

/// One workload's figures on one device: the equal and per-task steps with their FLOPs,
/// and every weighting's step.
struct Figures {
    equal_s: f64,
    per_task_s: f64,
    /// G and GGᵀ alone by T passes and by the batched trunk route.
    passes_s: f64,
    batched_s: f64,
    equal_flops: f64,
    per_task_flops: f64,
    /// Each weighting's step time and the peak heap bytes of its trainer (built and
    /// stepped; `memory_meter`, absent where not counted).
    methods: Vec<(String, f64, Option<u64>)>,
}

fn workload<D: BenchDevice>(
    dev: impl Fn() -> D,
    shape: Shape,
    steps: usize,
    rounds: usize,
    methods: Option<&[String]>,
) -> Figures {
    let batch = shape.batch;
    let steps = steps.div_ceil(shape.step_divisor).max(1);
    let toy = GradnormToy {
        tasks: 10,
        // Eight batches for the timed steps to cycle through (`seconds_per_step`).
        train: 8 * batch,
        val: 2,
        test: 2,
        ..Default::default()
    };
    let suite = toy.generate(1).expect("the bench suite is valid");
    let model = ModelSpec {
        trunk: vec![shape.width; 4].into(),
        head: vec![],
    };
    let training = TrainConfig::adam(1, batch, 1e-3);
    let arch = ArchitectureSpec::HardSharing(HardSharing {});
    let weighting = WeightingSpec::Equal(Equal {});
    let def = || RunDefinition {
        suite: &suite,
        architecture: &arch,
        weighting: &weighting,
        model: &model,
        training: &training,
        seeds: RunSeeds {
            init: 1,
            batches: 1,
        },
    };
    let mut trainer = Trainer::new(dev(), def());
    // Forward + backward ≈ 3 × forward FLOPs.
    let forward = forward_flops(&trainer, batch);
    let equal_s = seconds_per_step(&mut trainer, batch, steps, rounds, false);
    let mut trainer = Trainer::new(dev(), def());
    let shared_macs = trainer.net.shared_macs();
    let tasks = trainer.kinds.len() as f64;
    // Per-task path: one forward, and the shared trunk's backward (2 multiply-adds per
    // weight and row) once per task instead of once.
    let per_task_extra = (tasks - 1.0) * 2.0 * 2.0 * (shared_macs * batch) as f64;
    let per_task_s = seconds_per_step(&mut trainer, batch, steps, rounds, true);
    let passes_s = seconds_per_task_gradients(&trainer, batch, steps, rounds, false);
    let batched_s = seconds_per_task_gradients(&trainer, batch, steps, rounds, true);
    // Every registered weighting, through the path it needs, relative to equal.
    let methods: Vec<(String, f64, Option<u64>)> = WeightingSpec::registry()
        .into_iter()
        .filter(|(entry, _)| methods.is_none_or(|m| m.iter().any(|k| k == entry.kind)))
        .map(|(entry, weighting)| {
            let weighting = match weighting {
                WeightingSpec::Static(_) => WeightingSpec::Static(Static {
                    weights: vec![1.0; 10],
                }),
                other => other,
            };
            let def = RunDefinition {
                weighting: &weighting,
                ..def()
            };
            let (seconds, peak) = memory_meter::measure(|| {
                let mut trainer = Trainer::new(dev(), def);
                seconds_per_step(&mut trainer, batch, steps, rounds, false)
            });
            (entry.kind.to_string(), seconds, peak)
        })
        .collect();
    Figures {
        equal_s,
        per_task_s,
        passes_s,
        batched_s,
        equal_flops: 3.0 * forward,
        per_task_flops: 3.0 * forward + per_task_extra,
        methods,
    }
}

/// The LeNet workload's batch.
const LENET_BATCH: usize = 256;

/// A MultiMNIST-shaped suite (28×28×1 images, two 10-class tasks) of eight batches of
/// `batch` images of uniform noise with drawn labels: a step's cost does not depend on what
/// the pixels show, and the bench needs no data files.
fn lenet_suite(batch: usize) -> SuiteData {
    use mtlbench_tasks::metrics::default_metrics;
    use mtlbench_tasks::real::multi_mnist::IMAGE;
    use rand::Rng;
    let mut rng = mtlbench_tasks::seed::stream(1, &["bench", "lenet"]);
    let mut split = |n: usize| {
        let x: Vec<f32> = (0..n * IMAGE.len()).map(|_| rng.gen::<f32>()).collect();
        let labels: Vec<Matrix> = (0..2)
            .map(|_| Matrix::new(n, 1, (0..n).map(|_| rng.gen_range(0..10) as f32).collect()))
            .collect();
        (Matrix::new(n, IMAGE.len(), x), labels)
    };
    // Validation and test as large as four batches each: `lenet_evaluation` times them.
    let (train, val, test) = (split(8 * batch), split(4 * batch), split(4 * batch));
    let kind = TaskKind::Classification { classes: 10 };
    let tasks = (0..2)
        .map(|t| TaskData {
            name: ["left", "right"][t].into(),
            kind,
            metrics: default_metrics(kind),
            y: Splits {
                train: train.1[t].clone(),
                val: val.1[t].clone(),
                test: test.1[t].clone(),
            },
            target_scale: 1.0,
            present: None,
        })
        .collect();
    SuiteData {
        name: "lenet-bench".into(),
        x: Splits {
            train: train.0,
            val: val.0,
            test: test.0,
        },
        tasks,
        planted_correlation: None,
        image: Some(IMAGE),
    }
}

/// The LeNet workload's figures: step times and the cost of evaluating.
struct LenetFigures {
    /// Each step's label, seconds and peak heap bytes.
    steps: Vec<(&'static str, f64, Option<u64>)>,
    /// hard_sharing+equal: seconds per evaluated row of an evaluation point
    /// (`seconds_per_evaluated_row`, validation and test).
    eval_row_s: f64,
}

/// The LeNet workload's step times: hard_sharing with `equal` and with `mgda` (a conv trunk
/// takes its task gradients by T forward and backward passes), and `single_task` (two
/// LeNets), each the median of `rounds` rounds of a fifth of `steps`; and the seconds per
/// evaluated row of hard_sharing+equal's evaluation point.
fn lenet_workload<D: BenchDevice>(
    dev: impl Fn() -> D,
    steps: usize,
    rounds: usize,
) -> LenetFigures {
    let steps = steps.div_ceil(5).max(1);
    let suite = lenet_suite(LENET_BATCH);
    let model = ModelSpec {
        trunk: Trunk::preset("lenet").expect("the lenet preset"),
        head: vec![],
    };
    let training = TrainConfig::adam(1, LENET_BATCH, 1e-3);
    let hard = ArchitectureSpec::HardSharing(HardSharing {});
    let single = ArchitectureSpec::SingleTask(SingleTask {});
    let equal = WeightingSpec::Equal(Equal {});
    let mgda = WeightingSpec::Mgda(Default::default());
    let definition = |architecture, weighting| RunDefinition {
        suite: &suite,
        architecture,
        weighting,
        model: &model,
        training: &training,
        seeds: RunSeeds {
            init: 1,
            batches: 1,
        },
    };
    let eval_row_s =
        seconds_per_evaluated_row(&Trainer::new(dev(), definition(&hard, &equal)), rounds);
    let steps = [
        ("hard_sharing+equal", &hard, &equal),
        ("hard_sharing+mgda (T passes)", &hard, &mgda),
        ("single_task+equal (two LeNets)", &single, &equal),
    ]
    .into_iter()
    .map(|(label, architecture, weighting)| {
        let (seconds, peak) = memory_meter::measure(|| {
            let mut trainer = Trainer::new(dev(), definition(architecture, weighting));
            seconds_per_step(&mut trainer, LENET_BATCH, steps, rounds, false)
        });
        (label, seconds, peak)
    })
    .collect();
    LenetFigures { steps, eval_row_s }
}

/// A trainer's peak heap bytes (model, optimizer state, a step's activations and
/// gradients) as printed beside its step time.
fn peak_text(peak: Option<u64>) -> String {
    match peak {
        Some(bytes) => format!("peak heap {:>8.2} MiB", bytes as f64 / (1024.0 * 1024.0)),
        None => "peak heap –".to_string(),
    }
}

/// Prints one workload's figures against the matmul rate `gflops`.
fn print_figures(shape: Shape, on: &str, gflops: f64, f: &Figures) {
    let row = |name: &str, seconds: f64, flops: f64| {
        let rate = flops / seconds / 1e9;
        println!(
            "{name}: {:.2} ms/step, {:.1} MFLOP/step, {rate:.1} GFLOP/s = {:.0}% of matmul",
            seconds * 1e3,
            flops / 1e6,
            100.0 * rate / gflops
        );
    };
    println!(
        "{} = gradnorm_toy T=10, batch {}, trunk 250→4×{} ReLU, heads {}→100, Adam, {on}:",
        shape.name, shape.batch, shape.width, shape.width
    );
    row(
        "  hard_sharing+equal step (1 forward + 1 backward)",
        f.equal_s,
        f.equal_flops,
    );
    row(
        "  per-task gradient step (G on the device by the trunk route, d = Gᵀw)",
        f.per_task_s,
        f.per_task_flops,
    );
    println!(
        "  per-task step / equal step: {:.2}x time",
        f.per_task_s / f.equal_s
    );
    println!(
        "  G and GGᵀ alone: T forward+backward passes {:.2} ms, one trunk forward + batched trunk backward {:.2} ms ({:.2}x)",
        f.passes_s * 1e3,
        f.batched_s * 1e3,
        f.passes_s / f.batched_s
    );
    println!("  target: equal step at >= 55% of the matmul rate; every gradient-level method <= 2.5x equal (W1, 1 thread)");
    println!(
        "{} step time of each weighting with hard_sharing, relative to equal (same run):",
        shape.name
    );
    let equal_method = f
        .methods
        .iter()
        .find(|(k, _, _)| k == "equal")
        .map_or(f.equal_s, |m| m.1);
    for (kind, seconds, peak) in &f.methods {
        println!(
            "  {kind:<16} {:>9.2} ms/step  {:>5.2}x  {}",
            seconds * 1e3,
            seconds / equal_method,
            peak_text(*peak)
        );
    }
}

/// This thread's CUDA device, its failure as an error about `--device`.
#[cfg(feature = "cuda")]
fn cuda_device() -> Result<mtlbench_algorithms::device::CudaDevice, HarnessError> {
    mtlbench_algorithms::device::worker_cuda().map_err(|message| HarnessError::Config {
        file: "--device".into(),
        message,
    })
}

pub fn run(
    steps: usize,
    rounds: usize,
    backend: Backend,
    workloads: Workload,
    threads: usize,
    methods: Option<Vec<String>>,
) -> Result<u8, HarnessError> {
    if let Some(kinds) = &methods {
        let known: Vec<&str> = WeightingSpec::registry()
            .iter()
            .map(|(entry, _)| entry.kind)
            .collect();
        if let Some(unknown) = kinds.iter().find(|k| !known.contains(&k.as_str())) {
            return Err(HarnessError::Config {
                file: "--methods".into(),
                message: format!(
                    "unknown weighting `{unknown}`; the registered ones are {}",
                    known.join(", ")
                ),
            });
        }
    }
    let methods = methods.as_deref();
    backend
        .check_available()
        .map_err(|message| HarnessError::Config {
            file: "--device".into(),
            message,
        })?;
    let shapes: Vec<Shape> = match workloads {
        Workload::W1 => vec![W1],
        Workload::W2 => vec![W2],
        Workload::Lenet => vec![],
        Workload::All => vec![W1, W2],
    };
    let lenet = matches!(workloads, Workload::Lenet | Workload::All);
    let measure = |shape: Shape| -> Result<(f64, Figures), HarnessError> {
        Ok(match backend {
            Backend::Cpu => in_pool(threads, || {
                (
                    matmul_gflops(&cpu(), 1024, 5),
                    workload(cpu, shape, steps, rounds, methods),
                )
            }),
            #[cfg(feature = "cuda")]
            Backend::Cuda => {
                let dev = cuda_device()?;
                (
                    matmul_gflops(&dev, 1024, 5),
                    workload(|| dev.clone(), shape, steps, rounds, methods),
                )
            }
            #[cfg(not(feature = "cuda"))]
            Backend::Cuda => unreachable!("check_available refuses CUDA in a build without it"),
        })
    };
    let on = match backend {
        Backend::Cpu => format!("{threads} thread(s)"),
        Backend::Cuda => "CUDA device 0".to_string(),
    };
    println!("mtlbench bench (figures of this run; compare them as ratios)");
    for shape in shapes {
        let (gflops, figures) = measure(shape)?;
        println!("matmul 1024x1024x1024 f32, {on}: {gflops:.1} GFLOP/s");
        print_figures(shape, &on, gflops, &figures);
    }
    if lenet {
        let figures = match backend {
            Backend::Cpu => in_pool(threads, || lenet_workload(cpu, steps, rounds)),
            #[cfg(feature = "cuda")]
            Backend::Cuda => {
                let dev = cuda_device()?;
                lenet_workload(|| dev.clone(), steps, rounds)
            }
            #[cfg(not(feature = "cuda"))]
            Backend::Cuda => unreachable!("check_available refuses CUDA in a build without it"),
        };
        println!(
            "LeNet = the lenet trunk (conv 10 5×5, max-pool 2, conv 20 5×5, max-pool 2, dense 50), batch {LENET_BATCH} of 28×28×1, two 10-class tasks, Adam, {on}:"
        );
        let base = figures.steps[0].1;
        for (label, seconds, peak) in &figures.steps {
            println!(
                "  {label:<46} {:>9.1} ms/step  {:>5.2}x  {}",
                seconds * 1e3,
                seconds / base,
                peak_text(*peak)
            );
        }
        let step_row = base / LENET_BATCH as f64;
        println!(
            "  evaluation point (validation + test, forward only) {:>6.1} µs/row = {:.2}x a hard_sharing+equal step's {:.1} µs/row (target <= 0.4x)",
            figures.eval_row_s * 1e6,
            figures.eval_row_s / step_row,
            step_row * 1e6
        );
        // What that makes of an epoch of the published MultiMNIST protocol
        // (multimnist-published: 54k training pairs; 6k validation and 10k test pairs
        // evaluated after every epoch), from the two per-row costs above.
        let (trained, evaluated) = (54_000.0, 16_000.0);
        let (train_s, eval_s) = (trained * step_row, evaluated * figures.eval_row_s);
        println!(
            "  an epoch of multimnist-published at these costs: {:.1} s training + {:.1} s evaluating = {:.0}% of its time in evaluation",
            train_s,
            eval_s,
            100.0 * eval_s / (train_s + eval_s)
        );
    }

    let study = parse_study("bench-sweep", SWEEP_STUDY)?;
    let runs = plan::expand(&study)?;
    // Best of two sweeps per thread count: the machine is shared, and a slow outlier
    // says more about the neighbours than about the sweep.
    let mut times = Vec::new();
    for threads in [1, 2] {
        let mut best = f64::INFINITY;
        for attempt in 0..2 {
            let out = std::env::temp_dir().join(format!(
                "mtlbench-bench-{}-{threads}-{attempt}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&out);
            let opts = SweepOptions {
                out: out.clone(),
                threads,
                resume: false,
                progress: false,
                backend,
                shard: None,
                tensorboard: false,
            };
            let start = Instant::now();
            let summary = run_sweep(&study.text, &runs, &opts)?;
            best = best.min(start.elapsed().as_secs_f64());
            let _ = std::fs::remove_dir_all(&out);
            if summary.ok != runs.len() {
                return Err(HarnessError::Output {
                    path: out,
                    message: format!(
                        "{} of the bench sweep's runs did not finish ok",
                        runs.len() - summary.ok
                    ),
                });
            }
        }
        times.push(best);
    }
    println!(
        "sweep of {} small runs (best of 2): {:.2} s on 1 thread, {:.2} s on 2 threads: {:.2}x speed-up (target >= 1.7x)",
        runs.len(),
        times[0],
        times[1],
        times[0] / times[1]
    );
    if lenet && backend == Backend::Cpu {
        let times: Vec<f64> = [1, 2].into_iter().map(lenet_sweep).collect();
        println!(
            "sweep of {LENET_SWEEP_RUNS} small LeNet runs (best of 2): {:.2} s on 1 thread, {:.2} s on 2 threads: {:.2}x speed-up (target >= 1.8x)",
            times[0],
            times[1],
            times[0] / times[1]
        );
    }
    real_data();
    Ok(0)
}

/// Runs in the LeNet sweep: hard_sharing+equal and single_task+equal, 4 seeds each.
const LENET_SWEEP_RUNS: usize = 8;

/// Seconds for a sweep of small LeNet runs on `threads` threads, the best of two: each run
/// trains one epoch of the LeNet workload's suite (8 batches of 256) and evaluates its
/// validation and test splits, the runs spread over the threads as `run` spreads a study's.
fn lenet_sweep(threads: usize) -> f64 {
    use rayon::prelude::*;
    let suite = lenet_suite(LENET_BATCH);
    let model = ModelSpec {
        trunk: Trunk::preset("lenet").expect("the lenet preset"),
        head: vec![],
    };
    let training = TrainConfig::adam(1, LENET_BATCH, 1e-3);
    let architectures = [
        ArchitectureSpec::HardSharing(HardSharing {}),
        ArchitectureSpec::SingleTask(SingleTask {}),
    ];
    let equal = WeightingSpec::Equal(Equal {});
    let runs: Vec<(&ArchitectureSpec, u64)> = (0..LENET_SWEEP_RUNS)
        .map(|i| (&architectures[i % 2], (i / 2) as u64 + 1))
        .collect();
    let mut best = f64::INFINITY;
    for _ in 0..2 {
        let start = Instant::now();
        let steps: usize = in_pool(threads, || {
            runs.par_iter()
                .map(|&(architecture, seed)| {
                    let def = RunDefinition {
                        suite: &suite,
                        architecture,
                        weighting: &equal,
                        model: &model,
                        training: &training,
                        seeds: RunSeeds {
                            init: seed,
                            batches: seed,
                        },
                    };
                    mtlbench_algorithms::train::train_on_cpu(def, &|_| {}).steps
                })
                .sum()
        });
        best = best.min(start.elapsed().as_secs_f64());
        assert_eq!(
            steps,
            LENET_SWEEP_RUNS * 8,
            "every LeNet run takes its 8 steps"
        );
    }
    best
}

static HARD_SHARING: ArchitectureSpec = ArchitectureSpec::HardSharing(HardSharing {});
static EQUAL: WeightingSpec = WeightingSpec::Equal(Equal {});

/// A CPU trainer of hard_sharing+equal on `suite` (seeds 1), as the real-data figures use.
fn hard_sharing_equal<'a>(
    suite: &'a SuiteData,
    model: &'a ModelSpec,
    training: &'a TrainConfig,
) -> Trainer<'a, mtlbench_algorithms::device::CpuDevice> {
    Trainer::new(
        cpu(),
        RunDefinition {
            suite,
            architecture: &HARD_SHARING,
            weighting: &EQUAL,
            model,
            training,
            seeds: RunSeeds {
                init: 1,
                batches: 1,
            },
        },
    )
}

/// With `MTLBENCH_DATA` set: the time to build MultiMNIST (paper size) and Census-Income
/// in memory, and one training epoch of hard_sharing+equal on each (1 thread).
fn real_data() {
    use mtlbench_tasks::real::{
        census::CensusIncome,
        multi_mnist::{MultiImage, Source},
    };
    if std::env::var_os(mtlbench_tasks::real::datadir::DATA_ENV).is_none() {
        println!("real data: skipped (set MTLBENCH_DATA to time MultiMNIST and Census-Income)");
        return;
    }
    println!("real data (1 thread; hard_sharing+equal, trunk 256→128, batch 256, Adam):");
    type Build = Box<
        dyn Fn() -> Result<mtlbench_tasks::SuiteData, mtlbench_tasks::TasksError> + Send + Sync,
    >;
    let build: Vec<(&str, Build)> = vec![
        (
            "multi_mnist 120k/10k/20k",
            Box::new(|| MultiImage::default().generate(Source::Mnist, "multi_mnist", 1)),
        ),
        (
            "census_income group 1",
            Box::new(|| CensusIncome::default().generate(1)),
        ),
    ];
    for (name, make) in build {
        let result = one_thread(|| {
            let start = Instant::now();
            let suite = make()?;
            let built = start.elapsed().as_secs_f64();
            let model = ModelSpec {
                trunk: vec![256, 128].into(),
                head: vec![],
            };
            let training = TrainConfig::adam(1, 256, 1e-3);
            let mut trainer = hard_sharing_equal(&suite, &model, &training);
            let rows: Vec<usize> = (0..suite.x.train.rows).collect();
            let start = Instant::now();
            for chunk in rows.chunks(256) {
                let batch = trainer.batch(chunk);
                trainer.step(&batch);
            }
            let epoch = start.elapsed().as_secs_f64();
            Ok::<_, mtlbench_tasks::TasksError>((
                built,
                epoch,
                suite.x.train.rows,
                suite.input_width(),
            ))
        });
        match result {
            Ok((built, epoch, rows, width)) => println!(
                "  {name}: built in {built:.2} s ({rows} training rows × {width} features); one epoch {epoch:.2} s ({:.2}x the build)",
                epoch / built
            ),
            Err(e) => println!("  {name}: {e}"),
        }
    }
    published_multi_mnist();
}

/// With the data: `multimnist-published`'s suite, model and optimizer (LeNet + head 50,
/// SGD with momentum 0.9, batch 256, 1 thread): seconds per trained row over 32 steps and
/// per evaluated row of an evaluation point (its 6k validation and 10k test pairs), and the
/// share of an epoch (54k pairs trained, then the point) spent evaluating.
fn published_multi_mnist() {
    use mtlbench_algorithms::optimizer::{OptimizerSpec, Sgd};
    use mtlbench_tasks::real::multi_mnist::{Construction, MultiImage, Source};
    let result = one_thread(|| {
        let suite = MultiImage {
            train: 54_000,
            val: 6_000,
            test: 10_000,
            construction: Construction::Published,
            ..Default::default()
        }
        .generate(Source::Mnist, "multi_mnist", 1)?;
        let model = ModelSpec {
            trunk: Trunk::preset("lenet").expect("the lenet preset"),
            head: vec![50],
        };
        let training = TrainConfig {
            optimizer: OptimizerSpec::Sgd(Sgd {
                momentum: 0.9,
                weight_decay: 0.0,
            }),
            ..TrainConfig::adam(1, LENET_BATCH, 0.01)
        };
        let mut trainer = hard_sharing_equal(&suite, &model, &training);
        let steps = 32;
        let start = Instant::now();
        for k in 0..steps {
            let batch =
                trainer.batch(&(k * LENET_BATCH..(k + 1) * LENET_BATCH).collect::<Vec<_>>());
            trainer.step(&batch);
        }
        let trained = start.elapsed().as_secs_f64() / (steps * LENET_BATCH) as f64;
        let evaluated = seconds_per_evaluated_row(&trainer, 1);
        let rows = |s: &mtlbench_tasks::Splits<Matrix>| (s.train.rows, s.val.rows + s.test.rows);
        Ok::<_, mtlbench_tasks::TasksError>((trained, evaluated, rows(&suite.x)))
    });
    match result {
        Ok((trained, evaluated, (train_rows, eval_rows))) => {
            let (train_s, eval_s) = (trained * train_rows as f64, evaluated * eval_rows as f64);
            println!(
                "  multimnist-published (LeNet, SGD): {:.1} µs per trained row, {:.1} µs per evaluated row ({:.2}x; target <= 0.4x); an epoch: {train_s:.1} s training {train_rows} rows + {eval_s:.1} s evaluating {eval_rows} = {:.0}% of its time in evaluation",
                trained * 1e6,
                evaluated * 1e6,
                evaluated / trained,
                100.0 * eval_s / (train_s + eval_s)
            );
        }
        Err(e) => println!("  multimnist-published: {e}"),
    }
}
