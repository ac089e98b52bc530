//! Meta-test adaptation results: per suite, fraction, start, shot count k and adaptation
//! step, the held-out query MSE (already a mean over held-out tasks) summarised over
//! replicates; written as `adaptation.csv` and `adaptation.md`.

use crate::record::RunRecord;
use crate::stats::{summarize, Summary};
use crate::summary::format_fraction;
use crate::tables::format_estimate;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One (suite, fraction, start, k, step) cell.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptRow {
    pub suite: String,
    pub fraction: String,
    /// The run's algorithm label, `adapt:<start>`.
    pub start: String,
    pub shots: usize,
    pub step: usize,
    pub mse: Summary,
}

/// Every adaptation cell of the study's adaptation runs (ok runs), in suite, fraction,
/// start (first seen), k, step order.
pub fn adaptation_rows(runs: &[RunRecord]) -> Vec<AdaptRow> {
    let adapted: Vec<&RunRecord> = runs
        .iter()
        .filter(|r| r.is_ok() && r.kind == crate::record::RunKind::Adaptation)
        .collect();
    let starts = crate::unique(adapted.iter().map(|r| r.algorithm.clone()));
    let mut cells: BTreeMap<(String, String, usize, usize, usize), Vec<f64>> = BTreeMap::new();
    for r in &adapted {
        let order = starts.iter().position(|s| *s == r.algorithm).unwrap_or(0);
        for p in &r.points {
            let Some(k) = p
                .metric
                .strip_prefix("query_mse_k")
                .and_then(|k| k.parse().ok())
            else {
                continue;
            };
            cells
                .entry((
                    r.suite.clone(),
                    format_fraction(r.fraction),
                    order,
                    k,
                    p.step,
                ))
                .or_default()
                .push(p.value);
        }
    }
    cells
        .into_iter()
        .map(|((suite, fraction, order, shots, step), values)| AdaptRow {
            suite,
            fraction,
            start: starts[order].clone(),
            shots,
            step,
            mse: summarize(&values),
        })
        .collect()
}

/// `adaptation.md`: per suite and fraction, rows = starts, columns = each k's query MSE
/// before adaptation and after the last step (mean ± 95% CI over replicates).
pub fn adaptation_markdown(study: &str, rows: &[AdaptRow]) -> String {
    let mut md = format!(
        "# {study}: meta-test adaptation\n\nQuery MSE on held-out tasks of each suite's family (mean over the held-out tasks, then mean ± 95% CI (Student t) over replicates, n per cell), before adaptation (step 0) and after the last full-batch SGD step on the k-shot support set. Lower is better.\n\n"
    );
    let sections = crate::unique(rows.iter().map(|r| (r.suite.clone(), r.fraction.clone())));
    for (suite, fraction) in sections {
        let here: Vec<&AdaptRow> = rows
            .iter()
            .filter(|r| r.suite == suite && r.fraction == fraction)
            .collect();
        let shots = crate::unique(here.iter().map(|r| r.shots));
        let last = here.iter().map(|r| r.step).max().unwrap_or(0);
        let _ = writeln!(md, "## {suite} (training fraction {fraction})\n");
        let mut header = String::from("| start | n |");
        let mut rule = String::from("|---|---:|");
        for k in &shots {
            let _ = write!(header, " {k}-shot, step 0 | {k}-shot, step {last} |");
            rule.push_str("---:|---:|");
        }
        let _ = writeln!(md, "{header}\n{rule}");
        for start in crate::unique(here.iter().map(|r| r.start.clone())) {
            let mut n = 0;
            let mut line = format!("| {start} |");
            let mut cells = String::new();
            for k in &shots {
                for step in [0, last] {
                    match here
                        .iter()
                        .find(|r| r.start == start && r.shots == *k && r.step == step)
                    {
                        Some(r) => {
                            n = n.max(r.mse.n);
                            let _ = write!(cells, " {} |", format_estimate(r.mse.mean, r.mse.ci95));
                        }
                        None => cells.push_str(" – |"),
                    }
                }
            }
            let _ = writeln!(line, " {n} |{cells}");
            md.push_str(&line);
        }
        md.push('\n');
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_average_over_replicates_and_render() {
        let run = |start: &str, replicate: usize, values: &[(&str, usize, f64)]| {
            let mut r = crate::record::test_run("hard_sharing", replicate, &[]);
            r.algorithm = start.into();
            r.kind = crate::record::RunKind::Adaptation;
            r.points = values
                .iter()
                .map(|(metric, step, v)| crate::record::Point {
                    task: "held_out".into(),
                    split: "test".into(),
                    metric: metric.to_string(),
                    higher_is_better: false,
                    epoch: *step,
                    step: *step,
                    value: *v,
                })
                .collect();
            r
        };
        let runs = vec![
            run(
                "adapt:random",
                0,
                &[("query_mse_k5", 0, 4.0), ("query_mse_k5", 1, 3.0)],
            ),
            run(
                "adapt:random",
                1,
                &[("query_mse_k5", 0, 2.0), ("query_mse_k5", 1, 1.0)],
            ),
            run(
                "adapt:reptile",
                0,
                &[("query_mse_k5", 0, 1.0), ("query_mse_k5", 1, 0.5)],
            ),
            crate::record::test_run("hard_sharing", 0, &[("a", "mse", false, 1.0)]),
        ];
        let rows = adaptation_rows(&runs);
        assert_eq!(rows.len(), 4);
        assert_eq!(
            (
                rows[0].start.as_str(),
                rows[0].step,
                rows[0].mse.mean,
                rows[0].mse.n
            ),
            ("adapt:random", 0, 3.0, 2)
        );
        assert_eq!(
            (rows[3].start.as_str(), rows[3].step, rows[3].mse.mean),
            ("adapt:reptile", 1, 0.5)
        );
        let md = adaptation_markdown("s", &rows);
        assert!(
            md.contains("| start | n | 5-shot, step 0 | 5-shot, step 1 |"),
            "{md}"
        );
        assert!(md.contains("| adapt:reptile | 1 | 1.000 | 0.500 |"), "{md}");
    }
}
