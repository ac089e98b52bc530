//! The plan: a study expanded into its runs (suites × fractions × replicates × training
//! grid × algorithms), each validated against its suite before anything is trained, with
//! its seeds and a stable id.

use crate::config::{canonical_json, LoadedStudy};
use crate::error::HarnessError;
use mtlbench_algorithms::adapt::{AdaptConfig, StartSpec};
use mtlbench_algorithms::architecture::HardSharing;
use mtlbench_algorithms::weighting::Equal;
use mtlbench_algorithms::{ArchitectureSpec, ModelSpec, TrainConfig, WeightingSpec};
use mtlbench_tasks::seed::derive_seed;
use mtlbench_tasks::SuiteSpec;
use serde::Serialize;
use std::collections::BTreeMap;

/// Seeds of one run. Replicate r of a suite has the same data, initial weights and batch
/// order for every algorithm (common random numbers for paired comparisons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RunSeeds {
    pub data: u64,
    pub init: u64,
    pub batches: u64,
}

/// One run of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSpec {
    pub id: String,
    pub study: String,
    pub suite_label: String,
    pub suite: SuiteSpec,
    pub architecture: ArchitectureSpec,
    pub weighting: WeightingSpec,
    /// Display label: architecture+weighting, plus what tells apart settings of the pair.
    pub algorithm: String,
    pub model: ModelSpec,
    pub training: TrainConfig,
    pub replicate: usize,
    pub fraction: f64,
    pub seeds: RunSeeds,
    /// Pairwise-transfer runs train on these tasks of the suite only (a pair or a
    /// single); `None` for the study's ordinary runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_subset: Option<Vec<usize>>,
    /// Meta-test adaptation runs: the settings and the start this run adapts from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adaptation: Option<(AdaptConfig, StartSpec)>,
    /// The record stage of runs outside the main table: `scalarization` for the front's
    /// fixed weightings; `None` for the study's ordinary runs (adaptation runs say so by
    /// `adaptation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// For a run whose settings a tuning search chose: the study's own training settings
    /// (canonical JSON), under which it is compared (not part of its identity).
    #[serde(skip)]
    pub compared_as: Option<String>,
}

impl RunSpec {
    /// Canonical JSON of the algorithm's own hyper-parameters.
    pub fn hparams_json(&self) -> String {
        canonical_json(&(&self.architecture, &self.weighting))
    }

    /// Canonical JSON of the model and training settings.
    pub fn training_json(&self) -> String {
        canonical_json(&(&self.model, &self.training))
    }
}

/// The seeds of (suite, replicate, fraction) under the study's root seed. The suite enters
/// through its canonical parameters (not its label), so two studies with the same seed and
/// suite draw the same data.
pub fn run_seeds(root: u64, suite: &SuiteSpec, replicate: usize, fraction: f64) -> RunSeeds {
    let suite_json = canonical_json(&suite.without_label());
    let r = replicate.to_string();
    let f = fraction.to_string();
    RunSeeds {
        data: derive_seed(root, &["data", &suite_json, &r]),
        init: derive_seed(root, &["init", &suite_json, &r]),
        batches: derive_seed(root, &["batches", &suite_json, &r, &f]),
    }
}

pub(crate) fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The most runs a plan may have unless `--max-runs` says otherwise: a typo such as
/// `replicates: 1000000000000` is refused before anything is allocated.
pub const DEFAULT_MAX_RUNS: usize = 100_000;

/// Expands and validates a study, with the default limit on the number of runs.
pub fn expand(study: &LoadedStudy) -> Result<Vec<RunSpec>, HarnessError> {
    expand_limited(study, DEFAULT_MAX_RUNS)
}

/// The number of runs the plan will have, counted before any is built, with the key path
/// of its largest factor.
fn planned_runs(
    c: &crate::config::StudyConfig,
    trainings: usize,
    algorithms: usize,
) -> (u128, &'static str) {
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

/// A `delta_metrics` list: not empty, every name a metric that some suite measures, no
/// name twice. The error names the key (`delta_metrics[i]`).
pub fn check_delta_metrics(names: &[String]) -> Result<(), (String, String)> {
    use mtlbench_tasks::metrics::METRICS;
    if names.is_empty() {
        return Err((
            "delta_metrics".into(),
            "must name at least one metric (leave it out for the suites' primary metrics)".into(),
        ));
    }
    for (i, name) in names.iter().enumerate() {
        if !METRICS.iter().any(|(m, _)| m == name) {
            let known: Vec<&str> = METRICS.iter().map(|(m, _)| *m).collect();
            return Err((
                format!("delta_metrics[{i}]"),
                format!(
                    "unknown metric `{name}`; the metrics are {}",
                    known.join(", ")
                ),
            ));
        }
        if names[..i].contains(name) {
            return Err((
                format!("delta_metrics[{i}]"),
                format!("`{name}` is named twice"),
            ));
        }
    }
    Ok(())
}

/// Expands and validates a study; more than `max_runs` runs is an error. Any problem is a
/// `Config` error naming the key path and its line; nothing is written.
pub fn expand_limited(study: &LoadedStudy, max_runs: usize) -> Result<Vec<RunSpec>, HarnessError> {
    let c = &study.config;
    if c.name.trim().is_empty() {
        return Err(study.error_at("name", "must not be empty"));
    }
    if c.replicates == 0 {
        return Err(study.error_at("replicates", "must be at least 1"));
    }
    c.selection
        .validate()
        .map_err(|message| study.error_at("selection", message))?;
    if let Some(names) = &c.delta_metrics {
        check_delta_metrics(names).map_err(|(key, message)| study.error_at(&key, message))?;
    }
    if let Some(p) = &c.published {
        p.validate()
            .map_err(|(key, message)| study.error_at(&format!("published.{key}"), message))?;
    }
    if let Some(tune) = &c.tune {
        tune.validate(c.training.lr.0.len())
            .map_err(|(key, message)| study.error_at(&key, message))?;
    }
    if let Some(front) = &c.scalarization {
        let tasks: Vec<usize> = c.suites.iter().map(SuiteSpec::task_count).collect();
        front
            .validate(&tasks)
            .map_err(|(key, message)| study.error_at(&key, message))?;
        for suite in &c.suites {
            front
                .architecture
                .validate_for(suite.task_count(), c.model.trunk.depth())
                .map_err(|e| {
                    study.error_at(
                        &format!("scalarization.architecture.{}", e.key()),
                        format!("{} (suite `{}`)", e.message(), suite.label()),
                    )
                })?;
        }
    }
    for (key, empty) in [
        ("suites", c.suites.is_empty()),
        ("architectures", c.architectures.is_empty()),
        ("weightings", c.weightings.is_empty()),
        ("fractions", c.fractions.is_empty()),
        ("training.epochs", c.training.epochs.0.is_empty()),
        ("training.batch_size", c.training.batch_size.0.is_empty()),
        ("training.lr", c.training.lr.0.is_empty()),
    ] {
        if empty {
            return Err(study.error_at(key, "must list at least one entry"));
        }
    }
    for (i, f) in c.fractions.iter().enumerate() {
        if !(*f > 0.0 && *f <= 1.0) {
            return Err(study.error_at(&format!("fractions[{i}]"), format!("{f} is not in (0, 1]")));
        }
    }
    c.model
        .validate()
        .map_err(|e| study.error_at(&format!("model.{}", e.key()), e.message()))?;
    for (i, arch) in c.architectures.iter().enumerate() {
        arch.validate()
            .map_err(|e| study.error_at(&format!("architectures[{i}].{}", e.key()), e.message()))?;
    }
    let mut labels: BTreeMap<String, usize> = BTreeMap::new();
    for (i, suite) in c.suites.iter().enumerate() {
        suite
            .validate()
            .map_err(|e| study.error_at(&format!("suites[{i}].{}", e.key()), e.message()))?;
        // Suites that read files: every file there and intact before anything runs.
        suite
            .check_data()
            .map_err(|e| study.error_at(&format!("suites[{i}]"), e.message()))?;
        if let Some(first) = labels.insert(suite.label(), i) {
            return Err(study.error_at(
                &format!("suites[{i}]"),
                format!(
                    "suites[{first}] has the same label `{}`: give each a distinct `name`",
                    suite.label()
                ),
            ));
        }
        for (j, w) in c.weightings.iter().enumerate() {
            w.validate(suite.task_count()).map_err(|e| {
                study.error_at(
                    &format!("weightings[{j}].{}", e.key()),
                    format!("{} (suite `{}`)", e.message(), suite.label()),
                )
            })?;
        }
        c.model.validate_input(suite.image_shape()).map_err(|e| {
            study.error_at(
                &format!("model.{}", e.key()),
                format!("{} (suite `{}`)", e.message(), suite.label()),
            )
        })?;
        for (j, a) in c.architectures.iter().enumerate() {
            a.validate_for(suite.task_count(), c.model.trunk.depth())
                .map_err(|e| {
                    study.error_at(
                        &format!("architectures[{j}].{}", e.key()),
                        format!("{} (suite `{}`)", e.message(), suite.label()),
                    )
                })?;
        }
    }

    // Gradient-level weightings combine the task gradients of shared parameters.
    for (i, a) in c.architectures.iter().enumerate() {
        if a.ignores_weighting() || a.has_shared_parameters() {
            continue;
        }
        if let Some(w) = c
            .weightings
            .iter()
            .find(|w| w.is_gradient_level() || w.uses_representation())
        {
            return Err(study.error_at(
                &format!("architectures[{i}]"),
                format!(
                    "`{}` shares no parameters, so gradient-level `{}` has nothing to combine: use loss-level weightings with it (or another study)",
                    a.kind(),
                    w.label()
                ),
            ));
        }
    }

    // Methods that work on the shared representation need one shared trunk output.
    for (j, w) in c.weightings.iter().enumerate() {
        let on_rep = w.uses_representation() || (c.training.rep_grad && w.is_gradient_level());
        w.validate_rep_grad(c.training.rep_grad).map_err(|e| {
            study.error_at(
                &format!("weightings[{j}]"),
                format!("training.{}: {}", e.key(), e.message()),
            )
        })?;
        for (i, a) in c.architectures.iter().enumerate() {
            if on_rep && !a.ignores_weighting() && !a.exposes_shared_representation() {
                return Err(study.error_at(
                    &format!("architectures[{i}]"),
                    format!(
                        "`{}` with `{}` needs representation gradients, which only hard_sharing provides",
                        a.kind(),
                        w.label()
                    ),
                ));
            }
        }
    }

    // The training grid, in a fixed order.
    let t = &c.training;
    let mut trainings = Vec::new();
    for &epochs in &t.epochs.0 {
        for &batch_size in &t.batch_size.0 {
            for &lr in &t.lr.0 {
                let cfg = TrainConfig {
                    epochs,
                    batch_size,
                    lr,
                    optimizer: t.optimizer.clone(),
                    eval_every: t.eval_every,
                    rep_grad: t.rep_grad,
                    conflict_every: t.conflict_every,
                    conflict_per_layer: t.conflict_per_layer,
                    affinity_every: t.affinity_every,
                    weights_every: t.weights_every,
                };
                cfg.validate()
                    .map_err(|e| study.error_at(&format!("training.{}", e.key()), e.message()))?;
                trainings.push(cfg);
            }
        }
    }
    crate::guards::check_selection(&c.selection, &trainings)
        .map_err(|message| study.error_at("selection", message))?;
    let training_suffix = |cfg: &TrainConfig| -> String {
        let mut parts = Vec::new();
        if t.epochs.0.len() > 1 {
            parts.push(format!("epochs={}", cfg.epochs));
        }
        if t.batch_size.0.len() > 1 {
            parts.push(format!("bs={}", cfg.batch_size));
        }
        if t.lr.0.len() > 1 {
            parts.push(format!("lr={}", cfg.lr));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" {}", parts.join(" "))
        }
    };

    // Algorithms: each shared architecture × each weighting; single_task once, with equal
    // weighting (weights do not couple independent networks).
    let mut algorithms: Vec<(ArchitectureSpec, WeightingSpec)> = Vec::new();
    for arch in &c.architectures {
        let pairs: Vec<(ArchitectureSpec, WeightingSpec)> = if arch.ignores_weighting() {
            vec![(arch.clone(), WeightingSpec::Equal(Equal {}))]
        } else {
            c.weightings
                .iter()
                .map(|w| (arch.clone(), w.clone()))
                .collect()
        };
        for pair in pairs {
            if !algorithms.contains(&pair) {
                algorithms.push(pair);
            }
        }
    }
    // Pairs listed with several settings get a #k suffix, in listed order.
    let mut variants: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (a, w) in &algorithms {
        let v = variants
            .entry(format!("{}+{}", a.kind(), w.label()))
            .or_default();
        let json = canonical_json(&(a, w));
        if !v.contains(&json) {
            v.push(json);
        }
    }
    let label_of = |a: &ArchitectureSpec, w: &WeightingSpec| -> String {
        let base = format!("{}+{}", a.kind(), w.label());
        let v = &variants[&base];
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
    };

    // Pairwise transfer (Standley et al. 2020): hard sharing with equal weighting on every
    // single task and every pair of tasks, beside the study's own algorithms.
    let pairwise = (
        ArchitectureSpec::HardSharing(HardSharing {}),
        WeightingSpec::Equal(Equal {}),
    );
    let (count, key) = planned_runs(c, trainings.len(), algorithms.len());
    if count > max_runs as u128 {
        return Err(study.error_at(
            key,
            format!(
                "the plan would have {count} runs, more than the limit of {max_runs} (--max-runs raises it)"
            ),
        ));
    }
    let mut runs = Vec::new();
    for suite in &c.suites {
        let suite_label = suite.label();
        let tasks = suite.task_count();
        let mut subsets: Vec<Option<Vec<usize>>> = vec![None];
        if c.pairwise {
            subsets.extend((0..tasks).map(|i| Some(vec![i])));
            for i in 0..tasks {
                subsets.extend((i + 1..tasks).map(|j| Some(vec![i, j])));
            }
        }
        for &fraction in &c.fractions {
            for replicate in 0..c.replicates {
                let seeds = run_seeds(c.seed, suite, replicate, fraction);
                for training in &trainings {
                    for subset in &subsets {
                        let chosen: &[(ArchitectureSpec, WeightingSpec)] = match subset {
                            None => &algorithms,
                            Some(_) => std::slice::from_ref(&pairwise),
                        };
                        for (arch, weighting) in chosen {
                            let mut algorithm = match subset {
                                None => label_of(arch, weighting),
                                Some(_) => format!("{}+{}", arch.kind(), weighting.label()),
                            };
                            algorithm.push_str(&training_suffix(training));
                            if let Some(s) = subset {
                                let list: Vec<String> = s.iter().map(usize::to_string).collect();
                                algorithm.push_str(&format!(" tasks={}", list.join(",")));
                            }
                            let mut spec = RunSpec {
                                id: String::new(),
                                study: c.name.clone(),
                                suite_label: suite_label.clone(),
                                suite: suite.clone(),
                                architecture: arch.clone(),
                                weighting: weighting.clone(),
                                algorithm,
                                model: c.model.clone(),
                                training: training.clone(),
                                replicate,
                                fraction,
                                seeds,
                                task_subset: subset.clone(),
                                adaptation: None,
                                stage: None,
                                compared_as: None,
                            };
                            let hash = derive_seed(c.seed, &[&canonical_json(&spec)]);
                            let tasks_part = subset.as_ref().map_or(String::new(), |s| {
                                let list: Vec<String> = s.iter().map(usize::to_string).collect();
                                format!("-t{}", list.join("_"))
                            });
                            spec.id = format!(
                                "{}-{}-{}{}-r{}-f{}-{:08x}",
                                sanitize(&suite_label),
                                arch.kind(),
                                weighting.kind(),
                                tasks_part,
                                replicate,
                                sanitize(&fraction.to_string()),
                                hash >> 32
                            );
                            runs.push(spec);
                        }
                    }
                }
            }
        }
    }
    if let Some(front) = &c.scalarization {
        // Per suite, fraction, replicate and training setting, one run per fixed weighting.
        for suite in &c.suites {
            let weightings = front.weightings(suite.task_count());
            for &fraction in &c.fractions {
                for replicate in 0..c.replicates {
                    let seeds = run_seeds(c.seed, suite, replicate, fraction);
                    for training in &trainings {
                        for weighting in &weightings {
                            let mut spec = RunSpec {
                                id: String::new(),
                                study: c.name.clone(),
                                suite_label: suite.label(),
                                suite: suite.clone(),
                                architecture: front.architecture.clone(),
                                weighting: weighting.clone(),
                                algorithm: format!(
                                    "{}+{}{}",
                                    front.architecture.kind(),
                                    crate::scalarization::label(weighting),
                                    training_suffix(training)
                                ),
                                model: c.model.clone(),
                                training: training.clone(),
                                replicate,
                                fraction,
                                seeds,
                                task_subset: None,
                                adaptation: None,
                                stage: Some(crate::scalarization::STAGE.into()),
                                compared_as: None,
                            };
                            let hash = derive_seed(c.seed, &[&canonical_json(&spec)]);
                            spec.id = format!(
                                "{}-{}-front-r{}-f{}-{:016x}",
                                sanitize(&suite.label()),
                                front.architecture.kind(),
                                replicate,
                                sanitize(&fraction.to_string()),
                                hash
                            );
                            runs.push(spec);
                        }
                    }
                }
            }
        }
    }
    if let Some(adaptation) = &c.adaptation {
        adaptation
            .validate()
            .map_err(|e| study.error_at(&format!("adaptation.{}", e.key()), e.message()))?;
        for (i, suite) in c.suites.iter().enumerate() {
            suite
                .check_held_out()
                .map_err(|message| study.error_at(&format!("suites[{i}]"), message))?;
        }
        // Per suite, fraction and replicate, one run per start, with the first training
        // settings (the `transfer` start trains with them).
        let training = &trainings[0];
        for suite in &c.suites {
            for &fraction in &c.fractions {
                for replicate in 0..c.replicates {
                    let seeds = run_seeds(c.seed, suite, replicate, fraction);
                    for start in &adaptation.starts {
                        let mut spec = RunSpec {
                            id: String::new(),
                            study: c.name.clone(),
                            suite_label: suite.label(),
                            suite: suite.clone(),
                            architecture: ArchitectureSpec::HardSharing(HardSharing {}),
                            weighting: WeightingSpec::Equal(Equal {}),
                            algorithm: format!("adapt:{}", start.kind()),
                            model: c.model.clone(),
                            training: training.clone(),
                            replicate,
                            fraction,
                            seeds,
                            task_subset: None,
                            adaptation: Some((adaptation.clone(), start.clone())),
                            stage: None,
                            compared_as: None,
                        };
                        let hash = derive_seed(c.seed, &[&canonical_json(&spec)]);
                        spec.id = format!(
                            "{}-adapt-{}-r{}-f{}-{:08x}",
                            sanitize(&suite.label()),
                            start.kind(),
                            replicate,
                            sanitize(&fraction.to_string()),
                            hash >> 32
                        );
                        runs.push(spec);
                    }
                }
            }
        }
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_study;

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
