//! The bar charts of selected test values: each method's Δp against single task beside
//! its paired difference to `equal`, and the worst task's gain and the gain spread; bars
//! sorted best first with the `equal` baseline marked.

use super::section_stem;
use crate::charts::plots::{sorted, BarPanel};
use crate::charts::{Body, Figure, Labels};
use crate::stats::Summary;
use crate::summary::StudySummary;
use crate::transfer::DeltaVariant;

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
