//! The stored record of one run: what ran (suite, algorithm, hyper-parameters, replicate,
//! fraction), how it ended, what it cost, and every measured point. One JSON file per run;
//! `tables` flattens them into the long/tidy `runs` table.

use serde::{Deserialize, Serialize};

/// One measured value of one task (see the `runs` table for the column meanings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub task: String,
    pub split: String,
    pub metric: String,
    pub higher_is_better: bool,
    pub epoch: usize,
    pub step: usize,
    pub value: f64,
}

/// One gradient-conflict measure at one step (on the shared parameters, before that
/// step's update); pair measures name both tasks. `value` is null when not finite (a
/// severity without conflicts, the condition number of a singular GGᵀ).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TelemetryRow {
    pub step: usize,
    pub epoch: usize,
    pub measure: String,
    pub task_a: Option<String>,
    pub task_b: Option<String>,
    /// The shared layer (index among the shared layers) for per-layer measures.
    #[serde(default)]
    pub layer: Option<usize>,
    pub value: Option<f64>,
}

/// The weight a method applied to one task at one step (see `TrainConfig::weights_every`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightRow {
    pub step: usize,
    pub epoch: usize,
    pub task: String,
    pub value: f64,
}

/// A task's metric: one of the primary metrics its suite declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskMetric {
    pub task: String,
    pub metric: String,
}

/// What a run is for, stored in its record as `"kind"`: `"ordinary"` (a run of the
/// study's grid), `{"pairwise": {"tasks": [names]}}` (a pairwise-transfer run trained on
/// these tasks only), `"adaptation"` (a meta-test adaptation run: its points are the
/// held-out query losses by step), `"tuning_search"` (a run of a tuning search, under
/// `DIR/tune/`) or `"scalarization"` (a fixed weighting of the scalarization front).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    #[default]
    Ordinary,
    Pairwise {
        tasks: Vec<String>,
    },
    Adaptation,
    TuningSearch,
    Scalarization,
}

impl RunKind {
    /// The tasks of a pairwise-transfer run; `None` for every other kind.
    pub fn task_subset(&self) -> Option<&[String]> {
        match self {
            RunKind::Pairwise { tasks } => Some(tasks),
            _ => None,
        }
    }

    /// The `stage` a record written before `kind` existed gave this kind (the run's
    /// identity in the plan keeps that form: see the harness's `RunKind`).
    pub fn legacy_stage(&self) -> Option<&'static str> {
        match self {
            RunKind::Ordinary | RunKind::Pairwise { .. } => None,
            RunKind::Adaptation => Some("adaptation"),
            RunKind::TuningSearch => Some("tune"),
            RunKind::Scalarization => Some("scalarization"),
        }
    }

    /// The kind of a record written before `kind` existed: `task_subset` (pairwise runs)
    /// and `stage` (`adaptation`, `tune`, `scalarization`); neither is an ordinary run.
    pub fn from_legacy(
        task_subset: Option<Vec<String>>,
        stage: Option<&str>,
    ) -> Result<RunKind, String> {
        match (task_subset, stage) {
            (Some(tasks), None) => Ok(RunKind::Pairwise { tasks }),
            (None, None) => Ok(RunKind::Ordinary),
            (Some(_), Some(stage)) => Err(format!(
                "a run on a task subset cannot be of stage `{stage}`"
            )),
            (None, Some(stage)) => {
                let staged = [
                    RunKind::Adaptation,
                    RunKind::TuningSearch,
                    RunKind::Scalarization,
                ];
                staged
                    .into_iter()
                    .find(|k| k.legacy_stage() == Some(stage))
                    .ok_or_else(|| {
                        format!("unknown stage `{stage}` (adaptation, tune or scalarization)")
                    })
            }
        }
    }
}

/// The record's fields that say its kind, as stored now (`kind`) or before (`task_subset`,
/// `stage`); flattened into `RunRecord`.
#[derive(Deserialize)]
struct KindFields {
    #[serde(default)]
    kind: Option<RunKind>,
    #[serde(default)]
    task_subset: Option<Vec<String>>,
    #[serde(default)]
    stage: Option<String>,
}

/// `RunRecord::kind` in and out: written as `"kind"`, read from `kind` or from the
/// legacy `task_subset` and `stage`.
mod kind_field {
    use super::{KindFields, RunKind};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(kind: &RunKind, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Field<'a> {
            kind: &'a RunKind,
        }
        Field { kind }.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<RunKind, D::Error> {
        use serde::de::Error;
        let fields = KindFields::deserialize(deserializer)?;
        match (fields.kind, fields.task_subset, fields.stage) {
            (Some(kind), None, None) => Ok(kind),
            (Some(_), _, _) => Err(D::Error::custom(
                "a record with `kind` cannot also have `task_subset` or `stage`",
            )),
            (None, subset, stage) => {
                RunKind::from_legacy(subset, stage.as_deref()).map_err(D::Error::custom)
            }
        }
    }
}

/// One finished run (ok, diverged or failed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Stable id: readable prefix plus a hash of the run's full specification.
    pub id: String,
    pub study: String,
    /// The suite's label in the study (its `name`, or its kind).
    pub suite: String,
    pub suite_kind: String,
    pub architecture: String,
    pub weighting: String,
    /// Display label of the algorithm (architecture+weighting, with a suffix when the
    /// study has several hyper-parameter settings of the same pair).
    pub algorithm: String,
    /// Canonical JSON of the algorithm's hyper-parameters (architecture and weighting).
    pub hparams: String,
    /// Canonical JSON of the model and training settings; runs compared against each
    /// other (for Δm) share it.
    pub training: String,
    /// For a run whose training settings a tuning search chose (`training` holds them):
    /// the study's own settings, under which it is paired with the other algorithms'
    /// runs. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compared_as: Option<String>,
    pub replicate: usize,
    pub fraction: f64,
    pub status: String,
    pub message: Option<String>,
    /// Seconds of training and evaluation; the suite's data is obtained apart.
    pub wall_time_s: f64,
    /// Seconds this run spent obtaining its suite's data: generating or reading it, or
    /// waiting while another run of the sweep did (0 when it was ready). Kept out of
    /// `wall_time_s`, so that the first run to touch a suite is not charged for building it.
    #[serde(default)]
    pub data_time_s: f64,
    pub steps: usize,
    pub forward_passes: usize,
    pub backward_passes: usize,
    pub parameter_bytes: usize,
    pub optimizer_bytes: usize,
    /// On a GPU: the device memory in use at the run's end less that at its start. dfdx
    /// keeps the blocks a run frees for reuse, so with one run at a time on the GPU this is
    /// the run's peak working set; runs sharing the GPU at once count in each other's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_memory_bytes: Option<usize>,
    /// The peak memory of the run's training, a measured cost like `wall_time_s` (not part
    /// of the bit-identity of records): on the CPU, the most heap bytes the run's own
    /// allocations held at once (model, optimizer state, activations, gradients, dfdx's
    /// cache of freed buffers; `mtlbench::run::memory_meter`); on a GPU, the device memory
    /// (`device_memory_bytes`). Absent where it was not measured (records written before
    /// it, a library build without the counting allocator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_memory_bytes: Option<u64>,
    /// Mean iterations of the method's inner solver per step (methods that solve one).
    #[serde(default)]
    pub solver_mean_iterations: Option<f64>,
    /// The largest final gap or residual of the inner solver over the run.
    #[serde(default)]
    pub solver_max_gap: Option<f64>,
    /// Steps at which the method fell back instead of applying its rule (IMTL-G: equal
    /// weights; Aligned-MTL: a zero update); absent when it never did.
    #[serde(default)]
    pub solver_fallbacks: Option<usize>,
    /// Backward and forward passes spent on telemetry alone.
    #[serde(default)]
    pub telemetry_backward_passes: usize,
    #[serde(default)]
    pub telemetry_forward_passes: usize,
    /// Gradient-conflict telemetry (when the study asks for it).
    #[serde(default)]
    pub telemetry: Vec<TelemetryRow>,
    /// The task weights applied (when the study asks for them).
    #[serde(default)]
    pub weights: Vec<WeightRow>,
    /// What the run is for: an ordinary run of the study's grid, a pairwise-transfer run on
    /// a task subset, a meta-test adaptation run, a tuning-search run or a point of the
    /// scalarization front. Stored as one field, `kind`; records written before it (with
    /// `task_subset` and `stage`) read as the same kind (`RunKind::from_legacy`).
    #[serde(flatten, with = "kind_field")]
    pub kind: RunKind,
    /// The metrics the suite declares primary for each task: those the transfer measures
    /// and the model-selection rule average by default. Empty for a run that measured no
    /// task (failed before training); records without it read each task's first stored
    /// metric as its primary one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_metrics: Vec<TaskMetric>,
    /// The suite's planted task-correlation matrix over the run's tasks, when it has one.
    pub planted_correlation: Option<Vec<Vec<f64>>>,
    pub points: Vec<Point>,
    /// The test points the report's selection rule chose (`selection::Selection::apply`);
    /// never stored: `None` reads as the last evaluation.
    #[serde(skip)]
    pub selected_test: Option<Vec<Point>>,
}

impl RunRecord {
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }

    /// A run of the study's own grid: not a pairwise-transfer run on a task subset, not a
    /// meta-test adaptation run.
    pub fn is_ordinary(&self) -> bool {
        self.kind == RunKind::Ordinary
    }

    /// Each task's primary metrics as (task, metric): as declared, or for a record without
    /// the declaration the first metric stored for each task on the validation or test
    /// split (the training split holds the loss).
    pub fn primary_metric_keys(&self) -> Vec<(String, String)> {
        if !self.primary_metrics.is_empty() {
            return self
                .primary_metrics
                .iter()
                .map(|m| (m.task.clone(), m.metric.clone()))
                .collect();
        }
        let mut keys: Vec<(String, String)> = Vec::new();
        for p in self.points.iter().filter(|p| p.split != "train") {
            if !keys.iter().any(|(t, _)| *t == p.task) {
                keys.push((p.task.clone(), p.metric.clone()));
            }
        }
        keys
    }

    /// The training settings this run is compared under (for Δm): the study's own.
    pub fn comparison_training(&self) -> &str {
        self.compared_as.as_deref().unwrap_or(&self.training)
    }

    /// The final test value of every (task, metric), in stored order.
    pub fn final_test(&self) -> Box<dyn Iterator<Item = &Point> + '_> {
        if let Some(selected) = &self.selected_test {
            return Box::new(selected.iter());
        }
        let last_epoch = self
            .points
            .iter()
            .filter(|p| p.split == "test")
            .map(|p| p.epoch)
            .max();
        Box::new(
            self.points
                .iter()
                .filter(move |p| p.split == "test" && Some(p.epoch) == last_epoch),
        )
    }
}

/// A finished ok run of suite `toy` with final test `values` (task, metric, higher is
/// better, value) at epoch 5, for tests.
#[cfg(test)]
pub(crate) fn test_run(
    arch: &str,
    replicate: usize,
    values: &[(&str, &str, bool, f64)],
) -> RunRecord {
    RunRecord {
        id: format!("{arch}-{replicate}"),
        study: "s".into(),
        suite: "toy".into(),
        suite_kind: "toy".into(),
        architecture: arch.into(),
        weighting: "equal".into(),
        algorithm: format!("{arch}+equal"),
        hparams: "{}".into(),
        training: "{}".into(),
        compared_as: None,
        replicate,
        fraction: 1.0,
        status: "ok".into(),
        message: None,
        wall_time_s: 0.0,
        data_time_s: 0.0,
        steps: 1,
        forward_passes: 1,
        backward_passes: 1,
        parameter_bytes: 0,
        optimizer_bytes: 0,
        device_memory_bytes: None,
        peak_memory_bytes: None,
        solver_mean_iterations: None,
        solver_max_gap: None,
        solver_fallbacks: None,
        telemetry_backward_passes: 0,
        telemetry_forward_passes: 0,
        weights: Vec::new(),
        kind: RunKind::Ordinary,
        telemetry: Vec::new(),
        planted_correlation: None,
        primary_metrics: Vec::new(),
        selected_test: None,
        points: values
            .iter()
            .map(|(task, metric, hib, value)| Point {
                task: task.to_string(),
                split: "test".into(),
                metric: metric.to_string(),
                higher_is_better: *hib,
                epoch: 5,
                step: 10,
                value: *value,
            })
            .collect(),
    }
}
