//! Task relationships of a study, per cell (suite, fraction, algorithm) with telemetry:
//! the mean gradient-cosine and conflict-frequency matrices, each task's mean gradient norm
//! and the mean norm ratio, TAG's affinity matrix (plain and per learning rate) with its
//! task groupings, their rank agreement with a planted matrix, and the pairwise-transfer
//! gain matrix; written as `relationships.md`.

use crate::affinity::{rank_agreement, tag_groups, MAX_GROUPING_TASKS};
use crate::pairwise::PairGain;
use crate::record::RunRecord;
use crate::summary::{group_key, GroupKey};
use crate::tables::format_estimate;
use crate::telemetry::{pair_matrix, task_order, MeasureCell};
use std::fmt::Write as _;

/// The largest number of groups TAG's selection is reported for.
pub const MAX_SPLITS: usize = 3;

/// A square matrix over tasks, row-major.
pub type Matrix = Vec<Vec<f64>>;

/// What one cell's telemetry says about its tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct CellRelations {
    pub key: GroupKey,
    pub tasks: Vec<String>,
    /// Mean cosine of gᵢ and gⱼ (diagonal 1) and the share of logged steps with gᵢᵀgⱼ < 0.
    pub cosine: Option<Matrix>,
    pub conflict_frequency: Option<Matrix>,
    /// Each task's mean ‖gᵢ‖ in `tasks` order (NaN: not logged), and the mean over logged
    /// steps of max ‖gᵢ‖ / min ‖gᵢ‖ (docs/FORMULAS.md#gradient-magnitudes); `None` for
    /// records without magnitudes.
    pub grad_norms: Option<Vec<f64>>,
    pub grad_norm_ratio: Option<f64>,
    /// Ẑ_{i→j} (row i = source, column j = target) and Ẑ_{i→j}/lr.
    pub affinity: Option<Matrix>,
    pub affinity_per_lr: Option<Matrix>,
    /// The suite's planted task-correlation matrix, when it has one.
    pub planted: Option<Matrix>,
    /// TAG's best grouping into at most k groups, k = 1..: (k, groups, total score).
    pub groupings: Vec<(usize, Vec<Vec<usize>>, f64)>,
    /// Spearman's ρ over off-diagonal pairs against the planted matrix.
    pub cosine_vs_planted: f64,
    pub affinity_vs_planted: f64,
}

/// One entry per cell that logged cosines or affinities.
pub fn relations(runs: &[&RunRecord], cells: &[MeasureCell]) -> Vec<CellRelations> {
    let mut keys: Vec<&GroupKey> = cells
        .iter()
        .filter(|c| matches!(c.measure.as_str(), "cosine" | "affinity"))
        .map(|c| &c.key)
        .collect();
    keys.dedup();
    keys.into_iter()
        .map(|key| {
            let tasks = task_order(runs, key);
            let logged =
                |measure: &str| cells.iter().any(|c| c.key == *key && c.measure == measure);
            let matrix = |measure: &str, symmetric: bool, value: fn(&MeasureCell) -> f64| {
                logged(measure).then(|| pair_matrix(cells, key, measure, &tasks, symmetric, value))
            };
            let mut cosine = matrix("cosine", true, |c| c.mean);
            if let Some(m) = &mut cosine {
                (0..m.len()).for_each(|i| m[i][i] = 1.0);
            }
            let mut conflict_frequency = matrix("cosine", true, |c| c.negative_share);
            if let Some(m) = &mut conflict_frequency {
                (0..m.len()).for_each(|i| m[i][i] = 0.0);
            }
            let grad_norms = logged("grad_norm").then(|| {
                tasks
                    .iter()
                    .map(|t| {
                        cells
                            .iter()
                            .find(|c| {
                                c.key == *key
                                    && c.measure == "grad_norm"
                                    && c.layer.is_none()
                                    && c.task_a.as_deref() == Some(t.as_str())
                            })
                            .map_or(f64::NAN, |c| c.mean)
                    })
                    .collect()
            });
            let grad_norm_ratio = cells
                .iter()
                .find(|c| c.key == *key && c.measure == "grad_norm_ratio")
                .map(|c| c.mean);
            let affinity = matrix("affinity", false, |c| c.mean);
            let affinity_per_lr = matrix("affinity_per_lr", false, |c| c.mean);
            let planted = runs
                .iter()
                .find(|r| group_key(r) == *key && r.is_ok())
                .and_then(|r| r.planted_correlation.clone());
            let agreement = |m: &Option<Matrix>| match (m, &planted) {
                (Some(m), Some(p)) if p.len() == m.len() => rank_agreement(m, p),
                _ => f64::NAN,
            };
            let groupings = affinity
                .as_ref()
                .filter(|z| {
                    z.len() <= MAX_GROUPING_TASKS && z.iter().flatten().all(|v| v.is_finite())
                })
                .map(|z| {
                    (1..=MAX_SPLITS.min(z.len()))
                        .filter_map(|k| tag_groups(z, k).map(|(g, total)| (k, g, total)))
                        .collect()
                })
                .unwrap_or_default();
            CellRelations {
                key: key.clone(),
                cosine_vs_planted: agreement(&cosine),
                affinity_vs_planted: agreement(&affinity),
                tasks,
                cosine,
                conflict_frequency,
                grad_norms,
                grad_norm_ratio,
                affinity,
                affinity_per_lr,
                planted,
                groupings,
            }
        })
        .collect()
}

fn write_matrix(md: &mut String, title: &str, tasks: &[String], m: &Matrix, corner: &str) {
    let _ = writeln!(md, "{title}\n");
    let _ = write!(md, "| {corner} |");
    tasks.iter().for_each(|t| {
        let _ = write!(md, " {t} |");
    });
    let _ = writeln!(md, "\n|---|{}", "---:|".repeat(tasks.len()));
    // Three significant digits for the matrix's largest entry (Ẑ is often ~1e-3).
    let largest = m
        .iter()
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |a, v| a.max(v.abs()));
    let digits = if largest > 0.0 {
        (2 - largest.log10().floor() as i64).clamp(3, 8) as usize
    } else {
        3
    };
    for (task, row) in tasks.iter().zip(m) {
        let _ = write!(md, "| {task} |");
        for v in row {
            if v.is_finite() {
                // + 0.0 prints a rounded −0 as 0.
                let _ = write!(md, " {:.digits$} |", v + 0.0);
            } else {
                md.push_str(" – |");
            }
        }
        md.push('\n');
    }
    md.push('\n');
}

/// One row of each task's mean gradient norm, then the mean norm ratio.
fn write_norms(md: &mut String, tasks: &[String], norms: &[f64], ratio: Option<f64>) {
    let _ = writeln!(md, "Gradient norm ‖gᵢ‖ (shared parameters):\n");
    let _ = write!(md, "| |");
    tasks.iter().for_each(|t| {
        let _ = write!(md, " {t} |");
    });
    let _ = writeln!(md, "\n|---|{}", "---:|".repeat(tasks.len()));
    let _ = write!(md, "| mean ‖gᵢ‖ |");
    for v in norms {
        if v.is_finite() {
            let _ = write!(md, " {} |", format_estimate(*v, f64::NAN));
        } else {
            md.push_str(" – |");
        }
    }
    md.push('\n');
    match ratio.filter(|r| r.is_finite()) {
        Some(r) => {
            let _ = writeln!(md, "\nMean norm ratio max ‖gᵢ‖ / min ‖gᵢ‖: {r:.3}\n");
        }
        None => md.push('\n'),
    }
}

fn rho(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.3}")
    } else {
        "–".into()
    }
}

/// `relationships.md`: per cell the matrices, the agreement with the planted matrix and
/// TAG's groupings; then the pairwise-transfer gains.
pub fn relationships_markdown(study: &str, rels: &[CellRelations], gains: &[PairGain]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# {study}: task relationships\n");
    let _ = writeln!(
        md,
        "Measured on the shared parameters, averaged over logged steps and replicates \
         (docs/FORMULAS.md#gradient-conflict, docs/FORMULAS.md#task-affinity). \
         cosine: mean cos(gᵢ, gⱼ); conflict frequency: share of \
         logged steps with gᵢᵀgⱼ < 0; TAG affinity Ẑ_{{i→j}} = mean of 1 − Lⱼ(θ_s − η∇Lᵢ)/Lⱼ(θ_s) \
         on the step's batch (η = the run's lr; rows = source i, columns = target j), and \
         Ẑ/lr (the reference code's scale). Gradient norm: mean ‖gᵢ‖ over logged steps \
         and replicates, and the mean of max ‖gᵢ‖ / min ‖gᵢ‖ over the logged steps \
         (docs/FORMULAS.md#gradient-magnitudes; 1: equal magnitudes). ρ: Spearman rank correlation with the planted \
         matrix over the off-diagonal pairs (affinity symmetrised as (Ẑ_{{i→j}} + Ẑ_{{j→i}})/2). \
         Groups: TAG's selection rule (score of a group for member j = mean affinity onto j \
         from the other members; singletons −10⁶; best mean over tasks of their best group), \
         exhaustive, for at most k groups; tasks numbered in table order.\n"
    );
    for rel in rels {
        let _ = writeln!(
            md,
            "## {} (fraction {}), {}\n",
            rel.key.suite, rel.key.fraction, rel.key.algorithm
        );
        if let Some(m) = &rel.cosine {
            write_matrix(&mut md, "Mean gradient cosine:", &rel.tasks, m, "");
        }
        if let Some(m) = &rel.conflict_frequency {
            write_matrix(&mut md, "Conflict frequency:", &rel.tasks, m, "");
        }
        if let Some(norms) = &rel.grad_norms {
            write_norms(&mut md, &rel.tasks, norms, rel.grad_norm_ratio);
        }
        if let Some(m) = &rel.affinity {
            write_matrix(
                &mut md,
                "TAG affinity Ẑ (source → target):",
                &rel.tasks,
                m,
                "i → j",
            );
        }
        if let Some(m) = &rel.affinity_per_lr {
            write_matrix(&mut md, "TAG affinity Ẑ / lr:", &rel.tasks, m, "i → j");
        }
        if let Some(m) = &rel.planted {
            write_matrix(&mut md, "Planted task correlation:", &rel.tasks, m, "");
            let _ = writeln!(
                md,
                "Rank agreement with the planted matrix: cosine ρ = {}, affinity ρ = {}.\n",
                rho(rel.cosine_vs_planted),
                rho(rel.affinity_vs_planted)
            );
        }
        for (k, groups, total) in &rel.groupings {
            let named: Vec<String> = groups
                .iter()
                .map(|g| {
                    let names: Vec<&str> = g.iter().map(|&t| rel.tasks[t].as_str()).collect();
                    format!("{{{}}}", names.join(", "))
                })
                .collect();
            let _ = writeln!(
                md,
                "- TAG grouping, at most {k} group(s): {} (score {total:.4})",
                named.join(" ")
            );
        }
        if !rel.groupings.is_empty() {
            md.push('\n');
        }
    }
    if !gains.is_empty() {
        let _ = writeln!(
            md,
            "## Pairwise transfer\n\nhard_sharing+equal trained on each pair of tasks against \
             the same on each task alone: gain_{{i|j}} = ±(M_i^(i,j) − M_i^(i))/M_i^(i) on task \
             i's primary metric, in %, mean ± 95% CI over replicates (positive: j helps i). \
             Rows i, columns j.\n"
        );
        let sections: Vec<(&str, &str)> = crate::unique(
            gains
                .iter()
                .map(|g| (g.suite.as_str(), g.fraction.as_str())),
        );
        for (suite, fraction) in sections {
            let in_section: Vec<&PairGain> = gains
                .iter()
                .filter(|g| g.suite == suite && g.fraction == fraction)
                .collect();
            let mut tasks: Vec<&str> = Vec::new();
            for g in &in_section {
                for t in [g.task.as_str(), g.partner.as_str()] {
                    if !tasks.contains(&t) {
                        tasks.push(t);
                    }
                }
            }
            let _ = writeln!(md, "### {suite} (fraction {fraction})\n");
            let _ = writeln!(md, "| i \\ j | {} |", tasks.join(" | "));
            let _ = writeln!(md, "|---|{}", "---:|".repeat(tasks.len()));
            for task in &tasks {
                let _ = write!(md, "| {task} |");
                for partner in &tasks {
                    match in_section
                        .iter()
                        .find(|g| g.task == *task && g.partner == *partner)
                    {
                        Some(g) => {
                            let _ = write!(md, " {} |", format_estimate(g.gain.mean, g.gain.ci95));
                        }
                        None => md.push_str(" – |"),
                    }
                }
                md.push('\n');
            }
            md.push('\n');
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::TelemetryRow;
    use crate::telemetry::summarize_telemetry;

    fn row(step: usize, measure: &str, task: Option<&str>, value: Option<f64>) -> TelemetryRow {
        TelemetryRow {
            step,
            epoch: 1,
            measure: measure.into(),
            task_a: task.map(String::from),
            task_b: task.map(String::from),
            layer: None,
            value,
        }
    }

    /// Magnitudes logged beside the cosines: each task's mean ‖gᵢ‖ in suite order (b then
    /// a, as stored), the mean ratio over the steps where it is finite; by hand over two
    /// replicates of two steps. A record of the older kind (cosines only) has none, and
    /// its relationships.md has no norm table; the chart is drawn only for the first.
    #[test]
    fn gradient_norms_by_cell_and_old_records_without_them() {
        let run = |replicate: usize, norms: [(f64, f64); 2], ratios: [Option<f64>; 2]| {
            let mut r = crate::record::test_run(
                "hard_sharing",
                replicate,
                &[("b", "mse", false, 1.0), ("a", "mse", false, 1.0)],
            );
            for (step, ((nb, na), ratio)) in norms.iter().zip(ratios).enumerate() {
                let mut cosine = row(step, "cosine", Some("b"), Some(0.5));
                cosine.task_b = Some("a".into());
                r.telemetry.push(cosine);
                r.telemetry
                    .push(row(step, "grad_norm", Some("b"), Some(*nb)));
                r.telemetry
                    .push(row(step, "grad_norm", Some("a"), Some(*na)));
                r.telemetry.push(row(step, "grad_norm_ratio", None, ratio));
            }
            r
        };
        // Replicate 1's second step has a zero gradient: its ratio is stored as null.
        let runs = [
            run(0, [(2.0, 1.0), (4.0, 1.0)], [Some(2.0), Some(4.0)]),
            run(1, [(6.0, 3.0), (0.0, 1.0)], [Some(2.0), None]),
        ];
        let refs: Vec<&RunRecord> = runs.iter().collect();
        let cells = summarize_telemetry(&refs);
        let rels = relations(&refs, &cells);
        assert_eq!(rels[0].tasks, vec!["b", "a"]);
        // b: (2 + 4 + 6 + 0)/4 = 3; a: (1 + 1 + 3 + 1)/4 = 1.5; ratio (2 + 4 + 2)/3.
        assert_eq!(rels[0].grad_norms, Some(vec![3.0, 1.5]));
        assert_eq!(rels[0].grad_norm_ratio, Some(8.0 / 3.0));
        let md = relationships_markdown("s", &rels, &[]);
        assert!(md.contains("| mean ‖gᵢ‖ | 3.000 | 1.500 |"), "{md}");
        assert!(md.contains("Mean norm ratio max ‖gᵢ‖ / min ‖gᵢ‖: 2.667"));
        let names = crate::charts::names::DisplayNames::default();
        let labels = crate::charts::Labels {
            names: &names,
            selection: &crate::selection::Selection::Last,
            tuning_budget: None,
        };
        let figures = crate::charts::figures::magnitude_figures(&refs, &rels, &labels);
        assert_eq!(figures.len(), 1);
        assert!(figures[0].0.ends_with("_grad_norms"));

        let old: Vec<RunRecord> = runs
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.telemetry.retain(|t| t.measure == "cosine");
                r
            })
            .collect();
        let refs: Vec<&RunRecord> = old.iter().collect();
        let rels = relations(&refs, &summarize_telemetry(&refs));
        assert_eq!(
            (rels[0].grad_norms.clone(), rels[0].grad_norm_ratio),
            (None, None)
        );
        assert!(rels[0].cosine.is_some());
        assert!(!relationships_markdown("s", &rels, &[]).contains("mean ‖gᵢ‖ |"));
        assert!(crate::charts::figures::magnitude_figures(&refs, &rels, &labels).is_empty());
    }
}
