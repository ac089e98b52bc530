//! End-to-end tests of sweeps split into shards (`run --shard i/n`, Slurm's array
//! variables), `status`, `slurm --dry-run` and `--set` overrides, without a Slurm cluster.

mod common;

use common::{
    assert_untouched, bin, kill_once_stored, modification_times, records_without_wall_clock,
    run_in, spawn_in, stderr, stored, write_study, SMALL,
};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn run_ok(dir: &Path, args: &[&str]) -> String {
    let o = run_in(dir, args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The stored run ids of `out`.
fn ids(out: &Path) -> Vec<String> {
    if !out.join("runs").exists() {
        return Vec::new();
    }
    records_without_wall_clock(out)
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn the_union_of_the_shards_is_the_single_machine_sweep() {
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "s.yaml", SMALL);
    let d = dir.path();
    run_ok(
        d,
        &[
            "run",
            "s.yaml",
            "--out",
            "full",
            "--threads",
            "2",
            "--quiet",
        ],
    );
    let full = records_without_wall_clock(&d.join("full"));
    assert_eq!(full.len(), 8);

    let mut seen: Vec<String> = Vec::new();
    for shard in ["0/3", "1/3", "2/3"] {
        let before = ids(&d.join("part"));
        let o = run_in(
            d,
            &[
                "run",
                "s.yaml",
                "--out",
                "part",
                "--shard",
                shard,
                "--threads",
                "1",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("shard {shard}:")),
            "{}",
            stderr(&o)
        );
        let mine: Vec<String> = ids(&d.join("part"))
            .into_iter()
            .filter(|id| !before.contains(id))
            .collect();
        assert!(!mine.is_empty(), "shard {shard} ran nothing");
        seen.extend(mine);
        // A shard writes no report: the report job does, once.
        assert!(!d.join("part/summary.md").exists());
    }
    assert_eq!(seen.len(), 8, "every run once");
    assert_eq!(records_without_wall_clock(&d.join("part")), full);
    let status = run_ok(d, &["status", "part"]);
    assert!(
        status.contains("8 planned, 8 stored (8 ok, 0 not ok), 0 missing"),
        "{status}"
    );
    run_ok(d, &["report", "part"]);
    assert!(d.join("part/summary.md").is_file());
}

#[test]
fn slurm_array_variables_pick_the_shard() {
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "s.yaml", SMALL);
    let d = dir.path();
    run_ok(
        d,
        &[
            "run", "s.yaml", "--out", "flag", "--shard", "1/2", "--quiet",
        ],
    );
    let o = bin()
        .current_dir(d)
        .args(["run", "s.yaml", "--out", "env", "--quiet"])
        .env("SLURM_ARRAY_TASK_ID", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        records_without_wall_clock(&d.join("env")),
        records_without_wall_clock(&d.join("flag"))
    );
    assert!(stored(&d.join("env")) < 8);
    // Half a sweep: status lists what is missing and exits 1.
    let o = run_in(d, &["status", "env"]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("missing   "), "{text}");
}

#[test]
fn a_killed_shard_resumes_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let study = SMALL
        .replace("replicates: 2", "replicates: 6")
        .replace("epochs: 3", "epochs: 12");
    write_study(d, "s.yaml", &study);
    run_ok(
        d,
        &[
            "run",
            "s.yaml",
            "--out",
            "full",
            "--threads",
            "2",
            "--quiet",
        ],
    );
    let full = records_without_wall_clock(&d.join("full"));
    assert_eq!(full.len(), 24);

    // Shard 1 finishes; shard 0 is killed part-way.
    run_ok(
        d,
        &[
            "run", "s.yaml", "--out", "part", "--shard", "1/2", "--quiet",
        ],
    );
    let after_one = stored(&d.join("part"));
    let mut child = spawn_in(
        d,
        &[
            "run",
            "s.yaml",
            "--out",
            "part",
            "--shard",
            "0/2",
            "--threads",
            "1",
            "--quiet",
        ],
    );
    let before = kill_once_stored(&mut child, &d.join("part"), after_one + 2);
    assert!(
        (after_one + 2..24).contains(&before),
        "the kill landed part-way ({before})"
    );
    let mtimes = modification_times(d.join("part/runs"));

    // Without --resume the shard is refused; with it, only the missing runs are trained.
    let o = run_in(
        d,
        &[
            "run", "s.yaml", "--out", "part", "--shard", "0/2", "--quiet",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("of shard 0/2: pass --resume"),
        "{}",
        stderr(&o)
    );
    let o = run_in(
        d,
        &[
            "run", "s.yaml", "--out", "part", "--shard", "0/2", "--resume",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("{} already stored", before - after_one)),
        "{}",
        stderr(&o)
    );
    assert_untouched(&mtimes);
    assert_eq!(records_without_wall_clock(&d.join("part")), full);
}

#[test]
fn shards_of_another_study_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_study(d, "a.yaml", SMALL);
    write_study(d, "b.yaml", &SMALL.replace("seed: 3", "seed: 4"));
    run_ok(
        d,
        &["run", "a.yaml", "--out", "out", "--shard", "0/2", "--quiet"],
    );
    let before = records_without_wall_clock(&d.join("out"));
    for args in [
        vec!["run", "b.yaml", "--out", "out", "--shard", "1/2", "--quiet"],
        vec![
            "run", "b.yaml", "--out", "out", "--shard", "1/2", "--resume", "--quiet",
        ],
        vec!["run", "b.yaml", "--out", "out", "--resume", "--quiet"],
    ] {
        let o = run_in(d, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("another plan"), "{}", stderr(&o));
        assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
    }
    assert_eq!(
        records_without_wall_clock(&d.join("out")),
        before,
        "nothing written"
    );
    // A directory that is not an output directory.
    let o = run_in(d, &["status", "nowhere"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn shards_of_two_studies_started_at_once_do_not_mix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_study(d, "a.yaml", SMALL);
    write_study(d, "b.yaml", &SMALL.replace("seed: 3", "seed: 4"));
    let start = |study: &str| {
        bin()
            .current_dir(d)
            .args(["run", study, "--out", "out", "--shard", "0/2", "--quiet"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start("a.yaml"), start("b.yaml"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    // Exactly one claims the directory; the other is refused.
    assert!(
        codes == [Some(0), Some(2)] || codes == [Some(2), Some(0)],
        "{codes:?}: {} / {}",
        stderr(&a),
        stderr(&b)
    );
    let loser = if codes[0] == Some(2) { &a } else { &b };
    assert!(stderr(loser).contains("another plan"), "{}", stderr(loser));
    // Every stored run is of the plan that claimed the directory.
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("out/plan.json")).unwrap()).unwrap();
    let planned: Vec<String> = plan["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("{}.json", v.as_str().unwrap()))
        .collect();
    let stored = ids(&d.join("out"));
    assert!(!stored.is_empty());
    assert!(stored.iter().all(|id| planned.contains(id)), "{stored:?}");
}

#[test]
fn slurm_dry_run_prints_the_array_and_the_report_job() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_study(d, "s.yaml", SMALL);
    let text = run_ok(
        d,
        &[
            "slurm",
            "s.yaml",
            "--out",
            "cluster",
            "--shards",
            "20",
            "--time",
            "00:10:00",
            "--cpus-per-task",
            "2",
            "--dry-run",
        ],
    );
    // 8 runs: at most 8 shards; each task names its shard of 8, so that a task resubmitted
    // alone (`sbatch --array=3`) still runs shard 3 of 8, not the whole plan.
    assert!(text.contains("#SBATCH --array=0-7\n"), "{text}");
    assert!(
        text.contains("--shard \"${SLURM_ARRAY_TASK_ID}/8\""),
        "{text}"
    );
    assert!(text.contains("#SBATCH --time=00:10:00\n"), "{text}");
    assert!(
        text.contains("--resume --device cpu --max-runs 100000 --shard"),
        "{text}"
    );
    assert!(text.contains("/cluster/study.yaml"), "{text}");
    assert!(
        text.contains("report.sbatch") && text.contains("afterany"),
        "{text}"
    );
    assert!(!d.join("cluster").exists(), "a dry run writes nothing");
    // Without sbatch on PATH: a clear error, exit 2.
    let o = bin()
        .current_dir(d)
        .args(["slurm", "s.yaml", "--out", "cluster"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("sbatch"), "{}", stderr(&o));
    assert!(
        !d.join("cluster").exists(),
        "nothing written when sbatch is missing"
    );
}

#[test]
fn set_overrides_keys_and_the_resolved_study_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_study(d, "s.yaml", SMALL);
    let plan = run_ok(d, &["plan", "s.yaml", "--set", "training.lr=[0.01,0.001]"]);
    assert!(plan.starts_with("small: 16 runs"), "{plan}");
    let plan = run_ok(
        d,
        &[
            "plan",
            "s.yaml",
            "--set",
            "replicates=1",
            "--set",
            "suites[1].tasks=3",
        ],
    );
    assert!(plan.starts_with("small: 4 runs"), "{plan}");

    // Unknown keys and bad values: exit 2, the key path named, nothing written.
    for (set, expected) in [
        ("training.lrr=0.1", "--set training.lrr=0.1: training.lrr: "),
        (
            "suites[5].rho=0.1",
            "suites[5].rho: index [5] is out of range",
        ),
        ("replicates=0", "replicates: must be at least 1"),
    ] {
        let o = run_in(d, &["run", "s.yaml", "--out", "bad", "--set", set]);
        assert_eq!(o.status.code(), Some(2), "{set}: {}", stderr(&o));
        assert!(stderr(&o).contains(expected), "{set}: {}", stderr(&o));
        assert!(!d.join("bad").exists(), "nothing written");
    }

    let args = [
        "run",
        "s.yaml",
        "--out",
        "o",
        "--quiet",
        "--set",
        "replicates=1",
    ];
    run_ok(d, &args);
    assert_eq!(stored(&d.join("o")), 4);
    let saved = std::fs::read_to_string(d.join("o/study.yaml")).unwrap();
    assert!(saved.contains("replicates: 1"), "{saved}");
    // The stored study is what ran: running it gives the same records.
    run_ok(d, &["run", "o/study.yaml", "--out", "again", "--quiet"]);
    assert_eq!(
        records_without_wall_clock(&d.join("again")),
        records_without_wall_clock(&d.join("o"))
    );
    // --resume with the same overrides continues; with others it is refused.
    let mut resume = args.to_vec();
    resume.push("--resume");
    run_ok(d, &resume);
    let o = run_in(
        d,
        &[
            "run",
            "s.yaml",
            "--out",
            "o",
            "--resume",
            "--set",
            "replicates=2",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn run_ends_with_a_summary_that_fits_100_columns() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_study(d, "s.yaml", SMALL);
    let text = run_ok(d, &["run", "s.yaml", "--out", "o", "--threads", "2"]);
    for line in text.lines() {
        assert!(line.chars().count() <= 100, "{line}");
    }
    for expected in [
        "planted_correlation",
        "gradnorm_toy",
        "hard_sharing+equal",
        "Δ_MTL",
        "neg.",
        "rank",
        "s/run",
    ] {
        assert!(text.contains(expected), "{expected} in:\n{text}");
    }
    assert!(text.contains("Full report: o/index.md"), "{text}");
}

#[test]
fn plans_too_large_to_run_are_refused_unless_max_runs_allows_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_study(d, "s.yaml", SMALL);
    let start = Instant::now();
    let o = run_in(
        d,
        &[
            "run",
            "s.yaml",
            "--out",
            "o",
            "--set",
            "replicates=1000000000000",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("replicates: the plan would have 4000000000000 runs, more than the limit of 100000 (--max-runs raises it)"),
        "{}",
        stderr(&o)
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "refused before allocating"
    );
    assert!(!d.join("o").exists());
    let o = run_in(d, &["plan", "s.yaml", "--max-runs", "7"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    run_ok(d, &["plan", "s.yaml", "--max-runs", "8"]);
    // A suite too large to allocate is refused at plan time, naming the key.
    let o = run_in(
        d,
        &["plan", "s.yaml", "--set", "suites[0].train=1000000000000"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("suites[0].train: 1000000000000 rows is more than the limit"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_selection_rule_is_applied_stated_and_re_selectable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_study(d, "s.yaml", SMALL);
    let args = [
        "run",
        "s.yaml",
        "--out",
        "o",
        "--quiet",
        "--set",
        "selection=best_val",
        "--set",
        "training.epochs=30",
    ];
    run_ok(d, &args);
    let read = |f: &str| std::fs::read_to_string(d.join("o").join(f)).unwrap();
    // summary.csv without its wall-clock rows.
    let values = |text: String| -> String {
        text.lines()
            .filter(|l| !l.contains(",wall_time_s,"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        read("summary.md").contains("(selection: best_val)"),
        "{}",
        read("summary.md")
    );
    assert!(read("summary.tex").contains(r"selection: best\_val"));
    assert!(read("index.md").contains("Test metric per task (selection: best_val)"));
    let best_val = values(read("summary.csv"));
    // `report` keeps the study's rule by default, and re-selects on request.
    run_ok(d, &["report", "o"]);
    assert_eq!(values(read("summary.csv")), best_val);
    run_ok(d, &["report", "o", "--selection", "last"]);
    assert!(read("summary.md").contains("(selection: last)"));
    let last = values(read("summary.csv"));
    assert_ne!(
        last, best_val,
        "30 epochs on 60 rows overfit: the best validation point is not always the last"
    );
    run_ok(
        d,
        &[
            "run",
            "s.yaml",
            "--out",
            "plain",
            "--quiet",
            "--set",
            "training.epochs=30",
        ],
    );
    assert_eq!(
        last,
        values(std::fs::read_to_string(d.join("plain/summary.csv")).unwrap()),
        "report --selection last = a run without a rule"
    );
    // Bad rules: exit 2.
    let o = run_in(d, &["report", "o", "--selection", "mean_last:0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = run_in(d, &["plan", "s.yaml", "--set", "selection={mean_last: 0}"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("selection: mean_last needs k ≥ 1"),
        "{}",
        stderr(&o)
    );
}
