//! The configuration of each weighting method: its hyper-parameters (serde, with the
//! defaults), and its doc: formula, paper, reference code and departures.

use super::WeightingSpec;
use crate::aggregate::{GradVacGranularity, MgdaNormalizer, UpGradRegularisation};
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

/// `upgrad`: project each gᵢ onto the dual cone {d: Gd ≥ 0} of the task gradients and sum
/// the projections (weights w = Σᵢ vᵢ, vᵢ = argmin vᵀQv s.t. v ≥ eᵢ/T). With the default
/// `regularisation: none`, Q = GGᵀ and each projection is exact, so d never conflicts with
/// a task (gⱼᵀd ≥ 0); `torchjd` solves torchjd's problem instead, Q = GGᵀ/tr(GGᵀ) + 1e-4·I,
/// whose ridge moves d when the task gradients differ much in norm (measured on a Jacobian
/// whose norms differ 51×: 11% from the exact projection, and conflicting with a task).
/// The inner problems are solved exactly by an active-set method (accelerated projected
/// gradient to `tolerance` as a fallback). Task heads get their own task's gradient.
///
/// Paper: Quinton & Rey 2024, "Jacobian descent for multi-objective optimization"; torchjd
/// `UPGrad` (whose default is the regularised form). Hyper-parameters: `regularisation`
/// none | torchjd (default none), `tolerance` 1e-10, `max_iterations` 10000 (fallback).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpGrad {
    pub regularisation: UpGradRegularisation,
    pub tolerance: f64,
    pub max_iterations: usize,
}

impl Default for UpGrad {
    fn default() -> Self {
        UpGrad {
            regularisation: UpGradRegularisation::None,
            tolerance: 1e-10,
            max_iterations: 10_000,
        }
    }
}

/// `nash_mtl`: the Nash bargaining weights α > 0 with (Mα)ᵢ = 1/αᵢ for M = GGᵀ/‖GGᵀ‖_F, the
/// Gramian divided by its Frobenius norm as the reference code does; solved exactly by
/// damped Newton (not the reference's CCCP); the update of Σ αᵢLᵢ (heads scaled by αᵢ),
/// shared part clipped to `max_norm`. Weights are recomputed every step.
///
/// The normalisation matters: the paper's equation is (GGᵀα)ᵢ = 1/αᵢ, and if α* solves it,
/// √‖GGᵀ‖_F·α* solves the normalised one. So α and the head scales here (and in the
/// reference) are √‖GGᵀ‖_F times the paper's, and do not change when every gradient is
/// scaled by the same factor (the paper's would scale by its inverse).
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
/// ĝᵢ ← gᵢ + (β/t^{β_σ})(ĝᵢ − gᵢ) (from ĝ = 0); αᵢ = maxⱼ‖ĝⱼ‖/(‖ĝᵢ‖ + 1e-8) (LibMTL's 1e-8:
/// a vanishing task gradient is not blown up to the largest norm); d = Σ αᵢĝᵢ. Heads get
/// the gradient of their task's log loss. `weights_every` records the αᵢ. It does not
/// compose: a loss weight wᵢ cancels in ∇log(wᵢLᵢ).
///
/// Training: on `planted_correlation` (method-zoo's suite: 4 tasks, ρ 0.9, hard_sharing
/// 4×100, Adam lr 1e-3, 30 epochs) the defaults end at a train loss of 1.4–1.8 per task,
/// oscillating, where equal weighting reaches 0.28–0.33. The cause is the constant EMA:
/// with β = 0.9 and β_σ = 0 the shared direction averages gradients taken up to ~10 steps
/// back, and Adam's momentum averages again; β = 0 (0.21–0.23) or a decaying β (β_σ = 0.5:
/// 0.19–0.23) train as well as equal weighting, β = 0.5 halfway (0.57–0.67). LibMTL's
/// defaults (β 0.9, β_σ 0) and update are the same, so it should behave the same (not run
/// against LibMTL here).
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
