//! The summary `run` prints at the end: one compact table per (suite, fraction) that fits
//! a terminal of `WIDTH` columns — algorithm, Δ on each task's primary metric with its
//! 95% CI, negative-transfer count, mean rank, seconds per run. The wide tables stay in
//! the report's files.

use crate::selection::Selection;
use crate::summary::{DeltaRow, StudySummary};
use crate::tables::format_estimate;
use crate::transfer::DeltaMetrics;
use crate::transfer::DeltaVariant;
use std::fmt::Write;

/// The widest line the summary prints.
pub const WIDTH: usize = 100;

/// Columns after the algorithm: Δ, neg., rank, s/run, with their separating spaces.
const DELTA: usize = 22;
const NEG: usize = 6;
const RANK: usize = 5;
const TIME: usize = 8;
const ALGORITHM: usize = WIDTH - (DELTA + NEG + RANK + TIME + 4);

/// `text` cut to `width` characters (an ellipsis marks the cut).
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// `text` broken at spaces into lines of at most `width` characters (a longer word is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
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
    lines.into_iter().map(|l| fit(&l, width)).collect()
}

fn row(algorithm: &str, delta: &str, neg: &str, rank: &str, time: &str) -> String {
    let pad = |s: &str, w: usize| {
        let s = fit(s, w);
        let n = s.chars().count();
        (s, w - n)
    };
    let (a, a_pad) = pad(algorithm, ALGORITHM);
    let (d, d_pad) = pad(delta, DELTA);
    let (n, n_pad) = pad(neg, NEG);
    let (r, r_pad) = pad(rank, RANK);
    let (t, t_pad) = pad(time, TIME);
    let line = format!(
        "{a}{} {}{d} {}{n} {}{r} {}{t}",
        " ".repeat(a_pad),
        " ".repeat(d_pad),
        " ".repeat(n_pad),
        " ".repeat(r_pad),
        " ".repeat(t_pad)
    );
    line.trim_end().to_string()
}

fn delta_cell(d: &DeltaRow) -> String {
    let index = DeltaVariant::ALL
        .iter()
        .position(|v| *v == DeltaVariant::Vandenhende)
        .expect("a listed variant");
    match d.variants.get(index) {
        Some(s) if s.mean.is_finite() => format_estimate(s.mean, s.ci95),
        _ => "—".to_string(),
    }
}

/// The terminal summary of `summary`, then where the full report is.
pub fn terminal_summary(
    summary: &StudySummary,
    report: &str,
    selection: &Selection,
    metrics: &DeltaMetrics,
) -> String {
    let mut text = String::new();
    for (suite, fraction) in summary.sections() {
        let title = if fraction == "1" {
            suite.clone()
        } else {
            format!("{suite} (fraction {fraction})")
        };
        let _ = writeln!(text, "{}", fit(&title, WIDTH));
        let _ = writeln!(
            text,
            "{}",
            row("  algorithm", "Δ_MTL % (95% CI)", "neg.", "rank", "s/run")
        );
        for d in summary
            .deltas
            .iter()
            .filter(|d| d.key.suite == suite && d.key.fraction == fraction)
        {
            let neg = d
                .negative_transfer
                .map_or("—".to_string(), |n| format!("{n}/{}", d.tasks));
            let mut name = format!("  {}", d.key.algorithm);
            if d.not_ok > 0 {
                name.push_str(&format!(" ({} not ok)", d.not_ok));
            }
            let _ = writeln!(
                text,
                "{}",
                row(
                    &name,
                    &delta_cell(d),
                    &neg,
                    &format!("{:.2}", d.mean_rank),
                    &format!("{:.2}", d.wall_time_s)
                )
            );
        }
        text.push('\n');
    }
    let note = format!(
        "Δ_MTL: mean over tasks of the relative gain against single_task (paired by \
         replicate) on {}; neg.: tasks with a negative gain; rank: 1 = best.",
        metrics.describe()
    );
    for line in wrap(&note, WIDTH) {
        let _ = writeln!(text, "{line}");
    }
    let _ = writeln!(
        text,
        "Model selection: {selection} (`report --selection` re-selects)."
    );
    // The path is printed whole: a cut path is of no use.
    let _ = writeln!(text, "Full report: {report}");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RunRecord;
    use crate::summary::summarize_study;

    fn run(id: &str, algorithm: &str, arch: &str, replicate: usize, value: f64) -> RunRecord {
        let mut r = crate::record::test_run(arch, replicate, &[("t0", "mse", false, value)]);
        r.id = id.to_string();
        r.algorithm = algorithm.to_string();
        r
    }

    #[test]
    fn every_line_fits_and_every_algorithm_is_listed() {
        let long = format!("hard_sharing+static#2 lr=0.001 {}", "x".repeat(120));
        let mut runs = Vec::new();
        for rep in 0..3 {
            let v = 1.0 + rep as f64 * 0.1;
            runs.push(run(
                &format!("s{rep}"),
                "single_task+equal",
                "single_task",
                rep,
                v,
            ));
            runs.push(run(
                &format!("h{rep}"),
                "hard_sharing+equal",
                "hard_sharing",
                rep,
                v * 0.5,
            ));
            runs.push(run(&format!("l{rep}"), &long, "hard_sharing", rep, v * 2.0));
        }
        let summary = summarize_study(&runs, &DeltaMetrics::default());
        let text = terminal_summary(
            &summary,
            "out/x/index.md",
            &Selection::MeanLast(3),
            &DeltaMetrics::default(),
        );
        for line in text.lines() {
            assert!(
                line.chars().count() <= WIDTH,
                "{} chars: {line}",
                line.chars().count()
            );
        }
        assert!(text.contains("  single_task+equal"), "{text}");
        assert!(text.contains("  hard_sharing+equal"), "{text}");
        assert!(
            text.contains("  hard_sharing+static#2 lr=0.001 xxx"),
            "{text}"
        );
        assert!(text.contains('…'), "the long name is cut: {text}");
        assert!(text.contains("Full report: out/x/index.md"), "{text}");
        assert!(text.contains("Model selection: mean_last:3"), "{text}");
        // The columns line up: the header's Δ title and every row's Δ cell occupy the same
        // characters after the algorithm column (the cells right-aligned).
        let cell =
            |line: &str| -> String { line.chars().skip(ALGORITHM + 1).take(DELTA).collect() };
        let header = text.lines().nth(1).unwrap();
        assert!(cell(header).trim_start().starts_with("Δ_MTL"), "{header}");
        for row in text.lines().skip(2).take(3) {
            let c = cell(row);
            assert!(
                c.contains('±') && c.ends_with(|ch: char| ch.is_ascii_digit()),
                "`{row}`: `{c}`"
            );
        }
    }

    #[test]
    fn fit_cuts_with_an_ellipsis() {
        assert_eq!(fit("abc", 3), "abc");
        assert_eq!(fit("abcd", 3), "ab…");
    }
}
