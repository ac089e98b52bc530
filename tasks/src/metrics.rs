//! Task metrics computed from predictions on the host: MSE, normalised MSE, accuracy,
//! cross-entropy, ROC AUC (two classes). Each metric says whether higher is better.

use crate::data::{Matrix, TaskData, TaskKind};
use serde::Serialize;

/// A metric's name, its direction, and whether it is one of the task's primary metrics:
/// those the transfer measures (the Δ variants, ranks, negative-transfer counts) and the
/// model-selection rule average by default. A suite declares them per task; a loss is never
/// primary (`LOSS_METRICS`), and of metrics that differ by a constant factor (`mse` and
/// `normalized_mse`) at most one is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricSpec {
    pub name: String,
    pub higher_is_better: bool,
    pub primary: bool,
}

impl MetricSpec {
    /// A primary metric of its task.
    pub fn primary(name: &str, higher_is_better: bool) -> Self {
        MetricSpec {
            name: name.to_string(),
            higher_is_better,
            primary: true,
        }
    }

    /// A metric that is reported but not averaged by the transfer measures by default.
    pub fn secondary(name: &str, higher_is_better: bool) -> Self {
        MetricSpec {
            primary: false,
            ..MetricSpec::primary(name, higher_is_better)
        }
    }
}

/// Every metric `evaluate` computes, with its direction.
pub const METRICS: [(&str, bool); 5] = [
    ("mse", false),
    ("normalized_mse", false),
    ("accuracy", true),
    ("cross_entropy", false),
    ("auc", true),
];

/// Metrics that are training losses: reported, never primary.
pub const LOSS_METRICS: [&str; 1] = ["cross_entropy"];

/// The default metrics of a task kind: for regression the MSE and the MSE over the target's
/// scale (primary: comparable across tasks, and its relative change equals the MSE's); for
/// classification the accuracy (primary) and the cross-entropy.
pub fn default_metrics(kind: TaskKind) -> Vec<MetricSpec> {
    match kind {
        TaskKind::Regression { .. } => vec![
            MetricSpec::secondary("mse", false),
            MetricSpec::primary("normalized_mse", false),
        ],
        TaskKind::Classification { .. } => vec![
            MetricSpec::primary("accuracy", true),
            MetricSpec::secondary("cross_entropy", false),
        ],
    }
}

/// Mean squared error over all rows and outputs.
pub fn mse(pred: &Matrix, target: &Matrix) -> f64 {
    assert_eq!(pred.data.len(), target.data.len());
    if pred.data.is_empty() {
        return f64::NAN;
    }
    let sum: f64 = pred
        .data
        .iter()
        .zip(&target.data)
        .map(|(p, t)| {
            let d = f64::from(*p) - f64::from(*t);
            d * d
        })
        .sum();
    sum / pred.data.len() as f64
}

/// Fraction of rows whose arg-max logit is the label.
pub fn accuracy(logits: &Matrix, labels: &Matrix) -> f64 {
    let correct = (0..logits.rows)
        .filter(|&r| argmax(logits.row(r)) == labels.data[r] as usize)
        .count();
    correct as f64 / logits.rows as f64
}

/// Mean softmax cross-entropy of the labels (natural log).
pub fn cross_entropy(logits: &Matrix, labels: &Matrix) -> f64 {
    let total: f64 = (0..logits.rows)
        .map(|r| {
            let row = logits.row(r);
            let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let log_sum: f64 = row
                .iter()
                .map(|v| f64::from(v - max).exp())
                .sum::<f64>()
                .ln()
                + f64::from(max);
            log_sum - f64::from(row[labels.data[r] as usize])
        })
        .sum();
    total / logits.rows as f64
}

/// ROC AUC of a two-class task, scored by the logit margin z₁ − z₀ (monotone in the
/// softmax probability of class 1).
pub fn auc(logits: &Matrix, labels: &Matrix) -> f64 {
    let scores: Vec<f64> = (0..logits.rows)
        .map(|r| f64::from(logits.row(r)[1] - logits.row(r)[0]))
        .collect();
    let positive: Vec<bool> = labels.data.iter().map(|l| *l == 1.0).collect();
    rank_auc(&scores, &positive)
}

/// The area under the ROC curve of scores for binary labels (ties count half): the
/// Mann–Whitney statistic. NaN when one class is absent.
pub fn rank_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut i) = (0.0f64, 0);
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let average = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += order[i..=j].iter().filter(|&&k| labels[k]).count() as f64 * average;
        i = j + 1;
    }
    let positives = labels.iter().filter(|l| **l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return f64::NAN;
    }
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

/// Every metric of `task` for predictions `pred` against targets `target`.
pub fn evaluate(task: &TaskData, pred: &Matrix, target: &Matrix) -> Vec<(MetricSpec, f64)> {
    task.metrics
        .iter()
        .map(|spec| {
            let value = match spec.name.as_str() {
                "mse" => mse(pred, target),
                "normalized_mse" => mse(pred, target) / f64::from(task.target_scale),
                "accuracy" => accuracy(pred, target),
                "cross_entropy" => cross_entropy(pred, target),
                "auc" => auc(pred, target),
                other => unreachable!("metric `{other}` has no implementation"),
            };
            (spec.clone(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_values() {
        let p = Matrix::new(2, 2, vec![1.0, 2.0, 3.0, 4.0]);
        let t = Matrix::new(2, 2, vec![1.0, 0.0, 3.0, 5.0]);
        assert!((mse(&p, &t) - (4.0 + 1.0) / 4.0).abs() < 1e-12);
        let logits = Matrix::new(2, 3, vec![0.0, 0.0, 0.0, 5.0, 1.0, 0.0]);
        let labels = Matrix::new(2, 1, vec![2.0, 1.0]);
        // Row 0 ties: argmax takes the first index (0), so it is wrong; row 1 predicts 0, wrong.
        assert_eq!(accuracy(&logits, &labels), 0.0);
        let ce0 = (3.0f64).ln();
        let ce1 = (5f64.exp() + 1f64.exp() + 1.0).ln() - 1.0;
        assert!((cross_entropy(&logits, &labels) - (ce0 + ce1) / 2.0).abs() < 1e-6);
    }

    #[test]
    fn rank_auc_by_hand() {
        // Positives at 0.8 and 0.4, negatives at 0.5 and 0.1: 3 of 4 pairs ordered.
        assert_eq!(
            rank_auc(&[0.8, 0.4, 0.5, 0.1], &[true, true, false, false]),
            0.75
        );
        // A tie between a positive and a negative counts half.
        assert_eq!(rank_auc(&[0.5, 0.5], &[true, false]), 0.5);
        assert!(rank_auc(&[0.1, 0.2], &[true, true]).is_nan());
    }
}
