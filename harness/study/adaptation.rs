//! Meta-test adaptation (study key `adaptation`): per suite, fraction and replicate, one
//! run per start that adapts to tasks held out of the suite; the report tabulates the
//! held-out query loss before and after adapting (`mtlbench_results::adaptation`).

use crate::error::HarnessError;
use crate::study::config::LoadedStudy;
use crate::study::run_spec::{sanitize, RunKind, RunSpec, Slot};
use mtlbench_algorithms::adapt::AdaptConfig;
use mtlbench_algorithms::architecture::HardSharing;
use mtlbench_algorithms::weighting::Equal;
use mtlbench_algorithms::{ArchitectureSpec, TrainConfig, WeightingSpec};

/// The adaptation runs, after checking the settings and that every suite can hold tasks
/// out: per slot, one run per start, with the study's first training settings (the
/// `transfer` start trains with them).
pub fn adaptation_runs(
    study: &LoadedStudy,
    adaptation: &AdaptConfig,
    slots: &[Slot],
    training: &TrainConfig,
) -> Result<Vec<RunSpec>, HarnessError> {
    let c = &study.config;
    adaptation
        .validate()
        .map_err(|e| study.error_at(&format!("adaptation.{}", e.key()), e.message()))?;
    for (i, suite) in c.suites.iter().enumerate() {
        suite
            .check_held_out()
            .map_err(|message| study.error_at(&format!("suites[{i}]"), message))?;
    }
    let mut runs = Vec::new();
    for slot in slots {
        for start in &adaptation.starts {
            let pair = (
                ArchitectureSpec::HardSharing(HardSharing {}),
                WeightingSpec::Equal(Equal {}),
            );
            let kind = RunKind::Adaptation {
                config: adaptation.clone(),
                start: start.clone(),
            };
            let algorithm = format!("adapt:{}", start.kind());
            let spec = RunSpec::in_slot(slot, pair, algorithm, training, kind);
            let prefix = format!("{}-adapt-{}", sanitize(&slot.suite.label()), start.kind());
            runs.push(spec.with_id(slot.root, &prefix, 32));
        }
    }
    Ok(runs)
}
