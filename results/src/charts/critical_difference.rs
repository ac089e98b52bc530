//! The critical-difference diagram of Demšar 2006 (section 3.2.4, Figure 1): algorithms
//! placed on an axis of mean ranks (1 = best, left), the Nemenyi critical difference drawn
//! above the axis, and a thick bar under the axis joining each group of algorithms whose
//! mean ranks differ by less than it (not significantly different at α = 0.05).
//! docs/FORMULAS.md#significance-over-many-comparisons.

use super::{register_font, FAMILY};
use crate::significance::cliques;
use crate::store::write_atomic;
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

const WIDTH: u32 = 1200;
/// Margin left and right of the axis, for the names.
const MARGIN: i32 = 330;
const AXIS_Y: i32 = 110;
const ROW: i32 = 28;

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

    /// The pixel column of mean rank `r`.
    fn x(&self, r: f64) -> i32 {
        let span = (WIDTH as i32 - 2 * MARGIN) as f64;
        MARGIN + ((r - 1.0) / (self.k() as f64 - 1.0) * span).round() as i32
    }

    pub fn size(&self) -> (u32, u32) {
        let left = self.algorithms.len().div_ceil(2) as i32;
        let height = AXIS_Y + 40 + 12 * self.groups().len() as i32 + ROW * left + 30;
        (WIDTH, height as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String> {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(e)?;
        let font = |size: f64| TextStyle::from((FAMILY, size).into_font()).color(&BLACK);
        let centred = Pos::new(HPos::Center, VPos::Bottom);
        root.draw(&Text::new(
            self.title.clone(),
            (WIDTH as i32 / 2, 8),
            font(20.0).pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(e)?;
        let line = |a: (i32, i32), b: (i32, i32), width: u32| {
            PathElement::new(vec![a, b], BLACK.stroke_width(width))
        };
        // The axis, its integer ticks and their labels.
        let k = self.k();
        root.draw(&line((self.x(1.0), AXIS_Y), (self.x(k as f64), AXIS_Y), 2))
            .map_err(e)?;
        for r in 1..=k {
            let x = self.x(r as f64);
            root.draw(&line((x, AXIS_Y - 8), (x, AXIS_Y), 2))
                .map_err(e)?;
            root.draw(&Text::new(
                r.to_string(),
                (x, AXIS_Y - 10),
                font(16.0).pos(centred),
            ))
            .map_err(e)?;
        }
        // The critical difference, from rank 1.
        let cd_y = 58;
        let cd_end = self.x(1.0 + self.cd.min(k as f64 - 1.0));
        root.draw(&line((self.x(1.0), cd_y), (cd_end, cd_y), 2))
            .map_err(e)?;
        for x in [self.x(1.0), cd_end] {
            root.draw(&line((x, cd_y - 5), (x, cd_y + 5), 2))
                .map_err(e)?;
        }
        root.draw(&Text::new(
            format!("CD = {:.2}", self.cd),
            ((self.x(1.0) + cd_end) / 2, cd_y - 6),
            font(16.0).pos(centred),
        ))
        .map_err(e)?;
        // Groups not significantly different.
        let groups = self.groups();
        for (i, (lo, hi)) in groups.iter().enumerate() {
            let y = AXIS_Y + 16 + 12 * i as i32;
            root.draw(&line((self.x(*lo) - 6, y), (self.x(*hi) + 6, y), 5))
                .map_err(e)?;
        }
        // The algorithms: the better half to the left, the rest to the right.
        let sorted = self.sorted();
        let half = sorted.len().div_ceil(2);
        let first_row = AXIS_Y + 40 + 12 * groups.len() as i32;
        for (i, (name, rank)) in sorted.iter().enumerate() {
            let (row, left) = if i < half {
                (i as i32, true)
            } else {
                ((sorted.len() - 1 - i) as i32, false)
            };
            let y = first_row + ROW * row;
            let x = self.x(*rank);
            let end = if left {
                MARGIN - 20
            } else {
                WIDTH as i32 - MARGIN + 20
            };
            root.draw(&line((x, AXIS_Y), (x, y), 1)).map_err(e)?;
            root.draw(&line((x, y), (end, y), 1)).map_err(e)?;
            let (text, pos) = if left {
                (
                    format!("{name} ({rank:.2})"),
                    Pos::new(HPos::Right, VPos::Center),
                )
            } else {
                (
                    format!("({rank:.2}) {name}"),
                    Pos::new(HPos::Left, VPos::Center),
                )
            };
            let at = if left { end - 6 } else { end + 6 };
            root.draw(&Text::new(text, (at, y), font(16.0).pos(pos)))
                .map_err(e)?;
        }
        root.present().map_err(e)
    }
}

/// Draws `diagram` as `<dir>/<stem>.svg` and `<dir>/<stem>.png`; returns both paths.
pub fn write_cd_diagram(
    dir: &Path,
    stem: &str,
    diagram: &CdDiagram,
) -> Result<Vec<PathBuf>, ResultsError> {
    register_font();
    std::fs::create_dir_all(dir).map_err(|e| ResultsError::io(dir, e))?;
    let size = diagram.size();
    let svg_path = dir.join(format!("{stem}.svg"));
    let mut svg = String::new();
    diagram
        .draw(SVGBackend::with_string(&mut svg, size).into_drawing_area())
        .map_err(|message| ResultsError::Chart {
            path: svg_path.clone(),
            message,
        })?;
    write_atomic(&svg_path, svg.as_bytes())?;
    let png_path = dir.join(format!("{stem}.png"));
    let tmp = dir.join(format!(".{stem}.tmp-{}.png", std::process::id()));
    diagram
        .draw(BitMapBackend::new(&tmp, size).into_drawing_area())
        .map_err(|message| ResultsError::Chart {
            path: png_path.clone(),
            message,
        })?;
    std::fs::rename(&tmp, &png_path).map_err(|e| ResultsError::io(&png_path, e))?;
    Ok(vec![svg_path, png_path])
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
        let files = write_cd_diagram(&dir, "cd", &diagram).unwrap();
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
        assert_eq!(svg.matches("stroke-width=\"5\"").count(), 1);
        if let Ok(keep) = std::env::var("MTLBENCH_KEEP_CD") {
            std::fs::copy(&files[1], keep).unwrap();
        }
        assert!(std::fs::metadata(&files[1]).unwrap().len() > 1000);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
