//! Carrying out a tuned study's search stage (see `tune`): its sweep into `DIR/tune/`, the
//! choice of each algorithm's configuration, `DIR/tune.md`, and the final plan.

use crate::error::HarnessError;
use crate::run::sweep::{run_sweep, SweepOptions};
use crate::study::config::LoadedStudy;
use crate::study::run_spec::RunSpec;
use crate::study::tune::{self, Tune};
use mtlbench_results::store::{read_runs, runs_dir, stored_ids, write_atomic};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// The search's directory under a study's output directory.
pub fn search_dir(out: &Path) -> std::path::PathBuf {
    out.join(tune::SEARCH_DIR)
}

/// Runs the search (this shard's part of it, with `--shard`), then chooses; returns the
/// final plan, or `None` when a shard finds the search not yet complete in every shard.
pub fn search(
    study: &LoadedStudy,
    t: &Tune,
    plan: &[RunSpec],
    opts: &SweepOptions,
) -> Result<Option<Vec<RunSpec>>, HarnessError> {
    let c = &study.config;
    let (search, cells) =
        tune::search_plan(t, c.seed, plan).map_err(|(key, m)| study.error_at(&key, m))?;
    let specs: Vec<RunSpec> = search.iter().map(|s| s.spec.clone()).collect();
    let dir = search_dir(&opts.out);
    if opts.progress {
        eprintln!(
            "tuning: {} configurations × {} replicate(s) for each of {} algorithm cells: {} runs → {}",
            t.budget,
            t.replicates,
            cells.len(),
            specs.len(),
            dir.display()
        );
    }
    let search_opts = SweepOptions {
        out: dir.clone(),
        ..opts.clone()
    };
    let summary = run_sweep(&study.text, &specs, &search_opts)?;
    if opts.progress {
        eprintln!(
            "tuning: {} planned, {} already stored, {} ok, {} not ok",
            summary.planned, summary.skipped, summary.ok, summary.not_ok
        );
    }
    let stored: HashSet<String> = stored_ids(&runs_dir(&dir))?.into_iter().collect();
    let missing = specs.iter().filter(|s| !stored.contains(&s.id)).count();
    if missing > 0 {
        // Only a shard gets here: the others' parts are still running or not started.
        eprintln!(
            "tuning: {missing} of {} search runs are not stored yet (other shards); once every shard has finished, run this shard again with --resume to train the chosen configurations",
            specs.len()
        );
        return Ok(None);
    }
    let records = read_runs(&runs_dir(&dir))?;
    let choices = tune::choose(&search, &cells, &records, &c.selection);
    let md = markdown(study, t, plan, &cells, &choices);
    write_atomic(&opts.out.join("tune.md"), md.as_bytes())?;
    let final_runs =
        tune::final_plan(c.seed, plan, &cells, &choices).map_err(|m| study.error_at("tune", m))?;
    Ok(Some(final_runs))
}

/// `tune.md` of the search of `plan`, which states the runs it does not tune.
fn markdown(
    study: &LoadedStudy,
    t: &Tune,
    plan: &[RunSpec],
    cells: &BTreeMap<tune::Cell, Vec<tune::Config>>,
    choices: &BTreeMap<tune::Cell, tune::Choice>,
) -> String {
    let mut untuned = Vec::new();
    if plan.iter().any(|r| r.kind.task_subset().is_some()) {
        untuned.push("pairwise-transfer");
    }
    if plan.iter().any(|r| r.kind.adaptation().is_some()) {
        untuned.push("adaptation");
    }
    let c = &study.config;
    crate::run::tune_markdown::tune_markdown(&c.name, t, cells, choices, &c.selection, &untuned)
}

/// Rewrites `DIR/tune.md` from the search's stored records (for `report`); nothing when
/// the study is not tuned, its search is not stored, or its plan cannot be expanded here
/// (a real suite's data is not on this machine): the `tune.md` written when the search
/// ended stays, since neither the records nor the study have changed.
pub fn rewrite_markdown(study: &LoadedStudy, out: &Path) -> Result<(), HarnessError> {
    let c = &study.config;
    let Some(t) = &c.tune else { return Ok(()) };
    let dir = search_dir(out);
    if !runs_dir(&dir).is_dir() {
        return Ok(());
    }
    let Ok(plan) = crate::study::plan::expand(study) else {
        return Ok(());
    };
    let (search, cells) =
        tune::search_plan(t, c.seed, &plan).map_err(|(key, m)| study.error_at(&key, m))?;
    let records = read_runs(&runs_dir(&dir))?;
    // While the search is still running (other shards), its choice is not made yet.
    let stored: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
    if search.iter().any(|s| !stored.contains(s.spec.id.as_str())) {
        return Ok(());
    }
    let choices = tune::choose(&search, &cells, &records, &c.selection);
    let md = markdown(study, t, &plan, &cells, &choices);
    write_atomic(&out.join("tune.md"), md.as_bytes())?;
    Ok(())
}
