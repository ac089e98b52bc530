//! Significance over many comparisons (docs/FORMULAS.md#significance-over-many-comparisons):
//! Holm's step-down correction of a family of p values; Friedman's test of k algorithms
//! ranked over N blocks (suites, or suites of several studies) with the Iman–Davenport F
//! variant; and the Nemenyi critical difference of mean ranks (Demšar 2006), whose q_α is the
//! Studentized range quantile (infinite degrees of freedom) divided by √2, computed here for
//! any k.

use crate::stats::{ln_gamma, regularized_incomplete_beta};

/// Holm's step-down adjusted p values, in the order given: with the m finite p values
/// sorted ascending, p̃₍ᵢ₎ = max_{j ≤ i} min(1, (m − j + 1)·p₍ⱼ₎). A NaN stays NaN and is not
/// counted in m.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| p[i].is_finite()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let m = order.len();
    let mut out = vec![f64::NAN; p.len()];
    let mut running = 0.0f64;
    for (j, &i) in order.iter().enumerate() {
        running = running.max(((m - j) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
}

/// Ranks of one block's values, 1 = best (the highest when `higher_is_better`), ties given
/// the mean of the ranks they span.
pub fn block_ranks(values: &[f64], higher_is_better: bool) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        let c = values[a].total_cmp(&values[b]);
        if higher_is_better {
            c.reverse()
        } else {
            c
        }
    });
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end (0-based) share the mean of ranks start+1 ..= end.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Friedman's test of k algorithms over N blocks, from their ranks.
#[derive(Debug, Clone, PartialEq)]
pub struct Friedman {
    /// Algorithms (k) and blocks (N).
    pub k: usize,
    pub n: usize,
    /// Each algorithm's mean rank over the blocks.
    pub mean_ranks: Vec<f64>,
    /// χ²_F = 12N/(k(k+1)) · (Σⱼ Rⱼ² − k(k+1)²/4), with its p value (χ², k − 1 df).
    pub chi2: f64,
    pub p_chi2: f64,
    /// Iman–Davenport F_F = (N − 1)χ²_F / (N(k − 1) − χ²_F), with its p value (F with k − 1
    /// and (k − 1)(N − 1) df); NaN when every block ranks alike (χ²_F = N(k − 1)).
    pub f: f64,
    pub p_f: f64,
    /// Nemenyi's critical difference at α = 0.05: q₀.₀₅ · √(k(k+1)/(6N)).
    pub cd: f64,
}

/// Friedman's test from `ranks[block][algorithm]` (every block ranks every algorithm; no
/// correction for ties, as in Demšar 2006). `None` with fewer than 2 blocks or algorithms.
pub fn friedman(ranks: &[Vec<f64>]) -> Option<Friedman> {
    let n = ranks.len();
    let k = ranks.first()?.len();
    if n < 2 || k < 2 || ranks.iter().any(|r| r.len() != k) {
        return None;
    }
    let mean_ranks: Vec<f64> = (0..k)
        .map(|j| ranks.iter().map(|r| r[j]).sum::<f64>() / n as f64)
        .collect();
    Some(friedman_from_mean_ranks(&mean_ranks, n))
}

/// The statistics of `Friedman` from the mean ranks of k algorithms over `n` blocks.
pub fn friedman_from_mean_ranks(mean_ranks: &[f64], n: usize) -> Friedman {
    let k = mean_ranks.len();
    let (kf, nf) = (k as f64, n as f64);
    let squares: f64 = mean_ranks.iter().map(|r| r * r).sum();
    let chi2 = 12.0 * nf / (kf * (kf + 1.0)) * (squares - kf * (kf + 1.0).powi(2) / 4.0);
    let p_chi2 = chi_square_sf(chi2, kf - 1.0);
    let denominator = nf * (kf - 1.0) - chi2;
    let (f, p_f) = if denominator > 1e-12 {
        let f = (nf - 1.0) * chi2 / denominator;
        (f, f_sf(f, kf - 1.0, (kf - 1.0) * (nf - 1.0)))
    } else {
        (f64::NAN, f64::NAN)
    };
    Friedman {
        k,
        n,
        mean_ranks: mean_ranks.to_vec(),
        chi2,
        p_chi2,
        f,
        p_f,
        cd: nemenyi_q(k, 0.05) * (kf * (kf + 1.0) / (6.0 * nf)).sqrt(),
    }
}

/// The groups of algorithms whose mean ranks differ by less than `cd` (not significantly
/// different): maximal runs of the algorithms sorted by mean rank, as index lists into
/// `mean_ranks`, best first; a run of one is left out.
pub fn cliques(mean_ranks: &[f64], cd: f64) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..mean_ranks.len()).collect();
    order.sort_by(|&a, &b| mean_ranks[a].total_cmp(&mean_ranks[b]));
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut last_end = 0;
    for start in 0..order.len() {
        let mut end = start;
        while end + 1 < order.len() && mean_ranks[order[end + 1]] - mean_ranks[order[start]] < cd {
            end += 1;
        }
        if end > start && end + 1 > last_end {
            out.push(order[start..=end].to_vec());
            last_end = end + 1;
        }
    }
    out
}

/// Nemenyi's q_α for k algorithms: the 1 − α quantile of the Studentized range of k
/// standard normals (infinite degrees of freedom) divided by √2 (Demšar 2006, Table 5a for
/// k ≤ 10), by bisection on the range's distribution function to 1e-9. NaN for k < 2.
pub fn nemenyi_q(k: usize, alpha: f64) -> f64 {
    if k < 2 {
        return f64::NAN;
    }
    let (mut low, mut high) = (0.0f64, 12.0f64);
    while high - low > 1e-9 {
        let middle = 0.5 * (low + high);
        if studentized_range_cdf(middle, k) < 1.0 - alpha {
            low = middle;
        } else {
            high = middle;
        }
    }
    0.5 * (low + high) / std::f64::consts::SQRT_2
}

/// P(range of k independent standard normals ≤ q) = k ∫ φ(z) (Φ(z + q) − Φ(z))^(k−1) dz,
/// by Simpson's rule over z in [−9, 9] (the integrand is below 1e-17 outside).
pub fn studentized_range_cdf(q: f64, k: usize) -> f64 {
    if q <= 0.0 {
        return 0.0;
    }
    let steps = 1200;
    let (a, b) = (-9.0f64, 9.0f64);
    let h = (b - a) / steps as f64;
    let density = (2.0 * std::f64::consts::PI).sqrt().recip();
    let f = |z: f64| {
        let phi = density * (-0.5 * z * z).exp();
        phi * (normal_cdf(z + q) - normal_cdf(z)).powi(k as i32 - 1)
    };
    let mut sum = f(a) + f(b);
    for i in 1..steps {
        let weight = if i % 2 == 1 { 4.0 } else { 2.0 };
        sum += weight * f(a + i as f64 * h);
    }
    (k as f64 * sum * h / 3.0).clamp(0.0, 1.0)
}

/// Φ(x), the standard normal distribution function: ½(1 + erf(x/√2)), erf(y) = P(½, y²).
pub fn normal_cdf(x: f64) -> f64 {
    let y = x / std::f64::consts::SQRT_2;
    let erf = regularized_gamma_p(0.5, y * y);
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// P(χ²_df > x).
pub fn chi_square_sf(x: f64, df: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    1.0 - regularized_gamma_p(df / 2.0, x / 2.0)
}

/// P(F_{d1, d2} > f) = I_{d2/(d2 + d1 f)}(d2/2, d1/2).
pub fn f_sf(f: f64, d1: f64, d2: f64) -> f64 {
    if f <= 0.0 {
        return 1.0;
    }
    regularized_incomplete_beta(d2 / (d2 + d1 * f), d2 / 2.0, d1 / 2.0)
}

/// The regularised lower incomplete gamma function P(a, x): its series for x < a + 1, else
/// 1 − its continued fraction (modified Lentz), to about 1e-15.
pub fn regularized_gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let front = (a * x.ln() - x - ln_gamma(a)).exp();
    if x < a + 1.0 {
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-17 {
                break;
            }
        }
        (sum * front).min(1.0)
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (1.0 - front * h).max(0.0)
    }
}

#[cfg(test)]
#[allow(clippy::excessive_precision)] // reference values, digit for digit
mod tests {
    use super::*;

    /// By hand: p = (0.01, 0.04, 0.03, 0.005), m = 4. Sorted: 0.005·4 = 0.02, 0.01·3 = 0.03,
    /// 0.03·2 = 0.06, 0.04·1 = 0.04 → max with 0.06 = 0.06. A NaN stays out of m; a product
    /// above 1 is cut to 1.
    #[test]
    fn holm_by_hand() {
        let got = holm(&[0.01, 0.04, 0.03, 0.005]);
        for (g, w) in got.iter().zip([0.03, 0.06, 0.06, 0.02]) {
            assert!((g - w).abs() < 1e-15, "{got:?}");
        }
        let got = holm(&[0.4, f64::NAN, 0.3]);
        assert!((got[0] - 0.6).abs() < 1e-15 && got[1].is_nan() && (got[2] - 0.6).abs() < 1e-15);
        assert_eq!(holm(&[0.9, 0.8]), vec![1.0, 1.0]);
        assert!(holm(&[]).is_empty());
    }

    /// On a seeded stream of families: every adjusted p is at least its raw p and at most
    /// 1, the adjusted values keep the raw values' order, and the smallest is m·min p.
    #[test]
    fn holm_properties() {
        let mut state: u64 = 12345;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..200 {
            let m = 1 + (next() * 12.0) as usize;
            let p: Vec<f64> = (0..m).map(|_| next() * next()).collect();
            let a = holm(&p);
            let min = p.iter().cloned().fold(f64::INFINITY, f64::min);
            let lowest = a.iter().cloned().fold(f64::INFINITY, f64::min);
            assert!((lowest - (m as f64 * min).min(1.0)).abs() < 1e-15);
            for i in 0..m {
                assert!(a[i] >= p[i] && a[i] <= 1.0);
                for j in 0..m {
                    if p[i] < p[j] {
                        assert!(a[i] <= a[j]);
                    }
                }
            }
        }
    }

    #[test]
    fn ranks_average_ties_and_follow_direction() {
        assert_eq!(block_ranks(&[0.9, 0.7, 0.8], true), vec![1.0, 3.0, 2.0]);
        assert_eq!(block_ranks(&[0.9, 0.7, 0.8], false), vec![3.0, 1.0, 2.0]);
        assert_eq!(
            block_ranks(&[0.5, 0.7, 0.5, 0.1], true),
            vec![2.5, 1.0, 2.5, 4.0]
        );
    }

    /// Demšar 2006, section 3.2.2 (Table 6): four classifiers over N = 14 data sets with
    /// mean ranks 3.143, 2.000, 2.893, 1.964 (rank sums 44, 28, 40.5, 27.5) give
    /// χ²_F = 9.28 and F_F = 3.69; section 3.2.2 ff.: CD = 2.569·√(4·5/(6·14)) = 1.25.
    #[test]
    fn demsar_worked_example() {
        let ranks = [44.0 / 14.0, 2.0, 40.5 / 14.0, 27.5 / 14.0];
        let f = friedman_from_mean_ranks(&ranks, 14);
        assert!((f.chi2 - 9.28).abs() < 5e-3, "{f:?}");
        assert!((f.f - 3.69).abs() < 5e-3, "{f:?}");
        assert!((f.cd - 1.25).abs() < 5e-3, "{f:?}");
        // The critical value F(3, 39) at 0.05 is 2.85 to two decimals (the paper's): F_F = 3.69 exceeds it.
        assert!(f.p_f < 0.05 && f_sf(2.84, 3.0, 39.0) > 0.05 && f_sf(2.86, 3.0, 39.0) < 0.05);
    }

    /// Against scipy 1.x (`stats.friedmanchisquare(*data.T)`; F_F from its statistic with
    /// `stats.f.sf(F, k-1, (k-1)*(n-1))`) on six blocks of four algorithms without ties:
    /// χ² = 7.200000000000003, p = 0.0657890526850709, F = 3.3333333333333357,
    /// p_F = 0.048121499348179005.
    #[test]
    fn friedman_against_scipy() {
        let data = [
            [0.81, 0.78, 0.80, 0.75],
            [0.62, 0.65, 0.61, 0.60],
            [0.91, 0.88, 0.90, 0.89],
            [0.55, 0.57, 0.52, 0.50],
            [0.70, 0.69, 0.72, 0.68],
            [0.83, 0.80, 0.79, 0.82],
        ];
        let ranks: Vec<Vec<f64>> = data.iter().map(|b| block_ranks(b, true)).collect();
        let f = friedman(&ranks).unwrap();
        assert_eq!((f.k, f.n), (4, 6));
        for (got, want) in [
            (f.chi2, 7.200000000000003),
            (f.p_chi2, 0.0657890526850709),
            (f.f, 3.3333333333333357),
            (f.p_f, 0.048121499348179005),
        ] {
            assert!(
                (got - want).abs() < 1e-10 * want.max(1.0),
                "{got} vs {want}"
            );
        }
        assert!(friedman(&ranks[..1]).is_none());
        // Every block ranks alike: χ²_F = N(k − 1) and F_F is undefined.
        let same = vec![vec![1.0, 2.0, 3.0]; 4];
        let f = friedman(&same).unwrap();
        assert!((f.chi2 - 8.0).abs() < 1e-12 && f.f.is_nan());
    }

    /// q_α against Demšar 2006 Table 5a (α = 0.05 and 0.10, k = 2..10, three decimals) and
    /// against scipy (`stats.studentized_range.ppf(1 - α, k, np.inf) / np.sqrt(2)`) for
    /// k = 2..20 at α = 0.05.
    #[test]
    fn nemenyi_q_matches_demsar_and_scipy() {
        let table_05 = [
            1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164,
        ];
        let table_10 = [
            1.645, 2.052, 2.291, 2.459, 2.589, 2.693, 2.780, 2.855, 2.920,
        ];
        for (k, (q05, q10)) in (2..).zip(table_05.iter().zip(table_10)) {
            assert!((nemenyi_q(k, 0.05) - q05).abs() < 1e-3, "k {k}");
            assert!((nemenyi_q(k, 0.10) - q10).abs() < 1e-3, "k {k}");
        }
        let scipy = [
            1.9599639845400534,
            2.343700586378409,
            2.569031772546482,
            2.7277743708703763,
            2.8497054196100016,
            2.9483200175296744,
            3.030878449614413,
            3.1017303413033805,
            3.163683577053373,
            3.2186536073291525,
            3.268003924466142,
            3.31273859335082,
            3.3536177518523043,
            3.391230283765257,
            3.4260413793706097,
            3.4584247073473247,
            3.4886847993791976,
            3.517073008691811,
            3.5437991315177815,
        ];
        for (k, want) in (2..).zip(scipy) {
            let got = nemenyi_q(k, 0.05);
            assert!((got - want).abs() < 1e-6, "k {k}: {got} vs {want}");
        }
        assert!(nemenyi_q(1, 0.05).is_nan());
    }

    /// Against scipy (`stats.chi2.sf`, `stats.norm.cdf`).
    #[test]
    fn distributions_against_scipy() {
        for (x, df, want) in [
            (0.5, 1.0, 0.47950012218695337),
            (3.84, 1.0, 0.05004352124870519),
            (9.28, 3.0, 0.025790724198756772),
            (20.0, 7.0, 0.005569683072945574),
            (1.0, 10.0, 0.9998278843700441),
        ] {
            let got = chi_square_sf(x, df);
            assert!((got - want).abs() < 1e-12, "{x} {df}: {got} vs {want}");
        }
        for (x, want) in [
            (-3.0, 0.0013498980316300933),
            (-1.0, 0.15865525393145707),
            (0.0, 0.5),
            (0.5, 0.6914624612740131),
            (1.96, 0.9750021048517795),
            (4.0, 0.9999683287581669),
        ] {
            let got = normal_cdf(x);
            assert!((got - want).abs() < 1e-13, "{x}: {got} vs {want}");
        }
    }

    /// Mean ranks 3.0, 1.0, 3.2, 1.5 with CD 1.0: {1, 3} and {0, 2} are groups; with CD
    /// 2.5, {0, 1, 2} and {1, 2, 3}; with CD 0.1, none.
    #[test]
    fn cliques_by_hand() {
        let ranks = [3.0, 1.0, 3.2, 1.5];
        assert_eq!(cliques(&ranks, 1.0), vec![vec![1, 3], vec![0, 2]]);
        assert_eq!(cliques(&ranks, 2.1), vec![vec![1, 3, 0], vec![3, 0, 2]]);
        assert!(cliques(&ranks, 0.1).is_empty());
    }
}
