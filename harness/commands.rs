//! The CLI's commands, as functions returning the process exit code (0 ok, 1 some runs
//! failed, 2 bad input).

use crate::config::{self, canonical_json, LoadedStudy};
use crate::device::Backend;
use crate::error::HarnessError;
use crate::plan;
use crate::presets::{preset, PRESETS};
use crate::sweep::{run_sweep, SweepOptions};
use mtlbench_algorithms::{ArchitectureSpec, OptimizerSpec, WeightingSpec};
use mtlbench_tasks::SuiteSpec;
use std::path::{Path, PathBuf};

/// Where a study comes from.
#[derive(Debug, Clone)]
pub enum StudySource {
    File(PathBuf),
    Preset(String),
}

pub fn load(source: &StudySource) -> Result<LoadedStudy, HarnessError> {
    match source {
        StudySource::File(path) => config::load_study(path),
        StudySource::Preset(name) => {
            let text = preset(name).ok_or_else(|| HarnessError::Config {
                file: format!("preset:{name}"),
                message: format!(
                    "no such preset; the presets are: {}",
                    PRESETS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
                ),
            })?;
            config::parse_study(&format!("preset:{name}"), text)
        }
    }
}

pub fn run(
    source: StudySource,
    out: Option<PathBuf>,
    threads: Option<usize>,
    resume: bool,
    progress: bool,
    backend: Backend,
) -> Result<u8, HarnessError> {
    let study = load(&source)?;
    let runs = plan::expand(&study)?;
    backend
        .check_available()
        .map_err(|message| HarnessError::Config {
            file: "--device".into(),
            message,
        })?;
    let out = out.unwrap_or_else(|| PathBuf::from("out").join(&study.config.name));
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 {
        return Err(HarnessError::Config {
            file: "--threads".into(),
            message: "must be at least 1".into(),
        });
    }
    if progress {
        eprintln!(
            "{}: {} runs on {threads} thread(s) → {}",
            study.config.name,
            runs.len(),
            out.display()
        );
    }
    let opts = SweepOptions {
        out: out.clone(),
        threads,
        resume,
        progress,
        backend,
    };
    let summary = run_sweep(&study.text, &runs, &opts)?;
    let files = mtlbench_results::report::write_report(&out)?;
    if progress {
        eprintln!(
            "{} planned, {} already stored, {} ok, {} not ok; report: {} files",
            summary.planned,
            summary.skipped,
            summary.ok,
            summary.not_ok,
            files.len()
        );
        if let Ok(md) = std::fs::read_to_string(out.join("summary.md")) {
            println!("{md}");
        }
    }
    Ok(if summary.not_ok > 0 { 1 } else { 0 })
}

pub fn plan(source: StudySource) -> Result<u8, HarnessError> {
    let study = load(&source)?;
    let runs = plan::expand(&study)?;
    println!("{}: {} runs", study.config.name, runs.len());
    println!(
        "{:<58} {:<22} {:<32} {:>3} {:>8} {:>6} {:>5} {:>9}",
        "id", "suite", "algorithm", "rep", "fraction", "epochs", "batch", "lr"
    );
    for r in &runs {
        println!(
            "{:<58} {:<22} {:<32} {:>3} {:>8} {:>6} {:>5} {:>9}",
            r.id,
            r.suite_label,
            r.algorithm,
            r.replicate,
            r.fraction,
            r.training.epochs,
            r.training.batch_size,
            r.training.lr
        );
    }
    Ok(0)
}

pub fn list() -> Result<u8, HarnessError> {
    fn section<T: serde::Serialize>(
        title: &str,
        entries: Vec<(mtlbench_tasks::registry::RegistryEntry, T)>,
    ) {
        println!("{title}:");
        for (entry, default) in entries {
            println!("  {:<22} {}", entry.kind, entry.description);
            println!("  {:<22} defaults: {}", "", canonical_json(&default));
        }
        println!();
    }
    section("suites", SuiteSpec::registry());
    section("architectures", ArchitectureSpec::registry());
    section("weightings", WeightingSpec::registry());
    section("optimizers", OptimizerSpec::registry());
    section(
        "adaptation starts (the study's adaptation.starts)",
        mtlbench_algorithms::adapt::StartSpec::registry(),
    );
    println!("presets (mtlbench run --preset NAME):");
    for (name, description, _) in PRESETS {
        println!("  {name:<22} {description}");
    }
    Ok(0)
}

pub fn report(out: &Path) -> Result<u8, HarnessError> {
    if !out.join(mtlbench_results::store::RUNS_DIR).is_dir() {
        return Err(HarnessError::Output {
            path: out.to_path_buf(),
            message: "no runs/ directory here: give the output directory of `mtlbench run`".into(),
        });
    }
    for file in mtlbench_results::report::write_report(out)? {
        println!("{}", file.display());
    }
    Ok(0)
}

pub fn bench(steps: usize, rounds: usize) -> Result<u8, HarnessError> {
    crate::bench::run(steps, rounds)
}
