//! The one-plane charts: per-task metrics by algorithm, bar panels (sorted by value, the
//! `equal` baseline marked) and the Pareto plane over the fixed-weight front.

use super::panels::{self, draw_marks, err, tick_label, Area, LegendEntry};
use super::{interval, marker_shape, Ink, TaskChart, DESC_PT, GREY, PANEL_PT, TICK_PT};
use crate::stats::Summary;
use crate::summary::MetricRow;
use plotters::prelude::*;

/// The span of `values` padded by 8% (at least `floor` wide), or (0, 1).
fn padded(values: impl Iterator<Item = f64>, floor: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(floor);
    (lo - pad, hi + pad)
}

/// The width of the y label area that fits `labels` at tick size, with the axis name.
fn y_area(ink: Ink, labels: impl Iterator<Item = String>, desc: bool) -> u32 {
    let s = ink.scale;
    labels.map(|l| s.text_width(&l, TICK_PT)).max().unwrap_or(0)
        + s.text_px(TICK_PT)
        + if desc { s.text_px(DESC_PT) * 2 } else { 0 }
}

pub(crate) fn draw_metrics<DB: DrawingBackend>(
    area: &Area<DB>,
    chart: &TaskChart,
    ink: Ink,
) -> Result<(), String> {
    let (lo, hi) = padded(
        chart.series.iter().flat_map(|(_, rows)| {
            rows.iter().flat_map(|r| {
                let (a, b) = interval(&r.stats);
                [a, b]
            })
        }),
        1e-9,
    );
    let n_tasks = chart.tasks.len();
    let direction = if chart.higher_is_better {
        "higher is better"
    } else {
        "lower is better"
    };
    let ticks: Vec<String> = (0..=5)
        .map(|i| tick_label(lo + (hi - lo) * i as f64 / 5.0, lo, hi, 5))
        .collect();
    let s = ink.scale;
    let mut ctx = ChartBuilder::on(area)
        .margin(s.text_px(4.0))
        .x_label_area_size(s.text_px(TICK_PT) * 3 / 2 + s.text_px(DESC_PT) * 3 / 2)
        .y_label_area_size(y_area(ink, ticks.into_iter(), true))
        .build_cartesian_2d(-0.5f64..(n_tasks as f64 - 0.5), lo..hi)
        .map_err(err)?;
    let tasks = chart.tasks.clone();
    let plot_h = ctx.plotting_area().dim_in_pixel().1;
    ctx.configure_mesh()
        .disable_x_mesh()
        .x_labels(n_tasks.max(1))
        .y_labels(5)
        .x_label_formatter(&move |x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < tasks.len() {
                tasks[i as usize].clone()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| tick_label(*y, lo, hi, 5))
        .x_desc("task")
        .y_desc(panels::fit_desc(
            &format!("{} ({direction})", chart.metric),
            plot_h,
            ink,
        ))
        .label_style(ink.font(TICK_PT))
        .axis_desc_style(ink.font(DESC_PT))
        .draw()
        .map_err(err)?;
    let width = 0.7;
    let k = chart.series.len().max(1) as f64;
    for (a, (_, rows)) in chart.series.iter().enumerate() {
        let color = panels::color(a);
        let offset = -width / 2.0 + width * (a as f64 + 0.5) / k;
        let at = |r: &MetricRow| {
            chart
                .task_keys
                .iter()
                .position(|t| *t == r.task)
                .unwrap_or(0) as f64
                + offset
        };
        ctx.draw_series(rows.iter().filter(|r| r.stats.ci95.is_finite()).map(|r| {
            ErrorBar::new_vertical(
                at(r),
                r.stats.mean - r.stats.ci95,
                r.stats.mean,
                r.stats.mean + r.stats.ci95,
                color.stroke_width(ink.px(1.0)),
                ink.px(3.0),
            )
        }))
        .map_err(err)?;
        let points: Vec<(f64, f64)> = rows.iter().map(|r| (at(r), r.stats.mean)).collect();
        draw_marks(&mut ctx, marker_shape(a), color, ink.px(2.0), &points)?;
    }
    Ok(())
}

/// One bar panel: a bar per algorithm (top first) with its 95% CI.
#[derive(Debug, Clone, PartialEq)]
pub struct BarPanel {
    pub title: String,
    pub x_desc: String,
    /// (display name, value); a value with n = 0 leaves its row empty.
    pub bars: Vec<(String, Summary)>,
    /// The row of the `equal` baseline: its bar grey, a dashed line at its mean.
    pub baseline: Option<usize>,
    /// Whether the rows' names are drawn (a panel beside another with the same rows
    /// leaves them out).
    pub row_names: bool,
}

/// `bars` sorted best first (by mean; rows without a value last).
pub fn sorted(mut bars: Vec<(String, Summary)>, higher_is_better: bool) -> Vec<(String, Summary)> {
    let key = |s: &Summary| {
        if s.n == 0 || !s.mean.is_finite() {
            f64::INFINITY
        } else if higher_is_better {
            -s.mean
        } else {
            s.mean
        }
    };
    bars.sort_by(|a, b| key(&a.1).total_cmp(&key(&b.1)));
    bars
}

/// Horizontal bars (one row per algorithm, long labels stay readable) from 0 to the
/// mean, with 95% CI whiskers; green above zero, vermilion below, the baseline grey.
pub(crate) fn draw_bars<DB: DrawingBackend>(
    area: &Area<DB>,
    panel: &BarPanel,
    ink: Ink,
) -> Result<(), String> {
    let shown = |s: &Summary| s.n > 0 && s.mean.is_finite();
    let (lo, hi) = padded(
        panel
            .bars
            .iter()
            .filter(|(_, s)| shown(s))
            .flat_map(|(_, s)| {
                let (a, b) = interval(s);
                [a, b]
            })
            .chain([0.0]),
        1e-6,
    );
    let n = panel.bars.len();
    // Row i (top first) is centred on y = n − 1 − i.
    let labels: Vec<String> = panel.bars.iter().rev().map(|(a, _)| a.clone()).collect();
    let y_of = |i: usize| (n - 1 - i) as f64;
    let s = ink.scale;
    let y_size = if panel.row_names {
        y_area(ink, labels.iter().cloned(), false)
    } else {
        s.text_px(TICK_PT)
    };
    let mut ctx = ChartBuilder::on(area)
        .caption(&panel.title, ink.font(PANEL_PT))
        .margin(s.text_px(4.0))
        .x_label_area_size(s.text_px(TICK_PT) * 3 / 2 + s.text_px(DESC_PT) * 3 / 2)
        .y_label_area_size(y_size)
        .build_cartesian_2d(lo..hi, -0.5f64..(n as f64 - 0.5))
        .map_err(err)?;
    let row_names = panel.row_names;
    let plot_w = ctx.plotting_area().dim_in_pixel().0;
    ctx.configure_mesh()
        .disable_y_mesh()
        .y_labels(n.max(1))
        .y_label_formatter(&move |y| {
            let i = y.round();
            if row_names && (y - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        })
        .x_desc(panels::fit_desc(&panel.x_desc, plot_w, ink))
        .x_labels(5)
        .x_label_formatter(&|x| tick_label(*x, lo, hi, 5))
        .label_style(ink.font(TICK_PT))
        .axis_desc_style(ink.font(DESC_PT))
        .draw()
        .map_err(err)?;
    ctx.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, -0.5), (0.0, n as f64 - 0.5)],
        BLACK.stroke_width(1),
    )))
    .map_err(err)?;
    ctx.draw_series(
        panel
            .bars
            .iter()
            .enumerate()
            .filter(|(_, (_, s))| shown(s))
            .map(|(i, (_, s))| {
                let color = if panel.baseline == Some(i) {
                    GREY
                } else if s.mean >= 0.0 {
                    super::PALETTE[2]
                } else {
                    super::PALETTE[5]
                };
                Rectangle::new(
                    [(0.0, y_of(i) - 0.32), (s.mean, y_of(i) + 0.32)],
                    color.mix(0.8).filled(),
                )
            }),
    )
    .map_err(err)?;
    ctx.draw_series(
        panel
            .bars
            .iter()
            .enumerate()
            .filter(|(_, (_, s))| shown(s) && s.ci95.is_finite())
            .map(|(i, (_, s))| {
                ErrorBar::new_horizontal(
                    y_of(i),
                    s.mean - s.ci95,
                    s.mean,
                    s.mean + s.ci95,
                    BLACK.stroke_width(ink.px(1.0)),
                    ink.px(4.0),
                )
            }),
    )
    .map_err(err)?;
    // The baseline's mean as a dashed line over every row.
    if let Some((_, b)) = panel.baseline.and_then(|i| panel.bars.get(i)) {
        if shown(b) && b.mean != 0.0 {
            let dash = (n as f64) / 40.0;
            let mut y = -0.5;
            while y < n as f64 - 0.5 {
                ctx.draw_series(std::iter::once(PathElement::new(
                    vec![(b.mean, y), (b.mean, (y + dash).min(n as f64 - 0.5))],
                    GREY.stroke_width(ink.px(0.8)),
                )))
                .map_err(err)?;
                y += 2.0 * dash;
            }
        }
    }
    Ok(())
}

/// Two tasks' metrics: each method with its CIs, over the fixed-weight front.
#[derive(Debug, Clone, PartialEq)]
pub struct Pareto {
    pub x_desc: String,
    pub y_desc: String,
    /// Whether higher is better on (x, y).
    pub higher: (bool, bool),
    /// (display name, x, y).
    pub points: Vec<(String, Summary, Summary)>,
    /// The fixed-weight points: (weights, x mean, y mean).
    pub front: Vec<(String, f64, f64)>,
}

/// The legend label of the front.
pub const FRONT_LABEL: &str = "fixed weights (scalarization front)";

impl Pareto {
    /// The front's points that no other front point dominates, by x.
    pub fn non_dominated(&self) -> Vec<(f64, f64)> {
        let better = |a: f64, b: f64, higher: bool| if higher { a >= b } else { a <= b };
        let dominates = |p: &(String, f64, f64), q: &(String, f64, f64)| {
            better(p.1, q.1, self.higher.0)
                && better(p.2, q.2, self.higher.1)
                && (p.1 != q.1 || p.2 != q.2)
        };
        let mut out: Vec<(f64, f64)> = self
            .front
            .iter()
            .filter(|q| !self.front.iter().any(|p| dominates(p, q)))
            .map(|q| (q.1, q.2))
            .collect();
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out.dedup();
        out
    }

    /// The legend: each method in its colour, then the front in grey.
    pub fn legend(&self) -> Vec<LegendEntry> {
        let mut entries: Vec<LegendEntry> = self
            .points
            .iter()
            .enumerate()
            .map(|(k, p)| LegendEntry {
                label: p.0.clone(),
                ..LegendEntry::series(k)
            })
            .collect();
        if !self.front.is_empty() {
            entries.push(LegendEntry {
                label: FRONT_LABEL.into(),
                color: GREY,
                shape: 0,
            });
        }
        entries
    }
}

pub(crate) fn draw_pareto<DB: DrawingBackend>(
    area: &Area<DB>,
    p: &Pareto,
    ink: Ink,
) -> Result<(), String> {
    let xs = p
        .points
        .iter()
        .flat_map(|q| {
            let (a, b) = interval(&q.1);
            [a, b]
        })
        .chain(p.front.iter().map(|f| f.1));
    let ys = p
        .points
        .iter()
        .flat_map(|q| {
            let (a, b) = interval(&q.2);
            [a, b]
        })
        .chain(p.front.iter().map(|f| f.2));
    let (x_lo, x_hi) = padded(xs, 1e-9);
    let (y_lo, y_hi) = padded(ys, 1e-9);
    let s = ink.scale;
    let ticks = (0..=5).map(|i| tick_label(y_lo + (y_hi - y_lo) * i as f64 / 5.0, y_lo, y_hi, 5));
    let mut ctx = ChartBuilder::on(area)
        .margin(s.text_px(4.0))
        .x_label_area_size(s.text_px(TICK_PT) * 3 / 2 + s.text_px(DESC_PT) * 3 / 2)
        .y_label_area_size(y_area(ink, ticks, true))
        .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
        .map_err(err)?;
    let (plot_w, plot_h) = ctx.plotting_area().dim_in_pixel();
    ctx.configure_mesh()
        .x_desc(panels::fit_desc(&p.x_desc, plot_w, ink))
        .y_desc(panels::fit_desc(&p.y_desc, plot_h, ink))
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(&|x| tick_label(*x, x_lo, x_hi, 5))
        .y_label_formatter(&|y| tick_label(*y, y_lo, y_hi, 5))
        .label_style(ink.font(TICK_PT))
        .axis_desc_style(ink.font(DESC_PT))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    if !p.front.is_empty() {
        ctx.draw_series(LineSeries::new(
            p.non_dominated(),
            GREY.stroke_width(ink.px(0.8)),
        ))
        .map_err(err)?;
        let marks: Vec<(f64, f64)> = p.front.iter().map(|f| (f.1, f.2)).collect();
        draw_marks(&mut ctx, 0, GREY, ink.px(1.6), &marks)?;
        // Each fixed-weight point with its weights, right of it; a label that would cover
        // one placed before moves down a line.
        let style = ink.font(TICK_PT).color(&GREY);
        let base = area.get_base_pixel();
        let line = s.text_px(TICK_PT) as i32 + 1;
        let mut placed: Vec<(i32, i32, i32)> = Vec::new();
        for f in &p.front {
            let (x, y) = ctx.backend_coord(&(f.1, f.2));
            let (x, mut y) = (x - base.0 + ink.px(3.0) as i32, y - base.1 - line);
            let w = s.text_width(&f.0, TICK_PT) as i32;
            while placed
                .iter()
                .any(|(px, py, pw)| (y - py).abs() < line && x < px + pw && *px < x + w)
            {
                y += line;
            }
            placed.push((x, y, w));
            area.draw(&Text::new(f.0.clone(), (x, y), style.clone()))
                .map_err(err)?;
        }
    }
    for (k, (_, a, b)) in p.points.iter().enumerate() {
        let c = panels::color(k);
        let stroke = c.stroke_width(ink.px(1.0));
        if a.ci95.is_finite() {
            ctx.draw_series([ErrorBar::new_horizontal(
                b.mean,
                a.mean - a.ci95,
                a.mean,
                a.mean + a.ci95,
                stroke,
                ink.px(3.0),
            )])
            .map_err(err)?;
        }
        if b.ci95.is_finite() {
            ctx.draw_series([ErrorBar::new_vertical(
                a.mean,
                b.mean - b.ci95,
                b.mean,
                b.mean + b.ci95,
                stroke,
                ink.px(3.0),
            )])
            .map_err(err)?;
        }
        draw_marks(
            &mut ctx,
            marker_shape(k),
            c,
            ink.px(2.5),
            &[(a.mean, b.mean)],
        )?;
    }
    Ok(())
}
