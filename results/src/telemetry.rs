//! Telemetry summaries: each logged measure averaged over steps and replicates per study
//! cell (with how often it was negative: the conflict frequency of a cosine), task-pair
//! matrices in suite order, and trajectories over training steps averaged over replicates
//! (conflict heatmaps, gradient-magnitude and task-weight curves).

use crate::record::RunRecord;
use crate::summary::{group_key, GroupKey};
use std::collections::{BTreeMap, BTreeSet};

/// One measure of one cell (suite, fraction, algorithm), for one task pair (ordered for
/// affinity) or none, on one shared layer or all.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureCell {
    pub key: GroupKey,
    pub measure: String,
    pub task_a: Option<String>,
    pub task_b: Option<String>,
    pub layer: Option<usize>,
    /// Mean over every logged step of every replicate (finite values only).
    pub mean: f64,
    /// Share of those values below zero (for `cosine`: the pair's conflict frequency).
    pub negative_share: f64,
    pub values: usize,
    pub replicates: usize,
}

type CellKey = (
    GroupKey,
    String,
    Option<String>,
    Option<String>,
    Option<usize>,
);

/// Every measure of every ok run of the study's ordinary runs, averaged per cell.
pub fn summarize_telemetry(runs: &[&RunRecord]) -> Vec<MeasureCell> {
    let mut acc: BTreeMap<CellKey, (f64, usize, usize, BTreeSet<usize>)> = BTreeMap::new();
    for run in runs.iter().filter(|r| r.is_ok()) {
        let key = group_key(run);
        for t in &run.telemetry {
            let Some(v) = t.value.filter(|v| v.is_finite()) else {
                continue;
            };
            let entry = acc
                .entry((
                    key.clone(),
                    t.measure.clone(),
                    t.task_a.clone(),
                    t.task_b.clone(),
                    t.layer,
                ))
                .or_default();
            entry.0 += v;
            entry.1 += 1;
            entry.2 += usize::from(v < 0.0);
            entry.3.insert(run.replicate);
        }
    }
    acc.into_iter()
        .map(
            |((key, measure, task_a, task_b, layer), (sum, n, negative, reps))| MeasureCell {
                key,
                measure,
                task_a,
                task_b,
                layer,
                mean: sum / n as f64,
                negative_share: negative as f64 / n as f64,
                values: n,
                replicates: reps.len(),
            },
        )
        .collect()
}

/// The tasks of a cell's runs in suite order (the order their points were stored).
pub fn task_order(runs: &[&RunRecord], key: &GroupKey) -> Vec<String> {
    let mut tasks: Vec<String> = Vec::new();
    for run in runs.iter().filter(|r| group_key(r) == *key) {
        for p in &run.points {
            if !tasks.contains(&p.task) {
                tasks.push(p.task.clone());
            }
        }
    }
    tasks
}

/// The T×T matrix of `value` of a pair measure of one cell: entry (a, b) from the pair
/// (a, b), or (b, a) when `symmetric` and only that was logged; NaN where nothing was
/// logged (the diagonal of a symmetric measure).
pub fn pair_matrix(
    cells: &[MeasureCell],
    key: &GroupKey,
    measure: &str,
    tasks: &[String],
    symmetric: bool,
    value: impl Fn(&MeasureCell) -> f64,
) -> Vec<Vec<f64>> {
    let find = |a: &str, b: &str| {
        cells.iter().find(|c| {
            c.key == *key
                && c.measure == measure
                && c.layer.is_none()
                && c.task_a.as_deref() == Some(a)
                && c.task_b.as_deref() == Some(b)
        })
    };
    tasks
        .iter()
        .map(|a| {
            tasks
                .iter()
                .map(|b| {
                    let cell = find(a, b).or_else(|| symmetric.then(|| find(b, a)).flatten());
                    cell.map_or(f64::NAN, &value)
                })
                .collect()
        })
        .collect()
}

/// A series over training steps: its label (a task pair "a–b", or a task) and the mean
/// over replicates at each logged step, with the half-width of its 95% CI (NaN with one
/// replicate).
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    pub key: GroupKey,
    pub label: String,
    pub points: Vec<(usize, f64)>,
    /// The 95% CI half-width at each of `points` (Student t over the replicates).
    pub ci95: Vec<f64>,
}

/// Mean-over-replicates trajectories of `(step, series label, value)` triples drawn from
/// each ok run by `extract`.
fn trajectories<F>(runs: &[&RunRecord], extract: F) -> Vec<Trajectory>
where
    F: Fn(&RunRecord) -> Vec<(usize, String, f64)>,
{
    let mut acc: BTreeMap<(GroupKey, String), BTreeMap<usize, Vec<f64>>> = BTreeMap::new();
    let mut order: Vec<(GroupKey, String)> = Vec::new();
    for run in runs.iter().filter(|r| r.is_ok()) {
        let key = group_key(run);
        for (step, label, value) in extract(run) {
            let series = (key.clone(), label);
            if !acc.contains_key(&series) {
                order.push(series.clone());
            }
            acc.entry(series)
                .or_default()
                .entry(step)
                .or_default()
                .push(value);
        }
    }
    order
        .into_iter()
        .map(|series| {
            let steps = &acc[&series];
            // The mean as a running sum over the replicates in order, divided by n.
            let points = steps
                .iter()
                .map(|(step, v)| (*step, v.iter().fold(0.0, |a, x| a + x) / v.len() as f64))
                .collect();
            let ci95 = steps
                .values()
                .map(|v| crate::stats::summarize(v).ci95)
                .collect();
            Trajectory {
                key: series.0,
                label: series.1,
                points,
                ci95,
            }
        })
        .collect()
}

/// The pairwise `measure` (e.g. `cosine`) over training steps, one series per task pair.
pub fn pair_trajectories(runs: &[&RunRecord], measure: &str) -> Vec<Trajectory> {
    trajectories(runs, |run| {
        run.telemetry
            .iter()
            .filter(|t| t.measure == measure && t.layer.is_none())
            .filter_map(|t| {
                let label = format!("{}–{}", t.task_a.as_ref()?, t.task_b.as_ref()?);
                Some((t.step, label, t.value.filter(|v| v.is_finite())?))
            })
            .collect()
    })
}

/// A per-task `measure` (e.g. `grad_norm`, logged as the pair (task, task)) over training
/// steps, one series per task.
pub fn task_trajectories(runs: &[&RunRecord], measure: &str) -> Vec<Trajectory> {
    trajectories(runs, |run| {
        run.telemetry
            .iter()
            .filter(|t| t.measure == measure && t.layer.is_none())
            .filter_map(|t| {
                Some((
                    t.step,
                    t.task_a.clone()?,
                    t.value.filter(|v| v.is_finite())?,
                ))
            })
            .collect()
    })
}

/// A measure of no task (e.g. `grad_norm_ratio`) over training steps, one series labelled
/// by the measure; steps where it is not finite are left out.
pub fn measure_trajectories(runs: &[&RunRecord], measure: &str) -> Vec<Trajectory> {
    trajectories(runs, |run| {
        run.telemetry
            .iter()
            .filter(|t| t.measure == measure && t.layer.is_none() && t.task_a.is_none())
            .filter_map(|t| {
                Some((
                    t.step,
                    measure.to_string(),
                    t.value.filter(|v| v.is_finite())?,
                ))
            })
            .collect()
    })
}

/// The task weights over training steps, one series per task.
pub fn weight_trajectories(runs: &[&RunRecord]) -> Vec<Trajectory> {
    trajectories(runs, |run| {
        run.weights
            .iter()
            .map(|w| (w.step, w.task.clone(), w.value))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{TelemetryRow, WeightRow};

    fn run(replicate: usize, cosines: &[(usize, f64)]) -> RunRecord {
        let mut r = crate::record::test_run(
            "hard_sharing",
            replicate,
            &[("b", "mse", false, 1.0), ("a", "mse", false, 1.0)],
        );
        r.telemetry = cosines
            .iter()
            .map(|(step, v)| TelemetryRow {
                step: *step,
                epoch: 1,
                measure: "cosine".into(),
                task_a: Some("b".into()),
                task_b: Some("a".into()),
                layer: None,
                value: Some(*v),
            })
            .collect();
        r.weights = vec![WeightRow {
            step: 0,
            epoch: 1,
            task: "a".into(),
            value: replicate as f64,
        }];
        r
    }

    #[test]
    fn cells_matrices_and_trajectories_by_hand() {
        let runs = [
            run(0, &[(0, 0.5), (5, -0.5)]),
            run(1, &[(0, 0.1), (5, -0.1)]),
        ];
        let refs: Vec<&RunRecord> = runs.iter().collect();
        let cells = summarize_telemetry(&refs);
        assert_eq!(cells.len(), 1);
        // Four values, mean 0, two of them negative, two replicates.
        assert_eq!(cells[0].values, 4);
        assert!(cells[0].mean.abs() < 1e-12);
        assert_eq!((cells[0].negative_share, cells[0].replicates), (0.5, 2));
        let key = &cells[0].key;
        let tasks = task_order(&refs, key);
        assert_eq!(tasks, vec!["b", "a"]);
        let m = pair_matrix(&cells, key, "cosine", &tasks, true, |c| c.mean);
        assert!(m[0][0].is_nan());
        assert!(m[1][0].abs() < 1e-12 && m[0][1].abs() < 1e-12);
        let directed = pair_matrix(&cells, key, "cosine", &tasks, false, |c| c.negative_share);
        assert!(directed[1][0].is_nan());
        assert_eq!(directed[0][1], 0.5);
        let t = pair_trajectories(&refs, "cosine");
        assert_eq!(t[0].label, "b–a");
        assert_eq!(t[0].points, vec![(0, 0.3), (5, -0.3)]);
        let w = weight_trajectories(&refs);
        assert_eq!(w[0].points, vec![(0, 0.5)]);
    }
}
