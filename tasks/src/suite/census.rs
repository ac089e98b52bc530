//! `census_income`: the UCI Census-Income (KDD) data as MMoE uses it (Ma et al. 2018).
//! Group 1 = {income > 50K, never married}; group 2 = {education ≥ college, never
//! married}. Features: every column except the instance weight (24), the income label (41)
//! and the group's task columns (marital status 7; education 4 in group 2); the numeric
//! columns standardised with the training part's statistics, the others one-hot over the training
//! part's values (a value not seen there is all zeros; `?` is a value).
//!
//! Splits (`row_indices`): the test file is the test set of every replicate (`test: n`
//! keeps a fixed subset of n of its rows). Validation rows are held out of the training
//! file: a fixed set of `val` rows (default a tenth of the file, 19,953 rows), the first of
//! a permutation drawn from the constant `FIXED_SEED`. The rest is the training part; a
//! replicate trains on all of it, or on a subset of `train` rows drawn from its data seed.
//! The encoder is fit on the whole training part, so the test and validation features are
//! the same in every replicate as well. MMoE splits the test file into validation and test
//! halves instead; here no row that tuning or best-validation selection scores on is ever a
//! test row, in any replicate.
//!
//! The splits are disjoint by source row. The published files hold repeated records (rows
//! with the same features and labels), within and across the two files: in group 1, 18,829
//! of the 99,762 test rows equal some validation row, and 26,758 some training row. They
//! are kept, as in MMoE.
//!
//! "Education ≥ college" is read as any college education: some college without degree,
//! associates, bachelors, masters, professional school or doctorate (the paper does not
//! list the levels).

use crate::real::datadir::{read_checked, resolve};
use crate::real::idx::maybe_gunzip;
use crate::data::{Matrix, Splits, SuiteData, TaskData, TaskKind};
use crate::metrics::MetricSpec;
use crate::seed;
use crate::TasksError;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use crate::suite::{Extent, Suite};

pub const TRAIN_FILE: &str = "census-income/census_income_1994_1995_train.csv.gz";
pub const TEST_FILE: &str = "census-income/census_income_1994_1995_test.csv.gz";
const FIELDS: usize = 42;
/// Rows of the published training file.
pub const PUBLISHED_TRAIN_ROWS: usize = 199_523;
/// Rows of the published test file.
pub const PUBLISHED_TEST_ROWS: usize = 99_762;
/// The seed of the choices that are the same in every replicate and every study: the
/// validation rows and a `test` subset.
const FIXED_SEED: u64 = 0;
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
    /// Labels left out of the training and validation splits (see `crate::missing`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_labels: Option<crate::missing::MissingLabels>,
    /// MMoE's task group: 1 = {income, never married}, 2 = {education, never married}.
    pub group: usize,
    /// Train on this many rows of the training part (a subset drawn from the replicate's
    /// data seed); default all of it (179,570 rows of the published file).
    pub train: Option<usize>,
    /// Validation rows held out of the training file (a fixed set); default a tenth of the
    /// file, rounded up (19,953 rows of the published file).
    pub val: Option<usize>,
    /// Test on at most this many rows of the test file (a fixed subset); default all 99,762.
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
            missing_labels: None,
            group: 1,
            train: None,
            val: None,
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

impl CensusIncome {
    pub fn validate(&self) -> Result<(), TasksError> {
        if !(1..=2).contains(&self.group) {
            return Err(TasksError::invalid(
                "group",
                format!("{} is not 1 or 2", self.group),
            ));
        }
        for (key, n) in [
            ("train", self.train),
            ("val", self.val),
            ("test", self.test),
        ] {
            if n == Some(0) {
                return Err(TasksError::invalid(key, "must be at least 1"));
            }
        }
        // The published file's size is known: a `val` that leaves no training row is refused
        // before anything is read (for other files, when the suite is built).
        if let Some(val) = self
            .val
            .filter(|v| self.verify_checksums && *v >= PUBLISHED_TRAIN_ROWS)
        {
            return Err(Self::no_training_rows(val, PUBLISHED_TRAIN_ROWS));
        }
        Ok(())
    }

    fn no_training_rows(val: usize, rows: usize) -> TasksError {
        TasksError::invalid(
            "val",
            format!("{val} validation rows leave no training row: the training file has {rows}"),
        )
    }

    /// The validation rows of a training file of `rows` rows: `val`, else a tenth of it
    /// (rounded up).
    pub fn val_rows(&self, rows: usize) -> usize {
        self.val.unwrap_or(rows.div_ceil(10))
    }

    /// Which rows each split takes, each in file order: `train` and `val` index the
    /// training file's `train_rows` rows, `test` the test file's `test_rows` rows.
    /// Validation = the first `val_rows` of a permutation of the training file drawn from
    /// `FIXED_SEED`; the training part = the other rows, all of them or a subset of `train`
    /// drawn from `seed`; test = the whole test file, or the first `test` rows of a
    /// permutation drawn from `FIXED_SEED`. Only the training subset depends on `seed`.
    /// Also returns the training part (what the encoder is fit on).
    pub fn row_indices(
        &self,
        train_rows: usize,
        test_rows: usize,
        seed: u64,
    ) -> Result<(Splits<Vec<usize>>, Vec<usize>), TasksError> {
        let val_n = self.val_rows(train_rows);
        if val_n >= train_rows {
            return Err(Self::no_training_rows(val_n, train_rows));
        }
        let mut order: Vec<usize> = (0..train_rows).collect();
        order.shuffle(&mut seed::stream(
            FIXED_SEED,
            &["census-income", "validation"],
        ));
        let mut val = order[..val_n].to_vec();
        let mut part = order[val_n..].to_vec();
        val.sort_unstable();
        part.sort_unstable();
        let mut train = part.clone();
        if let Some(n) = self.train.filter(|n| *n < part.len()) {
            train.shuffle(&mut seed::stream(seed, &["census-train"]));
            train.truncate(n);
            train.sort_unstable();
        }
        let mut test: Vec<usize> = (0..test_rows).collect();
        if let Some(n) = self.test.filter(|n| *n < test_rows) {
            test.shuffle(&mut seed::stream(FIXED_SEED, &["census-income", "test"]));
            test.truncate(n);
            test.sort_unstable();
        }
        Ok((Splits { train, val, test }, part))
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
        let train_file = split_rows(&train_text, TRAIN_FILE)?;
        let test_file = split_rows(&test_text, TEST_FILE)?;
        let (rows, part) = self.row_indices(train_file.len(), test_file.len(), seed)?;
        fn pick<'f, 't>(file: &'f [Vec<&'t str>], at: &[usize]) -> Vec<&'f [&'t str]> {
            at.iter().map(|&i| file[i].as_slice()).collect()
        }
        let train = pick(&train_file, &rows.train);
        let val = pick(&train_file, &rows.val);
        let test = pick(&test_file, &rows.test);
        let mut excluded = vec![INSTANCE_WEIGHT, INCOME, MARITAL];
        if self.group == 2 {
            excluded.push(EDUCATION);
        }
        let encoder = Encoder::fit(&pick(&train_file, &part), &excluded);
        let tasks = self
            .tasks()
            .into_iter()
            .map(|(name, label)| {
                let labels = |rows: &[&[&str]]| {
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
                    present: None,
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

/// Column encodings learnt from the training part.
struct Encoder<'t> {
    /// (column, mean, std) of the numeric columns.
    numeric: Vec<(usize, f64, f64)>,
    /// (column, value → one-hot position) of the categorical columns; positions follow the
    /// sorted values, so the layout does not depend on row order.
    categorical: Vec<(usize, HashMap<&'t str, usize>)>,
    width: usize,
}

impl<'t> Encoder<'t> {
    fn fit(rows: &[&[&'t str]], excluded: &[usize]) -> Self {
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

    fn encode(&self, rows: &[&[&str]]) -> Matrix {
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

impl Suite for CensusIncome {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn missing_labels(&self) -> Option<&crate::missing::MissingLabels> {
        self.missing_labels.as_ref()
    }
    fn clear_label(&mut self) {
        self.name = None;
        self.data_dir = None;
        self.verify_checksums = true;
    }
    fn validate(&self) -> Result<(), TasksError> {
        CensusIncome::validate(self)
    }
    /// Absent sizes are those of the published files (`val`: a tenth of the training file;
    /// `train`: the rest); the one-hot input width is approximate (≈ 500).
    fn extent(&self) -> Extent {
        let val = self.val_rows(PUBLISHED_TRAIN_ROWS);
        let rest = PUBLISHED_TRAIN_ROWS.saturating_sub(val);
        let test = self.test.unwrap_or(PUBLISHED_TEST_ROWS);
        Extent::new(self.train.unwrap_or(rest), val, test, 500, self.task_count())
    }
    fn oversize_key(&self) -> &'static str {
        "input_dim"
    }
    /// Two tasks in either group.
    fn task_count(&self) -> usize {
        self.tasks().len()
    }
    /// Two logits per task.
    fn output_widths(&self) -> Vec<usize> {
        vec![2; self.task_count()]
    }
    /// The training split's rows (as given, or the published file's).
    fn evaluated_rows(&self) -> usize {
        self.extent().splits[0].1
    }
    fn generate(&self, seed: u64) -> Result<SuiteData, TasksError> {
        CensusIncome::generate(self, seed)
    }
    fn check_data(&self) -> Result<(), TasksError> {
        CensusIncome::check_data(self)
    }
    /// The fixture files: the whole training part, a seeded training subset of it, and the
    /// second group.
    #[cfg(test)]
    fn audit(&self, fixtures: &Path) -> crate::suite::Audit {
        let all = CensusIncome {
            data_dir: Some(fixtures.to_path_buf()),
            verify_checksums: false,
            ..self.clone()
        };
        let subset = CensusIncome {
            train: Some(30),
            ..all.clone()
        };
        let group2 = CensusIncome {
            group: 2,
            ..subset.clone()
        };
        crate::suite::Audit {
            suites: vec![Box::new(all), Box::new(subset), Box::new(group2)],
            fixed_test: true,
        }
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
        // A tenth of the 4 training rows, rounded up, is held out for validation; the test
        // file is the test set.
        let (rows, part) = spec.row_indices(4, 2, 1).unwrap();
        assert_eq!(
            (rows.train.len(), rows.val.len(), rows.test.len()),
            (3, 1, 2)
        );
        assert_eq!(part, rows.train);
        assert_eq!((s.x.train.rows, s.x.val.rows, s.x.test.rows), (3, 1, 2));
        // Labels of the fixture's rows, in file order.
        let income = [0.0, 1.0, 0.0, 1.0];
        let never_married = [1.0, 0.0, 1.0, 0.0];
        let college = [0.0, 1.0, 0.0, 1.0];
        let of =
            |labels: &[f32], at: &[usize]| -> Vec<f32> { at.iter().map(|&i| labels[i]).collect() };
        assert_eq!(s.tasks[0].y.train.data, of(&income, &rows.train));
        assert_eq!(s.tasks[0].y.val.data, of(&income, &rows.val));
        assert_eq!(s.tasks[1].y.train.data, of(&never_married, &rows.train));
        assert_eq!(s.tasks[0].y.test.data, vec![1.0, 0.0]);
        assert_eq!(s.tasks[1].y.test.data, vec![1.0, 0.0]);
        // Age standardised with the training part's mean and (population) std.
        let ages: Vec<f64> = rows
            .train
            .iter()
            .map(|&i| [20.0, 40.0, 60.0, 30.0][i])
            .collect();
        let mean = ages.iter().sum::<f64>() / 3.0;
        let std = (ages.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
        assert!((f64::from(s.x.train.data[0]) - (ages[0] - mean) / std).abs() < 1e-5);
        assert!((f64::from(s.x.test.data[0]) - (50.0 - mean) / std).abs() < 1e-5);
        // One-hot: 7 numeric columns, then one column per training value of each kept
        // categorical column; the instance weight, income and marital status are not
        // features, education is (group 1) with 3 values in the training part (every
        // fixture row has its own).
        let categorical = FIELDS - NUMERIC.len() - 3;
        assert_eq!(s.x.train.cols, NUMERIC.len() + (categorical - 1) + 3);
        // Group 2: education becomes the task, not a feature.
        let g2 = CensusIncome {
            group: 2,
            ..spec.clone()
        }
        .generate(1)
        .unwrap();
        assert_eq!(g2.tasks[0].name, "college");
        assert_eq!(g2.tasks[0].y.train.data, of(&college, &rows.train));
        assert_eq!(g2.x.train.cols, s.x.train.cols - 3);
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

    /// Validation rows are a fixed tenth of the training file (the same for every seed and
    /// training subset), the test rows the test file or a fixed subset of it; the training
    /// rows are the rest of the training file, or a subset of it drawn from the seed.
    #[test]
    fn validation_is_held_out_of_the_training_file_and_the_test_set_is_fixed() {
        let spec = CensusIncome {
            train: Some(500),
            test: Some(300),
            ..Default::default()
        };
        let (n, m) = (2000, 700);
        let (a, part) = spec.row_indices(n, m, 1).unwrap();
        let (b, part_b) = spec.row_indices(n, m, 2).unwrap();
        assert_eq!(a.val.len(), 200);
        assert_eq!((&a.val, &a.test, &part), (&b.val, &b.test, &part_b));
        assert_ne!(a.train, b.train, "the training subset follows the seed");
        assert_eq!(a.train.len(), 500);
        assert!(a.train.iter().all(|i| part.contains(i)));
        assert!(a.train.windows(2).all(|w| w[0] < w[1]));
        // Validation and the training part partition the training file.
        let mut all: Vec<usize> = a.val.iter().chain(&part).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
        // 300 distinct rows of the test file, in file order.
        assert_eq!(a.test.len(), 300);
        assert!(a.test.windows(2).all(|w| w[0] < w[1]) && a.test[299] < m);
        // Neither depends on the training subset; the whole test file by default.
        let whole = CensusIncome::default();
        let (c, part_c) = whole.row_indices(n, m, 3).unwrap();
        assert_eq!((&c.val, &part_c, &c.train), (&a.val, &part, &part));
        assert_eq!(c.test, (0..m).collect::<Vec<_>>());
        assert_eq!(whole.row_indices(2001, m, 3).unwrap().0.val.len(), 201);
        assert_eq!(whole.val_rows(PUBLISHED_TRAIN_ROWS), 19_953);
        // A validation set that leaves no training row is refused, naming `val`.
        let all_val = CensusIncome {
            val: Some(n),
            ..Default::default()
        };
        assert_eq!(all_val.row_indices(n, m, 1).unwrap_err().key(), "val");
        assert_eq!(
            CensusIncome {
                val: Some(0),
                ..Default::default()
            }
            .validate()
            .unwrap_err()
            .key(),
            "val"
        );
        let published = CensusIncome {
            val: Some(PUBLISHED_TRAIN_ROWS),
            ..Default::default()
        };
        let e = published.validate().unwrap_err();
        assert!(e.key() == "val" && e.message().contains("199523"), "{e}");
        assert!(CensusIncome {
            verify_checksums: false,
            ..published
        }
        .validate()
        .is_ok());
    }
}
