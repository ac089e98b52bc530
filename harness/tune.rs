//! An equal tuning budget for every algorithm (study key `tune`; Xin et al. 2022, Kurin et
//! al. 2022: rankings flip once every method gets the same budget and selection on
//! validation). Two stages in one output directory:
//!
//! 1. **Search** (`DIR/tune/`, records of stage `tune`): for each suite, fraction and
//!    algorithm, `budget` configurations — configuration 0 is the study's own setting, the
//!    others seeded random draws over the declared ranges (`strategy: random`), or the
//!    points of the grid of listed values (`strategy: grid`) — each trained `replicates`
//!    times (default 1) with its own initialisation and batch streams on the same data as
//!    the study's replicates. The draws are common random numbers: each key every
//!    algorithm shares (`lr`, `weight_decay`) is drawn from a stream of (suite, fraction,
//!    key), so configuration j has the same shared values for every algorithm; a method's
//!    or architecture's own key from a stream of (suite, fraction, key, that method or
//!    architecture), so adding an algorithm changes no other's candidates. A block that
//!    would give some algorithm fewer configurations than `budget` (nothing to draw, a
//!    grid of another size) is refused, naming the key.
//! 2. **Final** (`DIR/runs/`): each algorithm's chosen configuration, retrained with the
//!    study's replicates and reported as usual. The scalarization front's fixed weightings
//!    (the study's `scalarization`) are scalarizations like `equal` and train with the
//!    settings chosen for their architecture with `equal`: the study's cell of that exact
//!    architecture and training, or else a search cell of the front's own. Pairwise-transfer
//!    and adaptation runs are not tuned: they keep the study's settings.
//!
//! A configuration's score: per task the primary validation metric at the evaluation point
//! the study's `selection` names, averaged over the configuration's replicates; signed so
//! that higher is better and divided by the magnitude of the median over the cell's
//! configurations, so that tasks of different scales weigh alike; then the mean over tasks.
//! The best score wins (ties and non-finite scores to the lower index; a cell whose every
//! configuration failed keeps configuration 0). The same budget applies to `single_task`
//! and to every method. Resuming continues either stage.

use crate::config::canonical_json;
use crate::plan::RunSpec;
use mtlbench_algorithms::{ArchitectureSpec, WeightingSpec};
use mtlbench_results::record::RunRecord;
use mtlbench_results::selection::Selection;
use mtlbench_tasks::seed::derive_seed;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The record stage of the search's runs, and the sub-directory that holds them.
pub const STAGE: &str = "tune";

/// The largest budget: configurations per algorithm.
pub const MAX_BUDGET: usize = 1000;

/// The most replicates of each configuration in the search.
pub const MAX_REPLICATES: usize = 100;

/// `tune: {budget: 8, replicates: 1, strategy: random, lr: {log_uniform: [1e-4, 1e-1]}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tune {
    /// Configurations per algorithm, the study's own setting included.
    pub budget: usize,
    /// Replicates of each configuration in the search.
    #[serde(default = "one")]
    pub replicates: usize,
    #[serde(default)]
    pub strategy: Strategy,
    /// The learning rate's range (absent: not tuned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<Range>,
    /// The optimizer's weight decay's range (absent: not tuned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<Range>,
    /// Also tune each method's and architecture's own hyper-parameters over the ranges it
    /// declares (`tuning_ranges` in its file).
    #[serde(default = "yes")]
    pub method: bool,
}

fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Seeded draws over the ranges (values lists draw uniformly among their values).
    #[default]
    Random,
    /// Every point of the grid of the `values` lists, in order; needs budget ≥ grid size.
    Grid,
}

/// One hyper-parameter's range: exactly one of the three forms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_uniform: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uniform: Option<[f64; 2]>,
}

impl Range {
    pub fn log_uniform(lo: f64, hi: f64) -> Self {
        Range {
            log_uniform: Some([lo, hi]),
            ..Default::default()
        }
    }
    pub fn uniform(lo: f64, hi: f64) -> Self {
        Range {
            uniform: Some([lo, hi]),
            ..Default::default()
        }
    }

    fn validate(&self) -> Result<(), String> {
        match (&self.values, &self.log_uniform, &self.uniform) {
            (Some(v), None, None) => {
                if v.is_empty() || v.iter().any(|x| !x.is_finite()) {
                    Err("values: must list at least one finite number".into())
                } else {
                    Ok(())
                }
            }
            (None, Some([lo, hi]), None) if *lo > 0.0 && lo < hi && hi.is_finite() => Ok(()),
            (None, Some(_), None) => Err("log_uniform: needs 0 < low < high".into()),
            (None, None, Some([lo, hi])) if lo < hi && lo.is_finite() && hi.is_finite() => Ok(()),
            (None, None, Some(_)) => Err("uniform: needs low < high".into()),
            _ => Err(
                "give exactly one of values: [...], log_uniform: [low, high], uniform: [low, high]"
                    .into(),
            ),
        }
    }

    /// The smallest value the range can give.
    fn low(&self) -> f64 {
        self.values.as_ref().map_or_else(
            || self.log_uniform.or(self.uniform).map_or(0.0, |b| b[0]),
            |v| v.iter().cloned().fold(f64::INFINITY, f64::min),
        )
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> f64 {
        if let Some(v) = &self.values {
            return v[rng.gen_range(0..v.len())];
        }
        if let Some([lo, hi]) = self.log_uniform {
            return (lo.ln() + rng.gen::<f64>() * (hi.ln() - lo.ln())).exp();
        }
        let [lo, hi] = self.uniform.expect("a validated range");
        lo + rng.gen::<f64>() * (hi - lo)
    }
}

/// A tuned hyper-parameter: its key (`lr`, `weight_decay`, `weighting.<field>`,
/// `architecture.<field>`), its range, and whose it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub key: String,
    pub range: Range,
    /// `None` for a key every algorithm shares (the study's `lr`, `weight_decay`); for a
    /// method's or an architecture's own key, that method's or architecture's identity
    /// (its canonical JSON).
    pub owner: Option<String>,
}

impl Param {
    /// The stream this key's candidates are drawn from, under the (suite, fraction) seed
    /// `base`: the key's own for a shared key, the same for every algorithm; the key's
    /// and its owner's for a method's or architecture's own key, so that no other
    /// algorithm's keys move it.
    fn stream(&self, base: u64) -> u64 {
        match &self.owner {
            None => derive_seed(base, &[&self.key]),
            Some(owner) => derive_seed(base, &[&self.key, owner]),
        }
    }
}

/// Whether `key` is one every algorithm shares (not `weighting.<field>` nor
/// `architecture.<field>`).
pub fn is_shared_key(key: &str) -> bool {
    !(key.starts_with("weighting.") || key.starts_with("architecture."))
}

/// A configuration: a value per tuned key (configuration 0, the study's own, has none).
pub type Config = Vec<(String, f64)>;

/// A range a method or architecture declares (`tuning_ranges`), as a study's range.
fn declared(r: mtlbench_algorithms::tuning::TuningRange) -> Range {
    use mtlbench_algorithms::tuning::TuningRange;
    match r {
        TuningRange::Uniform(lo, hi) => Range::uniform(lo, hi),
        TuningRange::LogUniform(lo, hi) => Range::log_uniform(lo, hi),
    }
}

impl Tune {
    /// Checks the settings; `lr_grid` is the number of learning rates the study lists (a
    /// grid axis and a tuned range would both set it). The error names the key.
    pub fn validate(&self, lr_grid: usize) -> Result<(), (String, String)> {
        let err = |k: &str, m: String| Err((format!("tune.{k}"), m));
        if self.budget == 0 || self.budget > MAX_BUDGET {
            return err("budget", format!("must be between 1 and {MAX_BUDGET}"));
        }
        if self.replicates == 0 || self.replicates > MAX_REPLICATES {
            return err(
                "replicates",
                format!("must be between 1 and {MAX_REPLICATES}"),
            );
        }
        if let Some(r) = &self.weight_decay {
            let low = r.low();
            if low < 0.0 {
                return err("weight_decay", "weight decays must be at least 0".into());
            }
        }
        for (key, range) in [("lr", &self.lr), ("weight_decay", &self.weight_decay)] {
            if let Some(r) = range {
                r.validate().map_err(|m| (format!("tune.{key}"), m))?;
                if self.strategy == Strategy::Grid && r.values.is_none() {
                    return err(key, "strategy grid takes `values` lists only".into());
                }
            }
        }
        if self.strategy == Strategy::Grid {
            // Every algorithm gets exactly the grid's points and the study's own setting.
            let lists: Vec<usize> = [&self.lr, &self.weight_decay]
                .into_iter()
                .flatten()
                .filter_map(|r| r.values.as_ref().map(Vec::len))
                .collect();
            if lists.is_empty() {
                return err(
                    "strategy",
                    "strategy grid needs a `values` list to grid (tune.lr or tune.weight_decay); the methods' own ranges are drawn under strategy random only".into(),
                );
            }
            let points = lists.iter().fold(1usize, |n, &k| n.saturating_mul(k));
            let configurations = points.saturating_add(1);
            if configurations != self.budget {
                return err(
                    "budget",
                    format!(
                        "the grid has {points} points, with the study's own setting {configurations} configurations per algorithm, not the budget of {}: set budget: {configurations}",
                        self.budget
                    ),
                );
            }
        }
        if let Some(r) = &self.lr {
            if lr_grid > 1 {
                return err(
                    "lr",
                    "training.lr lists several values; tune the learning rate or grid it, not both"
                        .into(),
                );
            }
            let low = r.low();
            if low <= 0.0 {
                return err("lr", "learning rates must be positive".into());
            }
        }
        Ok(())
    }

    /// The hyper-parameters tuned for `arch` + `weighting`: the shared keys first, then the
    /// architecture's own, then the method's. Under `strategy: grid` the methods' own
    /// ranges (continuous) are left out.
    pub fn space(&self, arch: &ArchitectureSpec, weighting: &WeightingSpec) -> Vec<Param> {
        let mut space = Vec::new();
        for (key, range) in [("lr", &self.lr), ("weight_decay", &self.weight_decay)] {
            if let Some(r) = range {
                space.push(Param {
                    key: key.into(),
                    range: r.clone(),
                    owner: None,
                });
            }
        }
        if self.method && self.strategy == Strategy::Random {
            let weighting_ignored = arch.ignores_weighting();
            let owner = canonical_json(arch);
            for (k, range) in arch.tuning_ranges() {
                space.push(Param {
                    key: format!("architecture.{k}"),
                    range: declared(range),
                    owner: Some(owner.clone()),
                });
            }
            if !weighting_ignored {
                let owner = canonical_json(weighting);
                for (k, range) in weighting.tuning_ranges() {
                    space.push(Param {
                        key: format!("weighting.{k}"),
                        range: declared(range),
                        owner: Some(owner.clone()),
                    });
                }
            }
        }
        space
    }

    /// The configurations of one cell: configuration 0 is the study's own setting; then
    /// (random) `budget − 1` draws of each key from its own stream under `base`, the seed
    /// of the cell's suite and fraction (common random numbers: configuration j of every
    /// algorithm has the same value of each key they share, whatever else either tunes),
    /// or (grid) the grid's points, in order. An empty space with a budget above 1 is an
    /// error naming the key: the algorithm would get fewer configurations than asked.
    pub fn configurations(&self, space: &[Param], base: u64) -> Result<Vec<Config>, String> {
        let mut configs: Vec<Config> = vec![Vec::new()];
        if self.budget == 1 {
            return Ok(configs);
        }
        if space.is_empty() {
            return Err(format!(
                "nothing to draw for configurations 1 to {}: no tune.lr nor tune.weight_decay, and no range of its own{}; give one of them, or budget: 1",
                self.budget - 1,
                if self.method { "" } else { " (tune.method is false)" }
            ));
        }
        match self.strategy {
            Strategy::Random => {
                // One column of draws per key, each from its own stream.
                let columns: Vec<Vec<f64>> = space
                    .iter()
                    .map(|p| {
                        let mut rng = ChaCha8Rng::seed_from_u64(p.stream(base));
                        (1..self.budget).map(|_| p.range.draw(&mut rng)).collect()
                    })
                    .collect();
                for j in 0..self.budget - 1 {
                    configs.push(
                        space
                            .iter()
                            .zip(&columns)
                            .map(|(p, column)| (p.key.clone(), column[j]))
                            .collect(),
                    );
                }
            }
            Strategy::Grid => {
                let mut grid: Vec<Config> = vec![Vec::new()];
                for p in space {
                    let values = p.range.values.as_ref().expect("grid ranges are lists");
                    grid = grid
                        .into_iter()
                        .flat_map(|c| {
                            values.iter().map(move |v| {
                                let mut c = c.clone();
                                c.push((p.key.clone(), *v));
                                c
                            })
                        })
                        .collect();
                }
                if grid.len() + 1 != self.budget {
                    return Err(format!(
                        "the grid has {} points, with the study's own setting {} configurations, not the budget of {}",
                        grid.len(),
                        grid.len() + 1,
                        self.budget
                    ));
                }
                configs.extend(grid);
            }
        }
        Ok(configs)
    }
}

/// Sets `value` at `key` of a run: `lr`, `weight_decay` (the optimizer's), or a field of
/// the weighting or architecture (dotted for `compose` parts). Errors name the key.
pub fn apply(spec: &mut RunSpec, key: &str, value: f64) -> Result<(), String> {
    match key {
        "lr" => spec.training.lr = value,
        "weight_decay" => {
            spec.training.optimizer = set_field(&spec.training.optimizer, &["weight_decay"], value)?
        }
        _ => {
            let (part, path) = key.split_once('.').ok_or(format!("unknown key `{key}`"))?;
            let path: Vec<&str> = path.split('.').collect();
            match part {
                "weighting" => spec.weighting = set_field(&spec.weighting, &path, value)?,
                "architecture" => spec.architecture = set_field(&spec.architecture, &path, value)?,
                _ => return Err(format!("unknown key `{key}`")),
            }
        }
    }
    Ok(())
}

/// `item` with the number at `path` replaced by `value` (through its serde form).
fn set_field<T: Serialize + serde::de::DeserializeOwned>(
    item: &T,
    path: &[&str],
    value: f64,
) -> Result<T, String> {
    crate::config::with_number_at(item, path, value)
}

/// A search cell: (suite label, fraction, algorithm label).
pub type Cell = (String, String, String);

fn cell_of(spec: &RunSpec) -> Cell {
    (
        spec.suite_label.clone(),
        spec.fraction.to_string(),
        spec.algorithm.clone(),
    )
}

/// One search run: its cell and configuration index.
#[derive(Debug, Clone)]
pub struct SearchRun {
    pub spec: RunSpec,
    pub cell: Cell,
    pub config: usize,
}

fn is_ordinary(r: &RunSpec) -> bool {
    r.task_subset.is_none() && r.adaptation.is_none() && r.stage.is_none()
}

fn is_front(r: &RunSpec) -> bool {
    r.stage.as_deref() == Some(crate::scalarization::STAGE)
}

/// The cell whose chosen settings a run of the scalarization front trains with: the
/// study's cell of the front's architecture (its settings included) with `equal` and the
/// same training settings, when the study has one (`ordinary`: its replicate-0 ordinary
/// runs); else the front's own cell, `<architecture>+equal (scalarization front)`, which
/// the search tunes like any other. With the template of that own cell.
fn front_cell(run: &RunSpec, ordinary: &[&RunSpec]) -> (Cell, Option<RunSpec>) {
    let equal = WeightingSpec::Equal(Default::default());
    let same = ordinary.iter().find(|o| {
        o.suite_label == run.suite_label
            && o.fraction == run.fraction
            && o.architecture == run.architecture
            && o.weighting == equal
            && o.model == run.model
            && o.training == run.training
    });
    if let Some(o) = same {
        return (cell_of(o), None);
    }
    // The front's label is `<arch>+static w=…` and then the training grid's suffix.
    let suffix = run.algorithm.split_once(' ').map_or("", |s| s.1);
    let suffix = suffix.split_once(' ').map_or("", |s| s.1);
    let mut algorithm = format!("{}+equal (scalarization front)", run.architecture.kind());
    if !suffix.is_empty() {
        algorithm.push(' ');
        algorithm.push_str(suffix);
    }
    let mut template = run.clone();
    template.weighting = equal;
    template.algorithm = algorithm;
    template.replicate = 0;
    template.stage = None;
    (cell_of(&template), Some(template))
}

/// One run per search cell: replicate 0 of each of the plan's ordinary runs (not pairwise,
/// adaptation or scalarization runs: pairwise and adaptation runs train with the study's
/// own settings), then one per cell of the scalarization front that has no cell of the
/// study to borrow from (see `front_cell`).
pub fn templates(plan: &[RunSpec]) -> Vec<RunSpec> {
    let ordinary: Vec<&RunSpec> = plan
        .iter()
        .filter(|r| r.replicate == 0 && is_ordinary(r))
        .collect();
    let mut out: Vec<RunSpec> = ordinary.iter().map(|r| (*r).clone()).collect();
    for run in plan.iter().filter(|r| r.replicate == 0 && is_front(r)) {
        if let (cell, Some(template)) = front_cell(run, &ordinary) {
            if !out.iter().any(|t| cell_of(t) == cell) {
                out.push(template);
            }
        }
    }
    out
}

/// The seed of the candidates of (suite, fraction): every algorithm's draws of the keys
/// they share come from its streams, so that each algorithm is tuned on the same
/// candidates; a method's or architecture's own keys from streams of their own under it.
pub fn candidates_seed(root: u64, suite_label: &str, fraction: &str) -> u64 {
    derive_seed(root, &["tune", suite_label, fraction])
}

/// The search's runs, and each cell's configurations.
pub type Search = (Vec<SearchRun>, BTreeMap<Cell, Vec<Config>>);

/// The search stage of `plan` (the study's expanded runs): per cell (see `templates`),
/// every configuration × the search's replicates. Also returns each cell's configurations.
/// Errors name the key: a cell with nothing to draw is refused.
pub fn search_plan(tune: &Tune, root: u64, plan: &[RunSpec]) -> Result<Search, (String, String)> {
    let mut cells: BTreeMap<Cell, Vec<Config>> = BTreeMap::new();
    let mut out = Vec::new();
    for template in templates(plan) {
        let cell = cell_of(&template);
        let space = tune.space(&template.architecture, &template.weighting);
        let configs = tune
            .configurations(&space, candidates_seed(root, &cell.0, &cell.1))
            .map_err(|m| {
                let key = match tune.strategy {
                    Strategy::Grid => "tune.strategy",
                    Strategy::Random => "tune.budget",
                };
                (
                    key.to_string(),
                    format!("`{}` (suite `{}`): {m}", cell.2, cell.0),
                )
            })?;
        for (k, config) in configs.iter().enumerate() {
            for r in 0..tune.replicates {
                let mut spec = template.clone();
                for (key, value) in config {
                    apply(&mut spec, key, *value).map_err(|m| (format!("tune: {key}"), m))?;
                }
                let base = crate::plan::run_seeds(root, &spec.suite, r, spec.fraction);
                spec.replicate = r;
                spec.seeds = crate::plan::RunSeeds {
                    data: base.data,
                    init: derive_seed(base.init, &["tune"]),
                    batches: derive_seed(base.batches, &["tune"]),
                };
                spec.stage = Some(STAGE.into());
                spec.id = String::new();
                let hash = derive_seed(root, &[&canonical_json(&spec)]);
                spec.id = format!(
                    "{}-{}-{}-c{k}-r{r}-f{}-{hash:016x}",
                    crate::plan::sanitize(&spec.suite_label),
                    spec.architecture.kind(),
                    spec.weighting.kind(),
                    crate::plan::sanitize(&spec.fraction.to_string()),
                );
                out.push(SearchRun {
                    spec,
                    cell: cell.clone(),
                    config: k,
                });
            }
        }
        cells.insert(cell, configs);
    }
    Ok((out, cells))
}

/// A cell's outcome: each configuration's score and the chosen one.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub scores: Vec<f64>,
    pub chosen: usize,
}

/// Each configuration's validation score in every cell, from the search's records.
pub fn choose(
    search: &[SearchRun],
    cells: &BTreeMap<Cell, Vec<Config>>,
    records: &[RunRecord],
    selection: &Selection,
) -> BTreeMap<Cell, Choice> {
    let by_id: BTreeMap<&str, &RunRecord> = records.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut out = BTreeMap::new();
    for (cell, configs) in cells {
        // Per configuration, per (task, metric): the values over its replicates.
        // (task, metric) → (values over replicates, higher is better).
        type Values = BTreeMap<(String, String), (Vec<f64>, bool)>;
        let mut values: Vec<Values> = vec![BTreeMap::new(); configs.len()];
        let mut failed = vec![false; configs.len()];
        for run in search.iter().filter(|s| s.cell == *cell) {
            let Some(record) = by_id.get(run.spec.id.as_str()).filter(|r| r.is_ok()) else {
                failed[run.config] = true;
                continue;
            };
            let keys = record.primary_metric_keys();
            for p in selection.select_split(record, "val") {
                if keys.contains(&(p.task.clone(), p.metric.clone())) {
                    let e = values[run.config]
                        .entry((p.task.clone(), p.metric.clone()))
                        .or_insert((Vec::new(), p.higher_is_better));
                    e.0.push(p.value);
                }
            }
        }
        let means: Vec<BTreeMap<(String, String), (f64, bool)>> = values
            .iter()
            .map(|m| {
                m.iter()
                    .map(|(k, (v, h))| (k.clone(), (v.iter().sum::<f64>() / v.len() as f64, *h)))
                    .collect()
            })
            .collect();
        let keys: Vec<(String, String)> = means
            .iter()
            .flat_map(|m| m.keys().cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let median = |key: &(String, String)| -> f64 {
            let mut v: Vec<f64> = means
                .iter()
                .filter_map(|m| m.get(key).map(|x| x.0))
                .filter(|x| x.is_finite())
                .collect();
            v.sort_by(f64::total_cmp);
            match v.len() {
                0 => 1.0,
                n if n % 2 == 1 => v[n / 2],
                n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
            }
        };
        let scales: Vec<f64> = keys.iter().map(|k| median(k).abs().max(1e-12)).collect();
        let scores: Vec<f64> = means
            .iter()
            .zip(&failed)
            .map(|(m, failed)| {
                if *failed || keys.is_empty() || m.len() != keys.len() {
                    return f64::NAN;
                }
                keys.iter()
                    .zip(&scales)
                    .map(|(k, s)| {
                        let (v, higher) = m[k];
                        if higher {
                            v / s
                        } else {
                            -v / s
                        }
                    })
                    .sum::<f64>()
                    / keys.len() as f64
            })
            .collect();
        let mut chosen = 0;
        for (k, s) in scores.iter().enumerate() {
            if s.is_finite() && (!scores[chosen].is_finite() || *s > scores[chosen]) {
                chosen = k;
            }
        }
        out.insert(cell.clone(), Choice { scores, chosen });
    }
    out
}

/// The final stage: `plan` with each ordinary run set to its cell's chosen configuration
/// (its id recomputed: a resumed sweep finds the same ids), and each run of the
/// scalarization front set to the shared and architecture keys chosen for its cell (see
/// `front_cell`: its architecture with `equal`). Pairwise-transfer and adaptation runs
/// keep the study's own settings.
pub fn final_plan(
    root: u64,
    plan: &[RunSpec],
    cells: &BTreeMap<Cell, Vec<Config>>,
    choices: &BTreeMap<Cell, Choice>,
) -> Result<Vec<RunSpec>, String> {
    let ordinary: Vec<&RunSpec> = plan
        .iter()
        .filter(|r| r.replicate == 0 && is_ordinary(r))
        .collect();
    plan.iter()
        .map(|run| {
            let mut spec = run.clone();
            // The front's fixed weightings are scalarizations like `equal`: they train with
            // the settings chosen for the same architecture with `equal`.
            let front = is_front(run);
            let cell = if front {
                front_cell(run, &ordinary).0
            } else if is_ordinary(run) {
                cell_of(run)
            } else {
                return Ok(spec);
            };
            let (Some(configs), Some(choice)) = (cells.get(&cell), choices.get(&cell)) else {
                return Err(format!(
                    "the search has no choice for `{}` (suite `{}`, fraction {})",
                    cell.2, cell.0, cell.1
                ));
            };
            let config: Config = configs[choice.chosen]
                .iter()
                .filter(|(k, _)| !front || !k.starts_with("weighting."))
                .cloned()
                .collect();
            if !config.is_empty() {
                for (key, value) in &config {
                    apply(&mut spec, key, *value)?;
                }
                let own = run.training_json();
                if spec.training_json() != own {
                    spec.compared_as = Some(own);
                }
                let prefix = spec.id.rsplit_once('-').map_or("", |p| p.0).to_string();
                spec.id = String::new();
                let hash = derive_seed(root, &[&canonical_json(&spec)]);
                spec.id = format!("{prefix}-{:08x}", hash >> 32);
            }
            Ok(spec)
        })
        .collect()
}

#[cfg(test)]
mod tests;
