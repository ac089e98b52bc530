//! `report`: rebuilds every table and chart of an output directory from its stored run
//! records alone.

use crate::charts;
use crate::store::{read_runs, runs_dir};
use crate::summary::summarize_study;
use crate::tables::{self, table_error};
use crate::ResultsError;
use std::path::{Path, PathBuf};

/// Reads `<out>/runs/*.json` and writes `runs.parquet`, `runs.csv`, `summary.csv`,
/// `summary.md` and `charts/*.{svg,png}` under `out`. Returns the files written.
pub fn write_report(out: &Path) -> Result<Vec<PathBuf>, ResultsError> {
    let runs = read_runs(&runs_dir(out))?;
    if runs.is_empty() {
        return Err(ResultsError::NoRuns(out.to_path_buf()));
    }
    let study = runs[0].study.clone();
    let mut written = Vec::new();

    let mut frame = tables::runs_frame(&runs).map_err(|e| table_error(out, e))?;
    for (name, parquet) in [("runs.parquet", true), ("runs.csv", false)] {
        let path = out.join(name);
        if parquet {
            tables::write_parquet(&mut frame, &path)?;
        } else {
            tables::write_csv(&mut frame, &path)?;
        }
        written.push(path);
    }

    let summary = summarize_study(&runs);
    let path = out.join("summary.csv");
    let mut summary_frame = tables::summary_frame(&summary).map_err(|e| table_error(&path, e))?;
    tables::write_csv(&mut summary_frame, &path)?;
    written.push(path);
    let path = out.join("summary.md");
    crate::store::write_atomic(&path, tables::summary_markdown(&study, &summary).as_bytes())?;
    written.push(path);

    let chart_dir = out.join("charts");
    std::fs::create_dir_all(&chart_dir).map_err(|e| ResultsError::io(&chart_dir, e))?;
    for (stem, chart) in charts::task_charts(&summary) {
        written.extend(charts::write_chart(&chart_dir, &stem, &chart)?);
    }
    Ok(written)
}
