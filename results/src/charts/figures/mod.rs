//! The report's figures beyond the per-task metric charts, built from the summary, the
//! relationship matrices and the stored runs, one file a kind: `bars` (Δp with CIs, vs
//! single task and vs equal; worst-task and gain-spread bars), `curves` (learning,
//! data-efficiency, gradient-magnitude, task-weight and adaptation curves), `pareto` (the
//! two-task plane over the scalarization front) and `matrices` (conflict heatmaps beside
//! the cosine matrix, affinity beside the planted matrix, pairwise transfer). Here: the
//! file stems, titles and counts they share.

mod bars;
mod curves;
mod matrices;
mod pareto;

pub use bars::{balance_bars, delta_bars};
pub use curves::{
    adaptation_curves, efficiency_curves, learning_curves, magnitude_figures, weight_figures,
};
pub use matrices::{affinity_figures, conflict_figures, pairwise_figures};
pub use pareto::pareto;

use super::{sanitize, Labels};
use crate::record::RunRecord;
use crate::summary::{group_key, GroupKey};

/// File stem of a (suite, fraction) figure.
fn section_stem(suite: &str, fraction: &str, what: &str) -> String {
    format!("{}_f{}_{what}", sanitize(suite), sanitize(fraction))
}

fn cell_stem(key: &GroupKey, what: &str) -> String {
    format!(
        "{}_f{}_{}_{what}",
        sanitize(&key.suite),
        sanitize(&key.fraction),
        sanitize(&key.algorithm)
    )
}

fn direction(higher_is_better: bool) -> &'static str {
    if higher_is_better {
        "higher is better"
    } else {
        "lower is better"
    }
}

/// Ok runs of cell `key` (the replicates behind its curves).
fn replicates(runs: &[&RunRecord], key: &GroupKey) -> usize {
    runs.iter()
        .filter(|r| r.is_ok() && group_key(r) == *key)
        .count()
}

/// A cell's title: suite, fraction and the algorithm's display name.
fn cell_title(key: &GroupKey, labels: &Labels, what: &str) -> String {
    format!(
        "{} (fraction {}), {}: {what}",
        key.suite,
        key.fraction,
        labels.names.algorithm(&key.algorithm)
    )
}
