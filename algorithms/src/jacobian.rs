//! The task gradients of the shared parameters as one [T, P] tensor G on the run's device:
//! its Gramian GGᵀ (one matrix product on the device, read back as T×T f64), the Gramians
//! of column blocks (a layer, a parameter tensor), the products Gd, and the direction
//! d = Gᵀw (one product on the device), unflattened on the device into layer gradients.
//! Only the T×T problems are solved on the host.

use crate::model::{Linear, Tensor1, Tensor2};
use dfdx::prelude::*;
use std::ops::Range;

/// The rows gᵢ of G on the device, with the layout of their columns. The column layout is
/// that of the shared layers in order, each layer's weight (row-major, in × out) then its
/// bias.
#[derive(Clone)]
pub struct Jacobian<D: Device<f32>> {
    /// [T, P]; `None` when nothing is shared (P = 0).
    rows: Option<Tensor2<D>>,
    tasks: usize,
    /// (weight, bias) sizes of the shared layers, in column order (empty when the columns
    /// are not layers: representation gradients).
    layout: Vec<(usize, usize)>,
    /// Per-task factors sᵢ applied to the rows when reading the Gramian (a composition's
    /// loss weights: the rows are read as sᵢgᵢ); `None` means 1.
    scale: Option<Vec<f64>>,
    gram: Option<Vec<Vec<f64>>>,
}

/// `layer` flattened on the device: its weight then (when not empty) its bias.
fn flatten_layer<D: Device<f32>>(layer: &Linear<D>) -> Tensor1<D> {
    let (i, o) = *layer.weight.shape();
    let weight = layer.weight.clone().reshape_like(&(i * o,));
    if layer.bias.shape().0 == 0 {
        weight
    } else {
        (weight, layer.bias.clone()).concat_along(Axis::<0>)
    }
}

/// Layers flattened on the device into one vector (the layout of `engine::flatten`).
pub fn flatten_on_device<D: Device<f32>>(layers: &[Linear<D>]) -> Option<Tensor1<D>> {
    layers
        .iter()
        .filter(|l| l.numel() > 0)
        .map(flatten_layer)
        .reduce(|a, b| (a, b).concat_along(Axis::<0>))
}

/// A flat vector over `layers` (the layout of `flatten_on_device`) as layers of the same
/// shapes, on the device.
pub fn unflatten_on_device<D: Device<f32>>(
    layers: &[Linear<D>],
    dev: &D,
    flat: &Tensor1<D>,
) -> Vec<Linear<D>> {
    let mut offset = 0;
    let out = layers
        .iter()
        .map(|layer| {
            let (w_shape, b_shape) = (*layer.weight.shape(), *layer.bias.shape());
            let w_len = w_shape.0 * w_shape.1;
            let weight = if w_len == 0 {
                dev.zeros_like(&w_shape)
            } else {
                flat.clone()
                    .slice((offset..offset + w_len,))
                    .reshape_like(&w_shape)
            };
            offset += w_len;
            let bias = if b_shape.0 == 0 {
                dev.zeros_like(&b_shape)
            } else {
                flat.clone().slice((offset..offset + b_shape.0,)).realize()
            };
            offset += b_shape.0;
            Linear { weight, bias }
        })
        .collect();
    assert_eq!(
        offset,
        flat.shape().0,
        "flat vector length matches the layers"
    );
    out
}

impl<D: Device<f32>> Jacobian<D> {
    /// G from each task's gradients of the shared layers (`per_task[i]`: task i's layers).
    pub fn from_layers(per_task: &[Vec<Linear<D>>]) -> Self {
        let layout = per_task
            .first()
            .map(|layers| {
                layers
                    .iter()
                    .map(|l| (l.macs(), l.bias.shape().0))
                    .collect()
            })
            .unwrap_or_default();
        let flat: Option<Vec<Tensor1<D>>> = per_task
            .iter()
            .map(|layers| flatten_on_device(layers))
            .collect();
        let rows = flat.filter(|f| !f.is_empty()).map(|f| f.stack());
        Jacobian {
            rows,
            tasks: per_task.len(),
            layout,
            scale: None,
            gram: None,
        }
    }

    /// G from its rows on the device (`rows` [T, P]); `layout` as in `from_layers`, or
    /// empty when the columns are not layers.
    pub fn from_rows(rows: Tensor2<D>, layout: Vec<(usize, usize)>) -> Self {
        let tasks = rows.shape().0;
        let rows = (rows.shape().1 > 0).then_some(rows);
        Jacobian {
            rows,
            tasks,
            layout,
            scale: None,
            gram: None,
        }
    }

    /// G from host rows (tests and golden numbers).
    pub fn from_host(dev: &D, grads: &[Vec<f32>], layout: Vec<(usize, usize)>) -> Self {
        let t = grads.len();
        let p = grads.first().map_or(0, Vec::len);
        let data: Vec<f32> = grads.iter().flatten().copied().collect();
        Self::from_rows(dev.tensor_from_vec(data, (t, p)), layout)
    }

    pub fn tasks(&self) -> usize {
        self.tasks
    }

    /// P, the number of columns.
    pub fn width(&self) -> usize {
        self.rows.as_ref().map_or(0, |r| r.shape().1)
    }

    pub fn layout(&self) -> &[(usize, usize)] {
        &self.layout
    }

    /// The rows on the device (`None` when P = 0).
    pub fn rows(&self) -> Option<&Tensor2<D>> {
        self.rows.as_ref()
    }

    /// Replaces the rows (DB-MTL: its smoothed gradients); the weights a method returns
    /// then apply to these rows.
    pub fn set_rows(&mut self, rows: Tensor2<D>) {
        *self = Jacobian {
            scale: self.scale.take(),
            ..Self::from_rows(rows, std::mem::take(&mut self.layout))
        };
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

    /// GGᵀ of `rows` [T, p] by one product on the device.
    fn product(rows: &Tensor2<D>) -> Vec<Vec<f64>> {
        let t = rows.shape().0;
        let gram = rows
            .clone()
            .matmul(rows.clone().permute::<_, Axes2<1, 0>>())
            .as_vec();
        (0..t)
            .map(|i| {
                (0..t)
                    .map(|j| {
                        // Symmetric by construction; read the upper triangle for both.
                        let (a, b) = if i <= j { (i, j) } else { (j, i) };
                        f64::from(gram[a * t + b])
                    })
                    .collect()
            })
            .collect()
    }

    /// The Gramian GGᵀ (T×T, f64), computed once per G.
    pub fn gramian(&mut self) -> Vec<Vec<f64>> {
        if self.gram.is_none() {
            let t = self.tasks;
            self.gram = Some(match &self.rows {
                Some(rows) => Self::product(rows),
                None => vec![vec![0.0; t]; t],
            });
        }
        self.scaled(self.gram.clone().expect("computed above"))
    }

    /// The Gramian of the columns `range` (a layer or a parameter tensor), on the device.
    pub fn block_gramian(&self, range: Range<usize>) -> Vec<Vec<f64>> {
        let t = self.tasks;
        match &self.rows {
            Some(rows) if !range.is_empty() => {
                if range.start == 0 && range.end == rows.shape().1 {
                    return self.scaled(Self::product(rows));
                }
                let block: Tensor2<D> = rows.clone().slice((.., range)).realize();
                self.scaled(Self::product(&block))
            }
            _ => vec![vec![0.0; t]; t],
        }
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

    /// d = Gᵀw as a [P] tensor on the device (with the row scale: d = Σ wᵢsᵢgᵢ); `None`
    /// when P = 0.
    pub fn combine(&self, weights: &[f64]) -> Option<Tensor1<D>> {
        let rows = self.rows.as_ref()?;
        let (t, p) = *rows.shape();
        let w: Vec<f32> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| (w * self.scale.as_ref().map_or(1.0, |s| s[i])) as f32)
            .collect();
        let w = rows.device().tensor_from_vec(w, (1, t));
        Some(w.matmul(rows.clone()).reshape_like(&(p,)))
    }

    /// The direction whose columns `blocks[k].0` are G's columns there combined by
    /// `blocks[k].1` (GradVac's per-group coefficients); the blocks cover every column.
    pub fn combine_blocks(&self, blocks: &[(Range<usize>, Vec<f64>)]) -> Option<Tensor1<D>> {
        let rows = self.rows.as_ref()?;
        let dev = rows.device().clone();
        let t = rows.shape().0;
        blocks
            .iter()
            .filter(|(range, _)| !range.is_empty())
            .map(|(range, weights)| {
                let w: Vec<f32> = weights
                    .iter()
                    .enumerate()
                    .map(|(i, w)| (w * self.scale.as_ref().map_or(1.0, |s| s[i])) as f32)
                    .collect();
                let block: Tensor2<D> = rows.clone().slice((.., range.clone())).realize();
                dev.tensor_from_vec(w, (1, t))
                    .matmul(block)
                    .reshape_like(&(range.len(),))
            })
            .reduce(|a, b| (a, b).concat_along(Axis::<0>))
    }

    /// Gd for a direction `d` [P] on the device: each task's gᵢᵀd (unscaled rows).
    pub fn times(&self, d: &Tensor1<D>) -> Vec<f64> {
        match &self.rows {
            Some(rows) => {
                let p = rows.shape().1;
                rows.clone()
                    .matmul(d.clone().reshape_like(&(p, 1)))
                    .as_vec()
                    .into_iter()
                    .map(f64::from)
                    .collect()
            }
            None => vec![0.0; self.tasks],
        }
    }

    /// Σᵢ gᵢ and Σᵢ |gᵢ| per column (sign purity), read back to the host.
    pub fn column_sums(&self) -> (Vec<f32>, Vec<f32>) {
        match &self.rows {
            Some(rows) => (
                rows.clone().sum::<(usize,), Axis<0>>().as_vec(),
                rows.clone().abs().sum::<(usize,), Axis<0>>().as_vec(),
            ),
            None => (Vec::new(), Vec::new()),
        }
    }

    /// The rows on the host (tests; telemetry of small nets).
    pub fn to_host(&self) -> Vec<Vec<f32>> {
        match &self.rows {
            Some(rows) => {
                let p = rows.shape().1;
                rows.as_vec().chunks(p).map(<[f32]>::to_vec).collect()
            }
            None => vec![Vec::new(); self.tasks],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::cpu;

    /// The device Gramian, block Gramians, Gᵀw and Gd agree with the host's f64 arithmetic
    /// to f32 precision, and unflattening inverts flattening.
    #[test]
    fn device_products_match_the_host() {
        let dev = cpu();
        let grads = vec![
            vec![1.0f32, -2.0, 0.5, 0.0, 3.0],
            vec![-1.5, 1.0, 0.0, 2.0, -1.0],
            vec![0.5, 0.5, -2.0, 1.0, 0.0],
        ];
        let mut g = Jacobian::from_host(&dev, &grads, vec![(2, 1), (2, 0)]);
        let host = crate::solvers::gramian(&grads);
        let gram = g.gramian();
        for i in 0..3 {
            for j in 0..3 {
                assert!((gram[i][j] - host[i][j]).abs() < 1e-5, "{gram:?}");
            }
        }
        let part: Vec<Vec<f32>> = grads.iter().map(|r| r[..3].to_vec()).collect();
        let block = g.block_gramian(0..3);
        let host_block = crate::solvers::gramian(&part);
        assert!((block[0][1] - host_block[0][1]).abs() < 1e-5);
        assert_eq!(g.layer_ranges(), vec![0..3, 3..5]);
        let d = g.combine(&[0.5, 1.0, -2.0]).unwrap().as_vec();
        for k in 0..5 {
            let want = 0.5 * grads[0][k] - 2.0 * grads[2][k] + grads[1][k];
            assert!((d[k] - want).abs() < 1e-6);
        }
        let dd = dev.tensor_from_vec(d.clone(), (5,));
        let gd = g.times(&dd);
        assert!((gd[1] - crate::solvers::dot(&grads[1], &d)).abs() < 1e-5);
        let blocks = g
            .combine_blocks(&[(0..3, vec![1.0, 0.0, 0.0]), (3..5, vec![0.0, 0.0, 1.0])])
            .unwrap()
            .as_vec();
        assert_eq!(blocks, vec![1.0, -2.0, 0.5, 1.0, 0.0]);
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
        let flat = flatten_on_device(&layers).unwrap();
        assert_eq!(flat.as_vec(), crate::engine::flatten(&layers));
        let back = unflatten_on_device(&layers, &dev, &flat);
        assert_eq!(back[0].weight.as_vec(), layers[0].weight.as_vec());
        assert_eq!(back[1].weight.as_vec(), vec![7.0, 8.0]);
        assert_eq!(back[0].bias.as_vec(), vec![5.0, 6.0]);
    }
}
