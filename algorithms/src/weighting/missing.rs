//! What the weightings share for a task without a label in a batch
//! (docs/FORMULAS.md#missing-labels): its loss is 0 and its gradient row zero, and each
//! method answers on the present tasks (`Method::loss_weights_present`,
//! `Method::aggregate_present`).

use super::Aggregation;
use crate::jacobian::Jacobian;
use dfdx::prelude::*;

/// Sets the absent tasks' weights to 0.
pub(crate) fn zero_absent<W: From<u8>>(weights: &mut [W], present: &[bool]) {
    for (w, p) in weights.iter_mut().zip(present) {
        if !p {
            *w = W::from(0);
        }
    }
}

/// The indices of the present tasks.
pub(crate) fn present_indices(present: &[bool]) -> Vec<usize> {
    (0..present.len()).filter(|&i| present[i]).collect()
}

/// `values` of the present tasks put back in task order, 0 for an absent task.
pub(crate) fn expand(values: &[f64], keep: &[usize], tasks: usize) -> Vec<f64> {
    let mut out = vec![0.0; tasks];
    for (k, &i) in keep.iter().enumerate() {
        out[i] = values[k];
    }
    out
}

/// A gradient-level rule on the present tasks alone: `aggregate` on their rows of G (and
/// their losses) as if they were the only tasks, its weights, head scales and per-block
/// weights put back in task order with 0 for an absent task.
pub(crate) fn over_present<D: Device<f32>>(
    g: &Jacobian<D>,
    losses: &[f32],
    present: &[bool],
    aggregate: impl FnOnce(&mut Jacobian<D>, &[f32]) -> Aggregation,
) -> Aggregation {
    let tasks = present.len();
    let keep = present_indices(present);
    let mut sub = g.select_rows(&keep);
    let sub_losses: Vec<f32> = keep.iter().map(|&i| losses[i]).collect();
    let mut a = aggregate(&mut sub, &sub_losses);
    if a.weights.len() == keep.len() {
        a.weights = expand(&a.weights, &keep, tasks);
    }
    a.head_scales = a.head_scales.map(|h| expand(&h, &keep, tasks));
    a.blocks = a.blocks.map(|b| {
        b.into_iter()
            .map(|(r, w)| (r, expand(&w, &keep, tasks)))
            .collect()
    });
    a
}

/// The rows `keep` of a [T, p] tensor, in that order (through the host).
pub(crate) fn select_tensor_rows<D: Device<f32>>(
    t: &crate::model::Tensor2<D>,
    keep: &[usize],
) -> crate::model::Tensor2<D> {
    let p = t.shape().1;
    let values = t.as_vec();
    let data: Vec<f32> = keep
        .iter()
        .flat_map(|&i| values[i * p..(i + 1) * p].iter().copied())
        .collect();
    t.device().tensor_from_vec(data, (keep.len(), p))
}

/// A [tasks, p] tensor: `base`'s rows (zeros without one) with rows `keep` replaced by
/// those of `rows` (through the host).
pub(crate) fn scatter_tensor_rows<D: Device<f32>>(
    base: Option<&crate::model::Tensor2<D>>,
    rows: &crate::model::Tensor2<D>,
    keep: &[usize],
    tasks: usize,
) -> crate::model::Tensor2<D> {
    let p = rows.shape().1;
    let mut data = base.map_or_else(|| vec![0.0f32; tasks * p], |b| b.as_vec());
    let new = rows.as_vec();
    for (k, &i) in keep.iter().enumerate() {
        data[i * p..(i + 1) * p].copy_from_slice(&new[k * p..(k + 1) * p]);
    }
    rows.device().tensor_from_vec(data, (tasks, p))
}
