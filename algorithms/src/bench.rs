//! Measurements for `mtlbench bench`: the f32 matmul rate of the CPU device and the time
//! per training step of a trainer, with the FLOPs each step does.

use crate::device::{cpu, CpuDevice};
use crate::train::Trainer;
use dfdx::prelude::*;
use std::hint::black_box;
use std::time::Instant;

/// Achieved GFLOP/s of an n×n by n×n f32 matmul on the CPU device in the current rayon
/// pool (2n³ FLOPs per product), the best of `reps` timed products after one warm-up.
pub fn matmul_gflops(n: usize, reps: usize) -> f64 {
    let dev = cpu();
    let a: Tensor<(usize, usize), f32, CpuDevice> = dev.sample_uniform_like(&(n, n));
    let b: Tensor<(usize, usize), f32, CpuDevice> = dev.sample_uniform_like(&(n, n));
    black_box(a.clone().matmul(b.clone()));
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        black_box(a.clone().matmul(b.clone()));
        best = best.min(start.elapsed().as_secs_f64());
    }
    2.0 * (n as f64).powi(3) / best / 1e9
}

/// FLOPs of one forward pass of `trainer`'s network on a batch of `batch` rows through
/// the shared layers and every task's own layers (2 per multiply-add; bias adds and
/// activations not counted).
pub fn forward_flops(trainer: &Trainer<'_, CpuDevice>, batch: usize) -> f64 {
    let macs: usize = trainer.net.layers.iter().map(|l| l.macs()).sum();
    2.0 * (macs * batch) as f64
}

/// Seconds per optimizer step, the median of `rounds` rounds of `steps` steps each, after
/// `steps` warm-up steps. `per_task` selects the per-task gradient path.
pub fn seconds_per_step(
    trainer: &mut Trainer<'_, CpuDevice>,
    batch: usize,
    steps: usize,
    rounds: usize,
    per_task: bool,
) -> f64 {
    let rows: Vec<usize> = (0..batch).collect();
    let data = trainer.batch(&rows);
    let one = |t: &mut Trainer<'_, CpuDevice>| {
        black_box(if per_task {
            t.step_per_task(&data)
        } else {
            t.step(&data).losses
        });
    };
    for _ in 0..steps {
        one(trainer);
    }
    let mut times: Vec<f64> = (0..rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            for _ in 0..steps {
                one(trainer);
            }
            start.elapsed().as_secs_f64() / steps as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
