//! End-to-end tests of the `mtlbench` binary, each in its own temporary directory.

mod common;

use common::{
    assert_bad_input, assert_untouched, bin, kill_once_stored, modification_times,
    records_without_wall_clock, run_in, spawn_in, stderr, write_study, SMALL,
};
use std::path::Path;
use std::process::Command;

#[test]
fn same_seed_gives_identical_records_on_1_and_2_threads() {
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "s.yaml", SMALL);
    for (out, threads) in [("a", "1"), ("b", "2"), ("c", "2")] {
        let o = run_in(
            dir.path(),
            &[
                "run",
                "s.yaml",
                "--out",
                out,
                "--threads",
                threads,
                "--quiet",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let a = records_without_wall_clock(&dir.path().join("a"));
    assert_eq!(a.len(), 8);
    assert_eq!(a, records_without_wall_clock(&dir.path().join("b")));
    assert_eq!(a, records_without_wall_clock(&dir.path().join("c")));
    // The report's files exist.
    for f in [
        "runs.parquet",
        "runs.csv",
        "summary.csv",
        "summary.md",
        "study.yaml",
    ] {
        assert!(dir.path().join("a").join(f).is_file(), "{f}");
    }
    let linked = linked_charts(&dir.path().join("a"));
    // Per suite at least the metric chart, the Δm bars and the learning curves.
    assert!(linked.len() >= 2 * 3 * 2, "{linked:?}");
    assert_eq!(
        chart_files(&dir.path().join("a")),
        linked,
        "index.md links every chart"
    );
}

/// The chart files `index.md` links (sorted).
fn linked_charts(out: &Path) -> Vec<String> {
    let index = std::fs::read_to_string(out.join("index.md")).unwrap();
    let mut linked: Vec<String> = index
        .split("](charts/")
        .skip(1)
        .map(|rest| rest.split(')').next().unwrap().to_string())
        .collect();
    linked.sort();
    linked
}

/// The files under `<out>/charts` (sorted).
fn chart_files(out: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(out.join("charts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

#[test]
fn killed_sweep_resumes_to_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    // Enough runs that the kill lands part-way.
    let study = SMALL
        .replace("replicates: 2", "replicates: 6")
        .replace("epochs: 3", "epochs: 12");
    write_study(dir.path(), "s.yaml", &study);
    let o = run_in(
        dir.path(),
        &[
            "run",
            "s.yaml",
            "--out",
            "full",
            "--threads",
            "1",
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let full = records_without_wall_clock(&dir.path().join("full"));
    assert_eq!(full.len(), 24);

    let mut child = spawn_in(
        dir.path(),
        &[
            "run",
            "s.yaml",
            "--out",
            "part",
            "--threads",
            "1",
            "--quiet",
        ],
    );
    let runs = dir.path().join("part/runs");
    let before = kill_once_stored(&mut child, &dir.path().join("part"), 3);
    assert!(
        (3..24).contains(&before),
        "the kill landed part-way ({before} stored)"
    );
    let mtimes = modification_times(&runs);

    // Without --resume the directory is refused, and nothing changes.
    let o = run_in(dir.path(), &["run", "s.yaml", "--out", "part", "--quiet"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));

    let o = run_in(
        dir.path(),
        &[
            "run",
            "s.yaml",
            "--out",
            "part",
            "--threads",
            "2",
            "--resume",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("{before} already stored")),
        "{}",
        stderr(&o)
    );
    assert_untouched(&mtimes);
    assert_eq!(records_without_wall_clock(&dir.path().join("part")), full);
}

#[test]
fn bad_input_is_reported_with_file_key_and_line() {
    assert_bad_input(
        &SMALL.replace(
            "  - kind: hard_sharing",
            "  - kind: hard_sharing\n    lamda: 2",
        ),
        &["architectures[1]", "unknown field `lamda`", "line 21"],
    );
    assert_bad_input(
        &SMALL.replace("epochs: 3", "epochs: three"),
        &["training.epochs", "line 24"],
    );
    assert_bad_input(
        &SMALL.replace("kind: hard_sharing", "kind: hard_shearing"),
        &[
            "architectures[1]",
            "unknown variant `hard_shearing`",
            "line 20",
        ],
    );
    assert_bad_input(
        &SMALL.replace("    tasks: 3\n", "    tasks: 3\n    rho: 2\n"),
        &["suites[0].rho", "line 7"],
    );
    assert_bad_input(
        &SMALL.replace("replicates: 2", "replicates: [2]"),
        &["replicates", "line 3"],
    );
    assert_bad_input(
        &format!("{SMALL}delta_metrics: [accuracy, loss]\n"),
        &[
            "delta_metrics[1]",
            "unknown metric `loss`",
            "line 27 column 27",
        ],
    );

    let dir = tempfile::tempdir().unwrap();
    let o = run_in(dir.path(), &["run", "missing.yaml", "--out", "out"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("missing.yaml: cannot read the study file"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("out").exists());
}

#[test]
fn diverging_run_is_recorded_and_the_sweep_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let study = SMALL
        .replace("replicates: 2", "replicates: 1")
        .replace("lr: 0.01", "lr: [0.01, 1.0e+6]");
    write_study(dir.path(), "s.yaml", &study);
    let o = run_in(dir.path(), &["run", "s.yaml", "--out", "out", "--quiet"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let records = records_without_wall_clock(&dir.path().join("out"));
    assert_eq!(records.len(), 8);
    let status = |r: &serde_json::Value| r["status"].as_str().unwrap().to_string();
    let diverged: Vec<_> = records
        .iter()
        .filter(|(_, r)| status(r) == "diverged")
        .collect();
    assert!(!diverged.is_empty());
    assert!(diverged
        .iter()
        .all(|(_, r)| r["message"].as_str().unwrap().contains("loss became")));
    assert!(records
        .iter()
        .filter(|(_, r)| r["algorithm"].as_str().unwrap().ends_with("lr=0.01"))
        .all(|(_, r)| status(r) == "ok"));
    let md = std::fs::read_to_string(dir.path().join("out/summary.md")).unwrap();
    assert!(md.contains("runs not ok"));
}

/// The binary runs with mimalloc's purging off (`MIMALLOC_PURGE_DELAY=-1`, set by one
/// restart of itself) unless the environment sets the option, which then wins and no
/// restart happens. mimalloc's verbose mode prints each process's options at start.
#[cfg(unix)]
#[test]
fn allocator_keeps_freed_memory_unless_the_environment_says_otherwise() {
    let purge_delays = |preset: Option<&str>| -> Vec<String> {
        let mut cmd = bin();
        cmd.arg("list")
            .env("MIMALLOC_VERBOSE", "1")
            .env_remove("MIMALLOC_PURGE_DELAY");
        if let Some(value) = preset {
            cmd.env("MIMALLOC_PURGE_DELAY", value);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success());
        stderr(&o)
            .lines()
            .filter_map(|l| l.strip_prefix("option 'purge_delay': "))
            .map(|v| v.trim().to_string())
            .collect()
    };
    // mimalloc's default in the first process, never purging after the restart.
    let restarted = purge_delays(None);
    assert_eq!(restarted.len(), 2, "{restarted:?}");
    assert_eq!(restarted[1], "-1");
    assert_eq!(purge_delays(Some("5")), ["5"]);
}

/// `bench --methods` refuses a weighting that is not registered before timing anything
/// (exit 2, naming the flag and the name).
#[test]
fn bench_refuses_an_unknown_method() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_in(dir.path(), &["bench", "--methods", "mgda,mgdaa"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--methods") && err.contains("`mgdaa`"),
        "{err}"
    );
    assert!(o.stdout.is_empty(), "nothing timed");
}

#[test]
fn plan_list_and_report() {
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "s.yaml", SMALL);
    let o = run_in(dir.path(), &["plan", "s.yaml"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(text.starts_with("small: 8 runs"), "{text}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "plan writes nothing"
    );

    let o = run_in(dir.path(), &["list"]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    for kind in [
        "gradnorm_toy",
        "planted_correlation",
        "single_task",
        "hard_sharing",
        "equal",
        "static",
        "adamw",
        "quickstart",
        "soft_sharing",
        "hierarchical",
        "auto_lambda",
        "meta_weight_net",
        "sinusoid",
        "task_tree",
        "reptile",
        "fomaml",
        "few-shot",
    ] {
        assert!(text.contains(kind), "{kind} missing from list");
    }

    let o = run_in(dir.path(), &["run", "s.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // `report` regenerates every table and chart from the stored records alone.
    let out = dir.path().join("out");
    let regenerated = ["summary.md", "summary.tex", "summary.csv", "index.md"];
    let before: Vec<Vec<u8>> = regenerated
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    let charts = chart_files(&out);
    for f in regenerated {
        std::fs::remove_file(out.join(f)).unwrap();
    }
    std::fs::remove_dir_all(out.join("charts")).unwrap();
    let o = run_in(dir.path(), &["report", "out"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (f, content) in regenerated.iter().zip(before) {
        assert_eq!(std::fs::read(out.join(f)).unwrap(), content, "{f}");
    }
    assert_eq!(chart_files(&out), charts);
    assert_eq!(linked_charts(&out), charts);

    let o = run_in(dir.path(), &["report", "nowhere"]);
    assert_eq!(o.status.code(), Some(2));

    // Every record declares its tasks' primary metrics: the normalised MSE here.
    let records = common::records_without_wall_clock(&out);
    let (_, first) = &records[0];
    let primary = first["primary_metrics"].as_array().unwrap();
    assert!(!primary.is_empty());
    assert!(
        primary.iter().all(|m| m["metric"] == "normalized_mse"),
        "{primary:?}"
    );
    // `--delta-metrics` re-pools the transfer measures without retraining; a name that is
    // no metric is refused (exit 2) and nothing is rewritten.
    let o = run_in(
        dir.path(),
        &["report", "out", "--delta-metrics", "mse,normalized_mse"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("named by delta_metrics (mse, normalized_mse)"),
        "{summary}"
    );
    let o = run_in(dir.path(), &["report", "out", "--delta-metrics", "loss"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--delta-metrics: unknown metric `loss`"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("summary.md")).unwrap(),
        summary
    );
}

/// With several fractions the report adds learning curves and data efficiency; the
/// single-task curve is worth exactly itself (DER 1).
#[test]
fn several_fractions_give_data_efficiency_tables() {
    let dir = tempfile::tempdir().unwrap();
    let study = SMALL.replace("replicates: 2", "replicates: 1\nfractions: [0.5, 1.0]");
    write_study(dir.path(), "s.yaml", &study);
    let o = run_in(dir.path(), &["run", "s.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let curves = std::fs::read_to_string(dir.path().join("out/learning_curves.csv")).unwrap();
    let stl: Vec<&str> = curves
        .lines()
        .filter(|l| l.contains("single_task"))
        .collect();
    assert_eq!(
        stl.len(),
        (3 + 2) * 2,
        "every task of both suites at both fractions"
    );
    assert!(stl.iter().all(|l| l.ends_with(",1.0")), "{stl:?}");
    let efficiency = std::fs::read_to_string(dir.path().join("out/data_efficiency.csv")).unwrap();
    assert!(efficiency
        .starts_with("suite,algorithm,task,metric,auc_log_fraction,mean_data_equivalence_ratio"));
    assert_eq!(efficiency.lines().count(), 1 + 5 * 2);
}

/// `pairwise: true` adds hard_sharing+equal on every single task and pair; the gains go to
/// their own table and stay out of the main summary.
#[test]
fn pairwise_option_tabulates_gains_apart_from_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let study = SMALL.replace("replicates: 2", "replicates: 1\npairwise: true");
    write_study(dir.path(), "p.yaml", &study);
    let o = run_in(dir.path(), &["plan", "p.yaml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run_in(dir.path(), &["run", "p.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // planted (3 tasks): 3 singles + 3 pairs; gradnorm_toy (2 tasks): 2 + 1; plus the
    // ordinary 2 runs per suite.
    let runs = std::fs::read_dir(dir.path().join("out/runs"))
        .unwrap()
        .count();
    assert_eq!(runs, (3 + 3 + 2) + (2 + 1 + 2));
    let gains = std::fs::read_to_string(dir.path().join("out/pairwise_transfer.csv")).unwrap();
    // gain_{i|j} for every ordered pair: 6 + 2.
    assert_eq!(gains.lines().count(), 1 + 6 + 2, "{gains}");
    let summary = std::fs::read_to_string(dir.path().join("out/summary.md")).unwrap();
    assert!(!summary.contains("tasks="), "{summary}");
    let rel = std::fs::read_to_string(dir.path().join("out/relationships.md")).unwrap();
    assert!(rel.contains("## Pairwise transfer"));
}

/// Writes a tiny IDX image set under `dir/folder` (train and t10k): image i is all
/// `10·(i+1)`, label i % 10.
fn write_idx_fixture(dir: &Path, folder: &str, n: usize) {
    use mtlbench_tasks::real::idx::encode;
    std::fs::create_dir_all(dir.join(folder)).unwrap();
    for prefix in ["train", "t10k"] {
        let images: Vec<u8> = (0..n)
            .flat_map(|i| vec![(10 * (i + 1)) as u8; 784])
            .collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        std::fs::write(
            dir.join(format!("{folder}/{prefix}-images-idx3-ubyte.gz")),
            encode(&[n, 28, 28], &images),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{folder}/{prefix}-labels-idx1-ubyte.gz")),
            encode(&[n], &labels),
        )
        .unwrap();
    }
}

/// A MultiMNIST study on fixture files runs; without data, or with a damaged file, the
/// plan stops with one error naming the file and the fetch command, and writes nothing.
#[test]
fn real_suites_read_the_data_directory_and_fail_clearly_without_it() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_fixture(&dir.path().join("data"), "mnist", 12);
    let study = "\
name: mm
replicates: 1
suites:
  - {kind: multi_mnist, train: 40, val: 10, test: 20, data_dir: data, verify_checksums: false}
architectures:
  - kind: hard_sharing
model: {trunk: [16]}
training: {epochs: 2, batch_size: 16}
";
    write_study(dir.path(), "mm.yaml", study);
    let o = run_in(dir.path(), &["run", "mm.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let runs = std::fs::read_to_string(dir.path().join("out/runs.csv")).unwrap();
    assert!(runs.contains(",left,test,accuracy,") && runs.contains(",right,test,accuracy,"));

    // The published checksums reject the fixture.
    write_study(
        dir.path(),
        "checked.yaml",
        &study.replace(", verify_checksums: false", ""),
    );
    let o = run_in(
        dir.path(),
        &["run", "checked.yaml", "--out", "out2", "--quiet"],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("checked.yaml: suites[0]")
            && e.contains("SHA-256")
            && e.contains("scripts/fetch-data.sh"),
        "{e}"
    );
    assert!(!dir.path().join("out2").exists(), "nothing written");

    // No data directory at all (and no MTLBENCH_DATA).
    write_study(
        dir.path(),
        "nodata.yaml",
        &study.replace(", data_dir: data", ""),
    );
    let o = Command::new(env!("CARGO_BIN_EXE_mtlbench"))
        .current_dir(dir.path())
        .env_remove("MTLBENCH_DATA")
        .args(["plan", "nodata.yaml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("MTLBENCH_DATA") && e.contains("line 4"), "{e}");
    // A missing file is named.
    std::fs::remove_file(dir.path().join("data/mnist/t10k-labels-idx1-ubyte.gz")).unwrap();
    let o = run_in(dir.path(), &["plan", "mm.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("t10k-labels-idx1-ubyte.gz"),
        "{}",
        stderr(&o)
    );
}

/// A conv trunk (`lenet`) trains on the MultiMNIST fixture under every architecture that
/// builds a trunk differently; the plan refuses conv layers on a suite of flat vectors and
/// a kernel larger than its padded image, naming the key path and the line.
#[test]
fn conv_trunks_train_on_image_suites_and_are_checked_against_the_input() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_fixture(&dir.path().join("data"), "mnist", 12);
    let study = "\
name: conv
replicates: 1
suites:
  - {kind: multi_mnist, train: 40, val: 10, test: 20, data_dir: data, verify_checksums: false}
architectures:
  - kind: single_task
  - kind: hard_sharing
  - kind: mmoe
  - kind: cross_stitch
  - {kind: hierarchical, levels: [2, 3]}
model: {trunk: lenet, head: [8]}
training: {epochs: 2, batch_size: 16}
";
    write_study(dir.path(), "conv.yaml", study);
    let o = run_in(dir.path(), &["run", "conv.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let runs = std::fs::read_to_string(dir.path().join("out/runs.csv")).unwrap();
    for arch in [
        "single_task",
        "hard_sharing",
        "mmoe",
        "cross_stitch",
        "hierarchical",
    ] {
        assert!(runs.contains(&format!(",{arch},")), "{arch}");
    }
    assert!(!runs.contains(",failed,") && !runs.contains(",diverged,"));

    assert_bad_input(
        &SMALL.replace(
            "  trunk: [16, 16]",
            "  trunk: [{conv: {out: 4, kernel: 3}}, 16]",
        ),
        &[
            "model.trunk[0].conv: needs an image input",
            "(suite `planted_correlation`)",
            "line 22",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    write_idx_fixture(&dir.path().join("data"), "mnist", 12);
    write_study(
        dir.path(),
        "big.yaml",
        &study.replace(
            "trunk: lenet",
            "trunk: [{conv: {out: 4, kernel: 3, padding: 1}}, {max_pool: 2}, {conv: {out: 4, kernel: 17}}]",
        ),
    );
    let o = run_in(dir.path(), &["plan", "big.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("big.yaml: model.trunk[2].conv.kernel: 17 exceeds the padded 14×14 image")
            && e.contains("line 11"),
        "{e}"
    );
}

/// With `MTLBENCH_DATA` pointing at the full data sets (CI: ../shared/data): every real
/// suite builds from the published files, checksums verified, and trains.
#[test]
#[ignore = "needs MTLBENCH_DATA with the full data sets; run with --ignored"]
fn full_data_sets_build_and_train() {
    let data = std::env::var("MTLBENCH_DATA").expect("MTLBENCH_DATA names the data directory");
    let dir = tempfile::tempdir().unwrap();
    let study = "\
name: full
replicates: 1
suites:
  - {kind: multi_mnist, train: 2000, val: 500, test: 1000}
  - {kind: multi_fashion, train: 2000, val: 500, test: 1000}
  - {kind: multi_fashion_mnist, train: 2000, val: 500, test: 1000}
  - {kind: census_income, group: 1, train: 5000}
  - {kind: census_income, name: census2, group: 2, train: 5000}
architectures:
  - kind: single_task
  - kind: hard_sharing
model: {trunk: [64]}
training: {epochs: 2, batch_size: 128}
";
    write_study(dir.path(), "full.yaml", study);
    let o = Command::new(env!("CARGO_BIN_EXE_mtlbench"))
        .current_dir(dir.path())
        .env("MTLBENCH_DATA", &data)
        .args(["run", "full.yaml", "--out", "out", "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = std::fs::read_to_string(dir.path().join("out/summary.md")).unwrap();
    for suite in [
        "multi_mnist",
        "multi_fashion",
        "multi_fashion_mnist",
        "census_income",
        "census2",
    ] {
        assert!(summary.contains(&format!("## {suite} (")), "{suite}");
    }
    // Census tasks are scored by AUC first; two epochs on 5k rows already beat chance.
    assert!(summary.contains("income_50k auc ↑") && summary.contains("college auc ↑"));
    let csv = std::fs::read_to_string(dir.path().join("out/summary.csv")).unwrap();
    let auc: Vec<f64> = csv
        .lines()
        .filter(|l| l.contains(",auc,"))
        .map(|l| l.split(',').nth(7).unwrap().parse().unwrap())
        .collect();
    assert!(!auc.is_empty() && auc.iter().all(|a| *a > 0.6), "{auc:?}");
}

/// An `adaptation` section adds one run per start and replicate; their curves go to
/// adaptation.csv/.md and a chart, not into the summary; a suite without a task family is
/// refused.
#[test]
fn adaptation_runs_report_their_curves_apart() {
    let study = "\
name: fs
replicates: 2
suites:
  - {kind: sinusoid, tasks: 5, train: 60, val: 20, test: 40}
architectures:
  - kind: hard_sharing
model: {trunk: [16]}
training: {epochs: 2, batch_size: 20}
adaptation:
  held_out: 3
  shots: [5, 10]
  steps: 3
  query: 20
  starts:
    - kind: random
    - {kind: reptile, iterations: 20}
";
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "fs.yaml", study);
    let o = run_in(dir.path(), &["run", "fs.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // 2 replicates × (1 ordinary + 2 adaptation runs).
    assert_eq!(
        std::fs::read_dir(dir.path().join("out/runs"))
            .unwrap()
            .count(),
        6
    );
    let csv = std::fs::read_to_string(dir.path().join("out/adaptation.csv")).unwrap();
    // 2 starts × 2 shot counts × 4 steps (0..=3).
    assert_eq!(csv.lines().count(), 1 + 2 * 2 * 4, "{csv}");
    assert!(
        csv.lines().skip(1).all(|l| l.contains(",2,")),
        "n = 2 replicates: {csv}"
    );
    let summary = std::fs::read_to_string(dir.path().join("out/summary.md")).unwrap();
    assert!(!summary.contains("adapt:"), "{summary}");
    assert!(dir
        .path()
        .join("out/charts/sinusoid_f1_adaptation.png")
        .is_file());

    // planted_correlation draws unseen task vectors too; gradnorm_toy has no family.
    write_study(
        dir.path(),
        "planted.yaml",
        &study.replace(
            "kind: sinusoid, tasks: 5",
            "kind: planted_correlation, tasks: 3, input_dim: 8",
        ),
    );
    let o = run_in(
        dir.path(),
        &["run", "planted.yaml", "--out", "planted", "--quiet"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("planted/adaptation.csv").is_file());
    write_study(
        dir.path(),
        "bad.yaml",
        &study.replace(
            "kind: sinusoid, tasks: 5",
            "kind: gradnorm_toy, tasks: 2, input_dim: 8, output_dim: 2",
        ),
    );
    let o = run_in(dir.path(), &["plan", "bad.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no task family"), "{}", stderr(&o));
}

/// The README's reference-study tables and the sentences that read them are each study's
/// `findings.md`, which `report` generates from the records (`regenerate-docs.sh --check`
/// checks that the committed file equals a fresh regeneration): it fails when a copy in the
/// README is stale, missing, or edited by hand.
#[test]
fn readme_findings_are_the_studies_generated_findings() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let mut studies = 0;
    for entry in std::fs::read_dir(format!("{root}/docs/results")).unwrap() {
        let dir = entry.unwrap().path();
        let study = dir.file_name().unwrap().to_str().unwrap().to_string();
        // A study has stored runs; `combined` ranks several studies and has no findings.
        if !dir.join("runs").is_dir() {
            continue;
        }
        // A study still running (committed run by run, resumed later) has its report, and
        // its README findings, once every planned run is stored.
        if !dir.join("findings.md").exists() {
            let plan: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join("plan.json")).unwrap_or_default(),
            )
            .unwrap_or_else(|e| panic!("docs/results/{study}: no findings.md, no plan.json: {e}"));
            let planned = plan["runs"].as_array().map_or(0, Vec::len);
            let stored = common::stored(&dir);
            assert!(
                stored < planned,
                "docs/results/{study} has every planned run ({stored} of {planned}) but no findings.md"
            );
            continue;
        }
        let findings = std::fs::read_to_string(dir.join("findings.md"))
            .unwrap_or_else(|e| panic!("docs/results/{study}/findings.md: {e}"));
        let begin = format!("<!-- findings:{study} -->\n");
        let end = format!("<!-- /findings:{study} -->");
        let start = readme
            .find(&begin)
            .unwrap_or_else(|| panic!("the README has no {begin} marker"))
            + begin.len();
        let stop = start + readme[start..].find(&end).expect("a closing marker");
        assert!(
            readme[start..stop] == findings,
            "the README's findings of {study} are stale: run scripts/regenerate-docs.sh --report"
        );
        assert!(findings.contains("Generated from the records"), "{study}");
        studies += 1;
    }
    assert!(studies >= 4, "{studies} reference studies");
}

/// The README's component table is the output of `mtlbench list --markdown`, generated from
/// the registries: it fails when a component is added or changed without regenerating it.
#[test]
fn readme_component_table_is_generated_from_the_registries() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_in(dir.path(), &["list", "--markdown"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let generated = String::from_utf8(o.stdout).unwrap();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let begin = readme
        .find("<!-- components:")
        .expect("the README marks its component table");
    let body_start = begin + readme[begin..].find('\n').unwrap() + 1;
    let body_end = readme.find("<!-- /components -->").unwrap();
    assert!(
        readme[body_start..body_end] == generated,
        "the README's component table is stale: run `cargo run -- list --markdown` and paste its output between the components markers"
    );
    for kind in [
        "gradnorm_toy",
        "hard_sharing",
        "upgrad",
        "adamw",
        "fair-comparison",
    ] {
        assert!(generated.contains(&format!("`{kind}`")), "{kind}");
    }
}
