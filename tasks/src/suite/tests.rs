//! The registry's tests, and a suite plugged in from outside the registry's files.

use super::gradnorm_toy::GradnormToy;
use super::planted_correlation::PlantedCorrelation;
use super::*;

/// Image suites declare their input shape, matching their width; others have none.
#[test]
fn image_suites_declare_their_shape() {
    let mnist = SuiteSpec::MultiMnist(Default::default());
    let image = mnist.image_shape().unwrap();
    assert_eq!((image.height, image.width, image.channels), (28, 28, 1));
    assert_eq!(image.len(), mnist.size_hint().1);
    assert_eq!(
        SuiteSpec::PlantedCorrelation(Default::default()).image_shape(),
        None
    );
}

#[test]
fn sizes_that_cannot_be_allocated_are_refused() {
    let ok = SuiteSpec::PlantedCorrelation(Default::default());
    assert!(ok.validate().is_ok());
    let huge = SuiteSpec::PlantedCorrelation(PlantedCorrelation {
        train: 1_000_000_000_000,
        ..Default::default()
    });
    let err = huge.validate().unwrap_err();
    assert_eq!(err.key(), "train");
    assert!(err.message().contains("limit of 10000000"), "{err}");
    // Rows within the limit, but too many values in all.
    let wide = SuiteSpec::GradnormToy(GradnormToy {
        train: 5_000_000,
        output_dim: 1000,
        ..Default::default()
    });
    let err = wide.validate().unwrap_err();
    assert_eq!(err.key(), "output_dim");
    assert!(err.message().contains("8 GB"), "{err}");
}

/// Every suite declares at least one primary metric per task, never a loss, and not
/// both of two metrics that differ by a constant factor (their relative changes are
/// equal, so the pair would count one change twice). The real suites declare theirs
/// through the same constructors (`census`, `default_metrics`).
#[test]
fn every_synthetic_suite_declares_its_primary_metrics() {
    use crate::metrics::{default_metrics, LOSS_METRICS};
    use crate::TaskKind;
    let check = |label: &str, tasks: &[crate::TaskData]| {
        for task in tasks {
            let primary: Vec<&str> = task
                .metrics
                .iter()
                .filter(|m| m.primary)
                .map(|m| m.name.as_str())
                .collect();
            assert!(
                !primary.is_empty(),
                "{label}/{}: no primary metric",
                task.name
            );
            assert!(
                primary.iter().all(|m| !LOSS_METRICS.contains(m)),
                "{label}/{}: a loss is primary: {primary:?}",
                task.name
            );
            assert!(
                !(primary.contains(&"mse") && primary.contains(&"normalized_mse")),
                "{label}/{}: both MSEs are primary",
                task.name
            );
        }
    };
    for (info, spec) in SuiteSpec::registry() {
        if spec.check_data().is_err() || spec.kind() == "census_income" {
            continue; // real data, not needed by the default tests
        }
        let suite = spec.generate(7).unwrap();
        check(info.kind, &suite.tasks);
    }
    let empty = crate::Matrix::new(0, 1, Vec::new());
    for kind in [
        TaskKind::Regression { outputs: 1 },
        TaskKind::Classification { classes: 10 },
    ] {
        let task = crate::TaskData {
            name: "t".into(),
            kind,
            metrics: default_metrics(kind),
            y: crate::Splits {
                train: empty.clone(),
                val: empty.clone(),
                test: empty.clone(),
            },
            target_scale: 1.0,
            present: None,
        };
        check("default_metrics", &[task]);
    }
}

suites! {
    /// A registry built the way the real one is, holding a suite declared in a test file.
    pub enum TestSuites {
        ThreeTasks(three_tasks::ThreeTasks) = "three_tasks": "a toy suite of three tasks",
    }
}

/// A suite added through the public path (one file implementing `Suite`, one registry
/// line) is read from YAML, checked and generated through the registry, and reports the
/// three tasks it has: no method falls back to a count other suites have.
#[test]
fn a_suite_plugs_in_with_one_file_and_one_line() {
    let spec: TestSuites = serde_yaml::from_str("kind: three_tasks\nrows: 5\n").unwrap();
    assert_eq!(spec.kind(), "three_tasks");
    assert_eq!(spec.task_count(), 3);
    assert_eq!(spec.spec().output_widths().len(), 3);
    spec.validate().unwrap();
    let data = spec.generate(1).unwrap();
    assert_eq!(data.tasks.len(), 3);
    assert_eq!(data.task_count(), spec.task_count());
    assert_eq!(data.x.train.rows, 5);
    assert_eq!(spec.size_hint(), (5, 1));
    assert_eq!(spec.label(), "three_tasks");
    assert_eq!(spec.image_shape(), None);
    spec.check_data().unwrap(); // reads no files
                                // Its own key names its errors, and the limits are checked before its own checks.
    let err = serde_yaml::from_str::<TestSuites>("kind: three_tasks\nrows: 0\n")
        .unwrap()
        .validate()
        .unwrap_err();
    assert_eq!(err.key(), "rows");
    let err = serde_yaml::from_str::<TestSuites>("kind: three_tasks\nrows: 20000000\n")
        .unwrap()
        .validate()
        .unwrap_err();
    assert_eq!(err.key(), "train");
    // A YAML typo keeps its key path.
    let err = serde_yaml::from_str::<TestSuites>("kind: three_tasks\nrow: 5\n").unwrap_err();
    assert!(err.to_string().contains("unknown field `row`"), "{err}");
    // It has no task family to adapt to (the default).
    let err = spec.check_held_out().unwrap_err();
    assert!(err.starts_with("`three_tasks` has no task family"), "{err}");
    assert!(spec.held_out_tasks(1, 2, 3, 4).is_none());
    let named: TestSuites = serde_yaml::from_str("kind: three_tasks\nname: toy\n").unwrap();
    assert_eq!(named.label(), "toy");
    assert_eq!(
        named.without_label(),
        TestSuites::ThreeTasks(Default::default())
    );
}

/// Every registered suite's answers agree with the data it generates (on the split audit's
/// fixture files for the real suites): its task count, each task's output width, its input
/// width and shape, and its split sizes where its parameters give them.
#[test]
fn every_suite_answers_what_it_generates() {
    let dir = tempfile::tempdir().unwrap();
    crate::split_audit::write_fixtures(dir.path());
    for (info, default) in SuiteSpec::registry() {
        for suite in default.spec().audit(dir.path()).suites {
            let what = format!("{} ({suite:?})", info.kind);
            let data = suite.generate(3).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(data.tasks.len(), suite.task_count(), "{what}");
            let widths: Vec<usize> = data.tasks.iter().map(|t| t.kind.output_width()).collect();
            assert_eq!(suite.output_widths(), widths, "{what}");
            let targets: usize = data.tasks.iter().map(|t| t.y.train.cols).sum();
            let extent = suite.extent();
            assert_eq!(extent.outputs, targets, "{what}");
            assert_eq!(suite.image_shape(), data.image, "{what}");
            if suite.check_data().is_ok() && info.kind != "census_income" {
                // Census-Income's width is an estimate, its sizes those of the published files.
                assert_eq!(extent.input_width, data.input_width(), "{what}");
                let rows = [data.x.train.rows, data.x.val.rows, data.x.test.rows];
                let sizes: Vec<usize> = extent.splits.iter().map(|s| s.1).collect();
                assert_eq!(sizes, rows, "{what}");
            }
        }
    }
}

/// Adaptation is refused for a suite without a task family, naming the suites that have one.
#[test]
fn adaptation_names_the_suites_with_a_task_family() {
    let toy = SuiteSpec::GradnormToy(Default::default());
    assert_eq!(
        toy.check_held_out().unwrap_err(),
        "`gradnorm_toy` has no task family to draw unseen tasks from: adaptation needs `planted_correlation` or `sinusoid`"
    );
    assert!(toy.held_out_tasks(1, 2, 3, 4).is_none());
    let sinusoid = SuiteSpec::Sinusoid(Default::default());
    assert_eq!(sinusoid.check_held_out(), Ok(()));
    assert_eq!(sinusoid.held_out_tasks(1, 2, 3, 4).unwrap().len(), 2);
}
