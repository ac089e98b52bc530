//! The claim of an output directory by one plan: `DIR/plan.json` (`StoredPlan`),
//! which every sweep of that plan writes or joins before it runs anything, so that runs of
//! two plans never mix in one directory.
//!
//! A claim holds while a sweep of its plan is running — each holds a shared lock on
//! `plan.json` for its lifetime, which the system releases however the process ends — or
//! once the directory stores a run, or when `mtlbench slurm` wrote it (its jobs may be
//! queued, which this machine cannot see). A claim with none of these was left by a sweep
//! that crashed or was killed before it stored anything: the next plan takes it over, so a
//! corrected study can run where the first attempt failed. Where the file system takes no
//! locks, every claim counts as held, as before.

use crate::error::HarnessError;
use crate::run::shard;
use crate::study::run_spec::RunSpec;
use mtlbench_results::store::{runs_dir, stored_ids};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The plan's identity file in an output directory: `{"plan_id", "study", "runs"}`.
pub const PLAN_FILE: &str = "plan.json";

/// What `plan.json` holds: the plan's identity and its run ids in plan order, so that
/// `status` and every shard can check a directory without the study's data (see `claim`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredPlan {
    pub plan_id: String,
    pub study: String,
    pub runs: Vec<String>,
}

impl StoredPlan {
    pub fn of(runs: &[RunSpec]) -> StoredPlan {
        StoredPlan {
            plan_id: shard::plan_id(runs),
            study: runs.first().map_or_else(String::new, |r| r.study.clone()),
            runs: runs.iter().map(|r| r.id.clone()).collect(),
        }
    }

    /// The stored plan of `out`, if it has one.
    pub fn read(out: &Path) -> Result<Option<StoredPlan>, HarnessError> {
        let path = out.join(PLAN_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let bad = |message: String| HarnessError::Output {
            path: path.clone(),
            message,
        };
        let bytes = std::fs::read(&path).map_err(|e| bad(e.to_string()))?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| bad(format!("is not a plan file: {e}")))
    }
}

/// A sweep's hold on its directory's claim (a shared lock on `plan.json`), released when
/// dropped.
#[derive(Debug)]
pub struct Claim {
    _lock: Option<File>,
    /// Whether this claim replaced an abandoned claim of another plan (whose `study.yaml`
    /// the sweep must then replace too).
    pub took_over: bool,
}

/// The refusal of a directory claimed by a plan other than `plan`.
pub fn another_plan(out: &Path, stored: &StoredPlan, plan: &StoredPlan) -> HarnessError {
    HarnessError::Output {
        path: out.to_path_buf(),
        message: format!(
            "holds the runs of another plan (study `{}`, plan {}; this study's plan is {}): shards and resumed sweeps must run the same study; choose another --out",
            stored.study, stored.plan_id, plan.plan_id
        ),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> HarnessError {
    HarnessError::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The key `mtlbench slurm` adds to the `plan.json` it writes (besides `StoredPlan`'s).
const SUBMITTED: &str = "submitted";

/// Whether the claim of `out` is abandoned: no stored run, not written by `mtlbench
/// slurm`, and no sweep holding it.
pub fn abandoned(out: &Path) -> Result<bool, HarnessError> {
    let path = out.join(PLAN_FILE);
    let Ok(mut file) = File::open(&path) else {
        return Ok(false);
    };
    let mut text = Vec::new();
    file.read_to_end(&mut text)
        .map_err(|e| io_error(&path, e))?;
    if submitted(&text) || !stored_ids(&runs_dir(out))?.is_empty() {
        return Ok(false);
    }
    Ok(file.try_lock().is_ok())
}

/// Whether a `plan.json` was written by `mtlbench slurm`.
fn submitted(text: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(text)
        .is_ok_and(|v| v.get(SUBMITTED) == Some(&serde_json::Value::Bool(true)))
}

/// A new temporary file beside `path` holding `bytes`, with a shared lock taken before it
/// has any other name (`None` where locks cannot be taken).
fn locked_temp(path: &Path, bytes: &[u8]) -> Result<(PathBuf, File, bool), HarnessError> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let tmp = path.with_file_name(format!(
        ".{PLAN_FILE}.claim-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        let locked = file.lock_shared().is_ok();
        file.write_all(bytes)?;
        file.sync_all()?;
        Ok((file, locked))
    })();
    match result {
        Ok((file, locked)) => Ok((tmp, file, locked)),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(io_error(path, e))
        }
    }
}

/// Whether the open `file` is still the one named `path`.
fn still_named(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

/// Claims `out` for `plan`, or joins its claim when `plan` made it: `plan.json` is created
/// exclusively (a locked temporary file hard-linked to the name, which fails when the name
/// is taken, so of sweeps racing on an empty directory exactly one creates it). A claim of
/// another plan is refused unless it is abandoned, and then replaced. The returned `Claim`
/// holds the claim until it is dropped.
pub fn claim_plan(out: &Path, plan: &StoredPlan) -> Result<Claim, HarnessError> {
    claim_with(out, plan, false)
}

/// `claim_plan` for `mtlbench slurm`: a claim marked as its queued jobs', which no other
/// plan takes over while it stores no run (remove `plan.json` once the jobs are gone).
pub fn claim_submitted(out: &Path, plan: &StoredPlan) -> Result<(), HarnessError> {
    claim_with(out, plan, true).map(drop)
}

fn claim_with(out: &Path, plan: &StoredPlan, queued: bool) -> Result<Claim, HarnessError> {
    let path = out.join(PLAN_FILE);
    let mut value = serde_json::to_value(plan).expect("a plan serialises");
    if queued {
        value[SUBMITTED] = serde_json::Value::Bool(true);
    }
    let bytes = serde_json::to_vec_pretty(&value).expect("a plan serialises");
    let hold = |file: File, locked: bool, took_over: bool| Claim {
        _lock: locked.then_some(file),
        took_over,
    };
    // Each pass ends in a decision unless another sweep changed the file meanwhile.
    for _ in 0..100 {
        let (tmp, file, locked) = locked_temp(&path, &bytes)?;
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => return Ok(hold(file, locked, false)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => drop(file),
            Err(e) => return Err(io_error(&path, e)),
        }
        let mut existing = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(&path, e)),
        };
        let mut text = Vec::new();
        existing
            .read_to_end(&mut text)
            .map_err(|e| io_error(&path, e))?;
        let stored: StoredPlan =
            serde_json::from_slice(&text).map_err(|e| HarnessError::Output {
                path: path.clone(),
                message: format!("is not a plan file: {e}"),
            })?;
        if stored.plan_id == plan.plan_id {
            // Join it, on the file that still holds the name.
            let locked = existing.lock_shared().is_ok();
            if !locked || still_named(&existing, &path) {
                return Ok(hold(existing, locked, false));
            }
            continue;
        }
        if submitted(&text) || !stored_ids(&runs_dir(out))?.is_empty() {
            return Err(another_plan(out, &stored, plan));
        }
        // No run stored: abandoned unless a sweep holds it.
        if existing.try_lock().is_err() {
            return Err(another_plan(out, &stored, plan));
        }
        if !still_named(&existing, &path) {
            continue;
        }
        if !stored_ids(&runs_dir(out))?.is_empty() {
            return Err(another_plan(out, &stored, plan));
        }
        let (tmp, file, locked) = locked_temp(&path, &bytes)?;
        if let Err(e) = fs::rename(&tmp, &path) {
            let _ = fs::remove_file(&tmp);
            return Err(io_error(&path, e));
        }
        return Ok(hold(file, locked, true));
    }
    Err(HarnessError::Output {
        path,
        message: "could not be claimed: other sweeps kept changing it".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(id: &str) -> StoredPlan {
        StoredPlan {
            plan_id: id.into(),
            study: format!("study-{id}"),
            runs: vec![format!("{id}-run")],
        }
    }

    fn stored(out: &Path) -> StoredPlan {
        StoredPlan::read(out).unwrap().unwrap()
    }

    #[test]
    fn a_held_claim_is_kept_and_an_abandoned_one_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        let a = claim_plan(out, &plan("a")).unwrap();
        assert!(!a.took_over);
        // Held by a running sweep: refused, even with no run stored.
        let err = claim_plan(out, &plan("b")).unwrap_err().to_string();
        assert!(err.contains("another plan (study `study-a`"), "{err}");
        assert!(!abandoned(out).unwrap());
        // A second sweep of the same plan joins it.
        let a2 = claim_plan(out, &plan("a")).unwrap();
        drop(a);
        assert!(
            claim_plan(out, &plan("b")).is_err(),
            "the second sweep holds it"
        );
        drop(a2);
        // Nobody holds it and nothing is stored: the next plan takes it over.
        assert!(abandoned(out).unwrap());
        let b = claim_plan(out, &plan("b")).unwrap();
        assert!(b.took_over);
        assert_eq!(stored(out), plan("b"));
        assert!(claim_plan(out, &plan("a")).is_err());
        drop(b);
        // A stored run keeps a claim without a sweep.
        fs::create_dir_all(runs_dir(out)).unwrap();
        fs::write(runs_dir(out).join("b-run.json"), "{}").unwrap();
        assert!(!abandoned(out).unwrap());
        assert!(claim_plan(out, &plan("c")).is_err());
        assert_eq!(stored(out), plan("b"));
    }

    #[test]
    fn a_claim_written_for_queued_jobs_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        claim_submitted(out, &plan("a")).unwrap();
        assert_eq!(stored(out), plan("a"));
        assert!(!abandoned(out).unwrap());
        assert!(claim_plan(out, &plan("b")).is_err());
        // Its own shards join it.
        assert!(claim_plan(out, &plan("a")).is_ok());
    }
}
