//! `task_tree`: a planted task hierarchy built from the planted-correlation generator
//! (`planted_correlation.rs`): fine tasks in groups, strongly related within a group and
//! weakly across, plus an optional coarse task related to every fine task.

use super::planted_correlation::PlantedCorrelation;
use serde::{Deserialize, Serialize};
use crate::data::SuiteData;
use crate::suite::{Extent, Suite};
use crate::TasksError;

/// `task_tree`: a planted task hierarchy. Fine tasks in `groups` (strongly related within,
/// `rho`; weakly across, `rho_between`), each a non-linear target (the planted generator's
/// sine terms), plus, with `coarse`, a last task whose target is linear in the input and
/// related to every fine task. The planted matrix (coarse row included) is recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskTree {
    pub name: Option<String>,
    /// Labels left out of the training and validation splits (see `crate::missing`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_labels: Option<crate::missing::MissingLabels>,
    pub groups: Vec<Vec<usize>>,
    pub rho: f64,
    pub rho_between: f64,
    pub coarse: bool,
    pub input_dim: usize,
    pub noise_std: f64,
    pub sin_terms: usize,
    pub train: usize,
    pub val: usize,
    pub test: usize,
}

impl Default for TaskTree {
    fn default() -> Self {
        TaskTree {
            name: None,
            missing_labels: None,
            groups: vec![vec![0, 1], vec![2, 3]],
            rho: 0.9,
            rho_between: 0.1,
            coarse: true,
            input_dim: 20,
            noise_std: 0.5,
            sin_terms: 5,
            train: 300,
            val: 200,
            test: 1000,
        }
    }
}

impl TaskTree {
    /// The planted generator this tree is made of.
    pub fn planted(&self) -> PlantedCorrelation {
        PlantedCorrelation {
            name: None,
            missing_labels: None,
            tasks: self.groups.iter().map(Vec::len).sum(),
            input_dim: self.input_dim,
            scale: 1.0,
            rho: self.rho,
            groups: Some(self.groups.clone()),
            rho_between: self.rho_between,
            sin_terms: self.sin_terms,
            noise_std: self.noise_std,
            train: self.train,
            val: self.val,
            test: self.test,
            coarse: self.coarse,
            noise_tasks: Vec::new(),
            held_out_rho: None,
        }
    }
}

impl Suite for TaskTree {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn missing_labels(&self) -> Option<&crate::missing::MissingLabels> {
        self.missing_labels.as_ref()
    }
    fn clear_label(&mut self) {
        self.name = None;
    }
    fn validate(&self) -> Result<(), TasksError> {
        self.planted().validate()
    }
    fn extent(&self) -> Extent {
        let p = self.planted();
        Extent::new(p.train, p.val, p.test, p.input_dim, self.task_count())
    }
    fn oversize_key(&self) -> &'static str {
        "input_dim"
    }
    /// The fine tasks of every group, and the coarse task when there is one.
    fn task_count(&self) -> usize {
        self.planted().tasks + usize::from(self.coarse)
    }
    fn output_widths(&self) -> Vec<usize> {
        vec![1; self.task_count()]
    }
    /// The training split's rows (the memory estimate has always bounded this suite's
    /// evaluation by them).
    fn evaluated_rows(&self) -> usize {
        self.train
    }
    fn generate(&self, seed: u64) -> Result<SuiteData, TasksError> {
        self.planted().generate(seed)
    }
    #[cfg(test)]
    fn audit(&self, _fixtures: &std::path::Path) -> crate::suite::Audit {
        crate::suite::Audit {
            suites: vec![Box::new(self.clone())],
            fixed_test: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The coarse task is linear in x and correlates with task k as Σⱼ Rⱼₖ/√ΣR.
    #[test]
    fn task_tree_adds_a_coarse_task_with_its_planted_correlation() {
        let tree = TaskTree {
            rho: 0.8,
            rho_between: 0.0,
            noise_std: 0.0,
            ..Default::default()
        };
        let s = tree.planted().generate(4).unwrap();
        assert_eq!(s.tasks.len(), 5);
        assert_eq!(s.tasks[4].name, "coarse");
        let r = s.planted_correlation.unwrap();
        // Blocks {0,1} {2,3} at 0.8: ΣR = 4 + 4·0.8 = 7.2; column sums 1.8.
        assert!((r[4][0] - 1.8 / 7.2f64.sqrt()).abs() < 1e-12);
        assert_eq!(r[4][4], 1.0);
        // Without sine terms the fine targets are the linear wₖᵀx, and the coarse target is
        // their sum over √ΣR; it is the same with sine terms (it has none).
        let linear = TaskTree {
            sin_terms: 0,
            ..tree
        }
        .planted()
        .generate(4)
        .unwrap();
        assert_eq!(linear.tasks[4].y.train, s.tasks[4].y.train);
        for row in 0..10 {
            let sum: f64 = (0..4)
                .map(|t| f64::from(linear.tasks[t].y.train.data[row]))
                .sum();
            let coarse = f64::from(s.tasks[4].y.train.data[row]);
            assert!(
                (coarse - sum / 7.2f64.sqrt()).abs() < 1e-4,
                "{coarse} vs {sum}"
            );
        }
    }
}
