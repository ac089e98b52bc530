//! End-to-end tests of the command line's conduct: Ctrl-C, a claimed directory, plan-time
//! warnings and refusals, messages that point at the fix.

mod common;

use common::{
    assert_bad_input, assert_untouched, bin, modification_times, run_in, stderr, stored,
    write_study,
};
use std::io::{BufRead, BufReader};
use std::process::Stdio;

/// A study whose 8 runs take a few seconds in all (one thread).
const SLOW: &str = "\
name: slow
seed: 3
replicates: 4
suites:
  - kind: planted_correlation
    tasks: 3
    input_dim: 10
    train: 600
    val: 30
    test: 60
architectures:
  - kind: single_task
  - kind: hard_sharing
model:
  trunk: [64, 64]
training:
  epochs: 40
  batch_size: 16
  lr: 0.01
";

#[test]
fn ctrl_c_ends_with_the_stored_count_and_the_resume_command() {
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "s.yaml", SLOW);
    let mut child = bin()
        .current_dir(dir.path())
        .args(["run", "s.yaml", "--out", "o", "--threads", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    // Once the first run is stored (its progress line), Ctrl-C.
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let first_stored = line.starts_with("[1/8]");
        seen.push(line);
        if first_stored {
            break;
        }
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    seen.extend(lines.map(Result::unwrap));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen:?}");
    let last = seen.last().unwrap();
    let out = dir.path().join("o");
    let n = stored(&out);
    assert!((1..8).contains(&n), "{n} stored: {seen:?}");
    let program = env!("CARGO_BIN_EXE_mtlbench");
    assert_eq!(
        *last,
        format!(
            "interrupted: {n} of 8 planned runs stored in o; continue with: {program} run s.yaml --out o --threads 1 --resume"
        ),
        "{seen:?}"
    );
    // No half-written file; the command the line gives completes the study.
    let names: Vec<String> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    let before = modification_times(out.join("runs"));
    let command: Vec<&str> = last
        .split("continue with: ")
        .nth(1)
        .unwrap()
        .split(' ')
        .collect();
    let o = std::process::Command::new(command[0])
        .current_dir(dir.path())
        .args(&command[1..])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("8 planned, {n} already stored")),
        "{}",
        stderr(&o)
    );
    assert_eq!(stored(&out), 8);
    assert_untouched(&before);
    let status = run_in(dir.path(), &["status", "o"]);
    assert!(status.status.success());
}

/// `SLOW` with `epochs: 2` (a second or two), with the replacements `edits` made.
fn quick(edits: &[(&str, &str)]) -> String {
    let mut text = SLOW.replace("epochs: 40", "epochs: 2");
    for (from, to) in edits {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    text
}

#[test]
fn a_plan_mismatch_names_the_differing_keys_and_an_empty_claim_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "a.yaml", &quick(&[]));
    write_study(
        dir.path(),
        "b.yaml",
        &quick(&[("replicates: 4", "replicates: 2"), ("lr: 0.01", "lr: 0.02")]),
    );
    let o = run_in(dir.path(), &["run", "a.yaml", "--out", "o", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run_in(
        dir.path(),
        &["run", "b.yaml", "--out", "o", "--resume", "--quiet"],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("the keys that differ from its study.yaml: replicates, training.lr;"),
        "{err}"
    );
    assert!(
        err.contains("to continue that study: mtlbench run o/study.yaml --out o --resume"),
        "{err}"
    );
    // The same plan with a changed comment: refused as a different study, saying so.
    let commented = format!("# another comment\n{}", quick(&[]));
    write_study(dir.path(), "a2.yaml", &commented);
    let o = run_in(
        dir.path(),
        &["run", "a2.yaml", "--out", "o", "--resume", "--quiet"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no key differs from its study.yaml"),
        "{}",
        stderr(&o)
    );

    // A claim with no stored run (its sweep stopped before storing one) is re-claimed.
    for entry in std::fs::read_dir(dir.path().join("o/runs")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let o = run_in(dir.path(), &["run", "b.yaml", "--out", "o", "--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let said: Vec<&str> = err.lines().filter(|l| l.contains("re-claimed")).collect();
    assert_eq!(
        said,
        ["o: claimed by study `slow` with no stored run; re-claimed for this study"],
        "{err}"
    );
    assert_eq!(stored(&dir.path().join("o")), 4);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("o/study.yaml")).unwrap(),
        std::fs::read_to_string(dir.path().join("b.yaml")).unwrap()
    );
}

#[test]
fn unknown_names_get_the_closest_known_one_and_a_tab_is_named() {
    assert_bad_input(
        &quick(&[(
            "  - kind: hard_sharing\n",
            "  - kind: hard_sharing\nweightings:\n  - kind: pcgard\n",
        )]),
        &[
            "weightings[0]: unknown variant `pcgard` (did you mean `pcgrad`?)",
            "line 15",
        ],
    );
    assert_bad_input(
        &quick(&[("  lr: 0.01", "  lrr: 0.01")]),
        &[
            "training: unknown field `lrr` (did you mean `lr`?)",
            "line 19",
        ],
    );
    assert_bad_input(
        &quick(&[("seed: 3", "sed: 3")]),
        &["unknown field `sed` (did you mean `seed`?)"],
    );
    assert_bad_input(
        &quick(&[("  lr: 0.01", "  lr: 0.01\ndelta_metrics: [acuracy]")]),
        &["delta_metrics[0]: unknown metric `acuracy` (did you mean `accuracy`?)"],
    );
    // Nothing close: no guess.
    let err = {
        let dir = tempfile::tempdir().unwrap();
        write_study(
            dir.path(),
            "s.yaml",
            &quick(&[(
                "  - kind: hard_sharing\n",
                "  - kind: hard_sharing\nweightings:\n  - kind: zzzzzzzz\n",
            )]),
        );
        stderr(&run_in(dir.path(), &["plan", "s.yaml"]))
    };
    assert!(
        err.contains("unknown variant `zzzzzzzz`") && !err.contains("did you mean"),
        "{err}"
    );
    assert_bad_input(
        &quick(&[("  epochs: 2", "\tepochs: 2")]),
        &["line 17 is indented with a tab"],
    );
    // The key path of a bad noise level is its own.
    assert_bad_input(
        &quick(&[("    test: 60", "    test: 60\n    noise_std: -1")]),
        &[
            "suites[0].noise_std: -1 is not a finite number ≥ 0",
            "line 11",
        ],
    );
}

#[test]
fn a_weighting_listed_twice_is_refused_at_its_second_entry() {
    assert_bad_input(
        &quick(&[(
            "  - kind: hard_sharing\n",
            "  - kind: hard_sharing\nweightings:\n  - kind: pcgrad\n  - kind: equal\n  - kind: pcgrad\n",
        )]),
        &["weightings[2]: the same as weightings[0]", "line 17"],
    );
    // The same kind with other settings is a separate cell, as before.
    let dir = tempfile::tempdir().unwrap();
    write_study(
        dir.path(),
        "s.yaml",
        &quick(&[(
            "  - kind: hard_sharing\n",
            "  - kind: hard_sharing\nweightings:\n  - kind: rlw\n  - {kind: rlw, distribution: dirichlet}\n",
        )]),
    );
    let o = run_in(dir.path(), &["plan", "s.yaml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("hard_sharing+rlw#2"));
}

/// `plan`'s exit code and stderr for the quick study with `sets`.
fn plan_with(sets: &[&str]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "s.yaml", &quick(&[("epochs: 2", "epochs: 5")]));
    let mut args = vec!["plan", "s.yaml"];
    for s in sets {
        args.extend(["--set", s]);
    }
    let o = run_in(dir.path(), &args);
    (
        o.status.code(),
        stderr(&o),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

#[test]
fn studies_that_cannot_mean_much_are_warned_of_at_plan_time() {
    // 600 training rows, batch 16, 5 epochs: 38 batches an epoch, nothing to say.
    let (code, err, out) = plan_with(&[]);
    assert_eq!((code, err.as_str()), (Some(0), ""), "{out}");
    // A fraction of 600 rows under one batch: ⌈0.02·600⌉ = 12 rows < 16.
    let (code, err, out) = plan_with(&["fractions=[0.02, 1]"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("slow: 16 runs"), "{out}");
    assert!(
        err.contains("warning: s.yaml with --set: fractions: 0.02 of suite `planted_correlation`'s 600 training rows is 12 rows, fewer than one batch (16)"),
        "{err}"
    );
    // ... and 5 epochs of 1 batch: 5 steps.
    assert!(
        err.contains("training.epochs: a run on suite `planted_correlation` at fraction 0.02 takes 5 optimizer steps (5 epochs × 1 batches), fewer than 10"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
    // A batch larger than the split (and so 5 steps at fraction 1).
    let (code, err, _) = plan_with(&["training.batch_size=1000"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("training.batch_size: 1000 is larger than suite `planted_correlation`'s training split (600 rows)"),
        "{err}"
    );
    assert!(err.contains("takes 5 optimizer steps"), "{err}");
    // Few steps alone: 1 epoch of ⌈600/100⌉ = 6 batches.
    let (code, err, _) = plan_with(&["training.epochs=1", "training.batch_size=100"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("takes 6 optimizer steps (1 epochs × 6 batches)"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn report_refuses_delta_metrics_a_suite_does_not_measure() {
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "s.yaml", &quick(&[]));
    let o = run_in(dir.path(), &["run", "s.yaml", "--out", "o", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = std::fs::read(dir.path().join("o/summary.md")).unwrap();
    let o = run_in(dir.path(), &["report", "o", "--delta-metrics", "auc"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim_end(),
        "error: --delta-metrics: suite `planted_correlation` measures none of auc (it measures mse, normalized_mse): its Δ columns and ranks would be empty"
    );
    assert_eq!(
        std::fs::read(dir.path().join("o/summary.md")).unwrap(),
        before
    );
    // One measured metric among them is enough.
    let o = run_in(dir.path(), &["report", "o", "--delta-metrics", "auc,mse"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("chance"),
        "regression tasks: {}",
        stderr(&o)
    );
}

/// A tiny MNIST in IDX files under `dir/mnist`: image i all `10·(i+1)`, label i % 10.
fn write_mnist_fixture(dir: &std::path::Path, n: usize) {
    use mtlbench_tasks::real::idx::encode;
    std::fs::create_dir_all(dir.join("mnist")).unwrap();
    for prefix in ["train", "t10k"] {
        let images: Vec<u8> = (0..n)
            .flat_map(|i| vec![(10 * (i + 1)) as u8; 784])
            .collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        std::fs::write(
            dir.join(format!("mnist/{prefix}-images-idx3-ubyte.gz")),
            encode(&[n, 28, 28], &images),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("mnist/{prefix}-labels-idx1-ubyte.gz")),
            encode(&[n], &labels),
        )
        .unwrap();
    }
}

#[test]
fn a_final_accuracy_at_chance_level_is_warned_of() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist_fixture(&dir.path().join("data"), 10);
    // lr 1e-9: the network stays as initialised, so it answers about one class for every
    // canvas: right about one time in ten (at most 1/10 + 0.05 is chance level).
    let study = "\
name: mm
replicates: 1
suites:
  - {kind: multi_mnist, train: 40, val: 10, test: 400, data_dir: data, verify_checksums: false}
architectures:
  - kind: hard_sharing
model: {trunk: [16]}
training: {epochs: 10, batch_size: 16, lr: 1.0e-9}
";
    write_study(dir.path(), "mm.yaml", study);
    let o = run_in(dir.path(), &["run", "mm.yaml", "--out", "out", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "a warning only: {}", stderr(&o));
    // The accuracies the warning must be about, read from the record.
    let record: serde_json::Value = {
        let runs: Vec<_> = std::fs::read_dir(dir.path().join("out/runs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(runs.len(), 1);
        serde_json::from_slice(&std::fs::read(&runs[0]).unwrap()).unwrap()
    };
    let points = record["points"].as_array().unwrap();
    let last_epoch = points
        .iter()
        .map(|p| p["epoch"].as_u64().unwrap())
        .max()
        .unwrap();
    let err = stderr(&o);
    for task in ["left", "right"] {
        let acc = points
            .iter()
            .find(|p| {
                p["task"] == task
                    && p["split"] == "test"
                    && p["metric"] == "accuracy"
                    && p["epoch"].as_u64() == Some(last_epoch)
            })
            .unwrap()["value"]
            .as_f64()
            .unwrap();
        assert!(acc <= 0.1 + 0.05, "{task}: {acc}");
        assert!(
            err.contains(&format!(
                "warning: suite `multi_mnist` (fraction 1), `hard_sharing+equal`, task `{task}`: final test accuracy {acc:.3} is at chance level (1/10 = 0.100)"
            )),
            "{err}"
        );
    }
    // `report` says it too; a learning rate that learns does not.
    let o = run_in(dir.path(), &["report", "out"]);
    assert!(o.status.success());
    assert_eq!(
        stderr(&o).matches("at chance level").count(),
        2,
        "{}",
        stderr(&o)
    );
}

#[test]
fn report_and_index_say_which_planned_runs_are_missing() {
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "s.yaml", &quick(&[]));
    let o = run_in(dir.path(), &["run", "s.yaml", "--out", "o", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let index = |dir: &std::path::Path| std::fs::read_to_string(dir.join("o/index.md")).unwrap();
    assert!(!index(dir.path()).contains("Missing runs"));
    let o = run_in(dir.path(), &["report", "o"]);
    assert!(!stderr(&o).contains("missing"), "{}", stderr(&o));
    // Two replicates of one cell go missing (as after a crash on another node).
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir.path().join("o/runs")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("planted_correlation-hard_sharing-equal-r1-")
            || name.starts_with("planted_correlation-hard_sharing-equal-r3-")
        {
            std::fs::remove_file(&path).unwrap();
            removed.push(name);
        }
    }
    assert_eq!(removed.len(), 2);
    let o = run_in(dir.path(), &["report", "o"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim_end(),
        "warning: 2 planned runs are missing, so these cells average fewer replicates: planted_correlation-hard_sharing-equal-f1 (r1, r3) (see index.md; `mtlbench status o` lists them)"
    );
    let index = index(dir.path());
    let section = index.split("## Missing runs").nth(1).unwrap();
    let section = section.split("## Tables").next().unwrap();
    assert!(
        section.contains("2 planned runs have no record"),
        "{section}"
    );
    assert!(
        section.contains("- `planted_correlation-hard_sharing-equal-f1`: 2 missing (r1, r3)"),
        "{section}"
    );
    assert_eq!(section.matches("\n- ").count(), 1, "{section}");
}

/// The widest line of `text`, in characters.
fn widest(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn list_shows_the_trunk_and_fits_100_columns_and_filters_by_section() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_in(dir.path(), &["list"]);
    assert!(o.status.success());
    let all = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(widest(&all) <= 100, "{}", widest(&all));
    for needle in [
        "trunk layers (model.trunk",
        "  dense ",
        "  conv ",
        "form: {conv: {out: 10, kernel: 5, stride: 1, padding: 0}}",
        "  max-pool ",
        "form: {max_pool: 2}",
        "  flatten ",
        "trunk presets (model.trunk: NAME):",
        "  lenet ",
        "{\"max_pool\":2}",
        "suites:",
        "missing_labels: {fraction: F in [0, 1)",
        "presets (mtlbench run --preset NAME):",
    ] {
        assert!(all.contains(needle), "`{needle}` in:\n{all}");
    }
    let o = run_in(dir.path(), &["list", "weightings"]);
    assert!(o.status.success());
    let some = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        some.starts_with("weightings:\n") && some.contains("  pcgrad "),
        "{some}"
    );
    assert!(
        !some.contains("suites:") && !some.contains("gradnorm_toy"),
        "{some}"
    );
    assert!(
        all.contains(&some),
        "the section is the same text as in the whole list"
    );
    let o = run_in(dir.path(), &["list", "weighting"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no section `weighting` (did you mean `weightings`?)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn plan_fits_100_columns() {
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "s.yaml", &quick(&[]));
    let o = run_in(
        dir.path(),
        &["plan", "s.yaml", "--set", "training.lr=[0.001, 0.01]"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(widest(&text) <= 100, "{text}");
    // Every run is listed, by id, with its learning rate.
    assert!(text.starts_with("slow: 16 runs\n"), "{text}");
    assert_eq!(text.matches("planted_correlation-").count(), 16, "{text}");
    assert!(
        text.contains("planted_correlation · hard_sharing+equal"),
        "{text}"
    );
}

#[test]
fn progress_lines_say_why_a_run_diverged() {
    let dir = tempfile::tempdir().unwrap();
    write_study(
        dir.path(),
        "s.yaml",
        &quick(&[
            ("replicates: 4", "replicates: 1"),
            ("lr: 0.01", "lr: 1.0e12"),
        ]),
    );
    let o = run_in(
        dir.path(),
        &["run", "s.yaml", "--out", "o", "--threads", "1"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(lines.len(), 2, "{err}");
    for line in lines {
        let (_, rest) = line.split_once("] ").unwrap();
        let (id, said) = rest.split_once(' ').unwrap();
        let record: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join(format!("o/runs/{id}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(record["status"], "diverged");
        let cause = record["message"].as_str().unwrap();
        assert!(said.starts_with(&format!("diverged: {cause} (")), "{line}");
    }
}

#[test]
fn one_quiet_keeps_the_summary_and_two_drop_it() {
    let dir = tempfile::tempdir().unwrap();
    write_study(
        dir.path(),
        "s.yaml",
        &quick(&[("replicates: 4", "replicates: 1")]),
    );
    let o = run_in(dir.path(), &["run", "s.yaml", "--out", "a", "--quiet"]);
    assert!(o.status.success());
    let (out, err) = (String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(out.contains("Full report: a/index.md"), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("2 planned, 0 already stored, 2 ok, 0 not ok; report: "),
        "{err}"
    );
    assert!(!err.contains("[1/2]") && !err.contains("runs on"), "{err}");
    let o = run_in(
        dir.path(),
        &["run", "s.yaml", "--out", "b", "--quiet", "--quiet"],
    );
    assert!(o.status.success());
    assert!(o.stdout.is_empty() && o.stderr.is_empty(), "{}", stderr(&o));
    assert_eq!(stored(&dir.path().join("b")), 2);
}

#[test]
fn report_takes_the_selection_as_the_study_file_writes_it() {
    let dir = tempfile::tempdir().unwrap();
    write_study(
        dir.path(),
        "s.yaml",
        &quick(&[
            ("replicates: 4", "replicates: 1"),
            ("lr: 0.01", "lr: 0.01\n  eval_every: 1"),
        ]),
    );
    let o = run_in(
        dir.path(),
        &["run", "s.yaml", "--out", "o", "--quiet", "--quiet"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = |rule: &str| {
        let o = run_in(dir.path(), &["report", "o", "--selection", rule]);
        assert!(o.status.success(), "{rule}: {}", stderr(&o));
        std::fs::read_to_string(dir.path().join("o/summary.md")).unwrap()
    };
    let compact = summary("mean_last:2");
    assert!(compact.contains("mean_last"), "{compact}");
    assert_eq!(summary("mean_last: 2"), compact);
    assert_eq!(summary("{mean_last: 2}"), compact);
    assert_ne!(summary("last"), compact);
    let o = run_in(dir.path(), &["report", "o", "--selection", "mean_last: 0"]);
    assert_eq!(o.status.code(), Some(2));
}

/// A `missing_labels` key that cannot mean anything is refused at plan time with its path
/// (exit 2, nothing written): a fraction outside [0, 1), every label of a split, a task
/// the suite does not have, a task named twice.
#[test]
fn bad_missing_labels_are_refused_with_their_key() {
    let study = |missing: &str| {
        format!(
            "name: m\nsuites:\n  - kind: planted_correlation\n    tasks: 2\n    train: 40\n    val: 10\n    test: 10\n    missing_labels: {missing}\narchitectures: [{{kind: hard_sharing}}]\nweightings: [{{kind: equal}}]\ntraining: {{epochs: 1, batch_size: 8}}\n"
        )
    };
    for (missing, expected) in [
        (
            "{fraction: 1.0}",
            vec!["suites[0].missing_labels.fraction", "not in [0, 1)"],
        ),
        (
            "{fraction: -0.1}",
            vec!["suites[0].missing_labels.fraction"],
        ),
        (
            "{fraction: 0.96}",
            vec!["suites[0].missing_labels.fraction", "`val` rows"],
        ),
        (
            "{fraction: 0.3, tasks: [7]}",
            vec!["suites[0].missing_labels.tasks[0]", "does not exist"],
        ),
        (
            "{fraction: 0.3, tasks: [1, 1]}",
            vec!["suites[0].missing_labels.tasks[1]", "named twice"],
        ),
    ] {
        assert_bad_input(&study(missing), &expected);
    }
}
