//! plotters charts, as SVG and PNG, drawn with the DejaVu Sans font the binary carries
//! (no system font packages needed), one Okabe–Ito palette and marker set: per-task test
//! metric by algorithm (mean with 95% CI bars), and the figures of `figures`.
//!
//! Every figure has a title and a note under it that says what is plotted (replicates n,
//! the selection rule, the tuning budget of a tuned study); it is sized for print by
//! [`style::FigureStyle`] and names algorithms, tasks and metrics through
//! [`names::DisplayNames`].

pub mod critical_difference;
pub mod figures;
pub mod names;
pub mod panels;
pub mod pdf;
pub mod plots;
pub mod style;

use crate::selection::Selection;
use crate::stats::Summary;
use crate::store::write_atomic;
use crate::summary::{MetricRow, StudySummary, PREFERRED_METRIC};
use crate::ResultsError;
use names::DisplayNames;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use style::{FigureStyle, Scale};

const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Text sizes in points (times the font scale): none under `style::MIN_TEXT_PT`.
pub(crate) const TITLE_PT: f64 = 9.0;
pub(crate) const NOTE_PT: f64 = 7.0;
pub(crate) const PANEL_PT: f64 = 8.0;
pub(crate) const DESC_PT: f64 = 7.5;
pub(crate) const TICK_PT: f64 = 7.0;
pub(crate) const LEGEND_PT: f64 = 7.0;

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

/// The grey of reference marks (the fixed-weight front, the `equal` baseline).
pub const GREY: RGBColor = RGBColor(120, 120, 120);

/// Registers the embedded font under `family` (once per family): the metrics and the
/// PNG's glyphs are DejaVu Sans's, the SVG names `family`.
pub(crate) fn register_font(family: &str) {
    use std::collections::BTreeSet;
    use std::sync::Mutex;
    static DONE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if done.insert(family.to_string()) {
        // The font is compiled in; failing to parse it is a build defect, not user input.
        plotters::style::register_font(family, FontStyle::Normal, FONT)
            .map_err(|_| ())
            .expect("the embedded DejaVu Sans font parses");
    }
}

/// How a figure is drawn: its scale and font family.
#[derive(Debug, Clone, Copy)]
pub struct Ink<'f> {
    pub scale: Scale,
    pub family: &'f str,
}

impl<'f> Ink<'f> {
    /// The ink of `style`, its font family registered.
    pub fn of(style: &'f FigureStyle) -> Self {
        register_font(&style.font_family);
        Ink {
            scale: style.scale(),
            family: &style.font_family,
        }
    }

    /// A text style of `pt` points.
    pub fn font(&self, pt: f64) -> TextStyle<'f> {
        (self.family, self.scale.text(pt)).into_font().into()
    }
    /// A line or mark of `pt` points.
    pub fn px(&self, pt: f64) -> u32 {
        self.scale.px(pt)
    }
}

/// What the report's charts share: display names, the selection rule and the tuning.
#[derive(Debug, Clone, Default)]
pub struct Presentation {
    pub style: FigureStyle,
    pub names: DisplayNames,
    /// Configurations per algorithm of a tuned study's search (`tune.md`).
    pub tuning_budget: Option<usize>,
}

/// `Presentation` with the report's selection rule: the notes under the titles.
pub struct Labels<'a> {
    pub names: &'a DisplayNames,
    pub selection: &'a Selection,
    pub tuning_budget: Option<usize>,
}

impl Labels<'_> {
    /// "n = 3" or "n = 2–3" over `ns` (the replicates behind each mark).
    pub fn n(ns: impl IntoIterator<Item = usize>) -> String {
        let ns: Vec<usize> = ns.into_iter().filter(|n| *n > 0).collect();
        match (ns.iter().min(), ns.iter().max()) {
            (Some(lo), Some(hi)) if lo != hi => format!("n = {lo}–{hi} replicates"),
            (Some(n), _) => format!("n = {n} replicates"),
            _ => "n = 0 replicates".into(),
        }
    }

    pub(crate) fn tuned(&self) -> String {
        match self.tuning_budget {
            Some(b) => format!("; tuned configurations (budget {b} per algorithm, see tune.md)"),
            None => String::new(),
        }
    }

    /// The note of a chart of selected test values: n, the rule, the tuning.
    pub fn selected(&self, ns: impl IntoIterator<Item = usize>, what: &str) -> String {
        format!(
            "{what}; {}; selection: {}{}",
            Self::n(ns),
            self.selection,
            self.tuned()
        )
    }

    /// The note of a chart of curves over training: n and the band, the tuning.
    pub fn curves(&self, ns: impl IntoIterator<Item = usize>) -> String {
        format!("mean and 95% CI band; {}{}", Self::n(ns), self.tuned())
    }

    /// "test <metric>" at the selected evaluation, as an axis or title reads it.
    pub fn test_metric(&self, metric: &str) -> String {
        let metric = self.names.metric(metric);
        match self.selection {
            Selection::Last => format!("final test {metric}"),
            _ => format!("test {metric}"),
        }
    }
}

/// What one per-task chart shows.
pub struct TaskChart<'a> {
    pub metric: String,
    pub higher_is_better: bool,
    /// Display names of the tasks.
    pub tasks: Vec<String>,
    /// (algorithm's display name, rows of that algorithm for this metric, in task order).
    pub series: Vec<(String, Vec<&'a MetricRow>)>,
    /// The stored task names (the rows' `task`), in the order of `tasks`.
    pub task_keys: Vec<String>,
}

/// The metric a chart of a suite shows: `PREFERRED_METRIC` when present, else the first.
fn chart_metric(rows: &[&MetricRow]) -> Option<(String, bool)> {
    rows.iter()
        .find(|r| r.metric == PREFERRED_METRIC)
        .or_else(|| rows.first())
        .map(|r| (r.metric.clone(), r.higher_is_better))
}

/// One chart per (suite, fraction).
pub fn task_charts<'a>(summary: &'a StudySummary, labels: &Labels) -> Vec<(String, Figure<'a>)> {
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
        let mut task_keys: Vec<String> = Vec::new();
        let mut series: Vec<(String, Vec<&MetricRow>)> = Vec::new();
        for r in &rows {
            if !task_keys.contains(&r.task) {
                task_keys.push(r.task.clone());
            }
            match series.iter_mut().find(|(a, _)| *a == r.key.algorithm) {
                Some((_, v)) => v.push(r),
                None => series.push((r.key.algorithm.clone(), vec![r])),
            }
        }
        let stored: Vec<String> = series.iter().map(|(a, _)| a.clone()).collect();
        for ((name, _), shown) in series.iter_mut().zip(labels.names.algorithms(&stored)) {
            *name = shown;
        }
        let stem = format!(
            "{}_f{}_{}",
            sanitize(&suite),
            sanitize(&fraction),
            sanitize(&metric)
        );
        let title = format!(
            "{suite} (fraction {fraction}): {} per task",
            labels.test_metric(&metric)
        );
        let note = labels.selected(rows.iter().map(|r| r.stats.n), "mean with 95% CI");
        charts.push((
            stem,
            Figure {
                title,
                note,
                body: Body::Metrics(TaskChart {
                    metric: labels.names.metric(&metric),
                    higher_is_better,
                    tasks: task_keys.iter().map(|t| labels.names.task(t)).collect(),
                    series,
                    task_keys,
                }),
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

/// A figure of the report: its title, the note under it, and what it draws.
pub struct Figure<'a> {
    pub title: String,
    /// What is plotted: n, the selection rule, the tuning.
    pub note: String,
    pub body: Body<'a>,
}

/// What a figure draws.
pub enum Body<'a> {
    /// Per-task test metric by algorithm.
    Metrics(TaskChart<'a>),
    /// Line panels side by side (up to three per row) sharing one legend.
    Lines {
        panels: Vec<panels::LinePanel>,
        legend: Vec<String>,
    },
    /// Heatmap panels side by side.
    Heatmaps { panels: Vec<panels::HeatPanel> },
    /// Bar panels side by side, one bar per algorithm with its 95% CI.
    Bars { panels: Vec<plots::BarPanel> },
    /// Algorithms as points in the plane of two tasks' metrics, with 95% CI crosses, over
    /// the scalarization front's fixed-weight means (grey; the line joins its
    /// non-dominated points).
    Pareto(plots::Pareto),
}

impl Body<'_> {
    /// Panels side by side (the default width follows).
    fn panels(&self) -> usize {
        match self {
            Body::Metrics(c) => {
                if c.tasks.len() > 3 {
                    2
                } else {
                    1
                }
            }
            Body::Lines { panels, .. } => panels.len(),
            Body::Heatmaps { panels } => panels.len(),
            Body::Bars { panels } => panels.len(),
            Body::Pareto(_) => 1,
        }
    }

    /// The legend's labels (none for heatmaps and bars).
    fn legend(&self) -> Vec<String> {
        match self {
            Body::Metrics(c) => c.series.iter().map(|(a, _)| a.clone()).collect(),
            Body::Lines { legend, .. } => legend.clone(),
            Body::Pareto(p) => p.legend().into_iter().map(|e| e.label).collect(),
            _ => Vec::new(),
        }
    }
}

/// Words of `text` in lines of at most `chars` characters; `a = b` and `name: value` stay
/// on one line.
pub(crate) fn wrap(text: &str, chars: usize) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut glue = false;
    for word in text.split(' ') {
        match words.last_mut() {
            Some(last) if glue || word == "=" => {
                last.push(' ');
                last.push_str(word);
            }
            _ => words.push(word.to_string()),
        }
        glue = word == "=" || word.ends_with(':');
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in &words {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > chars {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

impl Figure<'_> {
    /// Pixel size (also the SVG's grid) under `style`.
    pub fn size(&self, style: &FigureStyle) -> (u32, u32) {
        let scale = style.scale();
        let width_in = style.width_for(self.body.panels());
        let width = scale.inches(width_in);
        let head = self.heading_height(width, scale);
        let line = scale.text(TICK_PT) * 1.4;
        let body = match &self.body {
            Body::Metrics(_) | Body::Pareto(_) => scale.inches(width_in.min(4.6) * 0.85),
            Body::Lines { panels, legend } => {
                let cols = columns(panels.len(), width, scale, legend);
                let rows = panels.len().div_ceil(cols).max(1) as u32;
                let panel = scale.inches(2.3).max(scale.text_px(TICK_PT) * 14);
                // The legend below the panels (see `legend_below`).
                rows * panel + legend_below(width, scale, legend).1
            }
            Body::Heatmaps { panels } => {
                let rows = panels.iter().map(|p| p.rows.len()).max().unwrap_or(1);
                let panel = scale.inches(2.2).max((line * (rows as f64 + 6.0)) as u32);
                let per_row = heat_columns(panels.len(), width, scale);
                panel * panels.len().div_ceil(per_row).max(1) as u32
            }
            Body::Bars { panels } => {
                let bars = panels.iter().map(|p| p.bars.len()).max().unwrap_or(1);
                (line * 1.6 * bars.max(3) as f64) as u32 + scale.text_px(TICK_PT) * 6
            }
        };
        let legend = match &self.body {
            Body::Metrics(_) | Body::Pareto(_) => legend_below(width, scale, &self.body.legend()).1,
            _ => 0,
        };
        (width, head + body + legend)
    }

    /// Height of the title and the note, wrapped to the width.
    fn heading_height(&self, width: u32, scale: Scale) -> u32 {
        let (t, n) = self.heading_lines(width, scale);
        (t.len() as f64 * scale.text(TITLE_PT) * 1.3
            + n.len() as f64 * scale.text(NOTE_PT) * 1.3
            + scale.text(NOTE_PT)) as u32
    }

    fn heading_lines(&self, width: u32, scale: Scale) -> (Vec<String>, Vec<String>) {
        let chars = |pt: f64| ((width as f64 * 0.94) / (0.5 * scale.text(pt))).max(10.0) as usize;
        (
            wrap(&self.title, chars(TITLE_PT)),
            wrap(&self.note, chars(NOTE_PT)),
        )
    }
}

/// Line panels per row: three at most, fewer where a panel would be narrower than 2 in,
/// and balanced over the rows (four panels: two rows of two).
fn columns(panels: usize, width: u32, scale: Scale, _legend: &[String]) -> usize {
    let fit = (width / scale.inches(2.0).max(1)).max(1) as usize;
    let most = panels.clamp(1, 3).min(fit);
    let rows = panels.div_ceil(most).max(1);
    panels.div_ceil(rows).max(1)
}

/// Heatmap panels per row: as many as get 2.6 in each (at least one).
fn heat_columns(panels: usize, width: u32, scale: Scale) -> usize {
    let fit = (width / scale.inches(2.6).max(1)).max(1) as usize;
    panels.clamp(1, fit.max(1))
}

/// The legend below the plot: (columns, height in pixels) of its grid over `width`.
pub(crate) fn legend_below(width: u32, scale: Scale, labels: &[String]) -> (usize, u32) {
    if labels.is_empty() {
        return (1, 0);
    }
    let entry = labels
        .iter()
        .map(|l| scale.text_width(l, LEGEND_PT))
        .max()
        .unwrap_or(0)
        + scale.text_px(LEGEND_PT) * 3;
    let cols = ((width as f64 * 0.96) as u32 / entry.max(1)).clamp(1, labels.len() as u32) as usize;
    let rows = labels.len().div_ceil(cols) as u32;
    (
        cols,
        rows * (scale.text(LEGEND_PT) * 1.5) as u32 + scale.text_px(LEGEND_PT),
    )
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    figure: &Figure,
    ink: Ink,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let (width, _) = root.dim_in_pixel();
    let scale = ink.scale;
    // The title and the note, centred.
    let (title, note) = figure.heading_lines(width, scale);
    let mut y = (scale.text(NOTE_PT) * 0.5) as i32;
    let centre = |pt: f64| {
        ink.font(pt).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Top,
        ))
    };
    for line in &title {
        root.draw(&Text::new(
            line.clone(),
            (width as i32 / 2, y),
            centre(TITLE_PT),
        ))
        .map_err(err)?;
        y += (scale.text(TITLE_PT) * 1.3) as i32;
    }
    let grey = centre(NOTE_PT).color(&RGBColor(70, 70, 70));
    for line in &note {
        root.draw(&Text::new(
            line.clone(),
            (width as i32 / 2, y),
            grey.clone(),
        ))
        .map_err(err)?;
        y += (scale.text(NOTE_PT) * 1.3) as i32;
    }
    let (_, body) = root.split_vertically(figure.heading_height(width, scale));
    match &figure.body {
        Body::Metrics(chart) => {
            let labels = figure.body.legend();
            let (cols, h) = legend_below(width, scale, &labels);
            let (_, body_h) = body.dim_in_pixel();
            let (plot, legend) = body.split_vertically(body_h - h);
            plots::draw_metrics(&plot, chart, ink)?;
            let entries = (0..labels.len()).map(panels::LegendEntry::series);
            panels::draw_legend(
                &legend,
                &labels
                    .iter()
                    .cloned()
                    .zip(entries)
                    .map(|(l, mut e)| {
                        e.label = l;
                        e
                    })
                    .collect::<Vec<_>>(),
                cols,
                ink,
            )?;
        }
        Body::Lines {
            panels: line_panels,
            legend,
        } => {
            let (cols_l, h) = legend_below(width, scale, legend);
            let (_, body_h) = body.dim_in_pixel();
            let (plots_area, legend_area) = body.split_vertically(body_h - h);
            let cols = columns(line_panels.len(), width, scale, legend);
            let rows = line_panels.len().div_ceil(cols).max(1);
            // Small multiples share the y label: only the first of a row names it when
            // the row's panels read the same.
            for (i, (area, panel)) in plots_area
                .split_evenly((rows, cols))
                .iter()
                .zip(line_panels)
                .enumerate()
            {
                let first = &line_panels[i - i % cols];
                let shared = i % cols != 0 && first.y_desc == panel.y_desc;
                panels::draw_lines(area, panel, !shared, ink)?;
            }
            let entries: Vec<panels::LegendEntry> = legend
                .iter()
                .enumerate()
                .map(|(k, l)| {
                    let mut e = panels::LegendEntry::series(k);
                    e.label = l.clone();
                    e
                })
                .collect();
            panels::draw_legend(&legend_area, &entries, cols_l, ink)?;
        }
        Body::Heatmaps {
            panels: heat_panels,
        } => {
            let weights: Vec<u32> = heat_panels
                .iter()
                .map(|p| if p.cols.len() > 12 { 3 } else { 2 })
                .collect();
            // Side by side where each panel gets 2.6 in, else in rows.
            let per_row = heat_columns(heat_panels.len(), width, scale);
            let n_rows = heat_panels.len().div_ceil(per_row).max(1) as u32;
            let (_, body_h) = body.dim_in_pixel();
            let mut below = body;
            for (k, row) in heat_panels.chunks(per_row).enumerate() {
                let row_area = if (k as u32) + 1 < n_rows {
                    let (this, next) = below.split_vertically(body_h / n_rows);
                    below = next;
                    this
                } else {
                    below.clone()
                };
                let ws = &weights[k * per_row..k * per_row + row.len()];
                let total: u32 = ws.iter().sum::<u32>().max(1);
                let mut rest = row_area;
                for (panel, w) in row.iter().zip(ws) {
                    let (area, next) = rest.split_horizontally(width * w / total);
                    panels::draw_heatmap(&area, panel, ink)?;
                    rest = next;
                }
            }
        }
        Body::Bars { panels: bar_panels } => {
            let n = bar_panels.len().max(1) as u32;
            let mut rest = body;
            for panel in bar_panels {
                let (area, next) = rest.split_horizontally(width / n);
                plots::draw_bars(&area, panel, ink)?;
                rest = next;
            }
        }
        Body::Pareto(p) => {
            let entries = p.legend();
            let labels: Vec<String> = entries.iter().map(|e| e.label.clone()).collect();
            let (cols, h) = legend_below(width, scale, &labels);
            let (_, body_h) = body.dim_in_pixel();
            let (plot, legend) = body.split_vertically(body_h - h);
            plots::draw_pareto(&plot, p, ink)?;
            panels::draw_legend(&legend, &entries, cols, ink)?;
        }
    }
    root.present().map_err(err)
}

/// A mean ± 95% CI as (low, high), the mean alone where the CI is undefined.
pub(crate) fn interval(s: &Summary) -> (f64, f64) {
    let ci = if s.ci95.is_finite() { s.ci95 } else { 0.0 };
    (s.mean - ci, s.mean + ci)
}

/// Draws `figure` as `<dir>/<stem>.{svg,png,pdf}` under `style` (`write_drawing`).
pub fn write_figure(
    dir: &Path,
    stem: &str,
    figure: &Figure,
    style: &FigureStyle,
) -> Result<Vec<PathBuf>, ResultsError> {
    let ink = Ink::of(style);
    let size = figure.size(style);
    write_drawing(
        dir,
        stem,
        size,
        style.dpi,
        |area| draw(area, figure, ink),
        |area| draw(area, figure, ink),
    )
}

/// Draws one picture of `size` pixels twice, as `<dir>/<stem>.svg` (sized in inches at
/// `dpi`) by `svg` and as `<dir>/<stem>.png` (its resolution in a `pHYs` chunk) by `png`,
/// and converts the SVG to `<dir>/<stem>.pdf` (vector, the same size, the font embedded:
/// `pdf::from_svg`); each file written whole; returns the three paths.
pub(crate) fn write_drawing(
    dir: &Path,
    stem: &str,
    size: (u32, u32),
    dpi: u32,
    svg: impl FnOnce(DrawingArea<SVGBackend, Shift>) -> Result<(), String>,
    png: impl FnOnce(DrawingArea<BitMapBackend, Shift>) -> Result<(), String>,
) -> Result<Vec<PathBuf>, ResultsError> {
    let svg_path = dir.join(format!("{stem}.svg"));
    let mut text = String::new();
    svg(SVGBackend::with_string(&mut text, size).into_drawing_area()).map_err(|message| {
        ResultsError::Chart {
            path: svg_path.clone(),
            message,
        }
    })?;
    let text = style::with_inches(&text, size, dpi);
    write_atomic(&svg_path, text.as_bytes())?;
    let pdf_path = dir.join(format!("{stem}.pdf"));
    let pdf = pdf::from_svg(&text).map_err(|message| ResultsError::Chart {
        path: pdf_path.clone(),
        message,
    })?;
    write_atomic(&pdf_path, &pdf)?;

    let png_path = dir.join(format!("{stem}.png"));
    let tmp = dir.join(format!(".{stem}.tmp-{}.png", std::process::id()));
    png(BitMapBackend::new(&tmp, size).into_drawing_area()).map_err(|message| {
        ResultsError::Chart {
            path: png_path.clone(),
            message,
        }
    })?;
    let bytes = std::fs::read(&tmp).map_err(|e| ResultsError::io(&tmp, e))?;
    let _ = std::fs::remove_file(&tmp);
    write_atomic(&png_path, &style::with_dpi(&bytes, dpi))?;
    Ok(vec![svg_path, png_path, pdf_path])
}
