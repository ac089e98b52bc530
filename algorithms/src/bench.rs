//! Measurements for `mtlbench bench`: the f32 matmul rate of a device and the time per
//! training step of a trainer, with the FLOPs each step does. Every figure waits for the
//! device to finish its work (`Synchronize`), so GPU timings are not launch times.

use crate::train::Trainer;
use dfdx::prelude::*;
use std::hint::black_box;
use std::time::Instant;

/// A device the benchmarks can time: one that runs the engine and can be waited for.
pub trait BenchDevice: Device<f32> + Synchronize {}
impl<D: Device<f32> + Synchronize> BenchDevice for D {}

/// Achieved GFLOP/s of an n×n by n×n f32 matmul on `dev` (on the CPU: in the current
/// rayon pool), 2n³ FLOPs per product, the best of `reps` timed products after one warm-up.
pub fn matmul_gflops<D: Device<f32> + Synchronize>(dev: &D, n: usize, reps: usize) -> f64 {
    let a: Tensor<(usize, usize), f32, D> = dev.sample_uniform_like(&(n, n));
    let b: Tensor<(usize, usize), f32, D> = dev.sample_uniform_like(&(n, n));
    black_box(a.clone().matmul(b.clone()));
    dev.synchronize();
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        black_box(a.clone().matmul(b.clone()));
        dev.synchronize();
        best = best.min(start.elapsed().as_secs_f64());
    }
    2.0 * (n as f64).powi(3) / best / 1e9
}

/// FLOPs of one forward pass of `trainer`'s network on a batch of `batch` rows through
/// the shared layers and every task's own layers (2 per multiply-add; bias adds and
/// activations not counted).
pub fn forward_flops<D: Device<f32>>(trainer: &Trainer<'_, D>, batch: usize) -> f64 {
    let macs: usize = trainer.net.layers.iter().map(|l| l.macs()).sum();
    2.0 * (macs * batch) as f64
}

/// Seconds per optimizer step, the median of `rounds` rounds of `steps` steps each, after
/// `steps` warm-up steps. `per_task` selects the per-task gradient path. The steps cycle
/// through the training split's consecutive batches of `batch` rows, as training does:
/// on one batch repeated for hundreds of steps the network overfits it and the task
/// gradients degenerate, which made MGDA's min-norm solver take ~7,100 iterations a step
/// on W1 against ~1,100–2,900 in training. The batches are built before the timing.
pub fn seconds_per_step<D: Device<f32> + Synchronize>(
    trainer: &mut Trainer<'_, D>,
    batch: usize,
    steps: usize,
    rounds: usize,
    per_task: bool,
) -> f64 {
    let count = (trainer.def.suite.x.train.rows / batch.max(1)).max(1);
    let data: Vec<_> = (0..count)
        .map(|k| trainer.batch(&(k * batch..(k + 1) * batch).collect::<Vec<usize>>()))
        .collect();
    let mut next = 0;
    let mut one = |t: &mut Trainer<'_, D>| {
        let data = &data[next % count];
        next += 1;
        black_box(if per_task {
            t.step_per_task(data)
        } else {
            t.step(data).losses
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
            trainer.dev.synchronize();
            start.elapsed().as_secs_f64() / steps as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Seconds to take the task gradients G of `trainer`'s shared parameters and their Gramian
/// on a batch of `batch` rows, by one forward and backward pass per task (`batched` false)
/// or by one trunk forward and one trunk backward batched over the tasks (`trunk`; the
/// T passes where the network is not a trunk network): the median of `rounds` rounds of
/// `steps` each, after `steps` warm-up repetitions. No optimizer step.
pub fn seconds_per_task_gradients<D: Device<f32> + Synchronize>(
    trainer: &Trainer<'_, D>,
    batch: usize,
    steps: usize,
    rounds: usize,
    batched: bool,
) -> f64 {
    let rows: Vec<usize> = (0..batch).collect();
    let data = trainer.batch(&rows);
    let one = || {
        let g = if batched {
            crate::trunk_gradients::task_gradients(&trainer.net, &trainer.kinds, &data)
        } else {
            None
        };
        let mut g = g.unwrap_or_else(|| {
            crate::engine::per_task_gradients(&trainer.net, &trainer.kinds, &data)
        });
        black_box(g.jacobian.gramian());
    };
    for _ in 0..steps {
        one();
    }
    let mut times: Vec<f64> = (0..rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            for _ in 0..steps {
                one();
            }
            trainer.dev.synchronize();
            start.elapsed().as_secs_f64() / steps as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Seconds per evaluated row of one evaluation point as training makes it (the validation
/// and the test split: forward passes in chunks, off the tape, then every task's metrics),
/// the median of `rounds` evaluations after one warm-up.
pub fn seconds_per_evaluated_row<D: Device<f32> + Synchronize>(
    trainer: &Trainer<'_, D>,
    rounds: usize,
) -> f64 {
    let x = &trainer.def.suite.x;
    let rows = (x.val.rows + x.test.rows).max(1);
    let one = || {
        let mut points = Vec::new();
        for split in [crate::split::Split::Val, crate::split::Split::Test] {
            black_box(trainer.evaluate(split, 0, 0, &mut points));
        }
        black_box(points);
    };
    one();
    let mut times: Vec<f64> = (0..rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            one();
            trainer.dev.synchronize();
            start.elapsed().as_secs_f64() / rows as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
