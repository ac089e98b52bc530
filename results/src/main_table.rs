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

/// One column: its header, the name `report --columns` chooses it by (`COLUMN_NAMES`) and,
/// for ranked columns, which direction is better.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub header: String,
    pub name: &'static str,
    pub better: Option<Better>,
}

/// The names `report --columns` takes, in table order, with what each shows; `metrics` is
/// every task's shown metric.
pub const COLUMN_NAMES: [(&str, &str); 20] = [
    ("n", "replicates"),
    ("metrics", "each task's shown metric"),
    ("delta_p", "Δp LibMTL"),
    ("delta_m", "Δm Nash-MTL"),
    ("delta_mtl", "Δ_MTL Vandenhende"),
    ("delta_auto_lambda", "Δ Auto-Lambda"),
    ("neg", "negative-transfer count"),
    ("rank", "mean rank"),
    ("p_stl", "paired p against single_task (uncorrected)"),
    ("p_equal", "paired p against equal (uncorrected)"),
    ("time", "wall-clock seconds"),
    ("steps", "optimizer steps"),
    ("passes", "forward/backward passes"),
    ("params", "parameter KiB"),
    ("opt_state", "optimizer-state KiB"),
    ("peak_mem", "peak memory MiB"),
    ("not_ok", "runs not ok"),
    ("worst_task", "worst task's gain"),
    ("spread", "task gain spread"),
    ("still_improving", "runs still improving at the end"),
];

/// The paper table's columns when `report --columns` names none: one Δ variant (LibMTL's Δp).
pub const DEFAULT_PAPER_COLUMNS: [&str; 4] = ["n", "metrics", "delta_p", "rank"];

/// Checks `names` against `COLUMN_NAMES`: the first unknown one, with the valid ones listed.
pub fn check_columns(names: &[String]) -> Result<(), String> {
    for name in names {
        if !COLUMN_NAMES.iter().any(|(n, _)| n == name) {
            let valid: Vec<&str> = COLUMN_NAMES.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "unknown column `{name}`; valid columns: {}",
                valid.join(", ")
            ));
        }
    }
    if names.is_empty() {
        return Err("no column named".into());
    }
    Ok(())
}

/// `sections` with only the columns whose names `names` lists (in table order), every
/// estimate of a column printed with that column's fixed number of decimals
/// (`fixed_decimals`).
pub fn select_columns(sections: &[Section], names: &[&str]) -> Vec<Section> {
    sections
        .iter()
        .map(|s| {
            let keep: Vec<usize> = (0..s.columns.len())
                .filter(|&c| names.contains(&s.columns[c].name))
                .collect();
            let mut out = Section {
                suite: s.suite.clone(),
                fraction: s.fraction.clone(),
                columns: keep.iter().map(|&c| s.columns[c].clone()).collect(),
                rows: s
                    .rows
                    .iter()
                    .map(|(a, cells)| (a.clone(), keep.iter().map(|&c| cells[c].clone()).collect()))
                    .collect(),
            };
            fix_precision(&mut out);
            out
        })
        .collect()
}

/// Decimals that show every estimate of a column alike: enough for two significant digits
/// of its narrowest nonzero interval, or, with no interval, three significant digits of its
/// largest mean; between 0 and 4.
pub fn fixed_decimals(estimates: &[(f64, f64)]) -> usize {
    let narrowest = estimates
        .iter()
        .map(|e| e.1.abs())
        .filter(|c| c.is_finite() && *c > 0.0)
        .fold(f64::INFINITY, f64::min);
    let largest = estimates
        .iter()
        .map(|e| e.0.abs())
        .filter(|m| m.is_finite() && *m > 0.0)
        .fold(0.0f64, f64::max);
    let digits = if narrowest.is_finite() {
        1 - narrowest.log10().floor() as i64
    } else if largest > 0.0 {
        2 - largest.log10().floor() as i64
    } else {
        0
    };
    digits.clamp(0, 4) as usize
}

/// Rewrites the text of every estimate cell with its column's `fixed_decimals`.
pub fn fix_precision(section: &mut Section) {
    for c in 0..section.columns.len() {
        let estimates: Vec<(f64, f64)> = section
            .rows
            .iter()
            .filter_map(|(_, cells)| cells[c].ci.map(|ci| (cells[c].value, ci)))
            .collect();
        if estimates.is_empty() {
            continue;
        }
        let d = fixed_decimals(&estimates);
        for (_, cells) in &mut section.rows {
            if let Some(ci) = cells[c].ci {
                cells[c].text = fixed_estimate(cells[c].value, ci, d);
            }
        }
    }
}

/// `mean ± ci` with `d` decimals (the interval left out when undefined; −0 printed as 0).
pub fn fixed_estimate(mean: f64, ci: f64, d: usize) -> String {
    let round = |v: f64| {
        let s = format!("{:.*}", d, v);
        if s.trim_start_matches('-')
            .chars()
            .all(|c| c == '0' || c == '.')
        {
            s.trim_start_matches('-').to_string()
        } else {
            s
        }
    };
    if ci.is_finite() {
        format!("{} ± {}", round(mean), round(ci))
    } else {
        round(mean)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One cell: its text, the value it is ranked by (NaN: not ranked) and, for an estimate
/// (mean ± CI), its CI half-width.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub text: String,
    pub value: f64,
    pub ci: Option<f64>,
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            value: f64::NAN,
            ci: None,
        }
    }

    pub fn ranked(text: impl Into<String>, value: f64) -> Self {
        Cell {
            text: text.into(),
            value,
            ci: None,
        }
    }

    /// An estimate, mean ± 95% CI, ranked by its mean.
    pub fn estimate(mean: f64, ci: f64) -> Self {
        Cell {
            text: format_estimate(mean, ci),
            value: mean,
            ci: Some(ci),
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

/// The `COLUMN_NAMES` of the Δ variants, in `DeltaVariant::ALL`'s order.
const VARIANT_NAMES: [&str; 4] = ["delta_p", "delta_m", "delta_mtl", "delta_auto_lambda"];

/// The table's sections.
pub fn main_table(summary: &StudySummary) -> Vec<Section> {
    let mut sections = Vec::new();
    for (suite, fraction) in summary.sections() {
        let in_section = |k: &GroupKey| k.suite == suite && k.fraction == fraction;
        let shown = summary.shown_in(&suite, &fraction);
        let mut columns = vec![Column {
            header: "n".into(),
            name: "n",
            better: None,
        }];
        for (task, metric, hib) in &shown {
            let better = direction(*hib);
            columns.push(Column {
                header: format!("{task} {metric} {}", arrow(better)),
                name: "metrics",
                better: Some(better),
            });
        }
        for (variant, name) in DeltaVariant::ALL.into_iter().zip(VARIANT_NAMES) {
            let better = direction(variant.higher_is_better());
            columns.push(Column {
                header: format!("{} {}", variant.label(), arrow(better)),
                name,
                better: Some(better),
            });
        }
        for (header, name, better) in [
            ("neg.", "neg", Some(Better::Lower)),
            ("rank ↓", "rank", Some(Better::Lower)),
            ("p (STL)", "p_stl", None),
            ("p (equal)", "p_equal", None),
            ("time (s) ↓", "time", Some(Better::Lower)),
            ("steps", "steps", None),
            ("passes fwd/bwd", "passes", None),
            ("params (KiB)", "params", None),
            ("opt. state (KiB)", "opt_state", None),
            ("peak mem. (MiB)", "peak_mem", None),
            ("runs not ok", "not_ok", None),
        ] {
            columns.push(Column {
                header: header.into(),
                name,
                better,
            });
        }
        // Appended after the older columns (docs/FORMULAS.md#worst-task-and-balance).
        for (header, name, better) in [
            (
                format!("{WORST_TASK_LABEL} ↑"),
                "worst_task",
                Some(Better::Higher),
            ),
            (
                format!("{GAIN_SPREAD_LABEL} ↓"),
                "spread",
                Some(Better::Lower),
            ),
        ] {
            columns.push(Column {
                header,
                name,
                better,
            });
        }
        columns.push(Column {
            header: "still improving".into(),
            name: "still_improving",
            better: None,
        });
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
                Cell::estimate(r.stats.mean, r.stats.ci95)
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
            Cell::estimate(stats.mean, stats.ci95)
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
            Cell::estimate(stats.mean, stats.ci95)
        });
    }
    cells.push(Cell::text(still_improving_text(delta)));
    cells
}

/// "k/n" runs still improving at the end, flagged with ⚠ when k > 0; "–" when no run was
/// judged (docs/FORMULAS.md#still-improving-at-the-end).
pub fn still_improving_text(delta: &DeltaRow) -> String {
    match (delta.still_improving, delta.judged) {
        (_, 0) => "–".into(),
        (0, n) => format!("0/{n}"),
        (k, n) => format!("⚠ {k}/{n}"),
    }
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

/// Text made safe for LaTeX: special characters escaped, symbols in math mode (Δ_MTL as
/// `$\Delta_{\mathrm{MTL}}$`), so that the result is plain ASCII wherever `text` uses only
/// ASCII and the symbols of the tables (± Δ ↑ ↓ – − · ⚠; − as a math minus, ⚠ as `(!)`).
pub fn latex_escape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(ch) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("Δ_MTL") {
            out.push_str(r"$\Delta_{\mathrm{MTL}}$");
            rest = after;
            continue;
        }
        match ch {
            '\\' => out.push_str(r"\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(ch);
            }
            '~' => out.push_str(r"\textasciitilde{}"),
            '^' => out.push_str(r"\textasciicircum{}"),
            '<' => out.push_str(r"$<$"),
            '>' => out.push_str(r"$>$"),
            '±' => out.push_str(r"$\pm$"),
            'Δ' => out.push_str(r"$\Delta$"),
            '↑' => out.push_str(r"$\uparrow$"),
            '↓' => out.push_str(r"$\downarrow$"),
            '·' => out.push_str(r"$\cdot$"),
            '–' => out.push_str("--"),
            '−' => out.push_str("$-$"),
            '⚠' => out.push_str("(!)"),
            _ => out.push(ch),
        }
        rest = &rest[ch.len_utf8()..];
    }
    out
}

/// The LaTeX packages the tables need: booktabs (`\toprule`) and graphicx (`\resizebox`).
pub const LATEX_PACKAGES: &str = r"\usepackage{booktabs} \usepackage{graphicx}";

/// The sections as one LaTeX document fragment (`\input` it in a document whose preamble has
/// `LATEX_PACKAGES`): a booktabs `tabular` per section, best values in `\textbf`.
pub fn render_latex(study: &str, sections: &[Section], selection: &Selection) -> String {
    let mut tex = String::new();
    let _ = writeln!(
        tex,
        "% {}: main table (mean +- 95% CI over replicates; best per column in bold).\n% Needs {LATEX_PACKAGES} in the preamble.",
        latex_escape(study)
    );
    tex.push_str(&render_latex_tables(
        sections,
        &format!("selection: {selection}"),
    ));
    tex
}

/// A booktabs table per section, its caption "suite (training fraction f; `note`)".
pub fn render_latex_tables(sections: &[Section], note: &str) -> String {
    let mut tex = String::new();
    for section in sections {
        let _ = writeln!(
            tex,
            "\n\\begin{{table}}[t]\n\\centering\n\\caption{{{} (training fraction {}; {})}}\n\\resizebox{{\\textwidth}}{{!}}{{%\n\\begin{{tabular}}{{l{}}}\n\\toprule",
            latex_escape(&section.suite),
            latex_escape(&section.fraction),
            latex_escape(note),
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
                    name: "metrics",
                    better: Some(Better::Lower),
                },
                Column {
                    header: "Δp LibMTL (%) ↑".into(),
                    name: "delta_p",
                    better: Some(Better::Higher),
                },
                Column {
                    header: "n".into(),
                    name: "n",
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
        // The convergence count last; the columns before it unchanged.
        assert_eq!(headers.last(), Some(&"still improving"));
        let n = headers.len() - 1;
        assert_eq!(
            &headers[n - 3..n],
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

    fn two_replicate_runs() -> Vec<crate::RunRecord> {
        use crate::record::test_run;
        let base = |r| {
            test_run(
                "single_task",
                r,
                &[("a", "mse", false, 1.0), ("b", "mse", false, 1.0)],
            )
        };
        vec![
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
        ]
    }

    /// `--columns` keeps the named columns in table order (every task's metric for
    /// `metrics`), and unknown names are refused with the valid ones listed.
    #[test]
    fn columns_are_chosen_by_name() {
        use crate::summary::summarize_study;
        use crate::transfer::DeltaMetrics;
        let full = main_table(&summarize_study(
            &two_replicate_runs(),
            &DeltaMetrics::default(),
        ));
        let names = ["delta_mtl", "metrics", "n"];
        let chosen = select_columns(&full, &names);
        let headers: Vec<&str> = chosen[0]
            .columns
            .iter()
            .map(|c| c.header.as_str())
            .collect();
        assert_eq!(
            headers,
            ["n", "a mse ↓", "b mse ↓", "Δ_MTL Vandenhende (%) ↑"]
        );
        assert_eq!(chosen[0].rows[1].1.len(), 4);
        let defaults = select_columns(&full, &DEFAULT_PAPER_COLUMNS);
        assert_eq!(defaults[0].columns.len(), 1 + 2 + 1 + 1);
        assert_eq!(
            defaults[0]
                .columns
                .iter()
                .filter(|c| c.header.starts_with('Δ'))
                .count(),
            1
        );
        let err = check_columns(&["delta_p".into(), "bogus".into()]).unwrap_err();
        assert!(
            err.contains("`bogus`") && err.contains("delta_p, delta_m"),
            "{err}"
        );
        assert!(check_columns(&["rank".into()]).is_ok());
        // Every name of COLUMN_NAMES names a column of the table.
        for (name, _) in COLUMN_NAMES {
            assert!(full[0].columns.iter().any(|c| c.name == name), "{name}");
        }
    }

    /// Decimals by hand: the narrowest nonzero CI 0.0351 → two significant digits → 3;
    /// CI 12 → 0; no CI and largest mean 0.946 → 3; a CI of 0 is left out; capped at 4.
    /// Every estimate of a column then has the same decimals.
    #[test]
    fn precision_is_fixed_per_column() {
        assert_eq!(
            fixed_decimals(&[(0.02, 0.0351), (0.0, 0.0), (-0.007, 0.1)]),
            3
        );
        assert_eq!(fixed_decimals(&[(40.0, 12.0)]), 0);
        assert_eq!(fixed_decimals(&[(0.946, f64::NAN)]), 3);
        assert_eq!(fixed_decimals(&[(1e-7, 1e-8)]), 4);
        assert_eq!(fixed_estimate(-0.00001, 0.1, 3), "0.000 ± 0.100");
        let mut s = section();
        s.rows[0].1[0] = Cell::estimate(0.0002, 0.0351);
        s.rows[1].1[0] = Cell::estimate(-0.0103, 0.0717);
        fix_precision(&mut s);
        assert_eq!(s.rows[0].1[0].text, "0.000 ± 0.035");
        assert_eq!(s.rows[1].1[0].text, "-0.010 ± 0.072");
    }

    /// The LaTeX compiles in a standard document: every line outside the comments is ASCII
    /// (no character needs an input encoding), Δ_MTL is one math symbol, and the header
    /// comment names every package used (booktabs for the rules, graphicx for \resizebox).
    #[test]
    fn latex_is_ascii_and_names_its_packages() {
        use crate::summary::summarize_study;
        use crate::transfer::DeltaMetrics;
        let summary = summarize_study(&two_replicate_runs(), &DeltaMetrics::default());
        let mut tex = render_latex("study_1", &main_table(&summary), &Selection::BestVal);
        tex.push_str(&render_latex_tables(
            &crate::paired_table::paired_sections(&summary),
            "paired",
        ));
        for line in tex.lines().filter(|l| !l.starts_with('%')) {
            assert!(line.is_ascii(), "{line}");
        }
        assert!(!tex.contains(r"$\Delta$\_MTL"));
        assert!(tex.contains(r"$\Delta_{\mathrm{MTL}}$ Vandenhende"));
        let comment: String = tex.lines().take_while(|l| l.starts_with('%')).collect();
        for (command, package) in [(r"\toprule", "booktabs"), (r"\resizebox", "graphicx")] {
            assert!(tex.contains(command));
            assert!(
                comment.contains(&format!(r"\usepackage{{{package}}}")),
                "{comment}"
            );
        }
    }

    #[test]
    fn rows_count_their_runs_still_improving_at_the_end_and_flag_them() {
        use crate::record::{test_run, Point};
        use crate::summary::summarize_study;
        // Task a's validation accuracy over 10 evaluations: rising to the last (still
        // improving) or peaking at the 4th (converged).
        let run = |arch: &str, r: usize, rising: bool| {
            let mut run = test_run(arch, r, &[("a", "accuracy", true, 0.9)]);
            for i in 0..10 {
                let v = if rising {
                    0.5 + 0.04 * i as f64
                } else {
                    0.5 + 0.1 * i.min(3) as f64
                };
                run.points.push(Point {
                    task: "a".into(),
                    split: "val".into(),
                    metric: "accuracy".into(),
                    higher_is_better: true,
                    epoch: i + 1,
                    step: 10 * (i + 1),
                    value: v,
                });
            }
            run
        };
        let runs = vec![
            run("single_task", 0, false),
            run("single_task", 1, false),
            run("hard_sharing", 0, true),
            run("hard_sharing", 1, false),
        ];
        let summary = summarize_study(&runs, &crate::transfer::DeltaMetrics::default());
        let sections = main_table(&summary);
        let last = sections[0].columns.len() - 1;
        let text = |row: usize| sections[0].rows[row].1[last].text.clone();
        let row = |name: &str| {
            sections[0]
                .rows
                .iter()
                .position(|(a, _)| a.starts_with(name))
                .unwrap()
        };
        assert_eq!(text(row("single_task")), "0/2");
        assert_eq!(text(row("hard_sharing")), "⚠ 1/2");
        let md = render_markdown(&sections);
        assert!(md.contains("| ⚠ 1/2 |"), "{md}");
        assert!(latex_escape("⚠ 1/2").is_ascii());
    }
}
