//! The weighting registry: how per-task losses (loss-level methods) or per-task gradients
//! of the shared parameters (gradient-level methods) become one update, and `Weighter`,
//! a run's weighting with its state (random stream, loss history).

use crate::aggregate::{self, Aggregation, GradVacGranularity};
use crate::optimizer::HostAdam;
use crate::AlgorithmsError;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod specs;
pub use specs::*;

mtlbench_tasks::registry! {
    /// How per-task losses or gradients are combined.
    pub enum WeightingSpec {
        Equal(Equal) = "equal": "L = Σᵢ Lᵢ (LibMTL EW)",
        Static(Static) = "static": "L = Σᵢ wᵢ Lᵢ with fixed weights (weights: one per task)",
        ScaleInvariant(ScaleInvariant) = "scale_invariant": "L = Σᵢ log Lᵢ (Navon et al. 2022)",
        Gls(Gls) = "gls": "L = (Πᵢ Lᵢ)^(1/T), geometric loss strategy (Chennupati et al. 2019)",
        Rlw(Rlw) = "rlw": "random loss weights softmax(N(0, I)) each step (Lin et al. 2022; LibMTL RLW)",
        Dwa(Dwa) = "dwa": "dynamic weight average from epoch loss ratios (Liu et al. 2019)",
        Uw(Uw) = "uw": "uncertainty weighting with learnable log-variances (Kendall et al. 2018; LibMTL UW)",
        Famo(Famo) = "famo": "fast adaptive multitask optimization (Liu et al. 2023); one extra forward per step",
        ImtlL(ImtlL) = "imtl_l": "IMTL's learnable loss scales e^s·L − s (Liu et al. 2021); compose with imtl_g for IMTL",
        Mgda(Mgda) = "mgda": "min-norm point of the task gradients (Sener & Koltun 2018); gradient-level",
        PcGrad(PcGrad) = "pcgrad": "project conflicting gradients (Yu et al. 2020); gradient-level",
        GradVac(GradVac) = "gradvac": "raise task-pair gradient cosines to EMA targets (Wang et al. 2021); gradient-level",
        GradDrop(GradDrop) = "graddrop": "sign dropout of task gradients on the shared representation (Chen et al. 2020); needs hard_sharing",
        CaGrad(CaGrad) = "cagrad": "conflict-averse gradient descent (Liu et al. 2021); gradient-level",
        ImtlG(ImtlG) = "imtl_g": "equal projections on unit task gradients (IMTL-G, Liu et al. 2021); gradient-level",
        AlignedMtl(AlignedMtl) = "aligned_mtl": "align the gradient matrix's components (Senushkin et al. 2023); gradient-level",
        UpGrad(UpGrad) = "upgrad": "sum of projections onto the dual cone (torchjd, Quinton & Rey 2024); gradient-level",
        NashMtl(NashMtl) = "nash_mtl": "Nash bargaining weights (Navon et al. 2022); gradient-level",
        DbMtl(DbMtl) = "db_mtl": "dual-balancing: EMA of log-loss gradients, equal norms (Lin et al. 2023); gradient-level",
        GradNorm(GradNorm) = "gradnorm": "balance weighted gradient norms to relative training rates (Chen et al. 2018); gradient-level",
        MetaWeightNet(MetaWeightNetSpec) = "meta_weight_net": "an MLP maps each task's loss and loss ratio to its weight, trained by a one-step look-ahead on validation batches (Shu et al. 2019, adapted to tasks)",
        AutoLambda(AutoLambda) = "auto_lambda": "meta-learned task weights by a finite-difference look-ahead on a second batch (Liu et al. 2022); 5 forward + 3 backward per step",
        Compose(Compose) = "compose": "a loss weighting followed by a gradient aggregator (loss: ..., gradient: ...)",
    }
}

impl WeightingSpec {
    /// Checks the weighting against a suite of `tasks` tasks.
    pub fn validate(&self, tasks: usize) -> Result<(), AlgorithmsError> {
        if let WeightingSpec::Compose(c) = self {
            let part =
                |key: &str, spec: &WeightingSpec, gradient: bool| -> Result<(), AlgorithmsError> {
                    // Compositions nest no further; the meta-learned weightings run their
                    // own step, which a composition would bypass.
                    if matches!(
                        spec,
                        WeightingSpec::Compose(_)
                            | WeightingSpec::AutoLambda(_)
                            | WeightingSpec::MetaWeightNet(_)
                    ) || spec.is_gradient_level() != gradient
                    {
                        let want = if gradient {
                            "a gradient-level weighting"
                        } else {
                            "a loss-level weighting"
                        };
                        return Err(AlgorithmsError::invalid(
                            key,
                            format!("`{}` is not {want}", spec.kind()),
                        ));
                    }
                    spec.validate(tasks).map_err(|e| {
                        AlgorithmsError::invalid(&format!("{key}.{}", e.key()), e.message())
                    })
                };
            part("loss", &c.loss, false)?;
            part("gradient", &c.gradient, true)?;
            if let WeightingSpec::DbMtl(_) = *c.gradient {
                return Err(AlgorithmsError::invalid(
                    "gradient",
                    "`db_mtl` takes the gradients of log(wᵢLᵢ), in which a loss weight wᵢ \
                     cancels, so the composition would ignore `loss`: use db_mtl alone",
                ));
            }
            return Ok(());
        }
        let solver = |tolerance: f64, max_iterations: usize| {
            if !(tolerance > 0.0 && tolerance.is_finite()) {
                return Err(AlgorithmsError::invalid(
                    "tolerance",
                    "must be finite and > 0",
                ));
            }
            if max_iterations == 0 {
                return Err(AlgorithmsError::invalid(
                    "max_iterations",
                    "must be at least 1",
                ));
            }
            Ok(())
        };
        match self {
            WeightingSpec::Static(s) => {
                if s.weights.len() != tasks {
                    return Err(AlgorithmsError::invalid(
                        "weights",
                        format!(
                            "has {} values but the suite has {tasks} tasks",
                            s.weights.len()
                        ),
                    ));
                }
                if s.weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
                    return Err(AlgorithmsError::invalid(
                        "weights",
                        "every weight must be finite and ≥ 0",
                    ));
                }
                Ok(())
            }
            WeightingSpec::Dwa(d) if !(d.temperature > 0.0 && d.temperature.is_finite()) => Err(
                AlgorithmsError::invalid("temperature", "must be finite and > 0"),
            ),
            WeightingSpec::Mgda(m) => solver(m.tolerance, m.max_iterations),
            WeightingSpec::UpGrad(u) => solver(u.tolerance, u.max_iterations),
            WeightingSpec::Famo(f) => {
                if !(f.lr > 0.0 && f.lr.is_finite() && f.weight_decay >= 0.0) {
                    return Err(AlgorithmsError::invalid(
                        "lr",
                        "lr must be > 0 and weight_decay ≥ 0",
                    ));
                }
                match &f.min_losses {
                    Some(m) if m.len() != tasks => Err(AlgorithmsError::invalid(
                        "min_losses",
                        format!("has {} values but the suite has {tasks} tasks", m.len()),
                    )),
                    _ => Ok(()),
                }
            }
            WeightingSpec::MetaWeightNet(m)
                if m.hidden == 0 || !(m.meta_lr > 0.0 && m.meta_lr.is_finite()) =>
            {
                Err(AlgorithmsError::invalid(
                    "hidden",
                    "hidden must be ≥ 1 and meta_lr > 0",
                ))
            }
            WeightingSpec::AutoLambda(a) => {
                if !(a.meta_lr > 0.0 && a.meta_lr.is_finite() && a.init.is_finite()) {
                    return Err(AlgorithmsError::invalid(
                        "meta_lr",
                        "meta_lr must be > 0 and init finite",
                    ));
                }
                match &a.primary {
                    Some(p) if p.is_empty() || p.iter().any(|t| *t >= tasks) => {
                        Err(AlgorithmsError::invalid(
                            "primary",
                            format!("must list task indices in 0..{tasks}"),
                        ))
                    }
                    _ => Ok(()),
                }
            }
            WeightingSpec::GradDrop(g) if !(0.0..=1.0).contains(&g.leak) => {
                Err(AlgorithmsError::invalid("leak", "must be in [0, 1]"))
            }
            WeightingSpec::GradVac(g) if !(0.0..=1.0).contains(&g.beta) => {
                Err(AlgorithmsError::invalid("beta", "must be in [0, 1]"))
            }
            WeightingSpec::GradNorm(g) if !(g.alpha >= 0.0 && g.alpha.is_finite()) => {
                Err(AlgorithmsError::invalid("alpha", "must be finite and ≥ 0"))
            }
            WeightingSpec::DbMtl(d) => {
                if !((0.0..1.0).contains(&d.beta) && d.beta_sigma >= 0.0) {
                    return Err(AlgorithmsError::invalid(
                        "beta",
                        "beta must be in [0, 1) and beta_sigma ≥ 0",
                    ));
                }
                Ok(())
            }
            WeightingSpec::NashMtl(n) => {
                if !(n.max_norm > 0.0 && n.max_norm.is_finite()) {
                    return Err(AlgorithmsError::invalid(
                        "max_norm",
                        "must be finite and > 0",
                    ));
                }
                solver(n.tolerance, n.max_iterations)
            }
            WeightingSpec::CaGrad(c) => {
                if !(c.c >= 0.0 && c.c.is_finite()) {
                    return Err(AlgorithmsError::invalid("c", "must be finite and ≥ 0"));
                }
                if c.rescale > 2 {
                    return Err(AlgorithmsError::invalid("rescale", "must be 0, 1 or 2"));
                }
                solver(c.tolerance, c.max_iterations)
            }
            _ => Ok(()),
        }
    }

    /// Checks the weighting against `training.rep_grad`: representation gradients serve
    /// gradient-level methods that weight this step's task gradients; a loss-level
    /// weighting would ignore the setting, and DB-MTL and GradVac need parameter gradients.
    pub fn validate_rep_grad(&self, rep_grad: bool) -> Result<(), AlgorithmsError> {
        if !rep_grad || self.uses_representation() {
            return Ok(());
        }
        if !self.is_gradient_level() {
            return Err(AlgorithmsError::invalid(
                "rep_grad",
                format!(
                    "`{}` is loss-level: it takes no task gradients, so rep_grad would be ignored",
                    self.label()
                ),
            ));
        }
        if !self.supports_rep_grad() {
            return Err(AlgorithmsError::invalid(
                "rep_grad",
                format!("`{}` needs parameter gradients", self.label()),
            ));
        }
        Ok(())
    }

    /// The keys a study must give because they have no default (the default value fails
    /// `validate`): `static`'s `weights`.
    pub fn required_keys(&self) -> &'static [&'static str] {
        match self {
            WeightingSpec::Static(_) => &["weights"],
            _ => &[],
        }
    }

    /// Whether the method works on the shared representation itself (GradDrop), so the
    /// architecture must hand every task one shared trunk output.
    pub fn uses_representation(&self) -> bool {
        match self {
            WeightingSpec::GradDrop(_) => true,
            WeightingSpec::Compose(c) => c.gradient.uses_representation(),
            _ => false,
        }
    }

    /// Whether the method's update can be taken on representation gradients (`rep_grad`):
    /// those that return weights on this step's task gradients.
    pub fn supports_rep_grad(&self) -> bool {
        match self {
            WeightingSpec::DbMtl(_) | WeightingSpec::GradVac(_) => false,
            WeightingSpec::Compose(c) => c.gradient.supports_rep_grad(),
            _ => true,
        }
    }

    /// The label of this weighting in algorithm names: its kind, or `loss+gradient` for a
    /// composition.
    pub fn label(&self) -> String {
        match self {
            WeightingSpec::Compose(c) => format!("{}+{}", c.loss.label(), c.gradient.label()),
            other => other.kind().to_string(),
        }
    }

    /// Whether the method needs each task's gradient of the shared parameters (one
    /// forward+backward per task) rather than only the task losses.
    pub fn is_gradient_level(&self) -> bool {
        matches!(
            self,
            WeightingSpec::Mgda(_)
                | WeightingSpec::PcGrad(_)
                | WeightingSpec::GradVac(_)
                | WeightingSpec::GradDrop(_)
                | WeightingSpec::CaGrad(_)
                | WeightingSpec::ImtlG(_)
                | WeightingSpec::AlignedMtl(_)
                | WeightingSpec::UpGrad(_)
                | WeightingSpec::NashMtl(_)
                | WeightingSpec::DbMtl(_)
                | WeightingSpec::GradNorm(_)
                | WeightingSpec::Compose(_)
        )
    }
}

/// A run's weighting: the spec and its state.
pub struct Weighter {
    spec: WeightingSpec,
    tasks: usize,
    rng: ChaCha8Rng,
    /// Epoch-mean training losses of the finished epochs (for DWA).
    epoch_means: Vec<Vec<f64>>,
    /// Learnable task parameters: UW's and IMTL-L's sᵢ, FAMO's logits w, GradNorm's s.
    params: Vec<f64>,
    params_optimizer: Option<HostAdam>,
    /// FAMO: the losses of the current step before the model update.
    losses_before: Vec<f32>,
    /// DB-MTL: the EMA of each task's log-loss gradient, and the step count.
    ema: Vec<Vec<f32>>,
    steps: i32,
    /// (weight, bias) scalar counts of each shared layer, in flat-gradient order (GradNorm's
    /// last layer, GradVac's groups).
    shared_layout: Vec<(usize, usize)>,
    /// GradVac's targets φ̂ (T·T·groups).
    targets: Vec<f64>,
    /// `compose`: the loss weighting's and the aggregator's own weighters.
    parts: Option<Box<(Weighter, Weighter)>>,
    /// `meta_weight_net`: the weight network, and each task's first-step loss.
    mwn: Option<crate::meta_weight::MetaWeightNet>,
    first_losses: Vec<f32>,
}

impl Weighter {
    /// `rng` is the run's own weighting stream (RLW draws, PCGrad orders); `lr` is the
    /// run's learning rate (UW trains its sᵢ with it).
    pub fn new(spec: &WeightingSpec, tasks: usize, rng: ChaCha8Rng, lr: f64) -> Self {
        let (params, params_optimizer) = match spec {
            WeightingSpec::Uw(_) => (vec![-0.5; tasks], Some(HostAdam::new(tasks, lr, 0.0))),
            WeightingSpec::ImtlL(_) => (vec![0.0; tasks], Some(HostAdam::new(tasks, lr, 0.0))),
            WeightingSpec::GradNorm(_) => (vec![0.0; tasks], Some(HostAdam::new(tasks, lr, 0.0))),
            WeightingSpec::Famo(f) => (
                vec![0.0; tasks],
                Some(HostAdam::new(tasks, f.lr, f.weight_decay)),
            ),
            WeightingSpec::AutoLambda(a) => (
                vec![a.init; tasks],
                Some(HostAdam::new(tasks, a.meta_lr, 0.0)),
            ),
            _ => (Vec::new(), None),
        };
        let mut rng = rng;
        let mwn = match spec {
            WeightingSpec::MetaWeightNet(m) => Some(crate::meta_weight::MetaWeightNet::new(
                m.hidden,
                m.meta_lr,
                rng.gen(),
            )),
            _ => None,
        };
        let parts = match spec {
            WeightingSpec::Compose(c) => {
                // The loss part draws from its own stream, split off this one.
                let loss_rng = ChaCha8Rng::seed_from_u64(rng.gen());
                Some(Box::new((
                    Weighter::new(&c.loss, tasks, loss_rng, lr),
                    Weighter::new(&c.gradient, tasks, rng.clone(), lr),
                )))
            }
            _ => None,
        };
        Weighter {
            spec: spec.clone(),
            tasks,
            rng,
            epoch_means: Vec::new(),
            params,
            params_optimizer,
            losses_before: Vec::new(),
            ema: Vec::new(),
            steps: 0,
            shared_layout: Vec::new(),
            targets: Vec::new(),
            parts,
            mwn,
            first_losses: Vec::new(),
        }
    }

    /// Tells the weighting the (weight, bias) sizes of the shared layers.
    pub fn set_shared_layout(&mut self, layout: Vec<(usize, usize)>) {
        if let Some(parts) = &mut self.parts {
            parts.1.set_shared_layout(layout.clone());
        }
        self.shared_layout = layout;
    }

    /// GradVac's parameter groups as ranges of the flat shared gradient.
    fn gradvac_groups(
        &self,
        granularity: GradVacGranularity,
        len: usize,
    ) -> Vec<std::ops::Range<usize>> {
        let sizes: Vec<usize> = match granularity {
            GradVacGranularity::Whole => vec![len],
            GradVacGranularity::Layer => self.shared_layout.iter().map(|(w, b)| w + b).collect(),
            GradVacGranularity::Tensor => self
                .shared_layout
                .iter()
                .flat_map(|(w, b)| [*w, *b])
                .collect(),
        };
        let mut start = 0;
        sizes
            .into_iter()
            .filter(|n| *n > 0)
            .map(|n| {
                start += n;
                start - n..start
            })
            .collect()
    }

    /// Auto-Lambda's settings, when this run's weighting is it (the trainer runs its
    /// look-ahead step).
    pub fn auto_lambda(&self) -> Option<&AutoLambda> {
        match &self.spec {
            WeightingSpec::AutoLambda(a) => Some(a),
            _ => None,
        }
    }

    /// Meta-Weight-Net's input features of each task: (Lᵢ, Lᵢ/Lᵢ(first step)); `None`
    /// for other weightings.
    pub fn mwn_features(&mut self, losses: &[f32]) -> Option<Vec<[f64; 2]>> {
        self.mwn.as_ref()?;
        if self.first_losses.is_empty() {
            self.first_losses = losses.to_vec();
        }
        Some(
            losses
                .iter()
                .zip(&self.first_losses)
                .map(|(l, f)| [f64::from(*l), f64::from(*l) / f64::from(f.max(1e-12))])
                .collect(),
        )
    }

    /// Meta-Weight-Net's task weights for `features`.
    pub fn mwn_weights(&self, features: &[[f64; 2]]) -> Vec<f64> {
        self.mwn
            .as_ref()
            .map_or_else(|| vec![1.0; features.len()], |m| m.weights(features))
    }

    /// One meta step of the weight network, from ∂L_val/∂v̄.
    pub fn mwn_update(&mut self, features: &[[f64; 2]], d_weights: &[f64]) {
        if let Some(m) = &mut self.mwn {
            let grad = m.gradient(features, d_weights);
            m.step(&grad);
        }
    }

    /// One Adam step of Auto-Lambda's λ on hypergradient `grad`.
    pub fn meta_update(&mut self, grad: &[f64]) {
        if let Some(adam) = &mut self.params_optimizer {
            adam.update(&mut self.params, grad);
        }
    }

    /// Whether the method needs the same batch's losses after the model update (FAMO).
    pub fn needs_losses_after_step(&self) -> bool {
        match &self.parts {
            Some(parts) => parts.0.needs_losses_after_step(),
            None => matches!(self.spec, WeightingSpec::Famo(_)),
        }
    }

    /// FAMO's log Dᵢ = log(Lᵢ − Lᵢ^min + 1e-8).
    fn famo_log_gap(&self, losses: &[f32]) -> Vec<f64> {
        let min_losses = match &self.spec {
            WeightingSpec::Famo(f) => f.min_losses.clone(),
            _ => None,
        };
        (0..self.tasks)
            .map(|i| {
                let min = min_losses.as_ref().map_or(0.0, |m| m[i]);
                (f64::from(losses[i]) - min + 1e-8).ln()
            })
            .collect()
    }

    /// FAMO's logit update from the same batch's losses after the model step.
    pub fn after_step(&mut self, losses_after: &[f32]) {
        if let Some(parts) = &mut self.parts {
            parts.0.after_step(losses_after);
            return;
        }
        if !self.needs_losses_after_step() {
            return;
        }
        let before = self.famo_log_gap(&self.losses_before);
        let after = self.famo_log_gap(losses_after);
        let delta: Vec<f64> = before.iter().zip(&after).map(|(b, a)| b - a).collect();
        let z = softmax(&self.params, 1.0);
        // J_softmax(w)ᵀδ = z ⊙ δ − z (zᵀδ).
        let z_delta: f64 = z.iter().zip(&delta).map(|(a, b)| a * b).sum();
        let grad: Vec<f64> = z
            .iter()
            .zip(&delta)
            .map(|(zi, di)| zi * di - zi * z_delta)
            .collect();
        if let Some(adam) = &mut self.params_optimizer {
            adam.update(&mut self.params, &grad);
        }
    }

    pub fn is_gradient_level(&self) -> bool {
        self.spec.is_gradient_level()
    }

    /// The loss part's learnable parameters and the losses it last received (for a
    /// composition; the weighting's own otherwise).
    #[cfg(test)]
    pub(crate) fn loss_part_state(&self) -> (&[f64], &[f32]) {
        match &self.parts {
            Some(parts) => parts.0.loss_part_state(),
            None => (&self.params, &self.losses_before),
        }
    }

    /// Whether the aggregation's weights are task weights although it returns its own
    /// direction: DB-MTL's αᵢ, the factors of its smoothed gradients ĝᵢ.
    pub fn direction_has_task_weights(&self) -> bool {
        matches!(self.spec, WeightingSpec::DbMtl(_))
    }

    pub fn uses_representation(&self) -> bool {
        self.spec.uses_representation()
    }

    /// GradDrop's masked sum of per-sample representation gradients, and the scale of
    /// each task's head. In a composition the loss part weighs the batch's `losses` first:
    /// each task's gradient and its head are scaled by its wᵢ (as on the per-task path);
    /// alone, the heads keep scale 1.
    pub fn graddrop(
        &mut self,
        per_sample: &[Vec<f32>],
        rep: &[f32],
        width: usize,
        losses: &[f32],
    ) -> (Vec<f32>, Vec<f64>) {
        if let Some(parts) = &mut self.parts {
            let w = parts.0.loss_weights(losses);
            let scaled: Vec<Vec<f32>> = per_sample
                .iter()
                .zip(&w)
                .map(|(g, wi)| g.iter().map(|x| x * wi).collect())
                .collect();
            let scaled_losses: Vec<f32> = losses.iter().zip(&w).map(|(l, wi)| l * wi).collect();
            let (combined, _) = parts.1.graddrop(&scaled, rep, width, &scaled_losses);
            return (combined, w.iter().map(|wi| f64::from(*wi)).collect());
        }
        let leak = match &self.spec {
            WeightingSpec::GradDrop(g) => g.leak,
            _ => 0.0,
        };
        let uniform: Vec<f64> = (0..width).map(|_| self.rng.gen::<f64>()).collect();
        (
            aggregate::graddrop(per_sample, rep, width, &uniform, leak),
            vec![1.0; per_sample.len()],
        )
    }

    /// Loss-level weights wᵢ for this step: the update is the gradient of Σ wᵢLᵢ with the
    /// wᵢ held constant. Gradient-level methods get 1 (their heads' gradients).
    pub fn loss_weights(&mut self, losses: &[f32]) -> Vec<f32> {
        let t = self.tasks;
        match &self.spec {
            WeightingSpec::Static(s) => s.weights.iter().map(|w| *w as f32).collect(),
            WeightingSpec::ScaleInvariant(_) => losses.iter().map(|l| 1.0 / l).collect(),
            WeightingSpec::Gls(_) => {
                let log_mean = losses.iter().map(|l| f64::from(*l).ln()).sum::<f64>() / t as f64;
                let geometric = log_mean.exp();
                losses
                    .iter()
                    .map(|l| (geometric / (t as f64 * f64::from(*l))) as f32)
                    .collect()
            }
            WeightingSpec::Rlw(r) => {
                let rng = &mut self.rng;
                let draws: Vec<f64> = match r.distribution {
                    RlwDistribution::Libmtl | RlwDistribution::Normal => {
                        let eps: Vec<f64> = (0..t)
                            .map(|_| rng.sample(rand_distr::StandardNormal))
                            .collect();
                        softmax(&eps, 1.0)
                    }
                    RlwDistribution::Uniform => (0..t).map(|_| rng.gen::<f64>()).collect(),
                    RlwDistribution::Dirichlet => {
                        (0..t).map(|_| rng.sample(rand_distr::Exp1)).collect()
                    }
                    RlwDistribution::Bernoulli => {
                        let b: Vec<f64> = (0..t)
                            .map(|_| f64::from(u8::from(rng.gen::<bool>())))
                            .collect();
                        if b.iter().all(|x| *x == 0.0) {
                            vec![1.0; t]
                        } else {
                            b
                        }
                    }
                    RlwDistribution::ConstrainedBernoulli => {
                        let pick = rng.gen_range(0..t);
                        (0..t).map(|i| f64::from(u8::from(i == pick))).collect()
                    }
                };
                let total = if r.distribution == RlwDistribution::Libmtl {
                    1.0
                } else {
                    t as f64
                };
                let sum: f64 = draws.iter().sum();
                draws
                    .into_iter()
                    .map(|d| (total * d / sum) as f32)
                    .collect()
            }
            WeightingSpec::AutoLambda(_) => self.params.iter().map(|l| *l as f32).collect(),
            WeightingSpec::Uw(_) => {
                let weights: Vec<f32> = self
                    .params
                    .iter()
                    .map(|s| (0.5 * (-s).exp()) as f32)
                    .collect();
                // ∂/∂sᵢ [Lᵢ/(2e^{sᵢ}) + sᵢ/2] = −Lᵢ/(2e^{sᵢ}) + 1/2.
                let grad: Vec<f64> = self
                    .params
                    .iter()
                    .zip(losses)
                    .map(|(s, l)| -f64::from(*l) * 0.5 * (-s).exp() + 0.5)
                    .collect();
                if let Some(adam) = &mut self.params_optimizer {
                    adam.update(&mut self.params, &grad);
                }
                weights
            }
            WeightingSpec::ImtlL(_) => {
                let weights: Vec<f32> = self.params.iter().map(|s| s.exp() as f32).collect();
                // ∂/∂sᵢ [e^{sᵢ}Lᵢ − sᵢ] = e^{sᵢ}Lᵢ − 1.
                let grad: Vec<f64> = self
                    .params
                    .iter()
                    .zip(losses)
                    .map(|(s, l)| s.exp() * f64::from(*l) - 1.0)
                    .collect();
                if let Some(adam) = &mut self.params_optimizer {
                    adam.update(&mut self.params, &grad);
                }
                weights
            }
            WeightingSpec::Famo(_) => {
                self.losses_before = losses.to_vec();
                let z = softmax(&self.params, 1.0);
                let gaps: Vec<f64> = self.famo_log_gap(losses).iter().map(|g| g.exp()).collect();
                let c: f64 = z.iter().zip(&gaps).map(|(zi, di)| zi / di).sum();
                // ∇ of Σ zᵢ log Dᵢ / c with c held constant: Σ zᵢ/(c·Dᵢ) ∇Lᵢ.
                z.iter()
                    .zip(&gaps)
                    .map(|(zi, di)| (zi / (c * di)) as f32)
                    .collect()
            }
            WeightingSpec::Dwa(d) => match self.epoch_means.as_slice() {
                [.., before, last] => {
                    let ratios: Vec<f64> = last.iter().zip(before).map(|(a, b)| a / b).collect();
                    softmax(&ratios, d.temperature)
                        .into_iter()
                        .map(|w| (t as f64 * w) as f32)
                        .collect()
                }
                _ => vec![1.0; t],
            },
            _ => vec![1.0; t],
        }
    }

    /// Gradient-level aggregation of the per-task shared gradients.
    pub fn aggregate(&mut self, grads: &[Vec<f32>], losses: &[f32]) -> Aggregation {
        if let Some(parts) = &mut self.parts {
            let (loss_part, gradient_part) = &mut **parts;
            let w = loss_part.loss_weights(losses);
            let scaled: Vec<Vec<f32>> = grads
                .iter()
                .zip(&w)
                .map(|(g, wi)| g.iter().map(|x| x * wi).collect())
                .collect();
            let scaled_losses: Vec<f32> = losses.iter().zip(&w).map(|(l, wi)| l * wi).collect();
            let mut aggregation = gradient_part.aggregate(&scaled, &scaled_losses);
            // Weights on the raw gᵢ, and heads scaled by wᵢ as well.
            for (a, wi) in aggregation.weights.iter_mut().zip(&w) {
                *a *= f64::from(*wi);
            }
            let heads = aggregation
                .head_scales
                .take()
                .unwrap_or_else(|| vec![1.0; w.len()]);
            aggregation.head_scales = Some(
                heads
                    .iter()
                    .zip(&w)
                    .map(|(h, wi)| h * f64::from(*wi))
                    .collect(),
            );
            return aggregation;
        }
        match &self.spec {
            WeightingSpec::Mgda(m) => {
                aggregate::mgda(grads, losses, m.normalizer, m.tolerance, m.max_iterations)
            }
            WeightingSpec::PcGrad(p) => {
                let libmtl_loop = p.libmtl_loop;
                let orders = self.random_orders();
                aggregate::pcgrad(grads, &orders, libmtl_loop)
            }
            WeightingSpec::CaGrad(c) => {
                aggregate::cagrad(grads, c.c, c.rescale, c.tolerance, c.max_iterations)
            }
            WeightingSpec::GradVac(g) => {
                let (granularity, beta) = (g.granularity, g.beta);
                let len = grads.first().map_or(0, Vec::len);
                let groups = self.gradvac_groups(granularity, len);
                if self.targets.is_empty() {
                    self.targets = vec![0.0; self.tasks * self.tasks * groups.len()];
                }
                let orders = self.random_orders();
                aggregate::gradvac(grads, &orders, &groups, beta, &mut self.targets)
            }
            WeightingSpec::DbMtl(d) => {
                self.steps += 1;
                let scale: Vec<f32> = losses.iter().map(|l| 1.0 / (l + 1e-8)).collect();
                if self.ema.is_empty() {
                    self.ema = vec![vec![0.0; grads.first().map_or(0, Vec::len)]; self.tasks];
                }
                // ĝᵢ ← gᵢ' + (β/t^{β_σ})(ĝᵢ − gᵢ'), gᵢ' = gᵢ/(Lᵢ + 1e-8) the log-loss gradient.
                let keep = (d.beta / f64::from(self.steps).powf(d.beta_sigma)) as f32;
                for ((e, g), s) in self.ema.iter_mut().zip(grads).zip(&scale) {
                    e.iter_mut().zip(g).for_each(|(ei, gi)| {
                        let log_grad = gi * s;
                        *ei = log_grad + keep * (*ei - log_grad);
                    });
                }
                let mut aggregation = aggregate::db_mtl(&self.ema);
                aggregation.head_scales = Some(scale.iter().map(|s| f64::from(*s)).collect());
                aggregation
            }
            WeightingSpec::GradNorm(g) => {
                let t = self.tasks;
                let Some(initial) = self.epoch_means.first().cloned() else {
                    // First epoch: equal weights while the initial losses are measured.
                    return Aggregation {
                        event: None,
                        weights: vec![1.0; t],
                        report: None,
                        head_scales: None,
                        direction: None,
                    };
                };
                let z = softmax(&self.params, 1.0);
                let w: Vec<f64> = z.iter().map(|zi| t as f64 * zi).collect();
                let tail = match (g.last_shared_layer, self.shared_layout.last()) {
                    (true, Some((w, b))) => w + b,
                    _ => usize::MAX,
                };
                let norms: Vec<f64> = grads
                    .iter()
                    .map(|gi| {
                        let part = &gi[gi.len().saturating_sub(tail)..];
                        crate::solvers::dot(part, part).sqrt()
                    })
                    .collect();
                let big_g: Vec<f64> = w.iter().zip(&norms).map(|(wi, n)| wi * n).collect();
                let mean_g = big_g.iter().sum::<f64>() / t as f64;
                let ratio: Vec<f64> = (0..t).map(|i| f64::from(losses[i]) / initial[i]).collect();
                let mean_ratio = ratio.iter().sum::<f64>() / t as f64;
                let target: Vec<f64> = ratio
                    .iter()
                    .map(|r| mean_g * (r / mean_ratio).powf(g.alpha))
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
                if let Some(adam) = &mut self.params_optimizer {
                    adam.update(&mut self.params, &ds);
                }
                Aggregation {
                    event: None,
                    head_scales: Some(w.clone()),
                    weights: w,
                    report: None,
                    direction: None,
                }
            }
            WeightingSpec::ImtlG(_) => aggregate::imtl_g(grads),
            WeightingSpec::AlignedMtl(_) => aggregate::aligned_mtl(grads),
            WeightingSpec::UpGrad(u) => {
                aggregate::upgrad(grads, u.regularisation, u.tolerance, u.max_iterations)
            }
            WeightingSpec::NashMtl(n) => {
                aggregate::nash_mtl(grads, n.max_norm, n.tolerance, n.max_iterations)
            }
            _ => {
                let weights = self
                    .loss_weights(losses)
                    .into_iter()
                    .map(f64::from)
                    .collect();
                Aggregation {
                    event: None,
                    weights,
                    report: None,
                    head_scales: None,
                    direction: None,
                }
            }
        }
    }

    /// One random order of the tasks per task (PCGrad, GradVac), from the run's stream.
    fn random_orders(&mut self) -> Vec<Vec<usize>> {
        (0..self.tasks)
            .map(|_| {
                let mut order: Vec<usize> = (0..self.tasks).collect();
                order.shuffle(&mut self.rng);
                order
            })
            .collect()
    }

    /// Records an epoch's mean training losses (DWA reads the last two).
    pub fn end_epoch(&mut self, means: Vec<f64>) {
        if let Some(parts) = &mut self.parts {
            parts.0.end_epoch(means.clone());
            parts.1.end_epoch(means.clone());
        }
        self.epoch_means.push(means);
    }
}

/// softmax(x/τ), computed with max-subtraction.
fn softmax(x: &[f64], temperature: f64) -> Vec<f64> {
    let max = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| ((v - max) / temperature).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.into_iter().map(|v| v / sum).collect()
}

#[cfg(test)]
mod tests;
