//! The `mtlbench` command line.

use clap::{Parser, Subcommand};
use mtlbench::commands::{self, StudySource};
use mtlbench::device::Backend;
use std::path::PathBuf;
use std::process::ExitCode;

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
}

impl StudyArgs {
    fn source(self) -> StudySource {
        match (self.study, self.preset) {
            (Some(path), _) => StudySource::File(path),
            (None, Some(name)) => StudySource::Preset(name),
            (None, None) => StudySource::Preset("quickstart".into()),
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
        /// No progress output.
        #[arg(long)]
        quiet: bool,
        /// Compute device.
        #[arg(long, value_enum, default_value = "cpu")]
        device: Backend,
    },
    /// Print the expanded, validated runs of a study; nothing is trained or written.
    Plan {
        #[command(flatten)]
        study: StudyArgs,
    },
    /// Every registered suite, architecture, weighting, optimizer and preset, with defaults.
    List,
    /// Rebuild tables and charts of an output directory from its stored run records.
    Report {
        /// The output directory of a run (holding runs/).
        out: PathBuf,
    },
    /// Time training steps and sweeps, against the machine's matmul rate.
    Bench {
        /// Timed steps per round.
        #[arg(long, default_value_t = 30)]
        steps: usize,
        /// Timing rounds (the median is reported).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            study,
            out,
            threads,
            resume,
            quiet,
            device,
        } => commands::run(study.source(), out, threads, resume, !quiet, device),
        Command::Plan { study } => commands::plan(study.source()),
        Command::List => commands::list(),
        Command::Report { out } => commands::report(&out),
        Command::Bench { steps, rounds } => commands::bench(steps, rounds),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
