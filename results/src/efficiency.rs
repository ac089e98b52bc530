//! Data efficiency over the `fraction` axis (docs/FORMULAS.md#data-efficiency): learning curves of
//! each task's primary metric, the data-equivalence ratio against the single-task curve, and
//! the normalised area under the learning curve over log fraction.

/// A learning curve: (fraction, metric) points with increasing fractions.
pub type Curve = Vec<(f64, f64)>;

/// The single-task curve made monotone (the running best as the fraction grows), as the
/// definition's monotone interpolation needs.
fn monotone(curve: &[(f64, f64)], higher_is_better: bool) -> Curve {
    let mut best = f64::NAN;
    curve
        .iter()
        .map(|&(f, m)| {
            best = if best.is_nan() {
                m
            } else if higher_is_better {
                best.max(m)
            } else {
                best.min(m)
            };
            (f, best)
        })
        .collect()
}

/// The smallest fraction at which the (monotone) single-task curve reaches `metric`, by
/// linear interpolation in log fraction; NaN when `metric` is below the curve's smallest
/// fraction (outside the measured range) and +∞ when not reached even at the largest.
pub fn fraction_reaching(stl: &[(f64, f64)], metric: f64, higher_is_better: bool) -> f64 {
    let curve = monotone(stl, higher_is_better);
    let reached = |m: f64| {
        if higher_is_better {
            m >= metric
        } else {
            m <= metric
        }
    };
    let Some(first) = curve.first() else {
        return f64::NAN;
    };
    if reached(first.1) {
        // Already reached at the smallest measured fraction: below the measured range,
        // unless the metric equals it exactly.
        return if first.1 == metric { first.0 } else { f64::NAN };
    }
    for pair in curve.windows(2) {
        let ((f0, m0), (f1, m1)) = (pair[0], pair[1]);
        if reached(m1) {
            let t = if m1 == m0 {
                1.0
            } else {
                (metric - m0) / (m1 - m0)
            };
            return (f0.ln() + t * (f1.ln() - f0.ln())).exp();
        }
    }
    f64::INFINITY
}

/// DER(f) = n*_STL(M_MTL(f)) / (f·N) = f*/f: how many times more single-task data the
/// method's result is worth (> 1: the method saves data).
pub fn data_equivalence_ratio(
    stl: &[(f64, f64)],
    fraction: f64,
    metric: f64,
    higher_is_better: bool,
) -> f64 {
    fraction_reaching(stl, metric, higher_is_better) / fraction
}

/// Area under the curve over log fraction, divided by the log-fraction range: the curve's
/// mean height on a log axis. NaN with fewer than two points.
pub fn normalised_auc(curve: &[(f64, f64)]) -> f64 {
    if curve.len() < 2 {
        return f64::NAN;
    }
    let area: f64 = curve
        .windows(2)
        .map(|p| (p[1].0.ln() - p[0].0.ln()) * (p[0].1 + p[1].1) / 2.0)
        .sum();
    area / (curve[curve.len() - 1].0.ln() - curve[0].0.ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// STL MSE falls from 1.0 at f = 0.1 to 0.5 at f = 1 (log-linear). An MTL MSE of 0.75
    /// at f = 0.1 is reached by STL halfway in log f, at f* = √0.1 ≈ 0.316: DER ≈ 3.16.
    #[test]
    fn der_and_auc_by_hand() {
        let stl = vec![(0.1, 1.0), (1.0, 0.5)];
        let der = data_equivalence_ratio(&stl, 0.1, 0.75, false);
        assert!((der - 0.1f64.sqrt() / 0.1).abs() < 1e-9, "{der}");
        // Better than STL with all the data: not reached.
        assert!(data_equivalence_ratio(&stl, 1.0, 0.4, false).is_infinite());
        // Worse than STL at the smallest fraction: outside the measured range.
        assert!(data_equivalence_ratio(&stl, 0.1, 1.2, false).is_nan());
        // Higher-is-better with a non-monotone STL curve: the running best is used.
        let acc = vec![(0.1, 0.6), (0.3, 0.55), (1.0, 0.8)];
        let f = fraction_reaching(&acc, 0.7, true);
        let t = (0.7 - 0.6) / (0.8 - 0.6);
        assert!((f - (0.3f64.ln() + t * (1.0f64.ln() - 0.3f64.ln())).exp()).abs() < 1e-9);
        // AUC of a straight line in log f is its mean height.
        assert!((normalised_auc(&stl) - 0.75).abs() < 1e-12);
        assert!(normalised_auc(&stl[..1]).is_nan());
    }
}
