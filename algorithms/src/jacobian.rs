//! The task gradients of the shared parameters as one [T, P] matrix G on the run's
//! device, held as its column blocks G = [G₁ | … | G_K], one [T, P_k] tensor per shared
//! parameter tensor (a layer's weight, its bias): its Gramian GGᵀ = Σₖ GₖGₖᵀ (products on
//! the device, read back once as T×T f64), the Gramians of column blocks (a layer, a
//! parameter tensor), the products Gd, and the direction d = Gᵀw (one product per block on
//! the device, each block already in its parameter's shape). Only the T×T problems are
//! solved on the host.
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

/// GGᵀ of `rows` [T, p] by one product on the device.
fn product<D: Device<f32>>(rows: &Tensor2<D>) -> Tensor2<D> {
    rows.clone()
        .matmul(rows.clone().permute::<_, Axes2<1, 0>>())
}

/// A T×T device matrix read back as f64 (symmetrised from its upper triangle).
fn read_square<D: Device<f32>>(m: Option<Tensor2<D>>, t: usize) -> Vec<Vec<f64>> {
    let Some(m) = m else {
        return vec![vec![0.0; t]; t];
    };
    let values = m.as_vec();
    (0..t)
        .map(|i| {
            (0..t)
                .map(|j| {
                    let (a, b) = if i <= j { (i, j) } else { (j, i) };
                    f64::from(values[a * t + b])
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

    /// The Gramian GGᵀ (T×T, f64): Σₖ GₖGₖᵀ summed on the device and read back once;
    /// computed once per G.
    pub fn gramian(&mut self) -> Vec<Vec<f64>> {
        if self.gram.is_none() {
            let sum = self.blocks.iter().map(product).reduce(|a, b| a + b);
            self.gram = Some(read_square(sum, self.tasks));
        }
        self.scaled(self.gram.clone().expect("computed above"))
    }

    /// The Gramian of the columns `range` (a layer or a parameter tensor), on the device.
    pub fn block_gramian(&self, range: Range<usize>) -> Vec<Vec<f64>> {
        let sum = self
            .blocks
            .iter()
            .zip(self.ranges())
            .filter_map(|(block, r)| {
                let (start, end) = (r.start.max(range.start), r.end.min(range.end));
                if start >= end {
                    None
                } else if start == r.start && end == r.end {
                    Some(product(block))
                } else {
                    let part: Tensor2<D> =
                        block.clone().slice((.., start - r.start..end - r.start));
                    Some(product(&part))
                }
            })
            .reduce(|a, b| a + b);
        self.scaled(read_square(sum, self.tasks))
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
}
