//! The plan: a study expanded into its runs (suites × fractions × replicates × training
//! grid × algorithms), each validated against its suite before anything is trained, with
//! its seeds and a stable id.

use crate::error::HarnessError;
use crate::study::canonical::canonical_json;
use crate::study::config::{LoadedStudy, StudyConfig};
pub use crate::study::run_spec::{run_seeds, RunKind, RunSeeds, RunSpec};
use crate::study::run_spec::{sanitize, Slot};
use mtlbench_algorithms::architecture::HardSharing;
use mtlbench_algorithms::weighting::Equal;
use mtlbench_algorithms::{ArchitectureSpec, TrainConfig, WeightingSpec};
use std::collections::BTreeMap;

/// The most runs a plan may have unless `--max-runs` says otherwise: a typo such as
/// `replicates: 1000000000000` is refused before anything is allocated.
pub const DEFAULT_MAX_RUNS: usize = 100_000;

/// Expands and validates a study, with the default limit on the number of runs.
pub fn expand(study: &LoadedStudy) -> Result<Vec<RunSpec>, HarnessError> {
    expand_limited(study, DEFAULT_MAX_RUNS)
}

/// The number of runs the plan will have, counted before any is built, with the key path
/// of its largest factor.
fn planned_runs(c: &StudyConfig, trainings: usize, algorithms: usize) -> (u128, &'static str) {
    let (fractions, replicates) = (c.fractions.len() as u128, c.replicates as u128);
    let mut total: u128 = 0;
    for suite in &c.suites {
        let t = suite.task_count() as u128;
        let subsets = if c.pairwise {
            t + t * t.saturating_sub(1) / 2
        } else {
            0
        };
        total = total.saturating_add(
            fractions
                .saturating_mul(replicates)
                .saturating_mul(trainings as u128)
                .saturating_mul(algorithms as u128 + subsets),
        );
    }
    if let Some(front) = &c.scalarization {
        for suite in &c.suites {
            // C(steps + T − 1, T − 1) weightings (T is 2 or 3 once validated).
            let (n, t) = (front.steps as u128, suite.task_count() as u128);
            let grid = if t <= 2 { n + 1 } else { (n + 1) * (n + 2) / 2 };
            total = total.saturating_add(
                fractions
                    .saturating_mul(replicates)
                    .saturating_mul(trainings as u128)
                    .saturating_mul(grid),
            );
        }
    }
    if let Some(a) = &c.adaptation {
        total = total.saturating_add(
            (c.suites.len() as u128)
                .saturating_mul(fractions)
                .saturating_mul(replicates)
                .saturating_mul(a.starts.len() as u128),
        );
    }
    let factors = [
        ("replicates", replicates),
        ("fractions", fractions),
        ("training", trainings as u128),
        ("weightings", algorithms as u128),
        ("suites", c.suites.len() as u128),
    ];
    // The largest factor; the first of equals.
    let key = factors
        .iter()
        .rev()
        .max_by_key(|f| f.1)
        .map_or("replicates", |f| f.0);
    (total, key)
}

/// The study's slots: suites, then fractions, then replicates.
pub fn slots(c: &StudyConfig) -> Vec<Slot<'_>> {
    c.suites
        .iter()
        .flat_map(move |suite| {
            c.fractions.iter().flat_map(move |&fraction| {
                (0..c.replicates).map(move |replicate| Slot {
                    study: &c.name,
                    model: &c.model,
                    root: c.seed,
                    suite,
                    fraction,
                    replicate,
                    seeds: run_seeds(c.seed, suite, replicate, fraction),
                })
            })
        })
        .collect()
}

/// Expands and validates a study; more than `max_runs` runs is an error. Any problem is a
/// `Config` error naming the key path and its line; nothing is written. The runs: the
/// study's grid (with the pairwise-transfer subsets), then the scalarization front's, then
/// the adaptation runs.
pub fn expand_limited(study: &LoadedStudy, max_runs: usize) -> Result<Vec<RunSpec>, HarnessError> {
    let c = &study.config;
    crate::study::validate::check_study(study)?;
    let trainings = training_grid(study)?;
    let algorithms = Algorithms::of(c);
    let (count, key) = planned_runs(c, trainings.len(), algorithms.pairs.len());
    if count > max_runs as u128 {
        return Err(study.error_at(
            key,
            format!(
                "the plan would have {count} runs, more than the limit of {max_runs} (--max-runs raises it)"
            ),
        ));
    }
    let slots = slots(c);
    let mut runs = grid_runs(c, &slots, &trainings, &algorithms);
    if let Some(front) = &c.scalarization {
        let fronts =
            crate::study::scalarization::front_runs(front, &slots, &c.training, &trainings);
        runs.extend(fronts);
    }
    if let Some(adaptation) = &c.adaptation {
        let training = &trainings[0];
        let adapted =
            crate::study::adaptation::adaptation_runs(study, adaptation, &slots, training)?;
        runs.extend(adapted);
    }
    Ok(runs)
}

/// The training grid's points, each validated, then the selection rule against them.
fn training_grid(study: &LoadedStudy) -> Result<Vec<TrainConfig>, HarnessError> {
    let trainings = study.config.training.expand();
    for cfg in &trainings {
        cfg.validate()
            .map_err(|e| study.error_at(&format!("training.{}", e.key()), e.message()))?;
    }
    crate::study::guards::check_selection(&study.config.selection, &trainings)
        .map_err(|message| study.error_at("selection", message))?;
    Ok(trainings)
}

/// The study's algorithms with their display labels.
struct Algorithms {
    /// Each shared architecture × each weighting; single_task once, with equal weighting
    /// (weights do not couple independent networks); in listed order, no pair twice.
    pairs: Vec<(ArchitectureSpec, WeightingSpec)>,
    /// Per `architecture+weighting`, the canonical JSON of its settings in listed order.
    variants: BTreeMap<String, Vec<String>>,
}

impl Algorithms {
    fn of(c: &StudyConfig) -> Algorithms {
        let mut pairs: Vec<(ArchitectureSpec, WeightingSpec)> = Vec::new();
        for arch in &c.architectures {
            let listed: Vec<(ArchitectureSpec, WeightingSpec)> = if arch.ignores_weighting() {
                vec![(arch.clone(), WeightingSpec::Equal(Equal {}))]
            } else {
                c.weightings
                    .iter()
                    .map(|w| (arch.clone(), w.clone()))
                    .collect()
            };
            for pair in listed {
                if !pairs.contains(&pair) {
                    pairs.push(pair);
                }
            }
        }
        let mut variants: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (a, w) in &pairs {
            let v = variants
                .entry(format!("{}+{}", a.kind(), w.label()))
                .or_default();
            let json = canonical_json(&(a, w));
            if !v.contains(&json) {
                v.push(json);
            }
        }
        Algorithms { pairs, variants }
    }

    /// `architecture+weighting`; pairs listed with several settings get a #k suffix, in
    /// listed order.
    fn label(&self, a: &ArchitectureSpec, w: &WeightingSpec) -> String {
        let base = format!("{}+{}", a.kind(), w.label());
        let v = &self.variants[&base];
        if v.len() > 1 {
            let k = v
                .iter()
                .position(|j| *j == canonical_json(&(a, w)))
                .unwrap_or(0)
                + 1;
            format!("{base}#{k}")
        } else {
            base
        }
    }
}

/// Pairwise transfer (Standley et al. 2020): hard sharing with equal weighting on every
/// single task and every pair of tasks of a suite of `tasks` tasks, beside the study's own
/// algorithms; none unless the study asks (`pairwise`).
fn pairwise_subsets(pairwise: bool, tasks: usize) -> Vec<Vec<usize>> {
    let mut subsets = Vec::new();
    if pairwise {
        subsets.extend((0..tasks).map(|i| vec![i]));
        for i in 0..tasks {
            subsets.extend((i + 1..tasks).map(|j| vec![i, j]));
        }
    }
    subsets
}

/// The study's grid: per slot and training setting, every algorithm, then the pairwise
/// subsets.
fn grid_runs(
    c: &StudyConfig,
    slots: &[Slot],
    trainings: &[TrainConfig],
    algorithms: &Algorithms,
) -> Vec<RunSpec> {
    let pairwise = (
        ArchitectureSpec::HardSharing(HardSharing {}),
        WeightingSpec::Equal(Equal {}),
    );
    let mut runs = Vec::new();
    for slot in slots {
        let label = sanitize(&slot.suite.label());
        let subsets = pairwise_subsets(c.pairwise, slot.suite.task_count());
        for training in trainings {
            let suffix = c.training.suffix(training);
            for (arch, weighting) in &algorithms.pairs {
                let algorithm = format!("{}{suffix}", algorithms.label(arch, weighting));
                let pair = (arch.clone(), weighting.clone());
                let spec = RunSpec::in_slot(slot, pair, algorithm, training, RunKind::Ordinary);
                let prefix = format!("{label}-{}-{}", arch.kind(), weighting.kind());
                runs.push(spec.with_id(c.seed, &prefix, 32));
            }
            for tasks in &subsets {
                let (arch, weighting) = &pairwise;
                let list: Vec<String> = tasks.iter().map(usize::to_string).collect();
                let algorithm = format!(
                    "{}+{}{suffix} tasks={}",
                    arch.kind(),
                    weighting.label(),
                    list.join(",")
                );
                let kind = RunKind::Pairwise {
                    tasks: tasks.clone(),
                };
                let spec = RunSpec::in_slot(slot, pairwise.clone(), algorithm, training, kind);
                let prefix = format!(
                    "{label}-{}-{}-t{}",
                    arch.kind(),
                    weighting.kind(),
                    list.join("_")
                );
                runs.push(spec.with_id(c.seed, &prefix, 32));
            }
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::config::parse_study;

    const STUDY: &str = "\
name: t
replicates: 2
fractions: [0.5, 1.0]
suites:
  - kind: planted_correlation
    tasks: 2
architectures:
  - kind: single_task
  - kind: hard_sharing
weightings:
  - kind: equal
  - kind: static
    weights: [1, 2]
  - kind: static
    weights: [2, 1]
training:
  lr: [0.01, 0.001]
";

    #[test]
    fn grid_size_labels_and_common_seeds() {
        let runs = expand(&parse_study("t", STUDY).unwrap()).unwrap();
        // 2 fractions × 2 replicates × 2 lrs × (1 single_task + 3 hard_sharing).
        assert_eq!(runs.len(), 2 * 2 * 2 * 4);
        let labels: Vec<&str> = runs[..4].iter().map(|r| r.algorithm.as_str()).collect();
        assert_eq!(
            labels,
            [
                "single_task+equal lr=0.01",
                "hard_sharing+equal lr=0.01",
                "hard_sharing+static#1 lr=0.01",
                "hard_sharing+static#2 lr=0.01"
            ]
        );
        // Same replicate ⇒ same seeds for every algorithm; ids unique.
        assert!(runs[..8].iter().all(|r| r.seeds == runs[0].seeds));
        let mut ids: Vec<&String> = runs.iter().map(|r| &r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), runs.len());
    }

    #[test]
    fn run_count_is_capped_before_anything_is_built() {
        let study = parse_study(
            "s.yaml",
            &STUDY.replace("replicates: 2", "replicates: 1000000000000"),
        )
        .unwrap();
        let err = expand(&study).unwrap_err().to_string();
        assert!(
            err.starts_with("s.yaml: replicates: the plan would have 16000000000000 runs, more than the limit of 100000 (--max-runs raises it) at line 2"),
            "{err}"
        );
        // The count is exact: the 32-run study passes a limit of 32 and fails one of 31.
        let study = parse_study("s.yaml", STUDY).unwrap();
        assert_eq!(expand_limited(&study, 32).unwrap().len(), 32);
        assert!(expand_limited(&study, 31).is_err());
        let pairwise = parse_study("s.yaml", &format!("{STUDY}pairwise: true\n")).unwrap();
        let n = expand(&pairwise).unwrap().len();
        assert!(expand_limited(&pairwise, n).is_ok());
        assert!(expand_limited(&pairwise, n - 1).is_err());
    }

    #[test]
    fn rep_grad_with_a_loss_level_weighting_is_refused() {
        let bad = STUDY.replace("training:\n", "training:\n  rep_grad: true\n");
        let err = expand(&parse_study("s.yaml", &bad).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("s.yaml: weightings[0]: training.rep_grad: `equal` is loss-level"),
            "{err}"
        );
        let ok = bad.replace(
            "weightings:\n  - kind: equal\n  - kind: static\n    weights: [1, 2]\n  - kind: static\n    weights: [2, 1]\n",
            "weightings:\n  - kind: mgda\n",
        );
        assert!(expand(&parse_study("s.yaml", &ok).unwrap()).is_ok());
    }

    #[test]
    fn semantic_errors_name_key_and_line() {
        let bad = STUDY.replace("weights: [2, 1]", "weights: [2, 1, 3]");
        let err = expand(&parse_study("s.yaml", &bad).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("s.yaml: weightings[2].weights: has 3 values"),
            "{err}"
        );
        assert!(err.contains("line 15"), "{err}");
        let bad = STUDY.replace("tasks: 2", "tasks: 2\n    rho: 3");
        let err = expand(&parse_study("s.yaml", &bad).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("suites[0].rho") && err.contains("line 7"),
            "{err}"
        );
    }

    /// GradDrop, and gradient-level methods on `rep_grad`, need one shared representation:
    /// accepted with hard_sharing (and single_task, which ignores the weighting), refused
    /// naming the architecture with every other kind.
    #[test]
    fn representation_methods_need_a_shared_representation() {
        let study = |arch: &str, weighting: &str| {
            format!(
                "name: r\nsuites:\n  - kind: planted_correlation\n    tasks: 2\narchitectures:\n  - kind: single_task\n  - {arch}\nweightings:\n  - {weighting}\n"
            )
        };
        for (arch, accepted) in [
            ("kind: hard_sharing", true),
            ("kind: mmoe", false),
            ("kind: cgc", false),
            ("kind: cross_stitch", false),
            ("kind: hierarchical", false),
            ("kind: soft_sharing", false),
        ] {
            for weighting in [
                "kind: graddrop",
                "kind: pcgrad\ntraining:\n  rep_grad: true",
            ] {
                let result = expand(&parse_study("r.yaml", &study(arch, weighting)).unwrap());
                match result {
                    Ok(_) => assert!(accepted, "{arch} with {weighting}"),
                    Err(e) => {
                        let e = e.to_string();
                        assert!(!accepted, "{arch} with {weighting}: {e}");
                        assert!(e.contains("architectures[1]"), "{e}");
                    }
                }
            }
        }
    }
}
