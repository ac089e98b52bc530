//! Statistics over replicates: mean, sample standard deviation, and the Student-t 95%
//! confidence interval of the mean (exact t quantiles), and the one-sample t test.

/// Mean, sample standard deviation and 95% CI half-width (Student t, n−1 degrees of
/// freedom) of a sample. With n = 1 the deviation and CI are NaN (undefined).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub std: f64,
    pub ci95: f64,
}

/// Φ⁻¹(0.975), the standard normal's 97.5% quantile (the limit of t₀.₉₇₅(df) as df → ∞).
const Z975: f64 = 1.959_963_984_540_054;

/// Degrees of freedom above which the quantile is taken from its Cornish–Fisher expansion
/// in 1/df (five terms; the first omitted term is below 1e-19 there) instead of by inverting
/// the distribution function.
const EXPANSION_DF: usize = 10_000;

/// The t quantile for a 95% two-sided interval with `df` degrees of freedom: the t > 0 with
/// P(|T| > t) = 0.05, found by bisection on the two-sided tail I_{df/(df+t²)}(df/2, ½)
/// (for df ≤ 10 000; above, the Cornish–Fisher expansion), to a relative accuracy of 1e-12:
/// what the tests check against 16-digit published quantiles (df 1 to 10⁶) and against the
/// closed-form tail of integer df (1–300, 999, 4 321 and 10 000). NaN for df = 0.
pub fn t_quantile_975(df: usize) -> f64 {
    if df == 0 {
        return f64::NAN;
    }
    let nu = df as f64;
    if df > EXPANSION_DF {
        let z = Z975;
        let z2 = z * z;
        let terms = [
            z,
            z * (z2 + 1.0) / 4.0,
            z * ((5.0 * z2 + 16.0) * z2 + 3.0) / 96.0,
            z * (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) / 384.0,
            z * ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) / 92_160.0,
        ];
        return terms.iter().rev().fold(0.0, |acc, c| acc / nu + c);
    }
    // The two-sided tail falls strictly with t; t₀.₉₇₅ lies in [z, t₀.₉₇₅(1) ≈ 12.706].
    let tail = |t: f64| regularized_incomplete_beta(nu / (nu + t * t), nu / 2.0, 0.5);
    let (mut low, mut high) = (Z975, 12.8);
    loop {
        let middle = 0.5 * (low + high);
        if middle <= low || middle >= high {
            break;
        }
        if tail(middle) > 0.05 {
            low = middle;
        } else {
            high = middle;
        }
    }
    0.5 * (low + high)
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
pub(crate) fn ln_gamma(x: f64) -> f64 {
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
#[allow(clippy::excessive_precision)] // published values, digit for digit
mod tests {
    use super::*;

    #[test]
    fn hand_computed_summary() {
        let s = summarize(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.n, 4);
        assert!((s.mean - 2.5).abs() < 1e-12);
        let std = (5.0f64 / 3.0).sqrt();
        assert!((s.std - std).abs() < 1e-12);
        // t₀.₉₇₅(3) = 3.182446305283710 (to 16 digits).
        assert!((s.ci95 - 3.182_446_305_283_710 * std / 2.0).abs() < 1e-12);
        assert!(summarize(&[3.0]).ci95.is_nan());
    }

    /// The 97.5% quantiles against the published three-decimal table (df 1–30, 40, 60,
    /// 120) and against 16-digit values (R's `qt(0.975, df)`; checked at 30 digits with
    /// mpmath) where the old table was coarse: t₀.₉₇₅(31) = 2.0395, not 2.000.
    #[test]
    fn quantiles_match_published_tables() {
        let table = [
            12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
            2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
            2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
        ];
        for (df, want) in (1..)
            .zip(table)
            .chain([(40, 2.021), (60, 2.000), (120, 1.980)])
        {
            let got = t_quantile_975(df);
            assert!(
                (got - want).abs() <= 5e-4 + 1e-12,
                "df {df}: {got} vs {want}"
            );
        }
        for (df, want) in [
            (1, 12.706_204_736_174_705),
            (2, 4.302_652_729_749_464),
            (10, 2.228_138_851_986_275),
            (30, 2.042_272_456_301_238),
            (31, 2.039_513_446_396_408_5),
            (60, 2.000_297_822_014_260_5),
            (120, 1.979_930_405_082_440_8),
            (1000, 1.962_339_080_826_408_5),
            (10_000, 1.960_201_239_890_626_3),
            (100_000, 1.959_987_707_534_609_6),
            (1_000_000, 1.959_966_356_814_107),
        ] {
            let got = t_quantile_975(df);
            assert!(
                (got - want).abs() <= 1e-12 * want,
                "df {df}: {got} vs {want}"
            );
        }
        assert!(t_quantile_975(0).is_nan());
        assert!((t_quantile_975(usize::MAX) - Z975).abs() < 1e-15);
    }

    /// P(|T| > t) for an integer ν in closed form (Abramowitz & Stegun 26.7.3–4), apart from
    /// the incomplete beta function the code inverts: with θ = atan(t/√ν),
    /// P(|T| < t) = (2/π)(θ + sinθ Σₖ cₖcos^(2k+1)θ), c₀ = 1, cₖ = cₖ₋₁·2k/(2k+1), k < (ν−1)/2
    /// for odd ν; sinθ Σₖ cₖcos^(2k)θ, c₀ = 1, cₖ = cₖ₋₁·(2k−1)/(2k), k < ν/2 for even ν.
    fn closed_form_tail(t: f64, df: usize) -> f64 {
        let nu = df as f64;
        let (sin, cos) = (t / (nu + t * t).sqrt(), nu.sqrt() / (nu + t * t).sqrt());
        let cos2 = cos * cos;
        let (mut sum, mut carry, mut term) = (0.0f64, 0.0f64, 1.0f64);
        let terms = if df % 2 == 1 { (df - 1) / 2 } else { df / 2 };
        for k in 0..terms {
            if k > 0 {
                let k = k as f64;
                term *= cos2
                    * if df % 2 == 1 {
                        2.0 * k / (2.0 * k + 1.0)
                    } else {
                        (2.0 * k - 1.0) / (2.0 * k)
                    };
            }
            // Neumaier's compensated sum: thousands of terms for the largest df.
            let next = sum + term;
            carry += (sum - next) + term;
            sum = next;
        }
        let inside = if df % 2 == 1 {
            let theta = (t / nu.sqrt()).atan();
            2.0 / std::f64::consts::PI * (theta + sin * cos * (sum + carry))
        } else {
            sin * (sum + carry)
        };
        1.0 - inside
    }

    /// The quantile equals, to 1e-12 relative, the root of the closed-form tail (found by
    /// bisection here) for every df 1–300 and a few above, up to the switch to the
    /// expansion, which must agree just past it too; and it falls strictly with df.
    #[test]
    fn quantile_matches_the_closed_form_tail() {
        for df in (1..=300).chain([999, 4_321, EXPANSION_DF, EXPANSION_DF + 1]) {
            let (mut low, mut high) = (1.9, 13.0);
            while high - low > 1e-15 * high {
                let middle = 0.5 * (low + high);
                if closed_form_tail(middle, df) > 0.05 {
                    low = middle;
                } else {
                    high = middle;
                }
            }
            let want = 0.5 * (low + high);
            let got = t_quantile_975(df);
            assert!(
                (got - want).abs() <= 1e-12 * want,
                "df {df}: {got} vs {want} (relative {:e})",
                (got - want).abs() / want
            );
        }
        // Falls strictly with df towards z.
        for df in (1..=400)
            .chain((401..EXPANSION_DF).step_by(97))
            .chain([EXPANSION_DF])
        {
            assert!(t_quantile_975(df + 1) < t_quantile_975(df), "df {df}");
        }
    }

    /// n = df + 1 values whose one-sample t statistic is exactly `t`: ±1 deviations around
    /// a mean of t·s/√n.
    fn sample_with_t(t: f64, df: usize) -> Vec<f64> {
        let n = df + 1;
        let deviations: Vec<f64> = (0..n)
            .map(|k| match (k % 2, n % 2 == 1 && k == n - 1) {
                (_, true) => 0.0,
                (0, _) => 1.0,
                _ => -1.0,
            })
            .collect();
        let std = (deviations.iter().map(|d| d * d).sum::<f64>() / df as f64).sqrt();
        let mean = t * std / (n as f64).sqrt();
        deviations.iter().map(|d| mean + d).collect()
    }

    /// Two-sided p-values of the t test against published critical values: t₀.₉₇₅(10) =
    /// 2.228, t₀.₉₇₅(30) = 2.042, t₀.₉₇₅(31) = 2.040 (p = 0.05), t₀.₉₉₅(10) = 3.169
    /// (p = 0.01), and t = 2.0 with 5 df → p = 0.1019. The tables round t to three decimals,
    /// which moves p by less than 1e-4 here.
    #[test]
    fn t_test_p_values_match_tables() {
        for (t, df, want) in [
            (2.228, 10, 0.05),
            (2.042, 30, 0.05),
            (2.040, 31, 0.05),
            (3.169, 10, 0.01),
            (2.0, 5, 0.1019),
            (-2.228, 10, 0.05),
        ] {
            let values = sample_with_t(t, df);
            let s = summarize(&values);
            let got_t = s.mean / (s.std / (s.n as f64).sqrt());
            assert!((got_t - t).abs() < 1e-9, "the sample's t is {got_t}");
            let p = t_test_p(&values);
            assert!((p - want).abs() < 1e-4, "t {t}, df {df}: p {p} vs {want}");
        }
        assert!((t_test_p(&[-1.0, 1.0, -2.0, 2.0]) - 1.0).abs() < 1e-12);
        assert!(t_test_p(&[1.0]).is_nan());
        assert!(t_test_p(&[2.0, 2.0, 2.0]).is_nan());
    }
}
