//! `report DIR1 DIR2 … --combine OUT`: the algorithms ranked over every suite of several
//! output directories (each suite at its largest training fraction a block), by Friedman's
//! test and Nemenyi's critical difference; `OUT/ranking.md`, `OUT/ranking.csv` and
//! `OUT/charts/critical_difference.{svg,png,pdf}` (see `mtlbench_results::ranking`). Every
//! directory's records are read with its own `study.yaml` settings (selection, Δ metrics),
//! or the ones given here; the diagram is sized by `--width`, `--dpi`, `--font-scale` and
//! `--font-family` and names the algorithms by the studies' `display_names`. Refused
//! (exit 2, nothing written) when a directory has no runs/, or fewer than 2 blocks or 2
//! algorithms common to all blocks remain.

use crate::error::HarnessError;
use crate::study::config;
use mtlbench_results::ranking::{blocks_of, rank, write_ranking};
use mtlbench_results::selection::Selection;
use mtlbench_results::store::{read_runs, runs_dir, RUNS_DIR};
use mtlbench_results::summary::summarize_study;
use mtlbench_results::transfer::DeltaMetrics;
use std::path::{Path, PathBuf};

pub fn combine(
    dirs: &[PathBuf],
    into: &Path,
    selection: Option<Selection>,
    delta_metrics: Option<Vec<String>>,
    figures: &crate::study::presentation::FigureFlags,
) -> Result<u8, HarnessError> {
    // The diagram's size and type from the flags; its names from the studies'
    // `display_names` (the first study that names an algorithm wins).
    let mut presentation = crate::study::presentation::presentation(None, figures)?;
    let mut names = std::collections::BTreeMap::new();
    if let Some(names) = &delta_metrics {
        crate::study::validate::check_delta_metrics(names).map_err(|(_, message)| {
            HarnessError::Config {
                file: "--delta-metrics".into(),
                message,
            }
        })?;
    }
    let mut blocks = Vec::new();
    let mut studies = Vec::new();
    for dir in dirs {
        if !dir.join(RUNS_DIR).is_dir() {
            return Err(HarnessError::Output {
                path: dir.clone(),
                message:
                    "no runs/ directory here: --combine takes output directories of `mtlbench run`"
                        .into(),
            });
        }
        let study = dir.join("study.yaml");
        let stored = if study.exists() {
            Some(config::load_study(&study)?.config)
        } else {
            None
        };
        let rule = selection
            .or_else(|| stored.as_ref().map(|c| c.selection))
            .unwrap_or(Selection::Last);
        if let Some(c) = &stored {
            for (k, v) in &c.display_names {
                names.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let metrics = DeltaMetrics(
            delta_metrics
                .clone()
                .or_else(|| stored.and_then(|c| c.delta_metrics)),
        );
        let mut runs = read_runs(&runs_dir(dir))?;
        if delta_metrics.is_some() {
            // Metrics given here must be measured by every suite of every directory.
            mtlbench_results::report::check_delta_metrics_measured(
                &runs,
                &DeltaMetrics(delta_metrics.clone()),
            )
            .map_err(|message| HarnessError::Config {
                file: format!("{}: --delta-metrics", dir.display()),
                message,
            })?;
        }
        rule.check_runs(&runs)
            .map_err(|message| HarnessError::Config {
                file: format!("{}: selection", dir.display()),
                message,
            })?;
        rule.apply(&mut runs);
        let name = runs
            .first()
            .map(|r| r.study.clone())
            .unwrap_or_else(|| dir.display().to_string());
        let summary = summarize_study(&runs, &metrics);
        blocks.extend(blocks_of(&summary, Some(&name)));
        studies.push(name);
    }
    let ranking = rank(&blocks).map_err(|message| HarnessError::Config {
        file: "--combine".into(),
        message,
    })?;
    std::fs::create_dir_all(into).map_err(|e| HarnessError::Output {
        path: into.to_path_buf(),
        message: e.to_string(),
    })?;
    let title = studies.join(" + ");
    presentation.names = mtlbench_results::charts::names::DisplayNames::new(names);
    for file in write_ranking(into, &into.join("charts"), &title, &ranking, &presentation)? {
        println!("{}", file.display());
    }
    Ok(0)
}
