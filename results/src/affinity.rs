//! Task relationships from matrices (docs/FORMULAS.md#relationship-matrices): Spearman rank
//! correlation of a measured matrix with a planted one over off-diagonal pairs, and TAG's selection
//! of task groups from an inter-task affinity matrix.

/// Ranks of `values` (1 = smallest), ties sharing their average rank.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let average = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = average;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman's ρ: the Pearson correlation of the ranks. NaN when either side is constant
/// or has fewer than two values.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "paired samples");
    if a.len() < 2 {
        return f64::NAN;
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 {
        f64::NAN
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// The unordered off-diagonal pairs i < j of a square matrix, each the mean of (i, j) and
/// (j, i) (so a directed affinity Z_{i→j} is compared as the pair's mutual affinity).
pub fn pair_values(m: &[Vec<f64>]) -> Vec<f64> {
    let t = m.len();
    let mut out = Vec::new();
    for i in 0..t {
        for j in i + 1..t {
            out.push(0.5 * (m[i][j] + m[j][i]));
        }
    }
    out
}

/// Spearman's ρ between a measured and a planted matrix over their off-diagonal pairs.
pub fn rank_agreement(measured: &[Vec<f64>], planted: &[Vec<f64>]) -> f64 {
    let (a, b) = (pair_values(measured), pair_values(planted));
    if a.iter().chain(&b).any(|v| !v.is_finite()) {
        return f64::NAN;
    }
    spearman(&a, &b)
}

/// TAG's score of a group for its member `j`: the mean affinity onto j from the other
/// members, −10⁶ for a singleton (TAG_network_selection.ipynb).
fn group_score(z: &[Vec<f64>], group: u32, j: usize) -> f64 {
    let others: Vec<usize> = (0..z.len())
        .filter(|&i| i != j && group & (1 << i) != 0)
        .collect();
    if others.is_empty() {
        -1e6
    } else {
        others.iter().map(|&i| z[i][j]).sum::<f64>() / others.len() as f64
    }
}

/// The largest task count `tag_groups` searches exhaustively.
pub const MAX_GROUPING_TASKS: usize = 8;

/// TAG's best choice of at most `splits` groups (task sets, overlap allowed) covering every
/// task, by total = mean over tasks j of max over chosen groups Γ ∋ j of score(Γ, j);
/// `z[i][j]` = Ẑ_{i→j}. An exhaustive search over the 2ᵀ − 1 candidate groups; ties go to
/// fewer groups, then to the first found (smaller masks). `None` when T > `MAX_GROUPING_TASKS`.
pub fn tag_groups(z: &[Vec<f64>], splits: usize) -> Option<(Vec<Vec<usize>>, f64)> {
    let t = z.len();
    if t == 0 || t > MAX_GROUPING_TASKS || splits == 0 {
        return None;
    }
    let full: u32 = (1 << t) - 1;
    let candidates: Vec<u32> = (1..=full).collect();
    // score[c][j]: candidate c's score for task j (−∞ when j ∉ c).
    let score: Vec<Vec<f64>> = candidates
        .iter()
        .map(|&g| {
            (0..t)
                .map(|j| {
                    if g & (1 << j) != 0 {
                        group_score(z, g, j)
                    } else {
                        f64::NEG_INFINITY
                    }
                })
                .collect()
        })
        .collect();
    let mut best: Option<(Vec<usize>, f64)> = None;
    // Depth-first over increasing candidate indices; `cover` is the best score per task
    // of the groups chosen so far.
    fn search(
        start: usize,
        left: usize,
        chosen: &mut Vec<usize>,
        cover: &[f64],
        score: &[Vec<f64>],
        best: &mut Option<(Vec<usize>, f64)>,
    ) {
        if cover.iter().all(|v| v.is_finite()) {
            let total = cover.iter().sum::<f64>() / cover.len() as f64;
            let better = best.as_ref().is_none_or(|(groups, b)| {
                total > *b || (total == *b && chosen.len() < groups.len())
            });
            if better {
                *best = Some((chosen.clone(), total));
            }
        }
        if left == 0 {
            return;
        }
        for c in start..score.len() {
            let next: Vec<f64> = cover
                .iter()
                .zip(&score[c])
                .map(|(a, b)| a.max(*b))
                .collect();
            chosen.push(c);
            search(c + 1, left - 1, chosen, &next, score, best);
            chosen.pop();
        }
    }
    search(
        0,
        splits,
        &mut Vec::new(),
        &vec![f64::NEG_INFINITY; t],
        &score,
        &mut best,
    );
    best.map(|(chosen, total)| {
        let groups = chosen
            .iter()
            .map(|&c| (0..t).filter(|j| candidates[c] & (1 << j) != 0).collect())
            .collect();
        (groups, total)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_by_hand() {
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        // Ranks (1, 2, 3, 4) vs (2, 1, 4, 3): d² = 4, ρ = 1 − 6·4/(4·15) = 0.6.
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[2.0, 1.0, 4.0, 3.0]) - 0.6).abs() < 1e-12);
        // Ties take their average rank: (1, 2.5, 2.5) vs (1, 2, 3) gives ρ = √3/2.
        let tied = spearman(&[0.0, 1.0, 1.0], &[0.0, 1.0, 2.0]);
        assert!((tied - 3f64.sqrt() / 2.0).abs() < 1e-12);
        assert!(spearman(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
    }

    #[test]
    fn directed_pairs_are_symmetrised() {
        let m = vec![
            vec![0.0, 1.0, 2.0],
            vec![3.0, 0.0, 4.0],
            vec![0.0, 6.0, 0.0],
        ];
        assert_eq!(pair_values(&m), vec![2.0, 1.0, 5.0]);
    }

    /// Two planted blocks {0, 1} and {2, 3}: two groups recover them; one group must hold
    /// everything; with three, the blocks stay the best (a third group cannot raise any
    /// task's best score).
    #[test]
    fn tag_groups_recover_planted_blocks() {
        let (hi, lo) = (0.5, -0.2);
        let z: Vec<Vec<f64>> = (0..4)
            .map(|i| {
                (0..4)
                    .map(|j| if (i < 2) == (j < 2) { hi } else { lo })
                    .collect()
            })
            .collect();
        let (groups, total) = tag_groups(&z, 2).unwrap();
        assert_eq!(groups, vec![vec![0, 1], vec![2, 3]]);
        assert!((total - hi).abs() < 1e-12);
        let (one, total_one) = tag_groups(&z, 1).unwrap();
        assert_eq!(one, vec![vec![0, 1, 2, 3]]);
        // Each task: one partner at 0.5, two at −0.2 → (0.5 − 0.4)/3.
        assert!((total_one - 0.1 / 3.0).abs() < 1e-12);
        assert_eq!(tag_groups(&z, 3).unwrap().0, groups);
        // Directed: task 0 helps 1 a lot but 1 does not help 0; group scores read Z_{i→j}.
        let directed = vec![vec![0.0, 0.9], vec![-0.1, 0.0]];
        let (g, total) = tag_groups(&directed, 2).unwrap();
        assert_eq!(g, vec![vec![0, 1]]);
        assert!((total - 0.4).abs() < 1e-12);
        assert!(tag_groups(&vec![vec![0.0; 9]; 9], 2).is_none());
    }
}
