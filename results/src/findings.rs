//! `findings.md`: a study's headline table and the sentences that read it, generated from
//! the records so that no interpretation is written by hand. Per suite and fraction: each
//! algorithm's shown metric per task and its LibMTL Δp (mean ± 95% CI, Student t, over
//! replicates), then which Δp intervals lie above 0, below 0 or include it, which
//! algorithm leads and which trails, and, with the study's `published` table, the range of
//! ours − published over the rows and tasks both have. The README embeds these files
//! between `findings` markers; a test fails when a copy there is stale.

use crate::published::Published;
use crate::record::RunRecord;
use crate::stats::{summarize, Summary};
use crate::summary::{format_fraction, DeltaRow, StudySummary};
use crate::transfer::DeltaVariant;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Where a Δp interval lies relative to 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Above,
    Below,
    /// The interval includes 0, or it is not defined (fewer than two replicates).
    Includes,
}

/// The side of 0 on which `mean ± ci95` lies.
pub fn side(stats: &Summary) -> Side {
    if !(stats.ci95.is_finite() && stats.mean.is_finite()) || stats.n < 2 {
        Side::Includes
    } else if stats.mean - stats.ci95 > 0.0 {
        Side::Above
    } else if stats.mean + stats.ci95 < 0.0 {
        Side::Below
    } else {
        Side::Includes
    }
}

/// Decimals that show a column's estimates: four when every interval is narrower than
/// 0.01 (three otherwise) for metrics; for Δp in %, two when every mean is within ±1,
/// else one.
fn decimals(values: &[&Summary], percent: bool) -> usize {
    if percent {
        if values.iter().all(|s| s.mean.abs() < 1.0) {
            2
        } else {
            1
        }
    } else if values.iter().all(|s| !s.ci95.is_finite() || s.ci95 < 0.01) {
        4
    } else {
        3
    }
}

fn estimate(s: &Summary, digits: usize, signed: bool) -> String {
    let mean = if signed {
        format!("{:+.*}", digits, s.mean)
    } else {
        format!("{:.*}", digits, s.mean)
    };
    if s.ci95.is_finite() {
        format!("{mean} ± {:.*}", digits, s.ci95)
    } else {
        mean
    }
}

fn interval(s: &Summary, digits: usize) -> String {
    format!(
        "{:+.*}, [{:+.*}, {:+.*}]",
        digits,
        s.mean,
        digits,
        s.mean - s.ci95,
        digits,
        s.mean + s.ci95
    )
}

/// `a`, `a and b`, `a, b and c`.
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The study's findings, as Markdown (no top-level heading: it is embedded as it is).
pub fn findings_markdown(
    summary: &StudySummary,
    published: Option<&Published>,
    runs: &[RunRecord],
) -> String {
    let libmtl = DeltaVariant::ALL
        .iter()
        .position(|v| *v == DeltaVariant::LibMtl)
        .expect("LibMTL's Δp is a variant");
    let mut md = String::new();
    let sections = summary.sections();
    for (suite, fraction) in &sections {
        let in_section =
            |k: &crate::summary::GroupKey| k.suite == *suite && k.fraction == *fraction;
        if sections.len() > 1 {
            let _ = writeln!(md, "**{suite}** (training fraction {fraction}):\n");
        }
        let shown = summary.shown_in(suite, fraction);
        let rows: Vec<&DeltaRow> = summary
            .deltas
            .iter()
            .filter(|d| in_section(&d.key))
            .collect();
        let metric_of = |d: &DeltaRow, task: &str, metric: &str| {
            summary
                .metrics
                .iter()
                .find(|r| r.key == d.key && r.task == task && r.metric == metric)
                .map(|r| &r.stats)
        };
        let deltas: Vec<&Summary> = rows.iter().map(|d| &d.variants[libmtl]).collect();
        let delta_digits = decimals(&deltas, true);
        let _ = write!(md, "| algorithm | n |");
        for (task, metric, _) in &shown {
            let _ = write!(md, " {task} {metric} |");
        }
        let _ = writeln!(
            md,
            " {} |\n|---|---:|{}---:|",
            DeltaVariant::LibMtl.label(),
            "---:|".repeat(shown.len())
        );
        let digits: Vec<usize> = shown
            .iter()
            .map(|(t, m, _)| {
                let column: Vec<&Summary> =
                    rows.iter().filter_map(|d| metric_of(d, t, m)).collect();
                decimals(&column, false)
            })
            .collect();
        for d in &rows {
            let n = shown
                .iter()
                .filter_map(|(t, m, _)| metric_of(d, t, m).map(|s| s.n))
                .max()
                .unwrap_or(0);
            let _ = write!(md, "| {} | {n} |", d.key.algorithm);
            for ((task, metric, _), digits) in shown.iter().zip(&digits) {
                let cell = metric_of(d, task, metric)
                    .map_or("–".to_string(), |s| estimate(s, *digits, false));
                let _ = write!(md, " {cell} |");
            }
            let delta = &d.variants[libmtl];
            let cell = if delta.n == 0 {
                "–".to_string()
            } else {
                estimate(delta, delta_digits, true)
            };
            let _ = writeln!(md, " {cell} |");
        }
        md.push('\n');
        md.push_str(&sentences(&rows, libmtl, delta_digits));
        md.push_str(&holm_sentence(
            &rows,
            crate::paired_table::comparisons(summary),
            delta_digits,
        ));
        if let Some(p) = published {
            if p.suite.as_ref().is_none_or(|s| s == suite) {
                md.push_str(&published_sentence(p, runs, suite, fraction));
            }
        }
        md.push('\n');
    }
    md
}

/// The sentences that read a section's Δp column (intervals with one decimal more than the
/// table, so that a bound near 0 shows its side).
fn sentences(rows: &[&DeltaRow], libmtl: usize, digits: usize) -> String {
    let compared: Vec<&&DeltaRow> = rows
        .iter()
        .filter(|d| d.key.order == 1 && d.variants[libmtl].n > 0)
        .collect();
    if compared.is_empty() {
        return "No algorithm has a paired single-task baseline here, so no Δp is read.\n".into();
    }
    let ns: Vec<usize> = compared.iter().map(|d| d.variants[libmtl].n).collect();
    let (lo, hi) = (ns.iter().min().unwrap(), ns.iter().max().unwrap());
    let n = if lo == hi {
        format!("n = {lo}")
    } else {
        format!("n = {lo} to {hi}")
    };
    let named = |side_wanted: Side| -> Vec<String> {
        compared
            .iter()
            .filter(|d| side(&d.variants[libmtl]) == side_wanted)
            .map(|d| {
                format!(
                    "`{}` ({})",
                    d.key.algorithm,
                    interval(&d.variants[libmtl], digits + 1)
                )
            })
            .collect()
    };
    let (above, below) = (named(Side::Above), named(Side::Below));
    let includes = compared.len() - above.len() - below.len();
    let mut text = format!(
        "Generated from the records ({n} paired replicates; 95% CI, Student t, not corrected \
         for multiple comparisons): Δp's interval lies above 0 for {}, below 0 for {}, and \
         includes 0 for {} of the {} algorithms compared with `single_task`.",
        if above.is_empty() {
            "none".to_string()
        } else {
            list(&above)
        },
        if below.is_empty() {
            "none".to_string()
        } else {
            list(&below)
        },
        if includes == compared.len() {
            "all".to_string()
        } else {
            includes.to_string()
        },
        compared.len()
    );
    let by_mean = |best: bool| {
        let key = |d: &&&DeltaRow| d.variants[libmtl].mean;
        let pick = if best {
            compared.iter().max_by(|a, b| key(a).total_cmp(&key(b)))
        } else {
            compared.iter().min_by(|a, b| key(a).total_cmp(&key(b)))
        };
        pick.map(|d| {
            format!(
                "`{}` ({:+.*} %)",
                d.key.algorithm, digits, d.variants[libmtl].mean
            )
        })
    };
    if compared.len() > 1 {
        let _ = write!(
            text,
            " Highest mean Δp: {}; lowest: {}.",
            by_mean(true).unwrap_or_default(),
            by_mean(false).unwrap_or_default()
        );
    }
    text.push('\n');
    text
}

/// The differences that are significant at 5 % after Holm's correction over the study's
/// `m` paired comparisons (docs/FORMULAS.md#significance-over-many-comparisons), against
/// `single_task` and against `equal`, read from the rows' adjusted p values.
pub fn holm_sentence(rows: &[&DeltaRow], m: usize, digits: usize) -> String {
    if m == 0 {
        return String::new();
    }
    let named = |against_equal: bool| -> String {
        let hits: Vec<String> = rows
            .iter()
            .filter_map(|d| {
                let (p, s) = if against_equal {
                    (d.p_vs_equal_holm, &d.vs_equal)
                } else {
                    (d.p_vs_single_task_holm, &d.vs_single_task)
                };
                (p < 0.05).then(|| {
                    format!(
                        "`{}` ({:+.*} %, p Holm {})",
                        d.key.algorithm,
                        digits,
                        s.mean,
                        crate::paired_table::format_p(p)
                    )
                })
            })
            .collect();
        if hits.is_empty() {
            "none".into()
        } else {
            list(&hits)
        }
    };
    format!(
        "\nAfter Holm's correction over the study's {m} paired t tests (against \
         `single_task` and against `equal` weighting of the same architecture; `summary.md`, \
         Paired differences), significant at 5 %: against `single_task`, {}; against \
         `equal`, {}.\n",
        named(false),
        named(true)
    )
}

/// Ours − published over the rows that name one of our algorithms and the tasks both have.
fn published_sentence(p: &Published, runs: &[RunRecord], suite: &str, fraction: &str) -> String {
    let mut values: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for run in runs.iter().filter(|r| {
        r.is_ok() && r.is_ordinary() && r.suite == suite && format_fraction(r.fraction) == fraction
    }) {
        for point in run.final_test().filter(|q| q.metric == p.metric) {
            values
                .entry((run.algorithm.as_str(), point.task.as_str()))
                .or_default()
                .push(point.value);
        }
    }
    let mut gaps = Vec::new();
    for row in &p.rows {
        let Some(algorithm) = &row.algorithm else {
            continue;
        };
        for (task, paper) in &row.values {
            if let Some(ours) = values.get(&(algorithm.as_str(), task.as_str())) {
                gaps.push(summarize(ours).mean - paper * p.scale);
            }
        }
    }
    if gaps.is_empty() {
        return String::new();
    }
    let lo = gaps.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = gaps.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let where_ = if hi < 0.0 {
        "every one below the paper"
    } else if lo > 0.0 {
        "every one above the paper"
    } else {
        "some above the paper, some below"
    };
    format!(
        "\nAgainst {} ({}): ours − published {} per row and task ranges from {lo:+.4} to \
         {hi:+.4} over {} values, {where_} (see `published.md`).\n",
        p.source,
        p.metric,
        p.metric,
        gaps.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: usize, mean: f64, ci95: f64) -> Summary {
        Summary {
            n,
            mean,
            std: 0.0,
            ci95,
        }
    }

    #[test]
    fn the_side_of_zero_follows_the_interval() {
        // MultiMNIST PCGrad's interval [+0.04, +3.19] excludes 0.
        assert_eq!(side(&s(2, 1.616, 1.576)), Side::Above);
        assert_eq!(side(&s(3, -0.5, 0.4)), Side::Below);
        assert_eq!(side(&s(3, 0.04, 0.04)), Side::Includes);
        assert_eq!(side(&s(3, -0.01, 0.02)), Side::Includes);
        // One replicate: no interval, nothing is claimed.
        assert_eq!(side(&s(1, 5.0, f64::NAN)), Side::Includes);
    }

    /// Only the rows whose adjusted p is below 0.05 are named, on the side they belong to;
    /// with none, the sentence says so; with no comparison at all, nothing is said.
    #[test]
    fn holm_sentence_names_only_the_significant() {
        let row = |name: &str, p_stl: f64, p_eq: f64| DeltaRow {
            p_vs_single_task_holm: p_stl,
            p_vs_equal_holm: p_eq,
            vs_single_task: s(3, 1.5, 0.5),
            vs_equal: s(3, -2.0, 1.0),
            ..crate::summary::empty_row(name)
        };
        let (a, b) = (row("a+x", 0.01, 0.2), row("b+y", 0.3, 0.049));
        let text = holm_sentence(&[&a, &b], 4, 1);
        assert!(
            text.contains("against `single_task`, `a+x` (+1.5 %, p Holm 0.010); against `equal`, `b+y` (-2.0 %, p Holm 0.049)."),
            "{text}"
        );
        let c = row("c+z", 0.05, f64::NAN);
        let text = holm_sentence(&[&c], 2, 1);
        assert!(text.contains("against `single_task`, none; against `equal`, none."));
        assert!(holm_sentence(&[&c], 0, 1).is_empty());
    }

    #[test]
    fn lists_read_as_sentences() {
        assert_eq!(list(&[]), "");
        assert_eq!(list(&["a".into()]), "a");
        assert_eq!(list(&["a".into(), "b".into(), "c".into()]), "a, b and c");
    }
}
