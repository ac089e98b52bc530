//! The paper-style main table, built once and rendered as Markdown and as LaTeX
//! (booktabs): per suite and fraction, rows = algorithms; columns = each task's shown
//! metric ± 95% CI, the four Δm variants, the negative-transfer count, the mean rank, the
//! paired tests, the cost per run, then the worst task's gain and the spread of the per-task
//! gains. The best value of each ranked column is bold.

use crate::selection::Selection;
use crate::summary::{DeltaRow, GroupKey, StudySummary};
use crate::tables::{format_estimate, GAIN_SPREAD_LABEL, WORST_TASK_LABEL};
use crate::transfer::DeltaVariant;
use std::fmt::Write as _;

/// One column: its header and, for ranked columns, which direction is better.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub header: String,
    pub better: Option<Better>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One cell: its text and the value it is ranked by (NaN: not ranked).
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub text: String,
    pub value: f64,
}

impl Cell {
    fn text(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            value: f64::NAN,
        }
    }

    fn ranked(text: impl Into<String>, value: f64) -> Self {
        Cell {
            text: text.into(),
            value,
        }
    }
}

/// One (suite, fraction) block of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub suite: String,
    pub fraction: String,
    pub columns: Vec<Column>,
    /// (algorithm, its cells in column order).
    pub rows: Vec<(String, Vec<Cell>)>,
}

impl Section {
    /// Per column, whether each row holds the best value (ties are all best).
    pub fn best(&self) -> Vec<Vec<bool>> {
        let mut best = vec![vec![false; self.columns.len()]; self.rows.len()];
        for (c, column) in self.columns.iter().enumerate() {
            let Some(better) = column.better else {
                continue;
            };
            let values = self.rows.iter().map(|(_, cells)| cells[c].value);
            let finite: Vec<f64> = values.filter(|v| v.is_finite()).collect();
            let target = match better {
                Better::Higher => finite.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                Better::Lower => finite.iter().cloned().fold(f64::INFINITY, f64::min),
            };
            if finite.len() < 2 {
                continue;
            }
            for (r, (_, cells)) in self.rows.iter().enumerate() {
                best[r][c] = cells[c].value == target;
            }
        }
        best
    }
}

fn direction(higher_is_better: bool) -> Better {
    if higher_is_better {
        Better::Higher
    } else {
        Better::Lower
    }
}

fn arrow(better: Better) -> &'static str {
    match better {
        Better::Higher => "↑",
        Better::Lower => "↓",
    }
}

/// A p-value with three decimals, or – when undefined.
fn p_value(p: f64) -> String {
    if p.is_finite() {
        format!("{p:.3}")
    } else {
        "–".to_string()
    }
}

/// The table's sections.
pub fn main_table(summary: &StudySummary) -> Vec<Section> {
    let mut sections = Vec::new();
    for (suite, fraction) in summary.sections() {
        let in_section = |k: &GroupKey| k.suite == suite && k.fraction == fraction;
        let shown = summary.shown_in(&suite, &fraction);
        let mut columns = vec![Column {
            header: "n".into(),
            better: None,
        }];
        for (task, metric, hib) in &shown {
            let better = direction(*hib);
            columns.push(Column {
                header: format!("{task} {metric} {}", arrow(better)),
                better: Some(better),
            });
        }
        for variant in DeltaVariant::ALL {
            let better = direction(variant.higher_is_better());
            columns.push(Column {
                header: format!("{} {}", variant.label(), arrow(better)),
                better: Some(better),
            });
        }
        for (header, better) in [
            ("neg.", Some(Better::Lower)),
            ("rank ↓", Some(Better::Lower)),
            ("p (STL)", None),
            ("p (equal)", None),
            ("time (s) ↓", Some(Better::Lower)),
            ("steps", None),
            ("passes fwd/bwd", None),
            ("params (KiB)", None),
            ("opt. state (KiB)", None),
            ("peak mem. (MiB)", None),
            ("runs not ok", None),
        ] {
            columns.push(Column {
                header: header.into(),
                better,
            });
        }
        // Appended after the older columns (docs/FORMULAS.md#worst-task-and-balance).
        for (header, better) in [
            (format!("{WORST_TASK_LABEL} ↑"), Some(Better::Higher)),
            (format!("{GAIN_SPREAD_LABEL} ↓"), Some(Better::Lower)),
        ] {
            columns.push(Column { header, better });
        }
        let rows = summary
            .deltas
            .iter()
            .filter(|d| in_section(&d.key))
            .map(|delta| {
                (
                    delta.key.algorithm.clone(),
                    row_cells(summary, delta, &shown),
                )
            })
            .collect();
        sections.push(Section {
            suite,
            fraction,
            columns,
            rows,
        });
    }
    sections
}

fn row_cells(
    summary: &StudySummary,
    delta: &DeltaRow,
    shown: &[(String, String, bool)],
) -> Vec<Cell> {
    let mut n = 0;
    let mut metrics = Vec::new();
    for (task, metric, _) in shown {
        let found = summary
            .metrics
            .iter()
            .find(|r| r.key == delta.key && r.task == *task && r.metric == *metric);
        metrics.push(match found {
            Some(r) => {
                n = n.max(r.stats.n);
                Cell::ranked(format_estimate(r.stats.mean, r.stats.ci95), r.stats.mean)
            }
            None => Cell::text("–"),
        });
    }
    let mut cells = vec![Cell::text(n.to_string())];
    cells.extend(metrics);
    for stats in &delta.variants {
        cells.push(if stats.n == 0 {
            Cell::text("–")
        } else {
            Cell::ranked(format_estimate(stats.mean, stats.ci95), stats.mean)
        });
    }
    cells.push(match delta.negative_transfer {
        Some(c) => Cell::ranked(format!("{c}/{}", delta.tasks), c as f64),
        None => Cell::text("–"),
    });
    cells.push(Cell::ranked(
        format!("{:.2}", delta.mean_rank),
        delta.mean_rank,
    ));
    cells.push(Cell::text(p_value(delta.p_vs_single_task)));
    cells.push(Cell::text(p_value(delta.p_vs_equal)));
    cells.push(Cell::ranked(
        format!("{:.2}", delta.wall_time_s),
        delta.wall_time_s,
    ));
    cells.push(Cell::text(format!("{:.0}", delta.steps)));
    cells.push(Cell::text(format!(
        "{:.0}/{:.0}",
        delta.forward_passes, delta.backward_passes
    )));
    cells.push(Cell::text(format!("{:.1}", delta.parameter_bytes / 1024.0)));
    cells.push(Cell::text(format!("{:.1}", delta.optimizer_bytes / 1024.0)));
    cells.push(Cell::text(if delta.peak_memory_bytes.is_nan() {
        "–".to_string()
    } else {
        format!("{:.1}", delta.peak_memory_bytes / (1024.0 * 1024.0))
    }));
    cells.push(Cell::text(delta.not_ok.to_string()));
    for stats in [&delta.worst_task, &delta.gain_spread] {
        cells.push(if stats.n == 0 {
            Cell::text("–")
        } else {
            Cell::ranked(format_estimate(stats.mean, stats.ci95), stats.mean)
        });
    }
    cells
}

/// The sections as Markdown tables under `##` headings; best values in bold.
pub fn render_markdown(sections: &[Section]) -> String {
    let mut md = String::new();
    for section in sections {
        let _ = writeln!(
            md,
            "## {} (training fraction {})\n",
            section.suite, section.fraction
        );
        let mut header = String::from("| algorithm |");
        let mut rule = String::from("|---|");
        for c in &section.columns {
            let _ = write!(header, " {} |", c.header);
            rule.push_str("---:|");
        }
        let _ = writeln!(md, "{header}\n{rule}");
        for ((algorithm, cells), best) in section.rows.iter().zip(section.best()) {
            let _ = write!(md, "| {algorithm} |");
            for (cell, is_best) in cells.iter().zip(best) {
                if is_best {
                    let _ = write!(md, " **{}** |", cell.text);
                } else {
                    let _ = write!(md, " {} |", cell.text);
                }
            }
            md.push('\n');
        }
        md.push('\n');
    }
    md
}

/// Text made safe for LaTeX: special characters escaped, symbols in math mode.
pub fn latex_escape(text: &str) -> String {
    let mut out = String::new();
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str(r"\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(ch);
            }
            '~' => out.push_str(r"\textasciitilde{}"),
            '^' => out.push_str(r"\textasciicircum{}"),
            '±' => out.push_str(r"$\pm$"),
            'Δ' => out.push_str(r"$\Delta$"),
            '↑' => out.push_str(r"$\uparrow$"),
            '↓' => out.push_str(r"$\downarrow$"),
            '–' => out.push_str("--"),
            '−' => out.push('-'),
            _ => out.push(ch),
        }
    }
    out
}

/// The sections as one LaTeX document fragment: a booktabs `tabular` per section (needs
/// `\usepackage{booktabs}`), best values in `\textbf`.
pub fn render_latex(study: &str, sections: &[Section], selection: &Selection) -> String {
    let mut tex = String::new();
    let _ = writeln!(
        tex,
        "% {}: main table (mean ± 95% CI over replicates; best per column in bold).\n% Needs \\usepackage{{booktabs}}.",
        latex_escape(study)
    );
    for section in sections {
        let _ = writeln!(
            tex,
            "\n\\begin{{table}}[t]\n\\centering\n\\caption{{{} (training fraction {}; selection: {})}}\n\\resizebox{{\\textwidth}}{{!}}{{%\n\\begin{{tabular}}{{l{}}}\n\\toprule",
            latex_escape(&section.suite),
            latex_escape(&section.fraction),
            latex_escape(&selection.to_string()),
            "r".repeat(section.columns.len())
        );
        let header: Vec<String> = std::iter::once("algorithm".to_string())
            .chain(section.columns.iter().map(|c| latex_escape(&c.header)))
            .collect();
        let _ = writeln!(tex, "{} \\\\\n\\midrule", header.join(" & "));
        for ((algorithm, cells), best) in section.rows.iter().zip(section.best()) {
            let mut line = vec![latex_escape(algorithm)];
            for (cell, is_best) in cells.iter().zip(best) {
                let text = latex_escape(&cell.text);
                line.push(if is_best {
                    format!("\\textbf{{{text}}}")
                } else {
                    text
                });
            }
            let _ = writeln!(tex, "{} \\\\", line.join(" & "));
        }
        let _ = writeln!(tex, "\\bottomrule\n\\end{{tabular}}}}\n\\end{{table}}");
    }
    tex
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section() -> Section {
        Section {
            suite: "toy_1".into(),
            fraction: "1".into(),
            columns: vec![
                Column {
                    header: "a mse ↓".into(),
                    better: Some(Better::Lower),
                },
                Column {
                    header: "Δp LibMTL (%) ↑".into(),
                    better: Some(Better::Higher),
                },
                Column {
                    header: "n".into(),
                    better: None,
                },
            ],
            rows: vec![
                (
                    "single_task+equal".into(),
                    vec![
                        Cell::ranked("1.000 ± 0.100", 1.0),
                        Cell::ranked("0.000", 0.0),
                        Cell::text("3"),
                    ],
                ),
                (
                    "hard_sharing+equal".into(),
                    vec![
                        Cell::ranked("0.500 ± 0.100", 0.5),
                        Cell::ranked("50.0", 50.0),
                        Cell::text("3"),
                    ],
                ),
            ],
        }
    }

    #[test]
    fn best_follows_direction_and_renders_bold() {
        let s = section();
        assert_eq!(
            s.best(),
            vec![vec![false, false, false], vec![true, true, false]]
        );
        let md = render_markdown(std::slice::from_ref(&s));
        assert!(md.contains("| hard_sharing+equal | **0.500 ± 0.100** | **50.0** | 3 |"));
        let tex = render_latex("study_1", &[s], &Selection::BestVal);
        assert!(
            tex.contains(r"\toprule") && tex.contains(r"\midrule") && tex.contains(r"\bottomrule")
        );
        assert!(tex
            .contains(r"hard\_sharing+equal & \textbf{0.500 $\pm$ 0.100} & \textbf{50.0} & 3 \\"));
        assert!(tex.contains(r"$\Delta$p LibMTL (\%) $\uparrow$"));
        assert!(tex.contains(r"\caption{toy\_1 (training fraction 1; selection: best\_val)}"));
    }

    /// The worst task's gain and the gain spread are the last two columns, after every
    /// older one in its place; the best worst-task gain is the highest, the best spread the
    /// lowest. Gains: replicate 0 (+30 %, −20 %), replicate 1 (+10 %, −10 %).
    #[test]
    fn worst_task_and_spread_are_appended_columns() {
        use crate::record::test_run;
        use crate::summary::summarize_study;
        use crate::transfer::DeltaMetrics;
        let base = |r| {
            test_run(
                "single_task",
                r,
                &[("a", "mse", false, 1.0), ("b", "mse", false, 1.0)],
            )
        };
        let runs = vec![
            base(0),
            base(1),
            test_run(
                "hard_sharing",
                0,
                &[("a", "mse", false, 0.7), ("b", "mse", false, 1.2)],
            ),
            test_run(
                "hard_sharing",
                1,
                &[("a", "mse", false, 0.9), ("b", "mse", false, 1.1)],
            ),
        ];
        let sections = main_table(&summarize_study(&runs, &DeltaMetrics::default()));
        let headers: Vec<&str> = sections[0]
            .columns
            .iter()
            .map(|c| c.header.as_str())
            .collect();
        let n = headers.len();
        assert_eq!(
            &headers[n - 3..],
            &[
                "runs not ok",
                "worst task gain (%) ↑",
                "task gain spread (%) ↓"
            ]
        );
        // The columns before them, peak memory among the costs included.
        assert_eq!(headers[..n - 2].len(), 1 + 2 + 4 + 11);
        let (_, cells) = &sections[0].rows[1];
        // Worst: −20 and −10, mean −15; spread: 25 and 10, mean 17.5.
        assert!(
            (cells[n - 2].value + 15.0).abs() < 1e-9,
            "{:?}",
            cells[n - 2]
        );
        assert!(
            (cells[n - 1].value - 17.5).abs() < 1e-9,
            "{:?}",
            cells[n - 1]
        );
        let best = sections[0].best();
        // The baseline (0, 0) is best on both.
        assert!(best[0][n - 2] && best[0][n - 1] && !best[1][n - 2]);
    }
}
