//! Transfer measures against the single-task baseline (docs/FORMULAS.md#transfer-measures): the
//! four Δm variants in use, each under its own name, per-task gains with the negative-transfer
//! count, and the mean rank over metrics.

use crate::record::RunRecord;
use std::collections::BTreeMap;

/// The Δm variants. All compare with `single_task` on the same suite, fraction and
/// training settings, over the metrics `DeltaMetrics` takes (by default one primary metric
/// per task, so that no loss enters and no task counts twice); they differ in how those
/// metrics are pooled, in direction, and in the reference run. With one metric per task,
/// Δp and Δ_MTL are equal and Δm is −Δp; they part when `delta_metrics` names several
/// metrics per task (Δm then weighs tasks by their number of metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaVariant {
    /// LibMTL's Δp (higher is better): per task the mean over its metrics of
    /// ±(N − B)/B, then the mean over tasks; paired with the same replicate's baseline.
    LibMtl,
    /// Nash-MTL / FAMO / CAGrad's Δm% (lower is better): a flat mean over all metrics of
    /// (−1)^δ (M − B)/B, δ = 1 when higher is better; paired.
    NashMtl,
    /// Vandenhende et al.'s Δ_MTL (higher is better): ±(M − STL)/STL of each task's
    /// primary metric (the mean over its metrics when several are taken), averaged over
    /// tasks; paired.
    Vandenhende,
    /// Auto-Lambda's Δ (higher is better): as Vandenhende, but against a fixed single-task
    /// reference — the baseline's mean over replicates, as Auto-Lambda's hard-coded STL
    /// numbers are — rather than the same replicate's run.
    AutoLambda,
}

impl DeltaVariant {
    pub const ALL: [DeltaVariant; 4] = [
        DeltaVariant::LibMtl,
        DeltaVariant::NashMtl,
        DeltaVariant::Vandenhende,
        DeltaVariant::AutoLambda,
    ];

    /// The name every table uses for this variant.
    pub fn label(self) -> &'static str {
        match self {
            DeltaVariant::LibMtl => "Δp LibMTL (%)",
            DeltaVariant::NashMtl => "Δm Nash-MTL (%)",
            DeltaVariant::Vandenhende => "Δ_MTL Vandenhende (%)",
            DeltaVariant::AutoLambda => "Δ Auto-Lambda (%)",
        }
    }

    pub fn higher_is_better(self) -> bool {
        !matches!(self, DeltaVariant::NashMtl)
    }
}

/// Which metrics the transfer measures (the Δ variants, per-task gains, negative-transfer
/// counts and mean ranks) pool: by default each task's primary metrics as its suite
/// declares them (accuracy, AUC, one MSE; never a loss); the study's `delta_metrics` names
/// others instead (for instance `[accuracy, cross_entropy]`, to reproduce a paper that
/// pools both), each task taking those of the named metrics it has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeltaMetrics(pub Option<Vec<String>>);

impl DeltaMetrics {
    /// The (task, metric) keys of `run` this choice takes.
    pub fn keys(&self, run: &RunRecord) -> Vec<(String, String)> {
        match &self.0 {
            None => run.primary_metric_keys(),
            Some(names) => {
                let mut keys: Vec<(String, String)> = Vec::new();
                for p in &run.points {
                    let key = (p.task.clone(), p.metric.clone());
                    if names.contains(&p.metric) && !keys.contains(&key) {
                        keys.push(key);
                    }
                }
                keys
            }
        }
    }

    /// The choice in words, for captions.
    pub fn describe(&self) -> String {
        match &self.0 {
            None => "each task's primary metric as its suite declares it (never a loss)".into(),
            Some(names) => format!(
                "the metrics named by delta_metrics ({}), averaged per task",
                names.join(", ")
            ),
        }
    }
}

/// Final test values of a run on the metrics the transfer measures take: (task, metric) →
/// (value, higher is better), and the tasks in stored order.
pub struct FinalTest {
    pub values: BTreeMap<(String, String), (f64, bool)>,
    pub tasks: Vec<String>,
}

impl FinalTest {
    pub fn of(run: &RunRecord, metrics: &DeltaMetrics) -> Self {
        let keys = metrics.keys(run);
        let mut values = BTreeMap::new();
        let mut tasks: Vec<String> = Vec::new();
        for p in run.final_test() {
            let key = (p.task.clone(), p.metric.clone());
            if !keys.contains(&key) {
                continue;
            }
            if !tasks.contains(&p.task) {
                tasks.push(p.task.clone());
            }
            values.insert(key, (p.value, p.higher_is_better));
        }
        FinalTest { values, tasks }
    }

    /// Mean of several runs' final values, key by key (a fixed reference).
    pub fn mean(runs: &[&FinalTest]) -> Option<Self> {
        let first = runs.first()?;
        let values = first
            .values
            .iter()
            .map(|(k, (_, hib))| {
                let v: Vec<f64> = runs
                    .iter()
                    .filter_map(|r| r.values.get(k).map(|x| x.0))
                    .collect();
                (k.clone(), (v.iter().sum::<f64>() / v.len() as f64, *hib))
            })
            .collect();
        Some(FinalTest {
            values,
            tasks: first.tasks.clone(),
        })
    }
}

/// ±(M − B)/B, positive when the method is better.
fn relative_gain(method: f64, baseline: f64, higher_is_better: bool) -> f64 {
    let sign = if higher_is_better { 1.0 } else { -1.0 };
    sign * (method - baseline) / baseline
}

/// Each task's gain, ±(M − B)/B averaged over the task's metrics that both runs have
/// (positive: the method is better), in the method's task order.
pub fn task_gains(method: &FinalTest, baseline: &FinalTest) -> Vec<(String, f64)> {
    method
        .tasks
        .iter()
        .filter_map(|task| {
            let gains: Vec<f64> = method
                .values
                .iter()
                .filter(|((t, _), _)| t == task)
                .filter_map(|(key, (m, hib))| {
                    let (b, _) = baseline.values.get(key)?;
                    Some(relative_gain(*m, *b, *hib))
                })
                .collect();
            (!gains.is_empty())
                .then(|| (task.clone(), gains.iter().sum::<f64>() / gains.len() as f64))
        })
        .collect()
}

/// One Δm variant of `method` against `baseline` (the paired run, or for `AutoLambda` the
/// fixed reference), in percent; `None` without common metrics.
pub fn delta(variant: DeltaVariant, method: &FinalTest, baseline: &FinalTest) -> Option<f64> {
    let common: Vec<(&(String, String), f64, f64, bool)> = method
        .values
        .iter()
        .filter_map(|(k, (m, hib))| baseline.values.get(k).map(|(b, _)| (k, *m, *b, *hib)))
        .collect();
    if common.is_empty() {
        return None;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let value = match variant {
        DeltaVariant::NashMtl => {
            // (−1)^δ (M − B)/B with δ = 1 for higher-is-better: the negated gain.
            let terms: Vec<f64> = common
                .iter()
                .map(|(_, m, b, hib)| -relative_gain(*m, *b, *hib))
                .collect();
            mean(&terms)
        }
        DeltaVariant::LibMtl | DeltaVariant::Vandenhende | DeltaVariant::AutoLambda => {
            let gains: Vec<f64> = task_gains(method, baseline)
                .into_iter()
                .map(|(_, g)| g)
                .collect();
            if gains.is_empty() {
                return None;
            }
            mean(&gains)
        }
    };
    Some(100.0 * value)
}

/// Mean rank of each method over metrics: for every (task, metric) column, rank the
/// methods' values (1 = best; ties share the better rank), then average over columns.
/// `columns[c][m]` is method m's value on column c (NaN: absent), `higher[c]` the direction.
pub fn mean_ranks(columns: &[Vec<f64>], higher: &[bool]) -> Vec<f64> {
    let methods = columns.first().map_or(0, Vec::len);
    let mut sums = vec![0.0; methods];
    let mut counts = vec![0usize; methods];
    for (values, hib) in columns.iter().zip(higher) {
        for m in 0..methods {
            if !values[m].is_finite() {
                continue;
            }
            let better = values
                .iter()
                .filter(|v| {
                    v.is_finite()
                        && if *hib {
                            **v > values[m]
                        } else {
                            **v < values[m]
                        }
                })
                .count();
            sums[m] += (better + 1) as f64;
            counts[m] += 1;
        }
    }
    sums.iter()
        .zip(&counts)
        .map(|(s, c)| if *c > 0 { s / *c as f64 } else { f64::NAN })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run's final values of the metrics the transfer measures take.
    fn final_test(values: &[(&str, &str, bool, f64)]) -> FinalTest {
        let mut tasks: Vec<String> = Vec::new();
        let mut map = BTreeMap::new();
        for (task, metric, hib, value) in values {
            if !tasks.iter().any(|t| t == task) {
                tasks.push(task.to_string());
            }
            map.insert((task.to_string(), metric.to_string()), (*value, *hib));
        }
        FinalTest { values: map, tasks }
    }

    /// One example on which the variants disagree, by hand, over two metrics of task a:
    /// accuracy ↑ 0.8 → 0.88 (+10 %) and MSE ↓ 2 → 1 (+50 %); task b has MSE ↓ 1 → 1.2
    /// (−20 %). LibMTL and Vandenhende: ((10 + 50)/2 − 20)/2 = +5. Nash-MTL:
    /// −(10 + 50 − 20)/3 = −13.33 (lower is better, so this is an improvement). Auto-Lambda
    /// against a fixed reference whose task-b MSE is 0.8: ((10 + 50)/2 − 50)/2 = −10.
    #[test]
    fn four_variants_by_hand_with_direction_flips() {
        let base = final_test(&[
            ("a", "acc", true, 0.8),
            ("a", "mse", false, 2.0),
            ("b", "mse", false, 1.0),
        ]);
        let mtl = final_test(&[
            ("a", "acc", true, 0.88),
            ("a", "mse", false, 1.0),
            ("b", "mse", false, 1.2),
        ]);
        let close = |x: Option<f64>, y: f64| (x.unwrap() - y).abs() < 1e-9;
        assert!(close(delta(DeltaVariant::LibMtl, &mtl, &base), 5.0));
        assert!(close(
            delta(DeltaVariant::NashMtl, &mtl, &base),
            -40.0 / 3.0
        ));
        assert!(close(delta(DeltaVariant::Vandenhende, &mtl, &base), 5.0));
        let reference = final_test(&[
            ("a", "acc", true, 0.8),
            ("a", "mse", false, 2.0),
            ("b", "mse", false, 0.8),
        ]);
        assert!(close(
            delta(DeltaVariant::AutoLambda, &mtl, &reference),
            -10.0
        ));
        let gains = task_gains(&mtl, &base);
        assert_eq!(
            gains,
            vec![("a".into(), 0.3), ("b".into(), -0.19999999999999996)]
        );
        // The reference of several runs is their mean.
        let mean = FinalTest::mean(&[&base, &reference]).unwrap();
        assert!((mean.values[&("b".to_string(), "mse".to_string())].0 - 0.9).abs() < 1e-12);
    }

    /// A run with a loss beside its accuracy: by default the transfer measures take only
    /// the declared primary metrics (here accuracy and one MSE), so the cross-entropy's
    /// −50 % and the second MSE do not enter; `delta_metrics` brings named ones back.
    #[test]
    fn delta_metrics_default_to_the_declared_primary_ones() {
        use crate::record::{test_run, TaskMetric};
        let declare = |mut run: RunRecord| {
            run.primary_metrics = vec![
                TaskMetric {
                    task: "a".into(),
                    metric: "accuracy".into(),
                },
                TaskMetric {
                    task: "b".into(),
                    metric: "normalized_mse".into(),
                },
            ];
            run
        };
        let base = declare(test_run(
            "single_task",
            0,
            &[
                ("a", "accuracy", true, 0.80),
                ("a", "cross_entropy", false, 0.4),
                ("b", "mse", false, 4.0),
                ("b", "normalized_mse", false, 1.0),
            ],
        ));
        let mtl = declare(test_run(
            "hard_sharing",
            0,
            &[
                ("a", "accuracy", true, 0.82),
                ("a", "cross_entropy", false, 0.6),
                ("b", "mse", false, 3.6),
                ("b", "normalized_mse", false, 0.9),
            ],
        ));
        let primary = DeltaMetrics::default();
        let (m, b) = (
            FinalTest::of(&mtl, &primary),
            FinalTest::of(&base, &primary),
        );
        assert_eq!(m.values.len(), 2);
        // (+2.5 % + 10 %)/2 = 6.25 %.
        let dp = delta(DeltaVariant::LibMtl, &m, &b).unwrap();
        assert!((dp - 6.25).abs() < 1e-9, "{dp}");
        assert!((delta(DeltaVariant::NashMtl, &m, &b).unwrap() + 6.25).abs() < 1e-9);
        // Named: accuracy and cross-entropy for a ((2.5 − 50)/2), nothing for b.
        let named = DeltaMetrics(Some(vec!["accuracy".into(), "cross_entropy".into()]));
        let (m, b) = (FinalTest::of(&mtl, &named), FinalTest::of(&base, &named));
        assert_eq!(m.tasks, vec!["a".to_string()]);
        let dp = delta(DeltaVariant::LibMtl, &m, &b).unwrap();
        assert!((dp - (2.5 - 50.0) / 2.0).abs() < 1e-9, "{dp}");
        // A record without the declaration takes each task's first stored metric.
        let old = test_run(
            "x",
            0,
            &[
                ("a", "accuracy", true, 0.8),
                ("a", "cross_entropy", false, 0.4),
            ],
        );
        assert_eq!(
            old.primary_metric_keys(),
            vec![("a".to_string(), "accuracy".to_string())]
        );
    }

    #[test]
    fn mean_ranks_by_hand() {
        // Column 1 (higher better): method 0 best; column 2 (lower better): method 2 best,
        // methods 0 and 1 tie.
        let columns = vec![vec![0.9, 0.5, 0.7], vec![2.0, 2.0, 1.0]];
        let ranks = mean_ranks(&columns, &[true, false]);
        assert_eq!(
            ranks,
            vec![(1.0 + 2.0) / 2.0, (3.0 + 2.0) / 2.0, (2.0 + 1.0) / 2.0]
        );
    }
}
