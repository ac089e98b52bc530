//! The report's paper tables and significance: `report --columns` (the paper table in
//! summary.tex), the paired differences with Holm-corrected p values (summary.md,
//! findings.md), the ranking over suites (ranking.md and the critical-difference diagram)
//! and `report DIR1 DIR2 … --combine OUT`.

mod common;

use common::{run_in, stderr, write_study, SMALL};
use std::path::Path;

/// SMALL with one suite only.
fn one_suite() -> String {
    let start = SMALL.find("  - kind: gradnorm_toy").unwrap();
    let end = SMALL.find("architectures:").unwrap();
    format!("{}{}", &SMALL[..start], &SMALL[end..]).replace("name: small", "name: one")
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

/// The LaTeX lines outside comments.
fn body(tex: &str) -> String {
    tex.lines()
        .filter(|l| !l.starts_with('%'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn columns_paired_differences_ranking_and_combine() {
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "s.yaml", SMALL);
    write_study(dir.path(), "one.yaml", &one_suite());
    for (study, out) in [("s.yaml", "out"), ("one.yaml", "one")] {
        let o = run_in(dir.path(), &["run", study, "--out", out, "--quiet"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let out = dir.path().join("out");

    // The paper table: one Δ variant by default, the columns named otherwise.
    let tex = read(out.join("summary.tex"));
    assert!(body(&tex).contains("LibMTL") && !body(&tex).contains("Vandenhende"));
    assert!(tex.contains(r"\usepackage{booktabs}") && tex.contains(r"\usepackage{graphicx}"));
    let o = run_in(dir.path(), &["report", "out", "--columns", "n,delta_mtl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let tex = read(out.join("summary.tex"));
    assert!(body(&tex).contains(r"algorithm & n & $\Delta_{\mathrm{MTL}}$ Vandenhende"));
    assert!(!body(&tex).contains("LibMTL (\\%)"), "{tex}");
    // An unknown column: exit 2, the valid ones listed, nothing rewritten.
    let o = run_in(dir.path(), &["report", "out", "--columns", "n,bogus"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("--columns: unknown column `bogus`; valid columns: n, metrics, delta_p,"),
        "{}",
        stderr(&o)
    );
    assert_eq!(read(out.join("summary.tex")), tex);

    // The paired differences with their Holm-corrected p values, and the sentence.
    let md = read(out.join("summary.md"));
    assert!(md.contains("# Paired differences"), "{md}");
    assert!(md.contains("| algorithm | n | Δp vs single_task (%) ↑ | p | p Holm | n | Δp − equal (%) ↑ | p | p Holm |"));
    let findings = read(out.join("findings.md"));
    assert!(
        findings.contains("After Holm's correction over the study's 2 paired t tests"),
        "{findings}"
    );

    // Two suites: the ranking over them and its diagram, linked from the index.
    let ranking = read(out.join("ranking.md"));
    assert!(ranking.contains("ranking over 2 blocks"), "{ranking}");
    assert!(out.join("charts/critical_difference.png").exists());
    assert!(read(out.join("index.md")).contains("charts/critical_difference.png"));
    // One suite: no ranking, and one left by an earlier report is removed.
    assert!(!dir.path().join("one/ranking.md").exists());
    std::fs::write(dir.path().join("one/ranking.md"), "stale").unwrap();
    let o = run_in(dir.path(), &["report", "one"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!dir.path().join("one/ranking.md").exists());

    // Across studies: 3 blocks (2 + 1).
    let o = run_in(dir.path(), &["report", "out", "one", "--combine", "both"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let combined = read(dir.path().join("both/ranking.md"));
    assert!(
        combined.starts_with("# small + one: ranking over 3 blocks"),
        "{combined}"
    );
    for block in [
        "small/planted_correlation",
        "small/gradnorm_toy",
        "one/planted_correlation",
    ] {
        assert!(combined.contains(block), "{block}");
    }
    assert!(dir
        .path()
        .join("both/charts/critical_difference.svg")
        .exists());
    // Refused, nothing written: one block only; a directory that does not exist; several
    // directories without --combine; --columns with --combine.
    for (args, message) in [
        (
            &["report", "one", "--combine", "c"][..],
            "at least 2 blocks",
        ),
        (
            &["report", "one", "nowhere", "--combine", "c"][..],
            "nowhere: no runs/ directory",
        ),
        (&["report", "out", "one"][..], "--combine OUT"),
        (
            &["report", "out", "one", "--combine", "c", "--columns", "n"][..],
            "not to --combine",
        ),
    ] {
        let o = run_in(dir.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
        assert!(!dir.path().join("c").exists());
    }
}
