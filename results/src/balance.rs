//! Worst-task and balance measures beside the mean Δ (docs/FORMULAS.md#worst-task-and-balance):
//! from one run's per-task relative gains against its paired `single_task` run, the worst
//! task's gain and the spread of the gains over tasks, in percent. A cell summarises each
//! over replicates as the Δ variants are (docs/FORMULAS.md#statistics).
//!
//! Both are functions of the set of gains, not of the task order: the gains are sorted
//! before they are summed, so a reordering of the tasks gives the same bits.

/// The gains sorted ascending (by `total_cmp`), the order every sum below takes.
fn sorted(gains: &[f64]) -> Vec<f64> {
    let mut sorted = gains.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

/// 100 · minₜ gainₜ: the gain of the task the method serves worst (negative: that task is
/// worse than alone). `None` without gains.
pub fn worst_task_gain(gains: &[f64]) -> Option<f64> {
    sorted(gains).first().map(|g| 100.0 * g)
}

/// 100 · √(meanₜ (gainₜ − ḡ)²), ḡ = meanₜ gainₜ: the population standard deviation of the
/// per-task gains (0 when every task gains alike; a descriptive spread of the T tasks, so
/// divided by T, not T − 1). `None` without gains.
pub fn gain_spread(gains: &[f64]) -> Option<f64> {
    if gains.is_empty() {
        return None;
    }
    let sorted = sorted(gains);
    let n = sorted.len() as f64;
    let mean = sorted.iter().sum::<f64>() / n;
    let variance = sorted.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / n;
    Some(100.0 * variance.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By hand: gains +30 %, −20 % (negative transfer): worst −20 %; mean 5 %, deviations
    /// ±25 %, spread 25 %. Three tasks with opposite gains +10 %, −10 %, 0: worst −10 %,
    /// spread √((100 + 100 + 0)/3) = 8.1650 %.
    #[test]
    fn worst_and_spread_by_hand() {
        let close = |x: Option<f64>, y: f64| (x.unwrap() - y).abs() < 1e-9;
        assert!(close(worst_task_gain(&[0.3, -0.2]), -20.0));
        assert!(close(gain_spread(&[0.3, -0.2]), 25.0));
        assert!(close(worst_task_gain(&[0.1, -0.1, 0.0]), -10.0));
        assert!(close(
            gain_spread(&[0.1, -0.1, 0.0]),
            (200.0f64 / 3.0).sqrt()
        ));
        // One task: its gain, no spread; none: nothing.
        assert!(close(worst_task_gain(&[0.05]), 5.0));
        assert_eq!(gain_spread(&[0.05]), Some(0.0));
        assert_eq!((worst_task_gain(&[]), gain_spread(&[])), (None, None));
    }

    /// Every permutation of five gains gives the same bits.
    #[test]
    fn task_order_changes_nothing() {
        let gains = [0.13, -0.071, 0.4, 1e-3, -0.33];
        let (worst, spread) = (worst_task_gain(&gains), gain_spread(&gains));
        let mut order: Vec<usize> = (0..gains.len()).collect();
        // Heap's algorithm over the 120 orders.
        fn permute(k: usize, order: &mut Vec<usize>, seen: &mut Vec<Vec<usize>>) {
            if k == 1 {
                seen.push(order.clone());
                return;
            }
            for i in 0..k {
                permute(k - 1, order, seen);
                let j = if k.is_multiple_of(2) { i } else { 0 };
                order.swap(j, k - 1);
            }
        }
        let mut seen = Vec::new();
        permute(gains.len(), &mut order, &mut seen);
        assert_eq!(seen.len(), 120);
        for order in seen {
            let shuffled: Vec<f64> = order.iter().map(|&i| gains[i]).collect();
            assert_eq!(
                worst_task_gain(&shuffled).map(f64::to_bits),
                worst.map(f64::to_bits)
            );
            assert_eq!(
                gain_spread(&shuffled).map(f64::to_bits),
                spread.map(f64::to_bits)
            );
        }
    }
}
