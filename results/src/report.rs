//! `report`: rebuilds every table and chart of an output directory from its stored run
//! records alone.

use crate::charts;
use crate::store::{read_runs, runs_dir};
use crate::summary::summarize_study;
use crate::tables::{self, table_error};
use crate::ResultsError;
use std::path::{Path, PathBuf};

/// `<out>/<stem>.parquet` and `<out>/<stem>.csv` of `frame`.
fn write_parquet_and_csv(
    mut frame: polars::prelude::DataFrame,
    out: &Path,
    stem: &str,
) -> Result<Vec<PathBuf>, ResultsError> {
    let (parquet, csv) = (
        out.join(format!("{stem}.parquet")),
        out.join(format!("{stem}.csv")),
    );
    tables::write_parquet(&mut frame, &parquet)?;
    tables::write_csv(&mut frame, &csv)?;
    Ok(vec![parquet, csv])
}

/// Reads `<out>/runs/*.json` and writes `runs.parquet`, `runs.csv`, `telemetry.parquet`
/// and `telemetry.csv` (when runs recorded telemetry), `learning_curves.csv` and
/// `data_efficiency.csv` (when the study has several fractions), `summary.csv`, `summary.md` and
/// `charts/*.{svg,png}` under `out`. Returns the files written.
pub fn write_report(out: &Path) -> Result<Vec<PathBuf>, ResultsError> {
    let runs = read_runs(&runs_dir(out))?;
    if runs.is_empty() {
        return Err(ResultsError::NoRuns(out.to_path_buf()));
    }
    let study = runs[0].study.clone();
    let mut written = Vec::new();

    let frame = tables::runs_frame(&runs).map_err(|e| table_error(out, e))?;
    written.extend(write_parquet_and_csv(frame, out, "runs")?);
    if let Some(frame) = tables::telemetry_frame(&runs) {
        let frame = frame.map_err(|e| table_error(out, e))?;
        written.extend(write_parquet_and_csv(frame, out, "telemetry")?);
    }

    let ordinary: Vec<&crate::RunRecord> =
        runs.iter().filter(|r| r.task_subset.is_none()).collect();
    let cells = crate::telemetry::summarize_telemetry(&ordinary);
    if !cells.is_empty() {
        let path = out.join("telemetry_summary.csv");
        let mut frame =
            tables::telemetry_summary_frame(&cells).map_err(|e| table_error(&path, e))?;
        tables::write_csv(&mut frame, &path)?;
        written.push(path);
    }
    if let Some(frame) = tables::weights_frame(&runs) {
        let frame = frame.map_err(|e| table_error(out, e))?;
        written.extend(write_parquet_and_csv(frame, out, "task_weights")?);
    }
    let gains = crate::pairwise::pairwise_gains(&runs);
    if !gains.is_empty() {
        let path = out.join("pairwise_transfer.csv");
        let mut frame = tables::pairwise_frame(&gains).map_err(|e| table_error(&path, e))?;
        tables::write_csv(&mut frame, &path)?;
        written.push(path);
    }
    let relations = crate::relationships::relations(&ordinary, &cells);
    if !relations.is_empty() || !gains.is_empty() {
        let path = out.join("relationships.md");
        let md = crate::relationships::relationships_markdown(&study, &relations, &gains);
        crate::store::write_atomic(&path, md.as_bytes())?;
        written.push(path);
    }

    let summary = summarize_study(&runs);
    if let Some(frames) = tables::efficiency_frames(&summary) {
        let (mut curves, mut auc) = frames.map_err(|e| table_error(out, e))?;
        for (frame, name) in [
            (&mut curves, "learning_curves.csv"),
            (&mut auc, "data_efficiency.csv"),
        ] {
            let path = out.join(name);
            tables::write_csv(frame, &path)?;
            written.push(path);
        }
    }
    let path = out.join("summary.csv");
    let mut summary_frame = tables::summary_frame(&summary).map_err(|e| table_error(&path, e))?;
    tables::write_csv(&mut summary_frame, &path)?;
    written.push(path);
    let path = out.join("summary.md");
    crate::store::write_atomic(&path, tables::summary_markdown(&study, &summary).as_bytes())?;
    written.push(path);
    let path = out.join("summary.tex");
    let main = crate::main_table::main_table(&summary);
    crate::store::write_atomic(
        &path,
        crate::main_table::render_latex(&study, &main).as_bytes(),
    )?;
    written.push(path);

    let chart_dir = out.join("charts");
    std::fs::create_dir_all(&chart_dir).map_err(|e| ResultsError::io(&chart_dir, e))?;
    for (stem, chart) in charts::task_charts(&summary) {
        written.extend(charts::write_chart(&chart_dir, &stem, &chart)?);
    }
    Ok(written)
}
