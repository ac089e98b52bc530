//! The report's figures beyond the per-task metric charts, built from the summary, the
//! relationship matrices and the stored runs: Δm bars with CIs, worst-task and gain-spread
//! bars, learning curves, gradient-magnitude curves,
//! data-efficiency curves, Pareto scatters, conflict heatmaps beside the cosine matrix,
//! affinity beside the planted matrix, pairwise transfer, and task-weight trajectories.

use super::panels::{HeatPanel, LinePanel};
use super::{sanitize, Figure};
use crate::pairwise::PairGain;
use crate::record::RunRecord;
use crate::relationships::CellRelations;
use crate::stats::Summary;
use crate::summary::{group_key, shown_metrics, GroupKey, StudySummary};
use crate::telemetry::{
    measure_trajectories, pair_trajectories, task_trajectories, weight_trajectories,
};
use crate::transfer::DeltaVariant;
use std::collections::BTreeMap;

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

/// Per section, LibMTL's Δp of every method against `single_task`, mean with 95% CI.
pub fn delta_bars(summary: &StudySummary) -> Vec<(String, Figure<'static>)> {
    let variant = DeltaVariant::LibMtl;
    summary
        .sections()
        .into_iter()
        .filter_map(|(suite, fraction)| {
            let bars: Vec<(String, Summary)> = summary
                .deltas
                .iter()
                .filter(|d| d.key.suite == suite && d.key.fraction == fraction && d.key.order == 1)
                .filter(|d| d.variants[0].n > 0)
                .map(|d| (d.key.algorithm.clone(), d.variants[0]))
                .collect();
            (!bars.is_empty()).then(|| {
                (
                    section_stem(&suite, &fraction, "delta"),
                    Figure::Bars {
                        title: format!(
                            "{suite} (fraction {fraction}): transfer against single_task"
                        ),
                        x_desc: format!("{} (higher is better; mean, 95% CI)", variant.label()),
                        bars,
                    },
                )
            })
        })
        .collect()
}

/// Per section, beside the Δ bars: each method's worst task's gain and the spread of its
/// per-task gains against `single_task` (docs/FORMULAS.md#worst-task-and-balance), mean
/// with 95% CI over replicates.
pub fn balance_bars(summary: &StudySummary) -> Vec<(String, Figure<'static>)> {
    let mut out = Vec::new();
    for (suite, fraction) in summary.sections() {
        let cells: Vec<&crate::summary::DeltaRow> = summary
            .deltas
            .iter()
            .filter(|d| d.key.suite == suite && d.key.fraction == fraction && d.key.order == 1)
            .collect();
        type Pick = fn(&crate::summary::DeltaRow) -> Summary;
        let figures: [(&str, String, Pick); 2] = [
            (
                "worst_task",
                format!(
                    "{} (higher is better; mean, 95% CI)",
                    crate::tables::WORST_TASK_LABEL
                ),
                |d| d.worst_task,
            ),
            (
                "task_gain_spread",
                format!(
                    "{} (lower is better; mean, 95% CI)",
                    crate::tables::GAIN_SPREAD_LABEL
                ),
                |d| d.gain_spread,
            ),
        ];
        for (what, x_desc, pick) in figures {
            let bars: Vec<(String, Summary)> = cells
                .iter()
                .map(|d| (d.key.algorithm.clone(), pick(d)))
                .filter(|(_, s)| s.n > 0)
                .collect();
            if bars.is_empty() {
                continue;
            }
            let title = if what == "worst_task" {
                format!("{suite} (fraction {fraction}): the worst task's gain against single_task")
            } else {
                format!("{suite} (fraction {fraction}): spread of the per-task gains")
            };
            out.push((
                section_stem(&suite, &fraction, what),
                Figure::Bars {
                    title,
                    x_desc,
                    bars,
                },
            ));
        }
    }
    out
}

fn direction(higher_is_better: bool) -> &'static str {
    if higher_is_better {
        "higher is better"
    } else {
        "lower is better"
    }
}

/// Per section, each task's validation metric by epoch, one line per algorithm (mean
/// over replicates).
pub fn learning_curves(runs: &[&RunRecord]) -> Vec<(String, Figure<'static>)> {
    let mut sections: BTreeMap<(String, String), Vec<&RunRecord>> = BTreeMap::new();
    for run in runs.iter().filter(|r| r.is_ok()) {
        let k = group_key(run);
        sections.entry((k.suite, k.fraction)).or_default().push(run);
    }
    let mut out = Vec::new();
    for ((suite, fraction), runs) in sections {
        let shown = shown_metrics(
            runs.iter()
                .flat_map(|r| r.points.iter())
                .filter(|p| p.split != "train")
                .map(|p| (p.task.clone(), p.metric.clone(), p.higher_is_better)),
        );
        let mut algorithms: Vec<(u8, String)> = runs
            .iter()
            .map(|r| {
                let k = group_key(r);
                (k.order, k.algorithm)
            })
            .collect();
        algorithms.sort();
        algorithms.dedup();
        let mut panels = Vec::new();
        for (task, metric, hib) in &shown {
            let mut series = Vec::new();
            for (k, (_, algorithm)) in algorithms.iter().enumerate() {
                let mut by_epoch: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
                for run in runs.iter().filter(|r| r.algorithm == *algorithm) {
                    for p in run
                        .points
                        .iter()
                        .filter(|p| p.split == "val" && p.task == *task && p.metric == *metric)
                    {
                        let e = by_epoch.entry(p.epoch).or_default();
                        e.0 += p.value;
                        e.1 += 1;
                    }
                }
                let points: Vec<(f64, f64)> = by_epoch
                    .iter()
                    .map(|(e, (s, n))| (*e as f64, s / *n as f64))
                    .collect();
                if !points.is_empty() {
                    series.push((k, points));
                }
            }
            panels.push(LinePanel {
                title: task.clone(),
                x_desc: "epoch".into(),
                y_desc: format!("validation {metric} ({})", direction(*hib)),
                log_x: false,
                log_y: false,
                series,
            });
        }
        if panels
            .iter()
            .any(|p| p.series.iter().any(|(_, s)| s.len() > 1))
        {
            out.push((
                section_stem(&suite, &fraction, "learning_curves"),
                Figure::Lines {
                    title: format!("{suite} (fraction {fraction}): validation metric by epoch, mean over replicates"),
                    panels,
                    legend: algorithms.into_iter().map(|(_, a)| a).collect(),
                },
            ));
        }
    }
    out
}

/// Per suite with several fractions, each task's final test metric against the training
/// fraction (log axis), one line per algorithm.
pub fn efficiency_curves(summary: &StudySummary) -> Vec<(String, Figure<'static>)> {
    let mut suites: Vec<String> = summary
        .metrics
        .iter()
        .map(|r| r.key.suite.clone())
        .collect();
    suites.dedup();
    let mut out = Vec::new();
    for suite in suites {
        let rows: Vec<_> = summary
            .metrics
            .iter()
            .filter(|r| r.key.suite == suite)
            .collect();
        let mut fractions: Vec<&str> = rows.iter().map(|r| r.key.fraction.as_str()).collect();
        fractions.sort();
        fractions.dedup();
        if fractions.len() < 2 {
            continue;
        }
        let mut algorithms: Vec<(u8, String)> = rows
            .iter()
            .map(|r| (r.key.order, r.key.algorithm.clone()))
            .collect();
        algorithms.sort();
        algorithms.dedup();
        let shown = shown_metrics(
            rows.iter()
                .map(|r| (r.task.clone(), r.metric.clone(), r.higher_is_better)),
        );
        let panels = shown
            .iter()
            .map(|(task, metric, hib)| {
                let series = algorithms
                    .iter()
                    .enumerate()
                    .map(|(k, (_, algorithm))| {
                        let mut pts: Vec<(f64, f64)> = rows
                            .iter()
                            .filter(|r| {
                                r.key.algorithm == *algorithm
                                    && r.task == *task
                                    && r.metric == *metric
                            })
                            .map(|r| (r.key.fraction.parse().unwrap_or(f64::NAN), r.stats.mean))
                            .collect();
                        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                        (k, pts)
                    })
                    .collect();
                LinePanel {
                    title: task.clone(),
                    x_desc: "training fraction (log scale)".into(),
                    y_desc: format!("test {metric} ({})", direction(*hib)),
                    log_x: true,
                    log_y: false,
                    series,
                }
            })
            .collect();
        out.push((
            format!("{}_data_efficiency", sanitize(&suite)),
            Figure::Lines {
                title: format!(
                    "{suite}: final test metric by training fraction, mean over replicates"
                ),
                panels,
                legend: algorithms.into_iter().map(|(_, a)| a).collect(),
            },
        ));
    }
    out
}

/// Per section whose tasks number exactly two: each algorithm's final test metrics as a
/// point (task 1, task 2) with 95% CI bars both ways, over the section's scalarization front
/// when the study has one on the same metrics.
pub fn pareto(
    summary: &StudySummary,
    fronts: &[crate::front::FrontSection],
) -> Vec<(String, Figure<'static>)> {
    let mut out = Vec::new();
    for (suite, fraction) in summary.sections() {
        let rows: Vec<_> = summary
            .metrics
            .iter()
            .filter(|r| r.key.suite == suite && r.key.fraction == fraction)
            .collect();
        let shown = shown_metrics(
            rows.iter()
                .map(|r| (r.task.clone(), r.metric.clone(), r.higher_is_better)),
        );
        if shown.len() != 2 {
            continue;
        }
        let mut points = Vec::new();
        for d in summary
            .deltas
            .iter()
            .filter(|d| d.key.suite == suite && d.key.fraction == fraction)
        {
            let stat = |(task, metric, _): &(String, String, bool)| {
                rows.iter()
                    .find(|r| r.key == d.key && r.task == *task && r.metric == *metric)
                    .map(|r| r.stats)
            };
            if let (Some(a), Some(b)) = (stat(&shown[0]), stat(&shown[1])) {
                points.push((d.key.algorithm.clone(), a, b));
            }
        }
        let desc = |(task, metric, hib): &(String, String, bool)| {
            format!("{task} test {metric} ({})", direction(*hib))
        };
        // One front per training setting: with a training grid the plane holds the
        // settings' methods together, so no single front is drawn under them.
        let matching: Vec<&crate::front::FrontSection> = fronts
            .iter()
            .filter(|f| f.suite == suite && f.fraction == fraction && f.axes == shown)
            .collect();
        let front: Vec<(f64, f64)> = (matching.len() == 1)
            .then(|| matching[0])
            .map(|f| {
                f.front
                    .iter()
                    .map(|p| (p.axes[0].mean, p.axes[1].mean))
                    .collect()
            })
            .unwrap_or_default();
        let title = if front.is_empty() {
            format!("{suite} (fraction {fraction}): the two tasks' final test metrics")
        } else {
            format!("{suite} (fraction {fraction}): methods against the fixed-weight front")
        };
        out.push((
            section_stem(&suite, &fraction, "pareto"),
            Figure::Pareto {
                title,
                x_desc: desc(&shown[0]),
                y_desc: desc(&shown[1]),
                points,
                front,
            },
        ));
    }
    out
}

/// Largest |v| over the off-diagonal finite entries (the diagonal of a self-affinity or
/// cosine would flatten the colour scale).
fn off_diagonal_extent(m: &[Vec<f64>]) -> f64 {
    let mut e = 0.0f64;
    for (i, row) in m.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            if i != j && v.is_finite() {
                e = e.max(v.abs());
            }
        }
    }
    if e > 0.0 {
        e
    } else {
        1.0
    }
}

fn matrix_panel(
    title: String,
    tasks: &[String],
    m: &[Vec<f64>],
    lo: f64,
    hi: f64,
    cols: &str,
    rows: &str,
) -> HeatPanel {
    HeatPanel {
        title,
        row_desc: rows.into(),
        col_desc: cols.into(),
        rows: tasks.to_vec(),
        cols: tasks.to_vec(),
        values: m.to_vec(),
        lo,
        hi,
    }
}

/// Per cell with conflict telemetry: the cosine of every task pair over the logged steps
/// (mean over replicates) beside the mean cosine matrix.
pub fn conflict_figures(
    runs: &[&RunRecord],
    rels: &[CellRelations],
) -> Vec<(String, Figure<'static>)> {
    let trajectories = pair_trajectories(runs, "cosine");
    let mut out = Vec::new();
    for rel in rels {
        let Some(cosine) = &rel.cosine else { continue };
        let series: Vec<_> = trajectories.iter().filter(|t| t.key == rel.key).collect();
        let mut steps: Vec<usize> = series
            .iter()
            .flat_map(|t| t.points.iter().map(|p| p.0))
            .collect();
        steps.sort_unstable();
        steps.dedup();
        let values: Vec<Vec<f64>> = series
            .iter()
            .map(|t| {
                steps
                    .iter()
                    .map(|s| {
                        t.points
                            .iter()
                            .find(|p| p.0 == *s)
                            .map_or(f64::NAN, |p| p.1)
                    })
                    .collect()
            })
            .collect();
        let over_time = HeatPanel {
            title: "cos(g_i, g_j) by training step".into(),
            row_desc: "task pair".into(),
            col_desc: "training step".into(),
            rows: series.iter().map(|t| t.label.clone()).collect(),
            cols: steps.iter().map(|s| s.to_string()).collect(),
            values,
            lo: -1.0,
            hi: 1.0,
        };
        let matrix = matrix_panel(
            "mean cos(g_i, g_j)".into(),
            &rel.tasks,
            cosine,
            -1.0,
            1.0,
            "task j",
            "task i",
        );
        out.push((
            cell_stem(&rel.key, "conflict"),
            Figure::Heatmaps {
                title: format!(
                    "{} (fraction {}), {}: gradient cosine on the shared parameters (blue: conflict)",
                    rel.key.suite, rel.key.fraction, rel.key.algorithm
                ),
                panels: vec![over_time, matrix],
            },
        ));
    }
    out
}

/// Per cell with gradient magnitudes (docs/FORMULAS.md#gradient-magnitudes): each task's
/// ‖gᵢ‖ over the logged steps beside the ratio max ‖gᵢ‖ / min ‖gᵢ‖, both on log axes (mean
/// over replicates).
pub fn magnitude_figures(
    runs: &[&RunRecord],
    rels: &[CellRelations],
) -> Vec<(String, Figure<'static>)> {
    let norms = task_trajectories(runs, "grad_norm");
    let ratios = measure_trajectories(runs, "grad_norm_ratio");
    let mut out = Vec::new();
    for rel in rels.iter().filter(|r| r.grad_norms.is_some()) {
        let points = |t: &crate::telemetry::Trajectory| -> Vec<(f64, f64)> {
            t.points.iter().map(|(s, v)| (*s as f64, *v)).collect()
        };
        // Series k is task k in suite order; the ratio takes the next colour.
        let per_task: Vec<(usize, Vec<(f64, f64)>)> = rel
            .tasks
            .iter()
            .enumerate()
            .filter_map(|(k, task)| {
                norms
                    .iter()
                    .find(|t| t.key == rel.key && t.label == *task)
                    .map(|t| (k, points(t)))
            })
            .collect();
        let ratio: Vec<(usize, Vec<(f64, f64)>)> = ratios
            .iter()
            .filter(|t| t.key == rel.key)
            .map(|t| (rel.tasks.len(), points(t)))
            .collect();
        let mut legend = rel.tasks.clone();
        legend.push("max/min norm ratio".into());
        out.push((
            cell_stem(&rel.key, "grad_norms"),
            Figure::Lines {
                title: format!(
                    "{} (fraction {}), {}: task-gradient magnitudes on the shared parameters, mean over replicates",
                    rel.key.suite, rel.key.fraction, rel.key.algorithm
                ),
                panels: vec![
                    LinePanel {
                        title: "‖g_i‖ by training step".into(),
                        x_desc: "training step".into(),
                        y_desc: "gradient norm (log scale)".into(),
                        log_x: false,
                        log_y: true,
                        series: per_task,
                    },
                    LinePanel {
                        title: "max ‖g_i‖ / min ‖g_i‖".into(),
                        x_desc: "training step".into(),
                        y_desc: "norm ratio (log scale; 1 = equal)".into(),
                        log_x: false,
                        log_y: true,
                        series: ratio,
                    },
                ],
                legend,
            },
        ));
    }
    out
}

/// Per cell with affinity telemetry: TAG's Ẑ/lr beside the planted matrix when the suite
/// has one.
pub fn affinity_figures(rels: &[CellRelations]) -> Vec<(String, Figure<'static>)> {
    let mut out = Vec::new();
    for rel in rels {
        let Some(z) = &rel.affinity_per_lr else {
            continue;
        };
        let e = off_diagonal_extent(z);
        let mut panels = vec![matrix_panel(
            "TAG affinity Ẑ(i→j) / lr (diagonal off scale)".into(),
            &rel.tasks,
            z,
            -e,
            e,
            "target task j",
            "source task i",
        )];
        if let Some(p) = &rel.planted {
            let title = if rel.affinity_vs_planted.is_finite() {
                format!(
                    "planted correlation (Spearman ρ = {:.2})",
                    rel.affinity_vs_planted
                )
            } else {
                "planted correlation".into()
            };
            panels.push(matrix_panel(
                title, &rel.tasks, p, -1.0, 1.0, "task j", "task i",
            ));
        }
        out.push((
            cell_stem(&rel.key, "affinity"),
            Figure::Heatmaps {
                title: format!(
                    "{} (fraction {}), {}: inter-task affinity (red: a step on i lowers j's loss)",
                    rel.key.suite, rel.key.fraction, rel.key.algorithm
                ),
                panels,
            },
        ));
    }
    out
}

/// Per (suite, fraction) of the pairwise-transfer runs: gain_{i|j} in %.
pub fn pairwise_figures(gains: &[PairGain]) -> Vec<(String, Figure<'static>)> {
    let sections: Vec<(String, String)> =
        crate::unique(gains.iter().map(|g| (g.suite.clone(), g.fraction.clone())));
    sections
        .into_iter()
        .map(|(suite, fraction)| {
            let here: Vec<&PairGain> = gains.iter().filter(|g| g.suite == suite && g.fraction == fraction).collect();
            let mut tasks: Vec<String> = Vec::new();
            for g in &here {
                for t in [&g.task, &g.partner] {
                    if !tasks.contains(t) {
                        tasks.push(t.clone());
                    }
                }
            }
            let m: Vec<Vec<f64>> = tasks
                .iter()
                .map(|i| {
                    tasks
                        .iter()
                        .map(|j| here.iter().find(|g| g.task == *i && g.partner == *j).map_or(f64::NAN, |g| g.gain.mean))
                        .collect()
                })
                .collect();
            let e = off_diagonal_extent(&m);
            (
                section_stem(&suite, &fraction, "pairwise_transfer"),
                Figure::Heatmaps {
                    title: format!("{suite} (fraction {fraction}): pairwise transfer, hard_sharing+equal on pairs vs alone"),
                    panels: vec![matrix_panel("gain of task i from partner j (%)".into(), &tasks, &m, -e, e, "partner task j", "task i")],
                },
            )
        })
        .collect()
}

/// Per cell that recorded task weights: each task's weight over training steps (mean
/// over replicates).
pub fn weight_figures(runs: &[&RunRecord]) -> Vec<(String, Figure<'static>)> {
    let trajectories = weight_trajectories(runs);
    let keys: Vec<GroupKey> = crate::unique(trajectories.iter().map(|t| t.key.clone()));
    keys.into_iter()
        .filter_map(|key| {
            let series: Vec<_> = trajectories.iter().filter(|t| t.key == key).collect();
            // Constant weights (equal, static, single_task) make no trajectory worth a chart.
            let varies = series
                .iter()
                .any(|t| t.points.iter().any(|p| p.1 != t.points[0].1));
            if !varies {
                return None;
            }
            let panel = LinePanel {
                title: String::new(),
                x_desc: "training step".into(),
                y_desc: "task weight (loss or gradient factor)".into(),
                log_x: false,
                log_y: false,
                series: series
                    .iter()
                    .enumerate()
                    .map(|(k, t)| (k, t.points.iter().map(|(s, v)| (*s as f64, *v)).collect()))
                    .collect(),
            };
            Some((
                cell_stem(&key, "task_weights"),
                Figure::Lines {
                    title: format!(
                        "{} (fraction {}), {}: task weights, mean over replicates",
                        key.suite, key.fraction, key.algorithm
                    ),
                    panels: vec![panel],
                    legend: series.iter().map(|t| t.label.clone()).collect(),
                },
            ))
        })
        .collect()
}

/// Per suite and fraction with adaptation runs: the held-out query MSE by adaptation step,
/// one panel per k, one line per start (mean over replicates).
pub fn adaptation_curves(rows: &[crate::adaptation::AdaptRow]) -> Vec<(String, Figure<'static>)> {
    let sections = crate::unique(rows.iter().map(|r| (r.suite.clone(), r.fraction.clone())));
    sections
        .into_iter()
        .map(|(suite, fraction)| {
            let here: Vec<_> = rows.iter().filter(|r| r.suite == suite && r.fraction == fraction).collect();
            let starts = crate::unique(here.iter().map(|r| r.start.clone()));
            let panels = crate::unique(here.iter().map(|r| r.shots))
                .into_iter()
                .map(|k| LinePanel {
                    title: format!("{k}-shot"),
                    x_desc: "adaptation step".into(),
                    y_desc: "held-out query MSE (lower is better)".into(),
                    log_x: false,
                    log_y: false,
                    series: starts
                        .iter()
                        .enumerate()
                        .map(|(i, start)| {
                            let pts = here
                                .iter()
                                .filter(|r| r.shots == k && r.start == *start)
                                .map(|r| (r.step as f64, r.mse.mean))
                                .collect();
                            (i, pts)
                        })
                        .collect(),
                })
                .collect();
            (
                section_stem(&suite, &fraction, "adaptation"),
                Figure::Lines {
                    title: format!("{suite} (fraction {fraction}): meta-test adaptation to unseen tasks, mean over replicates"),
                    panels,
                    legend: starts,
                },
            )
        })
        .collect()
}
