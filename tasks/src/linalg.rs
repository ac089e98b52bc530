//! Small dense linear algebra for suite generation: Cholesky of a PSD matrix and
//! orthonormal bases, in f64.

/// Lower-triangular L with L·Lᵀ = a for a positive semi-definite `a`. Zero pivots (a
/// singular matrix such as an all-ones correlation) are allowed; a negative pivot beyond
/// `tolerance` means `a` is not PSD and gives `None`.
pub fn cholesky_psd(a: &[Vec<f64>], tolerance: f64) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for j in 0..n {
        let pivot = a[j][j] - (0..j).map(|k| l[j][k] * l[j][k]).sum::<f64>();
        if pivot < -tolerance {
            return None;
        }
        let diag = pivot.max(0.0).sqrt();
        l[j][j] = diag;
        for i in j + 1..n {
            let off = a[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if diag > tolerance {
                l[i][j] = off / diag;
            } else if off.abs() > tolerance.sqrt() {
                // A zero pivot with a non-zero column below it: not PSD.
                return None;
            }
        }
    }
    Some(l)
}

/// `k` orthonormal vectors of length `d` (Gram–Schmidt on Gaussian draws), `k ≤ d`.
pub fn orthonormal_basis(d: usize, k: usize, mut gaussian: impl FnMut() -> f64) -> Vec<Vec<f64>> {
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(k);
    while basis.len() < k {
        let mut v: Vec<f64> = (0..d).map(|_| gaussian()).collect();
        for b in &basis {
            let dot: f64 = v.iter().zip(b).map(|(x, y)| x * y).sum();
            v.iter_mut().zip(b).for_each(|(x, y)| *x -= dot * y);
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-8 {
            basis.push(v.into_iter().map(|x| x / norm).collect());
        }
    }
    basis
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reconstructs_and_handles_singular() {
        let a = vec![
            vec![1.0, 0.5, 0.2],
            vec![0.5, 1.0, 0.3],
            vec![0.2, 0.3, 1.0],
        ];
        let l = cholesky_psd(&a, 1e-9).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| l[i][k] * l[j][k]).sum();
                assert!((v - a[i][j]).abs() < 1e-12);
            }
        }
        let ones = vec![vec![1.0; 3]; 3];
        assert!(cholesky_psd(&ones, 1e-9).is_some());
        let not_psd = vec![
            vec![1.0, -0.9, -0.9],
            vec![-0.9, 1.0, -0.9],
            vec![-0.9, -0.9, 1.0],
        ];
        assert!(cholesky_psd(&not_psd, 1e-9).is_none());
    }
}
