//! `compose`: a loss-level weighting followed by a gradient-level method.
//!
//! A task without a label in the batch (docs/FORMULAS.md#missing-labels): each part follows its own rule: the loss part's `loss_weights_present` (an absent task's weight 0, its learnable terms skipped), then the gradient part's `aggregate_present` on the scaled rows (over the present tasks); with GradDrop, the loss part's weights of the present tasks.

use crate::tuning::TuningRange;
use super::{Aggregation, Level, Method, MethodSpec, RepresentationInput, Setup, WeightingSpec};
use crate::jacobian::Jacobian;
use crate::error::AlgorithmsError;
use dfdx::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// `compose`: a loss weighting followed by a gradient aggregator: each task gradient and
/// head is scaled by the loss weighting's wᵢ (gᵢ ← wᵢgᵢ, Lᵢ ← wᵢLᵢ), then the aggregator
/// combines them. E.g. `{kind: compose, loss: {kind: uw}, gradient: {kind: pcgrad}}`.
/// The scaling is applied to the Gramian (wᵢwⱼ(GGᵀ)ᵢⱼ) and to the aggregator's weights on
/// the raw rows, so G itself is not copied.
///
/// Paper: the combinations of Auto-Lambda's `--grad_method` and of LibMTL's weighting ×
/// architecture split, generalised. Hyper-parameters: `loss` (a loss-level weighting,
/// default equal), `gradient` (a gradient-level weighting, default mgda).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Compose {
    pub loss: Box<WeightingSpec>,
    pub gradient: Box<WeightingSpec>,
}

impl Default for Compose {
    fn default() -> Self {
        Compose {
            loss: Box::new(WeightingSpec::Equal(super::Equal {})),
            gradient: Box::new(WeightingSpec::Mgda(super::Mgda::default())),
        }
    }
}

impl MethodSpec for Compose {
    /// Both parts' ranges, under `loss.` and `gradient.`.
    fn tuning_ranges(&self) -> Vec<(String, TuningRange)> {
        let part = |prefix: &str, spec: &WeightingSpec| {
            spec.tuning_ranges()
                .into_iter()
                .map(|(k, r)| (format!("{prefix}.{k}"), r))
                .collect::<Vec<_>>()
        };
        let mut out = part("loss", &self.loss);
        out.extend(part("gradient", &self.gradient));
        out
    }

    fn level(&self) -> Level {
        self.gradient.level()
    }

    fn validate(&self, tasks: usize) -> Result<(), AlgorithmsError> {
        let part = |key: &str, spec: &WeightingSpec, want: &[Level]| {
            // Compositions nest no further; the meta-learned weightings run their own
            // step, which a composition would bypass.
            if matches!(spec, WeightingSpec::Compose(_)) || !want.contains(&spec.level()) {
                let what = if want.contains(&Level::Loss) {
                    "a loss-level weighting"
                } else {
                    "a gradient-level weighting"
                };
                return Err(AlgorithmsError::invalid(
                    key,
                    format!("`{}` is not {what}", spec.kind()),
                ));
            }
            spec.validate(tasks)
                .map_err(|e| AlgorithmsError::invalid(&format!("{key}.{}", e.key()), e.message()))
        };
        part("loss", &self.loss, &[Level::Loss])?;
        part(
            "gradient",
            &self.gradient,
            &[Level::Gradient, Level::Representation],
        )?;
        if let WeightingSpec::DbMtl(_) = *self.gradient {
            return Err(AlgorithmsError::invalid(
                "gradient",
                "`db_mtl` takes the gradients of log(wᵢLᵢ), in which a loss weight wᵢ \
                 cancels, so the composition would ignore `loss`: use db_mtl alone",
            ));
        }
        Ok(())
    }

    fn supports_rep_grad(&self) -> bool {
        self.gradient.supports_rep_grad()
    }

    fn label(&self) -> Option<String> {
        Some(format!("{}+{}", self.loss.label(), self.gradient.label()))
    }

    fn build<D: Device<f32>>(&self, setup: Setup) -> Box<dyn Method<D>> {
        let mut rng = setup.rng;
        // The loss part draws from its own stream, split off this one.
        let loss_rng = ChaCha8Rng::seed_from_u64(rng.gen());
        Box::new(ComposeState {
            loss: self.loss.build(setup.tasks, loss_rng, setup.lr),
            gradient: self.gradient.build(setup.tasks, rng, setup.lr),
        })
    }
}

struct ComposeState<D: Device<f32>> {
    loss: Box<dyn Method<D>>,
    gradient: Box<dyn Method<D>>,
}

impl<D: Device<f32>> ComposeState<D> {
    /// The loss part's weights scale the rows, then the gradient part aggregates them; with
    /// `present`, each by its rule for absent tasks.
    fn combine(&mut self, g: &mut Jacobian<D>, losses: &[f32], present: Option<&[bool]>) -> Aggregation {
        let w = match present {
            None => self.loss.loss_weights(losses),
            Some(p) => self.loss.loss_weights_present(losses, p),
        };
        let w64: Vec<f64> = w.iter().map(|x| f64::from(*x)).collect();
        let scaled_losses: Vec<f32> = losses.iter().zip(&w).map(|(l, wi)| l * wi).collect();
        g.set_scale(Some(w64.clone()));
        let mut aggregation = match present {
            None => self.gradient.aggregate(g, &scaled_losses),
            Some(p) => self.gradient.aggregate_present(g, &scaled_losses, p),
        };
        g.set_scale(None);
        // Weights on the raw gᵢ, and heads scaled by wᵢ as well.
        for (a, wi) in aggregation.weights.iter_mut().zip(&w64) {
            *a *= wi;
        }
        if let Some(blocks) = &mut aggregation.blocks {
            for (_, weights) in blocks.iter_mut() {
                weights.iter_mut().zip(&w64).for_each(|(a, wi)| *a *= wi);
            }
        }
        let heads = aggregation
            .head_scales
            .take()
            .unwrap_or_else(|| vec![1.0; w.len()]);
        aggregation.head_scales = Some(heads.iter().zip(&w64).map(|(h, wi)| h * wi).collect());
        aggregation
    }
}

impl<D: Device<f32>> Method<D> for ComposeState<D> {
    /// Each part's own rule for absent tasks (see the module doc).
    fn aggregate_present(
        &mut self,
        g: &mut Jacobian<D>,
        losses: &[f32],
        present: &[bool],
    ) -> Aggregation {
        self.combine(g, losses, Some(present))
    }

    fn aggregate(&mut self, g: &mut Jacobian<D>, losses: &[f32]) -> Aggregation {
        self.combine(g, losses, None)
    }

    /// GradDrop's masking after the loss part weighs the batch's losses: each task's
    /// gradient and its head are scaled by its wᵢ (as on the per-task path).
    fn representation(&mut self, r: &RepresentationInput<'_>) -> (Vec<f32>, Vec<f64>) {
        let w = match r.present {
            None => self.loss.loss_weights(r.losses),
            Some(p) => self.loss.loss_weights_present(r.losses, p),
        };
        let scaled: Vec<Vec<f32>> = r
            .per_sample
            .iter()
            .zip(&w)
            .map(|(g, wi)| g.iter().map(|x| x * wi).collect())
            .collect();
        let scaled_losses: Vec<f32> = r.losses.iter().zip(&w).map(|(l, wi)| l * wi).collect();
        let (combined, _) = self.gradient.representation(&RepresentationInput {
            per_sample: &scaled,
            losses: &scaled_losses,
            ..*r
        });
        (combined, w.iter().map(|wi| f64::from(*wi)).collect())
    }

    fn end_epoch(&mut self, means: &[f64]) {
        self.loss.end_epoch(means);
        self.gradient.end_epoch(means);
    }

    fn needs_losses_after_step(&self) -> bool {
        self.loss.needs_losses_after_step()
    }

    fn after_step(&mut self, losses_after: &[f32]) {
        self.loss.after_step(losses_after);
    }

    #[cfg(test)]
    fn loss_part_state(&self) -> (Vec<f64>, Vec<f32>) {
        self.loss.loss_part_state()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::testing::*;
    use super::super::{GradDrop, Mgda, PcGrad, ScaleInvariant, Static};
    use super::*;

    /// compose(static, pcgrad) scales each gradient and head by the static weight before
    /// PCGrad: with weights (1, 0, 0) only task 0 is left, so d = g₀ and heads 1 and 2
    /// get 0.
    #[test]
    fn composition_scales_before_aggregating() {
        let spec = WeightingSpec::Compose(Compose {
            loss: Box::new(WeightingSpec::Static(Static {
                weights: vec![1.0, 0.0, 0.0],
            })),
            gradient: Box::new(WeightingSpec::PcGrad(PcGrad::default())),
        });
        assert!(spec.validate(3).is_ok());
        assert_eq!(spec.label(), "static+pcgrad");
        let grads = vec![vec![1.0f32, 0.0], vec![-1.0, 1.0], vec![0.0, -3.0]];
        let mut g = on_device(&grads);
        let agg = method(spec).aggregate(&mut g, &[1.0, 1.0, 1.0]);
        assert_eq!(combine(&grads, &agg.weights), vec![1.0, 0.0]);
        assert_eq!(g.combine(&agg.weights).to_host(), vec![1.0, 0.0]);
        assert_eq!(agg.head_scales.unwrap(), vec![1.0, 0.0, 0.0]);

        let wrong = WeightingSpec::Compose(Compose {
            loss: Box::new(WeightingSpec::PcGrad(PcGrad::default())),
            gradient: Box::new(WeightingSpec::Mgda(Mgda::default())),
        });
        assert_eq!(wrong.validate(3).unwrap_err().key(), "loss");
    }

    /// The meta-learned weightings run their own training step: a composition, which only
    /// asks its loss part for weights, would silently skip it, so it is refused.
    #[test]
    fn meta_learned_weightings_do_not_compose() {
        for loss in [
            WeightingSpec::AutoLambda(Default::default()),
            WeightingSpec::MetaWeightNet(Default::default()),
        ] {
            let spec = WeightingSpec::Compose(Compose {
                loss: Box::new(loss),
                gradient: Box::new(WeightingSpec::Mgda(Default::default())),
            });
            assert!(spec.validate(3).is_err());
        }
    }

    /// compose(scale_invariant, graddrop): the loss part weighs the batch's losses
    /// (wᵢ = 1/Lᵢ), each task's representation gradient is scaled by wᵢ before the masking
    /// (leak 1: nothing dropped, so the combination is Σ wᵢGᵢ), and the heads get the same
    /// wᵢ.
    #[test]
    fn graddrop_composition_weighs_the_losses() {
        let spec = WeightingSpec::Compose(Compose {
            loss: Box::new(WeightingSpec::ScaleInvariant(ScaleInvariant {})),
            gradient: Box::new(WeightingSpec::GradDrop(GradDrop { leak: 1.0 })),
        });
        let per_sample = vec![vec![1.0f32, 2.0], vec![4.0, -1.0]];
        let input = RepresentationInput {
            per_sample: &per_sample,
            rep: &[1.0, 1.0],
            width: 2,
            losses: &[2.0, 0.5],
            present: None,
        };
        let (combined, heads) = method_for(spec, 2).representation(&input);
        assert_eq!(heads, vec![0.5, 2.0]);
        assert_eq!(combined, vec![0.5 + 8.0, 1.0 - 2.0]);
        let plain = WeightingSpec::GradDrop(GradDrop { leak: 1.0 });
        let (combined, heads) = method_for(plain, 2).representation(&input);
        assert_eq!(heads, vec![1.0, 1.0]);
        assert_eq!(combined, vec![5.0, 1.0]);
    }
}
