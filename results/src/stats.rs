//! Statistics over replicates: mean, sample standard deviation, and the Student-t 95%
//! confidence interval of the mean.

/// Mean, sample standard deviation and 95% CI half-width (Student t, n−1 degrees of
/// freedom) of a sample. With n = 1 the deviation and CI are NaN (undefined).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub std: f64,
    pub ci95: f64,
}

/// Two-sided 97.5% quantiles of Student's t for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The t quantile for a 95% two-sided interval with `df` degrees of freedom.
pub fn t_quantile_975(df: usize) -> f64 {
    match df {
        0 => f64::NAN,
        1..=30 => T975[df - 1],
        31..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

pub fn summarize(values: &[f64]) -> Summary {
    let n = values.len();
    if n == 0 {
        return Summary {
            n,
            mean: f64::NAN,
            std: f64::NAN,
            ci95: f64::NAN,
        };
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Summary {
            n,
            mean,
            std: f64::NAN,
            ci95: f64::NAN,
        };
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let std = var.sqrt();
    Summary {
        n,
        mean,
        std,
        ci95: t_quantile_975(n - 1) * std / (n as f64).sqrt(),
    }
}

/// Two-sided p-value of a one-sample Student t test that the mean of `values` is 0 (for
/// paired differences: a paired t test). NaN with fewer than two values or no spread.
pub fn t_test_p(values: &[f64]) -> f64 {
    let s = summarize(values);
    if s.n < 2 || s.std.is_nan() || s.std <= 0.0 {
        return f64::NAN;
    }
    let t = s.mean / (s.std / (s.n as f64).sqrt());
    let df = (s.n - 1) as f64;
    // P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2).
    regularized_incomplete_beta(df / (df + t * t), df / 2.0, 0.5)
}

/// The regularised incomplete beta function I_x(a, b), by its continued fraction
/// (modified Lentz), accurate to about 1e-12 for the arguments a t test needs.
pub fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    // The continued fraction converges fast for x < (a + 1)/(a + b + 2); use symmetry otherwise.
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - regularized_incomplete_beta(1.0 - x, b, a);
    }
    let tiny = 1e-300;
    let (mut c, mut d) = (1.0, 1.0 - (a + b) * x / (a + 1.0));
    if d.abs() < tiny {
        d = tiny;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = f64::from(m);
        for numerator in [
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)),
        ] {
            d = 1.0 + numerator * d;
            if d.abs() < tiny {
                d = tiny;
            }
            c = 1.0 + numerator / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    ln_front.exp() * h / a
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7).
fn ln_gamma(x: f64) -> f64 {
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1 − x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, c) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_summary() {
        let s = summarize(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.n, 4);
        assert!((s.mean - 2.5).abs() < 1e-12);
        let std = (5.0f64 / 3.0).sqrt();
        assert!((s.std - std).abs() < 1e-12);
        assert!((s.ci95 - 3.182 * std / 2.0).abs() < 1e-12);
        assert!(summarize(&[3.0]).ci95.is_nan());
    }

    /// Two-sided p-values against tables: t = 2.0 with 5 df → 0.1019; the 97.5 % quantile
    /// for 4 df (2.776) → 0.05; a sample with mean 0 → 1.
    #[test]
    fn t_test_p_values_match_tables() {
        // n = 6 values with mean 1 and std √1.5 give t = 1/(√1.5/√6) = 2.
        let values = [
            1.0 - 1.5f64.sqrt(),
            1.0 + 1.5f64.sqrt(),
            1.0,
            1.0,
            1.0 - 1.5f64.sqrt(),
            1.0 + 1.5f64.sqrt(),
        ];
        let s = summarize(&values);
        let t = s.mean / (s.std / 6f64.sqrt());
        let df = 5.0;
        let p = regularized_incomplete_beta(df / (df + t * t), df / 2.0, 0.5);
        assert!((t_test_p(&values) - p).abs() < 1e-12);
        let p_two = regularized_incomplete_beta(5.0 / (5.0 + 4.0), 2.5, 0.5);
        assert!((p_two - 0.1019).abs() < 1e-4, "{p_two}");
        let p_crit = regularized_incomplete_beta(4.0 / (4.0 + 2.776f64.powi(2)), 2.0, 0.5);
        assert!((p_crit - 0.05).abs() < 1e-3, "{p_crit}");
        assert!((t_test_p(&[-1.0, 1.0, -2.0, 2.0]) - 1.0).abs() < 1e-12);
    }
}
