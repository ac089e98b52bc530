//! Curves over training and over data, each a mean with its 95% CI band over replicates:
//! validation learning curves, data-efficiency curves, task-gradient magnitudes, task-weight
//! trajectories, and meta-test adaptation curves.

use super::{cell_stem, cell_title, direction, replicates, section_stem};
use crate::charts::panels::LinePanel;
use crate::charts::{sanitize, Body, Figure, Labels};
use crate::record::RunRecord;
use crate::relationships::CellRelations;
use crate::stats::Summary;
use crate::summary::{group_key, shown_metrics, GroupKey, StudySummary};
use crate::telemetry::{measure_trajectories, task_trajectories, weight_trajectories};
use std::collections::BTreeMap;

/// A series' means and its band from (x, values over replicates) pairs.
fn mean_and_band(
    k: usize,
    values: &BTreeMap<usize, Vec<f64>>,
) -> (crate::charts::panels::Line, crate::charts::panels::Band) {
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

/// A trajectory's points and its 95% CI band (where defined).
fn trajectory_lines(
    k: usize,
    t: &crate::telemetry::Trajectory,
) -> (crate::charts::panels::Line, crate::charts::panels::Band) {
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
