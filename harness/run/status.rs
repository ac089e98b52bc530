//! `mtlbench status DIR`: how much of a sweep's plan is stored — ok, not ok, missing —
//! read from the directory alone (its `plan.json` and `runs/`), so it works on any machine
//! that sees the shared output directory. A tuned study (see `tune`) is told by its stage:
//! before its final stage only the search's runs are planned (`DIR/tune/plan.json`, records
//! under `DIR/tune/runs/`), and those are what `status` counts.

use crate::error::HarnessError;
use crate::run::claim::{StoredPlan, PLAN_FILE};
use crate::study::config;
use mtlbench_results::store::{read_runs, runs_dir};
use std::path::Path;

/// Where a study stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Not tuned: one stage.
    Single,
    /// Tuned, in its search: the final runs are planned once the search is complete.
    Search,
    /// Tuned, its search complete: the final runs.
    Final,
}

/// What a directory holds of its plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanStatus {
    pub stage: Stage,
    /// The plan of the stage: the search's runs in the search stage.
    pub plan: StoredPlan,
    pub ok: Vec<String>,
    /// (id, status, message) of stored runs that did not finish `ok`.
    pub not_ok: Vec<(String, String, String)>,
    /// Planned runs with no record yet, in plan order.
    pub missing: Vec<String>,
    /// The missing runs that have a progress file (`progress`): in flight, or abandoned by
    /// a process that was stopped.
    pub in_flight: Vec<crate::run::progress::Progress>,
    /// (id, wall-clock seconds) of every stored run of the plan.
    pub times: Vec<(String, f64)>,
}

impl PlanStatus {
    /// Every run of the study stored and ok (never in a tuned study's search stage).
    pub fn complete(&self) -> bool {
        self.stage != Stage::Search && self.missing.is_empty() && self.not_ok.is_empty()
    }
}

/// The plan of `out` and its stage: its `plan.json`; a tuned study's `tune/plan.json`
/// before its final stage; or (for directories written before they existed) the plan
/// expanded again from its `study.yaml` — a tuned study's search plan.
pub fn stored_plan(out: &Path) -> Result<(StoredPlan, Stage), HarnessError> {
    let search = crate::run::tune_stage::search_dir(out);
    let searched = StoredPlan::read(&search)?;
    if let Some(plan) = StoredPlan::read(out)? {
        let stage = match searched {
            Some(_) => Stage::Final,
            None => Stage::Single,
        };
        return Ok((plan, stage));
    }
    if let Some(plan) = searched {
        return Ok((plan, Stage::Search));
    }
    let study = out.join("study.yaml");
    if !study.exists() {
        return Err(HarnessError::Output {
            path: out.to_path_buf(),
            message: format!(
                "holds neither {PLAN_FILE} nor study.yaml: give the output directory of `mtlbench run` or `mtlbench slurm`"
            ),
        });
    }
    let study = config::load_study(&study)?;
    let runs = crate::study::plan::expand(&study)?;
    match &study.config.tune {
        None => Ok((StoredPlan::of(&runs), Stage::Single)),
        Some(t) => {
            let (search, _) = crate::study::tune::search_plan(t, study.config.seed, &runs)
                .map_err(|(key, m)| study.error_at(&key, m))?;
            let specs: Vec<crate::study::run_spec::RunSpec> =
                search.into_iter().map(|s| s.spec).collect();
            Ok((StoredPlan::of(&specs), Stage::Search))
        }
    }
}

pub fn status(out: &Path) -> Result<PlanStatus, HarnessError> {
    let (plan, stage) = stored_plan(out)?;
    let dir = match stage {
        Stage::Search => crate::run::tune_stage::search_dir(out),
        Stage::Single | Stage::Final => out.to_path_buf(),
    };
    let records: std::collections::HashMap<String, mtlbench_results::RunRecord> =
        read_runs(&runs_dir(&dir))?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
    let mut ok = Vec::new();
    let mut not_ok = Vec::new();
    let mut missing = Vec::new();
    let mut times = Vec::new();
    for id in &plan.runs {
        let Some(r) = records.get(id) else {
            missing.push(id.clone());
            continue;
        };
        times.push((id.clone(), r.wall_time_s));
        if r.is_ok() {
            ok.push(id.clone());
        } else {
            not_ok.push((
                id.clone(),
                r.status.clone(),
                r.message.clone().unwrap_or_default(),
            ));
        }
    }
    let in_flight = crate::run::progress::read_all(&dir)
        .into_iter()
        .filter(|p| missing.contains(&p.id))
        .collect();
    Ok(PlanStatus {
        stage,
        plan,
        ok,
        not_ok,
        missing,
        in_flight,
        times,
    })
}

/// The runs of one cell of a plan, by id: the id without its replicate, fraction and hash
/// (`…-r0-f1-<hash>`), nor a search run's configuration (`-c2`): the suite, architecture
/// and weighting. An id of another form is its own cell.
fn cell_of_id(id: &str) -> &str {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let replicate = id.rmatch_indices("-r").map(|(i, _)| i).find(|&i| {
        let rest = &id[i + 2..];
        rest.find('-')
            .is_some_and(|end| digits(&rest[..end]) && rest[end..].starts_with("-f"))
    });
    let Some(end) = replicate else {
        return id;
    };
    let head = &id[..end];
    match head.rfind("-c") {
        Some(c) if digits(&head[c + 2..]) => &head[..c],
        _ => head,
    }
}

/// The line on the stage's run time: what the stored runs took, their wall-clock seconds
/// added, and what the missing ones will at the stored runs' mean time of their cell (the
/// mean of all stored runs where their cell has none), less the time each run in flight has
/// already taken. `None` before any run is stored or once none is missing.
fn run_time_line(s: &PlanStatus) -> Option<String> {
    if s.times.is_empty() || s.missing.is_empty() {
        return None;
    }
    let mut cells: std::collections::HashMap<&str, (f64, usize)> = Default::default();
    for (id, seconds) in &s.times {
        let e = cells.entry(cell_of_id(id)).or_default();
        e.0 += seconds;
        e.1 += 1;
    }
    let taken: f64 = s.times.iter().map(|t| t.1).sum();
    let overall = taken / s.times.len() as f64;
    let mut without = 0;
    let left: f64 = s
        .missing
        .iter()
        .map(|id| {
            let mean = match cells.get(cell_of_id(id)) {
                Some((sum, n)) => sum / *n as f64,
                None => {
                    without += 1;
                    overall
                }
            };
            let done = s.in_flight.iter().find(|p| &p.id == id).map_or(0.0, |p| {
                p.updated_unix_s.saturating_sub(p.started_unix_s) as f64
            });
            (mean - done).max(0.0)
        })
        .sum();
    let hours = |x: f64| format!("{:.1} h", x / 3600.0);
    let basis = match without {
        0 => String::new(),
        n => format!(", the mean of all stored runs for the {n} whose cell has none"),
    };
    Some(format!(
        "  run time: the {} stored took {} (their wall-clock times added); the {} missing need about {} more at the stored runs' mean per suite, architecture and weighting{basis}, less what the runs in flight have done{}\n",
        s.times.len(),
        hours(taken),
        s.missing.len(),
        hours(left),
        if s.stage == Stage::Search {
            "; then the final stage's runs"
        } else {
            ""
        }
    ))
}

/// The printed report: the stage and counts first, then the runs that need attention (at
/// most `limit` of each kind), then the runs in flight with their epochs and times.
pub fn render(s: &PlanStatus, limit: usize) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    render_at(s, limit, now)
}

/// `render` at `now` (Unix seconds).
fn render_at(s: &PlanStatus, limit: usize, now: u64) -> String {
    let (stage, runs) = match s.stage {
        Stage::Single => ("", "planned"),
        Stage::Search => (
            " (tuned: in its search stage, under tune/; the final runs are planned once every search run is stored)",
            "search runs planned",
        ),
        Stage::Final => (
            " (tuned: in its final stage; the search under tune/ is complete)",
            "planned",
        ),
    };
    let mut text = format!(
        "study `{}`{stage}, plan {}: {} {runs}, {} stored ({} ok, {} not ok), {} missing\n",
        s.plan.study,
        s.plan.plan_id,
        s.plan.runs.len(),
        s.ok.len() + s.not_ok.len(),
        s.ok.len(),
        s.not_ok.len(),
        s.missing.len()
    );
    if let Some(line) = run_time_line(s) {
        text.push_str(&line);
    }
    if s.stage == Stage::Search && s.missing.is_empty() {
        text.push_str("  the search is stored: run the study again with --resume (each shard, on a cluster: submit DIR/slurm/shards.sbatch again) to train the chosen configurations\n");
    }
    for (id, status, message) in s.not_ok.iter().take(limit) {
        text.push_str(&format!("  {status:<9} {id}: {message}\n"));
    }
    if s.not_ok.len() > limit {
        text.push_str(&format!("  … and {} more not ok\n", s.not_ok.len() - limit));
    }
    for id in s.missing.iter().take(limit) {
        text.push_str(&format!("  missing   {id}\n"));
    }
    if s.missing.len() > limit {
        text.push_str(&format!(
            "  … and {} more missing\n",
            s.missing.len() - limit
        ));
    }
    for p in &s.in_flight {
        text.push_str(&crate::run::progress::render(p, now));
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_counts_and_lists_what_needs_attention() {
        let s = PlanStatus {
            stage: Stage::Single,
            plan: StoredPlan {
                plan_id: "00ff".into(),
                study: "t".into(),
                runs: (0..5).map(|i| format!("r{i}")).collect(),
            },
            ok: vec!["r0".into(), "r1".into()],
            not_ok: vec![("r2".into(), "diverged".into(), "NaN loss".into())],
            missing: vec!["r3".into(), "r4".into()],
            in_flight: vec![crate::run::progress::Progress {
                id: "r3".into(),
                epoch: 10,
                epochs: 40,
                started_unix_s: 100,
                updated_unix_s: 400,
            }],
            times: vec![],
        };
        assert!(!s.complete());
        let text = render_at(&s, 1, 430);
        assert!(text.starts_with(
            "study `t`, plan 00ff: 5 planned, 3 stored (2 ok, 1 not ok), 2 missing\n"
        ));
        assert!(text.contains("diverged  r2: NaN loss"), "{text}");
        assert!(text.contains("missing   r3\n"), "{text}");
        assert!(text.contains("… and 1 more missing"), "{text}");
        assert!(!text.contains("r4"), "{text}");
        assert!(
            text.ends_with("  in flight r3: epoch 10/40, started 6 min ago, about 15 min left at its pace; last written 30 s ago\n"),
            "{text}"
        );
    }

    /// A run's cell is its id without replicate, fraction, hash and search configuration,
    /// whatever dashes its suite's label holds.
    #[test]
    fn a_cell_is_the_id_without_replicate_configuration_and_hash() {
        for (id, cell) in [
            (
                "multi_mnist-hard_sharing-uw-c1-r0-f1-570be3efbf029d27",
                "multi_mnist-hard_sharing-uw",
            ),
            (
                "multi_mnist-hard_sharing-mgda-r4-f1-1f30fe7c",
                "multi_mnist-hard_sharing-mgda",
            ),
            (
                "census-income-r2-x-single_task-equal-r12-f0_5-0a",
                "census-income-r2-x-single_task-equal",
            ),
            ("odd-id", "odd-id"),
        ] {
            assert_eq!(cell_of_id(id), cell, "{id}");
        }
    }

    /// The run-time line: the stored runs' times added, the missing ones at their cell's
    /// mean (or all runs' mean), less what a run in flight has done.
    #[test]
    fn the_run_time_line_estimates_the_missing_runs_by_their_cells() {
        let id = |cell: &str, r: usize| format!("s-{cell}-c0-r{r}-f1-00ff");
        let s = PlanStatus {
            stage: Stage::Search,
            plan: StoredPlan {
                plan_id: "00ff".into(),
                study: "t".into(),
                runs: vec![],
            },
            ok: vec![id("a", 0), id("a", 1), id("b", 0)],
            not_ok: vec![],
            missing: vec![id("a", 2), id("b", 1), id("c", 0)],
            in_flight: vec![crate::run::progress::Progress {
                id: id("b", 1),
                epoch: 1,
                epochs: 4,
                started_unix_s: 0,
                updated_unix_s: 1_800,
            }],
            times: vec![
                (id("a", 0), 3_600.0),
                (id("a", 1), 7_200.0),
                (id("b", 0), 7_200.0),
            ],
        };
        // Taken: 18,000 s = 5.0 h. Left: a at 5,400 s, b at 7,200 − 1,800 s, c (no run of
        // its cell) at the mean of all, 6,000 s: 16,800 s = 4.7 h.
        assert_eq!(
            run_time_line(&s).unwrap(),
            "  run time: the 3 stored took 5.0 h (their wall-clock times added); the 3 missing need about 4.7 h more at the stored runs' mean per suite, architecture and weighting, the mean of all stored runs for the 1 whose cell has none, less what the runs in flight have done; then the final stage's runs\n"
        );
        let none_missing = PlanStatus {
            missing: vec![],
            ..s.clone()
        };
        assert_eq!(run_time_line(&none_missing), None);
    }
}
