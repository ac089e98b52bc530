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

/// GGᵀ of per-task gradients (rows), in f64; each pair's product is computed once.
pub fn gramian(grads: &[Vec<f32>]) -> Vec<Vec<f64>> {
    let t = grads.len();
    let mut m = vec![vec![0.0; t]; t];
    for i in 0..t {
        for j in i..t {
            let v = dot(&grads[i], &grads[j]);
            m[i][j] = v;
            m[j][i] = v;
        }
    }
    m
}

/// aᵀb in f64.
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

/// Minimises a smooth convex `f` over a convex set given by its Euclidean `project`ion, by
/// FISTA with backtracking and monotone restarts, from `start`. `f(w, grad)` returns the
/// value at `w` and writes its gradient into `grad`; `project` projects in place. Stops when
/// `stationarity(w, ∇f(w))` falls below `tolerance`, when a plain projected step from the
/// iterate no longer lowers f in f64 arithmetic, or after `max_iterations`; the report
/// carries the final stationarity measure. Every vector of the iteration is allocated once:
/// MGDA runs it at every training step, for 1,000–3,000 iterations on W1.
pub fn minimize_projected(
    start: Vec<f64>,
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    mut project: impl FnMut(&mut [f64]),
    stationarity: impl Fn(&[f64], &[f64]) -> f64,
    tolerance: f64,
    max_iterations: usize,
) -> (Vec<f64>, SolverReport) {
    let n = start.len();
    let mut w = start;
    let mut y = w.clone();
    let (mut gw, mut gy, mut gc) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let (mut candidate, mut diff) = (vec![0.0; n], vec![0.0; n]);
    let mut t: f64 = 1.0;
    let mut step = 1.0;
    let mut fw = f(&w, &mut gw);
    let mut restarted = false;
    for iteration in 0..max_iterations {
        let gap = stationarity(&w, &gw);
        if gap <= tolerance {
            return (
                w,
                SolverReport {
                    iterations: iteration,
                    gap,
                },
            );
        }
        let fy = f(&y, &mut gy);
        // Backtracking: shrink the step until the quadratic upper bound holds; the accepted
        // candidate's value and gradient (in `gc`) are kept for the next iterate.
        let fc = loop {
            for ((c, a), g) in candidate.iter_mut().zip(&y).zip(&gy) {
                *c = a - step * g;
            }
            project(&mut candidate);
            for ((d, a), b) in diff.iter_mut().zip(&candidate).zip(&y) {
                *d = a - b;
            }
            let bound = fy
                + diff.iter().zip(&gy).map(|(d, g)| d * g).sum::<f64>()
                + diff.iter().map(|d| d * d).sum::<f64>() / (2.0 * step);
            let fc = f(&candidate, &mut gc);
            if fc <= bound + 1e-15 * bound.abs().max(1.0) || step < 1e-20 {
                break fc;
            }
            step *= 0.5;
        };
        if fc > fw {
            if restarted {
                // A plain projected step from w no longer descends: w is optimal to
                // rounding; stop with its measure.
                let gap = stationarity(&w, &gw);
                return (
                    w,
                    SolverReport {
                        iterations: iteration + 1,
                        gap,
                    },
                );
            }
            // Monotone restart: drop the momentum and step from w instead.
            y.copy_from_slice(&w);
            t = 1.0;
            restarted = true;
            continue;
        }
        restarted = false;
        let t_next = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
        for ((y, a), b) in y.iter_mut().zip(&candidate).zip(&w) {
            *y = a + (t - 1.0) / t_next * (a - b);
        }
        t = t_next;
        std::mem::swap(&mut w, &mut candidate);
        std::mem::swap(&mut gw, &mut gc);
        fw = fc;
    }
    let gap = stationarity(&w, &gw);
    (
        w,
        SolverReport {
            iterations: max_iterations,
            gap,
        },
    )
}

/// Minimises a smooth convex `f` over the probability simplex from the uniform point; the
/// stationarity measure is the Frank–Wolfe gap ⟨∇f(w), w⟩ − minᵢ ∂ᵢf(w).
pub fn minimize_on_simplex(
    n: usize,
    f: impl FnMut(&[f64], &mut [f64]) -> f64,
    tolerance: f64,
    max_iterations: usize,
) -> (Vec<f64>, SolverReport) {
    let mut sorted = Vec::with_capacity(n);
    minimize_projected(
        vec![1.0 / n as f64; n],
        f,
        |v| project_simplex(v, &mut sorted),
        frank_wolfe_gap,
        tolerance,
        max_iterations,
    )
}

/// The min-norm point of the convex hull of the rows behind Gramian `m`:
/// argmin_{α∈Δ} αᵀMα. M is scaled by its trace first (the argmin does not change). The
/// iterative solution is then finished exactly on its support (`exact_on_support`): on an
/// ill-conditioned Gramian (two nearly opposite gradients) the iteration stalls about 1e-6
/// from the minimiser, where f64 no longer resolves descent, while the optimal face's
/// linear system does not.
pub fn min_norm_weights(
    m: &[Vec<f64>],
    tolerance: f64,
    max_iterations: usize,
) -> (Vec<f64>, SolverReport) {
    let n = m.len();
    let trace: f64 = (0..n).map(|i| m[i][i]).sum();
    let scale = if trace > 0.0 { 1.0 / trace } else { 1.0 };
    let scaled: Vec<Vec<f64>> = m
        .iter()
        .map(|row| row.iter().map(|v| v * scale).collect())
        .collect();
    let (w, report) = min_norm_iteration(&scaled, tolerance, max_iterations);
    match exact_on_support(&scaled, &w) {
        Some((exact, gap)) => (
            exact,
            SolverReport {
                iterations: report.iterations,
                gap,
            },
        ),
        None => (w, report),
    }
}

/// The quadratic αᵀMα at `w`, with Mw into `mw` and the gradient 2Mw into `grad`.
fn quadratic_value(m: &[Vec<f64>], w: &[f64], mw: &mut [f64], grad: &mut [f64]) -> f64 {
    for (x, row) in mw.iter_mut().zip(m) {
        *x = row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>();
    }
    for (g, x) in grad.iter_mut().zip(mw.iter()) {
        *g = 2.0 * x;
    }
    w.iter().zip(mw.iter()).map(|(a, b)| a * b).sum()
}

/// The Frank–Wolfe gap ⟨g, w⟩ − minᵢ gᵢ (`minimize_on_simplex`'s stationarity measure).
fn frank_wolfe_gap(w: &[f64], g: &[f64]) -> f64 {
    let inner: f64 = w.iter().zip(g).map(|(a, b)| a * b).sum();
    inner - g.iter().cloned().fold(f64::INFINITY, f64::min)
}

/// The Euclidean projection of `v` onto the probability simplex (Duchi et al. 2008), in
/// place, sorting in `sorted`.
pub fn project_simplex(v: &mut [f64], sorted: &mut Vec<f64>) {
    sorted.clear();
    sorted.extend_from_slice(v);
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
    for x in v.iter_mut() {
        *x = (*x - theta).max(0.0);
    }
}

/// `minimize_on_simplex` of αᵀMα (gradient 2Mα) from the uniform point.
fn min_norm_iteration(
    m: &[Vec<f64>],
    tolerance: f64,
    max_iterations: usize,
) -> (Vec<f64>, SolverReport) {
    let mut mw = vec![0.0; m.len()];
    minimize_on_simplex(
        m.len(),
        |w, grad| quadratic_value(m, w, &mut mw, grad),
        tolerance,
        max_iterations,
    )
}

/// The Frank–Wolfe gap of αᵀMα on the simplex at `w`: wᵀ∇ − minᵢ ∂ᵢ, with ∇ = 2Mw.
fn simplex_gap(m: &[Vec<f64>], w: &[f64]) -> f64 {
    let mw: Vec<f64> = m
        .iter()
        .map(|row| row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>())
        .collect();
    let value: f64 = w.iter().zip(&mw).map(|(a, b)| a * b).sum();
    2.0 * (value - mw.iter().cloned().fold(f64::INFINITY, f64::min))
}

/// The exact minimiser of αᵀMα on the simplex on the face that `w` points at: for a
/// support S, the KKT conditions give α_S ∝ M_SS⁻¹1. Supports from `w`'s coordinates above
/// 1e-9, 1e-6 and 1e-3 of its largest are tried in turn; a candidate is kept when it is
/// feasible (α ≥ 0) and optimal to rounding (Frank–Wolfe gap ≤ 1e-13 of the trace-scaled
/// problem) and better than `w`'s gap. Returns it with its gap; `None` keeps `w` (a
/// singular M_SS — dependent gradients, whose minimiser is not unique — or no face fits).
fn exact_on_support(m: &[Vec<f64>], w: &[f64]) -> Option<(Vec<f64>, f64)> {
    let n = w.len();
    let largest = w.iter().cloned().fold(0.0, f64::max);
    let current = simplex_gap(m, w);
    let mut tried: Vec<Vec<usize>> = Vec::new();
    for threshold in [1e-9, 1e-6, 1e-3] {
        let support: Vec<usize> = (0..n).filter(|&i| w[i] > threshold * largest).collect();
        if support.is_empty() || tried.contains(&support) {
            continue;
        }
        tried.push(support.clone());
        let sub: Vec<Vec<f64>> = support
            .iter()
            .map(|&i| support.iter().map(|&j| m[i][j]).collect())
            .collect();
        let Some(x) = solve_linear(&sub, &vec![1.0; support.len()]) else {
            continue;
        };
        let total: f64 = x.iter().sum();
        if !(total.is_finite() && total > 0.0) || x.iter().any(|v| *v < 0.0) {
            continue;
        }
        let mut alpha = vec![0.0; n];
        for (k, &i) in support.iter().enumerate() {
            alpha[i] = x[k] / total;
        }
        let gap = simplex_gap(m, &alpha);
        if gap <= 1e-13 && gap <= current {
            return Some((alpha, gap));
        }
    }
    None
}

/// Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations: (eigenvalues,
/// eigenvectors as columns of V), unsorted. Deterministic; sweeps until the off-diagonal
/// mass is below 1e-15 of the total (at most 100 sweeps).
pub fn symmetric_eigen(a: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = a.len();
    let mut m: Vec<Vec<f64>> = a.to_vec();
    let mut v: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();
    let total: f64 = m
        .iter()
        .flatten()
        .map(|x| x * x)
        .sum::<f64>()
        .max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |j| *j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i][j] * m[i][j])
            .sum();
        if off <= 1e-30 * total {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if m[p][q].abs() < 1e-300 {
                    continue;
                }
                let theta = (m[q][q] - m[p][p]) / (2.0 * m[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (mkp, mkq) = (m[k][p], m[k][q]);
                    m[k][p] = c * mkp - s * mkq;
                    m[k][q] = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let (mpk, mqk) = (m[p][k], m[q][k]);
                    m[p][k] = c * mpk - s * mqk;
                    m[q][k] = s * mpk + c * mqk;
                }
                for row in v.iter_mut() {
                    let (vkp, vkq) = (row[p], row[q]);
                    row[p] = c * vkp - s * vkq;
                    row[q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| m[i][i]).collect(), v)
}

/// Solves A x = b by Gaussian elimination with partial pivoting; `None` when A is singular
/// (a pivot below 1e-300).
pub fn solve_linear(a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut m: Vec<Vec<f64>> = a
        .iter()
        .zip(b)
        .map(|(row, bi)| row.iter().cloned().chain([*bi]).collect())
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[pivot][col].abs() < 1e-300 {
            return None;
        }
        m.swap(col, pivot);
        for row in col + 1..n {
            let f = m[row][col] / m[col][col];
            for k in col..=n {
                m[row][k] -= f * m[col][k];
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let rest: f64 = (row + 1..n).map(|k| m[row][k] * x[k]).sum();
        x[row] = (m[row][n] - rest) / m[row][row];
    }
    Some(x)
}

/// The stationarity measure of argmin_v vᵀQv s.t. v ≥ lower at `v`: the norm of the
/// projected-gradient map with step 1/L (L = 2·maxᵢ Σⱼ|Qᵢⱼ|, a curvature bound), divided by
/// the step; zero exactly at the KKT point.
pub fn quadratic_above_residual(q: &[Vec<f64>], lower: &[f64], v: &[f64]) -> f64 {
    let n = lower.len();
    let g: Vec<f64> = (0..n)
        .map(|i| 2.0 * (0..n).map(|j| q[i][j] * v[j]).sum::<f64>())
        .collect();
    let step = quadratic_step(q);
    v.iter()
        .zip(&g)
        .zip(lower)
        .map(|((x, gi), l)| (x - (x - step * gi).max(*l)).powi(2))
        .sum::<f64>()
        .sqrt()
        / step
}

/// 1/L for the quadratic vᵀQv (L = 2·maxᵢ Σⱼ|Qᵢⱼ|), or 1 for Q = 0.
fn quadratic_step(q: &[Vec<f64>]) -> f64 {
    let lipschitz = 2.0
        * q.iter()
            .map(|r| r.iter().map(|x| x.abs()).sum::<f64>())
            .fold(0.0, f64::max);
    if lipschitz > 0.0 {
        1.0 / lipschitz
    } else {
        1.0
    }
}

/// argmin_v vᵀQv subject to v ≥ lower (elementwise): `minimize_projected` with a clamp;
/// the stationarity measure is `quadratic_above_residual`.
pub fn min_quadratic_above(
    q: &[Vec<f64>],
    lower: &[f64],
    tolerance: f64,
    max_iterations: usize,
) -> (Vec<f64>, SolverReport) {
    let mut qv = vec![0.0; lower.len()];
    let step = quadratic_step(q);
    // The norm of the projected-gradient step from v, over the step.
    let residual = |v: &[f64], g: &[f64]| -> f64 {
        v.iter()
            .zip(g)
            .zip(lower)
            .map(|((x, gi), l)| (x - (x - step * gi).max(*l)).powi(2))
            .sum::<f64>()
            .sqrt()
            / step
    };
    minimize_projected(
        lower.to_vec(),
        |v, grad| quadratic_value(q, v, &mut qv, grad),
        |v| {
            for (x, l) in v.iter_mut().zip(lower) {
                *x = x.max(*l);
            }
        },
        residual,
        tolerance,
        max_iterations,
    )
}

/// argmin_v vᵀQv subject to v ≥ lower, solved exactly (to rounding) by Lawson and Hanson's
/// active-set method for non-negative least squares, on u = v − lower ≥ 0 in Gram form: the
/// free set grows by the coordinate whose gradient is most negative, each step solves the
/// free block Q_FF u_F = −(Q·lower)_F, and a step back keeps u ≥ 0. Finite in exact
/// arithmetic. Returns the point and the number of linear solves, or `None` when a free
/// block is singular or the method has not finished within 3n + 10 additions (then use
/// `min_quadratic_above`). Q must be symmetric positive semi-definite.
pub fn min_quadratic_above_exact(q: &[Vec<f64>], lower: &[f64]) -> Option<(Vec<f64>, usize)> {
    let n = lower.len();
    let scale = (0..n).map(|i| q[i][i].abs()).fold(0.0, f64::max);
    let c: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| q[i][j] * lower[j]).sum())
        .collect();
    let gradient = |u: &[f64]| -> Vec<f64> {
        (0..n)
            .map(|i| c[i] + (0..n).map(|j| q[i][j] * u[j]).sum::<f64>())
            .collect()
    };
    let mut u = vec![0.0; n];
    let mut free = vec![false; n];
    let mut solves = 0;
    for _ in 0..3 * n + 10 {
        let g = gradient(&u);
        let size: f64 = lower.iter().chain(&u).map(|x| x.abs()).sum();
        let threshold = 1e-13 * scale * size.max(f64::MIN_POSITIVE);
        let Some(enter) = (0..n)
            .filter(|&j| !free[j] && -g[j] > threshold)
            .max_by(|&a, &b| (-g[a]).total_cmp(&-g[b]))
        else {
            return Some((lower.iter().zip(&u).map(|(l, x)| l + x).collect(), solves));
        };
        free[enter] = true;
        let mut first = true;
        loop {
            let set: Vec<usize> = (0..n).filter(|&j| free[j]).collect();
            let block: Vec<Vec<f64>> = set
                .iter()
                .map(|&i| set.iter().map(|&j| q[i][j]).collect())
                .collect();
            let rhs: Vec<f64> = set.iter().map(|&i| -c[i]).collect();
            let z = solve_linear(&block, &rhs)?;
            solves += 1;
            if z.iter().all(|x| *x > 0.0) {
                u = vec![0.0; n];
                set.iter().zip(&z).for_each(|(&i, x)| u[i] = *x);
                break;
            }
            // The coordinate just freed must move up, or rounding has stalled the method.
            if first && z[set.iter().position(|&i| i == enter)?] <= 0.0 {
                return None;
            }
            first = false;
            // Step back from u towards z until the first free coordinate reaches 0; that
            // one (and any other at 0) leaves the free set.
            let ratios: Vec<Option<f64>> = set
                .iter()
                .zip(&z)
                .map(|(&i, x)| (*x <= 0.0).then(|| u[i] / (u[i] - x)))
                .collect();
            let alpha = ratios
                .iter()
                .flatten()
                .fold(f64::INFINITY, |a, b| a.min(*b));
            for ((&i, x), ratio) in set.iter().zip(&z).zip(&ratios) {
                u[i] += alpha * (x - u[i]);
                if *ratio == Some(alpha) || u[i] <= 0.0 {
                    u[i] = 0.0;
                    free[i] = false;
                }
            }
            if free.iter().all(|f| !f) {
                break;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen_and_linear_solve_by_hand() {
        let a = vec![vec![2.0, 1.0], vec![1.0, 2.0]];
        let (mut values, vectors) = symmetric_eigen(&a);
        // A v = λ v for each column.
        for k in 0..2 {
            for i in 0..2 {
                let av: f64 = (0..2).map(|j| a[i][j] * vectors[j][k]).sum();
                assert!((av - values[k] * vectors[i][k]).abs() < 1e-12);
            }
        }
        values.sort_by(f64::total_cmp);
        assert!((values[0] - 1.0).abs() < 1e-12 && (values[1] - 3.0).abs() < 1e-12);
        let x = solve_linear(&a, &[3.0, 3.0]).unwrap();
        assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 1.0).abs() < 1e-12);
        assert!(solve_linear(&[vec![1.0, 2.0], vec![2.0, 4.0]], &[1.0, 2.0]).is_none());
        // min 2v₁² + 2v₁v₂ + 2v₂² s.t. v ≥ (1, −5): v₁ = 1 is active (∂₁ = 3 > 0) and
        // v₂ = −v₁/2 minimises the rest.
        let (v, _) = min_quadratic_above(&a, &[1.0, -5.0], 1e-12, 100_000);
        assert!(
            (v[0] - 1.0).abs() < 1e-7 && (v[1] + 0.5).abs() < 1e-7,
            "{v:?}"
        );
    }

    #[test]
    fn simplex_projection_by_hand() {
        let project_simplex = |v: &[f64]| {
            let mut p = v.to_vec();
            super::project_simplex(&mut p, &mut Vec::new());
            p
        };
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
        assert!((w[0] - a1).abs() < 1e-14, "{w:?} vs {a1}");
        assert!(report.gap <= 1e-13, "{report:?}");
    }

    /// Nearly opposite gradients (cos ≈ −0.99999, norms 1 and 50): the iteration alone
    /// stalls about 1e-6 away; the exact finish lands on the closed form.
    #[test]
    fn min_norm_of_a_nearly_opposite_pair_is_exact() {
        let theta = 0.0045f64; // cos(π − θ) ≈ −0.99999
        let g = vec![
            vec![1.0f32, 0.0],
            vec![(-50.0 * theta.cos()) as f32, (50.0 * theta.sin()) as f32],
        ];
        let m = gramian(&g);
        let (w, _) = min_norm_weights(&m, 1e-10, 10_000);
        let a1 = ((m[1][1] - m[0][1]) / (m[0][0] + m[1][1] - 2.0 * m[0][1])).clamp(0.0, 1.0);
        assert!((w[0] - a1).abs() <= 1e-13 * a1, "{w:?} vs {a1}");
        assert!((w[0] + w[1] - 1.0).abs() < 1e-15);
    }

    /// Three gradients where the minimiser lies on an edge (the third weight is 0): the
    /// exact finish keeps that face.
    #[test]
    fn min_norm_on_an_edge_keeps_the_zero_weight() {
        let g = vec![vec![1.0f32, 0.0], vec![-1.0, 0.1], vec![5.0, 5.0]];
        let m = gramian(&g);
        let (w, report) = min_norm_weights(&m, 1e-10, 10_000);
        assert_eq!(w[2], 0.0, "{w:?}");
        let a1 = ((m[1][1] - m[0][1]) / (m[0][0] + m[1][1] - 2.0 * m[0][1])).clamp(0.0, 1.0);
        assert!((w[0] - a1).abs() < 1e-14, "{w:?} vs {a1}");
        assert!(report.gap <= 1e-13, "{report:?}");
    }

    /// FNV-1a over the bits of a solve's weights, iteration count and final measure, folded
    /// into `hash`.
    fn fold(hash: &mut u64, w: &[f64], report: SolverReport) {
        let words = w
            .iter()
            .map(|x| x.to_bits())
            .chain([report.iterations as u64, report.gap.to_bits()]);
        for word in words {
            for byte in word.to_le_bytes() {
                *hash = (*hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
            }
        }
    }

    /// Trace-scaled Gramians of 2–12 dense tasks, a nearly opposite pair and a rank-deficient
    /// set. The dense entries are integers hashed into [0, 2000], divided by 1000 and shifted
    /// by −0.8: integer arithmetic and one correctly rounded division, so the same on every
    /// platform (no libm).
    fn pinned_gramians() -> Vec<Vec<Vec<f64>>> {
        let entry = |i: u64, j: u64, t: u64| {
            let h = (i * 13 + j * 7 + t).wrapping_mul(2_654_435_761) % 4_294_967_291;
            (h % 2001) as f32 / 1000.0 - 0.8
        };
        let mut cases: Vec<Vec<Vec<f32>>> = (2..=12u64)
            .map(|t| {
                (0..t)
                    .map(|i| (0..7).map(|j| entry(i, j, t)).collect())
                    .collect()
            })
            .collect();
        cases.push(vec![vec![1.0, 0.0], vec![-50.0, 0.2]]);
        cases.push(vec![vec![1.0, 2.0], vec![2.0, 4.0], vec![-1.0, 0.5]]);
        cases
            .iter()
            .map(|grads| {
                let m = gramian(grads);
                let trace: f64 = (0..m.len()).map(|i| m[i][i]).sum();
                m.iter()
                    .map(|r| r.iter().map(|v| v / trace).collect())
                    .collect()
            })
            .collect()
    }

    /// The projected-gradient iterations return, bit for bit, what they returned when each
    /// iteration allocated its vectors (FNV-1a of every weight, iteration count and final
    /// measure; the values were computed by that version of this file, commit 1e2a8be, on
    /// these inputs): the min-norm problem (MGDA), CAGrad's objective on the simplex and the
    /// box-constrained quadratic (UPGrad), on `pinned_gramians`, to the default tolerance,
    /// cut short at 7 iterations, and run to the limit.
    #[test]
    fn solver_iterations_are_pinned_bit_for_bit() {
        const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        let (mut min_norm, mut cagrad, mut above) = (FNV_OFFSET, FNV_OFFSET, FNV_OFFSET);
        for m in pinned_gramians() {
            let n = m.len();
            for (tolerance, iterations) in [(1e-10, 10_000), (1e-10, 7), (0.0, 300)] {
                let (w, r) = min_norm_iteration(&m, tolerance, iterations);
                fold(&mut min_norm, &w, r);
                let b: Vec<f64> = (0..n)
                    .map(|i| m[i].iter().sum::<f64>() / n as f64)
                    .collect();
                let phi = 0.4;
                let mut aw = vec![0.0; n];
                let (w, r) = minimize_on_simplex(
                    n,
                    |w, grad| {
                        for (i, x) in aw.iter_mut().enumerate() {
                            *x = (0..n).map(|j| m[i][j] * w[j]).sum();
                        }
                        let quad =
                            (w.iter().zip(&aw).map(|(x, y)| x * y).sum::<f64>() + 1e-8).sqrt();
                        for (i, g) in grad.iter_mut().enumerate() {
                            *g = b[i] + phi * aw[i] / quad;
                        }
                        w.iter().zip(&b).map(|(x, y)| x * y).sum::<f64>() + phi * quad
                    },
                    tolerance,
                    iterations,
                );
                fold(&mut cagrad, &w, r);
                let lower: Vec<f64> = (0..n)
                    .map(|i| if i % 2 == 0 { 0.5 } else { -0.25 })
                    .collect();
                let (w, r) = min_quadratic_above(&m, &lower, tolerance, iterations);
                fold(&mut above, &w, r);
            }
        }
        assert_eq!(min_norm, 0x15cd_ec51_4230_ade4, "min-norm iteration");
        assert_eq!(
            cagrad, 0x03bc_299f_a9f8_2e90,
            "CAGrad's objective on the simplex"
        );
        assert_eq!(above, 0x6045_2de0_7639_c9a8, "the quadratic above a bound");
    }
}
