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
    for id in &plan.runs {
        match records.get(id) {
            Some(r) if r.is_ok() => ok.push(id.clone()),
            Some(r) => not_ok.push((
                id.clone(),
                r.status.clone(),
                r.message.clone().unwrap_or_default(),
            )),
            None => missing.push(id.clone()),
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
    })
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
}
