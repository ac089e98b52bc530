//! A task without a label in the batch (docs/FORMULAS.md#missing-labels), one test per
//! method level: each shows what the method did when the absent task was handed to it as
//! an ordinary task with loss 0 and a zero gradient (`loss_weights` / `aggregate` /
//! `representation` without the presence), and checks the rule of the method's doc against
//! numbers computed by hand or by the method run on the present tasks alone.

use super::super::*;
use super::testing::*;

const PRESENT: [bool; 3] = [true, false, true];

/// Loss level, weights that read the losses: scale-invariant's 1/Lᵢ and GLS's geometric
/// mean break on a loss of 0; with the presence they are those of the present tasks.
#[test]
fn loss_level_weights_read_the_present_losses_only() {
    let losses = [0.5f32, 0.0, 2.0];
    let mut si = method(WeightingSpec::ScaleInvariant(ScaleInvariant {}));
    // As an ordinary task: weight 1/0 = ∞, and ∞·0 is a NaN gradient.
    assert!(si.loss_weights(&losses)[1].is_infinite());
    assert_eq!(
        si.loss_weights_present(&losses, &PRESENT),
        vec![2.0, 0.0, 0.5]
    );

    let mut gls = method(WeightingSpec::Gls(Gls {}));
    // As an ordinary task: the geometric mean is 0, so every present weight is 0 and the
    // absent one 0/0.
    let old = gls.loss_weights(&losses);
    assert!(old[0] == 0.0 && old[2] == 0.0 && old[1].is_nan(), "{old:?}");
    // Over the two present tasks: √(0.5·2) = 1, wᵢ = 1/(2Lᵢ).
    assert_eq!(
        gls.loss_weights_present(&losses, &PRESENT),
        vec![1.0, 0.0, 0.25]
    );
}

/// Loss level, learnable terms: UW's and IMTL-L's sᵢ and FAMO's logit of an absent task do
/// not move, where a loss of 0 read as an observation moves them.
#[test]
fn loss_level_learnable_terms_of_an_absent_task_do_not_move() {
    let losses = [1.0f32, 0.0, 5.0];
    for spec in [WeightingSpec::Uw(Uw {}), WeightingSpec::ImtlL(ImtlL {})] {
        let mut old = method(spec.clone());
        let start = old.loss_weights(&losses)[1];
        assert_ne!(
            old.loss_weights(&losses)[1],
            start,
            "{}: moved by a 0",
            spec.kind()
        );
        let mut new = method(spec.clone());
        for _ in 0..3 {
            let w = new.loss_weights_present(&losses, &PRESENT);
            assert_eq!(w[1], 0.0);
        }
        assert_eq!(new.loss_weights(&losses)[1], start, "{}", spec.kind());
    }

    // FAMO with Lᵐⁱⁿ > 0: log(0 − Lᵐⁱⁿ) is a NaN, which its update spreads to every logit.
    let famo = WeightingSpec::Famo(Famo {
        min_losses: Some(vec![0.1; 3]),
        ..Famo::default()
    });
    let mut old = method(famo.clone());
    old.loss_weights(&losses);
    old.after_step(&[0.8, 0.0, 4.0]);
    assert!(old.loss_part_state().0.iter().any(|v| v.is_nan()));
    let mut new = method(famo);
    let w = new.loss_weights_present(&losses, &PRESENT);
    assert!(w.iter().all(|v| v.is_finite()) && w[1] == 0.0, "{w:?}");
    // z over the two present tasks is ½ each; Dᵢ = Lᵢ − 0.1 + 1e-8, c = Σ zᵢ/Dᵢ.
    let d = [0.9 + 1e-8, 4.9 + 1e-8];
    let c = 0.5 / d[0] + 0.5 / d[1];
    assert_close(&[w[0], w[2]], &[0.5 / (c * d[0]), 0.5 / (c * d[1])]);
    new.after_step(&[0.8, 0.0, 4.0]);
    let logits = new.loss_part_state().0;
    assert_eq!(logits[1], 0.0);
    assert!(logits[0] != 0.0 && logits[2] != 0.0, "{logits:?}");
}

/// Gradient level: MGDA's min-norm point of the hull with a zero row is that row (no
/// update at all); over the present tasks, orthogonal unit gradients get ½ each. IMTL-G's
/// unit gradient of a zero row is 0/0; over the present tasks, g₀ = e₀ and g₂ = 2e₁ get
/// α = (2/3, 1/3) (equal projections α₀ = 2α₂, Σα = 1).
#[test]
fn gradient_level_solves_over_the_present_tasks() {
    let grads = vec![vec![1.0f32, 0.0], vec![0.0, 0.0], vec![0.0, 2.0]];
    let losses = [1.0f32, 0.0, 1.0];
    let mut mgda = method(WeightingSpec::Mgda(Mgda::default()));
    let old = mgda.aggregate(&mut on_device(&grads), &losses);
    assert!(old.weights[1] > 0.99, "{:?}", old.weights);
    let new = mgda.aggregate_present(&mut on_device(&grads), &losses, &PRESENT);
    let want = [0.8, 0.0, 0.2]; // min ‖w₀e₀ + 2w₂e₁‖: w₀ = 4w₂.
    for (w, x) in new.weights.iter().zip(want) {
        assert!((w - x).abs() < 1e-6, "{:?}", new.weights);
    }

    let mut imtl = method(WeightingSpec::ImtlG(ImtlG {}));
    let old = imtl.aggregate(&mut on_device(&grads), &losses);
    // As an ordinary task: all the weight on the zero row (no update), or a fallback.
    assert!(
        old.event.is_some() || old.weights[1] != 0.0 || !old.weights[1].is_finite(),
        "{old:?}"
    );
    let new = imtl.aggregate_present(&mut on_device(&grads), &losses, &PRESENT);
    assert!(new.event.is_none());
    for (w, x) in new.weights.iter().zip([2.0 / 3.0, 0.0, 1.0 / 3.0]) {
        assert!((w - x).abs() < 1e-6, "{:?}", new.weights);
    }
}

/// Gradient level with state: DB-MTL's moving averages of an absent task keep their value,
/// so two steps on three tasks, task 1 absent from the second, weigh tasks 0 and 2 as
/// DB-MTL run on those two tasks alone does (their averages saw the same rows).
#[test]
fn db_mtl_over_the_present_tasks_matches_the_method_on_them_alone() {
    let spec = WeightingSpec::DbMtl(DbMtl::default());
    let first = conflicting();
    let second = aligned();
    let pick = |g: &[Vec<f32>]| vec![g[0].clone(), g[2].clone()];
    let mut three = method(spec.clone());
    three.aggregate(&mut on_device(&first), &LOSSES);
    let mut zeroed = second.clone();
    zeroed[1] = vec![0.0; 5];
    let got = three.aggregate_present(&mut on_device(&zeroed), &[0.5, 0.0, 1.5], &PRESENT);
    let mut two = method_for(spec.clone(), 2);
    two.aggregate(&mut on_device(&pick(&first)), &[LOSSES[0], LOSSES[2]]);
    let want = two.aggregate(&mut on_device(&pick(&second)), &[0.5, 1.5]);
    assert_eq!(got.weights[1], 0.0);
    assert_weights_close(&[got.weights[0], got.weights[2]], &want.weights);
    // As an ordinary task instead, its average shrinks towards 0 and the others are
    // balanced against it.
    let mut old = method(spec);
    old.aggregate(&mut on_device(&first), &LOSSES);
    let old = old.aggregate(&mut on_device(&zeroed), &[0.5, 0.0, 1.5]);
    assert_ne!(old.weights[1], 0.0);
}

/// Representation level: GradDrop is unchanged by a zero task (it adds nothing to the sign
/// purity); a composition's loss part takes the presence, so UW's sᵢ of the absent task
/// does not move there either.
#[test]
fn representation_level_leaves_an_absent_task_out() {
    let width = 3;
    let rep = [0.5f32, -1.0, 2.0, 1.0, 0.3, -0.2];
    let g0 = vec![0.2f32, -0.4, 0.1, 0.3, 0.5, -0.6];
    let g2 = vec![-0.1f32, 0.2, 0.7, -0.3, 0.1, 0.4];
    let zero = vec![0.0f32; 6];
    let input =
        |per_sample: &'static [Vec<f32>], losses: &'static [f32], present| RepresentationInput {
            per_sample,
            rep: &rep,
            width,
            losses,
            present,
        };
    let three: &'static [Vec<f32>] =
        Box::leak(vec![g0.clone(), zero, g2.clone()].into_boxed_slice());
    let two: &'static [Vec<f32>] = Box::leak(vec![g0, g2].into_boxed_slice());
    let drop = || WeightingSpec::GradDrop(GradDrop::default());
    let (with_zero, _) =
        method(drop()).representation(&input(three, &[1.0, 0.0, 1.0], Some(&PRESENT)));
    let (alone, _) = method_for(drop(), 2).representation(&input(two, &[1.0, 1.0], None));
    assert_eq!(with_zero, alone);

    let composed = WeightingSpec::Compose(Compose {
        loss: Box::new(WeightingSpec::Uw(Uw {})),
        gradient: Box::new(drop()),
    });
    let mut c = method(composed);
    for _ in 0..3 {
        c.representation(&input(three, &[1.0, 0.0, 1.0], Some(&PRESENT)));
    }
    let (s, _) = c.loss_part_state();
    assert_eq!(s[1], -0.5, "{s:?}");
    assert!(s[0] != -0.5 && s[2] != -0.5, "{s:?}");
}
