//! Helpers shared by the end-to-end tests: the binary, a small study, stored records.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mtlbench"))
}

pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Starts the binary in `dir` with `args`, its output discarded (a sweep to kill).
pub fn spawn_in(dir: &Path, args: &[&str]) -> std::process::Child {
    bin()
        .current_dir(dir)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A small study: 2 suites × 2 algorithms × 2 replicates, a few epochs.
pub const SMALL: &str = "\
name: small
seed: 3
replicates: 2
suites:
  - kind: planted_correlation
    tasks: 3
    input_dim: 10
    train: 60
    val: 30
    test: 60
  - kind: gradnorm_toy
    tasks: 2
    input_dim: 12
    output_dim: 4
    train: 60
    val: 20
    test: 40
architectures:
  - kind: single_task
  - kind: hard_sharing
model:
  trunk: [16, 16]
training:
  epochs: 3
  batch_size: 16
  lr: 0.01
";

/// Every stored run record of `out`, as JSON with the measured costs that are not a
/// function of the study and seed removed (wall-clock times, peak memory).
pub fn records_without_wall_clock(out: &Path) -> Vec<(String, serde_json::Value)> {
    let mut records: Vec<(String, serde_json::Value)> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let mut v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            for timing in ["wall_time_s", "data_time_s", "peak_memory_bytes"] {
                v.as_object_mut().unwrap().remove(timing);
            }
            (p.file_name().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect();
    records.sort_by(|a, b| a.0.cmp(&b.0));
    records
}

pub fn write_study(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs a bad study and checks: exit code 2, one line naming the file, key path and
/// line, and nothing written.
pub fn assert_bad_input(study: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "bad.yaml", study);
    let o = run_in(dir.path(), &["run", "bad.yaml", "--out", "out"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains("bad.yaml"), "{err}");
    for e in expected {
        assert!(err.contains(e), "expected `{e}` in: {err}");
    }
    assert!(!dir.path().join("out").exists(), "nothing written");
}

/// How many run records `<out>/runs` holds (temporary files aside).
pub fn stored(out: &Path) -> usize {
    std::fs::read_dir(out.join("runs")).map_or(0, |d| {
        d.filter(|e| {
            let name = e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .into_owned();
            name.ends_with(".json") && !name.starts_with('.')
        })
        .count()
    })
}

/// The modification time of every run record under `runs`.
pub fn modification_times(runs: impl AsRef<Path>) -> Vec<(PathBuf, std::time::SystemTime)> {
    std::fs::read_dir(runs.as_ref())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let t = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p, t)
        })
        .collect()
}

/// Fails when a record of `before` was written again (a stored run was rerun).
pub fn assert_untouched(before: &[(PathBuf, std::time::SystemTime)]) {
    for (path, t) in before {
        let now = std::fs::metadata(path).unwrap().modified().unwrap();
        assert_eq!(now, *t, "{} was rerun", path.display());
    }
}

/// Waits (at most 120 s) until `out` holds `n` stored runs, then kills `child` (SIGKILL)
/// and returns how many runs are stored.
pub fn kill_once_stored(child: &mut std::process::Child, out: &Path, n: usize) -> usize {
    let start = std::time::Instant::now();
    while stored(out) < n && start.elapsed() < std::time::Duration::from_secs(120) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    stored(out)
}

/// The repository's files whose extension is one of `extensions`, in path order, outside
/// hidden folders, build output (`target`) and study output (`out`).
pub fn repository_files(extensions: &[&str]) -> Vec<PathBuf> {
    fn walk(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "out" {
                    walk(&path, extensions, out);
                }
            } else if extensions
                .iter()
                .any(|ext| path.extension().and_then(|e| e.to_str()) == Some(*ext))
            {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        extensions,
        &mut files,
    );
    files
}
