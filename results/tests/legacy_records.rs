//! Records written before a run's kind was one field (`task_subset` and `stage`) read as
//! the right `RunKind`, and write back with `kind` alone, every other field unchanged.
//! The fixtures are real records of that format: an ordinary run (quickstart), a
//! pairwise-transfer run (transfer-conflict-efficiency), a scalarization point and a
//! tuning-search run (fair-comparison) and an adaptation run (few-shot).

use mtlbench_results::{RunKind, RunRecord};
use serde_json::Value;
use std::path::Path;

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/legacy-records")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads the fixture, checks its kind, and checks that writing it back replaces the two
/// legacy fields with `kind` and changes nothing else.
fn reads_as(name: &str, expected: RunKind) {
    let text = fixture(name);
    let old: Value = serde_json::from_str(&text).unwrap();
    assert!(old.get("kind").is_none(), "{name} is not a legacy record");
    let record: RunRecord = serde_json::from_str(&text).unwrap();
    assert_eq!(record.kind, expected, "{name}");

    let written = serde_json::to_value(&record).unwrap();
    let mut new = written.as_object().unwrap().clone();
    let kind = new.remove("kind").expect("the kind is written");
    assert!(!new.contains_key("task_subset") && !new.contains_key("stage"));
    let mut old = old.as_object().unwrap().clone();
    old.remove("task_subset");
    old.remove("stage");
    assert_eq!(new, old, "{name}: fields other than the kind changed");

    // The new form reads back as the same record.
    let again: RunRecord = serde_json::from_value(written.clone()).unwrap();
    assert_eq!(again, record, "{name}: {kind}");
}

#[test]
fn an_ordinary_record_reads_as_ordinary() {
    reads_as("ordinary.json", RunKind::Ordinary);
}

#[test]
fn a_pairwise_record_reads_its_task_names() {
    let tasks = vec!["task0".to_string(), "task1".to_string()];
    reads_as("pairwise.json", RunKind::Pairwise { tasks });
}

#[test]
fn staged_records_read_as_their_kinds() {
    reads_as("adaptation.json", RunKind::Adaptation);
    reads_as("scalarization.json", RunKind::Scalarization);
    reads_as("tuning-search.json", RunKind::TuningSearch);
}

#[test]
fn the_kind_is_written_as_one_field() {
    let record: RunRecord = serde_json::from_str(&fixture("pairwise.json")).unwrap();
    let written = serde_json::to_value(&record).unwrap();
    assert_eq!(
        written["kind"],
        serde_json::json!({"pairwise": {"tasks": ["task0", "task1"]}})
    );
    let record: RunRecord = serde_json::from_str(&fixture("scalarization.json")).unwrap();
    assert_eq!(
        serde_json::to_value(&record).unwrap()["kind"],
        "scalarization"
    );
    let record: RunRecord = serde_json::from_str(&fixture("ordinary.json")).unwrap();
    assert_eq!(serde_json::to_value(&record).unwrap()["kind"], "ordinary");
}

#[test]
fn unknown_or_contradictory_kinds_are_refused() {
    let mut old: Value = serde_json::from_str(&fixture("ordinary.json")).unwrap();
    old["stage"] = "warmup".into();
    let err = serde_json::from_value::<RunRecord>(old.clone()).unwrap_err();
    assert!(err.to_string().contains("unknown stage `warmup`"), "{err}");
    old["stage"] = Value::Null;
    old["kind"] = "scalarization".into();
    old["task_subset"] = serde_json::json!(["a"]);
    let err = serde_json::from_value::<RunRecord>(old).unwrap_err();
    assert!(err.to_string().contains("cannot also have"), "{err}");
}
