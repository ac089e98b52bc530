//! The scalarization front and each method's hypervolume against it (Kurin et al. 2022,
//! "In Defense of the Unitary Scalarization"; Xin et al. 2022): the fixed-weight runs of a
//! study's `scalarization` option are the baseline every method is drawn against.
//!
//! Per (suite, fraction): each fixed weighting's and each method's mean final test value of
//! every task's primary metric (± 95% CI over replicates). Hypervolumes are taken in the
//! space where every axis is oriented so that higher is better and rescaled so that the
//! reference point, 10% of the axis's span beyond the worst mean of the section (the
//! front's and the methods'), is 0 and the best mean is 1. Reported per method: the
//! hypervolume of its point alone; its gain beyond the front, HV(front ∪ {method}) −
//! HV(front) (0 when the front dominates the point); and the fixed weighting that dominates
//! it, if one does. Every point, fixed weighting or method, also carries the worst task's
//! gain and the spread of the per-task gains on the front's axes against the same
//! replicate's `single_task` run (docs/FORMULAS.md#worst-task-and-balance), over replicates.

use crate::balance::{gain_spread, worst_task_gain};
use crate::record::{RunKind, RunRecord};
use crate::stats::{summarize, Summary};
use crate::summary::{format_fraction, BASELINE_ARCHITECTURE};
use crate::tables::{GAIN_SPREAD_LABEL, WORST_TASK_LABEL};
use crate::transfer::{task_gains, FinalTest};
use std::collections::BTreeMap;

/// How far beyond the worst mean of each axis the reference point lies, as a share of the
/// axis's span: a point that is worst on one axis still has volume (and can add to the
/// front's) through the others.
pub const MARGIN: f64 = 0.1;

/// A point of a section: a fixed weighting or a method, with each axis's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontPoint {
    pub label: String,
    pub axes: Vec<Summary>,
    /// 100 · minₜ gainₜ on the axes against the same replicate's `single_task` run, over
    /// the replicates that have one (n = 0 without any).
    pub worst_task: Summary,
    /// 100 · the population standard deviation over tasks of gainₜ, likewise.
    pub gain_spread: Summary,
}

/// What a point gathers over replicates: whether it is on the front, each axis's values,
/// and the worst-task gains and gain spreads of the replicates with a baseline.
#[derive(Default)]
struct Gathered {
    front: bool,
    axes: Vec<Vec<f64>>,
    worst: Vec<f64>,
    spread: Vec<f64>,
}

/// One method's hypervolume figures.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodVolume {
    pub label: String,
    pub hypervolume: f64,
    /// HV(front ∪ {method}) − HV(front): how much the method adds beyond the front.
    pub beyond_front: f64,
    /// The fixed weighting whose mean point dominates the method's, if any (the first).
    pub dominated_by: Option<String>,
}

/// The front of one (suite, fraction) with the methods drawn against it.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontSection {
    pub suite: String,
    pub fraction: String,
    /// The study's training settings (canonical JSON) the section's runs share.
    pub training: String,
    /// The axes: (task, metric, higher is better).
    pub axes: Vec<(String, String, bool)>,
    pub front: Vec<FrontPoint>,
    pub methods: Vec<FrontPoint>,
    pub front_volume: f64,
    pub volumes: Vec<MethodVolume>,
}

/// The sections of every (suite, fraction) that has fixed-weight runs, from ok runs with
/// their selected test points.
pub fn front_sections(runs: &[RunRecord]) -> Vec<FrontSection> {
    // (suite, fraction) → label → what the point gathers over replicates.
    type Points = BTreeMap<String, Gathered>;
    type Axes = Vec<(String, String, bool)>;
    // Keyed by (suite, fraction, the study's training settings): a training grid's
    // settings each get their own front.
    let mut sections: BTreeMap<(String, String, String), (Axes, Points)> = BTreeMap::new();
    let relevant = runs
        .iter()
        .filter(|r| r.is_ok() && matches!(r.kind, RunKind::Ordinary | RunKind::Scalarization));
    // The axes come from the front's runs: each task's first primary metric.
    let key_of = |run: &RunRecord| {
        (
            run.suite.clone(),
            format_fraction(run.fraction),
            run.comparison_training().to_string(),
        )
    };
    for run in relevant
        .clone()
        .filter(|r| r.kind == RunKind::Scalarization)
    {
        let key = key_of(run);
        let entry = sections.entry(key).or_default();
        if entry.0.is_empty() {
            let mut axes: Vec<(String, String, bool)> = Vec::new();
            for (task, metric) in run.primary_metric_keys() {
                if axes.iter().any(|(t, _, _)| *t == task) {
                    continue;
                }
                let hib = run
                    .points
                    .iter()
                    .find(|p| p.task == task && p.metric == metric)
                    .is_some_and(|p| p.higher_is_better);
                axes.push((task, metric, hib));
            }
            entry.0 = axes;
        }
    }
    // A run's final test values on the axes, as the transfer measures read them.
    let on_axes = |run: &RunRecord, axes: &[(String, String, bool)]| -> Option<FinalTest> {
        let mut values = BTreeMap::new();
        for (task, metric, hib) in axes {
            let p = run
                .final_test()
                .find(|p| p.task == *task && p.metric == *metric)?;
            values.insert((task.clone(), metric.clone()), (p.value, *hib));
        }
        Some(FinalTest {
            values,
            tasks: axes.iter().map(|a| a.0.clone()).collect(),
        })
    };
    // The `single_task` runs by (section, replicate): each point's paired baseline.
    let mut baselines: BTreeMap<((String, String, String), usize), FinalTest> = BTreeMap::new();
    for run in relevant
        .clone()
        .filter(|r| r.kind == RunKind::Ordinary && r.architecture == BASELINE_ARCHITECTURE)
    {
        let key = key_of(run);
        if let Some(values) = sections.get(&key).and_then(|s| on_axes(run, &s.0)) {
            baselines.insert((key, run.replicate), values);
        }
    }
    for run in relevant {
        let key = key_of(run);
        let baseline = baselines.get(&(key.clone(), run.replicate));
        let Some((axes, points)) = sections.get_mut(&key) else {
            continue;
        };
        let Some(values) = on_axes(run, axes) else {
            continue;
        };
        let entry = points
            .entry(run.algorithm.clone())
            .or_insert_with(|| Gathered {
                front: run.kind == RunKind::Scalarization,
                axes: vec![Vec::new(); axes.len()],
                ..Gathered::default()
            });
        for (a, (task, metric, _)) in axes.iter().enumerate() {
            entry.axes[a].push(values.values[&(task.clone(), metric.clone())].0);
        }
        if let Some(baseline) = baseline {
            let gains: Vec<f64> = task_gains(&values, baseline)
                .into_iter()
                .map(|(_, g)| g)
                .collect();
            entry.worst.extend(worst_task_gain(&gains));
            entry.spread.extend(gain_spread(&gains));
        }
    }
    sections
        .into_iter()
        .filter(|(_, (axes, _))| !axes.is_empty())
        .map(|((suite, fraction, training), (axes, points))| {
            let summarise = |(label, point): (&String, &Gathered)| FrontPoint {
                label: label.clone(),
                axes: point.axes.iter().map(|v| summarize(v)).collect(),
                worst_task: summarize(&point.worst),
                gain_spread: summarize(&point.spread),
            };
            let front: Vec<FrontPoint> = points
                .iter()
                .filter(|(_, p)| p.front)
                .map(summarise)
                .collect();
            let methods: Vec<FrontPoint> = points
                .iter()
                .filter(|(_, p)| !p.front)
                .map(summarise)
                .collect();
            let higher: Vec<bool> = axes.iter().map(|a| a.2).collect();
            let (front_volume, volumes) = volumes(&front, &methods, &higher);
            FrontSection {
                suite,
                fraction,
                training,
                axes,
                front,
                methods,
                front_volume,
                volumes,
            }
        })
        .collect()
}

/// The front's hypervolume and each method's figures (see the module doc).
fn volumes(
    front: &[FrontPoint],
    methods: &[FrontPoint],
    higher: &[bool],
) -> (f64, Vec<MethodVolume>) {
    let oriented = |p: &FrontPoint| -> Vec<f64> {
        p.axes
            .iter()
            .zip(higher)
            .map(|(s, h)| if *h { s.mean } else { -s.mean })
            .collect()
    };
    let all: Vec<Vec<f64>> = front.iter().chain(methods).map(oriented).collect();
    let d = higher.len();
    let lo: Vec<f64> = (0..d)
        .map(|a| all.iter().map(|p| p[a]).fold(f64::INFINITY, f64::min))
        .collect();
    let hi: Vec<f64> = (0..d)
        .map(|a| all.iter().map(|p| p[a]).fold(f64::NEG_INFINITY, f64::max))
        .collect();
    let scale = |p: Vec<f64>| -> Vec<f64> {
        p.iter()
            .enumerate()
            .map(|(a, v)| {
                let span = hi[a] - lo[a];
                if span > 0.0 {
                    ((v - lo[a]) / span + MARGIN) / (1.0 + MARGIN)
                } else {
                    1.0
                }
            })
            .collect()
    };
    let front_scaled: Vec<Vec<f64>> = front.iter().map(|p| scale(oriented(p))).collect();
    let front_volume = hypervolume(&front_scaled);
    let volumes = methods
        .iter()
        .map(|m| {
            let raw = oriented(m);
            let point = scale(raw.clone());
            let mut with = front_scaled.clone();
            with.push(point.clone());
            let dominated_by = front
                .iter()
                .find(|f| dominates(&oriented(f), &raw))
                .map(|f| f.label.clone());
            MethodVolume {
                label: m.label.clone(),
                hypervolume: hypervolume(std::slice::from_ref(&point)),
                beyond_front: (hypervolume(&with) - front_volume).max(0.0),
                dominated_by,
            }
        })
        .collect();
    (front_volume, volumes)
}

/// Whether `a` dominates `b` (both oriented so that higher is better): no worse on every
/// axis and better on one.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x >= y) && a.iter().zip(b).any(|(x, y)| x > y)
}

/// The volume of the union of the boxes [0, p] over `points` (every coordinate ≥ 0 counts;
/// negative ones are clipped to 0), in 1, 2 or 3 dimensions: exact, by sweeping the last
/// axis and summing 2-D slices.
pub fn hypervolume(points: &[Vec<f64>]) -> f64 {
    let clipped: Vec<Vec<f64>> = points
        .iter()
        .map(|p| p.iter().map(|v| v.max(0.0)).collect())
        .collect();
    match clipped.first().map_or(0, Vec::len) {
        0 => 0.0,
        1 => clipped.iter().map(|p| p[0]).fold(0.0, f64::max),
        2 => area(&clipped.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>()),
        3 => {
            let mut levels: Vec<f64> = clipped.iter().map(|p| p[2]).collect();
            levels.sort_by(|a, b| b.total_cmp(a));
            levels.dedup();
            let mut volume = 0.0;
            for (k, &z) in levels.iter().enumerate() {
                let below = levels.get(k + 1).copied().unwrap_or(0.0);
                let slice: Vec<(f64, f64)> = clipped
                    .iter()
                    .filter(|p| p[2] >= z)
                    .map(|p| (p[0], p[1]))
                    .collect();
                volume += (z - below) * area(&slice);
            }
            volume
        }
        d => panic!("hypervolume in {d} dimensions: the front takes 2 or 3 tasks"),
    }
}

/// The area of the union of the rectangles [0, x] × [0, y].
fn area(points: &[(f64, f64)]) -> f64 {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.total_cmp(&a.1)));
    let (mut area, mut top) = (0.0, 0.0);
    for (x, y) in sorted {
        if y > top {
            area += x * (y - top);
            top = y;
        }
    }
    area
}

/// `front.md`: per section the front's hypervolume and, per method, its point, its
/// hypervolume, its gain beyond the front and the fixed weighting that dominates it.
pub fn front_markdown(study: &str, sections: &[FrontSection], caption: &str) -> String {
    use std::fmt::Write as _;
    let mut md = format!(
        "# {study}: the scalarization front\n\n{caption} Fixed task weights on a grid over the simplex (`static`, Σw = T; the study's `scalarization`), against which every method is drawn (Kurin et al. 2022; Xin et al. 2022). Values: mean ± 95% CI over replicates of each task's primary test metric. Hypervolumes are taken with every axis oriented so that higher is better and rescaled so that the best mean of the section is 1 and the reference point, 10% of the axis's span beyond the worst mean, is 0; HV = the method's point alone; beyond front = HV(front ∪ method) − HV(front), 0 when the front dominates the method. Worst task and spread (docs/FORMULAS.md#worst-task-and-balance): per replicate, on these axes against the same replicate's `single_task` run, the smallest per-task relative gain and the population standard deviation of the per-task gains, in %; mean ± 95% CI over replicates (– without a `single_task` run).\n"
    );
    for s in sections {
        let axis = |(task, metric, hib): &(String, String, bool)| {
            format!("{task} {metric} {}", if *hib { "↑" } else { "↓" })
        };
        // A training grid gives several sections of one suite and fraction.
        let several = sections
            .iter()
            .filter(|o| o.suite == s.suite && o.fraction == s.fraction)
            .count()
            > 1;
        let training = if several {
            format!(" · training {}", s.training)
        } else {
            String::new()
        };
        let _ = writeln!(
            md,
            "\n## {} (training fraction {}){training}\n\nHypervolume of the front ({} fixed weightings): {:.4}\n",
            s.suite,
            s.fraction,
            s.front.len(),
            s.front_volume
        );
        let header: Vec<String> = s.axes.iter().map(axis).collect();
        let balance = format!("{WORST_TASK_LABEL} ↑ | {GAIN_SPREAD_LABEL} ↓");
        let _ = writeln!(
            md,
            "| method | {} | HV | beyond front | dominated by | {balance} |\n|---|{}---:|---:|---|---:|---:|",
            header.join(" | "),
            "---:|".repeat(s.axes.len())
        );
        for (m, v) in s.methods.iter().zip(&s.volumes) {
            let values: Vec<String> = m.axes.iter().map(cell).collect();
            let _ = writeln!(
                md,
                "| {} | {} | {:.4} | {:.4} | {} | {} | {} |",
                m.label,
                values.join(" | "),
                v.hypervolume,
                v.beyond_front,
                v.dominated_by.as_deref().unwrap_or("–"),
                gain_cell(&m.worst_task),
                gain_cell(&m.gain_spread)
            );
        }
        let _ = writeln!(
            md,
            "\nThe front:\n\n| fixed weighting | {} | {balance} |\n|---|{}---:|---:|",
            header.join(" | "),
            "---:|".repeat(s.axes.len())
        );
        for f in &s.front {
            let values: Vec<String> = f.axes.iter().map(cell).collect();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                f.label,
                values.join(" | "),
                gain_cell(&f.worst_task),
                gain_cell(&f.gain_spread)
            );
        }
    }
    md
}

/// `front.csv` (long: one row per point and axis, then per point its worst task's gain and
/// gain spread under task `(all)` when it has a `single_task` pairing) and
/// `front_volumes.csv` (one row per method; its worst task's gain and gain spread appended)
/// of `sections`.
pub fn front_frames(
    sections: &[FrontSection],
) -> Result<(polars::prelude::DataFrame, polars::prelude::DataFrame), polars::prelude::PolarsError>
{
    use crate::tables::col;
    use polars::prelude::DataFrame;
    let mut points: Vec<(&FrontSection, &str, &FrontPoint)> = Vec::new();
    for s in sections {
        points.extend(s.front.iter().map(|p| (s, "fixed_weights", p)));
        points.extend(s.methods.iter().map(|p| (s, "method", p)));
    }
    // (section, kind, point, task, metric, higher is better, summary).
    type Row<'a> = (
        &'a FrontSection,
        &'a str,
        &'a FrontPoint,
        &'a str,
        &'a str,
        bool,
        Summary,
    );
    let mut rows: Vec<Row> = Vec::new();
    for (s, kind, p) in points {
        rows.extend(
            s.axes
                .iter()
                .zip(&p.axes)
                .map(|((task, metric, hib), stats)| {
                    (s, kind, p, task.as_str(), metric.as_str(), *hib, *stats)
                }),
        );
        for (name, hib, stats) in [
            (WORST_TASK_LABEL, true, p.worst_task),
            (GAIN_SPREAD_LABEL, false, p.gain_spread),
        ] {
            if stats.n > 0 {
                rows.push((s, kind, p, "(all)", name, hib, stats));
            }
        }
    }
    let text = |f: &dyn Fn(&Row) -> String| -> Vec<String> { rows.iter().map(f).collect() };
    let num = |f: &dyn Fn(&Row) -> f64| -> Vec<f64> { rows.iter().map(f).collect() };
    let long = DataFrame::new_infer_height(vec![
        col("suite", text(&|r| r.0.suite.clone())),
        col(
            "fraction",
            num(&|r| r.0.fraction.parse().unwrap_or(f64::NAN)),
        ),
        col("kind", text(&|r| r.1.to_string())),
        col("label", text(&|r| r.2.label.clone())),
        col("task", text(&|r| r.3.to_string())),
        col("metric", text(&|r| r.4.to_string())),
        col(
            "higher_is_better",
            rows.iter().map(|r| r.5).collect::<Vec<_>>(),
        ),
        col("n", rows.iter().map(|r| r.6.n as u64).collect::<Vec<_>>()),
        col("mean", num(&|r| r.6.mean)),
        col("ci95", num(&|r| r.6.ci95)),
    ])?;
    let volumes: Vec<(&FrontSection, &MethodVolume)> = sections
        .iter()
        .flat_map(|s| s.volumes.iter().map(move |v| (s, v)))
        .collect();
    // The method point of each volume (the two lists are built in the same order).
    let method_points: Vec<&FrontPoint> = sections.iter().flat_map(|s| &s.methods).collect();
    let balance = |pick: fn(&FrontPoint) -> f64| -> Vec<f64> {
        method_points.iter().map(|p| pick(p)).collect()
    };
    let wide = DataFrame::new_infer_height(vec![
        col(
            "suite",
            volumes
                .iter()
                .map(|(s, _)| s.suite.clone())
                .collect::<Vec<_>>(),
        ),
        col(
            "fraction",
            volumes
                .iter()
                .map(|(s, _)| s.fraction.parse().unwrap_or(f64::NAN))
                .collect::<Vec<f64>>(),
        ),
        col(
            "method",
            volumes
                .iter()
                .map(|(_, v)| v.label.clone())
                .collect::<Vec<_>>(),
        ),
        col(
            "hypervolume",
            volumes
                .iter()
                .map(|(_, v)| v.hypervolume)
                .collect::<Vec<_>>(),
        ),
        col(
            "beyond_front",
            volumes
                .iter()
                .map(|(_, v)| v.beyond_front)
                .collect::<Vec<_>>(),
        ),
        col(
            "dominated_by",
            volumes
                .iter()
                .map(|(_, v)| v.dominated_by.clone().unwrap_or_default())
                .collect::<Vec<_>>(),
        ),
        col(
            "front_hypervolume",
            volumes
                .iter()
                .map(|(s, _)| s.front_volume)
                .collect::<Vec<_>>(),
        ),
        col("worst_task_gain_pct_mean", balance(|p| p.worst_task.mean)),
        col("worst_task_gain_pct_ci95", balance(|p| p.worst_task.ci95)),
        col("task_gain_spread_pct_mean", balance(|p| p.gain_spread.mean)),
        col("task_gain_spread_pct_ci95", balance(|p| p.gain_spread.ci95)),
    ])?;
    Ok((long, wide))
}

/// A worst-task gain or gain spread (in %): mean ± 95% CI, or – without a pairing.
fn gain_cell(s: &Summary) -> String {
    if s.n == 0 {
        "–".into()
    } else {
        crate::tables::format_estimate(s.mean, s.ci95)
    }
}

fn cell(s: &Summary) -> String {
    if s.ci95.is_finite() {
        format!("{:.4} ± {:.4}", s.mean, s.ci95)
    } else {
        format!("{:.4}", s.mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Areas and volumes by hand: two overlapping rectangles, a staircase of three, and
    /// boxes in 3-D whose union is counted by inclusion–exclusion.
    #[test]
    fn hypervolumes_by_hand() {
        // [0,1]×[0,0.5] ∪ [0,0.5]×[0,1]: 0.5 + 0.5 − 0.25.
        assert!((hypervolume(&[vec![1.0, 0.5], vec![0.5, 1.0]]) - 0.75).abs() < 1e-15);
        // A dominated point adds nothing; a negative coordinate is clipped.
        let stairs = vec![
            vec![0.2, 1.0],
            vec![0.6, 0.7],
            vec![1.0, 0.1],
            vec![0.5, 0.5],
            vec![-1.0, 2.0],
        ];
        let expected = 0.2 * 1.0 + (0.6 - 0.2) * 0.7 + (1.0 - 0.6) * 0.1;
        assert!((hypervolume(&stairs) - expected).abs() < 1e-15);
        // 3-D: A = [1,1,0.5], B = [0.5,0.5,1]: 0.5 + 0.25 − 0.5·0.5·0.5.
        let boxes = vec![vec![1.0, 1.0, 0.5], vec![0.5, 0.5, 1.0]];
        assert!((hypervolume(&boxes) - (0.5 + 0.25 - 0.125)).abs() < 1e-15);
        // Three boxes each sticking out along one axis: inclusion–exclusion.
        let c = vec![
            vec![1.0, 0.5, 0.5],
            vec![0.5, 1.0, 0.5],
            vec![0.5, 0.5, 1.0],
        ];
        let union = 3.0 * 0.25 - 3.0 * 0.125 + 0.125;
        assert!((hypervolume(&c) - union).abs() < 1e-15);
    }

    /// The volume of the union of the boxes [0, p] by inclusion–exclusion, independent of
    /// the sweep: Σ over non-empty subsets S of (−1)^(|S|+1) Πₐ min_{p∈S} max(pₐ, 0).
    fn union_volume(points: &[Vec<f64>]) -> f64 {
        let d = points.first().map_or(0, Vec::len);
        (1u32..1 << points.len())
            .map(|subset| {
                let members: Vec<&Vec<f64>> = points
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| subset >> i & 1 == 1)
                    .map(|(_, p)| p)
                    .collect();
                let corner: f64 = (0..d)
                    .map(|a| {
                        members
                            .iter()
                            .map(|p| p[a].max(0.0))
                            .fold(f64::INFINITY, f64::min)
                    })
                    .product();
                if subset.count_ones() % 2 == 1 {
                    corner
                } else {
                    -corner
                }
            })
            .sum()
    }

    /// The sweep's hypervolume equals inclusion–exclusion on seeded point sets in 1, 2 and
    /// 3 dimensions: up to 9 points, with ties, dominated points and negative coordinates.
    #[test]
    fn hypervolume_matches_inclusion_exclusion() {
        // A fixed linear congruential stream: values on a grid of 1/16 (ties) in [−0.25, 1).
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) % 20) as f64 / 16.0 - 0.25
        };
        for d in 1..=3 {
            for n in 1..=9 {
                for _ in 0..20 {
                    let points: Vec<Vec<f64>> =
                        (0..n).map(|_| (0..d).map(|_| next()).collect()).collect();
                    let (got, want) = (hypervolume(&points), union_volume(&points));
                    assert!((got - want).abs() < 1e-12, "{points:?}: {got} vs {want}");
                }
            }
        }
    }

    fn point(label: &str, means: &[f64]) -> FrontPoint {
        FrontPoint {
            label: label.into(),
            axes: means
                .iter()
                .map(|m| Summary {
                    n: 3,
                    mean: *m,
                    std: 0.0,
                    ci95: 0.0,
                })
                .collect(),
            worst_task: summarize(&[]),
            gain_spread: summarize(&[]),
        }
    }

    /// A method beyond the front gains volume; one inside it gains none and names the
    /// fixed weighting that dominates it. Axis 2 is an error (lower is better).
    #[test]
    fn methods_against_the_front() {
        let front = vec![
            point("w=0,2", &[0.6, 0.1]),
            point("w=1,1", &[0.8, 0.3]),
            point("w=2,0", &[0.9, 0.5]),
        ];
        let methods = vec![
            point("inside", &[0.7, 0.35]),
            point("beyond", &[0.9, 0.2]),
            point("worst on one axis", &[0.55, 0.05]),
        ];
        let (front_volume, v) = volumes(&front, &methods, &[true, false]);
        // Oriented and rescaled: accuracy spans 0.55–0.9, error 0.05–0.5 (lower is better);
        // the reference point lies 10% of each span beyond the worst.
        let x = |acc: f64| ((acc - 0.55) / 0.35 + 0.1) / 1.1;
        let y = |err: f64| ((0.5 - err) / 0.45 + 0.1) / 1.1;
        let f = vec![
            vec![x(0.6), y(0.1)],
            vec![x(0.8), y(0.3)],
            vec![x(0.9), y(0.5)],
        ];
        // The expected volumes by inclusion–exclusion (not by the sweep under test).
        let with = |p: Vec<f64>| {
            let mut all = f.clone();
            all.push(p);
            union_volume(&all) - union_volume(&f)
        };
        assert!(
            (front_volume - union_volume(&f)).abs() < 1e-12,
            "{front_volume}"
        );
        assert_eq!(v[0].dominated_by.as_deref(), Some("w=1,1"));
        assert!(v[0].beyond_front.abs() < 1e-12);
        // beyond, at (x(0.9), y(0.2)), adds the part of its box the front lacks.
        let beyond = vec![x(0.9), y(0.2)];
        assert!(v[1].dominated_by.is_none());
        assert!((v[1].beyond_front - with(beyond.clone())).abs() < 1e-12);
        assert!(v[1].beyond_front > 0.0);
        assert!((v[1].hypervolume - beyond[0] * beyond[1]).abs() < 1e-12);
        // Worst on accuracy yet best on error and undominated: it keeps volume and adds some.
        let worst = vec![x(0.55), y(0.05)];
        assert!(v[2].dominated_by.is_none());
        assert!((v[2].hypervolume - worst[0] * worst[1]).abs() < 1e-12);
        assert!((v[2].beyond_front - with(worst)).abs() < 1e-12);
        assert!(v[2].beyond_front > 0.0, "{:?}", v[2]);
    }

    /// A training grid's settings each get their own front, with the methods trained
    /// under the same settings.
    #[test]
    fn each_training_setting_has_its_own_front() {
        use crate::record::test_run;
        let run = |algorithm: &str, training: &str, front: bool, values: [f64; 2]| {
            let mut r = test_run(
                "hard_sharing",
                0,
                &[
                    ("a", "accuracy", true, values[0]),
                    ("b", "accuracy", true, values[1]),
                ],
            );
            r.algorithm = algorithm.into();
            r.training = training.into();
            r.kind = if front {
                RunKind::Scalarization
            } else {
                RunKind::Ordinary
            };
            r
        };
        let runs = vec![
            run("hard_sharing+static w=0,2 lr=0.1", "A", true, [0.5, 0.9]),
            run("hard_sharing+static w=2,0 lr=0.1", "A", true, [0.9, 0.5]),
            run("hard_sharing+static w=0,2 lr=0.2", "B", true, [0.4, 0.6]),
            run("hard_sharing+static w=2,0 lr=0.2", "B", true, [0.6, 0.4]),
            run("hard_sharing+mgda lr=0.1", "A", false, [0.8, 0.8]),
            run("hard_sharing+mgda lr=0.2", "B", false, [0.5, 0.5]),
        ];
        let sections = front_sections(&runs);
        assert_eq!(sections.len(), 2);
        for s in &sections {
            assert_eq!(s.front.len(), 2);
            assert_eq!(s.methods.len(), 1);
            assert!(s.methods[0]
                .label
                .ends_with(if s.training == "A" { "0.1" } else { "0.2" }));
        }
    }

    /// Each fixed weighting and each method carries its worst task's gain and gain spread
    /// against the same replicate's `single_task` run, on the front's axes. By hand, two
    /// replicates of baselines (a 0.8, b 0.5) and (a 0.5, b 0.8), accuracies:
    /// w=2,0 at (0.88, 0.4) then (0.55, 0.64): gains (+10 %, −20 %) then (+10 %, −20 %):
    /// worst −20 both times, spread 15 both times (CI 0); the method at (0.8, 0.55) then
    /// (0.6, 0.8): gains (0, +10 %) then (+20 %, 0): worst 0, spread 5 then 10.
    #[test]
    fn points_carry_worst_task_and_spread() {
        use crate::record::test_run;
        let run = |arch: &str, algorithm: &str, replicate, front: bool, values: [f64; 2]| {
            let mut r = test_run(
                arch,
                replicate,
                &[
                    ("a", "accuracy", true, values[0]),
                    ("b", "accuracy", true, values[1]),
                ],
            );
            r.algorithm = algorithm.into();
            r.kind = if front {
                RunKind::Scalarization
            } else {
                RunKind::Ordinary
            };
            r
        };
        let runs = vec![
            run("single_task", "single_task+equal", 0, false, [0.8, 0.5]),
            run("single_task", "single_task+equal", 1, false, [0.5, 0.8]),
            run(
                "hard_sharing",
                "hard_sharing+static w=2,0",
                0,
                true,
                [0.88, 0.4],
            ),
            run(
                "hard_sharing",
                "hard_sharing+static w=2,0",
                1,
                true,
                [0.55, 0.64],
            ),
            run("hard_sharing", "hard_sharing+mgda", 0, false, [0.8, 0.55]),
            run("hard_sharing", "hard_sharing+mgda", 1, false, [0.6, 0.8]),
        ];
        let sections = front_sections(&runs);
        let close = |x: f64, y: f64| (x - y).abs() < 1e-9;
        let front = &sections[0].front[0];
        assert_eq!(front.worst_task.n, 2);
        assert!(close(front.worst_task.mean, -20.0) && close(front.worst_task.ci95, 0.0));
        assert!(
            close(front.gain_spread.mean, 15.0),
            "{:?}",
            front.gain_spread
        );
        let mgda = sections[0]
            .methods
            .iter()
            .find(|m| m.label == "hard_sharing+mgda")
            .unwrap();
        assert!(close(mgda.worst_task.mean, 0.0) && close(mgda.worst_task.std, 0.0));
        assert!(close(mgda.gain_spread.mean, 7.5), "{:?}", mgda.gain_spread);
        assert!(close(mgda.gain_spread.std, 5.0 / 2f64.sqrt()));
        let md = front_markdown("s", &sections, "");
        assert!(md.contains("| hard_sharing+static w=2,0 | 0.7150 ± 2.0965 | 0.5200 ± 1.5247 | -20.000 ± 0.000 | 15.000 ± 0.000 |"), "{md}");
        let (long, wide) = front_frames(&sections).unwrap();
        // Two axes and the two balance rows for each of the three points.
        assert_eq!(long.height(), 3 * 4);
        assert_eq!(
            wide.get_column_names().last().unwrap().as_str(),
            "task_gain_spread_pct_ci95"
        );
    }
}
