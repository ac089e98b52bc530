//! The report's figures beyond the per-task metric charts, built from the summary, the
//! relationship matrices and the stored runs: Δm bars with CIs, worst-task and gain-spread
//! bars, learning curves, gradient-magnitude curves,
//! data-efficiency curves, Pareto scatters, conflict heatmaps beside the cosine matrix,
//! affinity beside the planted matrix, pairwise transfer, and task-weight trajectories.

use super::panels::{HeatPanel, LinePanel};
use super::plots::{sorted, BarPanel, Pareto};
use super::{sanitize, Body, Figure, Labels};
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

/// The row of the `equal` baseline among `algorithms`: `hard_sharing+equal`, else the
/// first other architecture's `equal`.
fn equal_row(algorithms: &[String]) -> Option<usize> {
    algorithms
        .iter()
        .position(|a| a == "hard_sharing+equal")
        .or_else(|| {
            algorithms
                .iter()
                .position(|a| a.ends_with("+equal") && !a.starts_with("single_task"))
        })
}

/// Bars of `cells` by `pick`, sorted best first by `order` (the first panel's values),
/// with display names and the `equal` row marked.
fn bar_panel(
    labels: &Labels,
    cells: &[&crate::summary::DeltaRow],
    order: &[String],
    pick: &dyn Fn(&crate::summary::DeltaRow) -> Summary,
    title: &str,
    x_desc: String,
    row_names: bool,
) -> BarPanel {
    let bars: Vec<(String, Summary)> = order
        .iter()
        .filter_map(|a| cells.iter().find(|d| d.key.algorithm == *a))
        .map(|d| (d.key.algorithm.clone(), pick(d)))
        .collect();
    let stored: Vec<String> = bars.iter().map(|(a, _)| a.clone()).collect();
    let baseline = equal_row(&stored);
    BarPanel {
        title: title.into(),
        x_desc,
        bars: labels
            .names
            .algorithms(&stored)
            .into_iter()
            .zip(bars)
            .map(|(name, (_, s))| (name, s))
            .collect(),
        baseline,
        row_names,
    }
}

/// The order of `cells`' algorithms, best first by `pick` (rows without a value last).
fn bar_order(
    cells: &[&crate::summary::DeltaRow],
    pick: &dyn Fn(&crate::summary::DeltaRow) -> Summary,
    higher_is_better: bool,
) -> Vec<String> {
    sorted(
        cells
            .iter()
            .map(|d| (d.key.algorithm.clone(), pick(d)))
            .collect(),
        higher_is_better,
    )
    .into_iter()
    .map(|(a, _)| a)
    .collect()
}

/// Per section, LibMTL's Δp of every method against `single_task` (sorted, best first)
/// beside its difference to `equal` on the same architecture (paired by replicate), mean
/// with 95% CI.
pub fn delta_bars(summary: &StudySummary, labels: &Labels) -> Vec<(String, Figure<'static>)> {
    let variant = DeltaVariant::LibMtl;
    summary
        .sections()
        .into_iter()
        .filter_map(|(suite, fraction)| {
            let cells: Vec<&crate::summary::DeltaRow> = summary
                .deltas
                .iter()
                .filter(|d| d.key.suite == suite && d.key.fraction == fraction && d.key.order == 1)
                .filter(|d| d.variants[0].n > 0)
                .collect();
            if cells.is_empty() {
                return None;
            }
            let single: &dyn Fn(&crate::summary::DeltaRow) -> Summary = &|d| d.variants[0];
            let versus: &dyn Fn(&crate::summary::DeltaRow) -> Summary = &|d| d.vs_equal;
            let order = bar_order(&cells, single, true);
            let mut panels = vec![bar_panel(
                labels,
                &cells,
                &order,
                single,
                "vs single task",
                format!("{} (higher is better)", variant.label()),
                true,
            )];
            if cells.iter().any(|d| d.vs_equal.n > 0) {
                panels.push(bar_panel(
                    labels,
                    &cells,
                    &order,
                    versus,
                    "vs equal (same architecture)",
                    format!("{} − that of equal (paired)", variant.label()),
                    false,
                ));
            }
            let ns = cells.iter().map(|d| d.variants[0].n);
            Some((
                section_stem(&suite, &fraction, "delta"),
                Figure {
                    title: format!("{suite} (fraction {fraction}): transfer of each method"),
                    note: labels.selected(ns, "mean with 95% CI, best first, grey: equal"),
                    body: Body::Bars { panels },
                },
            ))
        })
        .collect()
}

/// Per section, beside the Δ bars: each method's worst task's gain and the spread of its
/// per-task gains against `single_task` (docs/FORMULAS.md#worst-task-and-balance), mean
/// with 95% CI over replicates, sorted best first.
pub fn balance_bars(summary: &StudySummary, labels: &Labels) -> Vec<(String, Figure<'static>)> {
    let mut out = Vec::new();
    for (suite, fraction) in summary.sections() {
        let cells: Vec<&crate::summary::DeltaRow> = summary
            .deltas
            .iter()
            .filter(|d| d.key.suite == suite && d.key.fraction == fraction && d.key.order == 1)
            .collect();
        type Pick = fn(&crate::summary::DeltaRow) -> Summary;
        let figures: [(&str, String, Pick, bool); 2] = [
            (
                "worst_task",
                format!("{} (higher is better)", crate::tables::WORST_TASK_LABEL),
                |d| d.worst_task,
                true,
            ),
            (
                "task_gain_spread",
                format!("{} (lower is better)", crate::tables::GAIN_SPREAD_LABEL),
                |d| d.gain_spread,
                false,
            ),
        ];
        for (what, x_desc, pick, higher) in figures {
            let cells: Vec<&crate::summary::DeltaRow> =
                cells.iter().copied().filter(|d| pick(d).n > 0).collect();
            if cells.is_empty() {
                continue;
            }
            let order = bar_order(&cells, &pick, higher);
            let panel = bar_panel(labels, &cells, &order, &pick, "", x_desc, true);
            let title = if what == "worst_task" {
                format!("{suite} (fraction {fraction}): the worst task's gain against single_task")
            } else {
                format!("{suite} (fraction {fraction}): spread of the per-task gains")
            };
            let ns = cells.iter().map(|d| pick(d).n);
            out.push((
                section_stem(&suite, &fraction, what),
                Figure {
                    title,
                    note: labels.selected(ns, "mean with 95% CI, best first, grey: equal"),
                    body: Body::Bars {
                        panels: vec![panel],
                    },
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

/// A series' means and its band from (x, values over replicates) pairs.
fn mean_and_band(
    k: usize,
    values: &BTreeMap<usize, Vec<f64>>,
) -> (super::panels::Line, super::panels::Band) {
    let mut points = Vec::new();
    let mut band = Vec::new();
    for (x, v) in values {
        let s = crate::stats::summarize(v);
        points.push((*x as f64, s.mean));
        if s.ci95.is_finite() {
            band.push((*x as f64, s.mean - s.ci95, s.mean + s.ci95));
        }
    }
    ((k, points), (k, band))
}

/// Per section, each task's validation metric by epoch, one line per algorithm (mean
/// over replicates, with its 95% CI band).
pub fn learning_curves(runs: &[&RunRecord], labels: &Labels) -> Vec<(String, Figure<'static>)> {
    let mut sections: BTreeMap<(String, String), Vec<&RunRecord>> = BTreeMap::new();
    // Adaptation runs have their own curves (`adaptation_curves`).
    let trained = runs
        .iter()
        .filter(|r| r.is_ok() && r.kind != crate::record::RunKind::Adaptation);
    for run in trained {
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
        let ns: Vec<usize> = algorithms
            .iter()
            .map(|(_, a)| runs.iter().filter(|r| r.algorithm == *a).count())
            .collect();
        let mut panels = Vec::new();
        for (task, metric, hib) in &shown {
            let mut series = Vec::new();
            let mut bands = Vec::new();
            for (k, (_, algorithm)) in algorithms.iter().enumerate() {
                let mut by_epoch: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
                for run in runs.iter().filter(|r| r.algorithm == *algorithm) {
                    for p in run
                        .points
                        .iter()
                        .filter(|p| p.split == "val" && p.task == *task && p.metric == *metric)
                    {
                        by_epoch.entry(p.epoch).or_default().push(p.value);
                    }
                }
                if !by_epoch.is_empty() {
                    let (line, band) = mean_and_band(k, &by_epoch);
                    series.push(line);
                    bands.push(band);
                }
            }
            panels.push(LinePanel {
                title: labels.names.task(task),
                x_desc: "epoch".into(),
                y_desc: format!(
                    "validation {} ({})",
                    labels.names.metric(metric),
                    direction(*hib)
                ),
                log_x: false,
                log_y: false,
                series,
                bands,
            });
        }
        if panels
            .iter()
            .any(|p| p.series.iter().any(|(_, s)| s.len() > 1))
        {
            let stored: Vec<String> = algorithms.into_iter().map(|(_, a)| a).collect();
            out.push((
                section_stem(&suite, &fraction, "learning_curves"),
                Figure {
                    title: format!("{suite} (fraction {fraction}): validation metric by epoch"),
                    note: labels.curves(ns),
                    body: Body::Lines {
                        panels,
                        legend: labels.names.algorithms(&stored),
                    },
                },
            ));
        }
    }
    out
}

/// Per suite with several fractions, each task's test metric (at the selected
/// evaluation) against the training fraction (log axis), one line per algorithm with its
/// 95% CI band.
pub fn efficiency_curves(
    summary: &StudySummary,
    labels: &Labels,
) -> Vec<(String, Figure<'static>)> {
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
                let mut series = Vec::new();
                let mut bands = Vec::new();
                for (k, (_, algorithm)) in algorithms.iter().enumerate() {
                    let mut cells: Vec<(f64, Summary)> = rows
                        .iter()
                        .filter(|r| {
                            r.key.algorithm == *algorithm && r.task == *task && r.metric == *metric
                        })
                        .map(|r| (r.key.fraction.parse().unwrap_or(f64::NAN), r.stats))
                        .collect();
                    cells.sort_by(|a, b| a.0.total_cmp(&b.0));
                    series.push((k, cells.iter().map(|(f, s)| (*f, s.mean)).collect()));
                    bands.push((
                        k,
                        cells
                            .iter()
                            .filter(|(_, s)| s.ci95.is_finite())
                            .map(|(f, s)| (*f, s.mean - s.ci95, s.mean + s.ci95))
                            .collect(),
                    ));
                }
                LinePanel {
                    title: labels.names.task(task),
                    x_desc: "training fraction (log scale)".into(),
                    y_desc: format!("{} ({})", labels.test_metric(metric), direction(*hib)),
                    log_x: true,
                    log_y: false,
                    series,
                    bands,
                }
            })
            .collect();
        let stored: Vec<String> = algorithms.into_iter().map(|(_, a)| a).collect();
        out.push((
            format!("{}_data_efficiency", sanitize(&suite)),
            Figure {
                title: format!("{suite}: test metric by training fraction"),
                note: labels.selected(rows.iter().map(|r| r.stats.n), "mean and 95% CI band"),
                body: Body::Lines {
                    panels,
                    legend: labels.names.algorithms(&stored),
                },
            },
        ));
    }
    out
}

/// The weights of a fixed-weight run's label (`hard_sharing+static w=0.5,1.5` →
/// `w=0.5,1.5`).
fn weights_label(label: &str) -> String {
    label
        .split_once(' ')
        .map_or_else(|| label.to_string(), |(_, w)| w.to_string())
}

/// Per section whose tasks number exactly two: each algorithm's test metrics as a point
/// (task 1, task 2) with 95% CI bars both ways, over the section's scalarization front
/// when the study has one on the same metrics (its points labelled with their weights,
/// the line through the non-dominated ones).
pub fn pareto(
    summary: &StudySummary,
    fronts: &[crate::front::FrontSection],
    labels: &Labels,
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
        let mut ns = Vec::new();
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
                ns.extend([a.n, b.n]);
                points.push((d.key.algorithm.clone(), a, b));
            }
        }
        let stored: Vec<String> = points.iter().map(|p| p.0.clone()).collect();
        for (p, name) in points.iter_mut().zip(labels.names.algorithms(&stored)) {
            p.0 = name;
        }
        let desc = |(task, metric, hib): &(String, String, bool)| {
            format!(
                "{} {} ({})",
                labels.names.task(task),
                labels.test_metric(metric),
                direction(*hib)
            )
        };
        // One front per training setting: with a training grid the plane holds the
        // settings' methods together, so no single front is drawn under them.
        let matching: Vec<&crate::front::FrontSection> = fronts
            .iter()
            .filter(|f| f.suite == suite && f.fraction == fraction && f.axes == shown)
            .collect();
        let front: Vec<(String, f64, f64)> = (matching.len() == 1)
            .then(|| matching[0])
            .map(|f| {
                f.front
                    .iter()
                    .map(|p| (weights_label(&p.label), p.axes[0].mean, p.axes[1].mean))
                    .collect()
            })
            .unwrap_or_default();
        let title = if front.is_empty() {
            format!("{suite} (fraction {fraction}): the two tasks' test metrics")
        } else {
            format!("{suite} (fraction {fraction}): methods against the fixed-weight front")
        };
        out.push((
            section_stem(&suite, &fraction, "pareto"),
            Figure {
                title,
                note: labels.selected(ns, "mean with 95% CI crosses"),
                body: Body::Pareto(Pareto {
                    x_desc: desc(&shown[0]),
                    y_desc: desc(&shown[1]),
                    higher: (shown[0].2, shown[1].2),
                    points,
                    front,
                }),
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

/// Ok runs of cell `key` (the replicates behind its curves).
fn replicates(runs: &[&RunRecord], key: &GroupKey) -> usize {
    runs.iter()
        .filter(|r| r.is_ok() && group_key(r) == *key)
        .count()
}

/// A trajectory's points and its 95% CI band (where defined).
fn trajectory_lines(
    k: usize,
    t: &crate::telemetry::Trajectory,
) -> (super::panels::Line, super::panels::Band) {
    let points = t.points.iter().map(|(s, v)| (*s as f64, *v)).collect();
    let band = t
        .points
        .iter()
        .zip(&t.ci95)
        .filter(|(_, ci)| ci.is_finite())
        .map(|((s, v), ci)| (*s as f64, v - ci, v + ci))
        .collect();
    ((k, points), (k, band))
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

/// Per cell with conflict telemetry: the cosine of every task pair over the logged steps
/// (mean over replicates) beside the mean cosine matrix.
pub fn conflict_figures(
    runs: &[&RunRecord],
    rels: &[CellRelations],
    labels: &Labels,
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
        let tasks: Vec<String> = rel.tasks.iter().map(|t| labels.names.task(t)).collect();
        let over_time = HeatPanel {
            title: "cos(g_i, g_j) by training step".into(),
            row_desc: "task pair".into(),
            col_desc: "training step".into(),
            rows: series
                .iter()
                .map(|t| {
                    t.label
                        .split('–')
                        .map(|x| labels.names.task(x))
                        .collect::<Vec<_>>()
                        .join("–")
                })
                .collect(),
            cols: steps.iter().map(|s| s.to_string()).collect(),
            values,
            lo: -1.0,
            hi: 1.0,
        };
        let matrix = matrix_panel(
            "mean cos(g_i, g_j)".into(),
            &tasks,
            cosine,
            -1.0,
            1.0,
            "task j",
            "task i",
        );
        out.push((
            cell_stem(&rel.key, "conflict"),
            Figure {
                title: cell_title(
                    &rel.key,
                    labels,
                    "gradient cosine on the shared parameters (blue: conflict)",
                ),
                note: format!(
                    "mean over {}{}",
                    Labels::n([replicates(runs, &rel.key)]),
                    labels.tuned()
                ),
                body: Body::Heatmaps {
                    panels: vec![over_time, matrix],
                },
            },
        ));
    }
    out
}

/// Per cell with gradient magnitudes (docs/FORMULAS.md#gradient-magnitudes): each task's
/// ‖gᵢ‖ over the logged steps beside the ratio max ‖gᵢ‖ / min ‖gᵢ‖, both on log axes (mean
/// over replicates with its 95% CI band).
pub fn magnitude_figures(
    runs: &[&RunRecord],
    rels: &[CellRelations],
    labels: &Labels,
) -> Vec<(String, Figure<'static>)> {
    let norms = task_trajectories(runs, "grad_norm");
    let ratios = measure_trajectories(runs, "grad_norm_ratio");
    let mut out = Vec::new();
    for rel in rels.iter().filter(|r| r.grad_norms.is_some()) {
        // Series k is task k in suite order; the ratio takes the next colour.
        let (per_task, task_bands): (Vec<_>, Vec<_>) = rel
            .tasks
            .iter()
            .enumerate()
            .filter_map(|(k, task)| {
                norms
                    .iter()
                    .find(|t| t.key == rel.key && t.label == *task)
                    .map(|t| trajectory_lines(k, t))
            })
            .unzip();
        let (ratio, ratio_bands): (Vec<_>, Vec<_>) = ratios
            .iter()
            .filter(|t| t.key == rel.key)
            .map(|t| trajectory_lines(rel.tasks.len(), t))
            .unzip();
        let mut legend: Vec<String> = rel.tasks.iter().map(|t| labels.names.task(t)).collect();
        legend.push("max/min norm ratio".into());
        out.push((
            cell_stem(&rel.key, "grad_norms"),
            Figure {
                title: cell_title(
                    &rel.key,
                    labels,
                    "task-gradient magnitudes on the shared parameters",
                ),
                note: labels.curves([replicates(runs, &rel.key)]),
                body: Body::Lines {
                    panels: vec![
                        LinePanel {
                            title: "‖g_i‖ by training step".into(),
                            x_desc: "training step".into(),
                            y_desc: "gradient norm (log scale)".into(),
                            log_x: false,
                            log_y: true,
                            series: per_task,
                            bands: task_bands,
                        },
                        LinePanel {
                            title: "max ‖g_i‖ / min ‖g_i‖".into(),
                            x_desc: "training step".into(),
                            y_desc: "norm ratio (log scale; 1 = equal)".into(),
                            log_x: false,
                            log_y: true,
                            series: ratio,
                            bands: ratio_bands,
                        },
                    ],
                    legend,
                },
            },
        ));
    }
    out
}

/// Per cell with affinity telemetry: TAG's Ẑ/lr beside the planted matrix when the suite
/// has one.
pub fn affinity_figures(
    runs: &[&RunRecord],
    rels: &[CellRelations],
    labels: &Labels,
) -> Vec<(String, Figure<'static>)> {
    let mut out = Vec::new();
    for rel in rels {
        let Some(z) = &rel.affinity_per_lr else {
            continue;
        };
        let tasks: Vec<String> = rel.tasks.iter().map(|t| labels.names.task(t)).collect();
        let e = off_diagonal_extent(z);
        let mut panels = vec![matrix_panel(
            "TAG affinity Ẑ(i→j) / lr (diagonal off scale)".into(),
            &tasks,
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
                title, &tasks, p, -1.0, 1.0, "task j", "task i",
            ));
        }
        out.push((
            cell_stem(&rel.key, "affinity"),
            Figure {
                title: cell_title(
                    &rel.key,
                    labels,
                    "inter-task affinity (red: a step on i lowers j's loss)",
                ),
                note: format!(
                    "mean over the logged steps and {}{}",
                    Labels::n([replicates(runs, &rel.key)]),
                    labels.tuned()
                ),
                body: Body::Heatmaps { panels },
            },
        ));
    }
    out
}

/// Per (suite, fraction) of the pairwise-transfer runs: gain_{i|j} in %.
pub fn pairwise_figures(gains: &[PairGain], labels: &Labels) -> Vec<(String, Figure<'static>)> {
    let sections: Vec<(String, String)> =
        crate::unique(gains.iter().map(|g| (g.suite.clone(), g.fraction.clone())));
    sections
        .into_iter()
        .map(|(suite, fraction)| {
            let here: Vec<&PairGain> = gains
                .iter()
                .filter(|g| g.suite == suite && g.fraction == fraction)
                .collect();
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
                        .map(|j| {
                            here.iter()
                                .find(|g| g.task == *i && g.partner == *j)
                                .map_or(f64::NAN, |g| g.gain.mean)
                        })
                        .collect()
                })
                .collect();
            let e = off_diagonal_extent(&m);
            let shown: Vec<String> = tasks.iter().map(|t| labels.names.task(t)).collect();
            (
                section_stem(&suite, &fraction, "pairwise_transfer"),
                Figure {
                    title: format!(
                        "{suite} (fraction {fraction}): pairwise transfer, {} on pairs vs alone",
                        labels.names.algorithm("hard_sharing+equal")
                    ),
                    note: format!(
                        "mean over {}; selection: {}; not tuned",
                        Labels::n(here.iter().map(|g| g.gain.n)),
                        labels.selection
                    ),
                    body: Body::Heatmaps {
                        panels: vec![matrix_panel(
                            "gain of task i from partner j (%)".into(),
                            &shown,
                            &m,
                            -e,
                            e,
                            "partner task j",
                            "task i",
                        )],
                    },
                },
            )
        })
        .collect()
}

/// Per cell that recorded task weights: each task's weight over training steps (mean
/// over replicates with its 95% CI band).
pub fn weight_figures(runs: &[&RunRecord], labels: &Labels) -> Vec<(String, Figure<'static>)> {
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
            let (lines, bands): (Vec<_>, Vec<_>) = series
                .iter()
                .enumerate()
                .map(|(k, t)| trajectory_lines(k, t))
                .unzip();
            let panel = LinePanel {
                title: String::new(),
                x_desc: "training step".into(),
                y_desc: "task weight (loss or gradient factor)".into(),
                log_x: false,
                log_y: false,
                series: lines,
                bands,
            };
            Some((
                cell_stem(&key, "task_weights"),
                Figure {
                    title: cell_title(&key, labels, "task weights"),
                    note: labels.curves([replicates(runs, &key)]),
                    body: Body::Lines {
                        panels: vec![panel],
                        legend: series.iter().map(|t| labels.names.task(&t.label)).collect(),
                    },
                },
            ))
        })
        .collect()
}

/// Per suite and fraction with adaptation runs: the held-out query MSE by adaptation step,
/// one panel per k, one line per start (mean over replicates with its 95% CI band).
pub fn adaptation_curves(
    rows: &[crate::adaptation::AdaptRow],
    labels: &Labels,
) -> Vec<(String, Figure<'static>)> {
    let sections = crate::unique(rows.iter().map(|r| (r.suite.clone(), r.fraction.clone())));
    sections
        .into_iter()
        .map(|(suite, fraction)| {
            let here: Vec<_> = rows
                .iter()
                .filter(|r| r.suite == suite && r.fraction == fraction)
                .collect();
            let starts = crate::unique(here.iter().map(|r| r.start.clone()));
            let panels = crate::unique(here.iter().map(|r| r.shots))
                .into_iter()
                .map(|k| {
                    let cells = |start: &String| -> Vec<(f64, Summary)> {
                        here.iter()
                            .filter(|r| r.shots == k && r.start == *start)
                            .map(|r| (r.step as f64, r.mse))
                            .collect()
                    };
                    LinePanel {
                        title: format!("{k}-shot"),
                        x_desc: "adaptation step".into(),
                        y_desc: "held-out query MSE (lower is better)".into(),
                        log_x: false,
                        log_y: false,
                        series: starts
                            .iter()
                            .enumerate()
                            .map(|(i, start)| {
                                (i, cells(start).iter().map(|(x, s)| (*x, s.mean)).collect())
                            })
                            .collect(),
                        bands: starts
                            .iter()
                            .enumerate()
                            .map(|(i, start)| {
                                (
                                    i,
                                    cells(start)
                                        .iter()
                                        .filter(|(_, s)| s.ci95.is_finite())
                                        .map(|(x, s)| (*x, s.mean - s.ci95, s.mean + s.ci95))
                                        .collect(),
                                )
                            })
                            .collect(),
                    }
                })
                .collect();
            (
                section_stem(&suite, &fraction, "adaptation"),
                Figure {
                    title: format!(
                        "{suite} (fraction {fraction}): meta-test adaptation to unseen tasks"
                    ),
                    note: format!(
                        "mean and 95% CI band; {}{}",
                        Labels::n(here.iter().map(|r| r.mse.n)),
                        if labels.tuning_budget.is_some() {
                            "; not tuned"
                        } else {
                            ""
                        }
                    ),
                    body: Body::Lines {
                        panels,
                        legend: starts,
                    },
                },
            )
        })
        .collect()
}
