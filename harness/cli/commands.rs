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
                    "no such preset{}; the presets are: {}",
                    crate::study::suggest::closest(name, PRESETS.iter().map(|p| p.0))
                        .map_or(String::new(), |k| format!(" (did you mean `{k}`?)")),
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

/// Prints (stderr) the plan's warnings (`study::warnings`), once the plan is accepted.
fn print_warnings(study: &LoadedStudy, runs: &[plan::RunSpec]) {
    for warning in crate::study::warnings::plan_warnings(runs) {
        eprintln!("warning: {}: {warning}", study.source);
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
    /// The header line and the progress of each run.
    pub progress: bool,
    /// The final summary (counts, Δ table, warnings' companion lines); kept by one
    /// `--quiet`, dropped by two.
    pub summary: bool,
    pub backend: Backend,
    /// Default: from Slurm's array variables, when set; else the whole plan.
    pub shard: Option<Shard>,
    /// Write TensorBoard event files (also when the study sets `tensorboard: true`).
    pub tensorboard: bool,
}

pub fn run(input: StudyInput, o: RunOptions) -> Result<u8, HarnessError> {
    let (study, runs) = input.plan()?;
    // Ctrl-C from here on ends with the stored count and the `--resume` command.
    crate::run::interrupt::enable();
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
    print_warnings(&study, &runs);
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
        if o.summary {
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
    if o.summary {
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
    warn_at_chance(&study.config, &out, &selection)?;
    Ok(code)
}

pub fn plan(input: StudyInput) -> Result<u8, HarnessError> {
    let (study, runs) = input.plan()?;
    print_warnings(&study, &runs);
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
    print!("{}", crate::cli::listing::plan_table(&runs));
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
    print_warnings(&study, &runs);
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

/// `list [SECTION]`: every registered component with its description and defaults, the
/// trunk's layer kinds and presets, the study presets (or only `section`), within 100
/// columns; with `markdown`, the Markdown table the README embeds (`components_markdown`).
pub fn list(section: Option<&str>, markdown: bool) -> Result<u8, HarnessError> {
    use crate::cli::listing::{listing, SECTIONS};
    if markdown {
        print!("{}", components_markdown());
        return Ok(0);
    }
    if let Some(name) = section.filter(|n| !SECTIONS.contains(n)) {
        return Err(HarnessError::Config {
            file: "list".into(),
            message: format!(
                "no section `{name}`{}; the sections are {}",
                crate::study::suggest::closest(name, SECTIONS.iter().copied())
                    .map_or(String::new(), |k| format!(" (did you mean `{k}`?)")),
                SECTIONS.join(", ")
            ),
        });
    }
    println!("{}", listing(section));
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

/// Prints (stderr) how many planned runs of `out` have no record, and in which cells.
fn warn_missing(out: &Path) -> Result<(), HarnessError> {
    let missing = mtlbench_results::report::missing_runs(out)?;
    if !missing.is_empty() {
        let cells: Vec<String> = missing
            .iter()
            .map(|(cell, reps)| format!("{cell} ({})", reps.join(", ")))
            .collect();
        eprintln!(
            "warning: {} planned runs are missing, so these cells average fewer replicates: {} (see index.md; `mtlbench status {}` lists them)",
            mtlbench_results::report::missing_count(&missing),
            cells.join(", "),
            out.display()
        );
    }
    Ok(())
}

/// Prints (stderr) a warning for each classification cell at chance level (`chance`).
fn warn_at_chance(
    config: &config::StudyConfig,
    out: &Path,
    selection: &Selection,
) -> Result<(), HarnessError> {
    let mut runs = mtlbench_results::store::read_runs(&mtlbench_results::store::runs_dir(out))?;
    selection.apply(&mut runs);
    for warning in crate::run::chance::chance_warnings(config, &runs) {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

/// `report DIR [--selection RULE] [--delta-metrics A,B] [--columns A,B]`: without them,
/// those of `DIR/study.yaml` (or `last` and the suites' primary metrics; the paper table's
/// default columns). A rule given here is refused when a stored `ok` run has fewer
/// evaluation points than it needs; an unknown column is refused with the valid ones listed.
pub fn report(
    out: &Path,
    selection: Option<Selection>,
    delta_metrics: Option<Vec<String>>,
    tensorboard: bool,
    columns: Option<Vec<String>>,
    figures: &crate::study::presentation::FigureFlags,
) -> Result<u8, HarnessError> {
    let columns = columns.unwrap_or_else(|| {
        mtlbench_results::main_table::DEFAULT_PAPER_COLUMNS
            .map(String::from)
            .to_vec()
    });
    mtlbench_results::main_table::check_columns(&columns).map_err(|message| {
        HarnessError::Config {
            file: "--columns".into(),
            message,
        }
    })?;
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
    if selection.is_some() || delta_metrics.is_some() {
        let runs = mtlbench_results::store::read_runs(&mtlbench_results::store::runs_dir(out))?;
        if let Some(rule) = &selection {
            // A rule given here must have the evaluation points it chooses from in every run.
            rule.check_runs(&runs)
                .map_err(|message| HarnessError::Config {
                    file: "--selection".into(),
                    message,
                })?;
        }
        // Metrics given here must be measured by every suite.
        mtlbench_results::report::check_delta_metrics_measured(
            &runs,
            &DeltaMetrics(delta_metrics.clone()),
        )
        .map_err(|message| HarnessError::Config {
            file: "--delta-metrics".into(),
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
    if let Some(config) = &stored {
        warn_at_chance(config, out, &selection)?;
    }
    let presentation = crate::study::presentation::presentation(stored.as_ref(), figures)?;
    let metrics = DeltaMetrics(delta_metrics.or_else(|| stored.and_then(|c| c.delta_metrics)));
    for file in mtlbench_results::report::write_report_with(
        out,
        &selection,
        &metrics,
        published.as_ref(),
        &presentation,
        &columns,
    )?
    .files
    {
        println!("{}", file.display());
    }
    warn_missing(out)?;
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
