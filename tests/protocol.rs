//! End-to-end tests of the comparison protocol: the scalarization front with each
//! method's hypervolume against it, and the equal tuning budget.

mod common;

use common::{assert_bad_input, records_without_wall_clock, run_in, stderr, write_study};

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
        .filter(|r| r["kind"] == "scalarization")
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

/// Correlated tasks with few rows, where a shared trunk is known to help
/// (docs/FORMULAS.md#planted_correlation), trained at a learning rate 300× too small.
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

/// A small tuned study: one suite, single_task and hard_sharing, budget 3.
const TUNED: &str = "\
name: tiny
seed: 4
replicates: 1
suites:
  - {kind: planted_correlation, tasks: 2, input_dim: 8, train: 40, val: 20, test: 40}
architectures:
  - kind: single_task
  - kind: hard_sharing
model: {trunk: [8]}
training: {epochs: 2, batch_size: 10, lr: 0.01}
tune:
  budget: 3
  lr: {log_uniform: [0.001, 0.1]}
";

const TUNED_LR: &str = "  lr: {log_uniform: [0.001, 0.1]}\n";

/// A `tune` block under which some algorithm would get fewer configurations than the
/// budget is refused at plan time, naming the key.
#[test]
fn a_tune_block_that_cannot_give_every_algorithm_its_budget_is_refused() {
    // Nothing to draw: neither equal nor single_task has a range of its own.
    assert_bad_input(
        &TUNED.replace(TUNED_LR, ""),
        &[
            "tune.budget",
            "`single_task+equal`",
            "nothing to draw",
            "line 12",
        ],
    );
    // With `method: false` CAGrad's own range is not drawn either.
    assert_bad_input(
        &TUNED
            .replace(TUNED_LR, "  method: false\n")
            .replace("  - kind: single_task\n", "")
            .replace(
                "  - kind: hard_sharing\n",
                "  - kind: hard_sharing\nweightings:\n  - kind: cagrad\n",
            ),
        &[
            "tune.budget",
            "`hard_sharing+cagrad`",
            "tune.method is false",
        ],
    );
    // A grid with nothing to grid.
    assert_bad_input(
        &TUNED.replace(TUNED_LR, "  strategy: grid\n"),
        &["tune.strategy", "needs a `values` list", "line 13"],
    );
    // A grid with fewer points than the budget asks for.
    assert_bad_input(
        &TUNED.replace(TUNED_LR, "  strategy: grid\n  lr: {values: [0.01]}\n"),
        &[
            "tune.budget",
            "2 configurations per algorithm, not the budget of 3",
        ],
    );
}

/// Before its final stage, `status` of a tuned study counts the search's runs and says
/// which stage the study is in; once the search is complete, the final plan's runs.
#[test]
fn status_of_a_tuned_study_tells_its_stage_and_counts_its_search() {
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "t.yaml", TUNED);
    let run = |shard: &str, resume: bool| {
        let mut args = vec!["run", "t.yaml", "--out", "out", "--quiet", "--shard", shard];
        if resume {
            args.push("--resume");
        }
        let o = run_in(dir.path(), &args);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    let status = || {
        let o = run_in(dir.path(), &["status", "out"]);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let out = dir.path().join("out");
    // Shard 0 of 2 stores its part of the search (2 algorithms × 3 configurations) and stops.
    run("0/2", false);
    let stored = common::stored(&out.join("tune"));
    assert!(stored > 0 && stored < 6, "{stored}");
    let (code, text) = status();
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("in its search stage"), "{text}");
    assert!(
        text.contains(&format!(
            "6 search runs planned, {stored} stored ({stored} ok, 0 not ok), {} missing",
            6 - stored
        )),
        "{text}"
    );
    // The missing runs it names are the search's, not stored.
    let missing: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("missing"))
        .map(str::trim)
        .collect();
    assert_eq!(missing.len(), 6 - stored, "{text}");
    for id in missing {
        assert!(id.contains("-c"), "a search run's id: {id}");
        assert!(!out.join("tune/runs").join(format!("{id}.json")).exists());
    }
    // Shard 1 completes the search, then trains its part of the final runs.
    run("1/2", false);
    let (code, text) = status();
    assert!(text.contains("in its final stage"), "{text}");
    let done = common::stored(&out);
    assert!(
        text.contains(&format!("2 planned, {done} stored")),
        "{text}"
    );
    assert_eq!(code, Some(if done == 2 { 0 } else { 1 }), "{text}");
    run("0/2", true);
    let (code, text) = status();
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("2 planned, 2 stored (2 ok, 0 not ok), 0 missing"),
        "{text}"
    );
}

/// Pairwise-transfer and adaptation runs are not tuned: they train with the study's own
/// settings, and tune.md, their tables and the index say so.
#[test]
fn a_tuned_study_says_its_pairwise_and_adaptation_runs_are_not_tuned() {
    let dir = tempfile::tempdir().unwrap();
    let study = format!(
        "{}pairwise: true\nadaptation: {{held_out: 2, shots: [5], steps: 2, query: 10, starts: [{{kind: random}}]}}\n",
        TUNED.replace(TUNED_LR, "  lr: {values: [0.003, 0.03]}\n")
    );
    write_study(dir.path(), "t.yaml", &study);
    let o = run_in(dir.path(), &["run", "t.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("out");
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let records = records_without_wall_clock(&out);
    let mut untuned = 0;
    for (name, r) in &records {
        let training = r["training"].as_str().unwrap();
        if !r["kind"]["pairwise"].is_null() || r["kind"] == "adaptation" {
            untuned += 1;
            assert!(training.contains("\"lr\":0.01,"), "{name}: {training}");
            assert!(r.get("compared_as").is_none(), "{name}");
        }
    }
    // 2 single tasks + 1 pair, and 1 adaptation start.
    assert_eq!(untuned, 4);
    let note = "train with the study's own settings";
    assert!(
        read("tune.md").contains(&format!(
            "Not tuned: the pairwise-transfer and adaptation runs {note}."
        )),
        "{}",
        read("tune.md")
    );
    assert!(read("relationships.md")
        .contains(&format!("its pairwise-transfer runs are not: they {note}")));
    assert!(read("adaptation.md").contains(&format!("its adaptation runs are not: they {note}")));
    let index = read("index.md");
    for name in ["pairwise_transfer.csv", "adaptation.md"] {
        let line = index
            .lines()
            .find(|l| l.contains(&format!("[{name}]")))
            .unwrap();
        assert!(
            line.ends_with("(trained with the study's own settings: not tuned)"),
            "{line}"
        );
    }
}
