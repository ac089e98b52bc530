//! The sweep executor: runs a plan in parallel with rayon (each run owns its device and
//! model), stores each finished run atomically under `<out>/runs/`, skips stored runs on
//! `--resume`, turns a failing or diverging run into a record with its status, and shows
//! progress.

use crate::device::Backend;
use crate::error::HarnessError;
use crate::plan::RunSpec;
use indicatif::{ProgressBar, ProgressStyle};
use mtlbench_algorithms::train::{RunDefinition, RunSeeds};
use mtlbench_algorithms::{RunStatus, TrainOutcome};
use mtlbench_results::store::{self, runs_dir, write_atomic};
use mtlbench_results::{Point, RunRecord};
use mtlbench_tasks::SuiteData;
use rayon::prelude::*;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// How to carry out a sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub out: PathBuf,
    pub threads: usize,
    pub resume: bool,
    /// Print progress (a bar on a terminal, a line per run otherwise).
    pub progress: bool,
    pub backend: Backend,
}

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SweepSummary {
    pub planned: usize,
    pub skipped: usize,
    pub ok: usize,
    pub not_ok: usize,
}

/// Generated suites shared between the runs that use the same data (same suite, seed and
/// fraction): generation is a pure function of those, so one copy serves them all.
#[derive(Default)]
pub struct DataCache {
    slots: Mutex<HashMap<String, Arc<OnceLock<Result<Arc<SuiteData>, String>>>>>,
}

impl DataCache {
    fn get(&self, spec: &RunSpec) -> Result<Arc<SuiteData>, String> {
        let key = format!(
            "{}|{}|{}",
            crate::config::canonical_json(&spec.suite.without_label()),
            spec.seeds.data,
            spec.fraction
        );
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry(key).or_default().clone()
        };
        slot.get_or_init(|| {
            spec.suite
                .generate(spec.seeds.data)
                .and_then(|s| s.with_train_fraction(spec.fraction, spec.seeds.data))
                .map(Arc::new)
                .map_err(|e| e.to_string())
        })
        .clone()
    }
}

/// Checks the output directory before anything is written: a directory that already holds
/// runs needs `--resume`, and a resumed directory must hold the same study.
pub fn check_output(out: &Path, study_text: &str, resume: bool) -> Result<(), HarnessError> {
    let stored = store::stored_ids(&runs_dir(out))?;
    if !stored.is_empty() && !resume {
        return Err(HarnessError::Output {
            path: out.to_path_buf(),
            message: format!(
                "already holds {} stored runs: pass --resume to continue that sweep, or choose another --out",
                stored.len()
            ),
        });
    }
    let saved = out.join("study.yaml");
    if resume && saved.exists() {
        let previous = std::fs::read_to_string(&saved).map_err(|e| HarnessError::Output {
            path: saved.clone(),
            message: e.to_string(),
        })?;
        if previous != study_text {
            return Err(HarnessError::Output {
                path: saved,
                message: "holds a different study: --resume continues the same study only".into(),
            });
        }
    }
    Ok(())
}

/// Runs every planned run not yet stored, storing each as it finishes.
pub fn run_sweep(
    study_text: &str,
    runs: &[RunSpec],
    opts: &SweepOptions,
) -> Result<SweepSummary, HarnessError> {
    check_output(&opts.out, study_text, opts.resume)?;
    let runs_path = runs_dir(&opts.out);
    std::fs::create_dir_all(&runs_path).map_err(|e| HarnessError::Output {
        path: runs_path.clone(),
        message: format!("cannot create the output directory: {e}"),
    })?;
    write_atomic(&opts.out.join("study.yaml"), study_text.as_bytes())?;

    let stored = store::stored_ids(&runs_path)?;
    let todo: Vec<&RunSpec> = runs.iter().filter(|r| !stored.contains(&r.id)).collect();
    let mut summary = SweepSummary {
        planned: runs.len(),
        skipped: runs.len() - todo.len(),
        ..Default::default()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| HarnessError::Output {
            path: opts.out.clone(),
            message: e.to_string(),
        })?;
    let bar = progress_bar(todo.len(), opts.progress);
    let line_per_run = opts.progress && !std::io::stderr().is_terminal();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let cache = DataCache::default();
    let statuses: Vec<Result<bool, HarnessError>> = pool.install(|| {
        todo.par_iter()
            .map(|spec| {
                let record = execute(spec, &cache, opts.backend);
                store::write_run(&runs_path, &record)?;
                let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                if line_per_run {
                    eprintln!(
                        "[{n}/{}] {} {} ({:.1} s)",
                        todo.len(),
                        record.id,
                        record.status,
                        record.wall_time_s
                    );
                }
                bar.inc(1);
                Ok(record.is_ok())
            })
            .collect()
    });
    bar.finish_and_clear();
    for status in statuses {
        if status? {
            summary.ok += 1;
        } else {
            summary.not_ok += 1;
        }
    }
    Ok(summary)
}

fn progress_bar(len: usize, show: bool) -> ProgressBar {
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} runs, ETA {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}

/// Carries out one run; a panic or a data error becomes a `failed` record.
pub fn execute(spec: &RunSpec, cache: &DataCache, backend: Backend) -> RunRecord {
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(
        || -> Result<(TrainOutcome, Arc<SuiteData>), String> {
            let suite = cache.get(spec)?;
            let def = RunDefinition {
                suite: &suite,
                architecture: &spec.architecture,
                weighting: &spec.weighting,
                model: &spec.model,
                training: &spec.training,
                seeds: RunSeeds {
                    init: spec.seeds.init,
                    batches: spec.seeds.batches,
                },
            };
            let outcome = backend.train(def)?;
            Ok((outcome, suite.clone()))
        },
    ));
    let wall_time_s = start.elapsed().as_secs_f64();
    let (outcome, suite) = match result {
        Ok(Ok((outcome, suite))) => (outcome, Some(suite)),
        Ok(Err(message)) => (failed(message), None),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the run panicked".into());
            (failed(format!("internal error: {message}")), None)
        }
    };
    let task_name = |t: usize| -> String {
        suite
            .as_ref()
            .and_then(|s| s.tasks.get(t))
            .map_or_else(|| format!("task{t}"), |task| task.name.clone())
    };
    RunRecord {
        id: spec.id.clone(),
        study: spec.study.clone(),
        suite: spec.suite_label.clone(),
        suite_kind: spec.suite.kind().to_string(),
        architecture: spec.architecture.kind().to_string(),
        weighting: spec.weighting.kind().to_string(),
        algorithm: spec.algorithm.clone(),
        hparams: spec.hparams_json(),
        training: spec.training_json(),
        replicate: spec.replicate,
        fraction: spec.fraction,
        status: outcome.status.as_str().to_string(),
        message: outcome.message.clone(),
        wall_time_s,
        steps: outcome.steps,
        forward_passes: outcome.forward_passes,
        backward_passes: outcome.backward_passes,
        parameter_bytes: outcome.parameter_bytes,
        optimizer_bytes: outcome.optimizer_bytes,
        planted_correlation: suite.as_ref().and_then(|s| s.planted_correlation.clone()),
        points: outcome
            .points
            .iter()
            .map(|p| Point {
                task: task_name(p.task),
                split: p.split.as_str().to_string(),
                metric: p.metric.clone(),
                higher_is_better: p.higher_is_better,
                epoch: p.epoch,
                step: p.step,
                value: p.value,
            })
            .collect(),
    }
}

fn failed(message: String) -> TrainOutcome {
    TrainOutcome {
        status: RunStatus::Failed,
        message: Some(message),
        points: Vec::new(),
        steps: 0,
        forward_passes: 0,
        backward_passes: 0,
        parameter_bytes: 0,
        optimizer_bytes: 0,
    }
}
