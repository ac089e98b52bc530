//! Gradient-conflict measures on the per-task gradients of the shared parameters and the
//! applied update (FORMULAS.md b.2): pairwise cosines, conflict ratio and severity,
//! gradient magnitude similarity, update conflict, alignment with the mean gradient, the
//! norm of the summed gradient and the condition number of GGᵀ.

use crate::solvers;

/// One measured value; `tasks` names the task pair (or single task) it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub name: &'static str,
    pub tasks: Option<(usize, usize)>,
    pub value: f64,
}

/// Every conflict measure for task gradients `grads` (rows of G) and applied update `d`.
pub fn measures(grads: &[Vec<f32>], update: &[f32]) -> Vec<Measure> {
    let t = grads.len();
    let gram = solvers::gramian(grads);
    let norm: Vec<f64> = (0..t).map(|i| gram[i][i].max(0.0).sqrt()).collect();
    let mut out = Vec::new();
    let mut conflicts = 0usize;
    let mut severity = Vec::new();
    for i in 0..t {
        for j in i + 1..t {
            let cos = if norm[i] > 0.0 && norm[j] > 0.0 {
                gram[i][j] / (norm[i] * norm[j])
            } else {
                f64::NAN
            };
            let gms = 2.0 * norm[i] * norm[j] / (gram[i][i] + gram[j][j]);
            out.push(Measure {
                name: "cosine",
                tasks: Some((i, j)),
                value: cos,
            });
            out.push(Measure {
                name: "magnitude_similarity",
                tasks: Some((i, j)),
                value: gms,
            });
            if gram[i][j] < 0.0 {
                conflicts += 1;
                severity.push(-cos);
            }
        }
    }
    let pairs = t * (t.saturating_sub(1)) / 2;
    let ratio = if pairs > 0 {
        conflicts as f64 / pairs as f64
    } else {
        f64::NAN
    };
    out.push(Measure {
        name: "conflict_ratio",
        tasks: None,
        value: ratio,
    });
    let mean_severity = if severity.is_empty() {
        f64::NAN
    } else {
        severity.iter().sum::<f64>() / severity.len() as f64
    };
    out.push(Measure {
        name: "conflict_severity",
        tasks: None,
        value: mean_severity,
    });
    // Update conflict: tasks whose gradient points against the applied update.
    let against = grads
        .iter()
        .filter(|g| solvers::dot(g, update) < 0.0)
        .count();
    out.push(Measure {
        name: "update_conflicts",
        tasks: None,
        value: against as f64,
    });
    let len = update.len();
    let mut sum = vec![0.0f32; len];
    for g in grads {
        sum.iter_mut().zip(g).for_each(|(s, x)| *s += x);
    }
    let sum_norm = solvers::dot(&sum, &sum).sqrt();
    out.push(Measure {
        name: "norm_sum_grads",
        tasks: None,
        value: sum_norm,
    });
    let d_norm = solvers::dot(update, update).sqrt();
    let alignment = if d_norm > 0.0 && sum_norm > 0.0 {
        solvers::dot(update, &sum) / (d_norm * sum_norm)
    } else {
        f64::NAN
    };
    out.push(Measure {
        name: "cos_update_mean_grad",
        tasks: None,
        value: alignment,
    });
    let (values, _) = solvers::symmetric_eigen(&gram);
    let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
    // Eigenvalues at rounding level of the largest mean a singular GGᵀ: κ = ∞.
    let condition = if min > max * 1e-12 {
        (max / min).sqrt()
    } else {
        f64::INFINITY
    };
    out.push(Measure {
        name: "condition_number",
        tasks: None,
        value: condition,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(m: &[Measure], name: &str, tasks: Option<(usize, usize)>) -> f64 {
        m.iter()
            .find(|x| x.name == name && x.tasks == tasks)
            .unwrap()
            .value
    }

    /// g₀ = (1, 0), g₁ = (−1, 1), g₂ = (0, 2); update d = (1, 0).
    #[test]
    fn measures_by_hand() {
        let grads = vec![vec![1.0f32, 0.0], vec![-1.0, 1.0], vec![0.0, 2.0]];
        let m = measures(&grads, &[1.0, 0.0]);
        let r2 = 2f64.sqrt();
        assert!((value(&m, "cosine", Some((0, 1))) + 1.0 / r2).abs() < 1e-12);
        assert!((value(&m, "cosine", Some((1, 2))) - 1.0 / r2).abs() < 1e-12);
        // GMS(0, 2) = 2·1·2/(1 + 4).
        assert!((value(&m, "magnitude_similarity", Some((0, 2))) - 0.8).abs() < 1e-12);
        // Only the pair (0, 1) conflicts: ratio 1/3, severity 1/√2.
        assert!((value(&m, "conflict_ratio", None) - 1.0 / 3.0).abs() < 1e-12);
        assert!((value(&m, "conflict_severity", None) - 1.0 / r2).abs() < 1e-12);
        // g₁ᵀd = −1 < 0: one task conflicts with the update.
        assert_eq!(value(&m, "update_conflicts", None), 1.0);
        // Σg = (0, 3): norm 3, orthogonal to d.
        assert!((value(&m, "norm_sum_grads", None) - 3.0).abs() < 1e-12);
        assert!(value(&m, "cos_update_mean_grad", None).abs() < 1e-12);
        // Three gradients in the plane: GGᵀ is singular, κ infinite.
        assert!(value(&m, "condition_number", None).is_infinite());
        let two = measures(&grads[..2], &[1.0, 0.0]);
        // GGᵀ = [[1, −1], [−1, 2]]: λ = (3 ± √5)/2.
        let expected = ((3.0 + 5f64.sqrt()) / (3.0 - 5f64.sqrt())).sqrt();
        assert!((value(&two, "condition_number", None) - expected).abs() < 1e-9);
    }
}
