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

/// Δp (mean, ci low) of `algorithm` against single_task on `suite`, from summary.csv.
fn delta_p(out: &std::path::Path, suite: &str, algorithm: &str) -> (f64, f64) {
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let line = csv
        .lines()
        .find(|l| {
            l.starts_with(&format!("{suite},"))
                && l.contains(&format!(",{algorithm},"))
                && l.contains("Δp LibMTL")
        })
        .unwrap_or_else(|| panic!("no Δp row for {algorithm}:\n{csv}"));
    let f: Vec<&str> = line.split(',').collect();
    (
        f[column("mean")].parse().unwrap(),
        f[column("ci95_low")].parse().unwrap(),
    )
}

/// Correlated tasks with few rows, where a shared trunk is known to help (FORMULAS.md
/// b.7.3), trained at a learning rate 300× too small.
const MIS_SET: &str = "\
name: misset
seed: 11
replicates: 4
suites:
  - {kind: planted_correlation, name: rho_high, tasks: 4, rho: 0.95, train: 100, input_dim: 20, noise_std: 0.5}
architectures:
  - kind: single_task
  - kind: hard_sharing
model:
  trunk: [32, 32]
training:
  epochs: 40
  batch_size: 20
  lr: 0.00001
  eval_every: 10
";

/// The tuner finds and fixes a mis-set learning rate, and the comparison comes out the
/// way the planted truth says: untuned, neither network learns and sharing shows no clear
/// gain; tuned (the same budget for both), hard sharing beats separate networks.
#[test]
fn the_tuner_fixes_a_mis_set_learning_rate_and_the_ranking_follows_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "plain.yaml", MIS_SET);
    let o = run_in(
        dir.path(),
        &["run", "plain.yaml", "--out", "plain", "--quiet"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let untuned = delta_p(&dir.path().join("plain"), "rho_high", "hard_sharing+equal");

    let tuned_study = format!(
        "{}tune:\n  budget: 3\n  strategy: grid\n  lr: {{values: [0.003, 0.03]}}\n",
        MIS_SET.replace("name: misset", "name: tuned")
    );
    write_study(dir.path(), "tuned.yaml", &tuned_study);
    let o = run_in(
        dir.path(),
        &["run", "tuned.yaml", "--out", "tuned", "--quiet"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("tuned");
    // The search: 2 algorithms × 3 configurations × 1 replicate, under tune/.
    assert_eq!(common::stored(&out.join("tune")), 6);
    // Every final run trains at a learning rate the search chose, not the mis-set one.
    let records = records_without_wall_clock(&out);
    assert_eq!(records.len(), 8);
    for (name, r) in &records {
        let training = r["training"].as_str().unwrap();
        assert!(
            training.contains("\"lr\":0.003") || training.contains("\"lr\":0.03"),
            "{name}: {training}"
        );
    }
    let md = std::fs::read_to_string(out.join("tune.md")).unwrap();
    assert_eq!(md.matches("| ✓ |").count(), 2, "{md}");
    assert!(md.contains("| 0 | (study) |"), "{md}");
    let index = std::fs::read_to_string(out.join("index.md")).unwrap();
    assert!(index.contains("tune.md"), "{index}");
    let tuned = delta_p(&out, "rho_high", "hard_sharing+equal");
    eprintln!("Δp untuned {untuned:?}, tuned {tuned:?}");
    assert!(tuned.1 > 0.0, "tuned: sharing helps, CI above 0: {tuned:?}");
    assert!(
        tuned.0 > untuned.0 + 5.0,
        "untuned {untuned:?}, tuned {tuned:?}"
    );

    // Resuming a finished tuned study reruns nothing, in either stage.
    let before = common::modification_times(out.join("runs"));
    let search_before = common::modification_times(out.join("tune/runs"));
    let o = run_in(
        dir.path(),
        &["run", "tuned.yaml", "--out", "tuned", "--quiet", "--resume"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    common::assert_untouched(&before);
    common::assert_untouched(&search_before);
    // Without --resume the directory is refused, nothing rewritten.
    let o = run_in(
        dir.path(),
        &["run", "tuned.yaml", "--out", "tuned", "--quiet"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
