//! Heatmaps of task relations: gradient cosines by step beside their mean matrix, TAG's
//! affinity beside the planted matrix, and the pairwise-transfer gains.

use super::{cell_stem, cell_title, replicates, section_stem};
use crate::charts::panels::HeatPanel;
use crate::charts::{Body, Figure, Labels};
use crate::pairwise::PairGain;
use crate::record::RunRecord;
use crate::relationships::CellRelations;
use crate::telemetry::pair_trajectories;

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
