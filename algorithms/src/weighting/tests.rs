//! Tests of the weighting registry and of `Weighter`'s methods.
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

/// A loss weight cancels in DB-MTL's ∇log(wᵢLᵢ): composing it would silently ignore the
/// loss part, so validation refuses it, naming the key.
#[test]
fn db_mtl_does_not_compose() {
    for loss in [
        WeightingSpec::Uw(Uw {}),
        WeightingSpec::Static(Static {
            weights: vec![1.0, 2.0, 3.0],
        }),
    ] {
        let spec = WeightingSpec::Compose(Compose {
            loss: Box::new(loss),
            gradient: Box::new(WeightingSpec::DbMtl(DbMtl::default())),
        });
        let error = spec.validate(3).unwrap_err();
        assert_eq!(error.key(), "gradient");
        assert!(error.message().contains("db_mtl"), "{}", error.message());
    }
    assert!(WeightingSpec::DbMtl(DbMtl::default()).validate(3).is_ok());
}

/// `training.rep_grad` is refused with a loss-level weighting (which would ignore it) and
/// with the methods that need parameter gradients; gradient-level methods and GradDrop
/// (always on the representation) accept it.
#[test]
fn rep_grad_is_refused_where_it_would_be_ignored() {
    for spec in [
        WeightingSpec::Equal(Equal {}),
        WeightingSpec::Uw(Uw {}),
        WeightingSpec::Famo(Famo::default()),
        WeightingSpec::DbMtl(DbMtl::default()),
        WeightingSpec::GradVac(GradVac::default()),
    ] {
        assert_eq!(
            spec.validate_rep_grad(true).unwrap_err().key(),
            "rep_grad",
            "{}",
            spec.kind()
        );
        assert!(spec.validate_rep_grad(false).is_ok());
    }
    for spec in [
        WeightingSpec::Mgda(Mgda::default()),
        WeightingSpec::GradDrop(GradDrop::default()),
        WeightingSpec::Compose(Compose::default()),
    ] {
        assert!(spec.validate_rep_grad(true).is_ok(), "{}", spec.kind());
    }
}

/// compose(scale_invariant, graddrop): the loss part weighs the batch's losses (wᵢ = 1/Lᵢ),
/// each task's representation gradient is scaled by wᵢ before the masking (leak 1: nothing
/// dropped, so the combination is Σ wᵢGᵢ), and the heads get the same wᵢ.
#[test]
fn graddrop_composition_weighs_the_losses() {
    let spec = WeightingSpec::Compose(Compose {
        loss: Box::new(WeightingSpec::ScaleInvariant(ScaleInvariant {})),
        gradient: Box::new(WeightingSpec::GradDrop(GradDrop { leak: 1.0 })),
    });
    let mut w = Weighter::new(&spec, 2, ChaCha8Rng::seed_from_u64(1), 0.01);
    let per_sample = vec![vec![1.0f32, 2.0], vec![4.0, -1.0]];
    let (combined, heads) = w.graddrop(&per_sample, &[1.0, 1.0], 2, &[2.0, 0.5]);
    assert_eq!(heads, vec![0.5, 2.0]);
    assert_eq!(combined, vec![0.5 + 8.0, 1.0 - 2.0]);
    let mut plain = Weighter::new(
        &WeightingSpec::GradDrop(GradDrop { leak: 1.0 }),
        2,
        ChaCha8Rng::seed_from_u64(1),
        0.01,
    );
    let (combined, heads) = plain.graddrop(&per_sample, &[1.0, 1.0], 2, &[2.0, 0.5]);
    assert_eq!(heads, vec![1.0, 1.0]);
    assert_eq!(combined, vec![5.0, 1.0]);
}
