//! plotters charts, as SVG and PNG, drawn with the DejaVu Sans font the binary carries
//! (no system font packages needed): per-task final test metric by algorithm, mean with
//! 95% CI bars.

use crate::store::write_atomic;
use crate::summary::{MetricRow, StudySummary, PREFERRED_METRIC};
use crate::ResultsError;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";
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

fn register_font() {
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

fn sanitize(s: &str) -> String {
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
fn marker_shape(series: usize) -> usize {
    (series / PALETTE.len()) % 3
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, chart: &TaskChart) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
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
    for (a, (algorithm, _)) in chart.series.iter().enumerate() {
        let color = PALETTE[a % PALETTE.len()];
        let y = 48 + 20 * a as i32;
        match marker_shape(a) {
            0 => legend.draw(&Circle::new((16, y), 5, color.filled())),
            1 => legend.draw(&TriangleMarker::new((16, y), 7, color.filled())),
            _ => legend.draw(&Cross::new((16, y), 5, color.stroke_width(2))),
        }
        .map_err(err)?;
        legend
            .draw(&Text::new(algorithm.clone(), (30, y - 8), (FAMILY, 14)))
            .map_err(err)?;
    }
    root.present().map_err(err)
}

/// Draws `chart` as `<dir>/<stem>.svg` and `<dir>/<stem>.png`; returns both paths.
pub fn write_chart(
    dir: &Path,
    stem: &str,
    chart: &TaskChart,
) -> Result<Vec<PathBuf>, ResultsError> {
    register_font();
    let svg_path = dir.join(format!("{stem}.svg"));
    let mut svg = String::new();
    draw(
        SVGBackend::with_string(&mut svg, SIZE).into_drawing_area(),
        chart,
    )
    .map_err(|message| ResultsError::Chart {
        path: svg_path.clone(),
        message,
    })?;
    write_atomic(&svg_path, svg.as_bytes())?;

    let png_path = dir.join(format!("{stem}.png"));
    let tmp = dir.join(format!(".{stem}.tmp-{}.png", std::process::id()));
    draw(BitMapBackend::new(&tmp, SIZE).into_drawing_area(), chart).map_err(|message| {
        ResultsError::Chart {
            path: png_path.clone(),
            message,
        }
    })?;
    std::fs::rename(&tmp, &png_path).map_err(|e| ResultsError::io(&png_path, e))?;
    Ok(vec![svg_path, png_path])
}
