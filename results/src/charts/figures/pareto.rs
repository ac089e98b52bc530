//! The Pareto plane of two-task sections: each method's two test metrics with CI crosses,
//! over the fixed-weight scalarization front through its non-dominated points.

use super::{direction, section_stem};
use crate::charts::plots::Pareto;
use crate::charts::{Body, Figure, Labels};
use crate::summary::{shown_metrics, StudySummary};

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
