//! End-to-end tests of the comparison protocol: the scalarization front with each
//! method's hypervolume against it, and the equal tuning budget.

mod common;

use common::{records_without_wall_clock, run_in, stderr, write_study};

/// Two correlated regression tasks, hard sharing with three weightings, and a front of
/// five fixed weightings.
const FRONT: &str = "\
name: front
seed: 5
replicates: 2
suites:
  - kind: planted_correlation
    tasks: 2
    rho: 0.5
    input_dim: 10
    train: 80
    val: 40
    test: 80
architectures:
  - kind: single_task
  - kind: hard_sharing
weightings:
  - kind: equal
  - kind: uw
  - kind: mgda
model:
  trunk: [16, 16]
training:
  epochs: 4
  batch_size: 16
  lr: 0.01
scalarization:
  steps: 4
";

#[test]
fn the_front_is_drawn_with_every_method_on_it() {
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "front.yaml", FRONT);
    let o = run_in(
        dir.path(),
        &["run", "front.yaml", "--out", "out", "--quiet"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("out");
    // 4 algorithms + 5 fixed weightings, 2 replicates each.
    let records = records_without_wall_clock(&out);
    assert_eq!(records.len(), 18);
    let front: Vec<&serde_json::Value> = records
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r["stage"] == "scalarization")
        .collect();
    assert_eq!(front.len(), 10);
    // The grid's centre, w = (1, 1), is `equal`: the same replicate's test points are
    // bit-identical to hard_sharing+equal's.
    let points = |algorithm: &str, replicate: u64| {
        records
            .iter()
            .map(|(_, r)| r)
            .find(|r| r["algorithm"] == algorithm && r["replicate"] == replicate)
            .unwrap_or_else(|| panic!("{algorithm} r{replicate}"))["points"]
            .clone()
    };
    for r in 0..2 {
        assert_eq!(
            points("hard_sharing+static w=1,1", r),
            points("hard_sharing+equal", r)
        );
    }
    // The front stays out of the main table, which keeps one row per method.
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(!summary.contains("static w="), "{summary}");
    // The front table: the front's hypervolume, one row per method with its figures.
    let md = std::fs::read_to_string(out.join("front.md")).unwrap();
    assert!(
        md.contains("Hypervolume of the front (5 fixed weightings)"),
        "{md}"
    );
    let volumes = std::fs::read_to_string(out.join("front_volumes.csv")).unwrap();
    let rows: Vec<&str> = volumes.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "{volumes}");
    // hard_sharing+equal is the centre of the front: never beyond it (its point is one
    // of the front's, so it adds no volume).
    let equal = rows
        .iter()
        .find(|r| r.contains(",hard_sharing+equal,"))
        .unwrap();
    let beyond: f64 = equal.split(',').nth(4).unwrap().parse().unwrap();
    assert_eq!(beyond, 0.0, "{equal}");
    let chart =
        std::fs::read_to_string(out.join("charts/planted_correlation_f1_pareto.svg")).unwrap();
    assert!(chart.contains("fixed weights (scalarization front)"));
    let index = std::fs::read_to_string(out.join("index.md")).unwrap();
    assert!(index.contains("front.md"), "{index}");
}

#[test]
fn a_front_over_more_than_three_tasks_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_study(
        dir.path(),
        "bad.yaml",
        &FRONT.replace("    tasks: 2\n", "    tasks: 4\n"),
    );
    let o = run_in(dir.path(), &["run", "bad.yaml", "--out", "out"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "suites[0]: the scalarization front needs suites of 2 or 3 tasks; this one has 4"
        ),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("out").exists());
}
