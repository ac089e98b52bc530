//! polars tables: the long/tidy `runs` table (one row per measured value) and the summary
//! table, written as CSV and Parquet; and the Markdown summary.

use crate::pairwise::PairGain;
use crate::record::RunRecord;
use crate::stats::Summary;
use crate::store::write_atomic;
use crate::summary::StudySummary;
use crate::telemetry::MeasureCell;
use crate::transfer::DeltaVariant;
use crate::ResultsError;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Columns of the `runs` table, in order.
pub const RUNS_COLUMNS: &[&str] = &[
    "run_id",
    "study",
    "suite",
    "suite_kind",
    "architecture",
    "weighting",
    "algorithm",
    "hparams",
    "training",
    "replicate",
    "fraction",
    "task",
    "split",
    "metric",
    "higher_is_better",
    "epoch",
    "step",
    "value",
    "status",
    "message",
    "wall_time_s",
    "data_time_s",
    "steps",
    "forward_passes",
    "backward_passes",
    "parameter_bytes",
    "optimizer_bytes",
    "device_memory_bytes",
    "peak_memory_bytes",
    "solver_mean_iterations",
    "solver_max_gap",
    "solver_fallbacks",
    "telemetry_backward_passes",
    "telemetry_forward_passes",
    "task_subset",
    "still_improving_at_end",
];

/// The columns that measure wall-clock time (everything else is a pure function of the
/// study and seed).
pub const WALL_CLOCK_COLUMNS: &[&str] = &["wall_time_s", "data_time_s"];

pub(crate) fn col<T, P>(name: &str, values: T) -> Column
where
    Series: NamedFrom<T, P>,
    P: ?Sized,
{
    Column::new(name.into(), values)
}

/// One row per measured point of every run; a run with no points (it failed before its
/// first measurement) gets one row with empty task and a NaN value, so its status shows.
pub fn runs_frame(runs: &[RunRecord]) -> Result<DataFrame, PolarsError> {
    let mut s: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut u: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let mut f: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut hib: Vec<bool> = Vec::new();
    let mut messages: Vec<Option<String>> = Vec::new();
    let mut solver_iterations: Vec<Option<f64>> = Vec::new();
    let mut solver_gaps: Vec<Option<f64>> = Vec::new();
    let mut solver_fallbacks: Vec<Option<u64>> = Vec::new();
    let mut device_memory: Vec<Option<u64>> = Vec::new();
    let mut peak_memory: Vec<Option<u64>> = Vec::new();
    let mut still_improving: Vec<Option<bool>> = Vec::new();
    for run in runs {
        let late = crate::convergence::still_improving(run);
        let subset = run
            .kind
            .task_subset()
            .map_or(String::new(), |t| t.join(","));
        let empty;
        let points = if run.points.is_empty() {
            empty = [crate::record::Point {
                task: String::new(),
                split: String::new(),
                metric: String::new(),
                higher_is_better: false,
                epoch: 0,
                step: 0,
                value: f64::NAN,
            }];
            &empty[..]
        } else {
            &run.points[..]
        };
        for p in points {
            for (name, value) in [
                ("run_id", &run.id),
                ("study", &run.study),
                ("suite", &run.suite),
                ("suite_kind", &run.suite_kind),
                ("architecture", &run.architecture),
                ("weighting", &run.weighting),
                ("algorithm", &run.algorithm),
                ("hparams", &run.hparams),
                ("training", &run.training),
                ("task", &p.task),
                ("split", &p.split),
                ("metric", &p.metric),
                ("status", &run.status),
                ("task_subset", &subset),
            ] {
                s.entry(name).or_default().push(value.clone());
            }
            for (name, value) in [
                ("replicate", run.replicate),
                ("epoch", p.epoch),
                ("step", p.step),
                ("steps", run.steps),
                ("forward_passes", run.forward_passes),
                ("backward_passes", run.backward_passes),
                ("parameter_bytes", run.parameter_bytes),
                ("optimizer_bytes", run.optimizer_bytes),
                ("telemetry_backward_passes", run.telemetry_backward_passes),
                ("telemetry_forward_passes", run.telemetry_forward_passes),
            ] {
                u.entry(name).or_default().push(value as u64);
            }
            for (name, value) in [
                ("fraction", run.fraction),
                ("value", p.value),
                ("wall_time_s", run.wall_time_s),
                ("data_time_s", run.data_time_s),
            ] {
                f.entry(name).or_default().push(value);
            }
            hib.push(p.higher_is_better);
            messages.push(run.message.clone());
            solver_iterations.push(run.solver_mean_iterations);
            solver_gaps.push(run.solver_max_gap);
            solver_fallbacks.push(run.solver_fallbacks.map(|n| n as u64));
            device_memory.push(run.device_memory_bytes.map(|n| n as u64));
            peak_memory.push(run.peak_memory_bytes);
            still_improving.push(late);
        }
    }
    let columns = RUNS_COLUMNS
        .iter()
        .map(|&name| match name {
            "higher_is_better" => col(name, std::mem::take(&mut hib)),
            "message" => col(name, std::mem::take(&mut messages)),
            "solver_mean_iterations" => col(name, std::mem::take(&mut solver_iterations)),
            "solver_max_gap" => col(name, std::mem::take(&mut solver_gaps)),
            "solver_fallbacks" => col(name, std::mem::take(&mut solver_fallbacks)),
            "device_memory_bytes" => col(name, std::mem::take(&mut device_memory)),
            "peak_memory_bytes" => col(name, std::mem::take(&mut peak_memory)),
            "still_improving_at_end" => col(name, std::mem::take(&mut still_improving)),
            _ if s.contains_key(name) => col(name, s.remove(name).unwrap_or_default()),
            _ if u.contains_key(name) => col(name, u.remove(name).unwrap_or_default()),
            _ => col(name, f.remove(name).unwrap_or_default()),
        })
        .collect();
    DataFrame::new_infer_height(columns)
}

/// Gradient-conflict telemetry of every run, one row per measure and step; `None` when no
/// run recorded any.
pub fn telemetry_frame(runs: &[RunRecord]) -> Option<Result<DataFrame, PolarsError>> {
    let rows: Vec<(&RunRecord, &crate::record::TelemetryRow)> = runs
        .iter()
        .flat_map(|r| r.telemetry.iter().map(move |t| (r, t)))
        .collect();
    if rows.is_empty() {
        return None;
    }
    let text = |f: &dyn Fn(&RunRecord, &crate::record::TelemetryRow) -> String| -> Vec<String> {
        rows.iter().map(|(r, t)| f(r, t)).collect()
    };
    Some(DataFrame::new_infer_height(vec![
        col("run_id", text(&|r, _| r.id.clone())),
        col("suite", text(&|r, _| r.suite.clone())),
        col("algorithm", text(&|r, _| r.algorithm.clone())),
        col(
            "replicate",
            rows.iter()
                .map(|(r, _)| r.replicate as u64)
                .collect::<Vec<_>>(),
        ),
        col(
            "fraction",
            rows.iter().map(|(r, _)| r.fraction).collect::<Vec<_>>(),
        ),
        col(
            "step",
            rows.iter().map(|(_, t)| t.step as u64).collect::<Vec<_>>(),
        ),
        col(
            "epoch",
            rows.iter().map(|(_, t)| t.epoch as u64).collect::<Vec<_>>(),
        ),
        col("measure", text(&|_, t| t.measure.clone())),
        col(
            "task_a",
            rows.iter()
                .map(|(_, t)| t.task_a.clone())
                .collect::<Vec<_>>(),
        ),
        col(
            "task_b",
            rows.iter()
                .map(|(_, t)| t.task_b.clone())
                .collect::<Vec<_>>(),
        ),
        col(
            "layer",
            rows.iter()
                .map(|(_, t)| t.layer.map(|l| l as u64))
                .collect::<Vec<_>>(),
        ),
        col(
            "value",
            rows.iter().map(|(_, t)| t.value).collect::<Vec<_>>(),
        ),
    ]))
}

/// Every telemetry measure averaged per (suite, fraction, algorithm, measure, task pair,
/// layer): `mean` over logged steps and replicates, `negative_share` (for `cosine`, the
/// pair's conflict frequency), `values` and `replicates` counted.
pub fn telemetry_summary_frame(cells: &[MeasureCell]) -> Result<DataFrame, PolarsError> {
    let text =
        |f: &dyn Fn(&MeasureCell) -> String| -> Vec<String> { cells.iter().map(f).collect() };
    let opt = |f: &dyn Fn(&MeasureCell) -> Option<String>| -> Vec<Option<String>> {
        cells.iter().map(f).collect()
    };
    DataFrame::new_infer_height(vec![
        col("suite", text(&|c| c.key.suite.clone())),
        col(
            "fraction",
            cells
                .iter()
                .map(|c| c.key.fraction.parse::<f64>().unwrap_or(f64::NAN))
                .collect::<Vec<_>>(),
        ),
        col("algorithm", text(&|c| c.key.algorithm.clone())),
        col("measure", text(&|c| c.measure.clone())),
        col("task_a", opt(&|c| c.task_a.clone())),
        col("task_b", opt(&|c| c.task_b.clone())),
        col(
            "layer",
            cells
                .iter()
                .map(|c| c.layer.map(|l| l as u64))
                .collect::<Vec<_>>(),
        ),
        col("mean", cells.iter().map(|c| c.mean).collect::<Vec<_>>()),
        col(
            "negative_share",
            cells.iter().map(|c| c.negative_share).collect::<Vec<_>>(),
        ),
        col(
            "values",
            cells.iter().map(|c| c.values as u64).collect::<Vec<_>>(),
        ),
        col(
            "replicates",
            cells
                .iter()
                .map(|c| c.replicates as u64)
                .collect::<Vec<_>>(),
        ),
    ])
}

/// The task weights every run recorded, one row per (run, step, task); `None` when no run
/// recorded any.
pub fn weights_frame(runs: &[RunRecord]) -> Option<Result<DataFrame, PolarsError>> {
    let rows: Vec<(&RunRecord, &crate::record::WeightRow)> = runs
        .iter()
        .flat_map(|r| r.weights.iter().map(move |w| (r, w)))
        .collect();
    if rows.is_empty() {
        return None;
    }
    let text = |f: &dyn Fn(&RunRecord, &crate::record::WeightRow) -> String| -> Vec<String> {
        rows.iter().map(|(r, w)| f(r, w)).collect()
    };
    let int = |f: &dyn Fn(&RunRecord, &crate::record::WeightRow) -> usize| -> Vec<u64> {
        rows.iter().map(|(r, w)| f(r, w) as u64).collect()
    };
    Some(DataFrame::new_infer_height(vec![
        col("run_id", text(&|r, _| r.id.clone())),
        col("suite", text(&|r, _| r.suite.clone())),
        col("algorithm", text(&|r, _| r.algorithm.clone())),
        col("replicate", int(&|r, _| r.replicate)),
        col(
            "fraction",
            rows.iter().map(|(r, _)| r.fraction).collect::<Vec<_>>(),
        ),
        col("step", int(&|_, w| w.step)),
        col("epoch", int(&|_, w| w.epoch)),
        col("task", text(&|_, w| w.task.clone())),
        col(
            "weight",
            rows.iter().map(|(_, w)| w.value).collect::<Vec<_>>(),
        ),
    ]))
}

/// The adaptation curves: query MSE by suite, fraction, start, k and step over replicates.
pub fn adaptation_frame(rows: &[crate::adaptation::AdaptRow]) -> Result<DataFrame, PolarsError> {
    let text = |f: &dyn Fn(&crate::adaptation::AdaptRow) -> String| -> Vec<String> {
        rows.iter().map(f).collect()
    };
    let num = |f: &dyn Fn(&crate::adaptation::AdaptRow) -> f64| -> Vec<f64> {
        rows.iter().map(f).collect()
    };
    DataFrame::new_infer_height(vec![
        col("suite", text(&|r| r.suite.clone())),
        col("fraction", num(&|r| r.fraction.parse().unwrap_or(f64::NAN))),
        col("start", text(&|r| r.start.clone())),
        col(
            "shots",
            rows.iter().map(|r| r.shots as u64).collect::<Vec<_>>(),
        ),
        col(
            "step",
            rows.iter().map(|r| r.step as u64).collect::<Vec<_>>(),
        ),
        col("n", rows.iter().map(|r| r.mse.n as u64).collect::<Vec<_>>()),
        col("query_mse_mean", num(&|r| r.mse.mean)),
        col("query_mse_ci95_low", num(&|r| r.mse.mean - r.mse.ci95)),
        col("query_mse_ci95_high", num(&|r| r.mse.mean + r.mse.ci95)),
    ])
}

/// gain_{task|partner} of the pairwise-transfer runs, in percent, over replicates.
pub fn pairwise_frame(gains: &[PairGain]) -> Result<DataFrame, PolarsError> {
    let text = |f: &dyn Fn(&PairGain) -> String| -> Vec<String> { gains.iter().map(f).collect() };
    let num = |f: &dyn Fn(&PairGain) -> f64| -> Vec<f64> { gains.iter().map(f).collect() };
    DataFrame::new_infer_height(vec![
        col("suite", text(&|g| g.suite.clone())),
        col("fraction", num(&|g| g.fraction.parse().unwrap_or(f64::NAN))),
        col("task", text(&|g| g.task.clone())),
        col("partner", text(&|g| g.partner.clone())),
        col(
            "n",
            gains.iter().map(|g| g.gain.n as u64).collect::<Vec<_>>(),
        ),
        col("gain_pct_mean", num(&|g| g.gain.mean)),
        col("gain_pct_ci95_low", num(&|g| g.gain.mean - g.gain.ci95)),
        col("gain_pct_ci95_high", num(&|g| g.gain.mean + g.gain.ci95)),
    ])
}

/// (suite, algorithm, task).
type CurveKey = (String, String, String);
/// (metric, higher is better, (fraction, mean) points).
type TaskCurve = (String, bool, Vec<(f64, f64)>);

/// Learning curves of each task's first stored metric over the training fractions, with the
/// data-equivalence ratio against the single-task curve of the same training settings;
/// and per (suite, algorithm, task) the normalised area under the curve over log fraction.
/// `None` when the study has fewer than two fractions.
pub fn efficiency_frames(
    summary: &StudySummary,
) -> Option<Result<(DataFrame, DataFrame), PolarsError>> {
    use crate::efficiency::{data_equivalence_ratio, normalised_auc};
    // (suite, algorithm, task) → (metric, higher is better, curve over fractions).
    let mut curves: Vec<(CurveKey, TaskCurve)> = Vec::new();
    for row in &summary.metrics {
        let key = (
            row.key.suite.clone(),
            row.key.algorithm.clone(),
            row.task.clone(),
        );
        let fraction: f64 = row.key.fraction.parse().unwrap_or(f64::NAN);
        match curves.iter_mut().find(|(k, _)| *k == key) {
            // The curve follows the task's first stored metric (for regression the MSE,
            // whose ratios equal the normalised MSE's).
            Some((_, (metric, _, curve))) if *metric == row.metric => {
                curve.push((fraction, row.stats.mean))
            }
            Some(_) => {}
            None => curves.push((
                key,
                (
                    row.metric.clone(),
                    row.higher_is_better,
                    vec![(fraction, row.stats.mean)],
                ),
            )),
        }
    }
    for (_, (_, _, curve)) in &mut curves {
        curve.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    if curves.iter().all(|(_, (_, _, c))| c.len() < 2) {
        return None;
    }
    // The single-task curve for a method: same suite and task, same training suffix.
    let suffix = |label: &str| {
        label
            .split_once(' ')
            .map(|x| x.1.to_string())
            .unwrap_or_default()
    };
    let baseline_of = |suite: &str, algorithm: &str, task: &str| {
        curves.iter().find(|((s, a, t), _)| {
            s == suite
                && t == task
                && a.starts_with(crate::summary::BASELINE_ARCHITECTURE)
                && suffix(a) == suffix(algorithm)
        })
    };
    let (mut suite, mut algorithm, mut task, mut metric, mut fraction, mut mean, mut der) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let (mut a_suite, mut a_algorithm, mut a_task, mut a_metric, mut auc, mut mean_der) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for ((s, a, t), (m, hib, curve)) in &curves {
        let stl = baseline_of(s, a, t).map(|(_, (_, _, c))| c.clone());
        let mut ders = Vec::new();
        for &(f, value) in curve {
            let d = stl
                .as_ref()
                .map_or(f64::NAN, |c| data_equivalence_ratio(c, f, value, *hib));
            if d.is_finite() && f < 1.0 {
                ders.push(d);
            }
            suite.push(s.clone());
            algorithm.push(a.clone());
            task.push(t.clone());
            metric.push(m.clone());
            fraction.push(f);
            mean.push(value);
            der.push(d);
        }
        a_suite.push(s.clone());
        a_algorithm.push(a.clone());
        a_task.push(t.clone());
        a_metric.push(m.clone());
        auc.push(normalised_auc(curve));
        mean_der.push(if ders.is_empty() {
            f64::NAN
        } else {
            ders.iter().sum::<f64>() / ders.len() as f64
        });
    }
    let curves_frame = DataFrame::new_infer_height(vec![
        col("suite", suite),
        col("algorithm", algorithm),
        col("task", task),
        col("metric", metric),
        col("fraction", fraction),
        col("mean", mean),
        col("data_equivalence_ratio", der),
    ]);
    let auc_frame = DataFrame::new_infer_height(vec![
        col("suite", a_suite),
        col("algorithm", a_algorithm),
        col("task", a_task),
        col("metric", a_metric),
        col("auc_log_fraction", auc),
        col("mean_data_equivalence_ratio", mean_der),
    ]);
    Some(curves_frame.and_then(|c| auc_frame.map(|a| (c, a))))
}

/// The summary in long form: one row per (suite, fraction, algorithm, task, metric), and
/// per (suite, fraction, algorithm) rows with task `(all)`: each Δm variant under its
/// name, `negative_transfer_tasks` (n = tasks compared), `mean_rank`, the paired t tests’
/// p-values `p_paired_vs_single_task` and `p_paired_vs_equal`, the mean cost per run
/// (`wall_time_s`, `steps`, passes, bytes, `peak_memory_bytes`: NaN where no run measured
/// it), then the worst task's gain and the spread of the per-task gains
/// (`WORST_TASK_LABEL`, `GAIN_SPREAD_LABEL`) over replicates.
pub fn summary_frame(summary: &StudySummary) -> Result<DataFrame, PolarsError> {
    let mut suite = Vec::new();
    let mut fraction = Vec::new();
    let mut algorithm = Vec::new();
    let mut task = Vec::new();
    let mut metric = Vec::new();
    let mut higher = Vec::new();
    let mut n = Vec::new();
    let mut mean = Vec::new();
    let mut std = Vec::new();
    let mut low = Vec::new();
    let mut high = Vec::new();
    let mut not_ok = Vec::new();
    let mut push = |k: &crate::summary::GroupKey,
                    t: &str,
                    m: &str,
                    h: bool,
                    st: &crate::stats::Summary,
                    bad: Option<u64>| {
        suite.push(k.suite.clone());
        fraction.push(k.fraction.parse::<f64>().unwrap_or(f64::NAN));
        algorithm.push(k.algorithm.clone());
        task.push(t.to_string());
        metric.push(m.to_string());
        higher.push(h);
        n.push(st.n as u64);
        mean.push(st.mean);
        std.push(st.std);
        low.push(st.mean - st.ci95);
        high.push(st.mean + st.ci95);
        not_ok.push(bad);
    };
    for row in &summary.metrics {
        push(
            &row.key,
            &row.task,
            &row.metric,
            row.higher_is_better,
            &row.stats,
            None,
        );
    }
    for row in &summary.deltas {
        let bad = Some(row.not_ok as u64);
        for (variant, stats) in DeltaVariant::ALL.iter().zip(&row.variants) {
            push(
                &row.key,
                "(all)",
                variant.label(),
                variant.higher_is_better(),
                stats,
                bad,
            );
        }
        // Counts and ranks as single values (n = tasks compared / 1; no spread).
        let single = |value: f64, n: usize| Summary {
            n,
            mean: value,
            std: f64::NAN,
            ci95: f64::NAN,
        };
        if let Some(count) = row.negative_transfer {
            push(
                &row.key,
                "(all)",
                "negative_transfer_tasks",
                false,
                &single(count as f64, row.tasks),
                bad,
            );
        }
        push(
            &row.key,
            "(all)",
            "mean_rank",
            false,
            &single(row.mean_rank, 1),
            bad,
        );
        let n = row.variants[0].n;
        for (name, value) in [
            ("p_paired_vs_single_task", row.p_vs_single_task),
            ("p_paired_vs_equal", row.p_vs_equal),
            ("wall_time_s", row.wall_time_s),
            ("steps", row.steps),
            ("forward_passes", row.forward_passes),
            ("backward_passes", row.backward_passes),
            ("parameter_bytes", row.parameter_bytes),
            ("optimizer_bytes", row.optimizer_bytes),
            ("peak_memory_bytes", row.peak_memory_bytes),
        ] {
            push(&row.key, "(all)", name, false, &single(value, n), bad);
        }
        // Appended after the older rows (docs/FORMULAS.md#worst-task-and-balance).
        push(
            &row.key,
            "(all)",
            WORST_TASK_LABEL,
            true,
            &row.worst_task,
            bad,
        );
        push(
            &row.key,
            "(all)",
            GAIN_SPREAD_LABEL,
            false,
            &row.gain_spread,
            bad,
        );
        // The paired differences and their Holm-adjusted p values
        // (docs/FORMULAS.md#significance-over-many-comparisons).
        push(
            &row.key,
            "(all)",
            "paired_dp_vs_single_task",
            true,
            &row.vs_single_task,
            bad,
        );
        push(
            &row.key,
            "(all)",
            "paired_dp_vs_equal",
            true,
            &row.vs_equal,
            bad,
        );
        for (name, value) in [
            ("p_holm_vs_single_task", row.p_vs_single_task_holm),
            ("p_holm_vs_equal", row.p_vs_equal_holm),
        ] {
            push(&row.key, "(all)", name, false, &single(value, n), bad);
        }
        // Runs still improving at the end, of those judged (n)
        // (docs/FORMULAS.md#still-improving-at-the-end).
        push(
            &row.key,
            "(all)",
            "still_improving_at_end",
            false,
            &single(row.still_improving as f64, row.judged),
            bad,
        );
    }
    DataFrame::new_infer_height(vec![
        col("suite", suite),
        col("fraction", fraction),
        col("algorithm", algorithm),
        col("task", task),
        col("metric", metric),
        col("higher_is_better", higher),
        col("n", n),
        col("mean", mean),
        col("std", std),
        col("ci95_low", low),
        col("ci95_high", high),
        col("runs_not_ok", not_ok),
    ])
}

/// A polars failure while writing the table at `path`.
pub fn table_error(path: &Path, e: PolarsError) -> ResultsError {
    ResultsError::Table {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Writes `df` as CSV to `path`, atomically.
pub fn write_csv(df: &mut DataFrame, path: &Path) -> Result<(), ResultsError> {
    let mut buf = Vec::new();
    CsvWriter::new(&mut buf)
        .finish(df)
        .map_err(|e| table_error(path, e))?;
    write_atomic(path, &buf)
}

/// Writes `df` as Parquet to `path`, atomically.
pub fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<(), ResultsError> {
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf)
        .finish(df)
        .map_err(|e| table_error(path, e))?;
    write_atomic(path, &buf)
}

/// The name of the worst task's gain in every table (docs/FORMULAS.md#worst-task-and-balance).
pub const WORST_TASK_LABEL: &str = "worst task gain (%)";
/// The name of the spread of the per-task gains in every table.
pub const GAIN_SPREAD_LABEL: &str = "task gain spread (%)";

/// `mean ± ci` with a precision that suits the magnitude.
pub fn format_estimate(mean: f64, ci: f64) -> String {
    let digits = |v: f64| -> usize {
        let a = v.abs();
        if a == 0.0 || !a.is_finite() {
            3
        } else if a >= 100.0 {
            1
        } else if a >= 1.0 {
            3
        } else {
            (2 - a.log10().floor() as i64).clamp(3, 8) as usize
        }
    };
    // Adding 0.0 turns −0.0 into 0.0, so an exact zero never prints as "-0.000".
    let (mean, ci) = (mean + 0.0, ci + 0.0);
    // The precision follows the larger of the two, so a mean that is zero to rounding
    // next to a wide interval prints as 0.000 rather than with 8 decimals.
    let scale = if ci.is_finite() {
        mean.abs().max(ci.abs())
    } else {
        mean.abs()
    };
    let d = digits(scale);
    let mean = if mean.abs() < 0.5 * 10f64.powi(-(d as i32)) {
        0.0
    } else {
        mean
    };
    if ci.is_finite() {
        format!("{mean:.d$} ± {ci:.d$}")
    } else {
        format!("{mean:.d$}")
    }
}

/// The Markdown summary: how to read it, then the main table (see `main_table`).
pub fn summary_markdown(
    study: &str,
    summary: &StudySummary,
    selection: &crate::selection::Selection,
    metrics: &crate::transfer::DeltaMetrics,
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# {study}: summary\n");
    let _ = writeln!(
        md,
        "{} Mean ± 95% CI (Student t) over replicates (n per row). \
         Transfer against `single_task` (docs/FORMULAS.md#transfer-measures) over {}, \
         each variant under its \
         name: {} (per task the mean relative gain over its metrics, then the mean over \
         tasks; paired by replicate), {} (flat mean over the metrics, lower is better; \
         paired), {} (per task the gain, then the mean over tasks; paired), {} (as Δ_MTL, \
         against the baseline's mean over replicates). neg. = tasks whose mean gain is \
         negative, out of those compared; rank = mean rank over those (task, metric) \
         columns among the algorithms of the section (the set compared: the rows of \
         that section; 1 = best); p (STL) and p (equal): two-sided paired t tests (by \
         replicate) of the LibMTL Δp against `single_task` and against `equal` weighting of \
         the same architecture, uncorrected (Holm-corrected ones: Paired differences, \
         below). Cost, mean per run: wall-clock seconds, optimizer steps, \
         training forward/backward passes (telemetry's are counted apart in the runs \
         table), parameter and optimizer-state KiB. worst task and spread \
         (docs/FORMULAS.md#worst-task-and-balance): per replicate, the smallest per-task \
         gain and the standard deviation of the per-task gains over tasks (population, in \
         percentage points) against the same replicate's `single_task`, then mean ± 95% CI \
         over replicates. still improving (docs/FORMULAS.md#still-improving-at-the-end): \
         of the runs with at least 5 validation evaluations, how many have their best \
         validation point in their last 20% of evaluations, ⚠ when any has (their numbers \
         depend on where training stopped). Bold: the best value of the column.\n",
        selection.caption(),
        metrics.describe(),
        DeltaVariant::LibMtl.label(),
        DeltaVariant::NashMtl.label(),
        DeltaVariant::Vandenhende.label(),
        DeltaVariant::AutoLambda.label(),
    );
    md.push_str(&crate::main_table::render_markdown(
        &crate::main_table::main_table(summary),
    ));
    // docs/FORMULAS.md#significance-over-many-comparisons
    let _ = writeln!(
        md,
        "# Paired differences\n\n{}\n",
        crate::paired_table::paired_caption(summary)
    );
    // Headings of their own, so that no anchor repeats one of the main table's.
    md.push_str(
        &crate::main_table::render_markdown(&crate::paired_table::paired_sections(summary))
            .replace("\n## ", "\n## Paired differences: ")
            .replacen("## ", "## Paired differences: ", 1),
    );
    md
}
