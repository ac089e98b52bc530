//! Drawing primitives shared by the figures: line panels (linear or log x), heatmap
//! panels with a colour bar, and the legend panel.

use super::{marker_shape, FAMILY, PALETTE};
use plotters::coord::Shift;
use plotters::prelude::*;

pub type Area<'a, DB> = DrawingArea<DB, Shift>;

/// A drawing error as text (the caller names the file).
pub fn err<E: std::fmt::Debug + std::error::Error + Send + Sync>(
    e: DrawingAreaErrorKind<E>,
) -> String {
    e.to_string()
}

/// Colour of series k.
pub fn color(k: usize) -> RGBColor {
    PALETTE[k % PALETTE.len()]
}

/// One line panel: series k is drawn in colour k with its marker (see the legend).
#[derive(Debug, Clone, PartialEq)]
pub struct LinePanel {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub log_x: bool,
    /// A log y axis (positive values only), labelled with the values.
    pub log_y: bool,
    /// (series index, points sorted by x).
    pub series: Vec<(usize, Vec<(f64, f64)>)>,
}

/// The padded range of `values` (finite ones), or (0, 1).
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(1e-9 * (1.0 + lo.abs()));
    (lo - pad, hi + pad)
}

fn draw_marker<DB: DrawingBackend>(
    ctx: &mut ChartContext<
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    k: usize,
    points: &[(f64, f64)],
) -> Result<(), String> {
    let c = color(k);
    let pts = points.iter().copied();
    match marker_shape(k) {
        0 => ctx
            .draw_series(pts.map(|p| Circle::new(p, 4, c.filled())))
            .map(|_| ()),
        1 => ctx
            .draw_series(pts.map(|p| TriangleMarker::new(p, 5, c.filled())))
            .map(|_| ()),
        _ => ctx
            .draw_series(pts.map(|p| Cross::new(p, 4, c.stroke_width(2))))
            .map(|_| ()),
    }
    .map_err(err)
}

/// Draws a line panel; a log axis plots log10 of the values (leaving out those ≤ 0) and
/// labels it with the values.
pub fn draw_lines<DB: DrawingBackend>(area: &Area<DB>, panel: &LinePanel) -> Result<(), String> {
    let tx = |x: f64| if panel.log_x { x.log10() } else { x };
    let ty = |y: f64| if panel.log_y { y.log10() } else { y };
    let series: Vec<(usize, Vec<(f64, f64)>)> = panel
        .series
        .iter()
        .map(|(k, pts)| {
            (
                *k,
                pts.iter()
                    .filter(|(x, y)| {
                        y.is_finite() && (!panel.log_x || *x > 0.0) && (!panel.log_y || *y > 0.0)
                    })
                    .map(|(x, y)| (tx(*x), ty(*y)))
                    .collect(),
            )
        })
        .collect();
    let (x_lo, x_hi) = range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)));
    let (y_lo, y_hi) = range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)));
    let mut ctx = ChartBuilder::on(area)
        .caption(&panel.title, (FAMILY, 17))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
        .map_err(err)?;
    let (log_x, log_y) = (panel.log_x, panel.log_y);
    ctx.configure_mesh()
        .x_desc(panel.x_desc.as_str())
        .y_desc(panel.y_desc.as_str())
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&move |x| {
            if log_x {
                let v = 10f64.powf(*x);
                if v >= 0.1 {
                    format!("{v:.2}")
                } else {
                    format!("{v:.3}")
                }
            } else {
                format!("{x:.0}")
            }
        })
        .y_label_formatter(&move |y| {
            if log_y {
                format_tick(10f64.powf(*y))
            } else {
                format_tick(*y)
            }
        })
        .label_style((FAMILY, 12))
        .axis_desc_style((FAMILY, 13))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    for (k, pts) in &series {
        ctx.draw_series(LineSeries::new(
            pts.iter().copied(),
            color(*k).stroke_width(2),
        ))
        .map_err(err)?;
        if pts.len() <= 40 {
            draw_marker(&mut ctx, *k, pts)?;
        }
    }
    Ok(())
}

/// A tick label with precision that suits its size.
pub fn format_tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e4).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The legend: marker and label of each series, one per line, in its own panel.
pub fn draw_legend<DB: DrawingBackend>(area: &Area<DB>, labels: &[String]) -> Result<(), String> {
    for (k, label) in labels.iter().enumerate() {
        let c = color(k);
        let y = 48 + 20 * k as i32;
        match marker_shape(k) {
            0 => area.draw(&Circle::new((16, y), 5, c.filled())),
            1 => area.draw(&TriangleMarker::new((16, y), 7, c.filled())),
            _ => area.draw(&Cross::new((16, y), 5, c.stroke_width(2))),
        }
        .map_err(err)?;
        area.draw(&Text::new(label.clone(), (30, y - 8), (FAMILY, 14)))
            .map_err(err)?;
    }
    Ok(())
}

/// One heatmap: `values[r][c]` coloured on a diverging scale over [lo, hi] (blue low,
/// white middle, red high), grey where not finite; the numbers are printed in cells when
/// the grid is small.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatPanel {
    pub title: String,
    pub row_desc: String,
    pub col_desc: String,
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    pub values: Vec<Vec<f64>>,
    pub lo: f64,
    pub hi: f64,
}

/// Diverging colour of `v` on [lo, hi]: blue (lo) → white (midpoint) → red (hi).
pub fn diverging(v: f64, lo: f64, hi: f64) -> RGBColor {
    if !v.is_finite() {
        return RGBColor(200, 200, 200);
    }
    let t = if hi > lo {
        ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
    } else {
        0.5
    };
    let (blue, red) = ((33.0, 102.0, 172.0), (178.0, 24.0, 43.0));
    let mix = |a: f64, b: f64, s: f64| (a + (b - a) * s).round() as u8;
    if t < 0.5 {
        let s = t / 0.5;
        RGBColor(
            mix(blue.0, 255.0, s),
            mix(blue.1, 255.0, s),
            mix(blue.2, 255.0, s),
        )
    } else {
        let s = (t - 0.5) / 0.5;
        RGBColor(
            mix(255.0, red.0, s),
            mix(255.0, red.1, s),
            mix(255.0, red.2, s),
        )
    }
}

/// Draws a heatmap panel with its colour bar at the right.
pub fn draw_heatmap<DB: DrawingBackend>(area: &Area<DB>, panel: &HeatPanel) -> Result<(), String> {
    let (w, _) = area.dim_in_pixel();
    let (plot, bar) = area.split_horizontally(w.saturating_sub(90));
    let (n_rows, n_cols) = (panel.rows.len(), panel.cols.len());
    let mut ctx = ChartBuilder::on(&plot)
        .caption(&panel.title, (FAMILY, 17))
        .margin(10)
        .x_label_area_size(44)
        .y_label_area_size(if n_rows > 10 { 110 } else { 80 })
        // Cell (r, c) is centred on (c, n_rows − 1 − r), so tick labels fall on cells.
        .build_cartesian_2d(
            -0.5f64..n_cols.max(1) as f64 - 0.5,
            -0.5f64..n_rows.max(1) as f64 - 0.5,
        )
        .map_err(err)?;
    let (cols, rows) = (panel.cols.clone(), panel.rows.clone());
    // Label each cell centre; with many columns, about ten labels.
    let col_step = (n_cols / 10).max(1);
    ctx.configure_mesh()
        .disable_mesh()
        .x_labels(n_cols.clamp(1, 40))
        .y_labels(n_rows.clamp(1, 40))
        .x_label_formatter(&move |x| {
            let i = x.round();
            if (x - i).abs() < 1e-6
                && i >= 0.0
                && (i as usize) < cols.len()
                && (i as usize).is_multiple_of(col_step)
            {
                cols[i as usize].clone()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&move |y| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < rows.len() {
                rows[rows.len() - 1 - i as usize].clone()
            } else {
                String::new()
            }
        })
        .x_desc(panel.col_desc.as_str())
        .y_desc(panel.row_desc.as_str())
        .label_style((FAMILY, 12))
        .axis_desc_style((FAMILY, 13))
        .draw()
        .map_err(err)?;
    let cells = panel
        .values
        .iter()
        .enumerate()
        .flat_map(|(r, row)| row.iter().enumerate().map(move |(c, v)| (r, c, *v)));
    let top = n_rows as f64 - 0.5;
    ctx.draw_series(cells.clone().map(|(r, c, v)| {
        Rectangle::new(
            [
                (c as f64 - 0.5, top - r as f64 - 1.0),
                (c as f64 + 0.5, top - r as f64),
            ],
            diverging(v, panel.lo, panel.hi).filled(),
        )
    }))
    .map_err(err)?;
    if n_rows <= 12 && n_cols <= 12 {
        ctx.draw_series(cells.filter(|(_, _, v)| v.is_finite()).map(|(r, c, v)| {
            let dark = (v - panel.lo) / (panel.hi - panel.lo);
            let ink = if !(0.2..=0.8).contains(&dark) {
                WHITE
            } else {
                BLACK
            };
            Text::new(
                format_tick(v),
                (c as f64, top - r as f64 - 0.5),
                (FAMILY, 12)
                    .into_font()
                    .color(&ink)
                    .pos(plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Center,
                    )),
            )
        }))
        .map_err(err)?;
    }
    // The colour bar.
    let (_, bar_h) = bar.dim_in_pixel();
    let (y0, y1) = (50i32, bar_h as i32 - 60);
    let steps = 60;
    for s in 0..steps {
        let t = s as f64 / (steps - 1) as f64;
        let v = panel.hi - t * (panel.hi - panel.lo);
        let ya = y0 + ((y1 - y0) as f64 * s as f64 / steps as f64) as i32;
        let yb = y0 + ((y1 - y0) as f64 * (s + 1) as f64 / steps as f64) as i32;
        bar.draw(&Rectangle::new(
            [(10, ya), (30, yb)],
            diverging(v, panel.lo, panel.hi).filled(),
        ))
        .map_err(err)?;
    }
    for (v, y) in [
        (panel.hi, y0),
        (0.5 * (panel.lo + panel.hi), (y0 + y1) / 2),
        (panel.lo, y1),
    ] {
        bar.draw(&Text::new(format_tick(v), (34, y - 6), (FAMILY, 12)))
            .map_err(err)?;
    }
    Ok(())
}
