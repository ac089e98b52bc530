//! The scalarization front (study key `scalarization`): the baseline every method is drawn
//! against (Kurin et al. 2022; Xin et al. 2022). Fixed task weights on a grid over the
//! simplex, one `static` run each, beside the study's own algorithms; the report draws the
//! fixed-weight results as a front with every method's point on it and tabulates each
//! method's hypervolume against it (`mtlbench_results::front`).

use crate::study::run_spec::{sanitize, RunKind, RunSpec, Slot};
use crate::study::training::TrainingGrid;
use mtlbench_algorithms::weighting::Static;
use mtlbench_algorithms::TrainConfig;
use mtlbench_algorithms::{ArchitectureSpec, WeightingSpec};
use serde::{Deserialize, Serialize};

/// The most grid steps: 3 tasks at 20 steps are already 231 weightings per replicate.
pub const MAX_STEPS: usize = 20;

/// `scalarization: {steps: 4, architecture: {kind: hard_sharing}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scalarization {
    /// Grid resolution: the weights are w = T·k/steps for every k ∈ ℕ^T with Σk = steps
    /// (steps + 1 weightings for 2 tasks, (steps + 1)(steps + 2)/2 for 3), the ends
    /// included. Scaled so that Σw = T: the grid's centre, when it has one, is `equal`.
    pub steps: usize,
    /// The architecture the fixed weightings train (one with shared parameters).
    pub architecture: ArchitectureSpec,
}

impl Default for Scalarization {
    fn default() -> Self {
        Scalarization {
            steps: 4,
            architecture: ArchitectureSpec::HardSharing(Default::default()),
        }
    }
}

impl Scalarization {
    /// Checks the settings against suites of `tasks[i]` tasks; the error names the key.
    pub fn validate(&self, tasks: &[usize]) -> Result<(), (String, String)> {
        if self.steps == 0 || self.steps > MAX_STEPS {
            return Err((
                "scalarization.steps".into(),
                format!("must be between 1 and {MAX_STEPS}"),
            ));
        }
        if !self.architecture.has_shared_parameters() {
            return Err((
                "scalarization.architecture".into(),
                format!(
                    "`{}` shares no parameters, so its task weights couple nothing",
                    self.architecture.kind()
                ),
            ));
        }
        self.architecture.validate().map_err(|e| {
            (
                format!("scalarization.architecture.{}", e.key()),
                e.message().to_string(),
            )
        })?;
        for (i, &t) in tasks.iter().enumerate() {
            if !(2..=3).contains(&t) {
                return Err((
                    format!("suites[{i}]"),
                    format!(
                        "the scalarization front needs suites of 2 or 3 tasks; this one has {t}"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every weighting of the grid for `tasks` tasks, in lexicographic order of k.
    pub fn weightings(&self, tasks: usize) -> Vec<WeightingSpec> {
        compositions(self.steps, tasks)
            .into_iter()
            .map(|k| {
                let weights = k
                    .iter()
                    .map(|&ki| tasks as f64 * ki as f64 / self.steps as f64)
                    .collect();
                WeightingSpec::Static(Static { weights })
            })
            .collect()
    }
}

/// Every k ∈ ℕ^parts with Σk = total, lexicographically.
fn compositions(total: usize, parts: usize) -> Vec<Vec<usize>> {
    if parts == 1 {
        return vec![vec![total]];
    }
    let mut out = Vec::new();
    for first in 0..=total {
        for mut rest in compositions(total - first, parts - 1) {
            rest.insert(0, first);
            out.push(rest);
        }
    }
    out
}

/// The label of a fixed weighting in tables: `static w=0.5,1.5`.
pub fn label(weighting: &WeightingSpec) -> String {
    match weighting {
        WeightingSpec::Static(s) => {
            let w: Vec<String> = s.weights.iter().map(|w| format!("{w}")).collect();
            format!("static w={}", w.join(","))
        }
        other => other.label(),
    }
}

/// The front's runs: per suite the fixed weightings of its grid, and per slot and training
/// setting one run each (ids with the full 64-bit hash).
pub fn front_runs(
    front: &Scalarization,
    slots: &[Slot],
    grid: &TrainingGrid,
    trainings: &[TrainConfig],
) -> Vec<RunSpec> {
    let mut runs = Vec::new();
    for slot in slots {
        let weightings = front.weightings(slot.suite.task_count());
        for training in trainings {
            for weighting in &weightings {
                let algorithm = format!(
                    "{}+{}{}",
                    front.architecture.kind(),
                    label(weighting),
                    grid.suffix(training)
                );
                let pair = (front.architecture.clone(), weighting.clone());
                let spec =
                    RunSpec::in_slot(slot, pair, algorithm, training, RunKind::Scalarization);
                let prefix = format!(
                    "{}-{}-front",
                    sanitize(&slot.suite.label()),
                    front.architecture.kind()
                );
                runs.push(spec.with_id(slot.root, &prefix, 64));
            }
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_covers_the_simplex_and_its_centre_is_equal() {
        let s = Scalarization::default();
        let two = s.weightings(2);
        assert_eq!(two.len(), 5);
        let weights = |w: &WeightingSpec| match w {
            WeightingSpec::Static(s) => s.weights.clone(),
            _ => unreachable!(),
        };
        assert_eq!(weights(&two[0]), vec![0.0, 2.0]);
        assert_eq!(weights(&two[2]), vec![1.0, 1.0]);
        let three = Scalarization {
            steps: 3,
            ..s.clone()
        }
        .weightings(3);
        assert_eq!(three.len(), 10);
        assert!(three.iter().any(|w| weights(w) == vec![1.0, 1.0, 1.0]));
        for w in &three {
            assert!((weights(w).iter().sum::<f64>() - 3.0).abs() < 1e-12);
        }
        assert_eq!(label(&two[1]), "static w=0.5,1.5");
    }

    #[test]
    fn settings_are_checked() {
        let s = Scalarization::default();
        assert!(s.validate(&[2, 3]).is_ok());
        assert_eq!(s.validate(&[2, 10]).unwrap_err().0, "suites[1]");
        let zero = Scalarization {
            steps: 0,
            ..s.clone()
        };
        assert_eq!(zero.validate(&[2]).unwrap_err().0, "scalarization.steps");
        let single = Scalarization {
            architecture: ArchitectureSpec::SingleTask(Default::default()),
            ..s
        };
        assert_eq!(
            single.validate(&[2]).unwrap_err().0,
            "scalarization.architecture"
        );
    }
}
