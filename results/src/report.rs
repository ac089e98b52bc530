//! `report`: rebuilds every table and chart of an output directory from its stored run
//! records alone.

use crate::charts::{self, figures, Figure};
use crate::selection::Selection;
use crate::store::{read_runs, runs_dir};
use crate::summary::summarize_study;
use crate::tables::{self, table_error};
use crate::transfer::DeltaMetrics;
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
/// `data_efficiency.csv` (when the study has several fractions), `summary.{parquet,csv,md,tex}`, `findings.md`,
/// `telemetry_summary.csv`, `task_weights.*`, `pairwise_transfer.csv`, `relationships.md`,
/// `ranking.{md,csv}` with `charts/critical_difference.*` (two or more suites),
/// `charts/*.{svg,png}` and `index.md` under `out`, the test metrics of every run taken
/// under `selection`, the transfer measures over the metrics `metrics` takes; with
/// `published`, `published.md` sets a paper's numbers beside ours. The charts are sized,
/// named and captioned by `presentation`.
pub fn write_report(
    out: &Path,
    selection: &Selection,
    metrics: &DeltaMetrics,
    published: Option<&crate::published::Published>,
    presentation: &charts::Presentation,
) -> Result<Report, ResultsError> {
    let columns = crate::main_table::DEFAULT_PAPER_COLUMNS.map(String::from);
    write_report_with(out, selection, metrics, published, presentation, &columns)
}

/// `write_report` with the paper table's (`summary.tex`) columns named by `columns`
/// (`main_table::COLUMN_NAMES`, checked by the caller).
pub fn write_report_with(
    out: &Path,
    selection: &Selection,
    metrics: &DeltaMetrics,
    published: Option<&crate::published::Published>,
    presentation: &charts::Presentation,
    columns: &[String],
) -> Result<Report, ResultsError> {
    let mut runs = read_runs(&runs_dir(out))?;
    selection.apply(&mut runs);
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

    let ordinary: Vec<&crate::RunRecord> = runs
        .iter()
        .filter(|r| r.kind.task_subset().is_none())
        .collect();
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
    // A tuned study (its `tune.md` is written before the report) tunes neither its
    // pairwise-transfer nor its adaptation runs: their tables say so.
    let tuned = out.join("tune.md").exists();
    let gains = crate::pairwise::pairwise_gains(&runs);
    if !gains.is_empty() {
        let path = out.join("pairwise_transfer.csv");
        let mut frame = tables::pairwise_frame(&gains).map_err(|e| table_error(&path, e))?;
        tables::write_csv(&mut frame, &path)?;
        written.push(path);
    }
    let adapted = crate::adaptation::adaptation_rows(&runs);
    if !adapted.is_empty() {
        let path = out.join("adaptation.csv");
        let mut frame = tables::adaptation_frame(&adapted).map_err(|e| table_error(&path, e))?;
        tables::write_csv(&mut frame, &path)?;
        written.push(path);
        let path = out.join("adaptation.md");
        crate::store::write_atomic(
            &path,
            untuned_note(
                crate::adaptation::adaptation_markdown(&study, &adapted),
                tuned,
                "adaptation",
            )
            .as_bytes(),
        )?;
        written.push(path);
    }
    let relations = crate::relationships::relations(&ordinary, &cells);
    if !relations.is_empty() || !gains.is_empty() {
        let path = out.join("relationships.md");
        let md = crate::relationships::relationships_markdown(&study, &relations, &gains);
        let md = untuned_note(md, tuned && !gains.is_empty(), "pairwise-transfer");
        crate::store::write_atomic(&path, md.as_bytes())?;
        written.push(path);
    }

    let summary = summarize_study(&runs, metrics);
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
    if let Some(p) = published {
        let path = out.join("published.md");
        let md = crate::published::published_markdown(&study, p, &runs, &selection.caption());
        crate::store::write_atomic(&path, md.as_bytes())?;
        written.push(path);
    }
    // Written by the harness from the tuning search (`DIR/tune/`), linked from the index.
    if out.join("tune.md").exists() {
        written.push(out.join("tune.md"));
    }
    let fronts = crate::front::front_sections(&runs);
    if !fronts.is_empty() {
        let (mut long, mut wide) =
            crate::front::front_frames(&fronts).map_err(|e| table_error(out, e))?;
        for (frame, name) in [(&mut long, "front.csv"), (&mut wide, "front_volumes.csv")] {
            let path = out.join(name);
            tables::write_csv(frame, &path)?;
            written.push(path);
        }
        let path = out.join("front.md");
        let md = crate::front::front_markdown(&study, &fronts, &selection.caption());
        crate::store::write_atomic(&path, md.as_bytes())?;
        written.push(path);
    }
    let frame = tables::summary_frame(&summary).map_err(|e| table_error(out, e))?;
    written.extend(write_parquet_and_csv(frame, out, "summary")?);
    let path = out.join("summary.md");
    let md = tables::summary_markdown(&study, &summary, selection, metrics);
    crate::store::write_atomic(
        &path,
        what_is_shown(md, &summary, selection, presentation.tuning_budget).as_bytes(),
    )?;
    written.push(path);
    let path = out.join("findings.md");
    crate::store::write_atomic(
        &path,
        crate::findings::findings_markdown(&summary, published, &runs).as_bytes(),
    )?;
    written.push(path);
    let path = out.join("summary.tex");
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let main = crate::main_table::select_columns(&crate::main_table::main_table(&summary), &names);
    let mut tex = crate::main_table::render_latex(&study, &main, selection);
    tex.push_str(&crate::main_table::render_latex_tables(
        &crate::paired_table::paired_sections(&summary),
        &format!(
            "paired differences, Holm over {} comparisons",
            crate::paired_table::comparisons(&summary)
        ),
    ));
    crate::store::write_atomic(&path, tex.as_bytes())?;
    written.push(path);

    let chart_dir = out.join("charts");
    std::fs::create_dir_all(&chart_dir).map_err(|e| ResultsError::io(&chart_dir, e))?;
    let mut figures: Vec<(&str, String, Figure)> = Vec::new();
    fn add<'a>(
        figures: &mut Vec<(&'static str, String, Figure<'a>)>,
        kind: &'static str,
        list: Vec<(String, Figure<'a>)>,
    ) {
        figures.extend(list.into_iter().map(|(stem, f)| (kind, stem, f)));
    }
    let labels = charts::Labels {
        names: &presentation.names,
        selection,
        tuning_budget: presentation.tuning_budget,
    };
    add(
        &mut figures,
        "Transfer (Δm) per method",
        figures::delta_bars(&summary, &labels),
    );
    add(
        &mut figures,
        "Worst task and balance per method",
        figures::balance_bars(&summary, &labels),
    );
    add(
        &mut figures,
        "Test metric per task",
        charts::task_charts(&summary, &labels),
    );
    add(
        &mut figures,
        "Pareto plane (two tasks; with the scalarization front when the study has one)",
        figures::pareto(&summary, &fronts, &labels),
    );
    add(
        &mut figures,
        "Learning curves",
        figures::learning_curves(&ordinary, &labels),
    );
    add(
        &mut figures,
        "Data efficiency",
        figures::efficiency_curves(&summary, &labels),
    );
    add(
        &mut figures,
        "Gradient conflict",
        figures::conflict_figures(&ordinary, &relations, &labels),
    );
    add(
        &mut figures,
        "Gradient magnitudes",
        figures::magnitude_figures(&ordinary, &relations, &labels),
    );
    add(
        &mut figures,
        "Inter-task affinity",
        figures::affinity_figures(&ordinary, &relations, &labels),
    );
    add(
        &mut figures,
        "Pairwise transfer",
        figures::pairwise_figures(&gains, &labels),
    );
    add(
        &mut figures,
        "Task-weight trajectories",
        figures::weight_figures(&ordinary, &labels),
    );
    add(
        &mut figures,
        "Meta-test adaptation",
        figures::adaptation_curves(&adapted, &labels),
    );
    let mut charts_written: Vec<(&str, String)> = Vec::new();
    for (kind, stem, figure) in &figures {
        written.extend(charts::write_figure(
            &chart_dir,
            stem,
            figure,
            &presentation.style,
        )?);
        charts_written.push((kind, stem.clone()));
    }
    // A study of several suites: the algorithms ranked over them (Friedman, Nemenyi).
    let blocks = crate::ranking::blocks_of(&summary, None);
    if blocks.len() >= 2 {
        if let Ok(ranking) = crate::ranking::rank(&blocks) {
            written.extend(crate::ranking::write_ranking(
                out,
                &chart_dir,
                &study,
                &ranking,
                presentation,
            )?);
            charts_written.push((
                "Critical difference over the suites (Friedman, Nemenyi)",
                crate::ranking::CD_STEM.to_string(),
            ));
        }
    }
    // A ranking of an earlier report that this one did not rank would mislead too.
    for name in ["ranking.md", "ranking.csv"] {
        if !written.contains(&out.join(name)) {
            let _ = std::fs::remove_file(out.join(name));
        }
    }
    // Charts of an earlier report that this one did not draw would mislead: remove them.
    if let Ok(entries) = std::fs::read_dir(&chart_dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if !written.contains(&path) {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    let path = out.join("index.md");
    let mut index = index_markdown(&study, &written, &charts_written, selection, metrics);
    // Planned runs without a record: said before the tables that average fewer replicates.
    let missing = missing_runs(out)?;
    if let Some(said) = missing_markdown(&missing) {
        index = index.replacen("## Tables\n", &format!("{said}\n## Tables\n"), 1);
    }
    crate::store::write_atomic(&path, index.as_bytes())?;
    written.push(path);
    Ok(Report {
        files: written,
        summary,
    })
}

/// What `write_report` wrote, and the summary its tables show.
pub struct Report {
    pub files: Vec<PathBuf>,
    pub summary: crate::summary::StudySummary,
}

/// `summary.md` with a sentence after its title that says what its numbers are: the
/// replicates, the selection rule and, for a tuned study, the tuning budget (`tune.md`).
fn what_is_shown(
    md: String,
    summary: &crate::summary::StudySummary,
    selection: &Selection,
    tuning_budget: Option<usize>,
) -> String {
    let n = charts::Labels::n(summary.metrics.iter().map(|r| r.stats.n));
    let tuned = match tuning_budget {
        Some(b) => format!(
            " Every algorithm's configuration is tuned on validation, {b} configurations per algorithm ([tune.md](tune.md))."
        ),
        None => String::new(),
    };
    let sentence = format!("Shown: {n} per row, selection {selection}.{tuned}");
    match md.split_once("\n\n") {
        Some((title, rest)) => format!("{title}\n\n{sentence}\n\n{rest}"),
        None => format!("{md}\n\n{sentence}\n"),
    }
}

/// `md` with, when `tuned`, a sentence after its title: the study's `what` runs were not
/// tuned and train with the study's own settings.
fn untuned_note(md: String, tuned: bool, what: &str) -> String {
    match md.split_once("\n\n") {
        Some((title, rest)) if tuned => format!(
            "{title}\n\nThe study is tuned (tune.md), its {what} runs are not: they train with the study's own settings.\n\n{rest}"
        ),
        _ => md,
    }
}

/// `index.md`: every table and chart of the report, linked in reading order.
fn index_markdown(
    study: &str,
    written: &[PathBuf],
    charts: &[(&str, String)],
    selection: &Selection,
    metrics: &DeltaMetrics,
) -> String {
    use std::fmt::Write as _;
    let exists = |name: &str| written.iter().any(|p| p.ends_with(name));
    // No paths: the report reads the same wherever the directory is moved.
    let mut md = format!(
        "# {study}: report\n\nEverything here is rebuilt from `runs/` by `mtlbench report DIR` (DIR: this directory). {} Every table and chart of final test values below uses this rule; `mtlbench report DIR --selection last|best_val|mean_last:K` re-selects without retraining. The transfer measures (Δ variants, negative transfer, ranks) take {}; the study's `delta_metrics` or `report --delta-metrics` names others.\n\n## Tables\n\n",
        selection.caption(),
        metrics.describe()
    );
    for (name, what) in [
        ("summary.md", "main table: per-task metrics, the four Δm variants, negative transfer, mean rank, paired tests, cost, worst task's gain and spread of the per-task gains; the paired differences against `single_task` and `equal` with their CIs and Holm-corrected p values"),
        ("findings.md", "the headline table (shown metric per task, LibMTL Δp) and the sentences that read it, generated from the numbers"),
        ("summary.tex", "the paper table in LaTeX (the columns `report --columns` names; fixed precision per column; best in bold) and the paired table (booktabs, graphicx)"),
        ("summary.csv", "the summary in long form (also summary.parquet)"),
        ("ranking.md", "the algorithms ranked over the suites: Friedman's test, Nemenyi's critical difference and its diagram (also ranking.csv)"),
        ("published.md", "the published numbers the study names, beside ours, with the differences in protocol"),
        ("tune.md", "the tuning search: every algorithm's configurations, their validation scores and the chosen one (the search's runs are under tune/)"),
        ("front.md", "the scalarization front: fixed-weight results, each method's point, hypervolume and gain beyond the front"),
        ("front_volumes.csv", "each method's hypervolume against the front"),
        ("relationships.md", "gradient cosines, conflict frequency, gradient norms, TAG affinity and groupings, pairwise transfer"),
        ("data_efficiency.csv", "normalised area under the learning curve and data-equivalence ratio"),
        ("learning_curves.csv", "final test metric by training fraction"),
        ("pairwise_transfer.csv", "gain of each task from each partner"),
        ("adaptation.md", "meta-test adaptation: held-out query loss before and after adapting, per start and k"),
        ("adaptation.csv", "the adaptation curves: query loss by step, per start and k"),
        ("telemetry_summary.csv", "every conflict and affinity measure averaged per cell"),
        ("telemetry.csv", "every logged conflict and affinity value"),
        ("task_weights.csv", "the task weights each run applied"),
        ("runs.csv", "every measured value of every run (also runs.parquet)"),
    ] {
        if exists(name) {
            // A tuned study's pairwise-transfer and adaptation runs are not tuned.
            let untuned = ["pairwise_transfer.csv", "adaptation.md", "adaptation.csv"];
            let note = if exists("tune.md") && untuned.contains(&name) {
                " (trained with the study's own settings: not tuned)"
            } else {
                ""
            };
            let _ = writeln!(md, "- [{name}]({name}): {what}{note}");
        }
    }
    let mut kinds: Vec<&str> = charts.iter().map(|(k, _)| *k).collect();
    kinds.dedup();
    md.push_str("\n## Charts\n");
    for kind in kinds {
        // The charts drawn from each run's selected test values state the rule.
        let selected = [
            "Transfer (Δm) per method",
            "Worst task and balance per method",
            "Test metric per task",
            "Pareto plane (two tasks; with the scalarization front when the study has one)",
            "Data efficiency",
            "Pairwise transfer",
        ];
        if selected.contains(&kind) {
            let _ = writeln!(md, "\n### {kind} (selection: {selection})\n");
        } else {
            let _ = writeln!(md, "\n### {kind}\n");
        }
        for (_, stem) in charts.iter().filter(|(k, _)| *k == kind) {
            let _ = writeln!(
                md,
                "- {stem}: [PNG](charts/{stem}.png), [SVG](charts/{stem}.svg), [PDF](charts/{stem}.pdf)"
            );
        }
    }
    md
}

/// Refuses `metrics` when a suite of `runs` (its `ok` runs with primary metrics: not the
/// adaptation runs) measures none of them: its transfer measures and ranks would be empty.
pub fn check_delta_metrics_measured(
    runs: &[crate::RunRecord],
    metrics: &DeltaMetrics,
) -> Result<(), String> {
    use std::collections::BTreeMap;
    let Some(names) = &metrics.0 else {
        return Ok(());
    };
    let mut measured: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in runs
        .iter()
        .filter(|r| r.is_ok() && !r.primary_metrics.is_empty())
    {
        let seen = measured.entry(r.suite.as_str()).or_default();
        for p in r.points.iter().filter(|p| p.split == "test") {
            if !seen.contains(&p.metric.as_str()) {
                seen.push(p.metric.as_str());
            }
        }
    }
    for (suite, seen) in &measured {
        if !names.iter().any(|n| seen.contains(&n.as_str())) {
            return Err(format!(
                "suite `{suite}` measures none of {} (it measures {}): its Δ columns and ranks would be empty",
                names.join(", "),
                seen.join(", ")
            ));
        }
    }
    Ok(())
}

/// The planned runs of `out` (its `plan.json`, written by every sweep) that have no record
/// (nor a failed one): per cell, in plan order, the replicates missing. A cell is a run id
/// without its replicate (`-r<k>`) and its hash, e.g. `toy-hard_sharing-equal-f1`. None
/// without a `plan.json`.
pub fn missing_runs(out: &Path) -> Result<Vec<(String, Vec<String>)>, ResultsError> {
    let path = out.join("plan.json");
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(Vec::new());
    };
    let plan: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ResultsError::io(&path, std::io::Error::other(e)))?;
    let stored: std::collections::HashSet<String> = crate::store::stored_ids(&runs_dir(out))?
        .into_iter()
        .collect();
    let mut cells: Vec<(String, Vec<String>)> = Vec::new();
    let planned = plan["runs"].as_array().map_or(&[][..], Vec::as_slice);
    for id in planned.iter().filter_map(|v| v.as_str()) {
        if stored.contains(id) {
            continue;
        }
        let (cell, replicate) = cell_of(id);
        match cells.iter_mut().find(|(c, _)| *c == cell) {
            Some((_, reps)) => reps.push(replicate),
            None => cells.push((cell, vec![replicate])),
        }
    }
    Ok(cells)
}

/// A run id `<cell>-r<k>-f<fraction>-<hash>` as (`<cell>-f<fraction>`, `r<k>`); an id of
/// another form is its own cell.
fn cell_of(id: &str) -> (String, String) {
    let without_hash = id.rsplit_once('-').map_or(id, |(head, _)| head);
    if let Some((head, fraction)) = without_hash.rsplit_once("-f") {
        if let Some((cell, rep)) = head.rsplit_once("-r") {
            if !rep.is_empty() && rep.bytes().all(|b| b.is_ascii_digit()) {
                return (format!("{cell}-f{fraction}"), format!("r{rep}"));
            }
        }
    }
    (id.to_string(), String::new())
}

/// The number of runs `missing` counts.
pub fn missing_count(missing: &[(String, Vec<String>)]) -> usize {
    missing.iter().map(|(_, reps)| reps.len()).sum()
}

/// The section of `index.md` that lists the missing runs (none when none is missing).
fn missing_markdown(missing: &[(String, Vec<String>)]) -> Option<String> {
    use std::fmt::Write as _;
    if missing.is_empty() {
        return None;
    }
    let mut md = format!(
        "## Missing runs\n\n{} planned runs have no record: the tables below average the replicates that are stored, fewer in these cells (`mtlbench status DIR` lists them; `mtlbench run DIR/study.yaml --out DIR --resume` runs them):\n\n",
        missing_count(missing)
    );
    for (cell, reps) in missing {
        let _ = writeln!(
            md,
            "- `{cell}`: {} missing ({})",
            reps.len(),
            reps.join(", ")
        );
    }
    Some(md)
}
