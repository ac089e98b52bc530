//! The critical-difference diagram of Demšar 2006 (section 3.2.4, Figure 1): algorithms
//! placed on an axis of mean ranks (1 = best, left), the Nemenyi critical difference drawn
//! above the axis, and a thick bar under the axis joining each group of algorithms whose
//! mean ranks differ by less than it (not significantly different at α = 0.05).
//! docs/FORMULAS.md#significance-over-many-comparisons.

use super::style::{FigureStyle, Scale};
use super::{wrap, Ink, LEGEND_PT, TICK_PT, TITLE_PT};
use crate::significance::cliques;
use crate::ResultsError;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

/// What the diagram shows.
pub struct CdDiagram {
    pub title: String,
    /// (algorithm, mean rank).
    pub algorithms: Vec<(String, f64)>,
    /// The critical difference in mean ranks.
    pub cd: f64,
}

/// The diagram's geometry in pixels at one figure style: every length follows the text
/// size, the width is the style's (double column unless it names one).
struct Layout {
    width: i32,
    /// Left and right of the axis: room for the longest name with its rank.
    margin: i32,
    title_lines: Vec<String>,
    cd_y: i32,
    axis_y: i32,
    /// Vertical step between group bars and between name rows.
    bar_step: i32,
    row: i32,
    text: f64,
}

impl CdDiagram {
    /// The algorithms sorted by mean rank, best first.
    fn sorted(&self) -> Vec<(String, f64)> {
        let mut sorted = self.algorithms.clone();
        sorted.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        sorted
    }

    fn groups(&self) -> Vec<(f64, f64)> {
        let ranks: Vec<f64> = self.algorithms.iter().map(|a| a.1).collect();
        cliques(&ranks, self.cd)
            .into_iter()
            .map(|g| {
                let r: Vec<f64> = g.iter().map(|&i| ranks[i]).collect();
                (
                    r.iter().cloned().fold(f64::INFINITY, f64::min),
                    r.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                )
            })
            .collect()
    }

    /// The highest rank the axis shows: the number of algorithms.
    fn k(&self) -> usize {
        self.algorithms.len().max(2)
    }

    fn label(name: &str, rank: f64, left: bool) -> String {
        if left {
            format!("{name} ({rank:.2})")
        } else {
            format!("({rank:.2}) {name}")
        }
    }

    fn layout(&self, style: &FigureStyle) -> Layout {
        let s: Scale = style.scale();
        let width = s.inches(style.width_for(2)) as i32;
        let text = s.text(LEGEND_PT);
        let unit = text.round() as i32;
        let longest = self
            .algorithms
            .iter()
            .map(|(n, r)| s.text_width(&Self::label(n, *r, true), LEGEND_PT))
            .max()
            .unwrap_or(0) as i32;
        // The names' room, but never more than a third of the width each side.
        let margin = (longest + 2 * unit).min(width / 3).max(2 * unit);
        let chars = ((width as f64 * 0.94) / (0.5 * s.text(TITLE_PT))).max(10.0) as usize;
        let title_lines = wrap(&self.title, chars);
        let title_h = (title_lines.len() as f64 * s.text(TITLE_PT) * 1.3).round() as i32 + unit / 2;
        let cd_y = title_h + 2 * unit;
        let axis_y = cd_y + 2 * unit;
        Layout {
            width,
            margin,
            title_lines,
            cd_y,
            axis_y,
            bar_step: (unit * 2 / 3).max(2),
            row: unit * 3 / 2,
            text,
        }
    }

    /// The pixel column of mean rank `r`.
    fn x(&self, l: &Layout, r: f64) -> i32 {
        let span = (l.width - 2 * l.margin) as f64;
        l.margin + ((r - 1.0) / (self.k() as f64 - 1.0) * span).round() as i32
    }

    /// The size in pixels at `style`.
    pub fn size(&self, style: &FigureStyle) -> (u32, u32) {
        let l = self.layout(style);
        let rows = self.algorithms.len().div_ceil(2) as i32;
        let height = self.first_row(&l) + l.row * rows + l.row / 2;
        (l.width as u32, height as u32)
    }

    fn first_row(&self, l: &Layout) -> i32 {
        l.axis_y + 2 * l.bar_step + l.bar_step * self.groups().len() as i32 + l.row / 2
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
        ink: Ink,
        style: &FigureStyle,
    ) -> Result<(), String> {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let l = self.layout(style);
        root.fill(&WHITE).map_err(e)?;
        let font = |pt: f64| ink.font(pt).color(&BLACK);
        let centred = Pos::new(HPos::Center, VPos::Bottom);
        let title_line = ink.scale.text(TITLE_PT) * 1.3;
        for (i, line) in l.title_lines.iter().enumerate() {
            root.draw(&Text::new(
                line.clone(),
                (l.width / 2, (l.text * 0.3 + title_line * i as f64) as i32),
                font(TITLE_PT).pos(Pos::new(HPos::Center, VPos::Top)),
            ))
            .map_err(e)?;
        }
        let stroke = |pt: f64| ink.px(pt);
        let line = |a: (i32, i32), b: (i32, i32), width: u32| {
            PathElement::new(vec![a, b], BLACK.stroke_width(width))
        };
        let tick = (l.text * 0.4).round() as i32;
        // The axis, its integer ticks and their labels.
        let k = self.k();
        root.draw(&line(
            (self.x(&l, 1.0), l.axis_y),
            (self.x(&l, k as f64), l.axis_y),
            stroke(0.8),
        ))
        .map_err(e)?;
        for r in 1..=k {
            let x = self.x(&l, r as f64);
            root.draw(&line((x, l.axis_y - tick), (x, l.axis_y), stroke(0.8)))
                .map_err(e)?;
            root.draw(&Text::new(
                r.to_string(),
                (x, l.axis_y - tick - 2),
                font(TICK_PT).pos(centred),
            ))
            .map_err(e)?;
        }
        // The critical difference, from rank 1.
        let cd_end = self.x(&l, 1.0 + self.cd.min(k as f64 - 1.0));
        let (cd_y, x1) = (l.cd_y, self.x(&l, 1.0));
        root.draw(&line((x1, cd_y), (cd_end, cd_y), stroke(0.8)))
            .map_err(e)?;
        for x in [x1, cd_end] {
            root.draw(&line(
                (x, cd_y - tick / 2),
                (x, cd_y + tick / 2),
                stroke(0.8),
            ))
            .map_err(e)?;
        }
        root.draw(&Text::new(
            format!("CD = {:.2}", self.cd),
            ((x1 + cd_end) / 2, cd_y - tick / 2 - 2),
            font(TICK_PT).pos(centred),
        ))
        .map_err(e)?;
        // Groups not significantly different: one thick bar each.
        let groups = self.groups();
        for (i, (lo, hi)) in groups.iter().enumerate() {
            let y = l.axis_y + 2 * l.bar_step + l.bar_step * i as i32;
            root.draw(&line(
                (self.x(&l, *lo) - tick / 2, y),
                (self.x(&l, *hi) + tick / 2, y),
                stroke(2.4),
            ))
            .map_err(e)?;
        }
        // The algorithms: the better half to the left, the rest to the right.
        let sorted = self.sorted();
        let half = sorted.len().div_ceil(2);
        let first_row = self.first_row(&l);
        let gap = (l.text * 0.5).round() as i32;
        for (i, (name, rank)) in sorted.iter().enumerate() {
            let (row, left) = if i < half {
                (i as i32, true)
            } else {
                ((sorted.len() - 1 - i) as i32, false)
            };
            let y = first_row + l.row * row;
            let x = self.x(&l, *rank);
            let end = if left {
                l.margin - gap
            } else {
                l.width - l.margin + gap
            };
            root.draw(&line((x, l.axis_y), (x, y), stroke(0.5)))
                .map_err(e)?;
            root.draw(&line((x, y), (end, y), stroke(0.5))).map_err(e)?;
            let pos = if left {
                Pos::new(HPos::Right, VPos::Center)
            } else {
                Pos::new(HPos::Left, VPos::Center)
            };
            let at = if left { end - gap / 2 } else { end + gap / 2 };
            root.draw(&Text::new(
                Self::label(name, *rank, left),
                (at, y),
                font(LEGEND_PT).pos(pos),
            ))
            .map_err(e)?;
        }
        root.present().map_err(e)
    }
}

/// Draws `diagram` as `<dir>/<stem>.{svg,png,pdf}` under `style` (`write_drawing`).
pub fn write_cd_diagram(
    dir: &Path,
    stem: &str,
    diagram: &CdDiagram,
    style: &FigureStyle,
) -> Result<Vec<PathBuf>, ResultsError> {
    let ink = Ink::of(style);
    std::fs::create_dir_all(dir).map_err(|e| ResultsError::io(dir, e))?;
    let size = diagram.size(style);
    super::write_drawing(
        dir,
        stem,
        size,
        style.dpi,
        |area| diagram.draw(area, ink, style),
        |area| diagram.draw(area, ink, style),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Demšar 2006's example (mean ranks 3.143, 2.000, 2.893, 1.964; CD 1.25 at k = 4,
    /// N = 14): the widest gap, 3.143 − 1.964 = 1.179, is below CD, so all four form one
    /// group (the paper: Nemenyi finds no difference there); with a CD of 1.0 the groups are
    /// {1.964 … 2.893} and {2.893, 3.143}. The SVG names every algorithm with its rank and
    /// the CD, and draws one thick bar per group.
    #[test]
    fn demsar_example_draws_its_groups() {
        let diagram = CdDiagram {
            title: "example".into(),
            algorithms: vec![
                ("C4.5".into(), 3.143),
                ("C4.5+m".into(), 2.000),
                ("C4.5+cf".into(), 2.893),
                ("C4.5+m+cf".into(), 1.964),
            ],
            cd: 1.25,
        };
        assert_eq!(diagram.groups(), vec![(1.964, 3.143)]);
        let narrower = CdDiagram {
            cd: 1.0,
            title: String::new(),
            algorithms: diagram.algorithms.clone(),
        };
        assert_eq!(narrower.groups(), vec![(1.964, 2.893), (2.893, 3.143)]);
        let dir = std::env::temp_dir().join(format!("mtlbench-cd-{}", std::process::id()));
        let style = FigureStyle::default();
        let files = write_cd_diagram(&dir, "cd", &diagram, &style).unwrap();
        let svg = std::fs::read_to_string(&files[0]).unwrap();
        for text in [
            "C4.5+m+cf (1.96)",
            "C4.5+m (2.00)",
            "(2.89) C4.5+cf",
            "(3.14) C4.5",
            "CD = 1.25",
        ] {
            assert!(svg.contains(text), "{text}");
        }
        // One thick group bar (2.4 pt at 150 dpi: 5 px); printed at double-column width.
        assert_eq!(svg.matches("stroke-width=\"5\"").count(), 1);
        assert!(svg.contains("width=\"6.900in\""), "{svg}");
        if let Ok(keep) = std::env::var("MTLBENCH_KEEP_CD") {
            std::fs::copy(&files[1], keep).unwrap();
        }
        assert!(std::fs::metadata(&files[1]).unwrap().len() > 1000);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
