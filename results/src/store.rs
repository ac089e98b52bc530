//! The run store: one JSON file per finished run under `<out>/runs/`, written atomically
//! (temporary file, fsync, rename), so a killed sweep never leaves a half-written record
//! that a reader would trust.

use crate::record::RunRecord;
use crate::ResultsError;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const RUNS_DIR: &str = "runs";

/// The directory that holds the run files of output directory `out`.
pub fn runs_dir(out: &Path) -> PathBuf {
    out.join(RUNS_DIR)
}

/// A temporary file beside `path`, unique per writer: processes on several machines may
/// share the directory. Readers skip names that start with a dot.
fn temp_path(path: &Path) -> std::path::PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    dir.join(format!(
        ".{name}.tmp-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ))
}

/// Writes `bytes` to a new temporary file beside `path`, synced to disk when `sync` is set,
/// then `publish`es it.
fn write_then(
    path: &Path,
    bytes: &[u8],
    sync: bool,
    publish: impl FnOnce(&Path, &Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        if sync {
            file.sync_all()?;
        }
        publish(&tmp, path)
    })();
    let _ = fs::remove_file(&tmp);
    result
}

/// Writes `bytes` to `path` atomically: readers see the old file or the whole new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    write_then(path, bytes, true, |tmp, path| fs::rename(tmp, path))
        .map_err(|e| ResultsError::io(path, e))
}

/// Writes `bytes` to `path` atomically for readers (the old file or the whole new one) but
/// not synced to disk: after a crash of the machine the file may be empty or lost. For
/// files that are advice, rewritten often (a run's progress), where an fsync per write
/// would cost more than the file is worth.
pub fn replace_unsynced(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    write_then(path, bytes, false, |tmp, path| fs::rename(tmp, path))
        .map_err(|e| ResultsError::io(path, e))
}

/// Writes `bytes` to `path` atomically unless `path` exists (a hard link of the whole
/// file, which fails when the name is taken): of writers racing on one name, exactly one
/// succeeds. Returns whether this call created it.
pub fn write_exclusive(path: &Path, bytes: &[u8]) -> Result<bool, ResultsError> {
    match write_then(path, bytes, true, |tmp, path| fs::hard_link(tmp, path)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(ResultsError::io(path, e)),
    }
}

/// Stores one run record as `<runs>/<id>.json`.
pub fn write_run(runs: &Path, record: &RunRecord) -> Result<(), ResultsError> {
    let path = runs.join(format!("{}.json", record.id));
    let json = serde_json::to_vec_pretty(record).expect("a run record always serialises");
    write_atomic(&path, &json)
}

/// Ids of the runs already stored (files whose name ends in `.json`; temporary files
/// start with a dot and are ignored).
pub fn stored_ids(runs: &Path) -> Result<Vec<String>, ResultsError> {
    if !runs.exists() {
        return Ok(Vec::new());
    }
    let mut ids = Vec::new();
    for entry in fs::read_dir(runs).map_err(|e| ResultsError::io(runs, e))? {
        let entry = entry.map_err(|e| ResultsError::io(runs, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(".json") {
            if !name.starts_with('.') {
                ids.push(id.to_string());
            }
        }
    }
    ids.sort();
    Ok(ids)
}

/// Every stored run record, sorted by id.
pub fn read_runs(runs: &Path) -> Result<Vec<RunRecord>, ResultsError> {
    stored_ids(runs)?
        .into_iter()
        .map(|id| read_run(runs, &id))
        .collect()
}

/// The stored record of run `id`, as every reader of the store sees it (a value read back
/// from JSON may differ from the one written in its last bit, so outputs derived from a
/// record are derived from this).
pub fn read_run(runs: &Path, id: &str) -> Result<RunRecord, ResultsError> {
    let path = runs.join(format!("{id}.json"));
    let bytes = fs::read(&path).map_err(|e| ResultsError::io(&path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| ResultsError::CorruptRecord {
        path: path.clone(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample(id: &str) -> RunRecord {
        let mut run = crate::record::test_run("hard_sharing", 0, &[("t0", "mse", false, 0.25)]);
        run.id = id.into();
        run
    }

    #[test]
    fn round_trip_and_temp_files_ignored() {
        let dir = tempfile::tempdir().unwrap();
        write_run(dir.path(), &sample("b")).unwrap();
        write_run(dir.path(), &sample("a")).unwrap();
        // A temporary file left by a killed writer is not a record.
        fs::write(dir.path().join(".c.json.tmp-1"), b"{ half").unwrap();
        assert_eq!(stored_ids(dir.path()).unwrap(), vec!["a", "b"]);
        let runs = read_runs(dir.path()).unwrap();
        assert_eq!(runs[0], sample("a"));
    }

    #[test]
    fn exclusive_write_creates_once_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        assert!(write_exclusive(&path, b"first").unwrap());
        assert!(!write_exclusive(&path, b"second").unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"first");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn corrupt_record_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("x.json"), b"{ half").unwrap();
        let err = read_runs(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("x.json") && err.contains("not a readable run record"),
            "{err}"
        );
    }
}
