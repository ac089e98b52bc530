//! TensorBoard event files, derived from stored run records (records → outputs, never the
//! other way): `<out>/tensorboard/<run id>/events.out.tfevents.mtlbench`, so that
//! `tensorboard --logdir <out>/tensorboard` (or W&B's TensorBoard import) shows one run per
//! id. Each file holds, as scalar curves by training step:
//!
//! - every evaluated metric, tag `<split>/<task>/<metric>` (the `train` split's `loss` is
//!   the training loss);
//! - the task weights a method applied (when recorded), tag `weights/<task>`;
//! - the conflict telemetry (when recorded), tag `conflict/<measure>[/<task a>/<task b>]
//!   [/layer<l>]` (a value stored as null is left out);
//!
//! and, at step 0, the run's identity and hyper-parameters as a Markdown table for the text
//! plugin, tag `hparams`. An event's wall time is the run's `wall_time_s` spread over its
//! steps (seconds from 0): the file is a function of the record alone, so rewriting it
//! (`mtlbench report DIR --tensorboard`) gives the same bytes. Files appear whole: written
//! under a name TensorBoard does not read, then renamed.

mod crc32c;
mod proto;

use crate::record::RunRecord;
use crate::store::{read_runs, runs_dir, write_atomic};
use crate::ResultsError;
use proto::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crc32c::{crc32c, masked_crc32c};

/// The folder of the event files under an output directory.
pub const TENSORBOARD_DIR: &str = "tensorboard";
/// The name of each run's event file (TensorBoard reads files whose name holds
/// `tfevents`).
pub const EVENTS_FILE: &str = "events.out.tfevents.mtlbench";

/// The folder of run `id`'s event file.
pub fn run_dir(out: &Path, id: &str) -> PathBuf {
    out.join(TENSORBOARD_DIR).join(id)
}

/// The hyper-parameter table's rows: the run's identity and settings.
fn hparams_rows(r: &RunRecord) -> Vec<(&'static str, String)> {
    vec![
        ("id", r.id.clone()),
        ("study", r.study.clone()),
        ("suite", r.suite.clone()),
        ("algorithm", r.algorithm.clone()),
        ("architecture", r.architecture.clone()),
        ("weighting", r.weighting.clone()),
        ("replicate", r.replicate.to_string()),
        ("fraction", r.fraction.to_string()),
        ("status", r.status.clone()),
        ("hparams", r.hparams.clone()),
        ("training", r.training.clone()),
    ]
}

/// The run's hyper-parameters as a Markdown table (`|` in a value escaped as `\|`).
pub fn hparams_text(r: &RunRecord) -> String {
    let mut text = String::from("| key | value |\n|---|---|\n");
    for (key, value) in hparams_rows(r) {
        text.push_str(&format!("| {key} | `{}` |\n", value.replace('|', "\\|")));
    }
    text
}

/// Every scalar of the record, by step, in the record's order within a step.
fn scalars(r: &RunRecord) -> BTreeMap<usize, Vec<Value>> {
    let mut by_step: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
    let mut add = |step: usize, tag: String, value: f64| {
        by_step.entry(step).or_default().push(Value::Scalar {
            tag,
            value: value as f32,
        });
    };
    for p in &r.points {
        add(
            p.step,
            format!("{}/{}/{}", p.split, p.task, p.metric),
            p.value,
        );
    }
    for w in &r.weights {
        add(w.step, format!("weights/{}", w.task), w.value);
    }
    for t in &r.telemetry {
        let Some(value) = t.value else { continue };
        let mut tag = format!("conflict/{}", t.measure);
        for task in [&t.task_a, &t.task_b].into_iter().flatten() {
            tag.push('/');
            tag.push_str(task);
        }
        if let Some(layer) = t.layer {
            tag.push_str(&format!("/layer{layer}"));
        }
        add(t.step, tag, value);
    }
    by_step
}

/// The whole event file of one record: the version event, the hyper-parameter text at
/// step 0, then one event per step holding that step's scalars, steps ascending
/// (TensorBoard drops what it takes for an orphaned restart when steps go back).
pub fn events(r: &RunRecord) -> Vec<u8> {
    let last = r.steps.max(1) as f64;
    let wall = |step: usize| r.wall_time_s * (step as f64 / last).min(1.0);
    let mut out = Vec::new();
    proto::frame(&mut out, &proto::file_version_event(0.0));
    let hparams = [Value::Text {
        tag: "hparams".into(),
        text: hparams_text(r),
    }];
    proto::frame(&mut out, &proto::summary_event(0.0, 0, &hparams));
    for (step, values) in scalars(r) {
        proto::frame(
            &mut out,
            &proto::summary_event(wall(step), step as u64, &values),
        );
    }
    out
}

/// Writes record `r`'s event file under `out` (replacing an earlier one); returns its path.
pub fn write_run(out: &Path, r: &RunRecord) -> Result<PathBuf, ResultsError> {
    let dir = run_dir(out, &r.id);
    std::fs::create_dir_all(&dir).map_err(|e| ResultsError::io(&dir, e))?;
    let path = dir.join(EVENTS_FILE);
    // Staged under a name without `tfevents` (a running TensorBoard skips it), then renamed.
    let staged = dir.join(format!(".events.partial-{}", std::process::id()));
    write_atomic(&staged, &events(r))?;
    std::fs::rename(&staged, &path).map_err(|e| ResultsError::io(&path, e))?;
    Ok(path)
}

/// Writes the event file of every run stored under `out/runs/`; returns how many.
pub fn write_all(out: &Path) -> Result<usize, ResultsError> {
    let records = read_runs(&runs_dir(out))?;
    for r in &records {
        write_run(out, r)?;
    }
    Ok(records.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{test_run, TelemetryRow, WeightRow};

    /// Splits a file into its records, checking both CRCs of each.
    fn records(bytes: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let len_bytes = &bytes[at..at + 8];
            let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
            let crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
            assert_eq!(crc, masked_crc32c(len_bytes));
            let data = &bytes[at + 12..at + 12 + len];
            let crc = u32::from_le_bytes(bytes[at + 12 + len..at + 16 + len].try_into().unwrap());
            assert_eq!(crc, masked_crc32c(data));
            out.push(data);
            at += 16 + len;
        }
        out
    }

    #[test]
    fn one_event_per_step_in_step_order_and_null_telemetry_left_out() {
        let mut r = test_run("hard_sharing", 0, &[("a", "mse", false, 0.5)]);
        r.steps = 10;
        r.weights.push(WeightRow {
            step: 3,
            epoch: 0,
            task: "a".into(),
            value: 0.25,
        });
        for value in [Some(-0.5), None] {
            r.telemetry.push(TelemetryRow {
                step: 3,
                epoch: 0,
                measure: "cosine".into(),
                task_a: Some("a".into()),
                task_b: Some("b".into()),
                layer: value.map(|_| 1),
                value,
            });
        }
        let s = scalars(&r);
        assert_eq!(s.keys().copied().collect::<Vec<_>>(), vec![3, 10]);
        assert_eq!(
            s[&3],
            vec![
                Value::Scalar {
                    tag: "weights/a".into(),
                    value: 0.25
                },
                Value::Scalar {
                    tag: "conflict/cosine/a/b/layer1".into(),
                    value: -0.5
                },
            ]
        );
        assert_eq!(
            s[&10],
            vec![Value::Scalar {
                tag: "test/a/mse".into(),
                value: 0.5
            }]
        );
        // Version, hyper-parameters, then the two steps; the same bytes every time.
        let bytes = events(&r);
        assert_eq!(records(&bytes).len(), 4);
        assert_eq!(bytes, events(&r));
    }

    #[test]
    fn written_whole_under_the_run_id_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let r = test_run("hard_sharing", 0, &[("a", "mse", false, 0.5)]);
        let path = write_run(dir.path(), &r).unwrap();
        assert_eq!(
            path,
            dir.path().join("tensorboard").join(&r.id).join(EVENTS_FILE)
        );
        write_run(dir.path(), &r).unwrap();
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(EVENTS_FILE)]);
        assert_eq!(std::fs::read(&path).unwrap(), events(&r));
    }

    #[test]
    fn hparams_escape_the_table_separator() {
        let mut r = test_run("hard_sharing", 0, &[]);
        r.hparams = "{\"a\":\"x|y\"}".into();
        let text = hparams_text(&r);
        assert!(
            text.contains("| hparams | `{\"a\":\"x\\|y\"}` |\n"),
            "{text}"
        );
        assert!(text.starts_with("| key | value |\n|---|---|\n| id | `hard_sharing-0` |\n"));
    }
}
