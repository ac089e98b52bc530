//! A warning beside the summary for a classification task whose mean final test accuracy
//! is at chance level: at most 1/classes + `MARGIN` (0.15 for 10 classes, 0.55 for 2). Such a cell measured an untrained network, and its Δ says nothing. Not an
//! error: the records stay as they are.
//!
//! The number of classes is the task's output width as its suite declares it (`Suite::
//! output_widths`, in task order; one output reads as two classes); the tasks of a record
//! are in the order of its `primary_metrics`.

use crate::study::config::StudyConfig;
use mtlbench_results::RunRecord;
use std::collections::BTreeMap;

/// A mean final test accuracy at most 1/classes + MARGIN is at chance level.
pub const MARGIN: f64 = 0.05;

/// The warnings for `runs` (their final test points, after the selection rule) of the
/// study `config`: one per (suite, algorithm, fraction, task) at chance level.
pub fn chance_warnings(config: &StudyConfig, runs: &[RunRecord]) -> Vec<String> {
    let widths: BTreeMap<String, Vec<usize>> = config
        .suites
        .iter()
        .map(|s| (s.label(), s.spec().output_widths()))
        .collect();
    // (suite, algorithm, fraction bits, task) → (classes, accuracies).
    type Cell = (String, String, u64, String);
    let mut cells: BTreeMap<Cell, (usize, Vec<f64>)> = BTreeMap::new();
    for r in runs
        .iter()
        .filter(|r| r.is_ok() && r.kind.task_subset().is_none())
    {
        let Some(widths) = widths.get(&r.suite) else {
            continue;
        };
        let mut tasks: Vec<&str> = Vec::new();
        for m in &r.primary_metrics {
            if !tasks.contains(&m.task.as_str()) {
                tasks.push(&m.task);
            }
        }
        for p in r.final_test().filter(|p| p.metric == "accuracy") {
            let Some(t) = tasks.iter().position(|t| *t == p.task) else {
                continue;
            };
            let Some(width) = widths.get(t) else {
                continue;
            };
            let key = (
                r.suite.clone(),
                r.algorithm.clone(),
                r.fraction.to_bits(),
                p.task.clone(),
            );
            let cell = cells.entry(key).or_insert(((*width).max(2), Vec::new()));
            cell.1.push(p.value);
        }
    }
    cells
        .into_iter()
        .filter_map(|((suite, algorithm, fraction, task), (classes, values))| {
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let chance = 1.0 / classes as f64;
            (mean <= chance + MARGIN).then(|| {
                format!(
                    "suite `{suite}` (fraction {}), `{algorithm}`, task `{task}`: final test accuracy {mean:.3} is at chance level (1/{classes} = {chance:.3}): the network did not learn; its Δ means nothing (more epochs or another lr?)",
                    f64::from_bits(fraction)
                )
            })
        })
        .collect()
}
