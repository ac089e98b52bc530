//! Built-in studies, embedded in the binary: `mtlbench run --preset NAME`.

/// (name, one-line description, YAML text).
pub const PRESETS: &[(&str, &str, &str)] = &[
    (
        "quickstart",
        "both synthetic suites, single_task vs hard_sharing, 3 replicates (the default main job)",
        include_str!("presets/quickstart.yaml"),
    ),
    (
        "method-zoo",
        "every weighting with hard_sharing vs single_task on both synthetic suites, 3 replicates",
        include_str!("presets/method-zoo.yaml"),
    ),
    (
        "fair-comparison",
        "paper-grade protocol in minutes: equal tuning budget, best_val selection, the scalarization front and hypervolumes, 3 replicates",
        include_str!("presets/fair-comparison.yaml"),
    ),
    (
        "transfer-conflict-efficiency",
        "every transfer, conflict and data-efficiency table and chart on planted blocks and a 2-task toy",
        include_str!("presets/transfer-conflict-efficiency.yaml"),
    ),
    (
        "soft-vs-hard",
        "soft_sharing at three λ (and the pairwise penalty) between single_task and hard_sharing, 5 replicates",
        include_str!("presets/soft-vs-hard.yaml"),
    ),
    (
        "hierarchy",
        "hierarchical MTL on a planted task tree: planted vs wrong grouping, depth supervision, 8 replicates",
        include_str!("presets/hierarchy.yaml"),
    ),
    (
        "meta-weighting",
        "learned task weights (uw, famo, auto_lambda, meta_weight_net) with one pure-noise task among related ones, 5 replicates",
        include_str!("presets/meta-weighting.yaml"),
    ),
    (
        "few-shot",
        "meta-test adaptation on the sinusoid family: random, transfer, reptile and fomaml starts, 5/10/20 shots, 3 replicates",
        include_str!("presets/few-shot.yaml"),
    ),
    (
        "multimnist",
        "reference study on MultiMNIST with the LeNet trunk: single_task vs hard_sharing with 6 weightings, an equal tuning budget, best_val, 2 replicates (needs MTLBENCH_DATA)",
        include_str!("presets/multimnist.yaml"),
    ),
    (
        "multimnist-published",
        "MultiMNIST on Sener & Koltun's published protocol (their pair construction, SGD with momentum, lr × 0.85 every 10 epochs): single_task and hard_sharing with equal, uw, gradnorm and mgda, 100 epochs on 54k pairs, 5 replicates, an equal tuning budget; hours on 2 cores (needs MTLBENCH_DATA)",
        include_str!("presets/multimnist-published.yaml"),
    ),
    (
        "multimnist-published-mgda-ub",
        "the MGDA-UB row of multimnist-published as the paper computes it (min-norm weights from the gradients of the shared representation, `rep_grad`): the same protocol, learning-rate candidates and paired replicates; an ablation of that study's MGDA row (needs MTLBENCH_DATA)",
        include_str!("presets/multimnist-published-mgda-ub.yaml"),
    ),
    (
        "multifashion",
        "reference study on MultiFashion with the LeNet trunk: the `multimnist` protocol, smaller (10k pairs, 6 epochs) and without `uw` (needs MTLBENCH_DATA)",
        include_str!("presets/multifashion.yaml"),
    ),
    (
        "multifashion-mnist",
        "reference study on Multi-(Fashion+MNIST) with the LeNet trunk: the `multimnist` protocol, smaller (10k pairs, 6 epochs) and without `uw` (needs MTLBENCH_DATA)",
        include_str!("presets/multifashion-mnist.yaml"),
    ),
    (
        "census",
        "reference study on Census-Income (MMoE group 1): single_task, hard_sharing and mmoe with 5 weightings, an equal tuning budget, best_val (needs MTLBENCH_DATA)",
        include_str!("presets/census.yaml"),
    ),
    (
        "census-missing-labels",
        "Census-Income with 50% of the income labels missing (training and validation; test complete) beside the complete data: single_task and hard_sharing with 5 weightings, best_val, 2 replicates (needs MTLBENCH_DATA)",
        include_str!("presets/census-missing-labels.yaml"),
    ),
];

/// The YAML text of preset `name`.
pub fn preset(name: &str) -> Option<&'static str> {
    PRESETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every preset parses as a study (its data, where it needs some, is checked when it
    /// is planned), under the name it is registered by, and is described.
    #[test]
    fn every_preset_parses_under_its_own_name() {
        for (name, description, text) in PRESETS {
            let study = crate::study::config::parse_study(&format!("preset:{name}"), text)
                .unwrap_or_else(|e| panic!("preset {name}: {e}"));
            assert_eq!(study.config.name, *name);
            assert!(!description.is_empty(), "preset {name}");
        }
    }
}
