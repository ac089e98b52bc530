//! `tune.md`: a tuned study's search, per suite and fraction — the candidates every
//! algorithm shares, listed once, then each algorithm's own keys, every configuration's
//! validation score and the chosen one (see `tune`).

use crate::study::tune::{is_shared_key, Cell, Choice, Config, Strategy, Tune};
use mtlbench_results::selection::Selection;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The keys of `configs`, in order of first appearance, that `keep` accepts.
fn keys_of<'a>(
    configs: impl Iterator<Item = &'a Config>,
    keep: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for config in configs {
        for (k, _) in config {
            if keep(k) && !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys
}

fn value(config: &Config, key: &str) -> Option<f64> {
    config.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}

fn cell_text(v: Option<f64>) -> String {
    v.map_or_else(|| "(study)".into(), |v| format!("{v:.4e}"))
}

/// `tune.md` of the study `study`. `untuned` names the kinds of runs the search does not
/// tune (they train with the study's own settings), stated in the introduction.
pub fn tune_markdown(
    study: &str,
    tune: &Tune,
    cells: &BTreeMap<Cell, Vec<Config>>,
    choices: &BTreeMap<Cell, Choice>,
    selection: &Selection,
    untuned: &[&str],
) -> String {
    let mut md = format!(
        "# {study}: tuning\n\nEvery algorithm had the same budget and the same candidates: {} configurations ({} search), each trained {} time(s); configuration 0 is the study's own setting. The keys every algorithm shares (the learning rate, the weight decay) take the same value in configuration j for every algorithm of a suite and fraction — drawn once per suite and fraction (common random numbers) and listed once below; a method's or an architecture's own keys are drawn from a stream of its own, so that no algorithm changes another's candidates. Score: per task the primary validation metric at the point `selection: {selection}` names, mean over the configuration's replicates, signed so that higher is better and divided by the magnitude of the cell's median configuration, then the mean over tasks. The chosen configuration (marked ✓) was retrained with the study's replicates; those runs are the report's. The fixed weightings of a scalarization front train with the settings chosen for their architecture with `equal` (the study's cell, or the front's own cell below when the study has none with the same architecture and training settings).\n",
        tune.budget,
        match tune.strategy {
            Strategy::Random => "random",
            Strategy::Grid => "grid",
        },
        tune.replicates,
    );
    if tune.strategy == Strategy::Grid && tune.method {
        md.push_str("\nUnder `strategy: grid` the methods' and architectures' own ranges are not tuned: they keep the study's values.\n");
    }
    if !untuned.is_empty() {
        let _ = writeln!(
            md,
            "\nNot tuned: the {} runs train with the study's own settings.",
            untuned.join(" and ")
        );
    }
    // Sections per (suite, fraction), in the cells' order.
    let mut sections: Vec<(String, String)> = Vec::new();
    for (suite, fraction, _) in cells.keys() {
        let key = (suite.clone(), fraction.clone());
        if !sections.contains(&key) {
            sections.push(key);
        }
    }
    for (suite, fraction) in sections {
        let here: Vec<(&Cell, &Vec<Config>)> = cells
            .iter()
            .filter(|(c, _)| c.0 == suite && c.1 == fraction && choices.contains_key(*c))
            .collect();
        let Some((_, reference)) = here.first() else {
            continue;
        };
        let _ = writeln!(md, "\n## {suite} · fraction {fraction}");
        let shared = keys_of(here.iter().flat_map(|(_, c)| c.iter()), is_shared_key);
        if shared.is_empty() {
            md.push_str("\nNo key every algorithm shares is tuned.\n");
        } else {
            let _ = writeln!(
                md,
                "\nShared candidates (every algorithm below):\n\n| config | {} |\n|---:|{}",
                shared.join(" | "),
                "---:|".repeat(shared.len())
            );
            for (k, config) in reference.iter().enumerate() {
                let values: Vec<String> = shared
                    .iter()
                    .map(|key| cell_text(value(config, key)))
                    .collect();
                let _ = writeln!(md, "| {k} | {} |", values.join(" | "));
            }
        }
        for (cell, configs) in &here {
            let choice = &choices[*cell];
            // Its own keys, and (should a cell not share the candidates) any shared key
            // whose values differ from the table above.
            let mut keys = keys_of(configs.iter(), |k| !is_shared_key(k));
            for key in &shared {
                let differs = configs.len() != reference.len()
                    || configs
                        .iter()
                        .zip(reference.iter())
                        .any(|(a, b)| value(a, key) != value(b, key));
                if differs {
                    keys.insert(0, key.clone());
                }
            }
            let _ = writeln!(
                md,
                "\n### {}\n\n| config | {}score | chosen |\n|---:|{}---:|:---:|",
                cell.2,
                keys.iter().map(|k| format!("{k} | ")).collect::<String>(),
                "---:|".repeat(keys.len())
            );
            for (k, config) in configs.iter().enumerate() {
                let values: String = keys
                    .iter()
                    .map(|key| format!("{} | ", cell_text(value(config, key))))
                    .collect();
                let score = choice.scores.get(k).copied().unwrap_or(f64::NAN);
                let score = if score.is_finite() {
                    format!("{score:.4}")
                } else {
                    "failed".into()
                };
                let mark = if k == choice.chosen { "✓" } else { "" };
                let _ = writeln!(md, "| {k} | {values}{score} | {mark} |");
            }
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_candidates_are_listed_once_and_own_keys_per_algorithm() {
        let tune = Tune {
            budget: 3,
            replicates: 1,
            strategy: Strategy::Random,
            lr: Some(crate::study::tune::Range::log_uniform(1e-4, 1e-1)),
            weight_decay: None,
            method: true,
        };
        let cell = |a: &str| ("s".to_string(), "1".to_string(), a.to_string());
        let lr = |v: f64| ("lr".to_string(), v);
        let mut cells = BTreeMap::new();
        cells.insert(
            cell("hard_sharing+equal"),
            vec![vec![], vec![lr(0.01)], vec![lr(0.002)]],
        );
        cells.insert(
            cell("hard_sharing+cagrad"),
            vec![
                vec![],
                vec![lr(0.01), ("weighting.c".into(), 0.25)],
                vec![lr(0.002), ("weighting.c".into(), 0.75)],
            ],
        );
        let choices: BTreeMap<Cell, Choice> = cells
            .keys()
            .map(|c| {
                (
                    c.clone(),
                    Choice {
                        scores: vec![0.5, 1.0, f64::NAN],
                        chosen: 1,
                    },
                )
            })
            .collect();
        let md = tune_markdown(
            "t",
            &tune,
            &cells,
            &choices,
            &Selection::Last,
            &["adaptation"],
        );
        // The learning rates once, in the shared table; c in CAGrad's own.
        assert_eq!(md.matches("1.0000e-2").count(), 1, "{md}");
        assert_eq!(md.matches("2.0000e-3").count(), 1, "{md}");
        assert!(
            md.contains("| config | lr |\n|---:|---:|\n| 0 | (study) |\n| 1 | 1.0000e-2 |\n"),
            "{md}"
        );
        assert!(
            md.contains("### hard_sharing+cagrad\n\n| config | weighting.c | score | chosen |"),
            "{md}"
        );
        assert!(md.contains("| 1 | 2.5000e-1 | 1.0000 | ✓ |"), "{md}");
        assert!(
            md.contains("### hard_sharing+equal\n\n| config | score | chosen |"),
            "{md}"
        );
        assert!(md.contains("| 2 | failed |  |"), "{md}");
        assert!(md.contains("Not tuned: the adaptation runs train with the study's own settings."));
        // A cell whose shared values differ shows them in its own table.
        cells.get_mut(&cell("hard_sharing+equal")).unwrap()[2] = vec![lr(0.5)];
        let md = tune_markdown("t", &tune, &cells, &choices, &Selection::Last, &[]);
        assert!(
            md.contains("### hard_sharing+equal\n\n| config | lr | score | chosen |"),
            "{md}"
        );
        assert!(md.contains("| 2 | 5.0000e-1 | failed |  |"), "{md}");
    }
}
