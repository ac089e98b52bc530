//! The CPU's own kernels for `conv`: a convolution layer (im2col patches, the product by
//! the weight, the bias and an optional max-pool) as one op on the tape, and the window
//! maximum of a further max-pool, each a loop over plain slices (and dfdx's `matmul`) with
//! its backward pass recorded on the tape as one more.
//!
//! dfdx's generic gather walks every element through its n-dimensional index arithmetic
//! (`index_to_i`), and a max-pool built from gathers and pairwise maxima makes k² gathers,
//! k² − 1 element-wise maxima and as many backward passes; on a LeNet step (batch 256 of
//! 28×28) those took more time than the matrix products; so did the broadcast bias add and
//! its backward (dfdx's index arithmetic per element), and the product of a first layer's
//! input gradient, which nothing reads. These kernels compute exactly the same values and
//! gradients as the gather route, in the same order of accumulation and by the same gemm
//! calls, so a run's records do not depend on which one ran (tests in `conv` check it bit
//! for bit). Zero padding is read as zeros and receives no gradient.
//!
//! The route is chosen by the device's type (`device::is_cpu`), so the crate's generic
//! bounds stay `D: Device<E>`; CUDA keeps the gather route. Gradient buffers are reached
//! through `Gradients::get_or_alloc_mut` and seen as vectors by downcasting the device's
//! buffer type to the CPU's, which is what the type check guarantees.

use crate::conv::{Conv2d, MaxPool2d};
use crate::device::{host_values, is_cpu};
use dfdx::prelude::*;
use std::any::Any;

type Matrix<E, D, T> = Tensor<(usize, usize), E, D, T>;

/// A gradient buffer of device `D` as a vector; `D` must be the CPU (checked by the caller).
pub(crate) fn cpu_vec<E: Dtype, D: Storage<E>>(buffer: &mut D::Vec) -> &mut Vec<E> {
    let any: &mut dyn Any = buffer;
    any.downcast_mut::<<Cpu as Storage<E>>::Vec>()
        .expect("a CPU gradient buffer")
}

/// Records `backward(grad_out, grad_in)` for `out = f(inp)` on `tape`.
fn record<E: Dtype, D: Device<E>, T: Tape<E, D>>(
    tape: &mut T,
    inp: &Matrix<E, D, NoneTape>,
    out: &Matrix<E, D, NoneTape>,
    backward: impl FnOnce(&[E], &mut [E]) + 'static,
) {
    let (inp, out) = (inp.ghost(), out.ghost());
    tape.add_backward_op(move |grads| {
        grads.try_alloc_for(&inp)?;
        grads.try_alloc_for(&out)?;
        // The output's gradient is lent out of its entry while the input's is written
        // (two entries of one map cannot be borrowed at once), then put back.
        let grad_out = std::mem::take(cpu_vec::<E, D>(grads.get_or_alloc_mut(&out)?));
        backward(&grad_out, cpu_vec::<E, D>(grads.get_or_alloc_mut(&inp)?));
        *cpu_vec::<E, D>(grads.get_or_alloc_mut(&out)?) = grad_out;
        Ok(())
    });
}

/// A window row's patch column, and where it is in the image: its first input column and
/// its dj inside the image (`patch_rows`).
type PatchRow = (usize, Option<(usize, std::ops::Range<usize>)>);

/// For each output pixel's patch row di of `conv`: the patch column where the row starts,
/// the input column of its first in-image value, and the range of dj inside the image
/// (`None` where the whole row lies in the padding). Patch columns run (di, dj, c); the
/// image row's values for dj in the range are contiguous in the input (NHWC).
fn patch_rows(conv: &Conv2d) -> Vec<PatchRow> {
    let out = conv.output();
    let (k, s, p) = (conv.kernel, conv.stride, conv.padding);
    let (height, width, channels) = (conv.input.height, conv.input.width, conv.input.channels);
    let mut rows = Vec::with_capacity(out.height * out.width * k);
    for oi in 0..out.height {
        for oj in 0..out.width {
            for di in 0..k {
                let start = di * k * channels;
                let i = oi * s + di;
                if i < p || i - p >= height {
                    rows.push((start, None));
                    continue;
                }
                // dj inside: p ≤ oj·s + dj < p + width.
                let first = p.saturating_sub(oj * s).min(k);
                let last = (p + width).saturating_sub(oj * s).min(k);
                if first >= last {
                    rows.push((start, None));
                    continue;
                }
                let column = ((i - p) * width + (oj * s + first - p)) * channels;
                rows.push((start, Some((column, first..last))));
            }
        }
    }
    rows
}

/// The convolution of every row of `x` by `weight` ((k·k·C_in) × C_out) plus `bias`, as
/// one op on the tape: the patches are copied from `x` row by row of each window (no index
/// per value), multiplied by the weight in one matrix product, and the bias is added in
/// one pass; with `pool` the result is that max-pool of the biased values, its winners
/// kept for the backward pass, which first hands each gradient to its window's maximum as
/// `window_max` does. Off the tape (`NoneTape`: evaluation) no winner is kept and no
/// backward pass is built. The backward pass gives the bias its column sums (row by row),
/// the weight patchesᵀ·g and, with `input_gradient`, x the scatter of g·weightᵀ, taken a
/// few images at a time; without it x gets no gradient and g·weightᵀ is not computed at all.
///
/// The same values and gradients as the generic route bit for bit (patch gather, `matmul`,
/// broadcast bias add): the products are dfdx's own `matmul` over the same shapes and
/// strides as that route's forward and backward products (so the same gemm calls, in the
/// same accumulation order; g·weightᵀ over fewer rows per call, each entry still one sum of
/// C_out products in order, never over a single row), and every sum is taken in that
/// route's order. The generic backward adds each product into a zeroed gradient; here the
/// product is taken fresh and then added to the zeroed gradient, which differs at most in
/// the sign of a zero that the addition to 0 removes in both.
pub(crate) fn conv_bias<E: Dtype, D: Device<E>, T: Tape<E, D>>(
    conv: &Conv2d,
    x: Matrix<E, D, T>,
    weight: &Matrix<E, D, NoneTape>,
    bias: &Tensor<(usize,), E, D>,
    input_gradient: bool,
    pool: Option<&MaxPool2d>,
) -> Matrix<E, D, T> {
    debug_assert!(is_cpu::<D>());
    let (n, cols) = *x.shape();
    let (x, mut tape) = x.split_tape();
    let dev = x.device().clone();
    let values = host_values(&x);
    let out = conv.output();
    let pixels = out.height * out.width;
    let (len, c_out) = (conv.patch_len(), conv.out_channels);
    let rows = patch_rows(conv);
    let channels = conv.input.channels;
    let k = conv.kernel;
    // The patches, written once in order (not zeroed first: a LeNet batch's patch matrices
    // are 15–16 MB each): image by image, each output pixel's window rows di in turn (its
    // `rows` entries, whose patch columns follow one another), each row's padding as zeros
    // and its in-image values copied in one run.
    let mut patches = Vec::with_capacity(n * pixels * len);
    for image in (0..n).map(|i| &values[i * cols..(i + 1) * cols]) {
        for (_, inside) in &rows {
            match inside {
                Some((column, range)) if range.start == 0 && range.end == k => {
                    push_run(&mut patches, &image[*column..column + k * channels]);
                }
                Some((column, range)) => {
                    let run = (range.end - range.start) * channels;
                    patches.resize(patches.len() + range.start * channels, E::default());
                    push_run(&mut patches, &image[*column..column + run]);
                    patches.resize(patches.len() + (k - range.end) * channels, E::default());
                }
                None => patches.resize(patches.len() + k * channels, E::default()),
            }
        }
    }
    debug_assert_eq!(patches.len(), n * pixels * len);
    let patches = dev.tensor_from_vec(patches, (n * pixels, len));
    let product = patches.clone().matmul(weight.clone());
    let mut y = host_values(&product);
    drop(product);
    let b = host_values(bias);
    for row in y.chunks_exact_mut(c_out.max(1)) {
        for (v, &bc) in row.iter_mut().zip(&b) {
            *v += bc;
        }
    }
    let width = pixels * c_out;
    // With a max-pool: its windows' maxima of the biased values, which are kept (with the
    // winners) for the backward pass. Off the tape (evaluation) nothing is kept.
    let (result, pooled) = match pool {
        Some(pool) => {
            let (out, winner) = pool_forward(&y, width, pool, T::OWNS_TAPE);
            let result = dev.tensor_from_vec(out, (n, pool.output().len()));
            (result, Some((y, winner, *pool)))
        }
        None => (dev.tensor_from_vec(y, (n, width)), None),
    };
    if !T::OWNS_TAPE {
        return result.put_tape(tape);
    }
    let (x_ghost, w_ghost, b_ghost, out_ghost) =
        (x.ghost(), weight.ghost(), bias.ghost(), result.ghost());
    let weight = weight.clone();
    tape.add_backward_op(move |grads| {
        grads.try_alloc_for(&w_ghost)?;
        grads.try_alloc_for(&b_ghost)?;
        grads.try_alloc_for(&out_ghost)?;
        // The output's gradient is taken out of its entry (nothing reads it after this
        // op's backward) and handed to the products as a tensor.
        let mut g = std::mem::take(cpu_vec::<E, D>(grads.get_or_alloc_mut(&out_ghost)?));
        if let Some((values, winner, pool)) = &pooled {
            // The pool's backward into the zeroed gradient of the biased values.
            let mut g_values = vec![E::default(); values.len()];
            pool_backward(&g, winner, values, width, pool, &mut g_values);
            g = g_values;
        }
        let g_bias = cpu_vec::<E, D>(grads.get_or_alloc_mut(&b_ghost)?);
        for row in g.chunks_exact(c_out.max(1)) {
            for (gb, &v) in g_bias.iter_mut().zip(row) {
                *gb += v;
            }
        }
        if input_gradient {
            grads.try_alloc_for(&x_ghost)?;
            let g_x = cpu_vec::<E, D>(grads.get_or_alloc_mut(&x_ghost)?);
            // g·weightᵀ a few images at a time (`input_gradient_chunks`), so that each
            // chunk's product is written, copied and scattered while it is in the cache
            // rather than as one matrix of the patches' size (16 MB for LeNet's second layer
            // at batch 256). Each entry is the same sum of C_out products, in the same
            // order, whatever rows the product is taken over.
            let weight_t = weight.clone().permute::<_, Axes2<1, 0>>();
            for images in input_gradient_chunks(n, pixels, len) {
                let span = images.start * pixels..images.end * pixels;
                let g_chunk = dev.tensor_from_vec(
                    g[span.start * c_out..span.end * c_out].to_vec(),
                    (span.len(), c_out),
                );
                let g_patches = host_values(&g_chunk.matmul(weight_t.clone()));
                // The gather's backward: each patch value back to its input, image by
                // image, patch entries in order.
                scatter_patches(
                    &mut g_x[images.start * cols..images.end * cols],
                    &g_patches,
                    &rows,
                    (cols, pixels * len, len, k, channels),
                );
            }
        }
        let g = dev.tensor_from_vec(g, (n * pixels, c_out));
        let g_weight = host_values(&patches.permute::<_, Axes2<1, 0>>().matmul(g));
        for (gw, v) in cpu_vec::<E, D>(grads.get_or_alloc_mut(&w_ghost)?)
            .iter_mut()
            .zip(g_weight)
        {
            *gw += v;
        }
        Ok(())
    });
    result.put_tape(tape)
}

/// The input-gradient product's chunks of images in `conv_bias`'s backward: about 2¹⁷
/// patch values (512 KB of f32) each, and never one patch row alone (a one-row product
/// goes through gemm's matrix–vector route, which need not round as the matrix route does).
fn input_gradient_chunks(n: usize, pixels: usize, len: usize) -> Vec<std::ops::Range<usize>> {
    const VALUES: usize = 1 << 17;
    let per = (VALUES / (pixels * len).max(1)).max(if pixels == 1 { 2 } else { 1 });
    crate::train::chunk_bounds(n, per, pixels == 1)
}

/// The gather's backward for the images of `g_x` (`cols` values each): each value of
/// `g_patches` (`per_image` values per image, patch rows of `len`) added to the input it
/// was copied from, image by image, patch entries in order.
fn scatter_patches<E: Dtype>(
    g_x: &mut [E],
    g_patches: &[E],
    rows: &[PatchRow],
    (cols, per_image, len, k, channels): (usize, usize, usize, usize, usize),
) {
    for (g_image, src) in g_x
        .chunks_exact_mut(cols.max(1))
        .zip(g_patches.chunks_exact(per_image.max(1)))
    {
        for (r, (start, inside)) in rows.iter().enumerate() {
            if let Some((column, range)) = inside {
                let (column, start) = (*column, *start);
                let run = (range.end - range.start) * channels;
                let begin = (r / k) * len + start + range.start * channels;
                for (gx, &v) in g_image[column..column + run]
                    .iter_mut()
                    .zip(&src[begin..begin + run])
                {
                    *gx += v;
                }
            }
        }
    }
}

/// Appends `run` to `dst`. A window row of a small kernel on few channels is a few values
/// (5 for LeNet's first layer): a copy of a length known here is a few moves, where a copy
/// of a length known only at run time is a call to `memcpy` per row.
#[inline(always)]
fn push_run<E: Copy>(dst: &mut Vec<E>, run: &[E]) {
    fn fixed<E: Copy, const N: usize>(dst: &mut Vec<E>, run: &[E]) {
        let run: &[E; N] = run.try_into().expect("a run of N values");
        dst.extend_from_slice(run);
    }
    match run.len() {
        3 => fixed::<E, 3>(dst, run),
        5 => fixed::<E, 5>(dst, run),
        7 => fixed::<E, 7>(dst, run),
        _ => dst.extend_from_slice(run),
    }
}

/// The maximum over the k·k windows of `pool`. The gradient of an output goes to its
/// window's maximum; tied maxima share it as the gather route's balanced tree of pairwise
/// `maximum`s does (½ to each side of a tie, level by level).
pub(crate) fn window_max<E: Dtype, D: Device<E>, T: Tape<E, D>>(
    x: Matrix<E, D, T>,
    pool: &MaxPool2d,
) -> Matrix<E, D, T> {
    debug_assert!(is_cpu::<D>());
    let (n, cols) = *x.shape();
    let (x, mut tape) = x.split_tape();
    let values = host_values(&x);
    let (out, winner) = pool_forward(&values, cols, pool, T::OWNS_TAPE);
    let out = x.device().tensor_from_vec(out, (n, pool.output().len()));
    if T::OWNS_TAPE {
        let pool = *pool;
        record(&mut tape, &x, &out, move |grad_out, grad_in| {
            pool_backward(grad_out, &winner, &values, cols, &pool, grad_in);
        });
    }
    out.put_tape(tape)
}

/// The widest max-pool (its window offsets are kept as `u16`, `TIED` apart).
pub(crate) const MAX_POOL: usize = 255;

/// `winner`'s mark of an output whose maximum several windows hold.
const TIED: u16 = u16::MAX;

/// For each output pixel of `pool` (row-major), the first input column of each of its k·k
/// windows, offsets w = di·k + dj in order (a pixel's C channels follow each column): one
/// list of pixels × k² columns, the same for every row of a batch.
fn window_columns(pool: &MaxPool2d) -> Vec<usize> {
    let out = pool.output();
    let (width, channels, k) = (pool.input.width, pool.input.channels, pool.size);
    (0..out.height * out.width)
        .flat_map(|p| {
            let (oi, oj) = (p / out.width, p % out.width);
            (0..k * k).map(move |w| ((oi * k + w / k) * width + oj * k + w % k) * channels)
        })
        .collect()
}

/// The window maxima of every row of `values` (rows of `cols`); with `winners`, also per
/// output the window offset of its single maximum, or `TIED` when several windows hold the
/// maximum (then the backward pass shares the gradient as the tree does). Windows are
/// compared in offset order, output values in NHWC order, channels innermost.
fn pool_forward<E: Dtype>(
    values: &[E],
    cols: usize,
    pool: &MaxPool2d,
    winners: bool,
) -> (Vec<E>, Vec<u16>) {
    assert!(pool.size <= MAX_POOL, "a max-pool wider than {MAX_POOL}");
    let len = pool.output().len();
    let channels = pool.input.channels;
    let rows = values.len() / cols.max(1);
    let mut out = Vec::with_capacity(rows * len);
    let mut winner = Vec::with_capacity(if winners { rows * len } else { 0 });
    let columns = window_columns(pool);
    for row in values.chunks_exact(cols.max(1)) {
        for at_window in columns.chunks_exact(pool.size * pool.size) {
            for c in 0..channels {
                let (mut best, mut at) = (row[at_window[0] + c], 0);
                for (w, &column) in at_window.iter().enumerate().skip(1) {
                    let v = row[column + c];
                    if v > best {
                        (best, at) = (v, w as u16);
                    } else if v == best {
                        at = TIED;
                    }
                }
                out.push(best);
                if winners {
                    winner.push(at);
                }
            }
        }
    }
    (out, winner)
}

/// Adds each output gradient to its window's maximum in `grad_in` (rows of `cols`), tied
/// maxima sharing it as the tree of pairwise maxima does; outputs in order (the windows do
/// not overlap: each input value receives from one output at most).
fn pool_backward<E: Dtype>(
    grad_out: &[E],
    winner: &[u16],
    values: &[E],
    cols: usize,
    pool: &MaxPool2d,
    grad_in: &mut [E],
) {
    let len = pool.output().len();
    let channels = pool.input.channels;
    let m = pool.size * pool.size;
    let (mut level, mut shares) = (vec![E::default(); m], vec![E::default(); m]);
    let columns = window_columns(pool);
    for (((g_row, w_row), x_row), v_row) in grad_out
        .chunks_exact(len.max(1))
        .zip(winner.chunks_exact(len.max(1)))
        .zip(grad_in.chunks_exact_mut(cols.max(1)))
        .zip(values.chunks_exact(cols.max(1)))
    {
        for (p, at_window) in columns.chunks_exact(m).enumerate() {
            let j0 = p * channels;
            for c in 0..channels {
                let (g, at) = (g_row[j0 + c], w_row[j0 + c]);
                // A single maximum takes the whole gradient (every pair on its path has it
                // on the larger side); only ties need the tree's shares.
                if at != TIED {
                    x_row[at_window[usize::from(at)] + c] += E::ONE * g;
                    continue;
                }
                for w in 0..m {
                    level[w] = v_row[at_window[w] + c];
                }
                tie_shares(&mut level, &mut shares);
                for w in 0..m {
                    x_row[at_window[w] + c] += shares[w] * g;
                }
            }
        }
    }
}

/// Each leaf's share of the gradient of the maximum of `values` taken as a balanced tree
/// of pairwise maxima (pairs (0,1), (2,3), …, an odd last one passed up): at every pair,
/// 1 to the larger side, ½ to each side of a tie, 0 to the smaller. `values` is consumed.
/// Node i of the level with subtrees of `width` leaves covers leaves [i·width, (i+1)·width).
fn tie_shares<E: Dtype>(values: &mut [E], shares: &mut [E]) {
    let m = values.len();
    shares.fill(E::ONE);
    let half = E::ONE / (E::ONE + E::ONE);
    let (mut count, mut width) = (m, 1);
    while count > 1 {
        for i in 0..count / 2 {
            let (a, b) = (values[2 * i], values[2 * i + 1]);
            let (fa, fb) = if a > b {
                (E::ONE, E::default())
            } else if a < b {
                (E::default(), E::ONE)
            } else {
                (half, half)
            };
            let left = 2 * i * width;
            let mid = (left + width).min(m);
            let right = (mid + width).min(m);
            shares[left..mid].iter_mut().for_each(|s| *s *= fa);
            shares[mid..right].iter_mut().for_each(|s| *s *= fb);
            values[i] = if a > b { a } else { b };
        }
        if count % 2 == 1 {
            values[count / 2] = values[count - 1];
        }
        count = count.div_ceil(2);
        width *= 2;
    }
}
