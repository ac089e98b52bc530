//! Tests of the registry as a whole: what each kind needs, the rep_grad checks, and that
//! every registered method builds and steps on the device form; and the fixtures every
//! method's tests share: `testing` (with the golden tables of
//! `scripts/golden_aggregators.py`, `golden.rs` and `golden_hard.rs`), `large_cases`
//! (training-sized Jacobians), and the cross-method properties (`properties`).

pub(super) mod large_cases;
mod missing;
mod properties;
pub(super) mod testing;

use super::*;
use testing::*;

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

/// The levels of the registry: which kinds are loss-level, gradient-level, on the
/// representation, or take their own step.
#[test]
fn levels_of_the_registry() {
    let of = |level: Level| -> Vec<&'static str> {
        WeightingSpec::registry()
            .into_iter()
            .filter(|(_, spec)| spec.level() == level)
            .map(|(entry, _)| entry.kind)
            .collect()
    };
    assert_eq!(
        of(Level::Loss),
        [
            "equal",
            "static",
            "scale_invariant",
            "gls",
            "rlw",
            "dwa",
            "uw",
            "famo",
            "imtl_l"
        ]
    );
    assert_eq!(
        of(Level::Gradient),
        [
            "mgda",
            "pcgrad",
            "gradvac",
            "cagrad",
            "imtl_g",
            "aligned_mtl",
            "upgrad",
            "nash_mtl",
            "db_mtl",
            "gradnorm",
            "compose"
        ]
    );
    assert_eq!(of(Level::Representation), ["graddrop"]);
    assert_eq!(of(Level::Own), ["meta_weight_net", "auto_lambda"]);
}

/// Every gradient-level method aggregates a Jacobian on the device into weights of the
/// right length (or per-block weights covering every column).
#[test]
fn every_gradient_level_method_aggregates_on_the_device() {
    for (entry, spec) in WeightingSpec::registry() {
        if spec.level() != Level::Gradient {
            continue;
        }
        let mut m = method(spec);
        let mut g = on_device_with(&conflicting(), vec![(3, 1), (1, 0)]);
        let agg = m.aggregate(&mut g, &LOSSES);
        assert_eq!(agg.weights.len(), 3, "{}", entry.kind);
        let d = match &agg.blocks {
            Some(blocks) => g.combine_blocks(blocks),
            None => g.combine(&agg.weights),
        };
        let d = d.to_host();
        assert_eq!(d.len(), 5, "{}", entry.kind);
        assert!(d.iter().all(|x| x.is_finite()), "{}: {d:?}", entry.kind);
    }
}
