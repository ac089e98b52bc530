//! `mtlbench status DIR`: how much of a sweep's plan is stored — ok, not ok, missing —
//! read from the directory alone (its `plan.json` and `runs/`), so it works on any machine
//! that sees the shared output directory.

use crate::config;
use crate::error::HarnessError;
use crate::sweep::{StoredPlan, PLAN_FILE};
use mtlbench_results::store::{read_runs, runs_dir};
use std::path::Path;

/// What a directory holds of its plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanStatus {
    pub plan: StoredPlan,
    pub ok: Vec<String>,
    /// (id, status, message) of stored runs that did not finish `ok`.
    pub not_ok: Vec<(String, String, String)>,
    /// Planned runs with no record yet, in plan order.
    pub missing: Vec<String>,
}

impl PlanStatus {
    pub fn complete(&self) -> bool {
        self.missing.is_empty() && self.not_ok.is_empty()
    }
}

/// The plan of `out`: its `plan.json`, or (for directories written before it existed) the
/// plan expanded again from its `study.yaml`.
pub fn stored_plan(out: &Path) -> Result<StoredPlan, HarnessError> {
    if let Some(plan) = StoredPlan::read(out)? {
        return Ok(plan);
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
    let runs = crate::plan::expand(&config::load_study(&study)?)?;
    Ok(StoredPlan::of(&runs))
}

pub fn status(out: &Path) -> Result<PlanStatus, HarnessError> {
    let plan = stored_plan(out)?;
    let records: std::collections::HashMap<String, mtlbench_results::RunRecord> =
        read_runs(&runs_dir(out))?
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
    Ok(PlanStatus {
        plan,
        ok,
        not_ok,
        missing,
    })
}

/// The printed report: counts first, then the runs that need attention (at most `limit`
/// of each kind).
pub fn render(s: &PlanStatus, limit: usize) -> String {
    let mut text = format!(
        "study `{}`, plan {}: {} planned, {} stored ({} ok, {} not ok), {} missing\n",
        s.plan.study,
        s.plan.plan_id,
        s.plan.runs.len(),
        s.ok.len() + s.not_ok.len(),
        s.ok.len(),
        s.not_ok.len(),
        s.missing.len()
    );
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
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_counts_and_lists_what_needs_attention() {
        let s = PlanStatus {
            plan: StoredPlan {
                plan_id: "00ff".into(),
                study: "t".into(),
                runs: (0..5).map(|i| format!("r{i}")).collect(),
            },
            ok: vec!["r0".into(), "r1".into()],
            not_ok: vec![("r2".into(), "diverged".into(), "NaN loss".into())],
            missing: vec!["r3".into(), "r4".into()],
        };
        assert!(!s.complete());
        let text = render(&s, 1);
        assert!(text.starts_with(
            "study `t`, plan 00ff: 5 planned, 3 stored (2 ok, 1 not ok), 2 missing\n"
        ));
        assert!(text.contains("diverged  r2: NaN loss"), "{text}");
        assert!(text.contains("missing   r3\n"), "{text}");
        assert!(text.contains("… and 1 more missing"), "{text}");
        assert!(!text.contains("r4"), "{text}");
    }
}
