//! `mtlbench slurm`: a sweep as a Slurm job array. Writes the resolved study and its plan
//! into the output directory, then two batch scripts — a job array whose task k runs
//! shard k of the plan (`mtlbench run --resume`, the shard read from Slurm's array
//! variables), and a report job that starts when every array task has ended (`afterany`,
//! so that a sweep with failed shards still reports what is stored, and `status` says
//! what is missing) — and submits them with `sbatch`.

use crate::error::HarnessError;
use crate::run::claim::StoredPlan;
use crate::study::run_spec::RunSpec;
use mtlbench_results::store::write_atomic;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The job settings of `mtlbench slurm`.
#[derive(Debug, Clone, PartialEq)]
pub struct SlurmOptions {
    /// The shared output directory (absolute in the scripts).
    pub out: PathBuf,
    /// Array tasks; at most the number of runs.
    pub shards: usize,
    pub time: Option<String>,
    pub partition: Option<String>,
    pub cpus_per_task: usize,
    pub gpus: Option<String>,
    /// `cpu` or `cuda`, passed to every shard's `run --device`.
    pub device: String,
    /// The `mtlbench` binary the jobs run.
    pub binary: PathBuf,
    /// Passed to every shard's `run --max-runs` (the plan was accepted with it).
    pub max_runs: usize,
    /// Passed to every shard's `run --max-memory` when given (else each node takes half of
    /// its own memory).
    pub max_memory: Option<u64>,
}

/// A path as one shell word.
fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// The job array's batch script.
pub fn shard_script(study: &str, o: &SlurmOptions) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!("#SBATCH --job-name=mtlbench-{study}\n"));
    s.push_str(&format!("#SBATCH --array=0-{}\n", o.shards - 1));
    s.push_str(&format!("#SBATCH --cpus-per-task={}\n", o.cpus_per_task));
    for (flag, value) in [
        ("time", &o.time),
        ("partition", &o.partition),
        ("gpus", &o.gpus),
    ] {
        if let Some(v) = value {
            s.push_str(&format!("#SBATCH --{flag}={v}\n"));
        }
    }
    let log = o.out.join("slurm").join("shard-%a.log");
    s.push_str(&format!("#SBATCH --output={}\n", log.display()));
    s.push_str(&format!(
        "# Array task k runs shard k of {n}, also when resubmitted alone (sbatch --array=k);\n\
         # --resume: a requeued or rerun task continues its shard.\n",
        n = o.shards
    ));
    let memory = o
        .max_memory
        .map_or(String::new(), |m| format!(" --max-memory {m}"));
    s.push_str(&format!(
        "exec {} run {} --out {} --resume --device {} --max-runs {}{memory} --shard \"${{SLURM_ARRAY_TASK_ID}}/{}\" --threads \"${{SLURM_CPUS_PER_TASK:-1}}\"\n",
        quote(&o.binary),
        quote(&o.out.join("study.yaml")),
        quote(&o.out),
        o.device,
        o.max_runs,
        o.shards
    ));
    s
}

/// The report job's batch script: the report of whatever is stored, then the status
/// (exit 1 when runs are missing or not ok).
pub fn report_script(study: &str, o: &SlurmOptions) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!("#SBATCH --job-name=mtlbench-{study}-report\n"));
    s.push_str("#SBATCH --cpus-per-task=1\n");
    for (flag, value) in [("time", &o.time), ("partition", &o.partition)] {
        if let Some(v) = value {
            s.push_str(&format!("#SBATCH --{flag}={v}\n"));
        }
    }
    s.push_str(&format!(
        "#SBATCH --output={}\n",
        o.out.join("slurm").join("report.log").display()
    ));
    s.push_str(&format!(
        "{bin} report {out}\nreport=$?\n{bin} status {out}\nstatus=$?\n\
         if [ \"$report\" -ne 0 ]; then exit \"$report\"; fi\nexit \"$status\"\n",
        bin = quote(&o.binary),
        out = quote(&o.out)
    ));
    s
}

/// `sbatch --parsable ARGS… SCRIPT` → the job id.
fn sbatch(args: &[String], script: &Path) -> Result<String, HarnessError> {
    let output = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .arg(script)
        .output()
        .map_err(|e| HarnessError::Output {
            path: PathBuf::from("sbatch"),
            message: format!("cannot run sbatch ({e}): is this a Slurm login node? `--dry-run` prints the scripts"),
        })?;
    if !output.status.success() {
        return Err(HarnessError::Output {
            path: script.to_path_buf(),
            message: format!(
                "sbatch refused it: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    let text = String::from_utf8_lossy(&output.stdout);
    // `--parsable` prints `id` or `id;cluster`.
    Ok(text.trim().split(';').next().unwrap_or("").to_string())
}

/// What `slurm` did: the scripts, and the job ids when submitted.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub shard_script: String,
    pub report_script: String,
    pub shards: usize,
    /// The array jobs (two for a tuned study: its search, then its final runs) and the
    /// report job.
    pub jobs: Option<(Vec<String>, String)>,
}

/// Prepares (and unless `dry_run`, writes and submits) the sweep of `runs` as a job array.
/// A tuned study gives its `search` runs: the array is then submitted twice, the second
/// after the first has ended — each task runs its part of the search, then (once the whole
/// search is stored) its part of the final runs, whose plan only the search decides; the
/// output directory's claim is the search's (`DIR/tune/plan.json`).
pub fn submit(
    study_text: &str,
    runs: &[RunSpec],
    search: Option<&[RunSpec]>,
    o: &SlurmOptions,
    dry_run: bool,
) -> Result<Submission, HarnessError> {
    let (plan, claim_dir) = match search {
        None => (StoredPlan::of(runs), o.out.clone()),
        Some(s) => (
            StoredPlan::of(s),
            crate::run::tune_stage::search_dir(&o.out),
        ),
    };

    let o = SlurmOptions {
        shards: o.shards.clamp(1, runs.len().max(1)),
        ..o.clone()
    };
    let (shards, report) = (
        shard_script(&plan.study, &o),
        report_script(&plan.study, &o),
    );
    if dry_run {
        return Ok(Submission {
            shard_script: shards,
            report_script: report,
            shards: o.shards,
            jobs: None,
        });
    }
    // Everything that can refuse comes before anything is written.
    crate::run::sweep::check_plan(&claim_dir, &plan)?;
    let sbatch_found = Command::new("sbatch")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !sbatch_found {
        return Err(HarnessError::Output {
            path: PathBuf::from("sbatch"),
            message: "cannot run `sbatch --version`: is this a Slurm login node? `--dry-run` prints the scripts".into(),
        });
    }
    let dir = o.out.join("slurm");
    std::fs::create_dir_all(&dir).map_err(|e| HarnessError::Output {
        path: dir.clone(),
        message: format!("cannot create it: {e}"),
    })?;
    std::fs::create_dir_all(&claim_dir).map_err(|e| HarnessError::Output {
        path: claim_dir.clone(),
        message: format!("cannot create it: {e}"),
    })?;
    // Its jobs may wait in the queue: a claim no other plan takes over (see `claim`).
    crate::run::claim::claim_submitted(&claim_dir, &plan)?;
    write_atomic(&o.out.join("study.yaml"), study_text.as_bytes())?;
    let (shard_path, report_path) = (dir.join("shards.sbatch"), dir.join("report.sbatch"));
    write_atomic(&shard_path, shards.as_bytes())?;
    write_atomic(&report_path, report.as_bytes())?;
    let mut arrays = vec![sbatch(&[], &shard_path)?];
    if search.is_some() {
        let first = arrays[0].clone();
        arrays.push(
            sbatch(&[format!("--dependency=afterany:{first}")], &shard_path).map_err(|e| {
                HarnessError::Output {
                    path: shard_path.clone(),
                    message: format!(
                        "the search's array job {first} was submitted, but the final runs' was not ({e}); once it has ended: sbatch {}",
                        shard_path.display()
                    ),
                }
            })?,
        );
    }
    let array = arrays.last().cloned().unwrap_or_default();
    let report_job =
        sbatch(&[format!("--dependency=afterany:{array}")], &report_path).map_err(|e| {
            HarnessError::Output {
                path: report_path.clone(),
                message: format!(
                    "the array job {array} was submitted, but its report job was not ({e}); once the array has ended: mtlbench report {}",
                    o.out.display()
                ),
            }
        })?;
    Ok(Submission {
        shard_script: shards,
        report_script: report,
        shards: o.shards,
        jobs: Some((arrays, report_job)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> SlurmOptions {
        SlurmOptions {
            out: PathBuf::from("/shared/out/it's"),
            shards: 4,
            time: Some("01:00:00".into()),
            partition: None,
            cpus_per_task: 2,
            gpus: None,
            device: "cpu".into(),
            binary: PathBuf::from("/opt/mtlbench"),
            max_runs: 200_000,
            max_memory: None,
        }
    }

    #[test]
    fn shard_script_runs_every_array_task_as_a_resumable_shard() {
        let s = shard_script("q", &options());
        for line in [
            "#SBATCH --array=0-3\n",
            "#SBATCH --cpus-per-task=2\n",
            "#SBATCH --time=01:00:00\n",
            "#SBATCH --output=/shared/out/it's/slurm/shard-%a.log\n",
            "exec '/opt/mtlbench' run '/shared/out/it'\\''s/study.yaml' --out '/shared/out/it'\\''s' --resume --device cpu --max-runs 200000 --shard \"${SLURM_ARRAY_TASK_ID}/4\" --threads \"${SLURM_CPUS_PER_TASK:-1}\"\n",
        ] {
            assert!(s.contains(line), "{line} not in\n{s}");
        }
        assert!(!s.contains("--partition") && !s.contains("--gpus"), "{s}");
        assert!(!s.contains("--max-memory"), "{s}");
        // A limit given to `slurm` goes to every shard.
        let s = shard_script(
            "q",
            &SlurmOptions {
                max_memory: Some(8 << 30),
                ..options()
            },
        );
        assert!(
            s.contains(" --max-runs 200000 --max-memory 8589934592 --shard "),
            "{s}"
        );
    }

    #[test]
    fn report_script_reports_and_fails_when_runs_are_missing() {
        let s = report_script("q", &options());
        assert!(
            s.contains("'/opt/mtlbench' report '/shared/out/it'\\''s'\n"),
            "{s}"
        );
        assert!(
            s.contains("'/opt/mtlbench' status '/shared/out/it'\\''s'\n"),
            "{s}"
        );
        assert!(s.trim_end().ends_with("exit \"$status\""), "{s}");
    }
}
