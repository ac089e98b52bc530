//! Suite data as plain buffers: row-major matrices, train/val/test splits, task kinds,
//! and nested seeded training fractions.

use crate::metrics::MetricSpec;
use crate::missing::Presence;
use crate::seed;
use crate::TasksError;
use rand::seq::SliceRandom;
use serde::Serialize;

/// A dense row-major `rows × cols` matrix of `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Self {
        assert_eq!(
            data.len(),
            rows * cols,
            "matrix buffer has the wrong length"
        );
        Matrix { rows, cols, data }
    }

    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix::new(rows, cols, vec![0.0; rows * cols])
    }

    pub fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// The rows named by `indices`, in that order.
    pub fn select_rows(&self, indices: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(indices.len() * self.cols);
        for &r in indices {
            data.extend_from_slice(self.row(r));
        }
        Matrix::new(indices.len(), self.cols, data)
    }
}

/// The same thing for each of the three splits.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits<T> {
    pub train: T,
    pub val: T,
    pub test: T,
}

/// What a task predicts, which fixes its loss and its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TaskKind {
    /// `outputs` real targets, squared-error loss.
    Regression { outputs: usize },
    /// One of `classes` labels (stored as the class index in a one-column matrix),
    /// softmax cross-entropy loss.
    Classification { classes: usize },
}

impl TaskKind {
    /// Width of the network output for this task.
    pub fn output_width(&self) -> usize {
        match *self {
            TaskKind::Regression { outputs } => outputs,
            TaskKind::Classification { classes } => classes,
        }
    }
}

/// One task of a single-input suite: its targets for each split and how it is scored.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskData {
    pub name: String,
    pub kind: TaskKind,
    pub metrics: Vec<MetricSpec>,
    /// Targets, row-aligned with the suite's inputs.
    pub y: Splits<Matrix>,
    /// Scale that the `normalized_mse` metric divides by (target variance for the toy).
    pub target_scale: f32,
    /// Which training and validation rows carry a label (`missing_labels`); `None`: all.
    pub present: Option<Presence>,
}

/// The shape of an image input: `height` × `width` pixels of `channels` values, stored in
/// a row of the input matrix channel fastest (NHWC): pixel (h, w), channel c is column
/// (h·width + w)·channels + c.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageShape {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl ImageShape {
    /// Values per image (height × width × channels).
    pub fn len(&self) -> usize {
        self.height * self.width * self.channels
    }

    /// Whether the image holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The shape of one input row: its width, and its image shape when the suite's inputs are
/// images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputShape {
    pub width: usize,
    pub image: Option<ImageShape>,
}

impl From<usize> for InputShape {
    /// A flat input of `width` features.
    fn from(width: usize) -> Self {
        InputShape { width, image: None }
    }
}

impl From<ImageShape> for InputShape {
    fn from(image: ImageShape) -> Self {
        InputShape {
            width: image.len(),
            image: Some(image),
        }
    }
}

/// A generated suite: one input matrix per split shared by all tasks, and the tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteData {
    pub name: String,
    pub x: Splits<Matrix>,
    pub tasks: Vec<TaskData>,
    /// The planted task-correlation matrix, when the suite plants one (row-major T×T).
    pub planted_correlation: Option<Vec<Vec<f64>>>,
    /// The image each input row holds, for image suites (`None`: flat features).
    pub image: Option<ImageShape>,
}

impl SuiteData {
    pub fn input_width(&self) -> usize {
        self.x.train.cols
    }

    /// The input's width and, for image suites, its image shape.
    pub fn input_shape(&self) -> InputShape {
        InputShape {
            width: self.input_width(),
            image: self.image,
        }
    }

    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// The same data with only the tasks `keep` (indices, in the given order); the planted
    /// matrix is restricted alike. Used by pairwise-transfer runs.
    pub fn select_tasks(&self, keep: &[usize]) -> SuiteData {
        SuiteData {
            name: self.name.clone(),
            x: self.x.clone(),
            tasks: keep.iter().map(|&t| self.tasks[t].clone()).collect(),
            planted_correlation: self.planted_correlation.as_ref().map(|r| {
                keep.iter()
                    .map(|&i| keep.iter().map(|&j| r[i][j]).collect())
                    .collect()
            }),
            image: self.image,
        }
    }

    /// Keeps a nested, seeded subset of the training split: the first ⌈f·N⌉ rows of one
    /// permutation drawn from `seed`, so the subset for a smaller fraction is always inside
    /// the subset for a larger one.
    pub fn with_train_fraction(mut self, fraction: f64, seed: u64) -> Result<Self, TasksError> {
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(TasksError::invalid(
                "fractions",
                format!("{fraction} is not in (0, 1]"),
            ));
        }
        if fraction == 1.0 {
            return Ok(self);
        }
        let n = self.x.train.rows;
        let keep = ((fraction * n as f64).ceil() as usize).max(1);
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut seed::stream(seed, &["train-fraction"]));
        let mut kept = order[..keep].to_vec();
        // Sorted so that the kept rows stay in their generated order.
        kept.sort_unstable();
        self.x.train = self.x.train.select_rows(&kept);
        for task in &mut self.tasks {
            task.y.train = task.y.train.select_rows(&kept);
            if let Some(present) = &mut task.present {
                present.train = kept.iter().map(|&r| present.train[r]).collect();
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_suite(n: usize) -> SuiteData {
        let x = Matrix::new(n, 1, (0..n).map(|i| i as f32).collect());
        let task = TaskData {
            name: "t0".into(),
            kind: TaskKind::Regression { outputs: 1 },
            metrics: vec![],
            y: Splits {
                train: x.clone(),
                val: Matrix::zeros(0, 1),
                test: Matrix::zeros(0, 1),
            },
            target_scale: 1.0,
            present: None,
        };
        SuiteData {
            name: "tiny".into(),
            x: Splits {
                train: x,
                val: Matrix::zeros(0, 1),
                test: Matrix::zeros(0, 1),
            },
            tasks: vec![task],
            planted_correlation: None,
            image: None,
        }
    }

    #[test]
    fn fractions_are_nested_and_aligned() {
        let rows_of = |f: f64| -> Vec<f32> {
            tiny_suite(100)
                .with_train_fraction(f, 3)
                .unwrap()
                .x
                .train
                .data
        };
        let small = rows_of(0.1);
        let mid = rows_of(0.5);
        assert_eq!(small.len(), 10);
        assert_eq!(mid.len(), 50);
        assert!(small.iter().all(|v| mid.contains(v)));
        let suite = tiny_suite(100).with_train_fraction(0.2, 3).unwrap();
        assert_eq!(suite.x.train, suite.tasks[0].y.train);
    }

    #[test]
    fn bad_fraction_is_rejected() {
        assert!(tiny_suite(10).with_train_fraction(0.0, 1).is_err());
        assert!(tiny_suite(10).with_train_fraction(1.5, 1).is_err());
    }
}
