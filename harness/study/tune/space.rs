//! The study's `tune` block: the budget, the strategy and the ranges of the search, with
//! its checks; the search space of each algorithm and the configurations drawn from it.
//! The search itself (its runs, the choice, the final plan) is `tune`'s.

use crate::study::canonical::canonical_json;
use mtlbench_algorithms::{ArchitectureSpec, WeightingSpec};
use mtlbench_tasks::seed::derive_seed;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

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
