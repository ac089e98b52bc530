//! A run's derived outputs and measured costs, end to end through the binary (whose global
//! allocator counts each run's memory): TensorBoard event files read back by TensorBoard's
//! own reader, and the peak memory of each run's training.

mod common;

use common::{records_without_wall_clock, run_in, stderr, write_study};
use std::path::Path;
use std::process::Command;

/// Two tasks, gradient-level weighting with its weights and conflict telemetry recorded.
const EVENTS: &str = "\
name: events
seed: 5
replicates: 1
suites:
  - kind: gradnorm_toy
    tasks: 2
    input_dim: 8
    output_dim: 3
    train: 64
    val: 16
    test: 16
architectures:
  - kind: hard_sharing
weightings:
  - kind: equal
  - kind: mgda
model:
  trunk: [8]
training:
  epochs: 2
  batch_size: 16
  eval_every: 1
  weights_every: 2
  conflict_every: 2
";

fn run_ok(dir: &Path, args: &[&str]) {
    let o = run_in(dir, args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
}

/// The records of `out` without their measured costs (wall-clock times, peak memory).
fn records(out: &Path) -> Vec<serde_json::Value> {
    records_without_wall_clock(out)
        .into_iter()
        .map(|(_, r)| r)
        .collect()
}

/// The records of `out` as stored.
fn stored_records(out: &Path) -> Vec<serde_json::Value> {
    let mut paths: Vec<_> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

/// Whether `python3` can import TensorBoard's event reader.
fn tensorboard_reader() -> bool {
    Command::new("python3")
        .args([
            "-c",
            "import tensorboard.backend.event_processing.event_accumulator",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn tensorboard_files_hold_every_curve_of_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_study(d, "s.yaml", EVENTS);
    run_ok(
        d,
        &["run", "s.yaml", "--out", "tb", "--quiet", "--tensorboard"],
    );
    run_ok(d, &["run", "s.yaml", "--out", "plain", "--quiet"]);
    // The events are derived: the records are the same with and without them.
    assert_eq!(records(&d.join("tb")), records(&d.join("plain")));
    assert!(!d.join("plain").join("tensorboard").exists());
    let recs = records(&d.join("tb"));
    assert_eq!(recs.len(), 2);
    let file = |out: &str, id: &str| {
        d.join(out)
            .join("tensorboard")
            .join(id)
            .join("events.out.tfevents.mtlbench")
    };
    let mut written = Vec::new();
    for r in &recs {
        let id = r["id"].as_str().unwrap();
        assert!(!r["weights"].as_array().unwrap().is_empty(), "{id}");
        assert!(!r["telemetry"].as_array().unwrap().is_empty(), "{id}");
        // Only the event file in the run's folder: nothing staged is left behind.
        let names: Vec<_> = std::fs::read_dir(file("tb", id).parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        written.push(std::fs::read(file("tb", id)).unwrap());
    }
    // `report --tensorboard` writes the same files from the stored records (here over the
    // sweep's), and for a directory written without them.
    std::fs::remove_dir_all(d.join("tb/tensorboard")).unwrap();
    run_ok(d, &["report", "tb", "--tensorboard"]);
    run_ok(d, &["report", "plain", "--tensorboard"]);
    for (r, bytes) in recs.iter().zip(&written) {
        let id = r["id"].as_str().unwrap();
        assert_eq!(&std::fs::read(file("tb", id)).unwrap(), bytes);
        assert!(file("plain", id).is_file());
    }
    // TensorBoard's own reader, not this crate's code, against the JSON records. CI sets
    // MTLBENCH_REQUIRE_TENSORBOARD so that a missing reader fails there.
    if !tensorboard_reader() {
        assert!(
            std::env::var_os("MTLBENCH_REQUIRE_TENSORBOARD").is_none(),
            "python3 cannot import tensorboard (pip install tensorboard)"
        );
        eprintln!("skipped the TensorBoard read-back: python3 cannot import tensorboard (pip install tensorboard)");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tensorboard-check.py");
    let o = Command::new("python3")
        .arg(&script)
        .arg(d.join("tb"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(said.contains("tensorboard-check: 2 runs, "), "{said}");
    assert!(said.contains(", 0 errors"), "{said}");
}

#[test]
fn the_study_key_asks_for_tensorboard_files_too() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_study(d, "s.yaml", &format!("{EVENTS}tensorboard: true\n"));
    run_ok(d, &["run", "s.yaml", "--out", "o", "--quiet"]);
    for r in records(&d.join("o")) {
        let id = r["id"].as_str().unwrap();
        assert!(d
            .join("o/tensorboard")
            .join(id)
            .join("events.out.tfevents.mtlbench")
            .is_file());
    }
    let o = run_in(
        d,
        &[
            "run",
            "s.yaml",
            "--out",
            "bad",
            "--quiet",
            "--set",
            "tensorboard=3",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("tensorboard"), "{}", stderr(&o));
    assert!(!d.join("bad").exists());
}

/// A run's peak by weighting, for the study `EVENTS` with `trunk` and `tasks`.
fn peaks(dir: &Path, out: &str, trunk: &str, threads: &str) -> Vec<(String, u64, u64)> {
    run_ok(
        dir,
        &[
            "run",
            "s.yaml",
            "--out",
            out,
            "--quiet",
            "--threads",
            threads,
            "--set",
            &format!("model.trunk={trunk}"),
            "--set",
            "suites[0].tasks=4",
            "--set",
            "training.weights_every=0",
            "--set",
            "training.conflict_every=0",
        ],
    );
    let mut peaks: Vec<(String, u64, u64)> = stored_records(&dir.join(out))
        .iter()
        .map(|r| {
            let state =
                r["parameter_bytes"].as_u64().unwrap() + r["optimizer_bytes"].as_u64().unwrap();
            (
                r["weighting"].as_str().unwrap().to_string(),
                r["peak_memory_bytes"].as_u64().expect("a measured peak"),
                state,
            )
        })
        .collect();
    peaks.sort();
    peaks
}

#[test]
fn peak_memory_grows_with_the_trunk_and_with_gradient_level_methods() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_study(d, "s.yaml", EVENTS);
    let narrow = peaks(d, "narrow", "[16]", "1");
    let wide = peaks(d, "wide", "[256, 256]", "1");
    assert_eq!(narrow[0].0, "equal");
    assert_eq!(narrow[1].0, "mgda");
    for (weighting, peak, state) in narrow.iter().chain(&wide) {
        // The parameters and Adam's two moments are live together at every step.
        assert!(peak >= state, "{weighting}: peak {peak} < state {state}");
    }
    // A wider trunk needs more memory, with either weighting.
    assert!(wide[0].1 > narrow[0].1, "{wide:?} vs {narrow:?}");
    assert!(wide[1].1 > narrow[1].1, "{wide:?} vs {narrow:?}");
    // T backward passes and G [T, P] cost more than one backward pass of the summed loss.
    assert!(wide[1].1 > wide[0].1, "{wide:?}");
    // The run's own figure: the same with one run at a time and with two side by side.
    let side_by_side = peaks(d, "narrow2", "[16]", "2");
    assert_eq!(side_by_side, narrow);
}

/// The MiB figure after "peak heap" on the line of `bench`'s output that starts with
/// `label` (after its indent).
fn bench_peak(out: &str, label: &str) -> f64 {
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no line for {label}:\n{out}"));
    let after = line
        .split("peak heap")
        .nth(1)
        .unwrap_or_else(|| panic!("no peak on {line}"));
    after
        .trim()
        .trim_end_matches("MiB")
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no figure on {line}"))
}

#[test]
fn bench_prints_each_methods_peak_memory() {
    let dir = tempfile::tempdir().unwrap();
    let o = common::bin()
        .current_dir(dir.path())
        .env_remove("MTLBENCH_DATA")
        .args([
            "bench",
            "--steps",
            "1",
            "--rounds",
            "1",
            "--methods",
            "equal,mgda",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{out}{}", stderr(&o));
    // W1's parameters (250·100 + 3·100·100 + 10·(100·100) weights, f32) alone are ~0.6 MiB,
    // held three times with Adam's moments.
    for method in ["equal ", "mgda "] {
        assert!(bench_peak(&out, method) > 1.7, "{out}");
    }
}
