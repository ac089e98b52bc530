//! plotters charts, as SVG and PNG, drawn with the DejaVu Sans font the binary carries
//! (no system font packages needed), one Okabe–Ito palette and marker set: per-task final
//! test metric by algorithm (mean with 95% CI bars), and the figures of `figures`.

pub mod critical_difference;
pub mod figures;
pub mod panels;

use crate::stats::Summary;
use crate::store::write_atomic;
use crate::summary::{MetricRow, StudySummary, PREFERRED_METRIC};
use crate::ResultsError;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
pub(crate) const FAMILY: &str = "sans-serif";
const SIZE: (u32, u32) = (1200, 560);
/// Width of the legend panel at the right of the chart.
const LEGEND_WIDTH: u32 = 300;

/// One colour per algorithm, in order (Okabe–Ito, readable for colour-blind readers).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

pub(crate) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in; failing to parse it is a build defect, not user input.
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
            .map_err(|_| ())
            .expect("the embedded DejaVu Sans font parses");
    });
}

/// What one per-task chart shows.
pub struct TaskChart<'a> {
    pub title: String,
    pub metric: String,
    pub higher_is_better: bool,
    pub tasks: Vec<String>,
    /// (algorithm, rows of that algorithm for this metric, in task order).
    pub series: Vec<(String, Vec<&'a MetricRow>)>,
}

/// The metric a chart of a suite shows: `PREFERRED_METRIC` when present, else the first.
fn chart_metric(rows: &[&MetricRow]) -> Option<(String, bool)> {
    rows.iter()
        .find(|r| r.metric == PREFERRED_METRIC)
        .or_else(|| rows.first())
        .map(|r| (r.metric.clone(), r.higher_is_better))
}

/// One chart per (suite, fraction).
pub fn task_charts<'a>(summary: &'a StudySummary) -> Vec<(String, TaskChart<'a>)> {
    let mut charts = Vec::new();
    for (suite, fraction) in summary.sections() {
        let rows: Vec<&MetricRow> = summary
            .metrics
            .iter()
            .filter(|r| r.key.suite == suite && r.key.fraction == fraction)
            .collect();
        let Some((metric, higher_is_better)) = chart_metric(&rows) else {
            continue;
        };
        let rows: Vec<&MetricRow> = rows.into_iter().filter(|r| r.metric == metric).collect();
        let mut tasks: Vec<String> = Vec::new();
        let mut series: Vec<(String, Vec<&MetricRow>)> = Vec::new();
        for r in rows {
            if !tasks.contains(&r.task) {
                tasks.push(r.task.clone());
            }
            match series.iter_mut().find(|(a, _)| *a == r.key.algorithm) {
                Some((_, v)) => v.push(r),
                None => series.push((r.key.algorithm.clone(), vec![r])),
            }
        }
        let stem = format!(
            "{}_f{}_{}",
            sanitize(&suite),
            sanitize(&fraction),
            sanitize(&metric)
        );
        let title = format!("{suite} (fraction {fraction}): final test {metric}");
        charts.push((
            stem,
            TaskChart {
                title,
                metric,
                higher_is_better,
                tasks,
                series,
            },
        ));
    }
    charts
}

pub(crate) fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Series k's marker: circles for the first palette's worth of series, then triangles,
/// then crosses, so up to 24 series stay distinguishable.
pub(crate) fn marker_shape(series: usize) -> usize {
    (series / PALETTE.len()) % 3
}

fn draw_metrics<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &TaskChart,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for (_, rows) in &chart.series {
        for r in rows {
            let ci = if r.stats.ci95.is_finite() {
                r.stats.ci95
            } else {
                0.0
            };
            if r.stats.mean.is_finite() {
                lo = lo.min(r.stats.mean - ci);
                hi = hi.max(r.stats.mean + ci);
            }
        }
    }
    if !lo.is_finite() {
        lo = 0.0;
        hi = 1.0;
    }
    // The axis spans the data (not from zero): the comparison is between methods.
    let pad = ((hi - lo) * 0.08).max(1e-9);
    let (lo, hi) = (lo - pad, hi + pad);
    let n_tasks = chart.tasks.len();
    let direction = if chart.higher_is_better {
        "higher is better"
    } else {
        "lower is better"
    };
    let (plot, legend) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
    let mut ctx = ChartBuilder::on(&plot)
        .caption(&chart.title, (FAMILY, 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(-0.5f64..(n_tasks as f64 - 0.5), lo..hi)
        .map_err(err)?;
    let tasks = chart.tasks.clone();
    ctx.configure_mesh()
        .disable_x_mesh()
        .x_labels(n_tasks.max(1))
        .x_label_formatter(&move |x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < tasks.len() {
                tasks[i as usize].clone()
            } else {
                String::new()
            }
        })
        .x_desc("task")
        .y_desc(format!("{} ({direction}; unitless)", chart.metric))
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .draw()
        .map_err(err)?;
    let width = 0.7;
    let k = chart.series.len().max(1) as f64;
    for (a, (_, rows)) in chart.series.iter().enumerate() {
        let color = PALETTE[a % PALETTE.len()];
        let offset = -width / 2.0 + width * (a as f64 + 0.5) / k;
        let at = |r: &MetricRow| {
            chart.tasks.iter().position(|t| *t == r.task).unwrap_or(0) as f64 + offset
        };
        ctx.draw_series(rows.iter().filter(|r| r.stats.ci95.is_finite()).map(|r| {
            ErrorBar::new_vertical(
                at(r),
                r.stats.mean - r.stats.ci95,
                r.stats.mean,
                r.stats.mean + r.stats.ci95,
                color.stroke_width(2),
                8,
            )
        }))
        .map_err(err)?;
        let points = rows.iter().map(|r| (at(r), r.stats.mean));
        match marker_shape(a) {
            0 => ctx
                .draw_series(points.map(|p| Circle::new(p, 5, color.filled())))
                .map(|_| ()),
            1 => ctx
                .draw_series(points.map(|p| TriangleMarker::new(p, 7, color.filled())))
                .map(|_| ()),
            _ => ctx
                .draw_series(points.map(|p| Cross::new(p, 5, color.stroke_width(2))))
                .map(|_| ()),
        }
        .map_err(err)?;
    }
    // The legend in its own panel, so it never covers data.
    let labels: Vec<String> = chart.series.iter().map(|(a, _)| a.clone()).collect();
    panels::draw_legend(&legend, &labels)?;
    root.present().map_err(err)
}

/// A figure of the report.
pub enum Figure<'a> {
    /// Per-task final test metric by algorithm.
    Metrics(TaskChart<'a>),
    /// Line panels side by side (up to three per row) sharing one legend.
    Lines {
        title: String,
        panels: Vec<panels::LinePanel>,
        legend: Vec<String>,
    },
    /// Heatmap panels side by side.
    Heatmaps {
        title: String,
        panels: Vec<panels::HeatPanel>,
    },
    /// One bar per algorithm with its 95% CI.
    Bars {
        title: String,
        x_desc: String,
        bars: Vec<(String, Summary)>,
    },
    /// Algorithms as points in the plane of two tasks' metrics, with 95% CIs, over the
    /// scalarization front's fixed-weight means (grey, joined in order of x; may be empty).
    Pareto {
        title: String,
        x_desc: String,
        y_desc: String,
        points: Vec<(String, Summary, Summary)>,
        front: Vec<(f64, f64)>,
    },
}

impl Figure<'_> {
    /// Pixel size (also the SVG's).
    pub fn size(&self) -> (u32, u32) {
        match self {
            Figure::Metrics(_) => SIZE,
            Figure::Lines { panels, .. } => {
                let cols = panels.len().clamp(1, 3) as u32;
                let rows = panels.len().div_ceil(3).max(1) as u32;
                // A lone panel gets the width of two.
                let width = if panels.len() == 1 { 860 } else { cols * 430 };
                (width + LEGEND_WIDTH, rows * 340 + 50)
            }
            Figure::Heatmaps { panels, .. } => {
                let width: u32 = panels
                    .iter()
                    .map(|p| if p.cols.len() > 12 { 900 } else { 560 })
                    .sum();
                (width.max(560), 580)
            }
            Figure::Bars { bars, .. } => (1000, 140 + 34 * bars.len().max(4) as u32),
            Figure::Pareto { .. } => (1000, 640),
        }
    }
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, figure: &Figure) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    match figure {
        Figure::Metrics(chart) => draw_metrics(&root, chart)?,
        Figure::Lines {
            title,
            panels: line_panels,
            legend,
        } => {
            let root_t = root.titled(title, (FAMILY, 20)).map_err(err)?;
            let (w, _) = root_t.dim_in_pixel();
            let (plots, legend_area) = root_t.split_horizontally(w - LEGEND_WIDTH);
            let cols = line_panels.len().clamp(1, 3);
            let rows = line_panels.len().div_ceil(3).max(1);
            for (area, panel) in plots.split_evenly((rows, cols)).iter().zip(line_panels) {
                panels::draw_lines(area, panel)?;
            }
            panels::draw_legend(&legend_area, legend)?;
        }
        Figure::Heatmaps {
            title,
            panels: heat_panels,
        } => {
            let root_t = root.titled(title, (FAMILY, 18)).map_err(err)?;
            let widths: Vec<u32> = heat_panels
                .iter()
                .map(|p| if p.cols.len() > 12 { 900 } else { 560 })
                .collect();
            let mut rest = root_t;
            for (panel, w) in heat_panels.iter().zip(&widths) {
                let (area, next) = rest.split_horizontally(*w);
                panels::draw_heatmap(&area, panel)?;
                rest = next;
            }
        }
        Figure::Bars {
            title,
            x_desc,
            bars,
        } => draw_bars(&root, title, x_desc, bars)?,
        Figure::Pareto {
            title,
            x_desc,
            y_desc,
            points,
            front,
        } => draw_pareto(&root, title, x_desc, y_desc, points, front)?,
    }
    root.present().map_err(err)
}

/// Horizontal bars (one row per algorithm, long labels stay readable) from 0 to the
/// mean, with 95% CI whiskers; green above zero, vermilion below.
fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    bars: &[(String, Summary)],
) -> Result<(), String> {
    let ci = |s: &Summary| if s.ci95.is_finite() { s.ci95 } else { 0.0 };
    let lo = bars
        .iter()
        .map(|(_, s)| s.mean - ci(s))
        .fold(0.0f64, f64::min);
    let hi = bars
        .iter()
        .map(|(_, s)| s.mean + ci(s))
        .fold(0.0f64, f64::max);
    let pad = ((hi - lo) * 0.08).max(1e-6);
    let n = bars.len();
    // Row i (top first) is centred on y = n − 1 − i.
    let labels: Vec<String> = bars.iter().rev().map(|(a, _)| a.clone()).collect();
    let y_of = |i: usize| (n - 1 - i) as f64;
    let mut ctx = ChartBuilder::on(root)
        .caption(title, (FAMILY, 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(240)
        .build_cartesian_2d((lo - pad)..(hi + pad), -0.5f64..(n as f64 - 0.5))
        .map_err(panels::err)?;
    ctx.configure_mesh()
        .disable_y_mesh()
        .y_labels(n.max(1))
        .y_label_formatter(&move |y| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        })
        .x_desc(x_desc)
        .x_label_formatter(&|x| panels::format_tick(*x))
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 15))
        .draw()
        .map_err(panels::err)?;
    ctx.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, -0.5), (0.0, n as f64 - 0.5)],
        BLACK.stroke_width(1),
    )))
    .map_err(panels::err)?;
    ctx.draw_series(bars.iter().enumerate().map(|(i, (_, s))| {
        let color = if s.mean >= 0.0 {
            PALETTE[2]
        } else {
            PALETTE[5]
        };
        Rectangle::new(
            [(0.0, y_of(i) - 0.32), (s.mean, y_of(i) + 0.32)],
            color.mix(0.8).filled(),
        )
    }))
    .map_err(panels::err)?;
    ctx.draw_series(
        bars.iter()
            .enumerate()
            .filter(|(_, (_, s))| s.ci95.is_finite())
            .map(|(i, (_, s))| {
                ErrorBar::new_horizontal(
                    y_of(i),
                    s.mean - s.ci95,
                    s.mean,
                    s.mean + s.ci95,
                    BLACK.stroke_width(2),
                    10,
                )
            }),
    )
    .map_err(panels::err)?;
    Ok(())
}

fn draw_pareto<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    points: &[(String, Summary, Summary)],
    front: &[(f64, f64)],
) -> Result<(), String> {
    let ci = |s: &Summary| if s.ci95.is_finite() { s.ci95 } else { 0.0 };
    let span = |get: &dyn Fn(&(String, Summary, Summary)) -> Summary,
                on_front: &dyn Fn(&(f64, f64)) -> f64| {
        let lo = points
            .iter()
            .map(|p| get(p).mean - ci(&get(p)))
            .chain(front.iter().map(on_front))
            .fold(f64::INFINITY, f64::min);
        let hi = points
            .iter()
            .map(|p| get(p).mean + ci(&get(p)))
            .chain(front.iter().map(on_front))
            .fold(f64::NEG_INFINITY, f64::max);
        let pad = ((hi - lo) * 0.08).max(1e-9);
        (lo - pad)..(hi + pad)
    };
    let (w, _) = root.dim_in_pixel();
    let (plot, legend) = root.split_horizontally(w - LEGEND_WIDTH);
    let mut ctx = ChartBuilder::on(&plot)
        .caption(title, (FAMILY, 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(span(&|p| p.1, &|f| f.0), span(&|p| p.2, &|f| f.1))
        .map_err(panels::err)?;
    ctx.configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|x| panels::format_tick(*x))
        .y_label_formatter(&|y| panels::format_tick(*y))
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 15))
        .draw()
        .map_err(panels::err)?;
    if !front.is_empty() {
        let grey = RGBColor(150, 150, 150);
        let mut line = front.to_vec();
        line.sort_by(|a, b| a.0.total_cmp(&b.0));
        ctx.draw_series(LineSeries::new(line.clone(), grey.stroke_width(1)))
            .map_err(panels::err)?;
        ctx.draw_series(line.iter().map(|p| Circle::new(*p, 4, grey.filled())))
            .map_err(panels::err)?;
    }
    for (k, (_, a, b)) in points.iter().enumerate() {
        let c = panels::color(k);
        ctx.draw_series([ErrorBar::new_horizontal(
            b.mean,
            a.mean - ci(a),
            a.mean,
            a.mean + ci(a),
            c.stroke_width(2),
            8,
        )])
        .map_err(panels::err)?;
        ctx.draw_series([ErrorBar::new_vertical(
            a.mean,
            b.mean - ci(b),
            b.mean,
            b.mean + ci(b),
            c.stroke_width(2),
            8,
        )])
        .map_err(panels::err)?;
        let at = (a.mean, b.mean);
        match marker_shape(k) {
            0 => ctx
                .draw_series([Circle::new(at, 6, c.filled())])
                .map(|_| ()),
            1 => ctx
                .draw_series([TriangleMarker::new(at, 8, c.filled())])
                .map(|_| ()),
            _ => ctx
                .draw_series([Cross::new(at, 6, c.stroke_width(2))])
                .map(|_| ()),
        }
        .map_err(panels::err)?;
    }
    let mut labels: Vec<String> = points.iter().map(|p| p.0.clone()).collect();
    if !front.is_empty() {
        labels.push("grey: fixed weights (scalarization front)".into());
    }
    panels::draw_legend(&legend, &labels)
}

/// Draws `figure` as `<dir>/<stem>.svg` and `<dir>/<stem>.png`; returns both paths.
pub fn write_figure(dir: &Path, stem: &str, figure: &Figure) -> Result<Vec<PathBuf>, ResultsError> {
    register_font();
    let size = figure.size();
    let svg_path = dir.join(format!("{stem}.svg"));
    let mut svg = String::new();
    draw(
        SVGBackend::with_string(&mut svg, size).into_drawing_area(),
        figure,
    )
    .map_err(|message| ResultsError::Chart {
        path: svg_path.clone(),
        message,
    })?;
    write_atomic(&svg_path, svg.as_bytes())?;

    let png_path = dir.join(format!("{stem}.png"));
    let tmp = dir.join(format!(".{stem}.tmp-{}.png", std::process::id()));
    draw(BitMapBackend::new(&tmp, size).into_drawing_area(), figure).map_err(|message| {
        ResultsError::Chart {
            path: png_path.clone(),
            message,
        }
    })?;
    std::fs::rename(&tmp, &png_path).map_err(|e| ResultsError::io(&png_path, e))?;
    Ok(vec![svg_path, png_path])
}
