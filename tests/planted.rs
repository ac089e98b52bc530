//! End-to-end tests that the measures recover structure planted in the synthetic suites
//! (docs/FORMULAS.md#planted_correlation): shared trunks help correlated tasks only, gradient
//! cosines and affinity follow the planted correlation blocks, and a planted task tree beats a
//! wrong one.

mod common;

use common::{run_in, stderr, write_study};

/// docs/FORMULAS.md#planted_correlation planted structure: with few training rows, a shared trunk
/// helps when the planted task correlation is high and does not when it is zero or negative.
#[test]
fn hard_sharing_helps_only_when_tasks_are_correlated() {
    let study = "\
name: rho
seed: 11
replicates: 8
suites:
  - {kind: planted_correlation, name: rho_high, tasks: 4, rho: 0.95, train: 100, input_dim: 20, noise_std: 0.5}
  - {kind: planted_correlation, name: rho_zero, tasks: 4, rho: 0.0, train: 100, input_dim: 20, noise_std: 0.5}
  - {kind: planted_correlation, name: rho_negative, tasks: 4, rho: -0.3, train: 100, input_dim: 20, noise_std: 0.5}
architectures:
  - kind: single_task
  - kind: hard_sharing
model:
  trunk: [32, 32]
training:
  epochs: 40
  batch_size: 20
  lr: 0.003
  eval_every: 20
";
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "rho.yaml", study);
    let o = run_in(dir.path(), &["run", "rho.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Δp of hard_sharing against single_task per suite: (mean, ci low, ci high).
    let csv = std::fs::read_to_string(dir.path().join("out/summary.csv")).unwrap();
    let delta = |suite: &str| -> (f64, f64, f64) {
        let line = csv
            .lines()
            .find(|l| {
                l.starts_with(&format!("{suite},"))
                    && l.contains("hard_sharing")
                    && l.contains("(all)")
            })
            .unwrap();
        let f: Vec<&str> = line.split(',').collect();
        let n = f.len();
        // … n, mean, std, ci95_low, ci95_high, runs_not_ok
        (
            f[n - 5].parse().unwrap(),
            f[n - 3].parse().unwrap(),
            f[n - 2].parse().unwrap(),
        )
    };
    let high = delta("rho_high");
    assert!(
        high.1 > 0.0,
        "hard sharing beats single-task at rho 0.95: Δp {high:?}"
    );
    for suite in ["rho_zero", "rho_negative"] {
        let d = delta(suite);
        assert!(
            d.1 <= 0.0,
            "{suite}: no significant gain expected, Δp {d:?}"
        );
        assert!(
            d.0 < high.0,
            "{suite}: gain below the correlated suite's, {d:?} vs {high:?}"
        );
    }
}

/// Average ranks (ties share the mean of their positions).
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        for k in i..=j {
            out[order[k]] = (i + j) as f64 / 2.0 + 1.0;
        }
        i = j + 1;
    }
    out
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// Issue acceptance (docs/FORMULAS.md#relationship-matrices): on a block-planted suite, the
/// mean gradient cosine of each task pair and TAG's affinity (symmetrised) each rank the
/// pairs like the planted correlation matrix (Spearman ≥ 0.8), for each of two root seeds.
#[test]
fn cosines_and_affinity_recover_the_planted_blocks() {
    for seed in [3, 11] {
        let study = format!(
            "\
name: blocks
seed: {seed}
replicates: 2
suites:
  - {{kind: planted_correlation, tasks: 6, groups: [[0, 1, 2], [3, 4, 5]], rho: 0.9, rho_between: 0.0, input_dim: 20, train: 300}}
architectures:
  - kind: hard_sharing
training: {{epochs: 10, batch_size: 32, lr: 0.001, conflict_every: 10, affinity_every: 10}}
"
        );
        let dir = tempfile::tempdir().unwrap();
        write_study(dir.path(), "blocks.yaml", &study);
        let o = run_in(
            dir.path(),
            &["run", "blocks.yaml", "--out", "out", "--quiet"],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let csv = std::fs::read_to_string(dir.path().join("out/telemetry_summary.csv")).unwrap();
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (measure, a, b, layer, mean) = (
            at("measure"),
            at("task_a"),
            at("task_b"),
            at("layer"),
            at("mean"),
        );
        // (measure, task_a, task_b) → mean over steps and replicates.
        let mut cells: std::collections::BTreeMap<(String, usize, usize), f64> = Default::default();
        for line in csv.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            if f[a].is_empty() || !f[layer].is_empty() {
                continue;
            }
            let task = |s: &str| s.trim_start_matches("task").parse::<usize>().unwrap();
            cells.insert(
                (f[measure].to_string(), task(f[a]), task(f[b])),
                f[mean].parse().unwrap(),
            );
        }
        let group = |t: usize| t / 3;
        for name in ["cosine", "affinity"] {
            let (mut measured, mut planted) = (Vec::new(), Vec::new());
            for i in 0..6 {
                for j in i + 1..6 {
                    let value = match name {
                        "cosine" => cells[&(name.to_string(), i, j)],
                        _ => {
                            0.5 * (cells[&(name.to_string(), i, j)]
                                + cells[&(name.to_string(), j, i)])
                        }
                    };
                    measured.push(value);
                    planted.push(if group(i) == group(j) { 0.9 } else { 0.0 });
                }
            }
            let spearman = pearson(&ranks(&measured), &ranks(&planted));
            assert!(
                spearman >= 0.8,
                "seed {seed} {name}: Spearman {spearman}: {measured:?}"
            );
            eprintln!("seed {seed} {name}: Spearman {spearman:.3}");
        }
        let md = std::fs::read_to_string(dir.path().join("out/relationships.md")).unwrap();
        assert!(
            md.contains(
                "TAG grouping, at most 2 group(s): {task0, task1, task2} {task3, task4, task5}"
            ),
            "{md}"
        );
    }
}

/// Issue acceptance (hierarchical MTL): on `task_tree` with two planted groups, the task
/// tree with the planted grouping beats the same tree with a wrong grouping, and hard
/// sharing, on mean LibMTL Δp over 16 replicates.
#[test]
fn planted_task_tree_beats_a_wrong_grouping() {
    let study = "\
name: tree
seed: 5
replicates: 16
suites:
  - {kind: task_tree, groups: [[0, 1], [2, 3]], rho: 0.9, rho_between: 0.0, coarse: false, train: 100}
architectures:
  - kind: single_task
  - {kind: hierarchical, groups: [[0, 1], [2, 3]], root_depth: 1}
  - {kind: hierarchical, groups: [[0, 2], [1, 3]], root_depth: 1}
  - kind: hard_sharing
model: {trunk: [32, 32]}
training: {epochs: 30, batch_size: 32, lr: 0.001}
";
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "tree.yaml", study);
    let o = run_in(dir.path(), &["run", "tree.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(dir.path().join("out/summary.csv")).unwrap();
    let dp = |algorithm: &str| -> f64 {
        csv.lines()
            .find(|l| l.contains(&format!(",{algorithm},(all),Δp LibMTL (%),")))
            .map(|l| l.split(',').nth(7).unwrap().parse().unwrap())
            .unwrap_or_else(|| panic!("{algorithm} missing"))
    };
    let (planted, wrong, hard) = (
        dp("hierarchical+equal#1"),
        dp("hierarchical+equal#2"),
        dp("hard_sharing+equal"),
    );
    eprintln!("Δp: planted tree {planted:.2}, wrong tree {wrong:.2}, hard sharing {hard:.2}");
    assert!(
        planted > wrong && planted > hard,
        "planted {planted}, wrong {wrong}, hard {hard}"
    );
}
