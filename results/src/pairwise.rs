//! Pairwise transfer (Standley et al. 2020, docs/FORMULAS.md#pairwise-transfer): from the runs on
//! single tasks and on task pairs, gain_{i|j} = ±(M_i^{(i,j)} − M_i^{(i)})/M_i^{(i)} on task i's
//! primary metric, paired by replicate, in percent.

use crate::record::RunRecord;
use crate::stats::{summarize, Summary};
use crate::summary::format_fraction;
use crate::transfer::{task_gains, DeltaMetrics, FinalTest};
use std::collections::BTreeMap;

/// How much training with `partner` changed `task`'s primary metric.
#[derive(Debug, Clone, PartialEq)]
pub struct PairGain {
    pub suite: String,
    pub fraction: String,
    pub task: String,
    pub partner: String,
    /// Over replicates, in percent; positive: the partner helps.
    pub gain: Summary,
}

/// Every gain_{i|j} the study's pairwise runs allow, by suite, fraction, task, partner.
pub fn pairwise_gains(runs: &[RunRecord]) -> Vec<PairGain> {
    type Pairing<'a> = (&'a str, String, usize, &'a str);
    let mut singles: BTreeMap<(Pairing, String), FinalTest> = BTreeMap::new();
    let mut pairs: Vec<(Pairing, Vec<String>, FinalTest)> = Vec::new();
    for run in runs.iter().filter(|r| r.is_ok()) {
        let Some(subset) = run.kind.task_subset() else {
            continue;
        };
        let key = (
            run.suite.as_str(),
            format_fraction(run.fraction),
            run.replicate,
            run.comparison_training(),
        );
        match subset.len() {
            1 => {
                singles.insert(
                    (key, subset[0].clone()),
                    FinalTest::of(run, &DeltaMetrics::default()),
                );
            }
            2 => pairs.push((
                key,
                subset.to_vec(),
                FinalTest::of(run, &DeltaMetrics::default()),
            )),
            _ => {}
        }
    }
    let mut gains: BTreeMap<(String, String, String, String), Vec<f64>> = BTreeMap::new();
    let mut order: Vec<(String, String, String, String)> = Vec::new();
    for (key, subset, pair) in &pairs {
        for (k, task) in subset.iter().enumerate() {
            let Some(single) = singles.get(&(key.clone(), task.clone())) else {
                continue;
            };
            let partner = &subset[1 - k];
            if let Some((_, gain)) = task_gains(pair, single)
                .into_iter()
                .find(|(t, _)| t == task)
            {
                let id = (
                    key.0.to_string(),
                    key.1.clone(),
                    task.clone(),
                    partner.clone(),
                );
                if !gains.contains_key(&id) {
                    order.push(id.clone());
                }
                gains.entry(id).or_default().push(100.0 * gain);
            }
        }
    }
    order
        .into_iter()
        .map(|id| {
            let gain = summarize(&gains[&id]);
            let (suite, fraction, task, partner) = id;
            PairGain {
                suite,
                fraction,
                task,
                partner,
                gain,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::test_run;

    fn subset_run(tasks: &[&str], replicate: usize, values: &[(&str, f64)]) -> RunRecord {
        let values: Vec<(&str, &str, bool, f64)> =
            values.iter().map(|(t, v)| (*t, "mse", false, *v)).collect();
        let mut r = test_run("hard_sharing", replicate, &values);
        r.kind = crate::record::RunKind::Pairwise {
            tasks: tasks.iter().map(|t| t.to_string()).collect(),
        };
        r
    }

    #[test]
    fn gains_pair_by_replicate_with_direction() {
        let runs = vec![
            subset_run(&["a"], 0, &[("a", 1.0)]),
            subset_run(&["a"], 1, &[("a", 2.0)]),
            subset_run(&["b"], 0, &[("b", 4.0)]),
            subset_run(&["b"], 1, &[("b", 4.0)]),
            // a improves by 50% in both replicates (lower mse); b loses 25% and 0%.
            subset_run(&["a", "b"], 0, &[("a", 0.5), ("b", 5.0)]),
            subset_run(&["a", "b"], 1, &[("a", 1.0), ("b", 4.0)]),
            // Ordinary runs are ignored.
            test_run("hard_sharing", 0, &[("a", "mse", false, 9.0)]),
        ];
        let g = pairwise_gains(&runs);
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].task.as_str(), g[0].partner.as_str()), ("a", "b"));
        assert_eq!((g[0].gain.n, g[0].gain.mean), (2, 50.0));
        assert_eq!((g[1].task.as_str(), g[1].partner.as_str()), ("b", "a"));
        assert!((g[1].gain.mean + 12.5).abs() < 1e-12);
    }
}
