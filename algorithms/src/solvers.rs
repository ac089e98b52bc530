//! Small deterministic solvers for the gradient aggregators: the Gramian, Euclidean
//! projection onto the probability simplex, and accelerated projected gradient descent on
//! the simplex with a Frank–Wolfe duality-gap stopping rule (fixed tolerance and iteration
//! limit, both reported).

/// How an inner problem was solved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolverReport {
    pub iterations: usize,
    /// The Frank–Wolfe duality gap at the returned point (an upper bound on its
    /// suboptimality; 0 at the exact optimum).
    pub gap: f64,
}

/// GGᵀ of per-task gradients (rows), in f64.
pub fn gramian(grads: &[Vec<f32>]) -> Vec<Vec<f64>> {
    grads
        .iter()
        .map(|a| grads.iter().map(|b| dot(a, b)).collect())
        .collect()
}

/// aᵀb in f64.
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

/// The Euclidean projection of `v` onto the probability simplex (Duchi et al. 2008).
pub fn project_simplex(v: &[f64]) -> Vec<f64> {
    let mut sorted = v.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut cumulative = 0.0;
    let mut theta = 0.0;
    for (i, u) in sorted.iter().enumerate() {
        cumulative += u;
        let t = (cumulative - 1.0) / (i + 1) as f64;
        if u - t > 0.0 {
            theta = t;
        }
    }
    v.iter().map(|x| (x - theta).max(0.0)).collect()
}

/// Minimises a smooth convex `f` over the simplex by FISTA with backtracking and
/// restarts, from the uniform point. `f` returns (value, gradient). Stops when the
/// Frank–Wolfe gap ⟨∇f(w), w⟩ − minᵢ ∂ᵢf(w) falls below `tolerance`, when a plain
/// projected step from the iterate no longer lowers f in f64 arithmetic, or after
/// `max_iterations`. The report carries the gap either way.
pub fn minimize_on_simplex(
    n: usize,
    f: impl Fn(&[f64]) -> (f64, Vec<f64>),
    tolerance: f64,
    max_iterations: usize,
) -> (Vec<f64>, SolverReport) {
    let gap_at = |w: &[f64], g: &[f64]| -> f64 {
        let inner: f64 = w.iter().zip(g).map(|(a, b)| a * b).sum();
        inner - g.iter().cloned().fold(f64::INFINITY, f64::min)
    };
    let mut w = vec![1.0 / n as f64; n];
    let mut y = w.clone();
    let mut t: f64 = 1.0;
    let mut step = 1.0;
    let (mut fw, mut gw) = f(&w);
    let mut restarted = false;
    for iteration in 0..max_iterations {
        let gap = gap_at(&w, &gw);
        if gap <= tolerance {
            return (
                w,
                SolverReport {
                    iterations: iteration,
                    gap,
                },
            );
        }
        let (fy, gy) = f(&y);
        // Backtracking: shrink the step until the quadratic upper bound holds.
        let next = loop {
            let candidate: Vec<f64> = y.iter().zip(&gy).map(|(a, g)| a - step * g).collect();
            let candidate = project_simplex(&candidate);
            let diff: Vec<f64> = candidate.iter().zip(&y).map(|(a, b)| a - b).collect();
            let bound = fy
                + diff.iter().zip(&gy).map(|(d, g)| d * g).sum::<f64>()
                + diff.iter().map(|d| d * d).sum::<f64>() / (2.0 * step);
            let (fc, _) = f(&candidate);
            if fc <= bound + 1e-15 * bound.abs().max(1.0) || step < 1e-20 {
                break candidate;
            }
            step *= 0.5;
        };
        let (fn_, gn) = f(&next);
        if fn_ > fw {
            if restarted {
                // A plain projected step from w no longer descends: w is optimal to
                // rounding; stop with its gap.
                let gap = gap_at(&w, &gw);
                return (
                    w,
                    SolverReport {
                        iterations: iteration + 1,
                        gap,
                    },
                );
            }
            // Monotone restart: drop the momentum and step from w instead.
            y = w.clone();
            t = 1.0;
            restarted = true;
            continue;
        }
        restarted = false;
        let t_next = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
        y = next
            .iter()
            .zip(&w)
            .map(|(a, b)| a + (t - 1.0) / t_next * (a - b))
            .collect();
        t = t_next;
        w = next;
        fw = fn_;
        gw = gn;
    }
    let gap = gap_at(&w, &gw);
    (
        w,
        SolverReport {
            iterations: max_iterations,
            gap,
        },
    )
}

/// The min-norm point of the convex hull of the rows behind Gramian `m`:
/// argmin_{α∈Δ} αᵀMα. M is scaled by its trace first (the argmin does not change).
pub fn min_norm_weights(
    m: &[Vec<f64>],
    tolerance: f64,
    max_iterations: usize,
) -> (Vec<f64>, SolverReport) {
    let n = m.len();
    let trace: f64 = (0..n).map(|i| m[i][i]).sum();
    let scale = if trace > 0.0 { 1.0 / trace } else { 1.0 };
    minimize_on_simplex(
        n,
        |w| {
            let mw: Vec<f64> = (0..n)
                .map(|i| scale * (0..n).map(|j| m[i][j] * w[j]).sum::<f64>())
                .collect();
            let value = w.iter().zip(&mw).map(|(a, b)| a * b).sum();
            (value, mw.iter().map(|v| 2.0 * v).collect())
        },
        tolerance,
        max_iterations,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplex_projection_by_hand() {
        assert_eq!(project_simplex(&[0.2, 0.3, 0.5]), vec![0.2, 0.3, 0.5]);
        let p = project_simplex(&[2.0, 0.0, 0.0]);
        assert_eq!(p, vec![1.0, 0.0, 0.0]);
        let p = project_simplex(&[0.5, 0.5, -1.0]);
        assert!((p[0] - 0.5).abs() < 1e-12 && (p[1] - 0.5).abs() < 1e-12 && p[2] == 0.0);
    }

    /// Two gradients: the min-norm point of the segment has the closed form
    /// α₁ = ((g₂ − g₁)ᵀg₂)/‖g₁ − g₂‖² clipped to [0, 1].
    #[test]
    fn min_norm_of_two_matches_closed_form() {
        let g = vec![vec![1.0f32, 0.0], vec![-0.5, 1.0]];
        let m = gramian(&g);
        let (w, report) = min_norm_weights(&m, 1e-10, 10_000);
        let a1 = ((m[1][1] - m[0][1]) / (m[0][0] + m[1][1] - 2.0 * m[0][1])).clamp(0.0, 1.0);
        assert!((w[0] - a1).abs() < 1e-6, "{w:?} vs {a1}");
        // The gap where f64 stops resolving descent (the weight is exact to ~1e-8).
        assert!(report.gap <= 1e-8, "{report:?}");
    }
}
