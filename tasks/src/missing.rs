//! Missing labels (docs/FORMULAS.md#missing-labels): which rows of a task carry a label.
//! A suite entry's `missing_labels: {fraction, pattern, tasks}` marks, for each named task
//! (default all), `round(fraction · n)` rows of the training and of the validation split
//! as unlabelled: the practitioner's training and validation data are both incompletely
//! labelled, while the test split stays complete so that methods are compared on the true
//! task. The rows come from a stream of their own, `seed::stream(data seed,
//! ["missing-labels", split, task index])`, so adding the key shifts no other stream and
//! the rows of a task do not depend on which other tasks are named.
//!
//! `pattern: random` draws the rows uniformly (a shuffle of the split's rows, the first
//! `round(fraction · n)` of it); `block` marks one contiguous run of that many rows (cyclic,
//! at an offset drawn from the same stream), as when a label was collected for a period of
//! the data only. The mask is drawn on the whole training split before a training
//! fraction is taken, and follows the rows it keeps, so a row's label is missing at every
//! fraction or at none.

use crate::data::SuiteData;
use crate::seed;
use crate::TasksError;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The `missing_labels` key of a suite entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissingLabels {
    /// The fraction of each named task's rows without a label, in [0, 1).
    pub fraction: f64,
    /// How the unlabelled rows are placed.
    #[serde(default)]
    pub pattern: MissingPattern,
    /// The tasks (indices, in the suite's order) with missing labels; default all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Vec<usize>>,
}

/// How the unlabelled rows of a task are placed among its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingPattern {
    /// Uniformly at random.
    #[default]
    Random,
    /// One contiguous (cyclic) run of rows.
    Block,
}

impl MissingPattern {
    pub fn as_str(self) -> &'static str {
        match self {
            MissingPattern::Random => "random",
            MissingPattern::Block => "block",
        }
    }
}

/// Which rows of a task carry a label, on the splits that can miss some (the test split is
/// always complete).
#[derive(Debug, Clone, PartialEq)]
pub struct Presence {
    pub train: Vec<bool>,
    pub val: Vec<bool>,
}

impl MissingLabels {
    /// The rows of a split of `n` rows left without a label.
    pub fn missing_rows(&self, n: usize) -> usize {
        ((self.fraction * n as f64).round() as usize).min(n)
    }

    /// Whether task `t` is named.
    pub fn covers(&self, t: usize) -> bool {
        self.tasks.as_ref().is_none_or(|ts| ts.contains(&t))
    }

    /// Checks the key against a suite of `tasks` tasks whose splits have the given sizes
    /// (`(key, rows)`, the `train` and `val` ones are read): the error's key is the path
    /// inside the suite entry.
    pub fn validate(&self, tasks: usize, splits: &[(&str, usize)]) -> Result<(), TasksError> {
        if !(self.fraction >= 0.0 && self.fraction < 1.0) {
            return Err(TasksError::invalid(
                "missing_labels.fraction",
                format!("{} is not in [0, 1)", self.fraction),
            ));
        }
        if let Some(list) = &self.tasks {
            if list.is_empty() {
                return Err(TasksError::invalid(
                    "missing_labels.tasks",
                    "names no task: leave it out for every task",
                ));
            }
            for (i, &t) in list.iter().enumerate() {
                if t >= tasks {
                    return Err(TasksError::invalid(
                        &format!("missing_labels.tasks[{i}]"),
                        format!(
                            "task {t} does not exist: the suite has {tasks} tasks (0 to {})",
                            tasks.saturating_sub(1)
                        ),
                    ));
                }
                if list[..i].contains(&t) {
                    return Err(TasksError::invalid(
                        &format!("missing_labels.tasks[{i}]"),
                        format!("task {t} is named twice"),
                    ));
                }
            }
        }
        for (key, n) in splits {
            if matches!(*key, "train" | "val") && *n > 0 && self.missing_rows(*n) == *n {
                return Err(TasksError::invalid(
                    "missing_labels.fraction",
                    format!(
                        "{} of the {n} `{key}` rows is every label of the task: at least one must stay",
                        self.fraction
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Marks the named tasks' unlabelled rows of `suite` (drawn from `seed`, the replicate's
    /// data seed).
    pub fn apply(&self, suite: &mut SuiteData, seed: u64) {
        for (t, task) in suite.tasks.iter_mut().enumerate() {
            if !self.covers(t) {
                continue;
            }
            let label = t.to_string();
            task.present = Some(Presence {
                train: self.draw(
                    suite.x.train.rows,
                    seed,
                    &["missing-labels", "train", &label],
                ),
                val: self.draw(suite.x.val.rows, seed, &["missing-labels", "val", &label]),
            });
        }
    }

    /// One split's presence: `n` rows, `missing_rows(n)` of them unlabelled.
    fn draw(&self, n: usize, seed: u64, labels: &[&str]) -> Vec<bool> {
        let missing = self.missing_rows(n);
        let mut rng = seed::stream(seed, labels);
        let mut present = vec![true; n];
        if n == 0 {
            return present;
        }
        match self.pattern {
            MissingPattern::Random => {
                let mut order: Vec<usize> = (0..n).collect();
                order.shuffle(&mut rng);
                order[..missing].iter().for_each(|&r| present[r] = false);
            }
            MissingPattern::Block => {
                let start = rng.gen_range(0..n);
                (0..missing).for_each(|k| present[(start + k) % n] = false);
            }
        }
        present
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Matrix, Splits, TaskData, TaskKind};

    fn suite(train: usize, val: usize, tasks: usize) -> SuiteData {
        let rows = |n: usize| Matrix::new(n, 1, (0..n).map(|i| i as f32).collect());
        SuiteData {
            name: "s".into(),
            x: Splits {
                train: rows(train),
                val: rows(val),
                test: rows(5),
            },
            tasks: (0..tasks)
                .map(|t| TaskData {
                    name: format!("t{t}"),
                    kind: TaskKind::Regression { outputs: 1 },
                    metrics: vec![],
                    y: Splits {
                        train: rows(train),
                        val: rows(val),
                        test: rows(5),
                    },
                    target_scale: 1.0,
                    present: None,
                })
                .collect(),
            planted_correlation: None,
            image: None,
        }
    }

    fn key(fraction: f64, pattern: MissingPattern, tasks: Option<Vec<usize>>) -> MissingLabels {
        MissingLabels {
            fraction,
            pattern,
            tasks,
        }
    }

    #[test]
    fn marks_the_asked_share_of_the_named_tasks_only() {
        let mut s = suite(100, 40, 3);
        key(0.3, MissingPattern::Random, Some(vec![1])).apply(&mut s, 7);
        assert!(s.tasks[0].present.is_none() && s.tasks[2].present.is_none());
        let p = s.tasks[1].present.as_ref().unwrap();
        assert_eq!(p.train.iter().filter(|b| !**b).count(), 30);
        assert_eq!(p.val.iter().filter(|b| !**b).count(), 12);
        // Random rows are not one run.
        let runs = (1..100).filter(|&r| p.train[r] != p.train[r - 1]).count();
        assert!(runs > 2, "{runs}");
    }

    #[test]
    fn block_is_one_cyclic_run_and_streams_are_per_task() {
        let mut s = suite(50, 10, 2);
        key(0.2, MissingPattern::Block, None).apply(&mut s, 3);
        for task in &s.tasks {
            let p = &task.present.as_ref().unwrap().train;
            assert_eq!(p.iter().filter(|b| !**b).count(), 10);
            // Cyclic: exactly two changes of state around the circle.
            let changes = (0..50).filter(|&r| p[r] != p[(r + 1) % 50]).count();
            assert_eq!(changes, 2);
        }
        // A task's rows do not depend on which other tasks are named.
        let mut only = suite(50, 10, 2);
        key(0.2, MissingPattern::Block, Some(vec![1])).apply(&mut only, 3);
        assert_eq!(only.tasks[1].present, s.tasks[1].present);
        // Same seed, same rows; another seed, other rows.
        let mut again = suite(50, 10, 2);
        key(0.2, MissingPattern::Block, None).apply(&mut again, 3);
        assert_eq!(again, s);
        let mut other = suite(50, 10, 2);
        key(0.2, MissingPattern::Block, None).apply(&mut other, 4);
        assert_ne!(other.tasks[0].present, s.tasks[0].present);
    }

    #[test]
    fn a_training_fraction_keeps_the_mask_of_its_rows() {
        let mut s = suite(100, 10, 1);
        key(0.5, MissingPattern::Random, None).apply(&mut s, 9);
        let full = s.tasks[0].present.clone().unwrap().train;
        let part = s.with_train_fraction(0.3, 2).unwrap();
        let kept = &part.tasks[0].present.as_ref().unwrap().train;
        assert_eq!(kept.len(), part.x.train.rows);
        // The kept rows' x values are their row indices in the full split.
        for (r, x) in part.x.train.data.iter().enumerate() {
            assert_eq!(kept[r], full[*x as usize]);
        }
    }

    #[test]
    fn bad_keys_are_refused_with_their_path() {
        let splits = [("train", 100), ("val", 10), ("test", 10)];
        let err = |k: MissingLabels| k.validate(2, &splits).unwrap_err().key().to_string();
        assert_eq!(
            err(key(1.0, MissingPattern::Random, None)),
            "missing_labels.fraction"
        );
        assert_eq!(
            err(key(-0.1, MissingPattern::Random, None)),
            "missing_labels.fraction"
        );
        assert_eq!(
            err(key(f64::NAN, MissingPattern::Random, None)),
            "missing_labels.fraction"
        );
        assert_eq!(
            err(key(0.3, MissingPattern::Random, Some(vec![0, 2]))),
            "missing_labels.tasks[1]"
        );
        assert_eq!(
            err(key(0.3, MissingPattern::Random, Some(vec![1, 1]))),
            "missing_labels.tasks[1]"
        );
        assert_eq!(
            err(key(0.3, MissingPattern::Random, Some(vec![]))),
            "missing_labels.tasks"
        );
        // 0.96 of 10 validation rows rounds to all 10.
        assert_eq!(
            err(key(0.96, MissingPattern::Random, None)),
            "missing_labels.fraction"
        );
        assert!(key(0.94, MissingPattern::Block, Some(vec![1]))
            .validate(2, &splits)
            .is_ok());
        assert!(key(0.0, MissingPattern::Random, None)
            .validate(2, &splits)
            .is_ok());
    }
}
