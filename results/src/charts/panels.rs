//! Drawing primitives shared by the figures: line panels (linear or log x, with CI
//! bands), heatmap panels with a colour bar, the legend, and tick labels whose precision
//! follows the axis's step.

use super::{marker_shape, Ink, DESC_PT, LEGEND_PT, PALETTE, PANEL_PT, TICK_PT};
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

/// One line panel: series k is drawn in colour k with its marker (see the legend), over
/// its 95% CI band where it has one.
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
    /// (series index, (x, low, high) of its 95% CI, sorted by x): drawn as a band.
    pub bands: Vec<Band>,
}

/// A series: (series index, (x, y) points sorted by x).
pub type Line = (usize, Vec<(f64, f64)>);
/// A series' band: (series index, (x, low, high) sorted by x).
pub type Band = (usize, Vec<(f64, f64, f64)>);

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

/// Decimals that tell apart ticks about `(hi − lo) / ticks` apart.
pub fn tick_decimals(lo: f64, hi: f64, ticks: usize) -> usize {
    let step = ((hi - lo).abs() / ticks.max(1) as f64).max(f64::MIN_POSITIVE);
    // The step plotters rounds to: 1, 2 or 5 times a power of ten.
    let power = step.log10().floor();
    let mantissa = step / 10f64.powf(power);
    let nice = if mantissa > 5.0 {
        10.0
    } else if mantissa > 2.0 {
        5.0
    } else if mantissa > 1.0 {
        2.0
    } else {
        1.0
    };
    let nice = nice * 10f64.powf(power);
    (-nice.log10().floor()).clamp(0.0, 8.0) as usize
}

/// A tick label of an axis over [lo, hi] with about `ticks` ticks: as many decimals as
/// the step needs, scientific beyond 10⁵ or below 10⁻³ in size.
pub fn tick_label(v: f64, lo: f64, hi: f64, ticks: usize) -> String {
    // plotters may place up to twice the ticks asked for: the decimals follow the finer step.
    let ticks = ticks * 2;
    let big = lo.abs().max(hi.abs());
    if v == 0.0 || v.abs() < (hi - lo).abs() * 1e-9 {
        return "0".into();
    }
    if !(1e-3..1e5).contains(&big) {
        return format!("{v:.1e}");
    }
    format!("{v:.*}", tick_decimals(lo, hi, ticks))
}

/// A tick label with precision that suits its size (for values shown alone: colour
/// bars and heatmap cells).
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

type Ctx<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Draws marker `shape` of colour `c`, `size` pixels, at each of `points`.
pub fn draw_marks<DB: DrawingBackend>(
    ctx: &mut Ctx<'_, DB>,
    shape: usize,
    c: RGBColor,
    size: u32,
    points: &[(f64, f64)],
) -> Result<(), String> {
    let pts = points.iter().copied();
    let size = size as i32;
    match shape {
        0 => ctx
            .draw_series(pts.map(|p| Circle::new(p, size, c.filled())))
            .map(|_| ()),
        1 => ctx
            .draw_series(pts.map(|p| TriangleMarker::new(p, size + size / 3, c.filled())))
            .map(|_| ()),
        _ => ctx
            .draw_series(pts.map(|p| Cross::new(p, size, c.stroke_width(2))))
            .map(|_| ()),
    }
    .map_err(err)
}

/// Draws a line panel (its y label only with `y_label`: small multiples share it); a
/// log axis plots log10 of the values (leaving out those ≤ 0) and labels it with the
/// values.
pub fn draw_lines<DB: DrawingBackend>(
    area: &Area<DB>,
    panel: &LinePanel,
    y_label: bool,
    ink: Ink,
) -> Result<(), String> {
    let tx = |x: f64| if panel.log_x { x.log10() } else { x };
    let ty = |y: f64| if panel.log_y { y.log10() } else { y };
    let keep =
        |x: f64, y: f64| y.is_finite() && (!panel.log_x || x > 0.0) && (!panel.log_y || y > 0.0);
    let series: Vec<(usize, Vec<(f64, f64)>)> = panel
        .series
        .iter()
        .map(|(k, pts)| {
            (
                *k,
                pts.iter()
                    .filter(|(x, y)| keep(*x, *y))
                    .map(|(x, y)| (tx(*x), ty(*y)))
                    .collect(),
            )
        })
        .collect();
    // On a log axis a band reaching zero or below is cut at a tenth of the smallest value.
    let floor = panel
        .series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .filter(|y| *y > 0.0)
        .fold(f64::INFINITY, f64::min)
        / 10.0;
    let bands: Vec<Band> = panel
        .bands
        .iter()
        .map(|(k, pts)| {
            (
                *k,
                pts.iter()
                    .map(|(x, lo, hi)| {
                        let lo = if panel.log_y { lo.max(floor) } else { *lo };
                        (*x, lo, *hi)
                    })
                    .filter(|(x, lo, hi)| keep(*x, *lo) && keep(*x, *hi))
                    .map(|(x, lo, hi)| (tx(x), ty(lo), ty(hi)))
                    .collect(),
            )
        })
        .collect();
    let (x_lo, x_hi) = range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)));
    let (y_lo, y_hi) = range(
        series
            .iter()
            .flat_map(|(_, p)| p.iter().map(|q| q.1))
            .chain(
                bands
                    .iter()
                    .flat_map(|(_, b)| b.iter().flat_map(|q| [q.1, q.2])),
            ),
    );
    let scale = ink.scale;
    let y_labels: Vec<String> = (0..=5)
        .map(|i| {
            let y = y_lo + (y_hi - y_lo) * i as f64 / 5.0;
            if panel.log_y {
                format_tick(10f64.powf(y))
            } else {
                tick_label(y, y_lo, y_hi, 5)
            }
        })
        .collect();
    let y_area = y_labels
        .iter()
        .map(|l| scale.text_width(l, TICK_PT))
        .max()
        .unwrap_or(0)
        + scale.text_px(DESC_PT) * 2;
    let mut ctx = ChartBuilder::on(area)
        .caption(&panel.title, ink.font(PANEL_PT))
        .margin(scale.text_px(4.0))
        .x_label_area_size(scale.text_px(TICK_PT) * 3 / 2 + scale.text_px(DESC_PT) * 3 / 2)
        .y_label_area_size(y_area)
        .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
        .map_err(err)?;
    let (log_x, log_y) = (panel.log_x, panel.log_y);
    let (plot_w, plot_h) = ctx.plotting_area().dim_in_pixel();
    let y_desc = if y_label {
        fit_desc(&panel.y_desc, plot_h, ink)
    } else {
        String::new()
    };
    ctx.configure_mesh()
        .x_desc(fit_desc(&panel.x_desc, plot_w, ink))
        .y_desc(y_desc)
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(&move |x| {
            if log_x {
                let v = 10f64.powf(*x);
                if v >= 0.1 {
                    format!("{v:.2}")
                } else {
                    format!("{v:.3}")
                }
            } else {
                tick_label(*x, x_lo, x_hi, 5)
            }
        })
        .y_label_formatter(&move |y| {
            if log_y {
                format_tick(10f64.powf(*y))
            } else {
                tick_label(*y, y_lo, y_hi, 5)
            }
        })
        .label_style(ink.font(TICK_PT))
        .axis_desc_style(ink.font(DESC_PT))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    for (k, band) in &bands {
        if band.len() < 2 {
            continue;
        }
        let outline: Vec<(f64, f64)> = band
            .iter()
            .map(|(x, _, hi)| (*x, *hi))
            .chain(band.iter().rev().map(|(x, lo, _)| (*x, *lo)))
            .collect();
        ctx.draw_series(std::iter::once(Polygon::new(outline, color(*k).mix(0.15))))
            .map_err(err)?;
    }
    for (k, pts) in &series {
        ctx.draw_series(LineSeries::new(
            pts.iter().copied(),
            color(*k).stroke_width(ink.px(1.0)),
        ))
        .map_err(err)?;
        if pts.len() <= 40 {
            draw_marks(&mut ctx, marker_shape(*k), color(*k), ink.px(2.0), pts)?;
        }
    }
    Ok(())
}

/// An axis name that fits `room` pixels at `DESC_PT`: as given, else without `final `,
/// else with its direction as an arrow (`(↓ better)`, then `↓`), else cut with an
/// ellipsis.
pub fn fit_desc(desc: &str, room: u32, ink: Ink) -> String {
    let fits = |d: &str| ink.scale.text_width(d, DESC_PT) <= room;
    if fits(desc) {
        return desc.to_string();
    }
    let short = desc.replacen("final ", "", 1);
    if fits(&short) {
        return short;
    }
    let arrows = short
        .replace("(lower is better", "(↓ better")
        .replace("(higher is better", "(↑ better");
    if fits(&arrows) {
        return arrows;
    }
    let arrows = short
        .replace(" (lower is better)", " ↓")
        .replace(" (higher is better)", " ↑");
    if fits(&arrows) {
        return arrows;
    }
    let mut cut: String = arrows.chars().collect();
    while !cut.is_empty() && !fits(&format!("{cut}…")) {
        cut.pop();
    }
    format!("{cut}…")
}

/// One legend entry: its label, colour and marker shape (see `marker_shape`).
#[derive(Debug, Clone, PartialEq)]
pub struct LegendEntry {
    pub label: String,
    pub color: RGBColor,
    pub shape: usize,
}

impl LegendEntry {
    /// Series k's entry (colour k, marker k), unlabelled.
    pub fn series(k: usize) -> Self {
        LegendEntry {
            label: String::new(),
            color: color(k),
            shape: marker_shape(k),
        }
    }
}

/// The legend: marker and label of each entry, in `cols` columns filled row by row.
pub fn draw_legend<DB: DrawingBackend>(
    area: &Area<DB>,
    entries: &[LegendEntry],
    cols: usize,
    ink: Ink,
) -> Result<(), String> {
    let (w, _) = area.dim_in_pixel();
    let scale = ink.scale;
    let row_h = (scale.text(LEGEND_PT) * 1.5) as i32;
    let col_w = (w as f64 * 0.96 / cols.max(1) as f64) as i32;
    let left = (w as f64 * 0.02) as i32;
    let r = ink.px(2.5) as i32;
    for (i, e) in entries.iter().enumerate() {
        let x = left + col_w * (i % cols.max(1)) as i32 + r;
        let y = (scale.text(LEGEND_PT) * 0.5) as i32 + row_h * (i / cols.max(1)) as i32 + row_h / 2;
        let c = e.color;
        match e.shape {
            0 => area.draw(&Circle::new((x, y), r, c.filled())),
            1 => area.draw(&TriangleMarker::new((x, y), r + r / 3, c.filled())),
            _ => area.draw(&Cross::new((x, y), r, c.stroke_width(2))),
        }
        .map_err(err)?;
        let style = ink
            .font(LEGEND_PT)
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Center,
            ));
        area.draw(&Text::new(e.label.clone(), (x + 2 * r + r / 2, y), style))
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
pub fn draw_heatmap<DB: DrawingBackend>(
    area: &Area<DB>,
    panel: &HeatPanel,
    ink: Ink,
) -> Result<(), String> {
    let scale = ink.scale;
    let (w, _) = area.dim_in_pixel();
    let bar_w = scale.text_px(TICK_PT) * 5;
    let (plot, bar) = area.split_horizontally(w.saturating_sub(bar_w));
    let (n_rows, n_cols) = (panel.rows.len(), panel.cols.len());
    let mut ctx = ChartBuilder::on(&plot)
        .caption(&panel.title, ink.font(PANEL_PT))
        .margin(scale.text_px(4.0))
        .x_label_area_size(scale.text_px(TICK_PT) * 3 / 2 + scale.text_px(DESC_PT) * 3 / 2)
        .y_label_area_size(
            panel
                .rows
                .iter()
                .map(|r| scale.text_width(r, TICK_PT))
                .max()
                .unwrap_or(0)
                + scale.text_px(DESC_PT) * 2,
        )
        // Cell (r, c) is centred on (c, n_rows − 1 − r), so tick labels fall on cells.
        .build_cartesian_2d(
            -0.5f64..n_cols.max(1) as f64 - 0.5,
            -0.5f64..n_rows.max(1) as f64 - 0.5,
        )
        .map_err(err)?;
    let (cols, rows) = (panel.cols.clone(), panel.rows.clone());
    // Label each cell centre; with many columns, about ten labels.
    // As many labels as fit side by side (two character widths apart).
    let label_w = panel
        .cols
        .iter()
        .map(|c| scale.text_width(c, TICK_PT) + scale.text_px(TICK_PT))
        .max()
        .unwrap_or(1) as usize;
    let fit = (ctx.plotting_area().dim_in_pixel().0 as usize / label_w.max(1)).max(1);
    let col_step = n_cols.div_ceil(fit).max(1);
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
        .label_style(ink.font(TICK_PT))
        .axis_desc_style(ink.font(DESC_PT))
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
    // The numbers in the cells only where they fit (a cell wider than "-0.00" and taller
    // than a line of text).
    let (plot_w, plot_h) = ctx.plotting_area().dim_in_pixel();
    let cell_w = plot_w as usize / n_cols.max(1);
    let cell_h = plot_h as usize / n_rows.max(1);
    let fits = cell_w >= (scale.text_width("-0.00", TICK_PT) + scale.text_px(2.0)) as usize
        && cell_h >= scale.text_px(TICK_PT) as usize;
    if n_rows <= 12 && n_cols <= 12 && fits {
        ctx.draw_series(cells.filter(|(_, _, v)| v.is_finite()).map(|(r, c, v)| {
            let dark = (v - panel.lo) / (panel.hi - panel.lo);
            let style = if !(0.2..=0.8).contains(&dark) {
                ink.font(TICK_PT).color(&WHITE)
            } else {
                ink.font(TICK_PT).color(&BLACK)
            };
            Text::new(
                format_tick(v),
                (c as f64, top - r as f64 - 0.5),
                style.pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Center,
                )),
            )
        }))
        .map_err(err)?;
    }
    // The colour bar.
    let (_, bar_h) = bar.dim_in_pixel();
    let (y0, y1) = (
        scale.text_px(PANEL_PT) as i32 * 3,
        bar_h as i32 - scale.text_px(TICK_PT) as i32 * 4,
    );
    let (bx, bw) = (scale.text_px(3.0) as i32, scale.text_px(8.0) as i32);
    let steps = 60;
    for s in 0..steps {
        let t = s as f64 / (steps - 1) as f64;
        let v = panel.hi - t * (panel.hi - panel.lo);
        let ya = y0 + ((y1 - y0) as f64 * s as f64 / steps as f64) as i32;
        let yb = y0 + ((y1 - y0) as f64 * (s + 1) as f64 / steps as f64) as i32;
        bar.draw(&Rectangle::new(
            [(bx, ya), (bx + bw, yb)],
            diverging(v, panel.lo, panel.hi).filled(),
        ))
        .map_err(err)?;
    }
    for (v, y) in [
        (panel.hi, y0),
        (0.5 * (panel.lo + panel.hi), (y0 + y1) / 2),
        (panel.lo, y1),
    ] {
        let style = ink
            .font(TICK_PT)
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Center,
            ));
        bar.draw(&Text::new(format_tick(v), (bx + bw + bx, y), style))
            .map_err(err)?;
    }
    Ok(())
}
