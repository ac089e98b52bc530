//! A toy suite declared outside the registry's files, the way a new suite is added: one
//! file implementing [`Suite`] and one registry line (in `suite/tests.rs`). Three tasks, so
//! that a count that fell back to the two tasks most suites have is seen.

use crate::data::{Matrix, Splits, SuiteData, TaskData, TaskKind};
use crate::metrics::default_metrics;
use crate::suite::{Extent, Suite};
use crate::TasksError;
use serde::{Deserialize, Serialize};

/// Task t's target is (t + 1)·x, x = the row index over `rows`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThreeTasks {
    pub name: Option<String>,
    pub rows: usize,
}

impl Default for ThreeTasks {
    fn default() -> Self {
        ThreeTasks {
            name: None,
            rows: 4,
        }
    }
}

impl ThreeTasks {
    const TASKS: usize = 3;
}

impl Suite for ThreeTasks {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn missing_labels(&self) -> Option<&crate::missing::MissingLabels> {
        None
    }
    fn clear_label(&mut self) {
        self.name = None;
    }
    fn validate(&self) -> Result<(), TasksError> {
        if self.rows == 0 {
            return Err(TasksError::invalid("rows", "must be at least 1"));
        }
        Ok(())
    }
    fn extent(&self) -> Extent {
        Extent::new(self.rows, self.rows, self.rows, 1, Self::TASKS)
    }
    fn oversize_key(&self) -> &'static str {
        "rows"
    }
    fn task_count(&self) -> usize {
        Self::TASKS
    }
    fn output_widths(&self) -> Vec<usize> {
        vec![1; Self::TASKS]
    }
    fn evaluated_rows(&self) -> usize {
        self.rows
    }
    fn generate(&self, seed: u64) -> Result<SuiteData, TasksError> {
        let x = |offset: u64| {
            let data = (0..self.rows).map(|r| (r as u64 * 3 + offset) as f32).collect();
            Matrix::new(self.rows, 1, data)
        };
        let x = Splits {
            train: x(seed),
            val: x(seed + 1),
            test: x(seed + 2),
        };
        let kind = TaskKind::Regression { outputs: 1 };
        let scaled = |m: &Matrix, t: usize| {
            Matrix::new(m.rows, 1, m.data.iter().map(|v| v * (t + 1) as f32).collect())
        };
        let tasks = (0..Self::TASKS)
            .map(|t| TaskData {
                name: format!("t{t}"),
                kind,
                metrics: default_metrics(kind),
                y: Splits {
                    train: scaled(&x.train, t),
                    val: scaled(&x.val, t),
                    test: scaled(&x.test, t),
                },
                target_scale: 1.0,
                present: None,
            })
            .collect();
        Ok(SuiteData {
            name: "three_tasks".into(),
            x,
            tasks,
            planted_correlation: None,
            image: None,
        })
    }
    #[cfg(test)]
    fn audit(&self, _fixtures: &std::path::Path) -> crate::suite::Audit {
        crate::suite::Audit {
            suites: vec![Box::new(self.clone())],
            fixed_test: false,
        }
    }
}
