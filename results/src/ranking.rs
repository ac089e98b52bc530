//! Ranking algorithms over blocks — the suites of a study, or of several studies
//! (`report DIR1 DIR2 … --combine OUT`) — by Friedman's test and Nemenyi's critical
//! difference (docs/FORMULAS.md#significance-over-many-comparisons): each block ranks the
//! algorithms measured in every block by their mean LibMTL Δp (1 = best), and `ranking.md`,
//! `ranking.csv` and the critical-difference diagram show the mean ranks.

use crate::charts::critical_difference::{write_cd_diagram, CdDiagram};
use crate::significance::{block_ranks, friedman, Friedman};
use crate::summary::StudySummary;
use crate::transfer::DeltaVariant;
use crate::ResultsError;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One block: its label and each algorithm's mean LibMTL Δp there.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub label: String,
    pub values: Vec<(String, f64)>,
}

/// The stem of the critical-difference diagram under `charts/`.
pub const CD_STEM: &str = "critical_difference";

/// A block per suite of `summary`, at the suite's largest training fraction (the fractions
/// of one suite share their data, so they are not independent blocks); labels are the suite
/// names, after `prefix/` when given. An algorithm without a mean Δp is left out of a block.
pub fn blocks_of(summary: &StudySummary, prefix: Option<&str>) -> Vec<Block> {
    let libmtl = DeltaVariant::ALL
        .iter()
        .position(|v| *v == DeltaVariant::LibMtl)
        .expect("LibMTL's Δp is a variant");
    let mut largest: Vec<(String, String)> = Vec::new();
    for (suite, fraction) in summary.sections() {
        let value = |f: &str| f.parse::<f64>().unwrap_or(f64::NAN);
        match largest.iter_mut().find(|(s, _)| *s == suite) {
            Some((_, f)) if value(&fraction) > value(f) => *f = fraction,
            Some(_) => {}
            None => largest.push((suite, fraction)),
        }
    }
    largest
        .into_iter()
        .map(|(suite, fraction)| Block {
            label: match prefix {
                Some(p) => format!("{p}/{suite}"),
                None => suite.clone(),
            },
            values: summary
                .deltas
                .iter()
                .filter(|d| d.key.suite == suite && d.key.fraction == fraction)
                .filter(|d| d.variants[libmtl].n > 0 && d.variants[libmtl].mean.is_finite())
                .map(|d| (d.key.algorithm.clone(), d.variants[libmtl].mean))
                .collect(),
        })
        .collect()
}

/// The algorithms ranked over the blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// The algorithms measured in every block, in first-seen order.
    pub algorithms: Vec<String>,
    pub blocks: Vec<String>,
    /// `values[block][algorithm]`: mean Δp; `ranks[block][algorithm]`: its rank there.
    pub values: Vec<Vec<f64>>,
    pub ranks: Vec<Vec<f64>>,
    pub friedman: Friedman,
    /// Algorithms missing from some block, left out of the ranking.
    pub left_out: Vec<String>,
}

/// Ranks the algorithms that every block measures. Refused, with the reason, with fewer
/// than 2 blocks or fewer than 2 algorithms measured in every block.
pub fn rank(blocks: &[Block]) -> Result<Ranking, String> {
    if blocks.len() < 2 {
        return Err(format!(
            "a ranking needs at least 2 blocks (suites), got {}",
            blocks.len()
        ));
    }
    let all = crate::unique(
        blocks
            .iter()
            .flat_map(|b| b.values.iter().map(|v| v.0.clone())),
    );
    let (algorithms, left_out): (Vec<String>, Vec<String>) = all
        .into_iter()
        .partition(|a| blocks.iter().all(|b| b.values.iter().any(|v| v.0 == *a)));
    if algorithms.len() < 2 {
        return Err(format!(
            "a ranking needs at least 2 algorithms measured in every block ({}), got {}",
            blocks
                .iter()
                .map(|b| b.label.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            algorithms.len()
        ));
    }
    let values: Vec<Vec<f64>> = blocks
        .iter()
        .map(|b| {
            algorithms
                .iter()
                .map(|a| {
                    b.values
                        .iter()
                        .find(|v| v.0 == *a)
                        .map_or(f64::NAN, |v| v.1)
                })
                .collect()
        })
        .collect();
    let ranks: Vec<Vec<f64>> = values.iter().map(|v| block_ranks(v, true)).collect();
    let friedman = friedman(&ranks).expect("at least 2 blocks and 2 algorithms");
    Ok(Ranking {
        algorithms,
        blocks: blocks.iter().map(|b| b.label.clone()).collect(),
        values,
        ranks,
        friedman,
        left_out,
    })
}

fn p_text(p: f64) -> String {
    crate::paired_table::format_p(p)
}

/// `ranking.md`: the test, the mean ranks, each block's rank (and mean Δp), and the pairs
/// that differ by at least the critical difference, generated from the numbers.
pub fn ranking_markdown(title: &str, r: &Ranking) -> String {
    let f = &r.friedman;
    let mut md = format!(
        "# {title}: ranking over {} blocks\n\nEach block ({}) ranks the {} algorithms measured in \
         every block by their mean LibMTL Δp (1 = best; ties share the mean of their ranks). \
         Friedman's test (docs/FORMULAS.md#significance-over-many-comparisons): χ²_F = {:.3} \
         ({} df), p = {}; Iman–Davenport F_F = {} ({} and {} df), p = {}. Nemenyi's critical \
         difference at α = 0.05: CD = {:.3} (k = {}, N = {}). Chart: \
         [PNG](charts/{CD_STEM}.png), [SVG](charts/{CD_STEM}.svg), [PDF](charts/{CD_STEM}.pdf).\n\n",
        r.blocks.len(),
        r.blocks.join(", "),
        r.algorithms.len(),
        f.chi2,
        f.k - 1,
        p_text(f.p_chi2),
        if f.f.is_finite() {
            format!("{:.3}", f.f)
        } else {
            "undefined (every block ranks alike)".into()
        },
        f.k - 1,
        (f.k - 1) * (f.n - 1),
        p_text(f.p_f),
        f.cd,
        f.k,
        f.n
    );
    if !r.left_out.is_empty() {
        let _ = writeln!(
            md,
            "Left out (not measured in every block): {}.\n",
            r.left_out.join(", ")
        );
    }
    let mut order: Vec<usize> = (0..r.algorithms.len()).collect();
    order.sort_by(|&a, &b| f.mean_ranks[a].total_cmp(&f.mean_ranks[b]));
    let _ = write!(md, "| algorithm | mean rank |");
    for b in &r.blocks {
        let _ = write!(md, " {b}: rank (Δp %) |");
    }
    let _ = writeln!(md, "\n|---|---:|{}", "---:|".repeat(r.blocks.len()));
    for &a in &order {
        let _ = write!(md, "| {} | {:.3} |", r.algorithms[a], f.mean_ranks[a]);
        for (ranks, values) in r.ranks.iter().zip(&r.values) {
            let _ = write!(md, " {} ({:+.3}) |", ranks[a], values[a]);
        }
        md.push('\n');
    }
    let mut pairs = Vec::new();
    for (i, &a) in order.iter().enumerate() {
        for &b in &order[i + 1..] {
            let gap = f.mean_ranks[b] - f.mean_ranks[a];
            if gap >= f.cd {
                pairs.push(format!(
                    "`{}` ranks better than `{}` ({:.3} apart)",
                    r.algorithms[a], r.algorithms[b], gap
                ));
            }
        }
    }
    let _ = writeln!(
        md,
        "\nGenerated from the numbers: {}.",
        if pairs.is_empty() {
            format!(
                "no two algorithms' mean ranks differ by the critical difference {:.3} or more, \
                 so the Nemenyi test separates none",
                f.cd
            )
        } else {
            format!(
                "mean ranks at least CD apart (significant at 5 % by Nemenyi's test): {}",
                pairs.join("; ")
            )
        }
    );
    md
}

/// `ranking.csv`: block, algorithm, mean Δp, rank; then a row per algorithm with block
/// `(mean)` and its mean rank.
pub fn ranking_csv(r: &Ranking) -> String {
    let mut csv = String::from("block,algorithm,delta_p_libmtl,rank\n");
    for ((block, values), ranks) in r.blocks.iter().zip(&r.values).zip(&r.ranks) {
        for (a, algorithm) in r.algorithms.iter().enumerate() {
            let _ = writeln!(csv, "{block},{algorithm},{},{}", values[a], ranks[a]);
        }
    }
    for (a, algorithm) in r.algorithms.iter().enumerate() {
        let _ = writeln!(csv, "(mean),{algorithm},,{}", r.friedman.mean_ranks[a]);
    }
    csv
}

/// Writes `ranking.md` and `ranking.csv` into `out` and the diagram into `charts`.
pub fn write_ranking(
    out: &Path,
    charts: &Path,
    title: &str,
    r: &Ranking,
    presentation: &crate::charts::Presentation,
) -> Result<Vec<PathBuf>, ResultsError> {
    let mut written = Vec::new();
    for (name, text) in [
        ("ranking.md", ranking_markdown(title, r)),
        ("ranking.csv", ranking_csv(r)),
    ] {
        let path = out.join(name);
        crate::store::write_atomic(&path, text.as_bytes())?;
        written.push(path);
    }
    let diagram = CdDiagram {
        title: format!(
            "{title}: mean rank by Δp over {} blocks (Nemenyi CD, α = 0.05)",
            r.blocks.len()
        ),
        // The diagram names the algorithms as the charts do (ranking.md as stored).
        algorithms: presentation
            .names
            .algorithms(&r.algorithms)
            .into_iter()
            .zip(r.friedman.mean_ranks.iter().cloned())
            .collect(),
        cd: r.friedman.cd,
    };
    written.extend(write_cd_diagram(
        charts,
        CD_STEM,
        &diagram,
        &presentation.style,
    )?);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(label: &str, values: &[(&str, f64)]) -> Block {
        Block {
            label: label.into(),
            values: values.iter().map(|(a, v)| (a.to_string(), *v)).collect(),
        }
    }

    /// Three blocks; `c` is missing from one and is left out. Ranks by hand (higher Δp is
    /// better): s1 a 1, b 2; s2 a 2, b 1; s3 a 1, b 2 → mean ranks 4/3 and 5/3.
    #[test]
    fn ranks_the_algorithms_of_every_block() {
        let blocks = [
            block("s1", &[("a", 2.0), ("b", 1.0), ("c", 5.0)]),
            block("s2", &[("a", -1.0), ("b", 0.5)]),
            block("s3", &[("b", 0.0), ("a", 0.1), ("c", 0.0)]),
        ];
        let r = rank(&blocks).unwrap();
        assert_eq!(r.algorithms, ["a", "b"]);
        assert_eq!(r.left_out, ["c"]);
        assert_eq!(
            r.ranks,
            vec![vec![1.0, 2.0], vec![2.0, 1.0], vec![1.0, 2.0]]
        );
        let close = |x: f64, y: f64| (x - y).abs() < 1e-12;
        assert!(close(r.friedman.mean_ranks[0], 4.0 / 3.0));
        assert!(close(r.friedman.mean_ranks[1], 5.0 / 3.0));
        let md = ranking_markdown("t", &r);
        assert!(
            md.contains("| a | 1.333 | 1 (+2.000) | 2 (-1.000) | 1 (+0.100) |"),
            "{md}"
        );
        assert!(md.contains("Left out (not measured in every block): c."));
        assert!(md.contains("separates none"));
        assert!(ranking_csv(&r).contains("s2,b,0.5,1\n"));
    }

    /// Five algorithms in the same order over 12 blocks: the best and the worst are 4
    /// ranks apart, more than CD = 2.728·√(5·6/72) ≈ 1.761, so the sentence names them.
    #[test]
    fn names_the_pairs_at_least_cd_apart() {
        let blocks: Vec<Block> = (0..12)
            .map(|i| {
                block(
                    &format!("s{i}"),
                    &[("a", 5.0), ("b", 4.0), ("c", 3.0), ("d", 2.0), ("e", 1.0)],
                )
            })
            .collect();
        let r = rank(&blocks).unwrap();
        assert!((r.friedman.cd - 2.728 * (30.0f64 / 72.0).sqrt()).abs() < 1e-3);
        let md = ranking_markdown("t", &r);
        assert!(
            md.contains("`a` ranks better than `e` (4.000 apart)"),
            "{md}"
        );
        assert!(md.contains("`a` ranks better than `c` (2.000 apart)"));
        assert!(!md.contains("`a` ranks better than `b`"));
    }

    #[test]
    fn refuses_too_few_blocks_or_algorithms() {
        let one = [block("s1", &[("a", 1.0), ("b", 2.0)])];
        assert!(rank(&one).unwrap_err().contains("at least 2 blocks"));
        let disjoint = [block("s1", &[("a", 1.0)]), block("s2", &[("b", 1.0)])];
        assert!(rank(&disjoint)
            .unwrap_err()
            .contains("at least 2 algorithms"));
    }
}
