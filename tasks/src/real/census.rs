//! `census_income`: the UCI Census-Income (KDD) data as MMoE uses it (Ma et al. 2018).
//! Group 1 = {income > 50K, never married}; group 2 = {education ≥ college, never
//! married}. Features: every column except the instance weight (24), the income label (41)
//! and the group's task columns (marital status 7; education 4 in group 2); the numeric
//! columns standardised with training statistics, the others one-hot over the training
//! file's values (a value not seen in training is all zeros; `?` is a value). The test
//! file is split in half, seeded: validation and test, as in MMoE.
//!
//! "Education ≥ college" is read as any college education: some college without degree,
//! associates, bachelors, masters, professional school or doctorate (the paper does not
//! list the levels).

use super::datadir::{read_checked, resolve};
use super::idx::maybe_gunzip;
use crate::data::{Matrix, Splits, SuiteData, TaskData, TaskKind};
use crate::metrics::MetricSpec;
use crate::seed;
use crate::TasksError;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

pub const TRAIN_FILE: &str = "census-income/census_income_1994_1995_train.csv.gz";
pub const TEST_FILE: &str = "census-income/census_income_1994_1995_test.csv.gz";
const FIELDS: usize = 42;
const NUMERIC: [usize; 7] = [0, 5, 16, 17, 18, 30, 39];
const INSTANCE_WEIGHT: usize = 24;
const INCOME: usize = 41;
const MARITAL: usize = 7;
const EDUCATION: usize = 4;
const COLLEGE: [&str; 7] = [
    "Some college but no degree",
    "Associates degree-occup /vocational",
    "Associates degree-academic program",
    "Bachelors degree(BA AB BS)",
    "Masters degree(MA MS MEng MEd MSW MBA)",
    "Prof school degree (MD DDS DVM LLB JD)",
    "Doctorate degree(PhD EdD)",
];

/// A task's label of a row (its fields).
type Labeler = fn(&[&str]) -> bool;

/// Parameters of the Census-Income suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CensusIncome {
    /// Label of this suite in tables and run ids (default: the kind). Not part of the data.
    pub name: Option<String>,
    /// MMoE's task group: 1 = {income, never married}, 2 = {education, never married}.
    pub group: usize,
    /// Keep this many training rows (seeded subset); default all 199,523.
    pub train: Option<usize>,
    /// Keep at most this many rows in each half of the test file; default all.
    pub test: Option<usize>,
    /// Directory holding `census-income/`; default `$MTLBENCH_DATA`.
    pub data_dir: Option<PathBuf>,
    /// Check each file against the SHA-256 the project ships.
    pub verify_checksums: bool,
}

impl Default for CensusIncome {
    fn default() -> Self {
        CensusIncome {
            name: None,
            group: 1,
            train: None,
            test: None,
            data_dir: None,
            verify_checksums: true,
        }
    }
}

/// The text of a census file.
fn read_text(dir: &Path, relative: &str, verify: bool) -> Result<String, TasksError> {
    let bytes = maybe_gunzip(read_checked(dir, relative, verify)?, relative)?;
    String::from_utf8(bytes)
        .map_err(|_| TasksError::data("data_dir", format!("{relative}: not UTF-8 text")))
}

/// The rows of a census file's text as fields (slices of the text: no copies).
fn split_rows<'t>(text: &'t str, relative: &str) -> Result<Vec<Vec<&'t str>>, TasksError> {
    let mut rows = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.split(", ").map(str::trim).collect();
        if fields.len() != FIELDS {
            return Err(TasksError::data(
                "data_dir",
                format!(
                    "{relative} line {}: {} fields, expected {FIELDS} separated by \", \"",
                    i + 1,
                    fields.len()
                ),
            ));
        }
        // The numeric columns must read as numbers: a value that does not would otherwise
        // enter training as some default.
        for c in NUMERIC {
            if !fields[c].parse::<f64>().is_ok_and(f64::is_finite) {
                return Err(TasksError::data(
                    "data_dir",
                    format!(
                        "{relative} line {}: field {} (numeric) is `{}`, not a finite number",
                        i + 1,
                        c + 1,
                        fields[c]
                    ),
                ));
            }
        }
        rows.push(fields);
    }
    Ok(rows)
}

/// The area under the ROC curve of scores for binary labels (ties count half): the
/// Mann–Whitney statistic. NaN when one class is absent.
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut i) = (0.0f64, 0);
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let average = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += order[i..=j].iter().filter(|&&k| labels[k]).count() as f64 * average;
        i = j + 1;
    }
    let positives = labels.iter().filter(|l| **l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return f64::NAN;
    }
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

impl CensusIncome {
    pub fn validate(&self) -> Result<(), TasksError> {
        if !(1..=2).contains(&self.group) {
            return Err(TasksError::invalid(
                "group",
                format!("{} is not 1 or 2", self.group),
            ));
        }
        if self.train == Some(0) || self.test == Some(0) {
            return Err(TasksError::invalid(
                "train",
                "train and test must be at least 1",
            ));
        }
        Ok(())
    }

    /// Checks that both files exist and match their checksums, without building.
    pub fn check_data(&self) -> Result<(), TasksError> {
        let dir = resolve(&self.data_dir)?;
        read_checked(&dir, TRAIN_FILE, self.verify_checksums)?;
        read_checked(&dir, TEST_FILE, self.verify_checksums)?;
        Ok(())
    }

    /// (task name, label of a row) of the group.
    fn tasks(&self) -> Vec<(&'static str, Labeler)> {
        let never_married: Labeler = |r| r[MARITAL] == "Never married";
        if self.group == 1 {
            vec![
                ("income_50k", |r| r[INCOME].starts_with("50000+")),
                ("never_married", never_married),
            ]
        } else {
            vec![
                ("college", |r| COLLEGE.contains(&r[EDUCATION])),
                ("never_married", never_married),
            ]
        }
    }

    /// Builds the suite; a pure function of the files and `seed`.
    pub fn generate(&self, seed: u64) -> Result<SuiteData, TasksError> {
        let dir = resolve(&self.data_dir)?;
        let train_text = read_text(&dir, TRAIN_FILE, self.verify_checksums)?;
        let test_text = read_text(&dir, TEST_FILE, self.verify_checksums)?;
        let mut train = split_rows(&train_text, TRAIN_FILE)?;
        let mut test = split_rows(&test_text, TEST_FILE)?;
        if let Some(n) = self.train.filter(|n| *n < train.len()) {
            let mut order: Vec<usize> = (0..train.len()).collect();
            order.shuffle(&mut seed::stream(seed, &["census-train"]));
            let mut keep = order[..n].to_vec();
            keep.sort_unstable();
            train = keep
                .into_iter()
                .map(|i| std::mem::take(&mut train[i]))
                .collect();
        }
        test.shuffle(&mut seed::stream(seed, &["census-test-split"]));
        let half = test.len() / 2;
        let mut val: Vec<Vec<&str>> = test.drain(..half).collect();
        if let Some(n) = self.test {
            val.truncate(n);
            test.truncate(n);
        }
        let mut excluded = vec![INSTANCE_WEIGHT, INCOME, MARITAL];
        if self.group == 2 {
            excluded.push(EDUCATION);
        }
        let encoder = Encoder::fit(&train, &excluded);
        let tasks = self
            .tasks()
            .into_iter()
            .map(|(name, label)| {
                let labels = |rows: &[Vec<&str>]| {
                    Matrix::new(
                        rows.len(),
                        1,
                        rows.iter().map(|r| f32::from(u8::from(label(r)))).collect(),
                    )
                };
                TaskData {
                    name: name.into(),
                    kind: TaskKind::Classification { classes: 2 },
                    metrics: vec![
                        MetricSpec::primary("auc", true),
                        MetricSpec::secondary("accuracy", true),
                        MetricSpec::secondary("cross_entropy", false),
                    ],
                    y: Splits {
                        train: labels(&train),
                        val: labels(&val),
                        test: labels(&test),
                    },
                    target_scale: 1.0,
                }
            })
            .collect();
        Ok(SuiteData {
            name: "census_income".into(),
            x: Splits {
                train: encoder.encode(&train),
                val: encoder.encode(&val),
                test: encoder.encode(&test),
            },
            tasks,
            planted_correlation: None,
            image: None,
        })
    }
}

/// Column encodings learnt from the training rows.
struct Encoder<'t> {
    /// (column, mean, std) of the numeric columns.
    numeric: Vec<(usize, f64, f64)>,
    /// (column, value → one-hot position) of the categorical columns; positions follow the
    /// sorted values, so the layout does not depend on row order.
    categorical: Vec<(usize, HashMap<&'t str, usize>)>,
    width: usize,
}

impl<'t> Encoder<'t> {
    fn fit(rows: &[Vec<&'t str>], excluded: &[usize]) -> Self {
        // Numeric fields were checked when the rows were read (`split_rows`).
        let value = |r: &[&str], c: usize| r[c].parse::<f64>().unwrap_or(f64::NAN);
        let numeric: Vec<(usize, f64, f64)> = NUMERIC
            .iter()
            .map(|&c| {
                let n = rows.len().max(1) as f64;
                let mean = rows.iter().map(|r| value(r, c)).sum::<f64>() / n;
                let var = rows
                    .iter()
                    .map(|r| (value(r, c) - mean).powi(2))
                    .sum::<f64>()
                    / n;
                (c, mean, if var > 0.0 { var.sqrt() } else { 1.0 })
            })
            .collect();
        let mut width = numeric.len();
        let mut categorical = Vec::new();
        for c in (0..FIELDS).filter(|c| !NUMERIC.contains(c) && !excluded.contains(c)) {
            let values: BTreeSet<&str> = rows.iter().map(|r| r[c]).collect();
            let positions: HashMap<&str, usize> = values
                .iter()
                .enumerate()
                .map(|(k, v)| (*v, width + k))
                .collect();
            width += values.len();
            categorical.push((c, positions));
        }
        Encoder {
            numeric,
            categorical,
            width,
        }
    }

    fn encode(&self, rows: &[Vec<&str>]) -> Matrix {
        let mut data = vec![0f32; rows.len() * self.width];
        for (i, r) in rows.iter().enumerate() {
            let row = &mut data[i * self.width..(i + 1) * self.width];
            for (k, (c, mean, std)) in self.numeric.iter().enumerate() {
                row[k] = ((r[*c].parse::<f64>().unwrap_or(f64::NAN) - mean) / std) as f32;
            }
            for (c, positions) in &self.categorical {
                if let Some(&at) = positions.get(r[*c]) {
                    row[at] = 1.0;
                }
            }
        }
        Matrix::new(rows.len(), self.width, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A census row with the given age, education, marital status and income label.
    fn row(age: u32, education: &str, marital: &str, income: &str) -> String {
        let mut f: Vec<String> = (0..FIELDS).map(|i| format!("v{i}")).collect();
        for c in NUMERIC {
            f[c] = "0".into();
        }
        f[0] = age.to_string();
        f[EDUCATION] = education.into();
        f[MARITAL] = marital.into();
        f[INSTANCE_WEIGHT] = "1234.5".into();
        f[INCOME] = income.into();
        f.join(", ")
    }

    pub(crate) fn write_fixture(dir: &Path) {
        std::fs::create_dir_all(dir.join("census-income")).unwrap();
        let train = [
            row(20, "Children", "Never married", "- 50000."),
            row(
                40,
                "Bachelors degree(BA AB BS)",
                "Married-civilian spouse present",
                "50000+.",
            ),
            row(60, "High school graduate", "Never married", "- 50000."),
            row(30, "Some college but no degree", "Divorced", "50000+."),
        ];
        let test = [
            row(50, "Doctorate degree(PhD EdD)", "Never married", "50000+."),
            row(25, "?", "Widowed", "- 50000."),
        ];
        std::fs::write(dir.join(TRAIN_FILE), train.join("\n")).unwrap();
        std::fs::write(dir.join(TEST_FILE), test.join("\n") + "\n").unwrap();
    }

    #[test]
    fn fixture_rows_give_labels_features_and_splits() {
        let dir = tempfile::tempdir().unwrap();
        write_fixture(dir.path());
        let spec = CensusIncome {
            data_dir: Some(dir.path().to_path_buf()),
            verify_checksums: false,
            ..Default::default()
        };
        let s = spec.generate(1).unwrap();
        assert_eq!((s.x.train.rows, s.x.val.rows, s.x.test.rows), (4, 1, 1));
        let income: Vec<f32> = s.tasks[0].y.train.data.clone();
        assert_eq!(income, vec![0.0, 1.0, 0.0, 1.0]);
        assert_eq!(s.tasks[1].y.train.data, vec![1.0, 0.0, 1.0, 0.0]);
        // Age standardised with the training mean 37.5 and (population) std √218.75.
        let std = 218.75f64.sqrt();
        assert!((f64::from(s.x.train.data[0]) - (20.0 - 37.5) / std).abs() < 1e-5);
        // One-hot: 7 numeric columns, then one column per training value of each kept
        // categorical column; the instance weight, income and marital status are not
        // features, education is (group 1) with 4 training values.
        let categorical = FIELDS - NUMERIC.len() - 3;
        assert_eq!(s.x.train.cols, NUMERIC.len() + (categorical - 1) + 4);
        // Group 2: education becomes the task, not a feature.
        let g2 = CensusIncome {
            group: 2,
            ..spec.clone()
        }
        .generate(1)
        .unwrap();
        assert_eq!(g2.tasks[0].name, "college");
        assert_eq!(g2.tasks[0].y.train.data, vec![0.0, 1.0, 0.0, 1.0]);
        assert_eq!(g2.x.train.cols, s.x.train.cols - 4);
        // A numeric field that is not a number names the file, line and field.
        let bad = row(30, "Children", "Never married", "- 50000.").replacen("30", "thirty", 1);
        std::fs::write(
            dir.path().join(TEST_FILE),
            format!("{}\n{bad}\n", row(20, "Children", "Widowed", "- 50000.")),
        )
        .unwrap();
        let e = spec.generate(1).unwrap_err();
        assert!(
            e.message()
                .contains("line 2: field 1 (numeric) is `thirty`"),
            "{e}"
        );
        // A malformed row names the file and line.
        std::fs::write(dir.path().join(TEST_FILE), "a, b\n").unwrap();
        let e = spec.generate(1).unwrap_err();
        assert!(
            e.message().contains("line 1") && e.message().contains("2 fields"),
            "{e}"
        );
    }

    #[test]
    fn auc_by_hand() {
        // Positives at 0.8 and 0.4, negatives at 0.5 and 0.1: 3 of 4 pairs ordered.
        assert_eq!(
            auc(&[0.8, 0.4, 0.5, 0.1], &[true, true, false, false]),
            0.75
        );
        // A tie between a positive and a negative counts half.
        assert_eq!(auc(&[0.5, 0.5], &[true, false]), 0.5);
        assert!(auc(&[0.1, 0.2], &[true, true]).is_nan());
    }
}
