//! End-to-end tests of "nothing silently does less than asked": a selection rule with too
//! few evaluation points and a model the machine cannot hold are refused at plan time
//! (exit 2, naming the key, nothing written); a first sweep that crashed leaves its
//! directory to the corrected study; a run whose loss explodes is recorded `diverged` and
//! kept out of the bold and the ranks.

mod common;

use common::{records_without_wall_clock, run_in, spawn_in, stderr, write_study, SMALL};
use std::path::Path;
use std::time::{Duration, Instant};

/// Runs `args` on a study that must be refused: exit 2, one line holding every `expected`
/// piece, and no output directory.
fn assert_refused(dir: &Path, args: &[&str], expected: &[&str]) {
    let o = run_in(dir, args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    for e in expected {
        assert!(err.contains(e), "expected `{e}` in: {err}");
    }
    assert!(!dir.join("out").exists(), "nothing written");
}

#[test]
fn selection_rules_need_the_evaluation_points_they_choose_from() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let one_epoch = SMALL.replace("epochs: 3", "epochs: 1");
    write_study(d, "best.yaml", &format!("{one_epoch}selection: best_val\n"));
    assert_refused(
        d,
        &["run", "best.yaml", "--out", "out"],
        &[
            "best.yaml: selection: best_val chooses among a run's evaluation points, and training.epochs: 1 with training.eval_every: 1 gives 1 evaluation point",
            "line 27",
        ],
    );
    // mean_last counts evaluation points: 3 epochs evaluated every 2 give 2 (epochs 2, 3).
    let every_2 = SMALL.replace("epochs: 3", "epochs: 3\n  eval_every: 2");
    write_study(
        d,
        "mean.yaml",
        &format!("{every_2}selection: {{mean_last: 3}}\n"),
    );
    assert_refused(
        d,
        &["plan", "mean.yaml"],
        &[
            "selection: mean_last:3 averages a run's last 3 evaluation points",
            "gives 2 evaluation points",
        ],
    );
    assert_refused(
        d,
        &["run", "mean.yaml", "--out", "out"],
        &["selection: mean_last:3"],
    );
    let o = run_in(
        d,
        &["plan", "mean.yaml", "--set", "selection={mean_last: 2}"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // A training grid refuses the rule when any of its settings is short.
    let o = run_in(d, &["plan", "best.yaml", "--set", "training.epochs=[1, 4]"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = run_in(d, &["plan", "best.yaml", "--set", "training.epochs=4"]);
    assert!(o.status.success(), "{}", stderr(&o));

    // `report --selection` checks the stored runs: one evaluation each here.
    write_study(
        d,
        "one.yaml",
        &one_epoch.replace("replicates: 2", "replicates: 1"),
    );
    let o = run_in(d, &["run", "one.yaml", "--out", "done", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run_in(d, &["report", "done", "--selection", "best_val"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("--selection: best_val chooses among a run's evaluation points, and run "),
        "{}",
        stderr(&o)
    );
    let o = run_in(d, &["report", "done", "--selection", "mean_last:1"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_model_the_machine_cannot_hold_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_study(
        d,
        "wide.yaml",
        &SMALL.replace("trunk: [16, 16]", "trunk: [100000000]"),
    );
    let start = Instant::now();
    for command in ["run", "plan"] {
        let mut args = vec![command, "wide.yaml", "--max-memory", "16G"];
        if command == "run" {
            args.extend(["--out", "out"]);
        }
        assert_refused(
            d,
            &args,
            &[
                "wide.yaml: model.trunk: a run of `single_task+equal` on suite `planted_correlation` would need about ",
                "more than the limit of 16.0 GiB (--max-memory)",
                "line 22",
            ],
        );
    }
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "refused before allocating"
    );
    // With the default limit (half of this machine's memory), a model no machine holds.
    write_study(
        d,
        "wider.yaml",
        &SMALL.replace("trunk: [16, 16]", "trunk: [100000000, 100000000]"),
    );
    assert_refused(
        d,
        &["run", "wider.yaml", "--out", "out"],
        &[
            "model.trunk: ",
            "(half of this machine's memory; --max-memory sets another limit)",
        ],
    );
    // The small study fits a small limit; a size that is not one is refused by the parser.
    write_study(d, "small.yaml", SMALL);
    let o = run_in(d, &["plan", "small.yaml", "--max-memory", "64M"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run_in(d, &["plan", "small.yaml", "--max-memory", "64X"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn a_first_sweep_killed_before_storing_a_run_leaves_the_directory_to_the_corrected_study() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // One long run: the kill lands before it is stored.
    let slow = SMALL
        .replace("replicates: 2", "replicates: 1")
        .replace("train: 60\n    val: 30", "train: 3000\n    val: 30")
        .replace("epochs: 3", "epochs: 400")
        .replace("batch_size: 16", "batch_size: 4");
    write_study(d, "slow.yaml", &slow);
    let mut child = spawn_in(
        d,
        &[
            "run",
            "slow.yaml",
            "--out",
            "out",
            "--threads",
            "1",
            "--quiet",
        ],
    );
    let start = Instant::now();
    while !d.join("out/plan.json").exists() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    // While it runs, its claim holds: another study is refused.
    write_study(d, "fixed.yaml", SMALL);
    let o = run_in(d, &["run", "fixed.yaml", "--out", "out", "--quiet"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("another plan"), "{}", stderr(&o));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(d.join("out/plan.json").exists(), "claimed");
    assert_eq!(
        common::stored(&d.join("out")),
        0,
        "killed before storing a run"
    );
    // The corrected study takes the abandoned claim over and runs there.
    let o = run_in(d, &["run", "fixed.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let records = records_without_wall_clock(&d.join("out"));
    assert_eq!(
        records.len(),
        8,
        "the corrected study's runs, not the first one's 4"
    );
    let saved = std::fs::read_to_string(d.join("out/study.yaml")).unwrap();
    assert_eq!(saved, SMALL, "the corrected study is the one stored");
    // Now that it stores runs, the claim holds against the first study again.
    let o = run_in(d, &["run", "slow.yaml", "--out", "out", "--quiet"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn an_exploding_run_is_diverged_and_kept_out_of_the_bold_and_the_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let study = SMALL
        .replace("replicates: 2", "replicates: 3")
        .replace("lr: 0.01", "lr: [0.01, 1000]");
    write_study(d, "s.yaml", &study);
    let o = run_in(d, &["run", "s.yaml", "--out", "out", "--quiet"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let records = records_without_wall_clock(&d.join("out"));
    let exploded = |r: &serde_json::Value| r["algorithm"].as_str().unwrap().ends_with("lr=1000");
    for (_, r) in &records {
        if exploded(r) {
            assert_eq!(r["status"], "diverged", "{r}");
            assert!(
                r["message"].as_str().unwrap().contains("loss became"),
                "{r}"
            );
            // Every stored value is finite.
            for p in r["points"].as_array().unwrap() {
                assert!(p["value"].as_f64().unwrap().is_finite(), "{p}");
            }
        } else {
            assert_eq!(r["status"], "ok", "{r}");
        }
    }
    // Adam at 1000 keeps the losses finite (about 10²⁰): they grew past 10⁶ × their first
    // value, which the same runs recorded `ok` before the rule.
    assert!(
        records
            .iter()
            .filter(|(_, r)| exploded(r))
            .all(|(_, r)| r["message"]
                .as_str()
                .unwrap()
                .contains("times its first value")),
        "every exploded run is caught by the explosion rule"
    );
    // The summary's rows of the exploded settings are marked, never bold, never ranked.
    let md = std::fs::read_to_string(d.join("out/summary.md")).unwrap();
    let rows: Vec<&str> = md.lines().filter(|l| l.contains("lr=1000")).collect();
    for row in &rows {
        assert!(!row.contains("**"), "bold: {row}");
    }
    let summary = std::fs::read_to_string(d.join("out/summary.csv")).unwrap();
    let header: Vec<&str> = summary.lines().next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let mut ranked = 0;
    for line in summary.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        if cells[column("metric")] != "mean_rank" {
            continue;
        }
        let rank: f64 = cells[column("mean")].parse().unwrap();
        if cells[column("algorithm")].ends_with("lr=1000") {
            assert!(rank.is_nan(), "an exploded setting is ranked: {line}");
        } else {
            // The two settings that trained are ranked 1 and 2, among themselves.
            assert!(rank == 1.0 || rank == 2.0, "{line}");
            ranked += 1;
        }
    }
    assert_eq!(ranked, 4, "two sane algorithms in each of two sections");
}
