//! `gradnorm_toy`: the GradNorm paper's regression toy (Chen et al. 2018, §4;
//! docs/FORMULAS.md#gradnorm_toy). Task i regresses fᵢ(x) = σᵢ·tanh((B + εᵢ)x) with squared
//! loss; the σᵢ spread makes the task losses differ by orders of magnitude.
//!
//! Choices recorded here: the paper's "N(0, 10)" and "N(0, 3.5)" are read as **standard
//! deviations** (as the common port's `np.random.normal(scale=…)` does); the input is the
//! port's x ~ U(−1, 1)²⁵⁰ normalised to unit length (`input: gaussian` gives x ~ N(0, I));
//! the default is T = 10 with σ spread geometrically from 1 to 100 (the paper's T = 10
//! values appear only in a figure).

use crate::data::{Matrix, Splits, SuiteData, TaskData, TaskKind};
use crate::metrics::default_metrics;
use crate::seed;
use crate::TasksError;
use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};
use serde::{Deserialize, Serialize};
use crate::suite::{Extent, Suite};

/// How the toy draws its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ToyInput {
    /// x ~ U(−1, 1)^d, then x ← x/‖x‖ (the common port).
    #[default]
    NormalizedUniform,
    /// x ~ N(0, I_d).
    Gaussian,
}

/// Parameters of the GradNorm toy suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradnormToy {
    /// Label of this suite in tables and run ids (default: the kind). Not part of the data.
    pub name: Option<String>,
    /// Labels left out of the training and validation splits (see `crate::missing`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_labels: Option<crate::missing::MissingLabels>,
    /// Number of tasks T.
    pub tasks: usize,
    /// Output scales σᵢ; default: T values spread geometrically from 1 to 100.
    pub sigmas: Option<Vec<f64>>,
    pub input_dim: usize,
    pub output_dim: usize,
    /// Standard deviation of the entries of the shared matrix B.
    pub b_std: f64,
    /// Standard deviation of the entries of each task's εᵢ.
    pub eps_std: f64,
    pub input: ToyInput,
    pub train: usize,
    pub val: usize,
    pub test: usize,
}

impl Default for GradnormToy {
    fn default() -> Self {
        GradnormToy {
            name: None,
            missing_labels: None,
            tasks: 10,
            sigmas: None,
            input_dim: 250,
            output_dim: 100,
            b_std: 10.0,
            eps_std: 3.5,
            input: ToyInput::NormalizedUniform,
            train: 1000,
            val: 200,
            test: 1000,
        }
    }
}

impl GradnormToy {
    /// The σᵢ in use: the given list, or T values geometric from 1 to 100.
    pub fn sigma_values(&self) -> Vec<f64> {
        match &self.sigmas {
            Some(s) => s.clone(),
            None if self.tasks <= 1 => vec![1.0; self.tasks],
            None => (0..self.tasks)
                .map(|i| 100f64.powf(i as f64 / (self.tasks - 1) as f64))
                .collect(),
        }
    }

    pub fn validate(&self) -> Result<(), TasksError> {
        if self.tasks == 0 {
            return Err(TasksError::invalid("tasks", "must be at least 1"));
        }
        if let Some(s) = &self.sigmas {
            if s.len() != self.tasks {
                return Err(TasksError::invalid(
                    "sigmas",
                    format!("has {} values but tasks is {}", s.len(), self.tasks),
                ));
            }
            if s.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(TasksError::invalid(
                    "sigmas",
                    "every σ must be finite and > 0",
                ));
            }
        }
        for (key, v) in [
            ("input_dim", self.input_dim),
            ("output_dim", self.output_dim),
            ("train", self.train),
            ("val", self.val),
            ("test", self.test),
        ] {
            if v == 0 {
                return Err(TasksError::invalid(key, "must be at least 1"));
            }
        }
        if !(self.b_std >= 0.0 && self.eps_std >= 0.0) {
            return Err(TasksError::invalid(
                "b_std",
                "standard deviations must be ≥ 0",
            ));
        }
        Ok(())
    }

    /// Generates the suite; a pure function of `seed`.
    pub fn generate(&self, seed: u64) -> Result<SuiteData, TasksError> {
        self.validate()?;
        let (d_in, d_out) = (self.input_dim, self.output_dim);
        let mut rng = seed::stream(seed, &["gradnorm_toy", "matrices"]);
        let b_dist = Normal::new(0.0, self.b_std).expect("validated std");
        let e_dist = Normal::new(0.0, self.eps_std).expect("validated std");
        let b: Vec<f64> = (0..d_out * d_in).map(|_| b_dist.sample(&mut rng)).collect();
        let task_mats: Vec<Vec<f64>> = (0..self.tasks)
            .map(|_| b.iter().map(|v| v + e_dist.sample(&mut rng)).collect())
            .collect();

        let draw_x = |split: &str, n: usize| -> Matrix {
            let mut rng = seed::stream(seed, &["gradnorm_toy", "x", split]);
            let mut data = Vec::with_capacity(n * d_in);
            for _ in 0..n {
                let row: Vec<f64> = match self.input {
                    ToyInput::Gaussian => (0..d_in)
                        .map(|_| rng.sample(rand_distr::StandardNormal))
                        .collect(),
                    ToyInput::NormalizedUniform => {
                        let u = Uniform::new(-1.0f64, 1.0);
                        let v: Vec<f64> = (0..d_in).map(|_| u.sample(&mut rng)).collect();
                        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-12);
                        v.into_iter().map(|a| a / norm).collect()
                    }
                };
                data.extend(row.into_iter().map(|v| v as f32));
            }
            Matrix::new(n, d_in, data)
        };
        let x = Splits {
            train: draw_x("train", self.train),
            val: draw_x("val", self.val),
            test: draw_x("test", self.test),
        };

        let sigmas = self.sigma_values();
        let tasks = (0..self.tasks)
            .map(|t| {
                let target = |xs: &Matrix| -> Matrix {
                    let mut data = Vec::with_capacity(xs.rows * d_out);
                    for r in 0..xs.rows {
                        let row = xs.row(r);
                        for o in 0..d_out {
                            let w = &task_mats[t][o * d_in..(o + 1) * d_in];
                            let z: f64 = w.iter().zip(row).map(|(a, b)| a * f64::from(*b)).sum();
                            data.push((sigmas[t] * z.tanh()) as f32);
                        }
                    }
                    Matrix::new(xs.rows, d_out, data)
                };
                TaskData {
                    name: format!("task{t}"),
                    kind: TaskKind::Regression { outputs: d_out },
                    metrics: default_metrics(TaskKind::Regression { outputs: 1 }),
                    y: Splits {
                        train: target(&x.train),
                        val: target(&x.val),
                        test: target(&x.test),
                    },
                    // MSE/σ² is the paper's task-normalised loss.
                    target_scale: (sigmas[t] * sigmas[t]) as f32,
                    present: None,
                }
            })
            .collect();
        Ok(SuiteData {
            name: "gradnorm_toy".into(),
            x,
            tasks,
            planted_correlation: None,
            image: None,
        })
    }
}

impl Suite for GradnormToy {
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
        GradnormToy::validate(self)
    }
    fn extent(&self) -> Extent {
        let outputs = self.tasks.saturating_mul(self.output_dim);
        Extent::new(self.train, self.val, self.test, self.input_dim, outputs)
    }
    /// Every task's target is `output_dim` wide: the width that grows fastest.
    fn oversize_key(&self) -> &'static str {
        "output_dim"
    }
    fn task_count(&self) -> usize {
        self.tasks
    }
    fn output_widths(&self) -> Vec<usize> {
        vec![self.output_dim; self.tasks]
    }
    fn evaluated_rows(&self) -> usize {
        self.val.max(self.test)
    }
    fn generate(&self, seed: u64) -> Result<SuiteData, TasksError> {
        GradnormToy::generate(self, seed)
    }
    #[cfg(test)]
    fn audit(&self, _fixtures: &std::path::Path) -> crate::suite::Audit {
        let small = GradnormToy {
            input_dim: 16,
            output_dim: 4,
            ..self.clone()
        };
        crate::suite::Audit {
            suites: vec![Box::new(small)],
            fixed_test: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> GradnormToy {
        GradnormToy {
            tasks: 3,
            input_dim: 8,
            output_dim: 4,
            train: 20,
            val: 5,
            test: 7,
            ..Default::default()
        }
    }

    #[test]
    fn pure_function_of_seed_with_scaled_targets() {
        let a = small().generate(1).unwrap();
        assert_eq!(a, small().generate(1).unwrap());
        assert_ne!(a, small().generate(2).unwrap());
        assert_eq!(a.tasks[2].y.test.rows, 7);
        let sig = small().sigma_values();
        assert_eq!(sig.len(), 3);
        assert!((sig[0] - 1.0).abs() < 1e-12 && (sig[2] - 100.0).abs() < 1e-9);
        for (t, task) in a.tasks.iter().enumerate() {
            assert!(task
                .y
                .train
                .data
                .iter()
                .all(|v| v.abs() as f64 <= sig[t] + 1e-4));
        }
        let norm: f32 = a.x.train.row(0).iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-4);
    }

    #[test]
    fn rejects_mismatched_sigmas() {
        let bad = GradnormToy {
            sigmas: Some(vec![1.0]),
            ..small()
        };
        assert!(bad
            .generate(0)
            .unwrap_err()
            .to_string()
            .starts_with("sigmas"));
    }
}
