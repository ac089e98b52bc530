//! `sinusoid`: the MAML regression family (Finn et al. 2017; docs/FORMULAS.md#sinusoid): task t is
//! y = Aₜ sin(x − φₜ) with Aₜ ~ U[amplitude], φₜ ~ U[phase], x ~ U[−5, 5] (one input shared
//! by the training tasks, row by row). Unseen tasks of the same family are drawn for
//! meta-test adaptation (`held_out_tasks`).

use crate::data::{Matrix, Splits, SuiteData, TaskData, TaskKind};
use crate::metrics::default_metrics;
use crate::seed;
use crate::TasksError;
use rand::Rng;
use serde::{Deserialize, Serialize};
use crate::suite::{Extent, Suite, TaskFamily};

/// Parameters of the sinusoid family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sinusoid {
    pub name: Option<String>,
    /// Labels left out of the training and validation splits (see `crate::missing`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_labels: Option<crate::missing::MissingLabels>,
    /// Training tasks.
    pub tasks: usize,
    /// Ranges of the amplitude A and the phase φ (narrower: more related tasks).
    pub amplitude: [f64; 2],
    pub phase: [f64; 2],
    pub train: usize,
    pub val: usize,
    pub test: usize,
}

impl Default for Sinusoid {
    fn default() -> Self {
        Sinusoid {
            name: None,
            missing_labels: None,
            tasks: 10,
            amplitude: [0.1, 5.0],
            phase: [0.0, std::f64::consts::PI],
            train: 200,
            val: 100,
            test: 200,
        }
    }
}

/// One task of the family: y = A sin(x − φ).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wave {
    pub amplitude: f64,
    pub phase: f64,
}

impl Wave {
    pub fn at(&self, x: f32) -> f32 {
        (self.amplitude * (f64::from(x) - self.phase).sin()) as f32
    }

    /// The targets of the one-column inputs `x`.
    pub fn targets(&self, x: &Matrix) -> Matrix {
        Matrix::new(x.rows, 1, x.data.iter().map(|v| self.at(*v)).collect())
    }
}

/// An unseen task's support and query points.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldOutTask {
    pub support_x: Matrix,
    pub support_y: Matrix,
    pub query_x: Matrix,
    pub query_y: Matrix,
}

impl Sinusoid {
    pub fn validate(&self) -> Result<(), TasksError> {
        if self.tasks == 0 {
            return Err(TasksError::invalid("tasks", "must be at least 1"));
        }
        for (key, [lo, hi]) in [("amplitude", self.amplitude), ("phase", self.phase)] {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                return Err(TasksError::invalid(
                    key,
                    "must be [low, high] with low ≤ high",
                ));
            }
        }
        for (key, n) in [
            ("train", self.train),
            ("val", self.val),
            ("test", self.test),
        ] {
            if n < 2 {
                return Err(TasksError::invalid(key, "must be at least 2"));
            }
        }
        Ok(())
    }

    fn wave(&self, rng: &mut impl Rng) -> Wave {
        let draw =
            |rng: &mut dyn rand::RngCore, [lo, hi]: [f64; 2]| lo + (hi - lo) * rng.gen::<f64>();
        Wave {
            amplitude: draw(rng, self.amplitude),
            phase: draw(rng, self.phase),
        }
    }

    fn inputs(n: usize, rng: &mut impl Rng) -> Matrix {
        Matrix::new(n, 1, (0..n).map(|_| rng.gen_range(-5.0f32..5.0)).collect())
    }

    /// Builds the training tasks; a pure function of `seed`.
    pub fn generate(&self, seed: u64) -> Result<SuiteData, TasksError> {
        self.validate()?;
        let mut rng = seed::stream(seed, &["sinusoid", "tasks"]);
        let waves: Vec<Wave> = (0..self.tasks).map(|_| self.wave(&mut rng)).collect();
        let mut xr = seed::stream(seed, &["sinusoid", "x"]);
        let x = Splits {
            train: Self::inputs(self.train, &mut xr),
            val: Self::inputs(self.val, &mut xr),
            test: Self::inputs(self.test, &mut xr),
        };
        let tasks = waves
            .iter()
            .enumerate()
            .map(|(t, w)| {
                let y = |m: &Matrix| w.targets(m);
                TaskData {
                    name: format!("wave{t}"),
                    kind: TaskKind::Regression { outputs: 1 },
                    metrics: default_metrics(TaskKind::Regression { outputs: 1 }),
                    y: Splits {
                        train: y(&x.train),
                        val: y(&x.val),
                        test: y(&x.test),
                    },
                    // E[A² sin²] = A²/2.
                    target_scale: (w.amplitude * w.amplitude / 2.0).max(1e-12) as f32,
                    present: None,
                }
            })
            .collect();
        Ok(SuiteData {
            name: "sinusoid".into(),
            x,
            tasks,
            planted_correlation: None,
            image: None,
        })
    }

    /// `n` unseen tasks of the family (drawn from streams the training tasks do not use),
    /// each with `shots` support points and `query` query points.
    pub fn held_out_tasks(
        &self,
        seed: u64,
        n: usize,
        shots: usize,
        query: usize,
    ) -> Vec<HeldOutTask> {
        (0..n)
            .map(|i| {
                let mut rng = seed::stream(seed, &["sinusoid", "held-out", &i.to_string()]);
                let wave = self.wave(&mut rng);
                let mut points = seed::stream(
                    seed,
                    &["sinusoid", "held-out", &i.to_string(), &shots.to_string()],
                );
                let support_x = Self::inputs(shots, &mut points);
                let query_x = Self::inputs(query, &mut points);
                HeldOutTask {
                    support_y: wave.targets(&support_x),
                    query_y: wave.targets(&query_x),
                    support_x,
                    query_x,
                }
            })
            .collect()
    }
}

impl Suite for Sinusoid {
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
        Sinusoid::validate(self)
    }
    fn extent(&self) -> Extent {
        Extent::new(self.train, self.val, self.test, 1, self.tasks)
    }
    fn oversize_key(&self) -> &'static str {
        "input_dim"
    }
    fn task_count(&self) -> usize {
        self.tasks
    }
    fn output_widths(&self) -> Vec<usize> {
        vec![1; self.tasks]
    }
    fn evaluated_rows(&self) -> usize {
        self.val.max(self.test)
    }
    fn generate(&self, seed: u64) -> Result<SuiteData, TasksError> {
        Sinusoid::generate(self, seed)
    }
    fn task_family(&self) -> Option<&dyn TaskFamily> {
        Some(self)
    }
    #[cfg(test)]
    fn audit(&self, _fixtures: &std::path::Path) -> crate::suite::Audit {
        crate::suite::Audit {
            suites: vec![Box::new(self.clone())],
            fixed_test: false,
        }
    }
}

/// Every parameter set can draw unseen waves.
impl TaskFamily for Sinusoid {
    fn check_held_out(&self) -> Result<(), TasksError> {
        Ok(())
    }
    fn held_out_tasks(&self, seed: u64, n: usize, shots: usize, query: usize) -> Vec<HeldOutTask> {
        Sinusoid::held_out_tasks(self, seed, n, shots, query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_follow_the_family_and_held_out_tasks_are_new() {
        let s = Sinusoid::default();
        let data = s.generate(3).unwrap();
        assert_eq!((data.tasks.len(), data.x.train.cols), (10, 1));
        assert!(data.x.train.data.iter().all(|x| (-5.0..5.0).contains(x)));
        // |y| ≤ A ≤ 5.
        assert!(data
            .tasks
            .iter()
            .all(|t| t.y.train.data.iter().all(|y| y.abs() <= 5.0)));
        let held = s.held_out_tasks(3, 4, 10, 50);
        assert_eq!(
            (held.len(), held[0].support_x.rows, held[0].query_x.rows),
            (4, 10, 50)
        );
        // The same held-out task for every shot count: its query targets follow one wave;
        // support and query differ.
        assert_ne!(held[0].support_x.data[..5], held[0].query_x.data[..5]);
        assert_eq!(held, s.held_out_tasks(3, 4, 10, 50));
    }
}
