//! The task gradients of the shared parameters as one [T, P] matrix G on the run's
//! device, held as its column blocks G = [G₁ | … | G_K], one [T, P_k] tensor per shared
//! parameter tensor (a layer's weight, its bias): its Gramian GGᵀ = Σₖ GₖGₖᵀ (products on
//! the device accumulated in f64, read back once as T×T f64), the Gramians of column blocks
//! (a layer, a parameter tensor), the products Gd, and the direction d = Gᵀw (one product
//! per block on the device, each block already in its parameter's shape). Only the T×T
//! problems are solved on the host.
//!
//! Why blocks and not one [T, P] buffer: joining the blocks into one buffer is a copy of
//! all T×P gradients, and dfdx's CPU concatenation is slow — measured on W1 (1 thread),
//! 3.6–4.3 ms per step against 0.8 ms for a plain copy, a fifth of a gradient-level step —
//! and the direction would then have to be cut back into the parameters. Every product
//! of the method library reads G through the Gramian or Gd, which the blocks give exactly.

use crate::device::host_values;
use crate::model::{Linear, Tensor1, Tensor2};
use dfdx::prelude::*;
use std::ops::Range;

/// A direction over the shared parameters (or the rows of G read as one), in G's column
/// blocks: one [P_k] tensor per block, in column order.
#[derive(Clone)]
pub struct Direction<D: Device<f32>> {
    pub blocks: Vec<Tensor1<D>>,
}

impl<D: Device<f32>> Direction<D> {
    /// The shared layers' gradients (`layers` give the shapes): each block reshaped into
    /// its weight or bias; zeros for an empty tensor.
    pub fn to_layers(&self, layers: &[Linear<D>], dev: &D) -> Vec<Linear<D>> {
        let mut blocks = self.blocks.iter();
        let mut next = |shape_len: usize| -> Option<Tensor1<D>> {
            (shape_len > 0).then(|| blocks.next().expect("a block per non-empty tensor").clone())
        };
        layers
            .iter()
            .map(|layer| {
                let (w_shape, b_shape) = (*layer.weight.shape(), *layer.bias.shape());
                let weight = match next(w_shape.0 * w_shape.1) {
                    Some(w) => w.reshape_like(&w_shape),
                    None => dev.zeros_like(&w_shape),
                };
                let bias = next(b_shape.0).unwrap_or_else(|| dev.zeros_like(&b_shape));
                Linear { weight, bias }
            })
            .collect()
    }

    /// The direction of the layers' values (the applied update of the shared layers).
    pub fn from_layers(layers: &[Linear<D>]) -> Self {
        let mut blocks = Vec::with_capacity(2 * layers.len());
        for layer in layers {
            let (i, o) = *layer.weight.shape();
            if i * o > 0 {
                blocks.push(layer.weight.clone().reshape_like(&(i * o,)));
            }
            if layer.bias.shape().0 > 0 {
                blocks.push(layer.bias.clone());
            }
        }
        Direction { blocks }
    }

    /// The direction on the host, one flat vector (tests).
    pub fn to_host(&self) -> Vec<f32> {
        self.blocks.iter().flat_map(|b| b.as_vec()).collect()
    }

    /// ‖d‖².
    pub fn norm_squared(&self) -> f64 {
        self.blocks
            .iter()
            .map(|b| f64::from(b.clone().square().sum::<(), Axis<0>>().as_vec()[0]))
            .sum()
    }
}

/// G on the device as column blocks, with the layout of the columns: the shared layers in
/// order, each layer's weight (row-major, in × out) then its bias.
#[derive(Clone)]
pub struct Jacobian<D: Device<f32>> {
    /// The non-empty column blocks [T, P_k], in column order.
    blocks: Vec<Tensor2<D>>,
    tasks: usize,
    /// (weight, bias) sizes of the shared layers, in column order (empty when the columns
    /// are not layers: representation gradients).
    layout: Vec<(usize, usize)>,
    /// Per-task factors sᵢ applied to the rows when reading the Gramian and combining (a
    /// composition's loss weights: the rows are read as sᵢgᵢ); `None` means 1.
    scale: Option<Vec<f64>>,
    gram: Option<Vec<Vec<f64>>>,
}

/// Columns converted to f64 at a time by [`gram64`]: bounds the f64 copy (T × this × 8
/// bytes) whatever the width of a block.
#[cfg(any(feature = "cuda", test))]
const F64_CHUNK: usize = 1 << 18;

/// Σₖ PₖPₖᵀ of the column blocks `parts` ([T, p] each) accumulated in f64 on their device
/// (CUDA): each block, up to [`F64_CHUNK`] columns at a time, converted to f64 there and
/// multiplied by its transpose, the products summed in f64.
#[cfg(any(feature = "cuda", test))]
fn gram64<E: Device<f32> + Device<f64>>(parts: &[Tensor2<E>], t: usize) -> Vec<Vec<f64>> {
    let mut sum: Option<Tensor<(usize, usize), f64, E>> = None;
    for part in parts {
        let p = part.shape().1;
        for start in (0..p).step_by(F64_CHUNK) {
            let end = (start + F64_CHUNK).min(p);
            let chunk: Tensor2<E> = if start == 0 && end == p {
                part.clone()
            } else {
                part.clone().slice((.., start..end))
            };
            let rows = chunk.to_dtype::<f64>();
            let product = rows.clone().matmul(rows.permute::<_, Axes2<1, 0>>());
            sum = Some(match sum {
                Some(s) => s + product,
                None => product,
            });
        }
    }
    read_square(sum.map(|m| m.as_vec()), t)
}

/// Columns per tile of [`cpu_gram64`]: the T rows of a tile, in f64, stay in the cache
/// while every pair of them is multiplied (W1's ten rows of 256: 20 KB, in a core's L1;
/// with 2,048 columns they spilled to L2 and W1's Gramian took 20% longer). A multiple of
/// [`LANES`], so that column k of a block always adds into accumulator k mod `LANES`, in
/// order: the tile width does not change a bit of the result.
const TILE: usize = 256;
const _: () = assert!(TILE.is_multiple_of(LANES));

/// Accumulators per entry of [`cpu_gram64`].
const LANES: usize = 16;

/// Σₖ PₖPₖᵀ of the column blocks `parts` in f64 on the CPU, by a loop of its own over their
/// buffers (read by one copy): per tile of columns, the T rows converted to f64 once, then
/// every pair i ≤ j adds gᵢₖgⱼₖ into [`LANES`] f64 accumulators by column, summed pairwise
/// at the end — a fixed order, so the same bits whatever the thread count and instruction
/// set (see `Gram64`). Measured on one thread (test build, a shared 2-core machine): W1's G
/// (T = 10, P = 55,400) 1.4 ms against 2.1 ms for the f32 product and 4.1 ms for dfdx's f64
/// product of the converted blocks; W2's (P = 4.2 million) 0.26–0.31 s against 0.14–0.17 s
/// and 0.44–0.49 s. Dispatched to AVX2 (a standalone replica of the loop, release build, an
/// AMD EPYC core): W1's 0.50–0.55 ms in four runs against 0.84–0.99 ms in two at the
/// baseline's two f64 a vector. Blocks of 3×3 pairs (each row loaded once per block)
/// gained nothing over it.
fn cpu_gram64(parts: &[Tensor2<crate::device::CpuDevice>], t: usize) -> Vec<Vec<f64>> {
    pulp::Arch::new().dispatch(Gram64 { parts, t })
}

/// [`cpu_gram64`]'s loop as an operation that `pulp` compiles for each instruction set it
/// dispatches to (x86-64-v3, i.e. AVX2, where the CPU has it: 4 f64 a vector instead of 2)
/// and runs on the best one the CPU has. The same additions in the same order on every path,
/// each product of two f32 values exact in f64 (so even a fused multiply-add would not
/// change it): the same bits (tested).
struct Gram64<'a> {
    parts: &'a [Tensor2<crate::device::CpuDevice>],
    t: usize,
}

impl pulp::WithSimd for Gram64<'_> {
    type Output = Vec<Vec<f64>>;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> Self::Output {
        gram64_loop(self.parts, self.t)
    }
}

/// The loop of [`cpu_gram64`]; inlined into each of `Gram64`'s compilations.
#[inline(always)]
fn gram64_loop(parts: &[Tensor2<crate::device::CpuDevice>], t: usize) -> Vec<Vec<f64>> {
    let mut acc = vec![[0.0f64; LANES]; t * t];
    let mut tile = vec![0.0f64; t * TILE];
    for part in parts {
        let p = part.shape().1;
        let values = host_values(part);
        for start in (0..p).step_by(TILE) {
            let len = TILE.min(p - start);
            for i in 0..t {
                let row = &values[i * p + start..i * p + start + len];
                for (x, v) in tile[i * len..(i + 1) * len].iter_mut().zip(row) {
                    *x = f64::from(*v);
                }
            }
            for i in 0..t {
                let (wa, ra) = tile[i * len..(i + 1) * len].as_chunks::<LANES>();
                for j in i..t {
                    let (wb, rb) = tile[j * len..(j + 1) * len].as_chunks::<LANES>();
                    let mut lanes = acc[i * t + j];
                    for (x, y) in wa.iter().zip(wb) {
                        for k in 0..LANES {
                            lanes[k] += x[k] * y[k];
                        }
                    }
                    for (k, (x, y)) in ra.iter().zip(rb).enumerate() {
                        lanes[k] += x * y;
                    }
                    acc[i * t + j] = lanes;
                }
            }
        }
    }
    let total = |l: &[f64; LANES]| {
        let mut l = *l;
        let mut width = LANES;
        while width > 1 {
            width /= 2;
            for k in 0..width {
                l[k] += l[k + width];
            }
        }
        l[0]
    };
    read_square(Some(acc.iter().map(total).collect()), t)
}

/// Σₖ PₖPₖᵀ of the column blocks `parts` ([T, p] each) as T×T f64, accumulated in f64: on
/// the CPU by [`cpu_gram64`], on CUDA by `gram64`, by f32 products on any other device.
/// Every product of two f32 entries is exact in f64 and the sums carry 53 bits, so an entry
/// is correct to about P·2⁻⁵³ of Σₖ|gᵢₖgⱼₖ|. An f32 product rounds the sums to 24 bits,
/// which on nearly opposite task gradients (cosine −0.999999: ‖gᵢ + gⱼ‖² is 2·10⁻⁶ of
/// ‖gᵢ‖²) loses the differences of entries the methods read: MGDA's and IMTL-G's
/// directions moved by up to 32% on the large cases of `weighting::large_cases` (P =
/// 20,000–50,000), against at most 1.4e-4 accumulated in f64.
fn gram_of<D: Device<f32>>(parts: Vec<Tensor2<D>>, t: usize) -> Vec<Vec<f64>> {
    let any: &dyn std::any::Any = &parts;
    if let Some(parts) = any.downcast_ref::<Vec<Tensor2<crate::device::CpuDevice>>>() {
        return cpu_gram64(parts, t);
    }
    #[cfg(feature = "cuda")]
    if let Some(parts) = any.downcast_ref::<Vec<Tensor2<crate::device::CudaDevice>>>() {
        return gram64(parts, t);
    }
    let sum = parts
        .iter()
        .map(|rows| {
            rows.clone()
                .matmul(rows.clone().permute::<_, Axes2<1, 0>>())
        })
        .reduce(|a, b| a + b);
    read_square(sum.map(|m| m.as_vec()), t)
}

/// A T×T matrix's row-major values as f64 (symmetrised from its upper triangle); zeros for
/// none.
fn read_square<E: Into<f64> + Copy>(values: Option<Vec<E>>, t: usize) -> Vec<Vec<f64>> {
    let Some(values) = values else {
        return vec![vec![0.0; t]; t];
    };
    (0..t)
        .map(|i| {
            (0..t)
                .map(|j| {
                    let (a, b) = if i <= j { (i, j) } else { (j, i) };
                    values[a * t + b].into()
                })
                .collect()
        })
        .collect()
}

impl<D: Device<f32>> Jacobian<D> {
    /// G from each task's gradients of the shared layers (`per_task[i]`: task i's layers):
    /// each parameter tensor's T gradients stacked into one block.
    pub fn from_layers(per_task: &[Vec<Linear<D>>]) -> Self {
        let tasks = per_task.len();
        let Some(first) = per_task.first() else {
            return Self::from_blocks(Vec::new(), 0, Vec::new());
        };
        let layout: Vec<(usize, usize)> =
            first.iter().map(|l| (l.macs(), l.bias.shape().0)).collect();
        let mut blocks = Vec::with_capacity(2 * layout.len());
        for (k, &(w, b)) in layout.iter().enumerate() {
            if w > 0 {
                let rows: Vec<Tensor1<D>> = per_task
                    .iter()
                    .map(|layers| layers[k].weight.clone().reshape_like(&(w,)))
                    .collect();
                blocks.push(rows.stack());
            }
            if b > 0 {
                let rows: Vec<Tensor1<D>> = per_task.iter().map(|l| l[k].bias.clone()).collect();
                blocks.push(rows.stack());
            }
        }
        Self::from_blocks(blocks, tasks, layout)
    }

    /// G from its column blocks ([T, P_k] each, in column order; empty ones are dropped).
    pub fn from_blocks(blocks: Vec<Tensor2<D>>, tasks: usize, layout: Vec<(usize, usize)>) -> Self {
        Jacobian {
            blocks: blocks.into_iter().filter(|b| b.shape().1 > 0).collect(),
            tasks,
            layout,
            scale: None,
            gram: None,
        }
    }

    /// G from its rows on the device (`rows` [T, P], one block); `layout` as in
    /// `from_layers`, or empty when the columns are not layers.
    pub fn from_rows(rows: Tensor2<D>, layout: Vec<(usize, usize)>) -> Self {
        let tasks = rows.shape().0;
        Self::from_blocks(vec![rows], tasks, layout)
    }

    /// G from host rows (tests and golden numbers), cut into the blocks of `layout` (one
    /// block when it is empty).
    pub fn from_host(dev: &D, grads: &[Vec<f32>], layout: Vec<(usize, usize)>) -> Self {
        let t = grads.len();
        let p = grads.first().map_or(0, Vec::len);
        let mut sizes: Vec<usize> = layout.iter().flat_map(|(w, b)| [*w, *b]).collect();
        if sizes.is_empty() {
            sizes = vec![p];
        }
        let mut start = 0;
        let blocks = sizes
            .into_iter()
            .filter(|n| *n > 0)
            .map(|n| {
                let data: Vec<f32> = grads
                    .iter()
                    .flat_map(|g| g[start..start + n].iter().copied())
                    .collect();
                start += n;
                dev.tensor_from_vec(data, (t, n))
            })
            .collect();
        Self::from_blocks(blocks, t, layout)
    }

    pub fn tasks(&self) -> usize {
        self.tasks
    }

    /// P, the number of columns.
    pub fn width(&self) -> usize {
        self.blocks.iter().map(|b| b.shape().1).sum()
    }

    pub fn layout(&self) -> &[(usize, usize)] {
        &self.layout
    }

    /// The column blocks on the device.
    pub fn blocks(&self) -> &[Tensor2<D>] {
        &self.blocks
    }

    /// Replaces the blocks (DB-MTL: its smoothed gradients, block for block); the weights
    /// a method returns then apply to these rows.
    pub fn set_blocks(&mut self, blocks: Vec<Tensor2<D>>) {
        self.blocks = blocks;
        self.gram = None;
    }

    /// Reads the rows as sᵢgᵢ from now on (`None`: as they are).
    pub fn set_scale(&mut self, scale: Option<Vec<f64>>) {
        self.scale = scale;
    }

    fn scaled(&self, mut m: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
        if let Some(s) = &self.scale {
            for (i, row) in m.iter_mut().enumerate() {
                for (j, x) in row.iter_mut().enumerate() {
                    *x *= s[i] * s[j];
                }
            }
        }
        m
    }

    /// The column range of each block.
    fn ranges(&self) -> Vec<Range<usize>> {
        let mut start = 0;
        self.blocks
            .iter()
            .map(|b| {
                start += b.shape().1;
                start - b.shape().1..start
            })
            .collect()
    }

    /// The Gramian GGᵀ (T×T, f64): Σₖ GₖGₖᵀ accumulated in f64 (see [`gram_of`]) and read
    /// back once; computed once per G.
    pub fn gramian(&mut self) -> Vec<Vec<f64>> {
        if self.gram.is_none() {
            self.gram = Some(gram_of(self.blocks.clone(), self.tasks));
        }
        self.scaled(self.gram.clone().expect("computed above"))
    }

    /// The Gramian of the columns `range` (a layer or a parameter tensor), accumulated in
    /// f64 on the device as [`Jacobian::gramian`].
    pub fn block_gramian(&self, range: Range<usize>) -> Vec<Vec<f64>> {
        let parts = self
            .blocks
            .iter()
            .zip(self.ranges())
            .filter_map(|(block, r)| {
                let (start, end) = (r.start.max(range.start), r.end.min(range.end));
                if start >= end {
                    None
                } else if start == r.start && end == r.end {
                    Some(block.clone())
                } else {
                    Some(block.clone().slice((.., start - r.start..end - r.start)))
                }
            })
            .collect();
        self.scaled(gram_of(parts, self.tasks))
    }

    /// The column ranges of each shared layer (weight and bias together).
    pub fn layer_ranges(&self) -> Vec<Range<usize>> {
        let mut start = 0;
        self.layout
            .iter()
            .map(|(w, b)| {
                start += w + b;
                start - w - b..start
            })
            .collect()
    }

    /// The row factors (weights times the row scale) as a [1, T] device tensor.
    fn factors(&self, weights: &[f64], dev: &D) -> Tensor2<D> {
        let w: Vec<f32> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| (w * self.scale.as_ref().map_or(1.0, |s| s[i])) as f32)
            .collect();
        dev.tensor_from_vec(w, (1, self.tasks))
    }

    /// d = Gᵀw on the device, one product per block (with the row scale: d = Σ wᵢsᵢgᵢ).
    pub fn combine(&self, weights: &[f64]) -> Direction<D> {
        let Some(first) = self.blocks.first() else {
            return Direction { blocks: Vec::new() };
        };
        let w = self.factors(weights, first.device());
        Direction {
            blocks: self
                .blocks
                .iter()
                .map(|block| {
                    let p = block.shape().1;
                    w.clone().matmul(block.clone()).reshape_like(&(p,))
                })
                .collect(),
        }
    }

    /// The direction whose columns `blocks[k].0` are G's columns there combined by
    /// `blocks[k].1` (GradVac's per-group coefficients). Each group must be a union of
    /// whole blocks (a layer, a parameter tensor, or everything), as GradVac's groups are.
    pub fn combine_blocks(&self, groups: &[(Range<usize>, Vec<f64>)]) -> Direction<D> {
        let Some(first) = self.blocks.first() else {
            return Direction { blocks: Vec::new() };
        };
        let dev = first.device().clone();
        let factors: Vec<Tensor2<D>> = groups.iter().map(|(_, w)| self.factors(w, &dev)).collect();
        Direction {
            blocks: self
                .blocks
                .iter()
                .zip(self.ranges())
                .map(|(block, r)| {
                    let k = groups
                        .iter()
                        .position(|(g, _)| g.start <= r.start && r.end <= g.end)
                        .expect("every block lies in one group");
                    factors[k]
                        .clone()
                        .matmul(block.clone())
                        .reshape_like(&(r.len(),))
                })
                .collect(),
        }
    }

    /// Gd for a direction `d` on the device: each task's gᵢᵀd (unscaled rows).
    pub fn times(&self, d: &Direction<D>) -> Vec<f64> {
        let sum = self
            .blocks
            .iter()
            .zip(&d.blocks)
            .map(|(block, part)| {
                let p = block.shape().1;
                block.clone().matmul(part.clone().reshape_like(&(p, 1)))
            })
            .reduce(|a, b| a + b);
        match sum {
            Some(s) => s.as_vec().into_iter().map(f64::from).collect(),
            None => vec![0.0; self.tasks],
        }
    }

    /// Row i of G as a direction.
    pub fn row(&self, i: usize) -> Direction<D> {
        Direction {
            blocks: self
                .blocks
                .iter()
                .map(|b| {
                    let p = b.shape().1;
                    b.clone().slice((i..i + 1, ..)).reshape_like(&(p,))
                })
                .collect(),
        }
    }

    /// Σᵢ gᵢ and Σᵢ |gᵢ| per column (sign purity), read back to the host.
    pub fn column_sums(&self) -> (Vec<f32>, Vec<f32>) {
        let mut sums = Vec::with_capacity(self.width());
        let mut abs = Vec::with_capacity(self.width());
        for b in &self.blocks {
            sums.extend(host_values(&b.clone().sum::<(usize,), Axis<0>>()));
            abs.extend(host_values(&b.clone().abs().sum::<(usize,), Axis<0>>()));
        }
        (sums, abs)
    }

    /// The rows `keep` of G, in that order, with their scales: G of those tasks alone (a
    /// batch where the other tasks have no label). Copied through the host.
    pub fn select_rows(&self, keep: &[usize]) -> Self {
        let blocks = self
            .blocks
            .iter()
            .map(|b| {
                let p = b.shape().1;
                let values = b.as_vec();
                let data: Vec<f32> = keep
                    .iter()
                    .flat_map(|&i| values[i * p..(i + 1) * p].iter().copied())
                    .collect();
                b.device().tensor_from_vec(data, (keep.len(), p))
            })
            .collect();
        Jacobian {
            blocks,
            tasks: keep.len(),
            layout: self.layout.clone(),
            scale: self
                .scale
                .as_ref()
                .map(|s| keep.iter().map(|&i| s[i]).collect()),
            gram: None,
        }
    }

    /// The rows on the host (tests).
    pub fn to_host(&self) -> Vec<Vec<f32>> {
        let mut rows = vec![Vec::with_capacity(self.width()); self.tasks];
        for b in &self.blocks {
            let p = b.shape().1;
            for (row, chunk) in rows.iter_mut().zip(b.as_vec().chunks(p)) {
                row.extend_from_slice(chunk);
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::cpu;

    /// The device Gramian (a sum over blocks), block Gramians, Gᵀw and Gd agree with the
    /// host's f64 arithmetic to f32 precision, and directions go to layers and back.
    #[test]
    fn device_products_match_the_host() {
        let dev = cpu();
        let grads = vec![
            vec![1.0f32, -2.0, 0.5, 0.0, 3.0],
            vec![-1.5, 1.0, 0.0, 2.0, -1.0],
            vec![0.5, 0.5, -2.0, 1.0, 0.0],
        ];
        let mut g = Jacobian::from_host(&dev, &grads, vec![(2, 1), (2, 0)]);
        assert_eq!(g.blocks().len(), 3);
        assert_eq!(g.to_host(), grads);
        let host = crate::solvers::gramian(&grads);
        let gram = g.gramian();
        for i in 0..3 {
            for j in 0..3 {
                assert!((gram[i][j] - host[i][j]).abs() < 1e-5, "{gram:?}");
            }
        }
        for range in [0..3, 1..4, 0..5] {
            let part: Vec<Vec<f32>> = grads.iter().map(|r| r[range.clone()].to_vec()).collect();
            let block = g.block_gramian(range);
            let host_block = crate::solvers::gramian(&part);
            for i in 0..3 {
                assert!((block[i][2] - host_block[i][2]).abs() < 1e-5);
            }
        }
        assert_eq!(g.layer_ranges(), vec![0..3, 3..5]);
        let d = g.combine(&[0.5, 1.0, -2.0]).to_host();
        for k in 0..5 {
            let want = 0.5 * grads[0][k] - 2.0 * grads[2][k] + grads[1][k];
            assert!((d[k] - want).abs() < 1e-6);
        }
        let gd = g.times(&g.combine(&[0.5, 1.0, -2.0]));
        assert!((gd[1] - crate::solvers::dot(&grads[1], &d)).abs() < 1e-5);
        assert_eq!(g.row(2).to_host(), grads[2]);
        let blocks = g
            .combine_blocks(&[(0..3, vec![1.0, 0.0, 0.0]), (3..5, vec![0.0, 0.0, 1.0])])
            .to_host();
        assert_eq!(blocks, vec![1.0, -2.0, 0.5, 1.0, 0.0]);
        let (sums, abs) = g.column_sums();
        assert_eq!(sums, vec![0.0, -0.5, -1.5, 3.0, 2.0]);
        assert_eq!(abs, vec![3.0, 3.5, 2.5, 3.0, 4.0]);
        g.set_scale(Some(vec![2.0, 1.0, 1.0]));
        assert!((g.gramian()[0][0] - 4.0 * host[0][0]).abs() < 1e-4);
        let layers = vec![
            Linear {
                weight: dev.tensor_from_vec(vec![1.0, 2.0, 3.0, 4.0], (2, 2)),
                bias: dev.tensor_from_vec(vec![5.0, 6.0], (2,)),
            },
            Linear {
                weight: dev.tensor_from_vec(vec![7.0, 8.0], (2, 1)),
                bias: dev.tensor_from_vec(Vec::new(), (0,)),
            },
        ];
        let flat = Direction::from_layers(&layers);
        assert_eq!(flat.to_host(), crate::engine::flatten(&layers));
        assert!((flat.norm_squared() - 204.0).abs() < 1e-9);
        let back = flat.to_layers(&layers, &dev);
        assert_eq!(back[0].weight.as_vec(), layers[0].weight.as_vec());
        assert_eq!(back[1].weight.as_vec(), vec![7.0, 8.0]);
        assert_eq!(back[0].bias.as_vec(), vec![5.0, 6.0]);
        let from_layers = Jacobian::from_layers(&[layers.clone(), layers]);
        assert_eq!(from_layers.to_host()[1], crate::engine::flatten(&back));
    }

    /// `cpu_gram64`'s bits depend neither on its tile width nor on the instruction set it
    /// runs on (the dispatched one — AVX2 where the CPU has it — and the baseline): each
    /// entry equals, bit for bit, column k of each block added into accumulator k mod
    /// `LANES` in order with no tiles at all, the accumulators summed pairwise (blocks
    /// wider than several tiles, with remainders, and one narrower than a tile; T from 1 to
    /// 11; entries of magnitudes 1e-6 to 1e6, zeros and −0).
    #[test]
    fn cpu_gramian_bits_depend_neither_on_the_tile_width_nor_on_the_instruction_set() {
        use pulp::WithSimd;
        use rand::{Rng, SeedableRng};
        let dev = cpu();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let widths = [3 * TILE + 37, 21, 2 * TILE];
        for t in [1, 2, 3, 5, 10, 11] {
            let blocks: Vec<Vec<f32>> = widths
                .iter()
                .map(|&w| {
                    (0..t * w)
                        .map(|k| match k % 97 {
                            0 => 0.0,
                            1 => -0.0,
                            _ => rng.gen_range(-1.0f32..1.0) * 10f32.powi(rng.gen_range(-6..7)),
                        })
                        .collect()
                })
                .collect();
            let parts: Vec<_> = blocks
                .iter()
                .zip(widths)
                .map(|(b, w)| dev.tensor_from_vec(b.clone(), (t, w)))
                .collect();
            let dispatched = cpu_gram64(&parts, t);
            let baseline = Gram64 { parts: &parts, t }.with_simd(pulp::Scalar::new());
            for i in 0..t {
                for j in 0..t {
                    let mut lanes = [0.0f64; LANES];
                    for (b, &w) in blocks.iter().zip(&widths) {
                        for k in 0..w {
                            lanes[k % LANES] += f64::from(b[i * w + k]) * f64::from(b[j * w + k]);
                        }
                    }
                    let mut width = LANES;
                    while width > 1 {
                        width /= 2;
                        for k in 0..width {
                            lanes[k] += lanes[k + width];
                        }
                    }
                    let want = lanes[0].to_bits();
                    assert_eq!(dispatched[i][j].to_bits(), want, "T = {t}, ({i}, {j})");
                    assert_eq!(baseline[i][j].to_bits(), want, "T = {t}, ({i}, {j})");
                }
            }
        }
    }

    /// The Gramian accumulated in f64 — the CPU's own loop, and the route CUDA takes (the
    /// blocks converted to f64 and multiplied by dfdx, here on the CPU device) — is within
    /// P·2⁻⁵³·Σₖ|gᵢₖgⱼₖ| of the exact one (compensated sums of the exact f64 products), on
    /// blocks wider than a tile and than a conversion chunk, with remainders.
    #[test]
    fn gramian_is_accumulated_in_f64() {
        use rand::{Rng, SeedableRng};
        let dev = cpu();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let layout = vec![(F64_CHUNK + 3 * TILE + 5, 7), (1_000, 0)];
        let p: usize = layout.iter().map(|(w, b)| w + b).sum();
        let grads: Vec<Vec<f32>> = (0..3)
            .map(|i| {
                (0..p)
                    .map(|_| rng.gen_range(-1.0f32..1.0) * (i + 1) as f32)
                    .collect()
            })
            .collect();
        // Rows 0 and 1 nearly opposite: their sums cancel to 1e-6 of their terms.
        let opposite: Vec<f32> = grads[0]
            .iter()
            .zip(&grads[2])
            .map(|(x, y)| -1.7 * x + 1e-3 * y)
            .collect();
        let grads = vec![grads[0].clone(), opposite, grads[2].clone()];
        let mut g = Jacobian::from_host(&dev, &grads, layout);
        let exact = |i: usize, j: usize| {
            let (mut sum, mut carry, mut magnitude) = (0.0f64, 0.0f64, 0.0f64);
            for (x, y) in grads[i].iter().zip(&grads[j]) {
                let term = f64::from(*x) * f64::from(*y);
                let next = sum + term;
                carry += if sum.abs() >= term.abs() {
                    (sum - next) + term
                } else {
                    (term - next) + sum
                };
                sum = next;
                magnitude += term.abs();
            }
            (sum + carry, magnitude)
        };
        let bound = p as f64 * f64::EPSILON / 2.0;
        let routes = [g.gramian(), gram64(g.blocks(), 3)];
        for (route, gram) in routes.iter().enumerate() {
            for i in 0..3 {
                for j in 0..3 {
                    let (want, magnitude) = exact(i, j);
                    let error = (gram[i][j] - want).abs();
                    assert!(
                        error <= bound * magnitude,
                        "route {route} ({i}, {j}): {} vs {want}: error {error:e}",
                        gram[i][j]
                    );
                }
            }
        }
        // ‖g₀ + g₁/1.7‖² is about 1e-6·‖g₀‖²/3: the entries keep it to a few digits.
        let gram = &routes[0];
        let cancelled = gram[0][0] + 2.0 * gram[0][1] / 1.7 + gram[1][1] / (1.7 * 1.7);
        let (a, _) = exact(0, 0);
        let (b, _) = exact(0, 1);
        let (c, _) = exact(1, 1);
        let want = a + 2.0 * b / 1.7 + c / (1.7 * 1.7);
        assert!(
            (cancelled - want).abs() < 1e-6 * want,
            "{cancelled} vs {want}"
        );
    }
}
