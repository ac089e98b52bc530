//! The paired table: per suite and fraction, each method's paired difference in LibMTL's
//! Δp against `single_task` and against `equal` weighting of its architecture (mean ± 95% CI
//! over replicates, Student t), the paired t test's p and its Holm-adjusted p over the
//! study's comparisons (docs/FORMULAS.md#significance-over-many-comparisons). Estimates in
//! fixed precision per column. Shown in `summary.md` and `summary.tex`.

use crate::main_table::{fix_precision, Better, Cell, Column, Section};
use crate::stats::Summary;
use crate::summary::{GroupKey, StudySummary};

/// A p value with three decimals, "< 0.001" below that, "–" when undefined.
pub fn format_p(p: f64) -> String {
    if !p.is_finite() {
        "–".into()
    } else if p < 0.001 {
        "< 0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// The number of finite p values Holm's correction runs over in the study.
pub fn comparisons(summary: &StudySummary) -> usize {
    summary
        .deltas
        .iter()
        .flat_map(|d| [d.p_vs_single_task, d.p_vs_equal])
        .filter(|p| p.is_finite())
        .count()
}

/// The paired table's sections: every algorithm but the baseline.
pub fn paired_sections(summary: &StudySummary) -> Vec<Section> {
    let column = |header: &str, better| Column {
        header: header.into(),
        name: "paired",
        better,
    };
    let estimate = |s: &Summary| {
        if s.n == 0 {
            Cell::text("–")
        } else {
            Cell::estimate(s.mean, s.ci95)
        }
    };
    summary
        .sections()
        .into_iter()
        .map(|(suite, fraction)| {
            let in_section = |k: &GroupKey| k.suite == suite && k.fraction == fraction;
            let rows = summary
                .deltas
                .iter()
                .filter(|d| in_section(&d.key) && d.key.order == 1)
                .map(|d| {
                    (
                        d.key.algorithm.clone(),
                        vec![
                            Cell::text(d.vs_single_task.n.to_string()),
                            estimate(&d.vs_single_task),
                            Cell::text(format_p(d.p_vs_single_task)),
                            Cell::text(format_p(d.p_vs_single_task_holm)),
                            Cell::text(d.vs_equal.n.to_string()),
                            estimate(&d.vs_equal),
                            Cell::text(format_p(d.p_vs_equal)),
                            Cell::text(format_p(d.p_vs_equal_holm)),
                        ],
                    )
                })
                .collect();
            let mut section = Section {
                suite,
                fraction,
                columns: vec![
                    column("n", None),
                    column("Δp vs single_task (%) ↑", Some(Better::Higher)),
                    column("p", None),
                    column("p Holm", None),
                    column("n", None),
                    column("Δp − equal (%) ↑", Some(Better::Higher)),
                    column("p", None),
                    column("p Holm", None),
                ],
                rows,
            };
            fix_precision(&mut section);
            section
        })
        .collect()
}

/// The paired table's caption: what each column is.
pub fn paired_caption(summary: &StudySummary) -> String {
    format!(
        "Paired differences, replicate by replicate: LibMTL's Δp against `single_task` (the \
         same replicate), and Δp minus that of `equal` weighting of the same architecture; \
         mean ± 95% CI (Student t) over the n pairs; p: two-sided paired t test; p Holm: \
         adjusted by Holm's step-down correction over the study's {} comparisons \
         (docs/FORMULAS.md#significance-over-many-comparisons). A difference is significant \
         at 5 % after correction when p Holm < 0.05.",
        comparisons(summary)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::test_run;
    use crate::summary::summarize_study;
    use crate::transfer::DeltaMetrics;

    /// Three replicates of single_task, hard_sharing+equal and hard_sharing+uw on one task
    /// (accuracy, higher is better). Δp per replicate, by hand: equal (+10, +20, +30) %,
    /// uw (+20, +20, +50) %; uw − equal = (10, 0, 20). Means 20, 30 and 10; the t tests:
    /// equal t = 20/(10/√3) = 2√3, uw t = 30/(√300/√3) = 3, uw − equal t = 10/(10/√3) = √3,
    /// each with 2 df: p = 1 − |t|/√(t² + 2) (the closed form of the two-sided tail at 2 df).
    /// Holm over the three: the smallest p times 3, the next times 2 (then the running max),
    /// the largest times 1.
    #[test]
    fn paired_differences_and_holm_by_hand() {
        let runs = vec![
            test_run("single_task", 0, &[("a", "accuracy", true, 0.5)]),
            test_run("single_task", 1, &[("a", "accuracy", true, 0.5)]),
            test_run("single_task", 2, &[("a", "accuracy", true, 0.5)]),
            test_run("hard_sharing", 0, &[("a", "accuracy", true, 0.55)]),
            test_run("hard_sharing", 1, &[("a", "accuracy", true, 0.60)]),
            test_run("hard_sharing", 2, &[("a", "accuracy", true, 0.65)]),
        ];
        let mut runs = runs;
        for (r, v) in [(0, 0.60), (1, 0.60), (2, 0.75)] {
            let mut run = test_run("hard_sharing", r, &[("a", "accuracy", true, v)]);
            run.weighting = "uw".into();
            run.algorithm = "hard_sharing+uw".into();
            run.id = format!("{}-uw", run.id);
            runs.push(run);
        }
        let s = summarize_study(&runs, &DeltaMetrics::default());
        let row = |name: &str| s.deltas.iter().find(|d| d.key.algorithm == name).unwrap();
        let (equal, uw) = (row("hard_sharing+equal"), row("hard_sharing+uw"));
        let close = |x: f64, y: f64| (x - y).abs() < 1e-9;
        assert!(close(equal.vs_single_task.mean, 20.0) && close(uw.vs_single_task.mean, 30.0));
        assert!(close(uw.vs_equal.mean, 10.0) && uw.vs_equal.n == 3 && equal.vs_equal.n == 0);
        let p2 = |t: f64| 1.0 - t.abs() / (t * t + 2.0).sqrt();
        let (pe, pu, pd) = (p2(2.0 * 3f64.sqrt()), p2(3.0), p2(3f64.sqrt()));
        assert!(close(equal.p_vs_single_task, pe) && close(uw.p_vs_single_task, pu));
        assert!(close(uw.p_vs_equal, pd));
        // pe < pu < pd: Holm gives 3·pe, max(3·pe, 2·pu), max(…, pd).
        assert!(pe < pu && pu < pd);
        let (he, hu) = (3.0 * pe, (3.0 * pe).max(2.0 * pu));
        assert!(close(equal.p_vs_single_task_holm, he.min(1.0)));
        assert!(close(uw.p_vs_single_task_holm, hu.min(1.0)));
        assert!(close(uw.p_vs_equal_holm, hu.max(pd).min(1.0)));
        assert_eq!(comparisons(&s), 3);
        let sections = paired_sections(&s);
        // Fixed precision: the narrowest CI (of the three) sets the decimals of its column.
        let (_, cells) = &sections[0].rows[1];
        assert_eq!(sections[0].rows[1].0, "hard_sharing+uw");
        assert_eq!(cells[0].text, "3");
        assert!(cells[1].text.starts_with("30"), "{}", cells[1].text);
        assert_eq!(cells[2].text, format!("{pu:.3}"));
    }
}
