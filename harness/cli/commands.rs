//! The CLI's commands, as functions returning the process exit code (0 ok, 1 some runs
//! failed, 2 bad input).

use crate::error::HarnessError;
use crate::run::device::Backend;
use crate::run::shard::Shard;
use crate::run::slurm::SlurmOptions;
use crate::run::sweep::{run_sweep, SweepOptions};
use crate::study::canonical::canonical_json;
use crate::study::config::{self, LoadedStudy, Override};
use crate::study::plan;
use crate::study::presets::{preset, PRESETS};
use mtlbench_algorithms::{ArchitectureSpec, OptimizerSpec, WeightingSpec};
use mtlbench_results::selection::Selection;
use mtlbench_results::terminal::terminal_summary;
use mtlbench_results::transfer::DeltaMetrics;
use mtlbench_tasks::SuiteSpec;
use std::path::{Path, PathBuf};

/// Where a study comes from.
#[derive(Debug, Clone)]
pub enum StudySource {
    File(PathBuf),
    Preset(String),
}

/// The study of `source` with the `--set` overrides applied.
pub fn load(source: &StudySource, sets: &[Override]) -> Result<LoadedStudy, HarnessError> {
    let study = match source {
        StudySource::File(path) => config::load_study(path)?,
        StudySource::Preset(name) => {
            let text = preset(name).ok_or_else(|| HarnessError::Config {
                file: format!("preset:{name}"),
                message: format!(
                    "no such preset; the presets are: {}",
                    PRESETS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
                ),
            })?;
            config::parse_study(&format!("preset:{name}"), text)?
        }
    };
    config::apply_overrides(study, sets)
}

/// A study as the command line gives it: where it comes from, its overrides, the
/// largest plan accepted and the most memory a run may need (`None`: half of the
/// machine's, see `memory`).
#[derive(Debug, Clone)]
pub struct StudyInput {
    pub source: StudySource,
    pub sets: Vec<Override>,
    pub max_runs: usize,
    pub max_memory: Option<u64>,
}

impl StudyInput {
    /// The study and its validated plan.
    pub fn plan(&self) -> Result<(LoadedStudy, Vec<plan::RunSpec>), HarnessError> {
        let study = load(&self.source, &self.sets)?;
        let runs = plan::expand_limited(&study, self.max_runs)?;
        crate::study::memory::check(&study, &runs, self.max_memory)?;
        if let Some(t) = &study.config.tune {
            // The search is counted against the limit before it is built, then checked.
            let cells = crate::study::tune::templates(&runs).len();
            if cells * t.budget * t.replicates + runs.len() > self.max_runs {
                return Err(study.error_at(
                    "tune.budget",
                    format!(
                        "the tuning search ({} runs) and the final plan ({} runs) exceed the limit of {} (--max-runs raises it)",
                        cells * t.budget * t.replicates,
                        runs.len(),
                        self.max_runs
                    ),
                ));
            }
            let (search, _) = crate::study::tune::search_plan(t, study.config.seed, &runs)
                .map_err(|(key, m)| study.error_at(&key, m))?;
            if search.len() + runs.len() > self.max_runs {
                return Err(study.error_at(
                    "tune.budget",
                    format!(
                        "the tuning search ({} runs) and the final plan ({} runs) exceed the limit of {} (--max-runs raises it)",
                        search.len(),
                        runs.len(),
                        self.max_runs
                    ),
                ));
            }
        }
        Ok((study, runs))
    }
}

/// How `run` carries out a study.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Default: `out/<study name>`.
    pub out: Option<PathBuf>,
    /// Default: the number of CPUs.
    pub threads: Option<usize>,
    pub resume: bool,
    pub progress: bool,
    pub backend: Backend,
    /// Default: from Slurm's array variables, when set; else the whole plan.
    pub shard: Option<Shard>,
    /// Write TensorBoard event files (also when the study sets `tensorboard: true`).
    pub tensorboard: bool,
}

pub fn run(input: StudyInput, o: RunOptions) -> Result<u8, HarnessError> {
    let (study, runs) = input.plan()?;
    o.backend
        .check_available()
        .map_err(|message| HarnessError::Config {
            file: "--device".into(),
            message,
        })?;
    let shard = match o.shard {
        Some(s) => Some(s),
        None => Shard::from_env(|k| std::env::var(k).ok())?,
    };
    let out = o
        .out
        .unwrap_or_else(|| PathBuf::from("out").join(&study.config.name));
    let threads = o
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 {
        return Err(HarnessError::Config {
            file: "--threads".into(),
            message: "must be at least 1".into(),
        });
    }
    if o.progress {
        let part = shard.map_or(String::new(), |s| format!(" (shard {s})"));
        eprintln!(
            "{}: {} runs{part} on {threads} thread(s) → {}",
            study.config.name,
            runs.len(),
            out.display()
        );
    }
    let opts = SweepOptions {
        out: out.clone(),
        threads,
        resume: o.resume,
        progress: o.progress,
        backend: o.backend,
        shard,
        tensorboard: o.tensorboard || study.config.tensorboard,
    };
    let runs = match &study.config.tune {
        None => runs,
        Some(tune) => match crate::run::tune_stage::search(&study, tune, &runs, &opts)? {
            Some(final_runs) => final_runs,
            // A shard whose search is not complete everywhere stops after its part.
            None => return Ok(0),
        },
    };
    let summary = run_sweep(&study.text, &runs, &opts)?;
    let code = if summary.not_ok > 0 { 1 } else { 0 };
    if let Some(s) = shard {
        if o.progress {
            eprintln!(
                "shard {s}: {} of {} planned runs, {} already stored, {} ok, {} not ok; once every shard has finished: mtlbench report {} (mtlbench status tells)",
                summary.planned,
                runs.len(),
                summary.skipped,
                summary.ok,
                summary.not_ok,
                out.display()
            );
        }
        return Ok(code);
    }
    let selection = study.config.selection;
    let metrics = DeltaMetrics(study.config.delta_metrics.clone());
    let presentation =
        crate::study::presentation::presentation(Some(&study.config), &Default::default())?;
    let report = mtlbench_results::report::write_report(
        &out,
        &selection,
        &metrics,
        study.config.published.as_ref(),
        &presentation,
    )?;
    if o.progress {
        eprintln!(
            "{} planned, {} already stored, {} ok, {} not ok; report: {} files",
            summary.planned,
            summary.skipped,
            summary.ok,
            summary.not_ok,
            report.files.len()
        );
        let index = out.join("index.md");
        print!(
            "{}",
            terminal_summary(
                &report.summary,
                &index.display().to_string(),
                &selection,
                &metrics
            )
        );
    }
    Ok(code)
}

pub fn plan(input: StudyInput) -> Result<u8, HarnessError> {
    let (study, runs) = input.plan()?;
    println!("{}: {} runs", study.config.name, runs.len());
    if let Some(t) = &study.config.tune {
        let (search, cells) = crate::study::tune::search_plan(t, study.config.seed, &runs)
            .map_err(|(key, m)| study.error_at(&key, m))?;
        println!(
            "tuning first: {} search runs ({} configurations × {} replicate(s) for each of {} cells, under DIR/tune); the runs below then train each cell's chosen configuration",
            search.len(),
            t.budget,
            t.replicates,
            cells.len()
        );
    }
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

/// `slurm`: the study as a job array of shards plus a report job (see `slurm`).
pub fn slurm(input: StudyInput, mut o: SlurmOptions, dry_run: bool) -> Result<u8, HarnessError> {
    let (study, runs) = input.plan()?;
    for (flag, value) in [("--shards", o.shards), ("--cpus-per-task", o.cpus_per_task)] {
        if value == 0 {
            return Err(HarnessError::Config {
                file: flag.into(),
                message: "must be at least 1".into(),
            });
        }
    }
    if o.out.is_relative() {
        let here = std::env::current_dir().map_err(|e| HarnessError::Output {
            path: o.out.clone(),
            message: e.to_string(),
        })?;
        o.out = here.join(&o.out);
    }
    let search = match &study.config.tune {
        Some(t) => Some(
            crate::study::tune::search_plan(t, study.config.seed, &runs)
                .map_err(|(key, m)| study.error_at(&key, m))?
                .0
                .into_iter()
                .map(|s| s.spec)
                .collect::<Vec<_>>(),
        ),
        None => None,
    };
    let done = crate::run::slurm::submit(&study.text, &runs, search.as_deref(), &o, dry_run)?;
    if dry_run {
        println!(
            "# {}/slurm/shards.sbatch\n{}",
            o.out.display(),
            done.shard_script
        );
        println!(
            "# {}/slurm/report.sbatch\n{}",
            o.out.display(),
            done.report_script
        );
        if search.is_some() {
            println!(
                "# submitted as: sbatch --parsable shards.sbatch (the tuning search); sbatch --parsable --dependency=afterany:<search array> shards.sbatch (the chosen configurations); sbatch --parsable --dependency=afterany:<final array> report.sbatch"
            );
        } else {
            println!(
                "# submitted as: sbatch --parsable shards.sbatch; sbatch --parsable --dependency=afterany:<array job> report.sbatch"
            );
        }
    } else if let Some((arrays, report)) = done.jobs {
        println!(
            "{}: {} runs in {} shards → {}",
            study.config.name,
            runs.len(),
            done.shards,
            o.out.display()
        );
        for (k, array) in arrays.iter().enumerate() {
            let what = match (arrays.len(), k) {
                (1, _) => "",
                (_, 0) => " (tuning search)",
                _ => " (chosen configurations)",
            };
            println!("array job {array}{what}");
        }
        println!("report job {report}");
    }
    Ok(0)
}

/// `status DIR`: exit 0 when every planned run is stored and ok, 1 otherwise.
pub fn status(out: &Path) -> Result<u8, HarnessError> {
    let s = crate::run::status::status(out)?;
    print!("{}", crate::run::status::render(&s, 20));
    Ok(if s.complete() { 0 } else { 1 })
}

/// `list`: every registered component with its description and defaults; with
/// `markdown`, the same as the Markdown table the README embeds (`components_markdown`).
pub fn list(markdown: bool) -> Result<u8, HarnessError> {
    if markdown {
        print!("{}", components_markdown());
        return Ok(0);
    }
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

/// The README's table of registered components, generated from the registries (one row per
/// suite, architecture, weighting, optimizer, adaptation start and preset): kind, what it
/// is, and its defaults. A test checks that the README holds exactly this text.
pub fn components_markdown() -> String {
    use std::fmt::Write as _;
    fn rows<T: serde::Serialize>(
        md: &mut String,
        what: &str,
        entries: Vec<(mtlbench_tasks::registry::RegistryEntry, T)>,
    ) {
        for (entry, default) in entries {
            let defaults = canonical_json(&default).replace('|', "\\|");
            let _ = writeln!(
                md,
                "| {what} `{}` | {} | `{defaults}` |",
                entry.kind,
                entry.description.replace('|', "\\|")
            );
        }
    }
    let mut md = String::from("| kind | what | defaults |\n|---|---|---|\n");
    rows(&mut md, "suite", SuiteSpec::registry());
    rows(&mut md, "architecture", ArchitectureSpec::registry());
    rows(&mut md, "weighting", WeightingSpec::registry());
    rows(&mut md, "optimizer", OptimizerSpec::registry());
    rows(
        &mut md,
        "adaptation start",
        mtlbench_algorithms::adapt::StartSpec::registry(),
    );
    for (name, description, _) in PRESETS {
        let _ = writeln!(md, "| preset `{name}` | {description} | |");
    }
    md
}

/// `report DIR [--selection RULE] [--delta-metrics A,B]`: without them, those of
/// `DIR/study.yaml` (or `last` and the suites' primary metrics). A rule given here is
/// refused when a stored `ok` run has fewer evaluation points than it needs.
pub fn report(
    out: &Path,
    selection: Option<Selection>,
    delta_metrics: Option<Vec<String>>,
    tensorboard: bool,
    figures: &crate::study::presentation::FigureFlags,
) -> Result<u8, HarnessError> {
    if !out.join(mtlbench_results::store::RUNS_DIR).is_dir() {
        return Err(HarnessError::Output {
            path: out.to_path_buf(),
            message: "no runs/ directory here: give the output directory of `mtlbench run`".into(),
        });
    }
    if let Some(names) = &delta_metrics {
        crate::study::validate::check_delta_metrics(names).map_err(|(_, message)| {
            HarnessError::Config {
                file: "--delta-metrics".into(),
                message,
            }
        })?;
    }
    if let Some(rule) = &selection {
        // A rule given here must have the evaluation points it chooses from in every run.
        let runs = mtlbench_results::store::read_runs(&mtlbench_results::store::runs_dir(out))?;
        rule.check_runs(&runs)
            .map_err(|message| HarnessError::Config {
                file: "--selection".into(),
                message,
            })?;
    }
    let study = out.join("study.yaml");
    let stored = if study.exists() {
        let loaded = config::load_study(&study)?;
        crate::run::tune_stage::rewrite_markdown(&loaded, out)?;
        Some(loaded.config)
    } else {
        None
    };
    let selection = selection
        .or_else(|| stored.as_ref().map(|c| c.selection))
        .unwrap_or(Selection::Last);
    let published = stored.as_ref().and_then(|c| c.published.clone());
    let presentation = crate::study::presentation::presentation(stored.as_ref(), figures)?;
    let metrics = DeltaMetrics(delta_metrics.or_else(|| stored.and_then(|c| c.delta_metrics)));
    for file in mtlbench_results::report::write_report(
        out,
        &selection,
        &metrics,
        published.as_ref(),
        &presentation,
    )?
    .files
    {
        println!("{}", file.display());
    }
    if tensorboard {
        let n = mtlbench_results::tensorboard::write_all(out)?;
        println!(
            "{} ({n} runs)",
            out.join(mtlbench_results::tensorboard::TENSORBOARD_DIR)
                .display()
        );
    }
    Ok(0)
}

pub fn bench(
    steps: usize,
    rounds: usize,
    backend: Backend,
    workload: crate::cli::bench::Workload,
    threads: usize,
    methods: Option<Vec<String>>,
) -> Result<u8, HarnessError> {
    crate::cli::bench::run(steps, rounds, backend, workload, threads, methods)
}
