//! The weighting registry: how per-task losses (loss-level methods) or per-task gradients
//! of the shared parameters (gradient-level methods) become one update, and `Weighter`,
//! a run's weighting with its state (random stream, loss history).

use crate::aggregate::{self, Aggregation, GradVacGranularity, MgdaNormalizer};
use crate::optimizer::HostAdam;
use crate::AlgorithmsError;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// `equal`: L = Σᵢ Lᵢ.
///
/// Paper: the uniform-scalarisation baseline of every MTL paper. LibMTL `EW` (which sums,
/// as here); torchjd's `Mean` averages instead, which only rescales the learning rate.
/// No hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Equal {}

/// `static`: L = Σᵢ wᵢ Lᵢ with fixed weights given in the study.
///
/// Paper: linear scalarisation with hand-set weights (the grid-searched baseline of Kendall
/// et al. 2018). Hyper-parameters: `weights` (one per task, ≥ 0; no default — the plan
/// rejects an empty list).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Static {
    pub weights: Vec<f64>,
}

/// `scale_invariant`: L = Σᵢ log Lᵢ, i.e. the update of Σᵢ Lᵢ/sg(Lᵢ).
///
/// Paper: the scale-invariant baseline of Navon et al. 2022 (Nash-MTL, "SI"); the
/// reference is Nash-MTL's `ScaleInvariantLinearScalarization`. No hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleInvariant {}

/// `gls`: L = (Πᵢ Lᵢ)^{1/T}, whose gradient is Σᵢ [(ΠL)^{1/T}/(T·Lᵢ)] ∇Lᵢ.
///
/// Paper: Chennupati et al. 2019, geometric loss strategy; LibMTL `GLS`. No
/// hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gls {}

/// The distribution RLW draws its weights from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RlwDistribution {
    /// λ = softmax(ε), ε ~ N(0, I), Σλ = 1 (LibMTL).
    #[default]
    Libmtl,
    /// λᵢ ~ U(0, 1), rescaled to Σλ = T.
    Uniform,
    /// λ = softmax(ε), ε ~ N(0, I), rescaled to Σλ = T.
    Normal,
    /// λ ~ Dirichlet(1, …, 1), rescaled to Σλ = T.
    Dirichlet,
    /// λᵢ ~ Bernoulli(½), rescaled to Σλ = T (all ones when every draw is 0).
    Bernoulli,
    /// One task drawn uniformly gets weight T, the others 0.
    ConstrainedBernoulli,
}

/// `rlw`: L = Σᵢ λᵢLᵢ with λ drawn fresh each step from the run's own stream.
///
/// Paper: Lin et al. 2022, random loss weighting; LibMTL `RLW`; Kurin et al. 2022 for the
/// rescaled variants (their `random_normal` is not offered). Hyper-parameters:
/// `distribution` libmtl | uniform | normal | dirichlet | bernoulli | constrained_bernoulli
/// (default libmtl).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rlw {
    pub distribution: RlwDistribution,
}

/// `dwa`: for epoch e > 2, wᵢ = T·exp(rᵢ/τ)/Σⱼexp(rⱼ/τ) with rᵢ = L̄ᵢ(e−1)/L̄ᵢ(e−2), the
/// ratio of the last two epoch-mean training losses; wᵢ = 1 for the first 2 epochs.
///
/// Paper: Liu et al. 2019, dynamic weight average; LibMTL `DWA`.
/// Hyper-parameters: `temperature` τ = 2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dwa {
    pub temperature: f64,
}

impl Default for Dwa {
    fn default() -> Self {
        Dwa { temperature: 2.0 }
    }
}

/// `mgda`: d = Σ αᵢ*ĝᵢ with α* = argmin_{α∈Δ} ‖Σ αᵢĝᵢ‖² (the min-norm point), ĝᵢ = gᵢ/nᵢ.
/// Solved by accelerated projected gradient on the simplex to `tolerance` (Frank–Wolfe
/// gap), not by the reference's 250-iteration Frank–Wolfe. Task heads get their own
/// task's gradient, unscaled (as LibMTL).
///
/// Paper: Sener & Koltun 2018; LibMTL `MGDA` (`mgda_gn`). Hyper-parameters: `normalizer`
/// none | l2 | loss | loss_plus (default none), `tolerance` 1e-10, `max_iterations` 10000.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mgda {
    pub normalizer: MgdaNormalizer,
    pub tolerance: f64,
    pub max_iterations: usize,
}

impl Default for Mgda {
    fn default() -> Self {
        Mgda {
            normalizer: MgdaNormalizer::None,
            tolerance: 1e-10,
            max_iterations: 10_000,
        }
    }
}

/// `pcgrad`: project each gᵢ off every gⱼ it conflicts with (gᵢ′ᵀgⱼ < 0), j in a random
/// order drawn per step from the run's stream; d = Σᵢ gᵢ′ (summed, as LibMTL). Task heads
/// get their own task's gradient.
///
/// Paper: Yu et al. 2020; LibMTL `PCGrad`. Hyper-parameters: `libmtl_loop` (default
/// false): also "project" gᵢ′ on gᵢ itself, as LibMTL's loop does.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PcGrad {
    pub libmtl_loop: bool,
}

/// `cagrad`: d = ḡ + φ/‖g_w‖·g_w with w* = argmin_{w∈Δ} wᵀA·1/T + φ√(wᵀAw), φ = c‖ḡ‖,
/// rescaled (FORMULAS.md b.5; LibMTL's form, with its 1e-8 terms). Task heads get their own
/// task's gradient.
///
/// Paper: Liu et al. 2021; LibMTL `CAGrad`. Hyper-parameters: `c` 0.5 (LibMTL's default;
/// the CAGrad NYUv2 runs use 0.4), `rescale` 1 (0 none, 1 ÷(1+c²), 2 ÷(1+c)), `tolerance`
/// 1e-10, `max_iterations` 10000.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaGrad {
    pub c: f64,
    pub rescale: u8,
    pub tolerance: f64,
    pub max_iterations: usize,
}

impl Default for CaGrad {
    fn default() -> Self {
        CaGrad {
            c: 0.5,
            rescale: 1,
            tolerance: 1e-10,
            max_iterations: 10_000,
        }
    }
}

/// `imtl_g`: the update with equal projections onto every task's unit gradient,
/// α₂..T = g₁Uᵀ(DUᵀ)⁻¹, α₁ = 1 − Σα₂..T (the gradient part of IMTL; the learnable loss
/// scales of IMTL-L are not included). Task heads get their own task's gradient.
///
/// Paper: Liu et al. 2021, "Towards impartial multi-task learning"; LibMTL `IMTL`
/// (gradient part). No hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImtlG {}

/// `aligned_mtl`: GGᵀ = VΛVᵀ (eigenvalues ≤ λ_max·T·ε₃₂ dropped), B = √λ_min·VΛ^{−1/2}Vᵀ,
/// wᵢ = column sums of B (LibMTL's `min` scale mode). Task heads get their own task's
/// gradient.
///
/// Paper: Senushkin et al. 2023, "Independent component alignment for multi-task
/// learning"; LibMTL `Aligned_MTL`. No hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignedMtl {}

/// `upgrad`: project each gᵢ onto the dual cone of the task gradients and sum the
/// projections (weights w = Σᵢ vᵢ, vᵢ = argmin vᵀĜv s.t. v ≥ eᵢ/T, Ĝ = GGᵀ/tr + 1e-4·I). Never
/// conflicts with a task. Task heads get their own task's gradient.
///
/// Paper: Quinton & Rey 2024, "Jacobian descent for multi-objective optimization"; torchjd
/// `UPGrad`. Hyper-parameters: `tolerance` 1e-10, `max_iterations` 10000 (inner QPs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpGrad {
    pub tolerance: f64,
    pub max_iterations: usize,
}

impl Default for UpGrad {
    fn default() -> Self {
        UpGrad {
            tolerance: 1e-10,
            max_iterations: 10_000,
        }
    }
}

/// `nash_mtl`: the Nash bargaining weights α with (GGᵀα)ᵢ = 1/αᵢ (GGᵀ normalised by its
/// Frobenius norm), solved exactly by damped Newton (not the reference's CCCP); the update
/// of Σ αᵢLᵢ, shared part clipped to `max_norm`. Weights are recomputed every step.
///
/// Paper: Navon et al. 2022; reference AvivNavon/nash-mtl `NashMTL`. Hyper-parameters:
/// `max_norm` 1.0, `tolerance` 1e-10, `max_iterations` 100 (Newton steps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NashMtl {
    pub max_norm: f64,
    pub tolerance: f64,
    pub max_iterations: usize,
}

impl Default for NashMtl {
    fn default() -> Self {
        NashMtl {
            max_norm: 1.0,
            tolerance: 1e-10,
            max_iterations: 100,
        }
    }
}

/// `uw`: L = Σᵢ [Lᵢ/(2e^{sᵢ}) + sᵢ/2] with learnable sᵢ initialised to −0.5 (LibMTL's
/// form of Kendall et al.'s Σ Lᵢ/(2σᵢ²) + log σᵢ). The sᵢ are trained by Adam with the run's
/// learning rate (LibMTL trains them with the model optimizer, Adam in its examples).
///
/// Paper: Kendall et al. 2018; LibMTL `UW`. No hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Uw {}

/// `auto_lambda`: meta-learned task weights λ (unconstrained, initialised to `init`) on
/// L = Σᵢ λᵢLᵢ. Each step: a virtual step θ′ = θ − α∇θ Σλᵢ Lᵢ^tr (α = the run's learning
/// rate; a plain gradient step, where the reference also adds the SGD momentum buffer and
/// weight decay); the outer loss Σ_{i∈primary} Lᵢ on a second batch drawn at random from
/// the training set (as the reference's second shuffled loader) at θ′, v = its gradient;
/// the hypergradient by finite differences (DARTS style), ∇λ ≈ −α[Lᵢ^tr(θ⁺) −
/// Lᵢ^tr(θ⁻)]/(2ε) with θ± = θ ± εv, ε = 0.01/‖v‖ (∇λ of Σλᵢ Lᵢ is the vector of task losses,
/// so no second-order autodiff is needed); Adam on λ with `meta_lr`; then the real step on
/// Σλᵢ Lᵢ with the updated λ. Costs 5 forward and 3 backward passes per step.
///
/// Paper: Liu et al. 2022, "Auto-Lambda: disentangling dynamic task relationships";
/// reference lorenmt/auto-lambda (`auto_lambda.py`), FORMULAS.md b.6. Hyper-parameters:
/// `init` 0.1, `meta_lr` 1e-4 (the reference's NYUv2 value), `primary` (task indices of the
/// outer loss; default all tasks: the MTL mode; a subset: auxiliary learning).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoLambda {
    pub init: f64,
    pub meta_lr: f64,
    pub primary: Option<Vec<usize>>,
}

impl Default for AutoLambda {
    fn default() -> Self {
        AutoLambda {
            init: 0.1,
            meta_lr: 1e-4,
            primary: None,
        }
    }
}

/// `meta_weight_net`: Meta-Weight-Net adapted to tasks (see `meta_weight`): an MLP
/// 2 → `hidden` → 1 maps each task's (loss, loss ratio to its first-step loss) to a
/// weight; trained each step by the first-order one-step look-ahead on a batch of the
/// validation split (the meta set), SGD Nesterov 0.9, weight decay 5e-4, lr `meta_lr`;
/// the real step then uses the updated weights. T + 1 forward and backward passes a step.
///
/// Paper: Shu et al. 2019, "Meta-Weight-Net: learning an explicit mapping for sample
/// weighting" (per-sample weights; reference xjtushujun/meta-weight-net); the task
/// adaptation is FORMULAS.md b.6's proposal. First order: the task gradients at θ stand in
/// for their values along the look-ahead (the reference differentiates through it).
/// Weights are normalised to sum T (the reference: sum 1). Hyper-parameters: `hidden` 100,
/// `meta_lr` 1e-3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetaWeightNetSpec {
    pub hidden: usize,
    pub meta_lr: f64,
}

impl Default for MetaWeightNetSpec {
    fn default() -> Self {
        MetaWeightNetSpec {
            hidden: 100,
            meta_lr: 1e-3,
        }
    }
}

/// `famo`: z = softmax(w), Dᵢ = Lᵢ − Lᵢ^min + 1e-8, the update of Σᵢ zᵢ log Dᵢ / sg(Σᵢ zᵢ/Dᵢ);
/// after the model step, on the same batch, δᵢ = log Dᵢ(before) − log Dᵢ(after), the logits
/// w get the gradient J_softmax(w)ᵀδ and an Adam step. One extra forward pass per step.
/// The reference's gradient clipping of its experiment scripts is not applied.
///
/// Paper: Liu et al. 2023, "FAMO: fast adaptive multitask optimization"; LibMTL `FAMO`.
/// Hyper-parameters: `lr` 0.025 (Adam on w), `weight_decay` γ 1e-3 (LibMTL's default;
/// `famo.py` uses 0.01), `min_losses` (default all 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Famo {
    pub lr: f64,
    pub weight_decay: f64,
    pub min_losses: Option<Vec<f64>>,
}

impl Default for Famo {
    fn default() -> Self {
        Famo {
            lr: 0.025,
            weight_decay: 1e-3,
            min_losses: None,
        }
    }
}

/// `db_mtl`: per-task gradients of log(Lᵢ + 1e-8), smoothed by an EMA
/// ĝᵢ ← gᵢ + (β/t^{β_σ})(ĝᵢ − gᵢ); αᵢ = maxⱼ‖ĝⱼ‖/‖ĝᵢ‖; d = Σ αᵢĝᵢ. Heads get the gradient of
/// their task's log loss.
///
/// Paper: Lin et al. 2023, "Dual-balancing for multi-task learning"; LibMTL `DB_MTL`.
/// Hyper-parameters: `beta` 0.9, `beta_sigma` 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DbMtl {
    pub beta: f64,
    pub beta_sigma: f64,
}

impl Default for DbMtl {
    fn default() -> Self {
        DbMtl {
            beta: 0.9,
            beta_sigma: 0.0,
        }
    }
}

/// `gradnorm`: w = T·softmax(s); Gᵢ = ‖wᵢgᵢ‖; Ḡ = meanᵢGᵢ; rᵢ = L̃ᵢ/meanⱼL̃ⱼ with
/// L̃ᵢ = Lᵢ/Lᵢ(0) and Lᵢ(0) the first epoch's mean training loss; L_grad = Σᵢ|Gᵢ − sg(Ḡrᵢ^α)|;
/// s takes ∂L_grad/∂s and an Adam step at the run's learning rate; d = Σ wᵢgᵢ. Equal weights
/// during the first epoch (as LibMTL). Heads get their own task's gradient × wᵢ.
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

/// `compose`: a loss weighting followed by a gradient aggregator: each task gradient and
/// head is scaled by the loss weighting's wᵢ (gᵢ ← wᵢgᵢ, Lᵢ ← wᵢLᵢ), then the aggregator
/// combines them. E.g. `{kind: compose, loss: {kind: uw}, gradient: {kind: pcgrad}}`.
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
            loss: Box::new(WeightingSpec::Equal(Equal {})),
            gradient: Box::new(WeightingSpec::Mgda(Mgda::default())),
        }
    }
}

/// `imtl_l`: the loss part of IMTL: each loss becomes e^{sᵢ}Lᵢ − sᵢ with learnable sᵢ
/// (initialised to 0), trained by Adam at the run's learning rate (LibMTL trains them with
/// the model optimizer). Full IMTL is `{kind: compose, loss: {kind: imtl_l}, gradient:
/// {kind: imtl_g}}`, as LibMTL's `IMTL` applies IMTL-G to the scaled losses' gradients.
///
/// Paper: Liu et al. 2021, "Towards impartial multi-task learning"; LibMTL `IMTL` (loss
/// part). No hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImtlL {}

/// `gradvac`: gradient vaccine: per task pair (and per parameter group), raise the cosine
/// of gᵢ′ and gⱼ to an EMA target φ̂ᵢⱼ when it falls below it, j in a random order per step;
/// targets start at 0 and move by φ̂ ← (1−β)φ̂ + βρ. With targets at 0 it is PCGrad. Task
/// heads get their own task's gradient.
///
/// Paper: Wang et al. 2021, "Gradient vaccine"; LibMTL `GradVac`. Hyper-parameters:
/// `beta` 0.5, `granularity` whole | layer | tensor (default whole, LibMTL's group type 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradVac {
    pub beta: f64,
    pub granularity: GradVacGranularity,
}

impl Default for GradVac {
    fn default() -> Self {
        GradVac {
            beta: 0.5,
            granularity: GradVacGranularity::Whole,
        }
    }
}

/// `graddrop`: gradient sign dropout on the shared representation: per feature, keep each
/// task's gradient with the probability that its sign agrees with the batch's sign purity
/// P; the masked sum is backpropagated through the trunk. Always uses the representation
/// path (one trunk forward and backward; needs `hard_sharing`). Uniform draws come from the
/// run's stream.
///
/// Paper: Chen et al. 2020, "Just pick a sign"; LibMTL `GradDrop`. Hyper-parameters:
/// `leak` 0.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradDrop {
    pub leak: f64,
}

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
            return part("gradient", &c.gradient, true);
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

    pub fn uses_representation(&self) -> bool {
        self.spec.uses_representation()
    }

    /// GradDrop's masked sum of per-sample representation gradients (composition: each
    /// task's gradient scaled by the loss weighting first).
    pub fn graddrop(&mut self, per_sample: &[Vec<f32>], rep: &[f32], width: usize) -> Vec<f32> {
        let losses = vec![1.0f32; per_sample.len()];
        if let Some(parts) = &mut self.parts {
            let w = parts.0.loss_weights(&losses);
            let scaled: Vec<Vec<f32>> = per_sample
                .iter()
                .zip(&w)
                .map(|(g, wi)| g.iter().map(|x| x * wi).collect())
                .collect();
            return parts.1.graddrop(&scaled, rep, width);
        }
        let leak = match &self.spec {
            WeightingSpec::GradDrop(g) => g.leak,
            _ => 0.0,
        };
        let uniform: Vec<f64> = (0..width).map(|_| self.rng.gen::<f64>()).collect();
        aggregate::graddrop(per_sample, rep, width, &uniform, leak)
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
                    head_scales: Some(w.clone()),
                    weights: w,
                    report: None,
                    direction: None,
                }
            }
            WeightingSpec::ImtlG(_) => aggregate::imtl_g(grads),
            WeightingSpec::AlignedMtl(_) => aggregate::aligned_mtl(grads),
            WeightingSpec::UpGrad(u) => aggregate::upgrad(grads, u.tolerance, u.max_iterations),
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
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn weighter(spec: WeightingSpec) -> Weighter {
        Weighter::new(&spec, 3, ChaCha8Rng::seed_from_u64(1), 0.01)
    }

    #[test]
    fn loss_level_weights_by_hand() {
        let losses = [0.5f32, 2.0, 4.0];
        assert_eq!(
            weighter(WeightingSpec::ScaleInvariant(ScaleInvariant {})).loss_weights(&losses),
            vec![2.0, 0.5, 0.25]
        );
        // GLS: (0.5·2·4)^(1/3) = 4^(1/3); wᵢ = 4^(1/3)/(3Lᵢ).
        let g = 4f64.powf(1.0 / 3.0);
        let w = weighter(WeightingSpec::Gls(Gls {})).loss_weights(&losses);
        for (wi, li) in w.iter().zip(losses) {
            assert!((f64::from(*wi) - g / (3.0 * f64::from(li))).abs() < 1e-6);
        }
        // RLW: a fresh point of the simplex each step, reproducible from the stream.
        let mut r = weighter(WeightingSpec::Rlw(Rlw::default()));
        let (a, b) = (r.loss_weights(&losses), r.loss_weights(&losses));
        assert!((a.iter().sum::<f32>() - 1.0).abs() < 1e-6 && a != b);
        assert_eq!(
            a,
            weighter(WeightingSpec::Rlw(Rlw::default())).loss_weights(&losses)
        );
        // Kurin's variants sum to T; constrained Bernoulli picks exactly one task.
        for distribution in [
            RlwDistribution::Uniform,
            RlwDistribution::Normal,
            RlwDistribution::Dirichlet,
            RlwDistribution::Bernoulli,
            RlwDistribution::ConstrainedBernoulli,
        ] {
            let mut r = weighter(WeightingSpec::Rlw(Rlw { distribution }));
            for _ in 0..20 {
                let w = r.loss_weights(&losses);
                let sum: f32 = w.iter().sum();
                assert!(
                    (sum - 3.0).abs() < 1e-5 && w.iter().all(|x| *x >= 0.0),
                    "{distribution:?} {w:?}"
                );
                if distribution == RlwDistribution::ConstrainedBernoulli {
                    assert_eq!(w.iter().filter(|x| **x == 3.0).count(), 1);
                }
            }
        }
    }

    #[test]
    fn dwa_uses_the_last_two_epochs() {
        let mut d = weighter(WeightingSpec::Dwa(Dwa { temperature: 2.0 }));
        assert_eq!(d.loss_weights(&[1.0; 3]), vec![1.0; 3]);
        d.end_epoch(vec![1.0, 1.0, 2.0]);
        assert_eq!(d.loss_weights(&[1.0; 3]), vec![1.0; 3]);
        d.end_epoch(vec![0.5, 1.0, 2.0]);
        // r = (0.5, 1, 1); w = 3·exp(r/2)/Σ exp(r/2).
        let e = [0.25f64.exp(), 0.5f64.exp(), 0.5f64.exp()];
        let s: f64 = e.iter().sum();
        let w = d.loss_weights(&[1.0; 3]);
        for (wi, ei) in w.iter().zip(e) {
            assert!((f64::from(*wi) - 3.0 * ei / s).abs() < 1e-6);
        }
    }

    #[test]
    fn uncertainty_weights_and_their_update() {
        let mut uw = weighter(WeightingSpec::Uw(Uw {}));
        let w = uw.loss_weights(&[1.0, 0.2, 5.0]);
        let start = (0.5 * 0.5f64.exp()) as f32;
        assert_eq!(w, vec![start; 3]);
        // ∂/∂s = −L·e^{0.5}/2 + 1/2: negative for L = 1 and 5 (s rises, weight falls),
        // positive for L = 0.2 (s falls, weight rises); Adam's first step is lr·sign.
        let w = uw.loss_weights(&[1.0, 0.2, 5.0]);
        assert!(w[0] < start && w[2] < start && w[1] > start, "{w:?}");
        assert!((f64::from(w[0]) - 0.5 * (0.5f64 - 0.01).exp()).abs() < 1e-6);
    }

    #[test]
    fn famo_starts_inverse_to_losses_and_favours_the_slower_task() {
        let mut famo = weighter(WeightingSpec::Famo(Famo::default()));
        let before = [1.0f32, 2.0, 4.0];
        let w = famo.loss_weights(&before);
        // z uniform: wᵢ = (1/Lᵢ)/Σⱼ(1/Lⱼ).
        let inv_sum = 1.0 + 0.5 + 0.25;
        for (wi, li) in w.iter().zip(before) {
            assert!((f64::from(*wi) - (1.0 / f64::from(li)) / inv_sum).abs() < 1e-6);
        }
        // Task 0 halves its loss, tasks 1 and 2 do not move: its logit falls.
        famo.after_step(&[0.5, 2.0, 4.0]);
        let z = softmax(&famo.params, 1.0);
        assert!(z[0] < z[1] && (z[1] - z[2]).abs() < 1e-12, "{z:?}");
    }

    #[test]
    fn db_mtl_smooths_log_gradients_and_balances_norms() {
        let mut db = weighter(WeightingSpec::DbMtl(DbMtl::default()));
        let grads = vec![vec![2.0f32, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]];
        let losses = [2.0f32, 0.5, 1.0];
        let agg = db.aggregate(&grads, &losses);
        // First step: ĝᵢ = (1 − β)·gᵢ/Lᵢ = 0.1·(1, 0), 0.1·(0, 2), 0.1·(1, 1).
        let expected_ema = [vec![0.1f32, 0.0], vec![0.0, 0.2], vec![0.1, 0.1]];
        for (e, x) in db.ema.iter().zip(&expected_ema) {
            assert!(e.iter().zip(x).all(|(a, b)| (a - b).abs() < 1e-7), "{e:?}");
        }
        // αᵢ = 0.2/‖ĝᵢ‖ → d = 0.2·(1, 0) + 0.2·(0, 1) + 0.2/√2·(1, 1).
        let d = agg.direction.unwrap();
        let r = 0.2 / 2f32.sqrt();
        assert!(
            (d[0] - (0.2 + r)).abs() < 1e-6 && (d[1] - (0.2 + r)).abs() < 1e-6,
            "{d:?}"
        );
        assert_eq!(agg.head_scales.unwrap().len(), 3);
    }

    #[test]
    fn gradnorm_equal_first_then_moves_towards_the_slow_task() {
        let mut gn = weighter(WeightingSpec::GradNorm(GradNorm {
            alpha: 1.5,
            last_shared_layer: false,
        }));
        let grads = vec![vec![1.0f32, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]];
        assert_eq!(gn.aggregate(&grads, &[1.0, 1.0, 1.0]).weights, vec![1.0; 3]);
        gn.end_epoch(vec![1.0, 1.0, 1.0]);
        // Task 0 has trained least (L̃ = 1 vs 0.5): its target norm is the largest, so its
        // weight rises; weights stay on the simplex scaled by T.
        let agg = gn.aggregate(&grads, &[1.0, 0.5, 0.5]);
        assert!(
            agg.weights.iter().all(|w| (w - 1.0).abs() < 1e-12),
            "weights of this step use s before the update"
        );
        let next = gn.aggregate(&grads, &[1.0, 0.5, 0.5]).weights;
        assert!(next[0] > next[1], "{next:?}");
        assert!((next.iter().sum::<f64>() - 3.0).abs() < 1e-9);
    }

    /// compose(static, mgda) scales each gradient and head by the static weight before
    /// MGDA: with weights (1, 0, 0) only task 0 is left, so d = g₀ and heads 1 and 2 get 0.
    /// The meta-learned weightings run their own training step: a composition, which only
    /// asks its loss part for weights, would silently skip it, so it is refused.
    #[test]
    fn meta_learned_weightings_do_not_compose() {
        for loss in [
            WeightingSpec::AutoLambda(AutoLambda::default()),
            WeightingSpec::MetaWeightNet(MetaWeightNetSpec::default()),
        ] {
            let spec = WeightingSpec::Compose(Compose {
                loss: Box::new(loss),
                gradient: Box::new(WeightingSpec::Mgda(Default::default())),
            });
            assert!(spec.validate(3).is_err());
        }
    }

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
        let agg = weighter(spec).aggregate(&grads, &[1.0, 1.0, 1.0]);
        assert_eq!(
            crate::aggregate::combine(&grads, &agg.weights),
            vec![1.0, 0.0]
        );
        assert_eq!(agg.head_scales.unwrap(), vec![1.0, 0.0, 0.0]);

        let wrong = WeightingSpec::Compose(Compose {
            loss: Box::new(WeightingSpec::PcGrad(PcGrad::default())),
            gradient: Box::new(WeightingSpec::Mgda(Mgda::default())),
        });
        assert_eq!(wrong.validate(3).unwrap_err().key(), "loss");
    }

    #[test]
    fn imtl_l_scales_move_towards_equal_scaled_losses() {
        let mut imtl = weighter(WeightingSpec::ImtlL(ImtlL {}));
        assert_eq!(imtl.loss_weights(&[2.0, 0.5, 1.0]), vec![1.0; 3]);
        // ∂/∂s = L − 1 at s = 0: s₀ falls (L = 2), s₁ rises (L = 0.5), s₂ stays.
        let w = imtl.loss_weights(&[2.0, 0.5, 1.0]);
        assert!(w[0] < 1.0 && w[1] > 1.0 && w[2] == 1.0, "{w:?}");
    }

    #[test]
    fn gradvac_groups_follow_the_shared_layout() {
        let mut w = weighter(WeightingSpec::GradVac(GradVac::default()));
        w.set_shared_layout(vec![(6, 2), (4, 1)]);
        assert_eq!(w.gradvac_groups(GradVacGranularity::Whole, 13), vec![0..13]);
        assert_eq!(
            w.gradvac_groups(GradVacGranularity::Layer, 13),
            vec![0..8, 8..13]
        );
        assert_eq!(
            w.gradvac_groups(GradVacGranularity::Tensor, 13),
            vec![0..6, 6..8, 8..12, 12..13]
        );
    }
}
