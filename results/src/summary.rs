//! Summaries of a study's runs: per suite × fraction × algorithm × task × metric, the final
//! test value's mean and 95% CI over replicates; and per cell the four Δm variants against
//! `single_task`, the negative-transfer count and the mean rank (see `transfer`), and the
//! worst task's gain and the spread of the gains over tasks (see `balance`).

use crate::balance::{gain_spread, worst_task_gain};
use crate::record::RunRecord;
use crate::stats::{summarize, t_test_p, Summary};
use crate::transfer::{delta, mean_ranks, task_gains, DeltaMetrics, DeltaVariant, FinalTest};
use std::collections::BTreeMap;

/// The architecture every transfer number is measured against.
pub const BASELINE_ARCHITECTURE: &str = "single_task";

/// The metric tables and charts show for a task when it has it: comparable across tasks
/// of different scale. Otherwise a task's first metric is shown.
pub const PREFERRED_METRIC: &str = "normalized_mse";

/// The metric shown for each task, from (task, metric, higher is better) entries in stored
/// order: `PREFERRED_METRIC` when the task has it, else its first.
pub fn shown_metrics(
    entries: impl IntoIterator<Item = (String, String, bool)>,
) -> Vec<(String, String, bool)> {
    let mut shown: Vec<(String, String, bool)> = Vec::new();
    for entry in entries {
        match shown.iter_mut().find(|(t, _, _)| *t == entry.0) {
            None => shown.push(entry),
            Some(s) if entry.1 == PREFERRED_METRIC => *s = entry,
            Some(_) => {}
        }
    }
    shown
}

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

/// A cell's transfer figures.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaRow {
    pub key: GroupKey,
    /// Each variant of `DeltaVariant::ALL`, over the replicates that have a baseline.
    pub variants: Vec<Summary>,
    /// Tasks whose gain (on the metrics the transfer measures take), averaged over
    /// replicates, is negative
    /// (`None` without a baseline).
    pub negative_transfer: Option<usize>,
    /// Tasks compared.
    pub tasks: usize,
    /// Mean rank over the section's (task, metric) columns that the transfer measures take,
    /// among its algorithms (1 = best).
    pub mean_rank: f64,
    /// Two-sided p of a paired t test of LibMTL's Δp against 0 (method vs `single_task`,
    /// replicate by replicate).
    pub p_vs_single_task: f64,
    /// Two-sided p of a paired t test of the Δp difference to the same architecture with
    /// `equal` weighting (NaN for that cell itself and where there is none).
    pub p_vs_equal: f64,
    /// The paired differences those tests take, replicate by replicate: LibMTL's Δp against
    /// `single_task`, and Δp minus that of `equal` weighting of the same architecture (mean
    /// ± 95% CI over the pairs).
    pub vs_single_task: Summary,
    pub vs_equal: Summary,
    /// `p_vs_single_task` and `p_vs_equal` adjusted by Holm's step-down correction over
    /// every finite p of both kinds in the study (docs/FORMULAS.md#significance-over-many-comparisons).
    pub p_vs_single_task_holm: f64,
    pub p_vs_equal_holm: f64,
    /// Mean cost per run (ok runs): wall-clock seconds, optimizer steps, forward and
    /// backward passes (training only; telemetry's are counted apart), parameter and
    /// optimizer-state bytes.
    pub wall_time_s: f64,
    pub steps: f64,
    pub forward_passes: f64,
    pub backward_passes: f64,
    pub parameter_bytes: f64,
    pub optimizer_bytes: f64,
    /// Mean peak memory of a run's training (`RunRecord::peak_memory_bytes`) over the ok
    /// runs that measured it; NaN where none did.
    pub peak_memory_bytes: f64,
    /// Runs of this cell that did not finish with status `ok`.
    pub not_ok: usize,
    /// The worst task's gain, 100 · minₜ gainₜ, per replicate against the paired baseline,
    /// over the replicates that have one (docs/FORMULAS.md#worst-task-and-balance).
    pub worst_task: Summary,
    /// The spread of the per-task gains, 100 · the population standard deviation over tasks
    /// of gainₜ, per replicate, over the replicates (docs/FORMULAS.md#worst-task-and-balance).
    pub gain_spread: Summary,
    /// Of this cell's ok runs, how many are still improving at the end and how many were
    /// judged (docs/FORMULAS.md#still-improving-at-the-end).
    pub still_improving: usize,
    pub judged: usize,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StudySummary {
    pub metrics: Vec<MetricRow>,
    pub deltas: Vec<DeltaRow>,
}

impl StudySummary {
    /// The metric shown for each task of a (suite, fraction) section (`shown_metrics`).
    pub fn shown_in(&self, suite: &str, fraction: &str) -> Vec<(String, String, bool)> {
        shown_metrics(
            self.metrics
                .iter()
                .filter(|r| r.key.suite == suite && r.key.fraction == fraction)
                .map(|r| (r.task.clone(), r.metric.clone(), r.higher_is_better)),
        )
    }

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

/// Summarises the study's ordinary runs among `runs` (any order; pairwise-transfer runs
/// on task subsets are left to `pairwise`, adaptation runs to `adaptation`); rows come out sorted by suite, fraction,
/// baseline first, algorithm, then task order as stored.
/// The transfer measures pool the metrics `metrics` takes.
pub fn summarize_study(runs: &[RunRecord], metrics: &DeltaMetrics) -> StudySummary {
    let runs: Vec<&RunRecord> = runs.iter().filter(|r| r.is_ordinary()).collect();
    let mut cells: BTreeMap<GroupKey, Vec<&RunRecord>> = BTreeMap::new();
    for &run in &runs {
        cells.entry(group_key(run)).or_default().push(run);
    }
    // Every ok run's final test values, read once.
    let finals: BTreeMap<&str, FinalTest> = runs
        .iter()
        .filter(|r| r.is_ok())
        .map(|r| (r.id.as_str(), FinalTest::of(r, metrics)))
        .collect();
    // The (suite, task, metric) columns the mean ranks take.
    let ranked: std::collections::BTreeSet<(String, String, String)> = runs
        .iter()
        .filter(|r| r.is_ok())
        .flat_map(|r| {
            finals[r.id.as_str()]
                .values
                .keys()
                .map(|(t, m)| (r.suite.clone(), t.clone(), m.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    // The pairing key: runs compared replicate by replicate share it.
    fn pairing(r: &RunRecord) -> (&str, String, usize, &str) {
        (
            r.suite.as_str(),
            format_fraction(r.fraction),
            r.replicate,
            r.comparison_training(),
        )
    }
    // Baselines by (suite, fraction, replicate, training settings): the pairing key; and
    // their mean over replicates, the fixed reference of Auto-Lambda's variant.
    let mut baselines: BTreeMap<(&str, String, usize, &str), &FinalTest> = BTreeMap::new();
    let mut grouped: BTreeMap<(&str, String, &str), Vec<&FinalTest>> = BTreeMap::new();
    for r in runs
        .iter()
        .filter(|r| r.architecture == BASELINE_ARCHITECTURE && r.is_ok())
    {
        let final_test = &finals[r.id.as_str()];
        let key = pairing(r);
        grouped
            .entry((key.0, key.1.clone(), key.3))
            .or_default()
            .push(final_test);
        baselines.insert(key, final_test);
    }
    let references: BTreeMap<(&str, String, &str), FinalTest> = grouped
        .into_iter()
        .filter_map(|(k, v)| FinalTest::mean(&v).map(|m| (k, m)))
        .collect();

    // LibMTL's Δp of every ok run that has a baseline, for the paired tests.
    let paired_dp: BTreeMap<&str, f64> = runs
        .iter()
        .filter(|r| r.is_ok())
        .filter_map(|r| {
            let baseline = baselines.get(&pairing(r))?;
            let id = r.id.as_str();
            Some((id, delta(DeltaVariant::LibMtl, &finals[id], baseline)?))
        })
        .collect();
    // The `equal`-weighting run of the same architecture settings, per run.
    let architecture_of = |r: &RunRecord| -> String {
        serde_json::from_str::<Vec<serde_json::Value>>(&r.hparams)
            .ok()
            .and_then(|v| v.first().map(|a| a.to_string()))
            .unwrap_or_default()
    };
    let equal_runs: BTreeMap<(&str, String, usize, &str, String), &str> = runs
        .iter()
        .filter(|r| r.is_ok() && r.weighting == "equal")
        .map(|r| {
            (
                (
                    r.suite.as_str(),
                    format_fraction(r.fraction),
                    r.replicate,
                    r.comparison_training(),
                    architecture_of(r),
                ),
                r.id.as_str(),
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
        let mut variants: Vec<Vec<f64>> = vec![Vec::new(); DeltaVariant::ALL.len()];
        let mut gains: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let (mut worst, mut spread) = (Vec::new(), Vec::new());
        for run in &ok {
            let pair = pairing(run);
            let Some(&baseline) = baselines.get(&pair) else {
                continue;
            };
            let reference = &references[&(pair.0, pair.1.clone(), pair.3)];
            let method = &finals[run.id.as_str()];
            for (v, variant) in DeltaVariant::ALL.iter().enumerate() {
                let against = if *variant == DeltaVariant::AutoLambda {
                    reference
                } else {
                    baseline
                };
                if let Some(d) = delta(*variant, method, against) {
                    variants[v].push(d);
                }
            }
            let per_task = task_gains(method, baseline);
            let values: Vec<f64> = per_task.iter().map(|(_, g)| *g).collect();
            worst.extend(worst_task_gain(&values));
            spread.extend(gain_spread(&values));
            for (task, gain) in per_task {
                gains.entry(task).or_default().push(gain);
            }
        }
        let negative_transfer = (!gains.is_empty()).then(|| {
            gains
                .values()
                .filter(|g| g.iter().sum::<f64>() / (g.len() as f64) < 0.0)
                .count()
        });
        let own_dp: Vec<f64> = ok
            .iter()
            .filter_map(|r| paired_dp.get(r.id.as_str()).copied())
            .collect();
        let versus_equal: Vec<f64> = ok
            .iter()
            .filter(|r| r.weighting != "equal")
            .filter_map(|r| {
                let key = (
                    r.suite.as_str(),
                    format_fraction(r.fraction),
                    r.replicate,
                    r.comparison_training(),
                    architecture_of(r),
                );
                let equal = paired_dp.get(equal_runs.get(&key)?)?;
                Some(paired_dp.get(r.id.as_str())? - equal)
            })
            .collect();
        let mean_of = |f: &dyn Fn(&RunRecord) -> f64| -> f64 {
            if ok.is_empty() {
                f64::NAN
            } else {
                ok.iter().map(|r| f(r)).sum::<f64>() / ok.len() as f64
            }
        };
        let (still_improving, judged) =
            crate::convergence::count(&ok.iter().map(|r| **r).collect::<Vec<&RunRecord>>());
        out.deltas.push(DeltaRow {
            key: key.clone(),
            variants: variants.iter().map(|v| summarize(v)).collect(),
            negative_transfer,
            tasks: gains.len(),
            mean_rank: f64::NAN,
            p_vs_single_task: t_test_p(&own_dp),
            p_vs_equal: t_test_p(&versus_equal),
            vs_single_task: summarize(&own_dp),
            vs_equal: summarize(&versus_equal),
            p_vs_single_task_holm: f64::NAN,
            p_vs_equal_holm: f64::NAN,
            wall_time_s: mean_of(&|r| r.wall_time_s),
            steps: mean_of(&|r| r.steps as f64),
            forward_passes: mean_of(&|r| r.forward_passes as f64),
            backward_passes: mean_of(&|r| r.backward_passes as f64),
            parameter_bytes: mean_of(&|r| r.parameter_bytes as f64),
            optimizer_bytes: mean_of(&|r| r.optimizer_bytes as f64),
            peak_memory_bytes: {
                let peaks: Vec<f64> = ok
                    .iter()
                    .filter_map(|r| r.peak_memory_bytes.map(|b| b as f64))
                    .collect();
                if peaks.is_empty() {
                    f64::NAN
                } else {
                    peaks.iter().sum::<f64>() / peaks.len() as f64
                }
            },
            not_ok: cell.len() - ok.len(),
            worst_task: summarize(&worst),
            gain_spread: summarize(&spread),
            still_improving,
            judged,
        });
    }
    fill_mean_ranks(&mut out, &ranked);
    fill_holm(&mut out);
    out
}

/// Every cell's paired p values against `single_task` and against `equal`, adjusted by
/// Holm's correction over the study's family of them (NaN ones left out).
fn fill_holm(summary: &mut StudySummary) {
    let raw: Vec<f64> = summary
        .deltas
        .iter()
        .flat_map(|d| [d.p_vs_single_task, d.p_vs_equal])
        .collect();
    let adjusted = crate::significance::holm(&raw);
    for (row, pair) in summary.deltas.iter_mut().zip(adjusted.chunks(2)) {
        row.p_vs_single_task_holm = pair[0];
        row.p_vs_equal_holm = pair[1];
    }
}

/// Mean rank of every cell among the algorithms of its section, over the section's
/// (task, metric) columns of mean final values that the transfer measures take (`ranked`:
/// suite, task, metric).
fn fill_mean_ranks(
    summary: &mut StudySummary,
    ranked: &std::collections::BTreeSet<(String, String, String)>,
) {
    for (suite, fraction) in summary.sections() {
        let in_section = |k: &GroupKey| k.suite == suite && k.fraction == fraction;
        let cells: Vec<GroupKey> = summary
            .deltas
            .iter()
            .filter(|d| in_section(&d.key))
            .map(|d| d.key.clone())
            .collect();
        let mut columns: Vec<(String, String, bool)> = Vec::new();
        for r in summary.metrics.iter().filter(|r| {
            in_section(&r.key)
                && ranked.contains(&(suite.clone(), r.task.clone(), r.metric.clone()))
        }) {
            if !columns
                .iter()
                .any(|(t, m, _)| *t == r.task && *m == r.metric)
            {
                columns.push((r.task.clone(), r.metric.clone(), r.higher_is_better));
            }
        }
        let values: Vec<Vec<f64>> = columns
            .iter()
            .map(|(task, metric, _)| {
                cells
                    .iter()
                    .map(|cell| {
                        summary
                            .metrics
                            .iter()
                            .find(|r| r.key == *cell && r.task == *task && r.metric == *metric)
                            .map_or(f64::NAN, |r| r.stats.mean)
                    })
                    .collect()
            })
            .collect();
        let higher: Vec<bool> = columns.iter().map(|c| c.2).collect();
        let ranks = mean_ranks(&values, &higher);
        for (cell, rank) in cells.iter().zip(ranks) {
            if let Some(row) = summary.deltas.iter_mut().find(|d| d.key == *cell) {
                row.mean_rank = rank;
            }
        }
    }
}

/// A row of `algorithm` (suite `toy`, fraction 1) with no measurement, for tests.
#[cfg(test)]
pub(crate) fn empty_row(algorithm: &str) -> DeltaRow {
    let none = summarize(&[]);
    DeltaRow {
        key: GroupKey {
            suite: "toy".into(),
            fraction: "1".into(),
            order: 1,
            algorithm: algorithm.into(),
        },
        variants: vec![none; DeltaVariant::ALL.len()],
        negative_transfer: None,
        tasks: 0,
        mean_rank: f64::NAN,
        p_vs_single_task: f64::NAN,
        p_vs_equal: f64::NAN,
        vs_single_task: none,
        vs_equal: none,
        p_vs_single_task_holm: f64::NAN,
        p_vs_equal_holm: f64::NAN,
        wall_time_s: f64::NAN,
        steps: f64::NAN,
        forward_passes: f64::NAN,
        backward_passes: f64::NAN,
        parameter_bytes: f64::NAN,
        optimizer_bytes: f64::NAN,
        peak_memory_bytes: f64::NAN,
        not_ok: 0,
        worst_task: none,
        gain_spread: none,
        still_improving: 0,
        judged: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(arch: &str, replicate: usize, values: &[(&str, &str, bool, f64)]) -> RunRecord {
        crate::record::test_run(arch, replicate, values)
    }

    #[test]
    fn summary_pairs_by_replicate_and_puts_baseline_first() {
        let runs = vec![
            run("hard_sharing", 0, &[("a", "mse", false, 0.5)]),
            run("hard_sharing", 1, &[("a", "mse", false, 1.5)]),
            run("single_task", 0, &[("a", "mse", false, 1.0)]),
            run("single_task", 1, &[("a", "mse", false, 1.0)]),
        ];
        let s = summarize_study(&runs, &DeltaMetrics::default());
        assert_eq!(s.deltas[0].key.algorithm, "single_task+equal");
        let libmtl = |row: &DeltaRow| row.variants[0];
        assert_eq!(libmtl(&s.deltas[0]).mean, 0.0);
        // Δp per replicate: +50 and −50 (paired), so mean 0 and std 50·√2.
        assert_eq!(libmtl(&s.deltas[1]).n, 2);
        assert!((libmtl(&s.deltas[1]).mean - 0.0).abs() < 1e-12);
        assert!((libmtl(&s.deltas[1]).std - 70.71067811865476).abs() < 1e-9);
        // Auto-Lambda's fixed reference is the baseline mean (1.0): the same numbers here.
        assert!((s.deltas[1].variants[3].mean - 0.0).abs() < 1e-12);
        // Mean gain 0 is not negative; both cells share mean rank 1 (equal means).
        assert_eq!(s.deltas[1].negative_transfer, Some(0));
        assert_eq!((s.deltas[0].mean_rank, s.deltas[1].mean_rank), (1.0, 1.0));
        assert_eq!(s.metrics[1].stats.mean, 1.0);
    }

    /// The worst task and the spread of the gains, per replicate against the paired
    /// baseline, then over replicates (Student t CI). By hand: replicate 0 gains a +30 %,
    /// b −20 % (negative transfer; worst −20, spread 25); replicate 1 gains a +10 %,
    /// b −10 %, c 0 (opposite gains; worst −10, spread √(200/3)). Over the two: worst mean
    /// −15, std 5√2; the CI is t₀.₉₇₅(1)·std/√2.
    #[test]
    fn worst_task_and_spread_by_replicate() {
        let base = |replicate, c: Option<f64>| {
            let mut v = vec![("a", "mse", false, 1.0), ("b", "accuracy", true, 0.5)];
            if let Some(c) = c {
                v.push(("c", "mse", false, c));
            }
            run("single_task", replicate, &v)
        };
        let runs = vec![
            base(0, None),
            base(1, Some(2.0)),
            // a: MSE 1 → 0.7 (+30 %); b: accuracy 0.5 → 0.4 (−20 %).
            run(
                "hard_sharing",
                0,
                &[("a", "mse", false, 0.7), ("b", "accuracy", true, 0.4)],
            ),
            // a: 1 → 0.9 (+10 %); b: 0.5 → 0.45 (−10 %); c: 2 → 2 (0).
            run(
                "hard_sharing",
                1,
                &[
                    ("a", "mse", false, 0.9),
                    ("b", "accuracy", true, 0.45),
                    ("c", "mse", false, 2.0),
                ],
            ),
        ];
        let s = summarize_study(&runs, &DeltaMetrics::default());
        let row = &s.deltas[1];
        assert_eq!(row.key.algorithm, "hard_sharing+equal");
        let close = |x: f64, y: f64| (x - y).abs() < 1e-9;
        assert_eq!(row.worst_task.n, 2);
        assert!(close(row.worst_task.mean, -15.0), "{:?}", row.worst_task);
        assert!(close(row.worst_task.std, 5.0 * 2f64.sqrt()));
        let t = crate::stats::t_quantile_975(1);
        assert!(close(row.worst_task.ci95, t * 5.0));
        let spread1 = (200.0f64 / 3.0).sqrt();
        assert!(close(row.gain_spread.mean, (25.0 + spread1) / 2.0));
        assert!(close(row.gain_spread.std, (25.0 - spread1) / 2f64.sqrt()));
        // The baseline against itself: every gain 0.
        assert_eq!(
            (s.deltas[0].worst_task.mean, s.deltas[0].gain_spread.mean),
            (0.0, 0.0)
        );
    }

    /// A seeded stream of studies (2–5 tasks, 2–4 replicates, mixed directions): per
    /// replicate the worst task's gain is at most the mean Δ (Vandenhende's Δ_MTL, paired),
    /// so the means over replicates are too; and listing the tasks in another order in every
    /// record changes neither figure.
    #[test]
    fn worst_is_at_most_the_mean_and_task_order_changes_nothing() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let names = ["t0", "t1", "t2", "t3", "t4"];
        for _ in 0..50 {
            let tasks = 2 + (next() * 4.0) as usize;
            let replicates = 2 + (next() * 3.0) as usize;
            let hib: Vec<bool> = (0..tasks).map(|_| next() < 0.5).collect();
            let mut runs = Vec::new();
            for r in 0..replicates {
                for arch in ["single_task", "hard_sharing"] {
                    let values: Vec<(&str, &str, bool, f64)> = (0..tasks)
                        .map(|t| (names[t], "m", hib[t], 0.2 + next()))
                        .collect();
                    runs.push(run(arch, r, &values));
                }
            }
            let s = summarize_study(&runs, &DeltaMetrics::default());
            let row = &s.deltas[1];
            // Per replicate, from the records alone.
            for r in 0..replicates {
                let (b, m) = (&runs[2 * r], &runs[2 * r + 1]);
                let (fm, fb) = (
                    FinalTest::of(m, &DeltaMetrics::default()),
                    FinalTest::of(b, &DeltaMetrics::default()),
                );
                let gains: Vec<f64> = task_gains(&fm, &fb).into_iter().map(|g| g.1).collect();
                let mean = delta(DeltaVariant::Vandenhende, &fm, &fb).unwrap();
                assert!(worst_task_gain(&gains).unwrap() <= mean, "{gains:?}");
            }
            assert!(row.worst_task.mean <= row.variants[2].mean);
            assert!(row.gain_spread.mean >= 0.0);
            // The same records with their tasks listed last to first.
            let reversed: Vec<RunRecord> = runs
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    r.points.reverse();
                    r
                })
                .collect();
            let again = summarize_study(&reversed, &DeltaMetrics::default());
            let bits = |x: &Summary| [x.mean, x.std, x.ci95].map(f64::to_bits);
            assert_eq!(bits(&again.deltas[1].worst_task), bits(&row.worst_task));
            assert_eq!(bits(&again.deltas[1].gain_spread), bits(&row.gain_spread));
        }
    }
}
