//! Transfer measures against the single-task baseline (FORMULAS.md b.1): the four Δm
//! variants in use, each under its own name, per-task gains with the negative-transfer
//! count, and the mean rank over metrics.

use crate::record::RunRecord;
use std::collections::BTreeMap;

/// The Δm variants. All compare with `single_task` on the same suite, fraction and
/// training settings; they differ in how metrics are pooled, in direction, and in the
/// reference run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaVariant {
    /// LibMTL's Δp (higher is better): per task the mean over its metrics of
    /// ±(N − B)/B, then the mean over tasks; paired with the same replicate's baseline.
    LibMtl,
    /// Nash-MTL / FAMO / CAGrad's Δm% (lower is better): a flat mean over all metrics of
    /// (−1)^δ (M − B)/B, δ = 1 when higher is better; paired.
    NashMtl,
    /// Vandenhende et al.'s Δ_MTL (higher is better): one primary metric per task (its
    /// first), ±(M − STL)/STL averaged over tasks; paired.
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

/// Final test values of a run: (task, metric) → (value, higher is better), and each
/// task's primary (first stored) metric.
pub struct FinalTest {
    pub values: BTreeMap<(String, String), (f64, bool)>,
    pub primary: Vec<(String, String)>,
}

impl FinalTest {
    pub fn of(run: &RunRecord) -> Self {
        let mut values = BTreeMap::new();
        let mut primary: Vec<(String, String)> = Vec::new();
        for p in run.final_test() {
            if !primary.iter().any(|(t, _)| *t == p.task) {
                primary.push((p.task.clone(), p.metric.clone()));
            }
            values.insert(
                (p.task.clone(), p.metric.clone()),
                (p.value, p.higher_is_better),
            );
        }
        FinalTest { values, primary }
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
            primary: first.primary.clone(),
        })
    }
}

/// ±(M − B)/B, positive when the method is better.
fn relative_gain(method: f64, baseline: f64, higher_is_better: bool) -> f64 {
    let sign = if higher_is_better { 1.0 } else { -1.0 };
    sign * (method - baseline) / baseline
}

/// Each task's gain on its primary metric, ±(M − B)/B (positive: the method is better).
pub fn task_gains(method: &FinalTest, baseline: &FinalTest) -> Vec<(String, f64)> {
    method
        .primary
        .iter()
        .filter_map(|key| {
            let (m, hib) = method.values.get(key)?;
            let (b, _) = baseline.values.get(key)?;
            Some((key.0.clone(), relative_gain(*m, *b, *hib)))
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
        DeltaVariant::LibMtl => {
            let mut per_task: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
            for (k, m, b, hib) in &common {
                per_task
                    .entry(k.0.as_str())
                    .or_default()
                    .push(relative_gain(*m, *b, *hib));
            }
            let task_means: Vec<f64> = per_task.values().map(|v| mean(v)).collect();
            mean(&task_means)
        }
        DeltaVariant::NashMtl => {
            // (−1)^δ (M − B)/B with δ = 1 for higher-is-better: the negated gain.
            let terms: Vec<f64> = common
                .iter()
                .map(|(_, m, b, hib)| -relative_gain(*m, *b, *hib))
                .collect();
            mean(&terms)
        }
        DeltaVariant::Vandenhende | DeltaVariant::AutoLambda => {
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

    fn final_test(values: &[(&str, &str, bool, f64)]) -> FinalTest {
        let mut primary: Vec<(String, String)> = Vec::new();
        let mut map = BTreeMap::new();
        for (task, metric, hib, value) in values {
            if !primary.iter().any(|(t, _)| t == task) {
                primary.push((task.to_string(), metric.to_string()));
            }
            map.insert((task.to_string(), metric.to_string()), (*value, *hib));
        }
        FinalTest {
            values: map,
            primary,
        }
    }

    /// One example on which the variants disagree, by hand. Task a has accuracy ↑
    /// 0.8 → 0.88 (+10 %) and MSE ↓ 2 → 1 (+50 %); task b has MSE ↓ 1 → 1.2 (−20 %).
    /// LibMTL: ((10 + 50)/2 − 20)/2 = +5. Nash-MTL: −(10 + 50 − 20)/3 = −13.33 (lower is
    /// better, so this is an improvement). Vandenhende (primary metrics acc, mse): (10 − 20)/2
    /// = −5. Auto-Lambda against a fixed reference whose task-b MSE is 0.8: (10 − 50)/2 = −20.
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
        assert!(close(delta(DeltaVariant::Vandenhende, &mtl, &base), -5.0));
        let reference = final_test(&[
            ("a", "acc", true, 0.8),
            ("a", "mse", false, 2.0),
            ("b", "mse", false, 0.8),
        ]);
        assert!(close(
            delta(DeltaVariant::AutoLambda, &mtl, &reference),
            -20.0
        ));
        let gains = task_gains(&mtl, &base);
        assert_eq!(
            gains.iter().filter(|(_, g)| *g < 0.0).count(),
            1,
            "task b is a negative transfer"
        );
        // The reference of several runs is their mean.
        let mean = FinalTest::mean(&[&base, &reference]).unwrap();
        assert!((mean.values[&("b".to_string(), "mse".to_string())].0 - 0.9).abs() < 1e-12);
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
