//! Published numbers beside ours (the study's `published` key): a paper's table, each row
//! with the algorithm of this study that corresponds to it, so that the report sets the
//! paper's values and ours (mean ± 95% CI over replicates, under the study's selection
//! rule) side by side, with the protocol differences said in the study's own words.

use crate::record::RunRecord;
use crate::stats::summarize;
use crate::summary::format_fraction;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `published: {source: …, differences: …, metric: accuracy, suite: …, rows: [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    /// The paper and table, e.g. "Sener & Koltun 2018, Table 3".
    pub source: String,
    /// One or two sentences: how the paper's protocol differs from this study's.
    pub differences: String,
    /// The metric the table reports, as our records name it (e.g. `accuracy`).
    pub metric: String,
    /// The suite label of this study the table corresponds to (default: every suite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    /// The factor that turns the paper's values into ours (0.01 for percentages).
    #[serde(default = "one")]
    pub scale: f64,
    pub rows: Vec<PublishedRow>,
}

fn one() -> f64 {
    1.0
}

/// A row of the paper's table: its label, the values per task, and our algorithm that
/// corresponds to it (none: shown without ours).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedRow {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// Task name → the paper's value.
    pub values: BTreeMap<String, f64>,
}

impl Published {
    /// Checks the block; the error names the key relative to `published`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.rows.is_empty() {
            return Err(("rows".into(), "must list at least one row".into()));
        }
        if !(self.scale.is_finite() && self.scale > 0.0) {
            return Err(("scale".into(), "must be a positive number".into()));
        }
        for (i, row) in self.rows.iter().enumerate() {
            if row.values.is_empty() || row.values.values().any(|v| !v.is_finite()) {
                return Err((
                    format!("rows[{i}].values"),
                    "must give at least one finite value per row".into(),
                ));
            }
        }
        Ok(())
    }
}

/// `published.md`: per suite and fraction of the study (or the one named), the paper's rows
/// beside ours.
pub fn published_markdown(
    study: &str,
    published: &Published,
    runs: &[RunRecord],
    caption: &str,
) -> String {
    use std::fmt::Write as _;
    let tasks: Vec<String> = published
        .rows
        .iter()
        .flat_map(|r| r.values.keys().cloned())
        .fold(Vec::new(), |mut v, t| {
            if !v.contains(&t) {
                v.push(t);
            }
            v
        });
    let mut md = format!(
        "# {study}: published numbers beside ours\n\nPublished: {} (test {}). Differences in protocol: {}\n\nOurs: {caption} Mean ± 95% CI over replicates; Δ = ours − published.\n",
        published.source, published.metric, published.differences
    );
    // (suite, fraction) → algorithm → task → final values over replicates.
    type Cells = BTreeMap<(String, String), BTreeMap<String, BTreeMap<String, Vec<f64>>>>;
    let mut cells: Cells = BTreeMap::new();
    for run in runs.iter().filter(|r| r.is_ok() && r.is_ordinary()) {
        if published.suite.as_ref().is_some_and(|s| *s != run.suite) {
            continue;
        }
        let cell = cells
            .entry((run.suite.clone(), format_fraction(run.fraction)))
            .or_default()
            .entry(run.algorithm.clone())
            .or_default();
        for p in run.final_test().filter(|p| p.metric == published.metric) {
            cell.entry(p.task.clone()).or_default().push(p.value);
        }
    }
    for ((suite, fraction), algorithms) in &cells {
        let _ = writeln!(
            md,
            "\n## {suite} (training fraction {fraction})\n\n| published row | ours | {} |\n|---|---|{}",
            tasks
                .iter()
                .map(|t| format!("{t}: published | {t}: ours | {t}: Δ"))
                .collect::<Vec<_>>()
                .join(" | "),
            "---:|".repeat(3 * tasks.len())
        );
        for row in &published.rows {
            let ours = row.algorithm.as_ref().and_then(|a| algorithms.get(a));
            let mut cells_text = Vec::new();
            for t in &tasks {
                let paper = row.values.get(t).map(|v| v * published.scale);
                let mine = ours.and_then(|o| o.get(t)).map(|v| summarize(v));
                cells_text.push(paper.map_or("–".into(), |v| format!("{v:.4}")));
                cells_text.push(mine.map_or("–".into(), |s| {
                    if s.ci95.is_finite() {
                        format!("{:.4} ± {:.4}", s.mean, s.ci95)
                    } else {
                        format!("{:.4}", s.mean)
                    }
                }));
                cells_text.push(match (paper, mine) {
                    (Some(p), Some(s)) => format!("{:+.4}", s.mean - p),
                    _ => "–".into(),
                });
            }
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                row.label,
                row.algorithm.as_deref().unwrap_or("(not in this study)"),
                cells_text.join(" | ")
            );
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::test_run;

    #[test]
    fn published_rows_sit_beside_ours() {
        let published = Published {
            source: "A paper, Table 1".into(),
            differences: "theirs ran longer.".into(),
            metric: "accuracy".into(),
            suite: None,
            scale: 0.01,
            rows: vec![
                PublishedRow {
                    label: "Single task".into(),
                    algorithm: Some("single_task+equal".into()),
                    values: [("a".to_string(), 90.0)].into_iter().collect(),
                },
                PublishedRow {
                    label: "GradNorm".into(),
                    algorithm: None,
                    values: [("a".to_string(), 80.0)].into_iter().collect(),
                },
            ],
        };
        assert!(published.validate().is_ok());
        let runs = vec![
            test_run("single_task", 0, &[("a", "accuracy", true, 0.91)]),
            test_run("single_task", 1, &[("a", "accuracy", true, 0.93)]),
        ];
        let md = published_markdown("s", &published, &runs, "Last.");
        assert!(
            md.contains("| Single task | single_task+equal | 0.9000 | 0.9200 ± "),
            "{md}"
        );
        assert!(md.contains("| +0.0200 |"), "{md}");
        assert!(
            md.contains("| GradNorm | (not in this study) | 0.8000 | – | – |"),
            "{md}"
        );
        let empty = Published {
            rows: Vec::new(),
            ..published
        };
        assert_eq!(empty.validate().unwrap_err().0, "rows");
    }
}
