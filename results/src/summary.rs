//! Summaries of a study's runs: per suite × fraction × algorithm × task × metric, the final
//! test value's mean and 95% CI over replicates; and Δm against `single_task` of the same
//! replicate in LibMTL's per-task-mean variant ("Δp", FORMULAS.md b.1 item 2).

use crate::record::RunRecord;
use crate::stats::{summarize, Summary};
use std::collections::BTreeMap;

/// The architecture every transfer number is measured against.
pub const BASELINE_ARCHITECTURE: &str = "single_task";

/// The label of the Δm variant computed here, as it appears in every table.
pub const DELTA_P_LIBMTL: &str = "Δp LibMTL (%)";

/// The metric tables and charts show for a task when it has it: comparable across tasks
/// of different scale. Otherwise a task's first metric is shown.
pub const PREFERRED_METRIC: &str = "normalized_mse";

/// A (suite, fraction, algorithm) cell of a study.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupKey {
    pub suite: String,
    /// The fraction as stored text, so keys sort and compare exactly.
    pub fraction: String,
    /// 0 for the baseline, 1 for the others: the baseline sorts first.
    pub order: u8,
    pub algorithm: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    pub key: GroupKey,
    pub task: String,
    pub metric: String,
    pub higher_is_better: bool,
    pub stats: Summary,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeltaRow {
    pub key: GroupKey,
    /// Δp over the replicates that have a paired baseline run.
    pub stats: Summary,
    /// Runs of this cell that did not finish with status `ok`.
    pub not_ok: usize,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StudySummary {
    pub metrics: Vec<MetricRow>,
    pub deltas: Vec<DeltaRow>,
}

impl StudySummary {
    /// The (suite, fraction) sections of the study, in table order.
    pub fn sections(&self) -> Vec<(String, String)> {
        let mut sections: Vec<(String, String)> = self
            .deltas
            .iter()
            .map(|d| (d.key.suite.clone(), d.key.fraction.clone()))
            .collect();
        sections.dedup();
        sections
    }
}

pub fn group_key(run: &RunRecord) -> GroupKey {
    GroupKey {
        suite: run.suite.clone(),
        fraction: format_fraction(run.fraction),
        order: u8::from(run.architecture != BASELINE_ARCHITECTURE),
        algorithm: run.algorithm.clone(),
    }
}

pub fn format_fraction(f: f64) -> String {
    format!("{f}")
}

/// LibMTL's Δp of `method` against `baseline` over their common final test metrics:
/// 100 · (1/T) Σₜ (1/Mₜ) Σₘ sₘ (Nₜₘ − Bₜₘ)/Bₜₘ, with sₘ = +1 when higher is better, −1 otherwise.
pub fn delta_p_libmtl(method: &RunRecord, baseline: &RunRecord) -> Option<f64> {
    let base: BTreeMap<(&str, &str), f64> = baseline
        .final_test()
        .map(|p| ((p.task.as_str(), p.metric.as_str()), p.value))
        .collect();
    let mut per_task: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for p in method.final_test() {
        let b = *base.get(&(p.task.as_str(), p.metric.as_str()))?;
        let sign = if p.higher_is_better { 1.0 } else { -1.0 };
        per_task
            .entry(p.task.as_str())
            .or_default()
            .push(sign * (p.value - b) / b);
    }
    if per_task.is_empty() {
        return None;
    }
    let task_means: Vec<f64> = per_task
        .values()
        .map(|v| v.iter().sum::<f64>() / v.len() as f64)
        .collect();
    Some(100.0 * task_means.iter().sum::<f64>() / task_means.len() as f64)
}

/// Summarises `runs` (any order); rows come out sorted by suite, fraction, baseline
/// first, algorithm, then task order as stored.
pub fn summarize_study(runs: &[RunRecord]) -> StudySummary {
    let mut cells: BTreeMap<GroupKey, Vec<&RunRecord>> = BTreeMap::new();
    for run in runs {
        cells.entry(group_key(run)).or_default().push(run);
    }
    // Baselines by (suite, fraction, replicate, training settings): the pairing key.
    let baselines: BTreeMap<(&str, String, usize, &str), &RunRecord> = runs
        .iter()
        .filter(|r| r.architecture == BASELINE_ARCHITECTURE && r.is_ok())
        .map(|r| {
            (
                (
                    r.suite.as_str(),
                    format_fraction(r.fraction),
                    r.replicate,
                    r.training.as_str(),
                ),
                r,
            )
        })
        .collect();

    let mut out = StudySummary::default();
    for (key, cell) in &cells {
        let ok: Vec<&&RunRecord> = cell.iter().filter(|r| r.is_ok()).collect();
        // (task, metric) in the order the first run stored them.
        let mut columns: Vec<(String, String, bool)> = Vec::new();
        let mut values: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
        for run in &ok {
            for p in run.final_test() {
                let k = (p.task.clone(), p.metric.clone());
                if !values.contains_key(&k) {
                    columns.push((p.task.clone(), p.metric.clone(), p.higher_is_better));
                }
                values.entry(k).or_default().push(p.value);
            }
        }
        for (task, metric, higher_is_better) in columns {
            let stats = summarize(&values[&(task.clone(), metric.clone())]);
            out.metrics.push(MetricRow {
                key: key.clone(),
                task,
                metric,
                higher_is_better,
                stats,
            });
        }
        let deltas: Vec<f64> = ok
            .iter()
            .filter_map(|run| {
                let pair = (
                    run.suite.as_str(),
                    format_fraction(run.fraction),
                    run.replicate,
                    run.training.as_str(),
                );
                baselines.get(&pair).and_then(|b| delta_p_libmtl(run, b))
            })
            .collect();
        out.deltas.push(DeltaRow {
            key: key.clone(),
            stats: summarize(&deltas),
            not_ok: cell.len() - ok.len(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Point;

    fn run(arch: &str, replicate: usize, values: &[(&str, &str, bool, f64)]) -> RunRecord {
        RunRecord {
            id: format!("{arch}-{replicate}"),
            study: "s".into(),
            suite: "toy".into(),
            suite_kind: "toy".into(),
            architecture: arch.into(),
            weighting: "equal".into(),
            algorithm: format!("{arch}+equal"),
            hparams: "{}".into(),
            training: "{}".into(),
            replicate,
            fraction: 1.0,
            status: "ok".into(),
            message: None,
            wall_time_s: 0.0,
            steps: 1,
            forward_passes: 1,
            backward_passes: 1,
            parameter_bytes: 0,
            optimizer_bytes: 0,
            solver_mean_iterations: None,
            solver_max_gap: None,
            planted_correlation: None,
            points: values
                .iter()
                .map(|(task, metric, hib, value)| Point {
                    task: task.to_string(),
                    split: "test".into(),
                    metric: metric.to_string(),
                    higher_is_better: *hib,
                    epoch: 5,
                    step: 10,
                    value: *value,
                })
                .collect(),
        }
    }

    /// Hand-computed Δp: task a has two metrics (one higher-better), task b one
    /// (lower-better). a: acc 0.8→0.88 (+10%), mse 2→1 (+50%) ⇒ mean +30%;
    /// b: mse 1→1.2 (−20%) ⇒ Δp = 100·(0.30 − 0.20)/2 = 5.
    #[test]
    fn delta_p_by_hand_with_direction_flips() {
        let base = run(
            "single_task",
            0,
            &[
                ("a", "acc", true, 0.8),
                ("a", "mse", false, 2.0),
                ("b", "mse", false, 1.0),
            ],
        );
        let mtl = run(
            "hard_sharing",
            0,
            &[
                ("a", "acc", true, 0.88),
                ("a", "mse", false, 1.0),
                ("b", "mse", false, 1.2),
            ],
        );
        let d = delta_p_libmtl(&mtl, &base).unwrap();
        assert!((d - 5.0).abs() < 1e-9, "{d}");
    }

    #[test]
    fn summary_pairs_by_replicate_and_puts_baseline_first() {
        let runs = vec![
            run("hard_sharing", 0, &[("a", "mse", false, 0.5)]),
            run("hard_sharing", 1, &[("a", "mse", false, 1.5)]),
            run("single_task", 0, &[("a", "mse", false, 1.0)]),
            run("single_task", 1, &[("a", "mse", false, 1.0)]),
        ];
        let s = summarize_study(&runs);
        assert_eq!(s.deltas[0].key.algorithm, "single_task+equal");
        assert_eq!(s.deltas[0].stats.mean, 0.0);
        // Δp per replicate: +50 and −50.
        assert_eq!(s.deltas[1].stats.n, 2);
        assert!((s.deltas[1].stats.mean - 0.0).abs() < 1e-12);
        assert!((s.deltas[1].stats.std - 70.71067811865476).abs() < 1e-9);
        assert_eq!(s.metrics[1].stats.mean, 1.0);
    }
}
