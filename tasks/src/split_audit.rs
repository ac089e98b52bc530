//! The split audit: for every registered suite kind and replicates 0–4, train, validation
//! and test share no row, and no validation row of any replicate (what tuning and
//! best-validation selection score on: the tuning search uses the study's data seeds of
//! replicates 0..k) is in any replicate's test set. Real suites read tiny files written
//! here in the real formats (IDX, the census CSV layout), so the audit needs no data set.
//!
//! A row is its content: the input row's bits followed by every task's target row (all
//! suites have one input shared by their tasks), compared exactly (hash sets of the bits).
//! The fixture files hold only distinct rows and images (each census row has its own age;
//! each image its own grey level, training and test files apart), so two rows with the same
//! content come from the same source rows. (The published census files are not like that:
//! they hold duplicate records, within and across the two files, so there equal content
//! does not mean a shared source row; see `suite/census.rs`.) The synthetic suites draw
//! every split afresh from continuous distributions; a shared row there would be a shared
//! draw.
//!
//! Each suite says how it is audited: `Suite::audit` (a required method) gives its
//! parameters made small or pointed at the fixture files written here, and whether its test
//! split is fixed; a new suite does not compile until it says.

use crate::data::{Matrix, Splits, SuiteData};
use crate::seed::derive_seed;
use crate::suite::census::{TEST_FILE, TRAIN_FILE};
use crate::suite::multi_mnist::tests::write_idx_split;
use crate::SuiteSpec;
use std::collections::HashSet;
use std::path::Path;

const REPLICATES: usize = 5;
const ROOT: u64 = 2024;
/// Images per fixture file: training and test files together stay under 256 grey levels.
const TRAIN_IMAGES: usize = 40;
const TEST_IMAGES: usize = 20;
const CENSUS_TRAIN_ROWS: usize = 80;
const CENSUS_TEST_ROWS: usize = 30;

/// A row's content: input bits, then each task's target bits.
type Row = Vec<u32>;

/// Writes an IDX image set under `dir/folder`: training image i is uniformly grey level
/// 1 + i, test image i is 1 + TRAIN_IMAGES + i (all distinct), labels i % 10.
fn write_images(dir: &Path, folder: &str) {
    for (prefix, n, first) in [
        ("train", TRAIN_IMAGES, 1),
        ("t10k", TEST_IMAGES, 1 + TRAIN_IMAGES),
    ] {
        write_idx_split(dir, folder, prefix, n, |i| vec![(first + i) as u8; 28 * 28]);
    }
}

/// A census row (42 fields) with its own age; education, marital status and income cycle.
fn census_row(age: usize) -> String {
    let mut f: Vec<String> = (0..42).map(|i| format!("v{i}")).collect();
    for c in [0, 5, 16, 17, 18, 30, 39] {
        f[c] = "0".into();
    }
    f[0] = age.to_string();
    f[4] = [
        "Children",
        "Bachelors degree(BA AB BS)",
        "High school graduate",
    ][age % 3]
        .into();
    f[7] = ["Never married", "Divorced"][age % 2].into();
    f[24] = "1000.5".into();
    f[41] = ["- 50000.", "50000+."][(age / 2) % 2].into();
    f.join(", ")
}

/// Writes the two census files: training rows aged 0.., test rows aged 1000...
fn write_census(dir: &Path) {
    std::fs::create_dir_all(dir.join("census-income")).unwrap();
    let rows = |n: usize, first: usize| -> String {
        (0..n).map(|i| census_row(first + i) + "\n").collect()
    };
    std::fs::write(dir.join(TRAIN_FILE), rows(CENSUS_TRAIN_ROWS, 0)).unwrap();
    std::fs::write(dir.join(TEST_FILE), rows(CENSUS_TEST_ROWS, 1000)).unwrap();
}

/// Writes the fixture files the real suites' `audit` fixtures read: both image sets and
/// the two census files.
pub(crate) fn write_fixtures(dir: &Path) {
    write_images(dir, "mnist");
    write_images(dir, "fashion-mnist");
    write_census(dir);
}

/// The rows of one split, in order.
fn rows(suite: &SuiteData, split: fn(&Splits<Matrix>) -> &Matrix) -> Vec<Row> {
    let x = split(&suite.x);
    (0..x.rows)
        .map(|r| {
            let mut row: Row = x.row(r).iter().map(|v| v.to_bits()).collect();
            for task in &suite.tasks {
                row.extend(split(&task.y).row(r).iter().map(|v| v.to_bits()));
            }
            row
        })
        .collect()
}

fn set(rows: Vec<Row>) -> HashSet<Row> {
    rows.into_iter().collect()
}

/// The audit of one suite's replicates: the first violation found, if any.
fn violation(replicates: &[SuiteData]) -> Option<String> {
    let splits: Vec<[HashSet<Row>; 3]> = replicates
        .iter()
        .map(|s| {
            [
                set(rows(s, |x| &x.train)),
                set(rows(s, |x| &x.val)),
                set(rows(s, |x| &x.test)),
            ]
        })
        .collect();
    let names = ["train", "val", "test"];
    for (r, sets) in splits.iter().enumerate() {
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            let shared = sets[a].intersection(&sets[b]).count();
            if shared > 0 {
                return Some(format!(
                    "replicate {r}: {shared} rows in both {} and {}",
                    names[a], names[b]
                ));
            }
        }
    }
    for (r, scored) in splits.iter().enumerate() {
        for (t, tested) in splits.iter().enumerate() {
            let shared = scored[1].intersection(&tested[2]).count();
            if shared > 0 {
                return Some(format!(
                    "{shared} validation rows of replicate {r} are test rows of replicate {t}"
                ));
            }
        }
    }
    None
}

/// Every registered suite passes the audit over replicates 0–4; suites whose data set
/// ships a test file have the same test split in every replicate.
#[test]
fn no_split_shares_a_row_and_no_validation_row_is_ever_a_test_row() {
    let dir = tempfile::tempdir().unwrap();
    write_fixtures(dir.path());
    let mut audited_specs = 0;
    let mut failures = Vec::new();
    for (info, default) in SuiteSpec::registry() {
        let audit = default.spec().audit(dir.path());
        let fixed_test = audit.fixed_test;
        for spec in audit.suites {
            let replicates: Vec<SuiteData> = (0..REPLICATES)
                .map(|r| {
                    let seed = derive_seed(ROOT, &["data", info.kind, &r.to_string()]);
                    spec.generate(seed)
                        .unwrap_or_else(|e| panic!("{}: {e}", info.kind))
                })
                .collect();
            for s in &replicates {
                assert!(
                    s.x.train.rows > 0 && s.x.val.rows > 0 && s.x.test.rows > 0,
                    "{}: an empty split",
                    info.kind
                );
            }
            if let Some(v) = violation(&replicates) {
                failures.push(format!("{} ({spec:?}): {v}", info.kind));
            }
            let same_test = |s: &SuiteData| {
                let first = &replicates[0];
                s.x.test == first.x.test
                    && s.tasks
                        .iter()
                        .zip(&first.tasks)
                        .all(|(a, b)| a.y.test == b.y.test)
            };
            if let Some(r) = replicates.iter().position(|s| fixed_test && !same_test(s)) {
                failures.push(format!(
                    "{} ({spec:?}): the test split of replicate {r} differs from replicate 0's",
                    info.kind
                ));
            }
            audited_specs += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(audited_specs >= SuiteSpec::KINDS.len());
}

/// The audit sees a leak: a test row copied into validation, within a replicate or from
/// another replicate, is reported.
#[test]
fn the_audit_reports_a_planted_leak() {
    let spec = SuiteSpec::Sinusoid(Default::default());
    let replicates: Vec<SuiteData> = (0..2).map(|r| spec.generate(r).unwrap()).collect();
    assert_eq!(violation(&replicates), None);
    let leak = |from: usize, into: usize| {
        let mut leaky = replicates.clone();
        let source = leaky[from].clone();
        let target = &mut leaky[into];
        let cols = target.x.val.cols;
        target.x.val.data[..cols].copy_from_slice(source.x.test.row(0));
        for (t, task) in target.tasks.iter_mut().enumerate() {
            let width = task.y.val.cols;
            task.y.val.data[..width].copy_from_slice(source.tasks[t].y.test.row(0));
        }
        violation(&leaky)
    };
    assert_eq!(
        leak(0, 0).as_deref(),
        Some("replicate 0: 1 rows in both val and test")
    );
    assert_eq!(
        leak(0, 1).as_deref(),
        Some("1 validation rows of replicate 1 are test rows of replicate 0")
    );
}
