//! Model selection: which evaluation point of a run its test metrics are reported at. Runs
//! keep every evaluation point, so a study's report can be re-selected without retraining
//! (`mtlbench report DIR --selection …`).

use crate::record::{Point, RunRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The rule, as the study's `selection` key writes it: `last`, `best_val`, or
/// `{mean_last: k}` (also `mean_last:k`, the command line's form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Selection {
    /// The last evaluation point.
    #[default]
    Last,
    /// The evaluation point with the best validation score: the mean over tasks of each
    /// task's primary validation metrics (as its suite declares them), signed so that higher is better and
    /// divided by its magnitude at the run's first evaluation (so that tasks of different
    /// scales weigh alike). Ties go to the earlier point. A run without validation points
    /// falls back to its last point.
    BestVal,
    /// The mean of the last k evaluation points' test values. k counts evaluation points
    /// (epochs only with `eval_every: 1`); a plan, and `report --selection`, refuse a k
    /// larger than a run's evaluation points, and `select` averages all of them then.
    MeanLast(usize),
}

/// The forms a study file may use.
#[derive(Deserialize)]
#[serde(untagged)]
enum Written {
    Name(String),
    MeanLast(MeanLastForm),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MeanLastForm {
    mean_last: usize,
}

impl<'de> Deserialize<'de> for Selection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Written::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected last, best_val or {mean_last: k}"))?
        {
            Written::Name(name) => name.parse().map_err(serde::de::Error::custom),
            // k = 0 is refused by `validate`, naming the key.
            Written::MeanLast(MeanLastForm { mean_last }) => Ok(Selection::MeanLast(mean_last)),
        }
    }
}

impl Serialize for Selection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Selection::Last => s.serialize_str("last"),
            Selection::BestVal => s.serialize_str("best_val"),
            Selection::MeanLast(k) => {
                use serde::ser::SerializeMap;
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("mean_last", k)?;
                map.end()
            }
        }
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Selection::Last => write!(f, "last"),
            Selection::BestVal => write!(f, "best_val"),
            Selection::MeanLast(k) => write!(f, "mean_last:{k}"),
        }
    }
}

impl std::str::FromStr for Selection {
    type Err = String;

    /// `last`, `best_val` or `mean_last:K` (the command line's form), also as the study
    /// file writes them: `mean_last: K` or `{mean_last: K}` (spaces and braces aside).
    fn from_str(s: &str) -> Result<Self, String> {
        let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let rule = compact
            .strip_prefix('{')
            .and_then(|r| r.strip_suffix('}'))
            .unwrap_or(&compact);
        match rule {
            "last" => Ok(Selection::Last),
            "best_val" => Ok(Selection::BestVal),
            _ => match rule.strip_prefix("mean_last:").map(str::parse::<usize>) {
                Some(Ok(k)) if k > 0 => Ok(Selection::MeanLast(k)),
                _ => Err(format!(
                    "`{s}` is not a selection rule: last, best_val or mean_last:K (K ≥ 1)"
                )),
            },
        }
    }
}

impl Selection {
    /// Checks the rule's parameter.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Selection::MeanLast(0) => Err("mean_last needs k ≥ 1".into()),
            _ => Ok(()),
        }
    }

    /// The evaluation points a run needs for the rule to do what it says: `last` 1,
    /// `best_val` 2 (a choice among one point is none), `mean_last: k` k.
    pub fn evaluations_needed(&self) -> usize {
        match self {
            Selection::Last => 1,
            Selection::BestVal => 2,
            Selection::MeanLast(k) => *k,
        }
    }

    /// Why the rule cannot take effect on a run with `evaluations` evaluation points, if it
    /// cannot; `source` says where the count comes from ("run X has", "epochs: 1 with
    /// eval_every: 1 gives").
    pub fn refusal(&self, evaluations: usize, source: &str) -> Option<String> {
        if evaluations >= self.evaluations_needed() {
            return None;
        }
        let points = match evaluations {
            1 => "1 evaluation point".to_string(),
            n => format!("{n} evaluation points"),
        };
        Some(match self {
            Selection::BestVal => format!(
                "best_val chooses among a run's evaluation points, and {source} {points}: add epochs or lower training.eval_every, or select `last`"
            ),
            _ => format!(
                "{self} averages a run's last {} evaluation points (k counts evaluations: every training.eval_every epochs, and the last epoch), and {source} {points}: lower k, add epochs or lower training.eval_every",
                self.evaluations_needed()
            ),
        })
    }

    /// Refuses the rule for stored runs (`report --selection`): every `ok` run that the
    /// tables select from (adaptation runs aside) must have the evaluation points the rule
    /// needs. The error names the first run short of them.
    pub fn check_runs(&self, runs: &[RunRecord]) -> Result<(), String> {
        for run in runs
            .iter()
            .filter(|r| r.is_ok() && r.kind != crate::record::RunKind::Adaptation)
        {
            let mut epochs: Vec<usize> = run
                .points
                .iter()
                .filter(|p| p.split == "test")
                .map(|p| p.epoch)
                .collect();
            epochs.sort_unstable();
            epochs.dedup();
            if let Some(why) = self.refusal(epochs.len(), &format!("run {} has", run.id)) {
                return Err(why);
            }
        }
        Ok(())
    }

    /// One sentence for captions: which point the test metrics are taken at.
    pub fn caption(&self) -> String {
        match self {
            Selection::Last => "Test metrics at each run's last evaluation (selection: last).".into(),
            Selection::BestVal => "Test metrics at each run's evaluation with the best validation score — the mean over tasks of the primary validation metric, signed so that higher is better and relative to the first evaluation (selection: best_val).".into(),
            Selection::MeanLast(k) => format!("Test metrics averaged over each run's last {k} evaluations (selection: mean_last {k})."),
        }
    }

    /// The test points of `run` under this rule: one per (task, metric), at the selected
    /// evaluation (its epoch and step), or averaged (the last one's epoch and step).
    pub fn select(&self, run: &RunRecord) -> Vec<Point> {
        self.select_split(run, "test")
    }

    /// As `select`, for the points of `split` (`test` or `val`; the tuner scores
    /// configurations on `val`).
    pub fn select_split(&self, run: &RunRecord, split: &str) -> Vec<Point> {
        let at = |epoch: usize| -> Vec<Point> {
            run.points
                .iter()
                .filter(|p| p.split == split && p.epoch == epoch)
                .cloned()
                .collect()
        };
        let mut epochs: Vec<usize> = run
            .points
            .iter()
            .filter(|p| p.split == split)
            .map(|p| p.epoch)
            .collect();
        epochs.sort_unstable();
        epochs.dedup();
        let Some(&last) = epochs.last() else {
            return Vec::new();
        };
        match self {
            Selection::Last => at(last),
            Selection::BestVal => at(best_val_epoch(run, &epochs).unwrap_or(last)),
            Selection::MeanLast(k) => {
                let kept = &epochs[epochs.len().saturating_sub(*k)..];
                let mut sums: BTreeMap<(String, String), (f64, usize)> = BTreeMap::new();
                for p in run
                    .points
                    .iter()
                    .filter(|p| p.split == split && kept.contains(&p.epoch))
                {
                    let e = sums.entry((p.task.clone(), p.metric.clone())).or_default();
                    e.0 += p.value;
                    e.1 += 1;
                }
                at(last)
                    .into_iter()
                    .map(|mut p| {
                        let (sum, n) = sums[&(p.task.clone(), p.metric.clone())];
                        p.value = sum / n as f64;
                        p
                    })
                    .collect()
            }
        }
    }

    /// Sets each run's selected test points (`RunRecord::final_test` reads them).
    pub fn apply(&self, runs: &mut [RunRecord]) {
        for run in runs {
            run.selected_test = Some(self.select(run));
        }
    }
}

/// The test epoch whose validation score is best (ties to the earlier); `None` when the
/// run has no validation point at any test epoch.
pub(crate) fn best_val_epoch(run: &RunRecord, epochs: &[usize]) -> Option<usize> {
    let (scored, primary) = scored_epochs(run, epochs);
    let value = |task: &str, metric: &str, epoch: usize| -> Option<f64> {
        run.points
            .iter()
            .find(|p| p.split == "val" && p.epoch == epoch && p.task == task && p.metric == metric)
            .map(|p| p.value)
    };
    let first = *scored.first()?;
    let score = |epoch: usize| -> f64 {
        let sum: f64 = primary
            .iter()
            .map(|(t, m, higher)| {
                let v = value(t, m, epoch).unwrap_or(f64::NAN);
                let scale = value(t, m, first).unwrap_or(1.0).abs().max(1e-12);
                let sign = if *higher { 1.0 } else { -1.0 };
                sign * v / scale
            })
            .sum();
        sum / primary.len().max(1) as f64
    };
    let mut best = first;
    let mut best_score = score(first);
    for &e in &scored[1..] {
        let s = score(e);
        // NaN never wins; equal keeps the earlier.
        if s > best_score || (best_score.is_nan() && !s.is_nan()) {
            best = e;
            best_score = s;
        }
    }
    Some(best)
}

/// Of `epochs`, those at which the run has a validation value of every primary metric
/// (the ones `best_val` can score), with those metrics as (task, metric, higher is better);
/// none when the run has no primary validation metric.
pub(crate) fn scored_epochs(
    run: &RunRecord,
    epochs: &[usize],
) -> (Vec<usize>, Vec<(String, String, bool)>) {
    let keys = run.primary_metric_keys();
    let mut primary: Vec<(String, String, bool)> = Vec::new();
    for p in run.points.iter().filter(|p| p.split == "val") {
        let key = (p.task.clone(), p.metric.clone());
        if keys.contains(&key) && !primary.iter().any(|(t, m, _)| *t == key.0 && *m == key.1) {
            primary.push((key.0, key.1, p.higher_is_better));
        }
    }
    if primary.is_empty() {
        return (Vec::new(), primary);
    }
    let has = |task: &str, metric: &str, epoch: usize| {
        run.points
            .iter()
            .any(|p| p.split == "val" && p.epoch == epoch && p.task == task && p.metric == metric)
    };
    let scored = epochs
        .iter()
        .copied()
        .filter(|&e| primary.iter().all(|(t, m, _)| has(t, m, e)))
        .collect();
    (scored, primary)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run with two tasks: `a` (mse, lower is better) and `b` (accuracy, higher is
    /// better), validation and test at epochs 1, 2, 3.
    fn run() -> RunRecord {
        let mut r = crate::record::test_run("hard_sharing", 0, &[]);
        let point =
            |task: &str, split: &str, metric: &str, hib: bool, epoch: usize, value: f64| Point {
                task: task.into(),
                split: split.into(),
                metric: metric.into(),
                higher_is_better: hib,
                epoch,
                step: epoch * 10,
                value,
            };
        // Validation: epoch 2 is best for both tasks together.
        //   a (mse ↓):  1.0, 0.5, 0.6 → signed relative: −1, −0.5, −0.6
        //   b (acc ↑):  0.5, 0.7, 0.6 → relative:        1,  1.4,  1.2
        //   score:                                       0,  0.45, 0.3
        for (e, a, b) in [(1, 1.0, 0.5), (2, 0.5, 0.7), (3, 0.6, 0.6)] {
            r.points.push(point("a", "val", "mse", false, e, a));
            r.points.push(point("b", "val", "accuracy", true, e, b));
            r.points.push(point("a", "test", "mse", false, e, a + 0.1));
            r.points
                .push(point("b", "test", "accuracy", true, e, b - 0.1));
        }
        r
    }

    fn values(points: &[Point]) -> Vec<(String, usize, f64)> {
        points
            .iter()
            .map(|p| (p.task.clone(), p.epoch, (p.value * 1e9).round() / 1e9))
            .collect()
    }

    #[test]
    fn last_best_val_and_mean_last_pick_what_they_say() {
        let r = run();
        assert_eq!(
            values(&Selection::Last.select(&r)),
            [("a".into(), 3, 0.7), ("b".into(), 3, 0.5)]
        );
        assert_eq!(
            values(&Selection::BestVal.select(&r)),
            [("a".into(), 2, 0.6), ("b".into(), 2, 0.6)]
        );
        // Mean of epochs 2 and 3, reported at the last one.
        assert_eq!(
            values(&Selection::MeanLast(2).select(&r)),
            [("a".into(), 3, 0.65), ("b".into(), 3, 0.55)]
        );
        // k larger than the run: every evaluation (a: 1.1, 0.6, 0.7; b: 0.4, 0.6, 0.5).
        assert_eq!(
            values(&Selection::MeanLast(9).select(&r)),
            [("a".into(), 3, 0.8), ("b".into(), 3, 0.5)]
        );
    }

    #[test]
    fn best_val_weighs_tasks_by_their_first_value_and_breaks_ties_early() {
        let mut r = run();
        // Scale task a's validation mse by 1000: the choice must not change.
        for p in r
            .points
            .iter_mut()
            .filter(|p| p.task == "a" && p.split == "val")
        {
            p.value *= 1000.0;
        }
        assert_eq!(best_val_epoch(&r, &[1, 2, 3]), Some(2));
        // Make epoch 3 score exactly as epoch 2: the earlier stays.
        for p in r
            .points
            .iter_mut()
            .filter(|p| p.split == "val" && p.epoch == 3)
        {
            p.value = if p.task == "a" { 500.0 } else { 0.7 };
        }
        assert_eq!(best_val_epoch(&r, &[1, 2, 3]), Some(2));
        // Without validation points: the last point.
        r.points.retain(|p| p.split != "val");
        assert_eq!(values(&Selection::BestVal.select(&r))[0].1, 3);
    }

    #[test]
    fn final_test_reads_the_selection() {
        let mut runs = vec![run()];
        Selection::BestVal.apply(&mut runs);
        let epochs: Vec<usize> = runs[0].final_test().map(|p| p.epoch).collect();
        assert_eq!(epochs, [2, 2]);
    }

    #[test]
    fn rules_needing_more_evaluations_than_a_run_has_are_refused() {
        // The fixture has 3 evaluation points.
        let three = vec![run()];
        for ok in [
            Selection::Last,
            Selection::BestVal,
            Selection::MeanLast(1),
            Selection::MeanLast(3),
        ] {
            assert_eq!(ok.check_runs(&three), Ok(()), "{ok}");
        }
        let err = Selection::MeanLast(4).check_runs(&three).unwrap_err();
        assert!(
            err.starts_with("mean_last:4 averages a run's last 4 evaluation points"),
            "{err}"
        );
        assert!(err.contains("has 3 evaluation points"), "{err}");
        // One evaluation point: best_val and mean_last ≥ 2 have nothing to choose or average.
        let mut one = run();
        one.points.retain(|p| p.epoch == 3);
        let one = vec![one];
        assert_eq!(Selection::Last.check_runs(&one), Ok(()));
        assert_eq!(Selection::MeanLast(1).check_runs(&one), Ok(()));
        let err = Selection::BestVal.check_runs(&one).unwrap_err();
        assert!(err.starts_with("best_val chooses among"), "{err}");
        assert!(err.contains("has 1 evaluation point: "), "{err}");
        assert!(Selection::MeanLast(2).check_runs(&one).is_err());
        // Runs that are not ok are not selected from, so they do not count.
        let mut diverged = one.clone();
        diverged[0].status = "diverged".into();
        assert_eq!(Selection::BestVal.check_runs(&diverged), Ok(()));
    }

    #[test]
    fn rules_parse_from_the_command_line_and_yaml_forms() {
        assert_eq!("best_val".parse(), Ok(Selection::BestVal));
        assert_eq!("mean_last:5".parse(), Ok(Selection::MeanLast(5)));
        for bad in ["mean_last:0", "mean_last", "best", "mean_last:x"] {
            assert!(bad.parse::<Selection>().is_err(), "{bad}");
        }
        let s: Selection = serde_json::from_str(r#"{"mean_last": 3}"#).unwrap();
        assert_eq!(s, Selection::MeanLast(3));
        let s: Selection = serde_json::from_str(r#""best_val""#).unwrap();
        assert_eq!(s, Selection::BestVal);
        assert!(serde_json::from_str::<Selection>(r#""best""#).is_err());
        assert!(serde_json::from_str::<Selection>(r#"{"mean_last": 3, "x": 1}"#).is_err());
        for rule in [Selection::Last, Selection::BestVal, Selection::MeanLast(4)] {
            let json = serde_json::to_string(&rule).unwrap();
            assert_eq!(
                serde_json::from_str::<Selection>(&json).unwrap(),
                rule,
                "{json}"
            );
        }
    }
}
