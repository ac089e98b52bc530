//! What a run records besides its metrics: the task weights of `weights_every`.
use super::*;
use crate::weighting::DbMtl;

/// DB-MTL's αᵢ = max‖ĝ‖/(‖ĝᵢ‖ + 1e-8) are recorded with `weights_every`: at every recorded
/// step each αᵢ ≥ 1 up to the 1e-8, and the task with the largest smoothed gradient has
/// α ≈ 1.
#[test]
fn db_mtl_records_its_alphas() {
    let suite = tiny_suite(3, 8, 64, 4);
    let training = TrainConfig {
        weights_every: 1,
        ..adam_training(2, 16, 2, false)
    };
    let model = ModelSpec {
        trunk: vec![8].into(),
        head: vec![],
    };
    let o = train_tiny(
        &suite,
        &ArchitectureSpec::HardSharing(HardSharing {}),
        &WeightingSpec::DbMtl(DbMtl::default()),
        &model,
        &training,
        (4, 14),
    );
    assert_eq!(o.status, RunStatus::Ok);
    assert_eq!(o.weights.len(), 3 * o.steps, "every step, every task");
    for step in 0..o.steps {
        let alphas: Vec<f64> = o
            .weights
            .iter()
            .filter(|w| w.step == step)
            .map(|w| w.value)
            .collect();
        assert!(alphas.iter().all(|a| *a >= 1.0 - 1e-6), "{alphas:?}");
        let smallest = alphas.iter().cloned().fold(f64::INFINITY, f64::min);
        assert!((smallest - 1.0).abs() < 1e-6, "{alphas:?}");
    }
}

/// `conflict_per_layer` without `conflict_every` would measure nothing: refused.
#[test]
fn conflict_per_layer_needs_conflict_every() {
    let mut cfg = TrainConfig {
        conflict_per_layer: true,
        ..TrainConfig::adam(1, 8, 0.01)
    };
    assert_eq!(cfg.validate().unwrap_err().key(), "conflict_per_layer");
    cfg.conflict_every = 5;
    assert!(cfg.validate().is_ok());
}

/// The fallback events of the aggregations are counted in the run's solver statistics,
/// which then exist even for methods without an inner solver.
#[test]
fn fallbacks_are_counted_per_run() {
    let mut stats = SolverStats::default();
    assert!(stats.is_empty());
    stats.count("imtl_g_equal_weights");
    stats.count("imtl_g_equal_weights");
    assert_eq!(stats.fallbacks, 2);
    assert!(!stats.is_empty());
    assert_eq!(stats.solves, 0);
}
