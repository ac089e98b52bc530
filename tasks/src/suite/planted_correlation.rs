//! `planted_correlation`: the MMoE controlled-relatedness generator (Ma et al. 2018 §3.2)
//! generalised to K tasks with a target correlation matrix R
//! (docs/FORMULAS.md#planted_correlation).
//!
//! wₖ = c·U·chol(R)ₖ with U an orthonormal d×K basis, so cos(wᵢ, wⱼ) = Rᵢⱼ exactly;
//! x ~ N(0, I_d); yₖ = wₖᵀx + Σᵢ₌₁..ₘ sin(αᵢ wₖᵀx + βᵢ) + εₖ, εₖ ~ N(0, noise_std²), with the
//! same (αᵢ, βᵢ) ~ N(0, 1) for every task. R is one `rho` for all pairs, or blocks: `rho`
//! within each of `groups` and `rho_between` across groups. The suite records R.

use crate::data::{Matrix, Splits, SuiteData, TaskData, TaskKind};
use crate::linalg;
use crate::metrics::default_metrics;
use crate::seed;
use crate::TasksError;
use rand::Rng;
use rand_distr::{Normal, StandardNormal};
use serde::{Deserialize, Serialize};
use crate::suite::sinusoid::HeldOutTask;
use crate::suite::{Extent, Suite, TaskFamily};

/// Parameters of the planted-correlation suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlantedCorrelation {
    /// Label of this suite in tables and run ids (default: the kind). Not part of the data.
    pub name: Option<String>,
    /// Labels left out of the training and validation splits (see `crate::missing`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_labels: Option<crate::missing::MissingLabels>,
    /// Number of tasks K.
    pub tasks: usize,
    pub input_dim: usize,
    /// Norm c of every task vector wₖ.
    pub scale: f64,
    /// Correlation of every pair, or of pairs within a group when `groups` is set.
    pub rho: f64,
    /// Planted groups (a partition of 0..K); pairs across groups get `rho_between`.
    pub groups: Option<Vec<Vec<usize>>>,
    pub rho_between: f64,
    /// Number m of sine terms.
    pub sin_terms: usize,
    pub noise_std: f64,
    pub train: usize,
    pub val: usize,
    pub test: usize,
    /// Adds a last task `coarse`: the linear target (Σₖ wₖ)ᵀx/√(Σᵢⱼ Rᵢⱼ) + ε, no sine
    /// terms: a simple function of the input related to every task (`task_tree`). Left out
    /// of the canonical parameters when false, so existing suites keep their seeds.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub coarse: bool,
    /// Tasks whose targets are pure noise, N(0, 1) drawn independently of x (a task that
    /// nothing can learn: meta-learned weightings should give it the lowest weight). Left
    /// out of the canonical parameters when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub noise_tasks: Vec<usize>,
    /// Meta-test adaptation: the correlation of each unseen task's vector with every
    /// training task's (default `rho`). Left out of the canonical parameters when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_out_rho: Option<f64>,
}

/// The seeded structure behind a planted suite: the task vectors and the sine terms.
struct Structure {
    basis: Vec<Vec<f64>>,
    weights: Vec<Vec<f64>>,
    sines: Vec<(f64, f64)>,
}

impl Structure {
    /// The noise-free target of input `row` for task vector `w`: z = wᵀx plus, with
    /// `waves`, the shared sine terms Σ sin(αᵢz + βᵢ).
    fn signal(&self, w: &[f64], row: &[f32], waves: bool) -> f64 {
        let z: f64 = w.iter().zip(row).map(|(w, v)| w * f64::from(*v)).sum();
        let wave: f64 = if waves {
            self.sines.iter().map(|(a, b)| (a * z + b).sin()).sum()
        } else {
            0.0
        };
        z + wave
    }
}

impl Default for PlantedCorrelation {
    fn default() -> Self {
        PlantedCorrelation {
            name: None,
            missing_labels: None,
            tasks: 4,
            input_dim: 100,
            scale: 1.0,
            rho: 0.5,
            groups: None,
            rho_between: 0.0,
            sin_terms: 5,
            noise_std: 0.1,
            train: 200,
            val: 200,
            test: 1000,
            coarse: false,
            noise_tasks: Vec::new(),
            held_out_rho: None,
        }
    }
}

impl PlantedCorrelation {
    /// The planted correlation matrix R (K×K, unit diagonal).
    pub fn correlation_matrix(&self) -> Vec<Vec<f64>> {
        let k = self.tasks;
        let group_of: Vec<Option<usize>> = (0..k)
            .map(|t| {
                self.groups
                    .as_ref()
                    .and_then(|gs| gs.iter().position(|g| g.contains(&t)))
            })
            .collect();
        (0..k)
            .map(|i| {
                (0..k)
                    .map(|j| {
                        if i == j {
                            1.0
                        } else if self.groups.is_none() || group_of[i] == group_of[j] {
                            self.rho
                        } else {
                            self.rho_between
                        }
                    })
                    .collect()
            })
            .collect()
    }

    pub fn validate(&self) -> Result<(), TasksError> {
        if self.tasks == 0 {
            return Err(TasksError::invalid("tasks", "must be at least 1"));
        }
        if self.input_dim < self.tasks {
            return Err(TasksError::invalid(
                "input_dim",
                format!(
                    "must be at least tasks ({}) to hold K orthogonal directions",
                    self.tasks
                ),
            ));
        }
        for (key, v) in [("rho", self.rho), ("rho_between", self.rho_between)] {
            if !(-1.0..=1.0).contains(&v) {
                return Err(TasksError::invalid(key, format!("{v} is not in [-1, 1]")));
            }
        }
        if let Some(groups) = &self.groups {
            let mut seen = vec![0usize; self.tasks];
            for t in groups.iter().flatten() {
                if *t >= self.tasks {
                    return Err(TasksError::invalid(
                        "groups",
                        format!("task {t} does not exist (tasks are 0..{})", self.tasks - 1),
                    ));
                }
                seen[*t] += 1;
            }
            if seen.iter().any(|c| *c != 1) {
                return Err(TasksError::invalid(
                    "groups",
                    "must name every task exactly once (a partition of the tasks)",
                ));
            }
        }
        if let Some(t) = self.noise_tasks.iter().find(|t| **t >= self.tasks) {
            return Err(TasksError::invalid(
                "noise_tasks",
                format!("task {t} does not exist"),
            ));
        }
        if !self.scale.is_finite() {
            return Err(TasksError::invalid("scale", "must be finite"));
        }
        if !(self.noise_std.is_finite() && self.noise_std >= 0.0) {
            return Err(TasksError::invalid(
                "noise_std",
                format!("{} is not a finite number ≥ 0", self.noise_std),
            ));
        }
        for (key, v) in [
            ("train", self.train),
            ("val", self.val),
            ("test", self.test),
        ] {
            if v < 2 {
                return Err(TasksError::invalid(key, "must be at least 2"));
            }
        }
        if self.held_out_rho.is_some() {
            self.check_held_out()?;
        }
        if linalg::cholesky_psd(&self.correlation_matrix(), 1e-9).is_none() {
            return Err(TasksError::invalid(
                "rho",
                "the planted correlation matrix is not positive semi-definite \
                 (with K tasks, an all-pairs rho must be ≥ -1/(K-1))",
            ));
        }
        Ok(())
    }

    /// The task vectors wₖ = c·Σⱼ chol(R)ₖⱼ uⱼ and the shared sine terms of `seed`.
    fn structure(&self, seed: u64) -> Structure {
        let (k, d) = (self.tasks, self.input_dim);
        let l = linalg::cholesky_psd(&self.correlation_matrix(), 1e-9).expect("validated PSD");
        let mut rng = seed::stream(seed, &["planted_correlation", "structure"]);
        let basis = linalg::orthonormal_basis(d, k, || rng.sample(StandardNormal));
        let weights: Vec<Vec<f64>> = (0..k)
            .map(|t| {
                (0..d)
                    .map(|e| self.scale * (0..k).map(|j| l[t][j] * basis[j][e]).sum::<f64>())
                    .collect()
            })
            .collect();
        let sines: Vec<(f64, f64)> = (0..self.sin_terms)
            .map(|_| (rng.sample(StandardNormal), rng.sample(StandardNormal)))
            .collect();
        Structure {
            basis,
            weights,
            sines,
        }
    }

    /// The correlation matrix extended by one unseen task correlated `held_out_rho` (or
    /// `rho`) with every training task.
    fn extended_matrix(&self) -> Vec<Vec<f64>> {
        let rho = self.held_out_rho.unwrap_or(self.rho);
        let mut r = self.correlation_matrix();
        for row in &mut r {
            row.push(rho);
        }
        r.push((0..self.tasks).map(|_| rho).chain([1.0]).collect());
        r
    }

    /// Whether unseen tasks can be drawn: one more input direction than tasks, and a
    /// correlation `held_out_rho` (or `rho`) to every training task that R allows.
    pub fn check_held_out(&self) -> Result<(), TasksError> {
        let rho = self.held_out_rho.unwrap_or(self.rho);
        if self.input_dim <= self.tasks {
            return Err(TasksError::invalid(
                "input_dim",
                "unseen tasks need input_dim > tasks (a new direction)",
            ));
        }
        if !(-1.0..=1.0).contains(&rho)
            || linalg::cholesky_psd(&self.extended_matrix(), 1e-9).is_none()
        {
            return Err(TasksError::invalid(
                "held_out_rho",
                format!("{rho}: an unseen task with this correlation to every training task is not possible (the extended matrix is not PSD)"),
            ));
        }
        Ok(())
    }

    /// Unseen task i's vector: a new orthonormal direction (its own stream) completes the
    /// Cholesky factor of the extended matrix, so cos(w_new, wₖ) = `held_out_rho` exactly.
    fn held_out_vector(&self, seed: u64, structure: &Structure, i: usize) -> Vec<f64> {
        let (k, d) = (self.tasks, self.input_dim);
        let l = linalg::cholesky_psd(&self.extended_matrix(), 1e-9).expect("validated PSD");
        let mut rng = seed::stream(
            seed,
            &["planted_correlation", "held-out-direction", &i.to_string()],
        );
        let mut direction: Vec<f64> = Vec::new();
        while direction.is_empty() {
            let mut v: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
            for b in &structure.basis {
                let dot: f64 = v.iter().zip(b).map(|(x, y)| x * y).sum();
                v.iter_mut().zip(b).for_each(|(x, y)| *x -= dot * y);
            }
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 1e-8 {
                direction = v.into_iter().map(|x| x / norm).collect();
            }
        }
        (0..d)
            .map(|e| {
                let along: f64 = (0..k).map(|j| l[k][j] * structure.basis[j][e]).sum();
                self.scale * (along + l[k][k] * direction[e])
            })
            .collect()
    }

    /// `n` unseen tasks (vectors from `held_out_vector`, the suite's sine terms and noise),
    /// each with `shots` support and `query` query points, x ~ N(0, I).
    pub fn held_out_tasks(
        &self,
        seed: u64,
        n: usize,
        shots: usize,
        query: usize,
    ) -> Vec<crate::sinusoid::HeldOutTask> {
        let structure = self.structure(seed);
        let d = self.input_dim;
        let noise = Normal::new(0.0, self.noise_std).expect("validated std");
        (0..n)
            .map(|i| {
                let w = self.held_out_vector(seed, &structure, i);
                let mut rng = seed::stream(
                    seed,
                    &[
                        "planted_correlation",
                        "held-out",
                        &i.to_string(),
                        &shots.to_string(),
                    ],
                );
                let mut draw = |rows: usize| {
                    let x: Vec<f32> = (0..rows * d)
                        .map(|_| rng.sample::<f64, _>(StandardNormal) as f32)
                        .collect();
                    let y: Vec<f32> = x
                        .chunks(d)
                        .map(|row| (structure.signal(&w, row, true) + rng.sample(noise)) as f32)
                        .collect();
                    (Matrix::new(rows, d, x), Matrix::new(rows, 1, y))
                };
                let (support_x, support_y) = draw(shots);
                let (query_x, query_y) = draw(query);
                crate::sinusoid::HeldOutTask {
                    support_x,
                    support_y,
                    query_x,
                    query_y,
                }
            })
            .collect()
    }

    /// Generates the suite; a pure function of `seed`.
    pub fn generate(&self, seed: u64) -> Result<SuiteData, TasksError> {
        self.validate()?;
        let (k, d) = (self.tasks, self.input_dim);
        let r = self.correlation_matrix();
        let structure = self.structure(seed);
        let weights = &structure.weights;

        let draw_x = |split: &str, n: usize| -> Matrix {
            let mut rng = seed::stream(seed, &["planted_correlation", "x", split]);
            let data = (0..n * d)
                .map(|_| rng.sample::<f64, _>(StandardNormal) as f32)
                .collect();
            Matrix::new(n, d, data)
        };
        let x = Splits {
            train: draw_x("train", self.train),
            val: draw_x("val", self.val),
            test: draw_x("test", self.test),
        };
        let noise = Normal::new(0.0, self.noise_std).expect("validated std");
        // The coarse task's vector: Σₖ wₖ scaled to norm c, so cos(w_c, wₖ) = Σⱼ Rⱼₖ/√ΣR.
        let total: f64 = r.iter().flatten().sum::<f64>().max(1e-12);
        let coarse_weights: Vec<f64> = (0..d)
            .map(|e| weights.iter().map(|w| w[e]).sum::<f64>() / total.sqrt())
            .collect();
        let targets = |t: usize, split: &str, xs: &Matrix| -> Matrix {
            let mut rng = seed::stream(
                seed,
                &["planted_correlation", "noise", split, &t.to_string()],
            );
            if self.noise_tasks.contains(&t) {
                let data = (0..xs.rows)
                    .map(|_| rng.sample::<f64, _>(StandardNormal) as f32)
                    .collect();
                return Matrix::new(xs.rows, 1, data);
            }
            let (w, waves) = if t < k {
                (&weights[t], true)
            } else {
                (&coarse_weights, false)
            };
            let data = (0..xs.rows)
                .map(|row| (structure.signal(w, xs.row(row), waves) + rng.sample(noise)) as f32)
                .collect();
            Matrix::new(xs.rows, 1, data)
        };
        let count = k + usize::from(self.coarse);
        let tasks = (0..count)
            .map(|t| {
                let train = targets(t, "train", &x.train);
                let mean =
                    train.data.iter().map(|v| f64::from(*v)).sum::<f64>() / train.rows as f64;
                let var = train
                    .data
                    .iter()
                    .map(|v| (f64::from(*v) - mean).powi(2))
                    .sum::<f64>()
                    / train.rows as f64;
                TaskData {
                    name: if t < k {
                        format!("task{t}")
                    } else {
                        "coarse".into()
                    },
                    kind: TaskKind::Regression { outputs: 1 },
                    metrics: default_metrics(TaskKind::Regression { outputs: 1 }),
                    y: Splits {
                        train,
                        val: targets(t, "val", &x.val),
                        test: targets(t, "test", &x.test),
                    },
                    // MSE divided by the training-target variance: 1 − R² on train scale.
                    target_scale: var.max(1e-12) as f32,
                    present: None,
                }
            })
            .collect();
        let mut planted = r.clone();
        if self.coarse {
            // cos(w_c, wₖ) = Σⱼ Rⱼₖ / √(Σᵢⱼ Rᵢⱼ).
            let column: Vec<f64> = (0..k)
                .map(|c| (0..k).map(|j| r[j][c]).sum::<f64>() / total.sqrt())
                .collect();
            for (row, c) in planted.iter_mut().zip(&column) {
                row.push(*c);
            }
            planted.push(column.into_iter().chain([1.0]).collect());
        }
        Ok(SuiteData {
            name: "planted_correlation".into(),
            x,
            tasks,
            planted_correlation: Some(planted),
            image: None,
        })
    }
}

impl Suite for PlantedCorrelation {
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
        PlantedCorrelation::validate(self)
    }
    fn extent(&self) -> Extent {
        let outputs = self.task_count();
        Extent::new(self.train, self.val, self.test, self.input_dim, outputs)
    }
    fn oversize_key(&self) -> &'static str {
        "input_dim"
    }
    /// The planted tasks, and the coarse task when there is one.
    fn task_count(&self) -> usize {
        self.tasks + usize::from(self.coarse)
    }
    fn output_widths(&self) -> Vec<usize> {
        vec![1; self.task_count()]
    }
    fn evaluated_rows(&self) -> usize {
        self.val.max(self.test)
    }
    fn generate(&self, seed: u64) -> Result<SuiteData, TasksError> {
        PlantedCorrelation::generate(self, seed)
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

impl TaskFamily for PlantedCorrelation {
    fn check_held_out(&self) -> Result<(), TasksError> {
        PlantedCorrelation::check_held_out(self)
    }
    fn held_out_tasks(&self, seed: u64, n: usize, shots: usize, query: usize) -> Vec<HeldOutTask> {
        PlantedCorrelation::held_out_tasks(self, seed, n, shots, query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_vectors_have_the_planted_cosines() {
        let spec = PlantedCorrelation {
            tasks: 4,
            groups: Some(vec![vec![0, 1], vec![2, 3]]),
            rho: 0.9,
            rho_between: 0.1,
            ..Default::default()
        };
        let r = spec.correlation_matrix();
        assert_eq!(r[0][1], 0.9);
        assert_eq!(r[1][2], 0.1);
        let suite = spec.generate(5).unwrap();
        assert_eq!(suite.planted_correlation.as_ref().unwrap(), &r);
        // Labels of strongly planted pairs correlate more than weakly planted pairs.
        let corr = |a: usize, b: usize| -> f64 {
            let (ya, yb) = (&suite.tasks[a].y.test.data, &suite.tasks[b].y.test.data);
            let n = ya.len() as f64;
            let (ma, mb) = (
                ya.iter().map(|v| f64::from(*v)).sum::<f64>() / n,
                yb.iter().map(|v| f64::from(*v)).sum::<f64>() / n,
            );
            let cov: f64 = ya
                .iter()
                .zip(yb)
                .map(|(x, y)| (f64::from(*x) - ma) * (f64::from(*y) - mb))
                .sum();
            let va: f64 = ya.iter().map(|x| (f64::from(*x) - ma).powi(2)).sum();
            let vb: f64 = yb.iter().map(|y| (f64::from(*y) - mb).powi(2)).sum();
            cov / (va * vb).sqrt()
        };
        assert!(
            corr(0, 1) > corr(0, 2) + 0.3,
            "{} vs {}",
            corr(0, 1),
            corr(0, 2)
        );
        assert!(corr(2, 3) > corr(1, 3) + 0.3);
    }

    #[test]
    fn rejects_impossible_matrices_and_bad_groups() {
        let neg = PlantedCorrelation {
            tasks: 3,
            rho: -0.9,
            ..Default::default()
        };
        assert!(neg.validate().unwrap_err().to_string().starts_with("rho"));
        let ok = PlantedCorrelation {
            tasks: 3,
            rho: -0.5,
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
        let bad = PlantedCorrelation {
            groups: Some(vec![vec![0, 1], vec![1, 2, 3]]),
            ..Default::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("groups"));
    }

    /// Unseen tasks have exactly the requested correlation with every training task, and
    /// the training suite does not change when they are drawn.
    #[test]
    fn held_out_vectors_have_the_requested_correlation() {
        let p = PlantedCorrelation {
            tasks: 3,
            input_dim: 10,
            rho: 0.5,
            held_out_rho: Some(0.8),
            ..Default::default()
        };
        p.validate().unwrap();
        let s = p.structure(7);
        let cos = |a: &[f64], b: &[f64]| {
            let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let n = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
            dot / (n(a) * n(b))
        };
        for i in 0..3 {
            let w = p.held_out_vector(7, &s, i);
            for k in 0..3 {
                assert!((cos(&w, &s.weights[k]) - 0.8).abs() < 1e-9);
            }
        }
        let (a, b) = (p.held_out_vector(7, &s, 0), p.held_out_vector(7, &s, 1));
        assert!(cos(&a, &b) < 0.999, "unseen tasks differ");
        let tasks = p.held_out_tasks(7, 2, 5, 20);
        assert_eq!(
            (tasks.len(), tasks[0].support_x.rows, tasks[0].query_x.cols),
            (2, 5, 10)
        );
        // The training data do not depend on the unseen tasks' setting.
        let plain = PlantedCorrelation {
            held_out_rho: None,
            ..p.clone()
        };
        assert_eq!(plain.generate(7).unwrap(), p.generate(7).unwrap());
        // Impossible correlations are refused: −0.9 to three tasks at 0.5.
        assert!(PlantedCorrelation {
            held_out_rho: Some(-0.9),
            ..p
        }
        .validate()
        .is_err());
    }
}
