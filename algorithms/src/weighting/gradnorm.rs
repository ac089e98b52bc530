//! `gradnorm`: balance the weighted task-gradient norms to the relative training rates.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): the balance is taken over the present tasks alone, as if they were the only ones: w = k·softmax(s) over their k parameters, the mean norm and mean loss ratio over them, and only their sᵢ move (an absent task's zero gradient norm and loss ratio 0 would drag the targets of the others); an absent task weighted 0, head scaled by 0.

use crate::tuning::TuningRange;
use super::{softmax, Aggregation, Level, Method, MethodSpec, Setup, TaskParameters};
use crate::jacobian::Jacobian;
use crate::error::AlgorithmsError;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// `gradnorm`: w = T·softmax(s); Gᵢ = ‖wᵢgᵢ‖; Ḡ = meanᵢGᵢ; rᵢ = L̃ᵢ/meanⱼL̃ⱼ with
/// L̃ᵢ = Lᵢ/Lᵢ(0) and Lᵢ(0) the first epoch's mean training loss; L_grad = Σᵢ|Gᵢ − sg(Ḡrᵢ^α)|;
/// s takes ∂L_grad/∂s and an Adam step at the run's learning rate; d = Σ wᵢgᵢ. Equal weights
/// during the first epoch (as LibMTL). Heads get their own task's gradient × wᵢ.
///
/// The norms ‖gᵢ‖ are the diagonal of the Gramian (accumulated in f64 from G), or of the
/// last shared layer's block Gramian with `last_shared_layer`.
///
/// Paper: Chen et al. 2018; LibMTL `GradNorm` (norms over all shared parameters). The
/// paper's form takes the norms on the last shared layer only: `last_shared_layer: true`.
/// Hyper-parameters: `alpha` 1.5 (LibMTL; the paper's toy uses 0.12),
/// `last_shared_layer` false.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradNorm {
    pub alpha: f64,
    pub last_shared_layer: bool,
}

impl Default for GradNorm {
    fn default() -> Self {
        GradNorm {
            alpha: 1.5,
            last_shared_layer: false,
        }
    }
}

impl MethodSpec for GradNorm {
    /// Tuned: the asymmetry α over the paper's range.
    fn tuning_ranges(&self) -> Vec<(String, TuningRange)> {
        vec![("alpha".into(), TuningRange::Uniform(0.5, 3.0))]
    }

    fn level(&self) -> Level {
        Level::Gradient
    }

    fn validate(&self, _tasks: usize) -> Result<(), AlgorithmsError> {
        if !(self.alpha >= 0.0 && self.alpha.is_finite()) {
            return Err(AlgorithmsError::invalid("alpha", "must be finite and ≥ 0"));
        }
        Ok(())
    }

    fn build<D: Device<f32>>(&self, setup: Setup) -> Box<dyn Method<D>> {
        Box::new(GradNormState {
            spec: self.clone(),
            s: TaskParameters::new(vec![0.0; setup.tasks], setup.lr, 0.0),
            initial: None,
        })
    }
}

struct GradNormState {
    spec: GradNorm,
    s: TaskParameters,
    /// Lᵢ(0): the first epoch's mean training losses.
    initial: Option<Vec<f64>>,
}

impl<D: Device<f32>> Method<D> for GradNormState {
    /// The balance over the present tasks alone (see the module doc).
    fn aggregate_present(
        &mut self,
        g: &mut Jacobian<D>,
        losses: &[f32],
        present: &[bool],
    ) -> Aggregation {
        use super::missing::{expand, present_indices};
        let t = present.len();
        let Some(initial) = &self.initial else {
            let mut w = vec![1.0; t];
            super::zero_absent(&mut w, present);
            return Aggregation::new(w, None);
        };
        let keep = present_indices(present);
        let pick = |v: &[f64]| -> Vec<f64> { keep.iter().map(|&i| v[i]).collect() };
        let mut sub_g = g.select_rows(&keep);
        let sub_losses: Vec<f32> = keep.iter().map(|&i| losses[i]).collect();
        let (w, ds) = balance(
            &self.spec,
            &mut sub_g,
            &sub_losses,
            &pick(&self.s.values),
            &pick(initial),
        );
        self.s.update_present(&expand(&ds, &keep, t), present);
        let w = expand(&w, &keep, t);
        Aggregation {
            head_scales: Some(w.clone()),
            ..Aggregation::new(w, None)
        }
    }

    fn aggregate(&mut self, g: &mut Jacobian<D>, losses: &[f32]) -> Aggregation {
        let t = g.tasks();
        let Some(initial) = &self.initial else {
            // First epoch: equal weights while the initial losses are measured.
            return Aggregation::new(vec![1.0; t], None);
        };
        let (w, ds) = balance(&self.spec, g, losses, &self.s.values, initial);
        self.s.update(&ds);
        Aggregation {
            head_scales: Some(w.clone()),
            ..Aggregation::new(w, None)
        }
    }

    fn end_epoch(&mut self, means: &[f64]) {
        if self.initial.is_none() {
            self.initial = Some(means.to_vec());
        }
    }
}

/// GradNorm's weights w = T·softmax(s) and the gradient of its balancing loss with respect
/// to s, on G and the losses of the tasks it is given.
fn balance<D: Device<f32>>(
    spec: &GradNorm,
    g: &mut Jacobian<D>,
    losses: &[f32],
    s: &[f64],
    initial: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let t = g.tasks();
        let z = softmax(s, 1.0);
        let w: Vec<f64> = z.iter().map(|zi| t as f64 * zi).collect();
        let gram = match (spec.last_shared_layer, g.layer_ranges().last()) {
            (true, Some(last)) => g.block_gramian(last.clone()),
            _ => g.gramian(),
        };
        let norms: Vec<f64> = (0..t).map(|i| gram[i][i].max(0.0).sqrt()).collect();
        let big_g: Vec<f64> = w.iter().zip(&norms).map(|(wi, n)| wi * n).collect();
        let mean_g = big_g.iter().sum::<f64>() / t as f64;
        let ratio: Vec<f64> = (0..t).map(|i| f64::from(losses[i]) / initial[i]).collect();
        let mean_ratio = ratio.iter().sum::<f64>() / t as f64;
        let target: Vec<f64> = ratio
            .iter()
            .map(|r| mean_g * (r / mean_ratio).powf(spec.alpha))
            .collect();
        // ∂L_grad/∂wᵢ = sign(Gᵢ − targetᵢ)·‖gᵢ‖ (target held constant; LibMTL's Ḡ
        // inside the target is detached too); ∂w/∂s = T(diag(z) − zzᵀ).
        let dw: Vec<f64> = (0..t)
            .map(|i| (big_g[i] - target[i]).signum() * norms[i])
            .collect();
        let z_dw: f64 = z.iter().zip(&dw).map(|(a, b)| a * b).sum();
        let ds: Vec<f64> = (0..t)
            .map(|i| t as f64 * (z[i] * dw[i] - z[i] * z_dw))
            .collect();
    (w, ds)
}

#[cfg(test)]
mod tests {
    use super::super::tests::testing::*;
    use super::super::WeightingSpec;
    use super::*;

    #[test]
    fn gradnorm_equal_first_then_moves_towards_the_slow_task() {
        let mut gn = method(WeightingSpec::GradNorm(GradNorm {
            alpha: 1.5,
            last_shared_layer: false,
        }));
        let grads = vec![vec![1.0f32, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]];
        let mut g = on_device(&grads);
        assert_eq!(gn.aggregate(&mut g, &[1.0, 1.0, 1.0]).weights, vec![1.0; 3]);
        gn.end_epoch(&[1.0, 1.0, 1.0]);
        // Task 0 has trained least (L̃ = 1 vs 0.5): its target norm is the largest, so its
        // weight rises; weights stay on the simplex scaled by T.
        let agg = gn.aggregate(&mut g, &[1.0, 0.5, 0.5]);
        assert!(
            agg.weights.iter().all(|w| (w - 1.0).abs() < 1e-12),
            "weights of this step use s before the update"
        );
        let next = gn.aggregate(&mut g, &[1.0, 0.5, 0.5]).weights;
        assert!(next[0] > next[1], "{next:?}");
        assert!((next.iter().sum::<f64>() - 3.0).abs() < 1e-9);
    }

    /// With `last_shared_layer` the norms are those of the last layer's columns (the last
    /// block of the layout, where task 1's gradient is zero), which moves the weights
    /// differently from the norms of the whole gradient; the weights stay T·softmax(s).
    #[test]
    fn last_shared_layer_reads_the_last_block() {
        let grads = vec![
            vec![1.0f32, 0.0, 1.0],
            vec![0.0, 1.0, 0.0],
            vec![1.0, 1.0, 1.0],
        ];
        let run = |last_shared_layer: bool| {
            let mut gn = method(WeightingSpec::GradNorm(GradNorm {
                alpha: 1.5,
                last_shared_layer,
            }));
            let mut g = on_device_with(&grads, vec![(1, 1), (1, 0)]);
            gn.end_epoch(&[1.0, 1.0, 1.0]);
            gn.aggregate(&mut g, &[1.0, 1.0, 1.0]);
            gn.aggregate(&mut g, &[1.0, 1.0, 1.0]).weights
        };
        let (whole, last) = (run(false), run(true));
        assert_ne!(whole, last);
        assert!((last.iter().sum::<f64>() - 3.0).abs() < 1e-9);
    }
}
