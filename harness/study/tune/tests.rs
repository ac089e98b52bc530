//! Tests of the tuning search: its settings, its candidates (common random numbers), the
//! front's cell and the final plan.

use super::*;
use mtlbench_algorithms::ArchitectureSpec;

fn tune(strategy: Strategy) -> Tune {
    Tune {
        budget: 5,
        replicates: 1,
        strategy,
        lr: Some(Range {
            values: Some(vec![1e-3, 1e-2]),
            ..Default::default()
        }),
        weight_decay: None,
        method: true,
    }
}

#[test]
fn configurations_start_with_the_study_setting_and_are_seeded() {
    let t = tune(Strategy::Random);
    let space = t.space(
        &ArchitectureSpec::HardSharing(Default::default()),
        &WeightingSpec::CaGrad(Default::default()),
    );
    assert_eq!(space.len(), 2, "lr and CAGrad's c");
    let a = t.configurations(&space, 7).unwrap();
    assert_eq!(a.len(), 5);
    assert!(a[0].is_empty());
    assert_eq!(a, t.configurations(&space, 7).unwrap());
    assert_ne!(a, t.configurations(&space, 8).unwrap());
    for c in &a[1..] {
        assert!([1e-3, 1e-2].contains(&c[0].1));
        assert!((0.1..=0.9).contains(&c[1].1), "{c:?}");
    }
    // single_task tunes only what every algorithm shares.
    let single = t.space(
        &ArchitectureSpec::SingleTask(Default::default()),
        &WeightingSpec::Equal(Default::default()),
    );
    assert_eq!(single.len(), 1);
    // A grid is its points besides the study's own: exactly the budget.
    let g = Tune {
        budget: 3,
        ..tune(Strategy::Grid)
    };
    let space = g.space(
        &ArchitectureSpec::HardSharing(Default::default()),
        &WeightingSpec::CaGrad(Default::default()),
    );
    assert_eq!(g.configurations(&space, 0).unwrap().len(), 3);
    for budget in [2, 5] {
        let other = Tune {
            budget,
            ..g.clone()
        };
        assert!(other
            .configurations(&space, 0)
            .unwrap_err()
            .contains(&format!("budget of {budget}")));
        assert_eq!(other.validate(1).unwrap_err().0, "tune.budget");
    }
    // Nothing to draw: refused (unless the budget is the study's own setting alone).
    let none = Tune {
        lr: None,
        ..t.clone()
    };
    assert!(none
        .configurations(&single_space(&none), 7)
        .unwrap_err()
        .contains("nothing to draw"));
    let one = Tune {
        budget: 1,
        ..none.clone()
    };
    assert_eq!(one.configurations(&single_space(&one), 7).unwrap().len(), 1);
    let empty_grid = Tune {
        strategy: Strategy::Grid,
        ..none
    };
    assert_eq!(empty_grid.validate(1).unwrap_err().0, "tune.strategy");
}

fn single_space(t: &Tune) -> Vec<Param> {
    t.space(
        &ArchitectureSpec::SingleTask(Default::default()),
        &WeightingSpec::Equal(Default::default()),
    )
}

const STUDY: &str = "\
name: crn
seed: 11
replicates: 2
fractions: [0.5, 1.0]
suites:
  - {kind: planted_correlation, tasks: 2}
  - {kind: planted_correlation, name: other, tasks: 3}
architectures:
  - kind: single_task
  - kind: hard_sharing
weightings:
  - kind: equal
  - kind: cagrad
training: {lr: 0.01}
tune:
  budget: 5
  lr: {log_uniform: [1.0e-4, 1.0e-1]}
  weight_decay: {uniform: [0.0, 0.01]}
";

fn search_of(text: &str) -> Search {
    let study = crate::study::config::parse_study("s.yaml", text).unwrap();
    let plan = crate::study::plan::expand(&study).unwrap();
    let t = study.config.tune.as_ref().unwrap();
    search_plan(t, study.config.seed, &plan).unwrap()
}

/// (lr, weight_decay) of each configuration of `cell`'s search runs (replicate 0), as
/// the runs carry them.
fn trained(search: &[SearchRun], cell: &Cell) -> Vec<(f64, String)> {
    search
        .iter()
        .filter(|s| s.cell == *cell && s.spec.replicate == 0)
        .map(|s| {
            (
                s.spec.training.lr,
                canonical_json(&s.spec.training.optimizer),
            )
        })
        .collect()
}

#[test]
fn every_algorithm_is_tuned_on_the_same_shared_candidates() {
    let (search, cells) = search_of(STUDY);
    let cell = |suite: &str, f: &str, a: &str| (suite.to_string(), f.to_string(), a.to_string());
    let suite = "planted_correlation";
    let algorithms = [
        "single_task+equal",
        "hard_sharing+equal",
        "hard_sharing+cagrad",
    ];
    for f in ["0.5", "1"] {
        let first = trained(&search, &cell(suite, f, algorithms[0]));
        assert_eq!(first.len(), 5);
        // Configuration 0 is the study's own; the draws are distinct draws.
        assert_eq!(first[0].0, 0.01);
        let mut lrs: Vec<f64> = first.iter().map(|c| c.0).collect();
        lrs.dedup();
        assert_eq!(lrs.len(), 5, "{first:?}");
        for a in &algorithms[1..] {
            assert_eq!(
                trained(&search, &cell(suite, f, a)),
                first,
                "{a}, fraction {f}"
            );
        }
    }
    // Another suite or fraction draws its own candidates.
    let half = trained(&search, &cell(suite, "0.5", algorithms[1]));
    assert_ne!(half, trained(&search, &cell(suite, "1", algorithms[1])));
    assert_ne!(half, trained(&search, &cell("other", "0.5", algorithms[1])));
    // CAGrad's c is its own: drawn, within its range.
    let c: Vec<f64> = cells[&cell(suite, "1", algorithms[2])][1..]
        .iter()
        .map(|config| config.iter().find(|(k, _)| k == "weighting.c").unwrap().1)
        .collect();
    assert!(c.iter().all(|c| (0.1..=0.9).contains(c)), "{c:?}");

    // A third method (and its own key) changes no other algorithm's candidates.
    let (more_search, more_cells) =
        search_of(&STUDY.replace("  - kind: cagrad\n", "  - kind: dwa\n  - kind: cagrad\n"));
    assert_eq!(more_cells.len(), cells.len() + 4);
    for (k, configs) in &cells {
        assert_eq!(more_cells[k], *configs, "{k:?}");
        assert_eq!(trained(&more_search, k), trained(&search, k), "{k:?}");
    }
    let dwa = trained(&more_search, &cell(suite, "1", "hard_sharing+dwa"));
    assert_eq!(dwa, trained(&search, &cell(suite, "1", algorithms[0])));
}

/// Choices of configuration `k` in every cell.
fn choosing(
    cells: &BTreeMap<Cell, Vec<Config>>,
    k: impl Fn(&Cell) -> usize,
) -> BTreeMap<Cell, Choice> {
    cells
        .iter()
        .map(|(c, configs)| {
            let choice = Choice {
                scores: vec![0.0; configs.len()],
                chosen: k(c),
            };
            (c.clone(), choice)
        })
        .collect()
}

/// The front trains with the settings chosen for its architecture with `equal` — the
/// study's cell when it is the same architecture with the same training settings, else
/// a cell of its own that the search tunes; never silently the study's settings.
#[test]
fn the_front_is_tuned_with_its_architecture_and_equal() {
    let front = |weightings: &str, archs: &str, front_arch: &str, training: &str| {
        format!(
            "name: f\nreplicates: 1\nsuites:\n  - {{kind: planted_correlation, tasks: 2}}\narchitectures:\n{archs}weightings:\n{weightings}training: {{lr: 0.01{training}}}\ntune:\n  budget: 4\n  lr: {{log_uniform: [1.0e-4, 1.0e-1]}}\nscalarization:\n  steps: 2\n  architecture: {front_arch}\n"
        )
    };
    let hard = "  - kind: hard_sharing\n";
    let mmoe = "  - {kind: mmoe, experts: 2}\n  - {kind: mmoe, experts: 3}\n";
    // (study, the study's cell the front borrows from, or none: a cell of its own).
    let cases = [
        (
            front(
                "  - kind: equal\n  - kind: mgda\n",
                hard,
                "{kind: hard_sharing}",
                "",
            ),
            Some("hard_sharing+equal"),
        ),
        // No `equal`.
        (
            front("  - kind: mgda\n", hard, "{kind: hard_sharing}", ""),
            None,
        ),
        // rep_grad: the study's weightings are gradient-level.
        (
            front(
                "  - kind: mgda\n",
                hard,
                "{kind: hard_sharing}",
                ", rep_grad: true",
            ),
            None,
        ),
        // The same kind with other settings.
        (
            front(
                "  - kind: equal\n",
                "  - {kind: mmoe, experts: 2}\n",
                "{kind: mmoe, experts: 3}",
                "",
            ),
            None,
        ),
        // A label suffix: the variant with the front's settings.
        (
            front("  - kind: equal\n", mmoe, "{kind: mmoe, experts: 3}", ""),
            Some("mmoe+equal#2"),
        ),
    ];
    for (text, borrowed) in cases {
        let study = crate::study::config::parse_study("s.yaml", &text).unwrap();
        let plan = crate::study::plan::expand(&study).unwrap();
        let t = study.config.tune.as_ref().unwrap();
        let (_, cells) = search_plan(t, study.config.seed, &plan).unwrap();
        let front_cells: Vec<&Cell> = cells
            .keys()
            .filter(|c| c.2.contains("(scalarization front)"))
            .collect();
        assert_eq!(
            front_cells.len(),
            usize::from(borrowed.is_none()),
            "{cells:?}"
        );
        // Each cell chooses a configuration of its own: the front's own 3, `#1` 2, others 1.
        let pick = |c: &Cell| {
            if c.2.contains("front") {
                3
            } else if c.2.ends_with("#1") {
                2
            } else {
                1
            }
        };
        let choices = choosing(&cells, pick);
        let runs = final_plan(study.config.seed, &plan, &cells, &choices).unwrap();
        let lr_of = |cell: &Cell| cells[cell][pick(cell)][0].1;
        let expected = match (front_cells.first(), borrowed) {
            (Some(c), _) => lr_of(c),
            (None, Some(b)) => lr_of(&("planted_correlation".into(), "1".into(), b.into())),
            (None, None) => unreachable!(),
        };
        let fronts: Vec<&RunSpec> = runs
            .iter()
            .filter(|r| r.kind == crate::study::run_spec::RunKind::Scalarization)
            .collect();
        assert_eq!(fronts.len(), 3);
        for r in fronts {
            assert_ne!(r.training.lr, 0.01, "{text}");
            assert_eq!(r.training.lr, expected, "{text}");
        }
    }
}

#[test]
fn settings_are_checked_with_their_keys() {
    let t = tune(Strategy::Random);
    assert!(t.validate(1).is_ok());
    assert_eq!(t.validate(2).unwrap_err().0, "tune.lr");
    let zero = Tune {
        budget: 0,
        ..t.clone()
    };
    assert_eq!(zero.validate(1).unwrap_err().0, "tune.budget");
    let bad = Tune {
        lr: Some(Range::log_uniform(0.0, 1.0)),
        ..t.clone()
    };
    assert!(bad.validate(1).unwrap_err().1.contains("0 < low < high"));
    let grid = Tune {
        strategy: Strategy::Grid,
        lr: Some(Range::uniform(0.1, 0.2)),
        ..t
    };
    assert!(grid.validate(1).unwrap_err().1.contains("values"));
}

#[test]
fn every_declared_range_sets_a_real_field() {
    // Each declared key must name a numeric field of its method's serde form.
    for (_, w) in WeightingSpec::registry() {
        for (key, _) in w.tuning_ranges() {
            let path: Vec<&str> = key.split('.').collect();
            set_field(&w, &path, 0.5).unwrap_or_else(|e| panic!("{}: {e}", w.kind()));
        }
    }
    for (_, a) in ArchitectureSpec::registry() {
        for (key, _) in a.tuning_ranges() {
            set_field(&a, &[key.as_str()], 0.5).unwrap();
        }
    }
}
