//! The `mtlbench` command line.

use clap::{Parser, Subcommand};
use mtlbench::cli::commands::{self, RunOptions, StudyInput, StudySource};
use mtlbench::run::device::Backend;
use mtlbench::run::shard::Shard;
use mtlbench::run::slurm::SlurmOptions;
use mtlbench::study::config::Override;
use mtlbench::study::plan::DEFAULT_MAX_RUNS;
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc instead of the system allocator. A training step allocates and frees many
/// buffers of hundreds of KiB to tens of MiB (activations, gradients, im2col patches);
/// glibc hands every freed block of that size back to the kernel and maps it again on the
/// next step, so each step paid page faults and TLB shootdowns for memory it had just
/// released (a LeNet sweep on 2 cores spent a quarter of its CPU time in the kernel).
/// mimalloc keeps freed pages for reuse. Values are untouched: records stay bit-identical.
///
/// Wrapped by `tracking_allocator`, which tells `run::memory_meter` which run made each
/// allocation (a run's peak heap bytes); the values computed are untouched.
#[global_allocator]
static ALLOCATOR: tracking_allocator::Allocator<mimalloc::MiMalloc> =
    tracking_allocator::Allocator::from_allocator(mimalloc::MiMalloc);

/// mimalloc's option that keeps freed memory committed, and its value here: never purge.
const PURGE_DELAY: (&str, &str) = ("MIMALLOC_PURGE_DELAY", "-1");

/// Restarts the program with `MIMALLOC_PURGE_DELAY=-1` unless the environment sets it.
/// By default mimalloc purges freed memory back to the kernel, and a training step frees
/// and allocates the same large buffers every step (a LeNet's patch matrices, 15 MB a
/// layer at batch 256), so the next step faulted and zeroed their pages again: a 1-epoch
/// MultiMNIST LeNet run with `mgda` on one thread took 15.1 s against 11.7 s without
/// purging (peak memory +3%; `bench --workload lenet`: `mgda` 127 against 97 ms a step).
/// mimalloc reads its options once, before `main`, from the environment, and setting one
/// from Rust would need `unsafe` (forbidden in this workspace), hence the restart: one
/// `exec` of the same binary with the same arguments. If it fails, the program goes on
/// with mimalloc's default.
fn with_allocator_options() {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let (name, value) = PURGE_DELAY;
        if std::env::var_os(name).is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
        // `exec` returns only when it failed.
        let _ = std::process::Command::new(exe)
            .arg0(arg0)
            .args(args)
            .env(name, value)
            .exec();
    }
}

#[derive(Parser)]
#[command(
    name = "mtlbench",
    version,
    about = "A benchmark harness for multi-task learning"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct StudyArgs {
    /// The study file (YAML). Without it (and without --preset), the built-in `quickstart`.
    study: Option<PathBuf>,
    /// A built-in study by name (see `mtlbench list`).
    #[arg(long, conflicts_with = "study")]
    preset: Option<String>,
    /// Override a key of the study (repeatable; a YAML value; a list for a grid axis),
    /// e.g. `--set training.lr=[0.001,0.01] --set replicates=5`.
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    sets: Vec<Override>,
    /// The most runs a plan may have (a guard against typos such as a huge `replicates`).
    #[arg(long, default_value_t = DEFAULT_MAX_RUNS)]
    max_runs: usize,
    /// The most memory one run may need, by the plan's estimate (e.g. 8G, 512M; default:
    /// half of the machine's memory).
    #[arg(long, value_name = "SIZE", value_parser = mtlbench::study::memory::parse_size)]
    max_memory: Option<u64>,
}

impl StudyArgs {
    fn input(self) -> StudyInput {
        let source = match (self.study, self.preset) {
            (Some(path), _) => StudySource::File(path),
            (None, Some(name)) => StudySource::Preset(name),
            (None, None) => StudySource::Preset("quickstart".into()),
        };
        StudyInput {
            source,
            sets: self.sets,
            max_runs: self.max_runs,
            max_memory: self.max_memory,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a study: every planned run, then the report.
    Run {
        #[command(flatten)]
        study: StudyArgs,
        /// Output directory (default: out/<study name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Runs in parallel (default: the number of CPUs).
        #[arg(long)]
        threads: Option<usize>,
        /// Continue a sweep in --out: skip the runs already stored.
        #[arg(long)]
        resume: bool,
        /// No progress output; twice (`--quiet --quiet`), no final summary either.
        #[arg(long, action = clap::ArgAction::Count)]
        quiet: u8,
        /// Compute device.
        #[arg(long, value_enum, default_value = "cpu")]
        device: Backend,
        /// Carry out only shard i of n (0 ≤ i < n) of the plan, into a shared --out; under
        /// a Slurm job array, taken from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT.
        #[arg(long, value_name = "i/n")]
        shard: Option<Shard>,
        /// Also write TensorBoard event files, one run per id, under
        /// <out>/tensorboard/<run id>/ (`tensorboard --logdir <out>/tensorboard`): every
        /// evaluated metric (<split>/<task>/<metric>; train/<task>/loss is the training
        /// loss), task weights and conflict telemetry when recorded, and the run's
        /// hyper-parameters as text. The study key `tensorboard: true` does the same.
        #[arg(long)]
        tensorboard: bool,
    },
    /// A sweep as a Slurm job array (one shard per task) and a report job after it.
    Slurm {
        #[command(flatten)]
        study: StudyArgs,
        /// The shared output directory (every node must see it).
        #[arg(long)]
        out: PathBuf,
        /// Array tasks (default: 8, at most one per run).
        #[arg(long, default_value_t = 8)]
        shards: usize,
        /// Time limit of each task (sbatch --time).
        #[arg(long)]
        time: Option<String>,
        /// Partition (sbatch --partition).
        #[arg(long)]
        partition: Option<String>,
        /// CPUs per task; each shard runs that many runs at once.
        #[arg(long, default_value_t = 1)]
        cpus_per_task: usize,
        /// GPUs per task (sbatch --gpus).
        #[arg(long)]
        gpus: Option<String>,
        /// Compute device of every shard.
        #[arg(long, value_enum, default_value = "cpu")]
        device: Backend,
        /// Print the batch scripts; write and submit nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// How many runs of an output directory's plan are stored, ok, not ok, and missing.
    Status {
        /// The output directory of `run` or `slurm`.
        out: PathBuf,
    },
    /// Print the expanded, validated runs of a study; nothing is trained or written.
    Plan {
        #[command(flatten)]
        study: StudyArgs,
    },
    /// Every registered suite, architecture, weighting, optimizer, trunk layer and preset,
    /// with defaults.
    List {
        /// Only this section: suites, architectures, weightings, optimizers, starts, trunk
        /// or presets.
        section: Option<String>,
        /// Print the README's component table (Markdown) instead.
        #[arg(long)]
        markdown: bool,
    },
    /// Rebuild tables and charts of an output directory from its stored run records.
    Report {
        /// The output directory of a run (holding runs/); with --combine, several.
        #[arg(required = true, num_args = 1..)]
        dirs: Vec<PathBuf>,
        /// Rank the algorithms over every suite of the directories given (Friedman's test,
        /// Nemenyi's critical difference) and write ranking.md, ranking.csv and
        /// charts/critical_difference.{svg,png} into OUT.
        #[arg(long, value_name = "OUT")]
        combine: Option<PathBuf>,
        /// The columns of the paper table (summary.tex), comma-separated (default:
        /// n,metrics,delta_p,rank; an unknown name is refused with the valid ones listed).
        #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
        columns: Option<Vec<String>>,
        /// Which evaluation point test metrics are taken at: last, best_val or mean_last:K
        /// (default: the study's `selection`).
        #[arg(long, value_name = "RULE")]
        selection: Option<mtlbench_results::selection::Selection>,
        /// The metrics the transfer measures average, comma-separated (e.g.
        /// accuracy,cross_entropy; default: the study's `delta_metrics`, else each task's
        /// primary metrics).
        #[arg(long, value_name = "METRICS", value_delimiter = ',')]
        delta_metrics: Option<Vec<String>>,
        /// Also write the TensorBoard event file of every stored run, under
        /// <out>/tensorboard/<run id>/ (see `run --tensorboard`).
        #[arg(long)]
        tensorboard: bool,
        /// The charts' width: single (3.3 in), double (6.9 in) or inches (default: the
        /// study's `figures.width`, else single-column for one panel, double for several).
        #[arg(long, value_name = "WIDTH")]
        width: Option<mtlbench_results::charts::style::Width>,
        /// The PNGs' pixels per inch (default: the study's `figures.dpi`, else 150).
        #[arg(long)]
        dpi: Option<u32>,
        /// Factor on every text size of the charts (default: the study's, else 1).
        #[arg(long, value_name = "FACTOR")]
        font_scale: Option<f64>,
        /// The font family the SVGs name (default: the study's, else DejaVu Sans).
        #[arg(long, value_name = "FAMILY")]
        font_family: Option<String>,
    },
    /// Time training steps and sweeps, against the machine's matmul rate.
    Bench {
        /// Timed steps per round.
        #[arg(long, default_value_t = 30)]
        steps: usize,
        /// Timing rounds (the median is reported).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// The device the W1 figures and the sweep are measured on.
        #[arg(long, value_enum, default_value = "cpu")]
        device: Backend,
        /// The step-time workloads: w1 (T=10, trunk 4×100, batch 100; the default), w2
        /// (trunk 4×1024, batch 1024: minutes per method on one CPU core), lenet (the
        /// `lenet` trunk, batch 256 of 28×28 images) or all.
        #[arg(long, value_enum, default_value = "w1")]
        workload: mtlbench::cli::bench::Workload,
        /// Threads of the CPU pool the step times are measured in (the sweep always
        /// compares 1 and 2).
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Only these weightings in W1's and W2's per-method tables, comma-separated (e.g.
        /// mgda,db_mtl; default: every registered one).
        #[arg(long, value_name = "KINDS", value_delimiter = ',')]
        methods: Option<Vec<String>>,
    },
}

/// A reader that stops reading (`mtlbench plan … | head`) closes the pipe: printing then
/// fails with a broken pipe, which ends the program quietly, as other command-line tools do,
/// instead of as a panic.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.starts_with("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    with_allocator_options();
    mtlbench::run::memory_meter::install();
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            study,
            out,
            threads,
            resume,
            quiet,
            device,
            shard,
            tensorboard,
        } => commands::run(
            study.input(),
            RunOptions {
                out,
                threads,
                resume,
                progress: quiet == 0,
                summary: quiet < 2,
                backend: device,
                shard,
                tensorboard,
            },
        ),
        Command::Slurm {
            study,
            out,
            shards,
            time,
            partition,
            cpus_per_task,
            gpus,
            device,
            dry_run,
        } => {
            let input = study.input();
            let (max_runs, max_memory) = (input.max_runs, input.max_memory);
            commands::slurm(
                input,
                SlurmOptions {
                    out,
                    shards,
                    time,
                    partition,
                    cpus_per_task,
                    gpus,
                    device: format!("{device:?}").to_lowercase(),
                    binary: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("mtlbench")),
                    max_runs,
                    max_memory,
                },
                dry_run,
            )
        }
        Command::Status { out } => commands::status(&out),
        Command::Plan { study } => commands::plan(study.input()),
        Command::List { section, markdown } => commands::list(section.as_deref(), markdown),
        Command::Report {
            dirs,
            combine,
            columns,
            selection,
            delta_metrics,
            tensorboard,
            width,
            dpi,
            font_scale,
            font_family,
        } => {
            let figures = mtlbench::study::presentation::FigureFlags {
                width,
                dpi,
                font_scale,
                font_family,
            };
            match (combine, dirs.as_slice()) {
                (Some(_), _) if columns.is_some() || tensorboard => {
                    Err(mtlbench::error::HarnessError::Config {
                        file: "--combine".into(),
                        message: "--columns and --tensorboard apply to one directory's report, not to --combine".into(),
                    })
                }
                (Some(into), _) => {
                    mtlbench::cli::combine::combine(&dirs, &into, selection, delta_metrics, &figures)
                }
                (None, [out]) => commands::report(
                    out,
                    selection,
                    delta_metrics,
                    tensorboard,
                    columns,
                    &figures,
                ),
                (None, _) => Err(mtlbench::error::HarnessError::Config {
                    file: "report".into(),
                    message: "several directories are combined with --combine OUT; report one directory otherwise".into(),
                }),
            }
        }
        Command::Bench {
            steps,
            rounds,
            device,
            workload,
            threads,
            methods,
        } => commands::bench(steps, rounds, device, workload, threads, methods),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
