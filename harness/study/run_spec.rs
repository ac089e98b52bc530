//! One run of the plan: its settings, its kind, its seeds and its id; and the slot (suite,
//! fraction, replicate) every kind of run is built in. The identity form here (canonical
//! JSON, hashed into the id) is what keeps run ids stable.

use crate::study::canonical::canonical_json;
use mtlbench_algorithms::adapt::{AdaptConfig, StartSpec};
use mtlbench_algorithms::{ArchitectureSpec, ModelSpec, TrainConfig, WeightingSpec};
use mtlbench_tasks::seed::derive_seed;
use mtlbench_tasks::SuiteSpec;
use serde::Serialize;

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
    /// What the run is for; part of its identity (see `RunKind`'s serde form).
    #[serde(flatten)]
    pub kind: RunKind,
    /// For a run whose settings a tuning search chose: the study's own training settings
    /// (canonical JSON), under which it is compared (not part of its identity).
    #[serde(skip)]
    pub compared_as: Option<String>,
}

/// What a run of the plan is for. Its record stores it as `mtlbench_results::RunKind`
/// (tasks by name, no adaptation settings: `RunSpec::record_kind`).
#[derive(Debug, Clone, PartialEq)]
pub enum RunKind {
    /// A run of the study's grid, in the main table.
    Ordinary,
    /// Pairwise transfer: trains on these tasks of the suite only (a pair or a single).
    Pairwise { tasks: Vec<usize> },
    /// Meta-test adaptation: the settings and the start this run adapts from.
    Adaptation {
        config: AdaptConfig,
        start: StartSpec,
    },
    /// A run of a tuning search (`tune`), under `DIR/tune/`.
    TuningSearch,
    /// A fixed weighting of the scalarization front (`scalarization`).
    Scalarization,
}

/// The run's identity form, flattened into the spec's canonical JSON (hashed into its id):
/// the keys of the fields it replaced, so that ids stay as they were. Nothing for an
/// ordinary run, `task_subset` (the task indices) for a pairwise run, `adaptation`
/// (`[settings, start]`) for an adaptation run, and `stage` (`tune`, `scalarization`) for
/// the search's and the front's runs.
impl Serialize for RunKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        match self {
            RunKind::Ordinary => {}
            RunKind::Pairwise { tasks } => map.serialize_entry("task_subset", tasks)?,
            RunKind::Adaptation { config, start } => {
                map.serialize_entry("adaptation", &(config, start))?
            }
            RunKind::TuningSearch | RunKind::Scalarization => {
                map.serialize_entry("stage", &self.record(&[]).legacy_stage())?
            }
        }
        map.end()
    }
}

impl RunKind {
    /// The kind as the record stores it, the tasks named by `task_names` (a pairwise run's
    /// i-th task is `task_names[i]`).
    pub fn record(&self, task_names: &[String]) -> mtlbench_results::RunKind {
        use mtlbench_results::RunKind as Stored;
        match self {
            RunKind::Ordinary => Stored::Ordinary,
            RunKind::Pairwise { .. } => Stored::Pairwise {
                tasks: task_names.to_vec(),
            },
            RunKind::Adaptation { .. } => Stored::Adaptation,
            RunKind::TuningSearch => Stored::TuningSearch,
            RunKind::Scalarization => Stored::Scalarization,
        }
    }

    /// The tasks of the suite a pairwise run trains on; `None` for every other kind.
    pub fn task_subset(&self) -> Option<&[usize]> {
        match self {
            RunKind::Pairwise { tasks } => Some(tasks),
            _ => None,
        }
    }

    /// The adaptation settings and start of an adaptation run.
    pub fn adaptation(&self) -> Option<(&AdaptConfig, &StartSpec)> {
        match self {
            RunKind::Adaptation { config, start } => Some((config, start)),
            _ => None,
        }
    }
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

pub fn sanitize(s: &str) -> String {
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

/// One (suite, fraction, replicate) of the study, with its seeds: the three outer loops of
/// every kind of run, in this order.
pub struct Slot<'a> {
    /// The study's name, model and root seed.
    pub study: &'a str,
    pub model: &'a ModelSpec,
    pub root: u64,
    pub suite: &'a SuiteSpec,
    pub fraction: f64,
    pub replicate: usize,
    pub seeds: RunSeeds,
}

impl RunSpec {
    /// A run of `slot` without its id (`with_id` gives it).
    pub fn in_slot(
        slot: &Slot,
        (architecture, weighting): (ArchitectureSpec, WeightingSpec),
        algorithm: String,
        training: &TrainConfig,
        kind: RunKind,
    ) -> RunSpec {
        RunSpec {
            id: String::new(),
            study: slot.study.to_string(),
            suite_label: slot.suite.label(),
            suite: slot.suite.clone(),
            architecture,
            weighting,
            algorithm,
            model: slot.model.clone(),
            training: training.clone(),
            replicate: slot.replicate,
            fraction: slot.fraction,
            seeds: slot.seeds,
            kind,
            compared_as: None,
        }
    }

    /// The run with its id: `prefix`, then `-r<replicate>-f<fraction>-` and the hash of
    /// its canonical JSON under the study's seed `root` (`hash_bits` of it: 32 or 64).
    pub fn with_id(mut self, root: u64, prefix: &str, hash_bits: u32) -> RunSpec {
        let hash = derive_seed(root, &[&canonical_json(&self)]);
        let hash = match hash_bits {
            32 => format!("{:08x}", hash >> 32),
            _ => format!("{hash:016x}"),
        };
        self.id = format!(
            "{prefix}-r{}-f{}-{hash}",
            self.replicate,
            sanitize(&self.fraction.to_string())
        );
        self
    }
}
