//! `hierarchical`: a task tree (groups sharing layers above a common root) or depth
//! supervision (task heads at different depths of one trunk).

use super::{Architecture, Builder, Footprint, Layout, Shape, Sharing, Tower};
use crate::error::AlgorithmsError;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// `hierarchical`: tasks organised as a hierarchy, in one of two forms.
///
/// - Task tree (`groups`): the first `root_depth` trunk layers are shared by all tasks;
///   each group gets its own copy of the remaining trunk layers, computed once for its
///   tasks; then the task heads. Every copy starts from the trunk's initial weights, so one
///   group holding every task is `hard_sharing` and singleton groups with `root_depth: 0`
///   are `single_task`.
/// - Depth supervision (`levels`): one trunk; task t's head reads the trunk's output after
///   `levels[t]` layers (lower-level tasks lower), so the trunk has max(levels) layers.
///
/// All trunk layers count as shared parameters (a task outside a group has a zero
/// gradient there), so every weighting applies.
///
/// Paper: Søgaard & Goldberg 2016, "Deep multi-task learning with low level tasks
/// supervised at lower layers" (depth supervision); Hashimoto et al. 2017 (JMT). The task
/// tree is the group form of tree-structured sharing. docs/FORMULAS.md#hierarchical: the
/// details are unverified; JMT's successive regularisation is not implemented. Hyper-parameters:
/// `groups` (lists of task indices covering every task once) with `root_depth` (1), or
/// `levels` (one depth ≥ 1 per task), not both; `root_depth` belongs to `groups`. With
/// neither (the default), every task is in one group: `hard_sharing`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Hierarchical {
    pub groups: Option<Vec<Vec<usize>>>,
    /// `None` when the study does not give it (then 1); written as its value, so the
    /// record's hyper-parameters do not depend on whether it was given.
    #[serde(serialize_with = "serialize_root_depth")]
    pub root_depth: Option<usize>,
    pub levels: Option<Vec<usize>>,
}

impl Hierarchical {
    /// The shared root's depth of the task tree (default 1).
    pub fn root_depth(&self) -> usize {
        self.root_depth.unwrap_or(1)
    }
}

fn serialize_root_depth<S: serde::Serializer>(
    root_depth: &Option<usize>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(root_depth.unwrap_or(1) as u64)
}

impl Architecture for Hierarchical {
    fn validate(&self) -> Result<(), AlgorithmsError> {
        if self.groups.is_some() && self.levels.is_some() {
            return Err(AlgorithmsError::invalid(
                "groups",
                "give either `groups` (task tree) or `levels` (depth supervision), not both",
            ));
        }
        if self.levels.is_some() && self.root_depth.is_some() {
            return Err(AlgorithmsError::invalid(
                "root_depth",
                "belongs to the task tree (`groups`); with `levels` each task's depth is \
                 its level",
            ));
        }
        Ok(())
    }

    fn validate_for(&self, tasks: usize, depth: usize) -> Result<(), AlgorithmsError> {
        if let Some(groups) = &self.groups {
            let mut seen = vec![0usize; tasks];
            for t in groups.iter().flatten() {
                if *t >= tasks {
                    return Err(AlgorithmsError::invalid(
                        "groups",
                        format!("task {t} does not exist: the suite has {tasks} tasks"),
                    ));
                }
                seen[*t] += 1;
            }
            if let Some(t) = seen.iter().position(|c| *c != 1) {
                return Err(AlgorithmsError::invalid(
                    "groups",
                    format!("task {t} must be in exactly one group"),
                ));
            }
            if groups.iter().any(Vec::is_empty) {
                return Err(AlgorithmsError::invalid("groups", "a group is empty"));
            }
            if self.root_depth() > depth {
                return Err(AlgorithmsError::invalid(
                    "root_depth",
                    format!("{} exceeds the trunk's {depth} layers", self.root_depth()),
                ));
            }
        }
        if let Some(levels) = &self.levels {
            if levels.len() != tasks {
                return Err(AlgorithmsError::invalid(
                    "levels",
                    format!("{} levels for {tasks} tasks", levels.len()),
                ));
            }
            if let Some(l) = levels.iter().find(|l| **l == 0 || **l > depth) {
                return Err(AlgorithmsError::invalid(
                    "levels",
                    format!("level {l} is not in 1..={depth} (the trunk's layers)"),
                ));
            }
        }
        Ok(())
    }

    fn footprint(&self, shape: &Shape<'_>) -> Footprint {
        let depth = shape.depth();
        let (body, heads) = match (&self.groups, &self.levels) {
            // The root once, the rest once per group; every head reads the top.
            (Some(groups), _) => {
                let root = shape.trunk_part(0, self.root_depth());
                let rest = shape.trunk_part(self.root_depth(), depth) * groups.len() as u128;
                (root + rest, shape.heads())
            }
            // One trunk as deep as the deepest level; task t's head reads level t.
            (None, levels) => {
                let levels = levels
                    .clone()
                    .unwrap_or_else(|| vec![depth; shape.outputs.len()]);
                let used = levels.iter().copied().max().unwrap_or(depth);
                let heads = shape.heads_reading(&|t| shape.width_after(levels[t]));
                (shape.trunk_part(0, used), heads)
            }
        };
        Footprint {
            body,
            shared: body,
            heads,
        }
    }

    fn build<D: Device<f32>>(&self, b: &mut Builder<'_, D>) -> Layout {
        let tasks = b.tasks();
        match (&self.groups, &self.levels) {
            (Some(groups), _) => {
                let depth = b.depth();
                let root = b.trunk_part(&["trunk"], 0, self.root_depth());
                let group_ranges: Vec<Range<usize>> = groups
                    .iter()
                    .map(|_| b.trunk_part(&["trunk"], self.root_depth(), depth))
                    .collect();
                let shared = root.start..b.len();
                let mut group_of = vec![0; tasks];
                for (g, members) in groups.iter().enumerate() {
                    for &t in members {
                        group_of[t] = g;
                    }
                }
                let towers = b.heads();
                Layout {
                    shared,
                    towers,
                    sharing: Sharing::Groups {
                        root,
                        groups: group_ranges,
                        group_of,
                    },
                }
            }
            (None, levels) => {
                let levels = levels.clone().unwrap_or_else(|| vec![b.depth(); tasks]);
                let top = *levels.iter().max().unwrap_or(&1);
                let shared = b.trunk_part(&["trunk"], 0, top);
                let towers = (0..tasks)
                    .map(|t| {
                        let width = b.trunk_width(levels[t]);
                        Tower {
                            trunk: b.len()..b.len(),
                            head: b.head_from(t, width),
                        }
                    })
                    .collect();
                Layout {
                    shared,
                    towers,
                    sharing: Sharing::Levels { levels },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::testing::{adam_training, tiny_suite, train_tiny};
    use crate::architecture::{ArchitectureSpec, HardSharing, SingleTask};
    use crate::model::ModelSpec;
    use crate::weighting::Equal;
    use crate::weighting::WeightingSpec;

    /// One group holding every task, or every task at the top level, is hard_sharing bit for
    /// bit; singleton groups without a root are single_task.
    #[test]
    fn hierarchical_special_cases_are_the_basic_architectures() {
        let suite = tiny_suite(3, 8, 64, 5);
        let model = ModelSpec {
            trunk: vec![12, 8].into(),
            head: vec![],
        };
        let training = adam_training(3, 16, 1, false);
        let run = |arch: &ArchitectureSpec| {
            train_tiny(
                &suite,
                arch,
                &WeightingSpec::Equal(Equal {}),
                &model,
                &training,
                (1, 2),
            )
            .points
        };
        let hard = run(&ArchitectureSpec::HardSharing(HardSharing {}));
        for root_depth in [0, 1, 2] {
            let one_group = ArchitectureSpec::Hierarchical(Hierarchical {
                groups: Some(vec![vec![0, 1, 2]]),
                root_depth: Some(root_depth),
                levels: None,
            });
            assert_eq!(run(&one_group), hard, "root_depth {root_depth}");
        }
        let top = ArchitectureSpec::Hierarchical(Hierarchical {
            groups: None,
            root_depth: None,
            levels: Some(vec![2, 2, 2]),
        });
        assert_eq!(run(&top), hard);
        // `{kind: hierarchical}` with no parameters: every task in one group.
        assert_eq!(
            run(&ArchitectureSpec::Hierarchical(Hierarchical::default())),
            hard
        );
        let singletons = ArchitectureSpec::Hierarchical(Hierarchical {
            groups: Some(vec![vec![0], vec![1], vec![2]]),
            root_depth: Some(0),
            levels: None,
        });
        let single = run(&ArchitectureSpec::SingleTask(SingleTask {}));
        let tree = run(&singletons);
        for (a, b) in tree.iter().zip(&single) {
            assert!(
                (a.value - b.value).abs() <= 1e-5 * b.value.abs().max(1.0),
                "{a:?} vs {b:?}"
            );
        }
    }

    /// The checks that depend on the suite and the trunk, with their messages.
    #[test]
    fn groups_and_levels_are_checked_against_the_suite() {
        let tree = |groups: Vec<Vec<usize>>, root_depth| Hierarchical {
            groups: Some(groups),
            root_depth: Some(root_depth),
            levels: None,
        };
        let check = |h: Hierarchical| {
            let e = h
                .validate()
                .and_then(|()| h.validate_for(3, 2))
                .unwrap_err();
            format!("{}: {}", e.key(), e.message())
        };
        assert_eq!(
            check(tree(vec![vec![0, 3], vec![1, 2]], 1)),
            "groups: task 3 does not exist: the suite has 3 tasks"
        );
        assert_eq!(
            check(tree(vec![vec![0, 1], vec![1, 2]], 1)),
            "groups: task 1 must be in exactly one group"
        );
        assert_eq!(
            check(tree(vec![vec![0, 1, 2]], 3)),
            "root_depth: 3 exceeds the trunk's 2 layers"
        );
        let levels = |levels: Vec<usize>| Hierarchical {
            groups: None,
            root_depth: None,
            levels: Some(levels),
        };
        assert_eq!(check(levels(vec![1, 2])), "levels: 2 levels for 3 tasks");
        assert_eq!(
            check(levels(vec![1, 3, 2])),
            "levels: level 3 is not in 1..=2 (the trunk's layers)"
        );
        let both = Hierarchical {
            root_depth: Some(1),
            ..levels(vec![1, 1, 1])
        };
        assert!(check(both).starts_with("root_depth: belongs to the task tree"));
    }

    /// Groups {0, 2} and {1} over a root of one layer: root 4 · 3 = 12, the second layer
    /// 3 · 2 = 6 once per group (12), three heads (6): 30. Levels [1, 2, 1]: the trunk of
    /// two layers (18), heads reading 3, 2 and 3 values (8): 26.
    #[test]
    fn step_cost_counts_group_copies_and_levels() {
        let groups = ArchitectureSpec::Hierarchical(Hierarchical {
            groups: Some(vec![vec![0, 2], vec![1]]),
            root_depth: Some(1),
            levels: None,
        });
        assert_eq!(crate::architecture::testing::tiny_step_cost(&groups), 30);
        let levels = ArchitectureSpec::Hierarchical(Hierarchical {
            groups: None,
            root_depth: None,
            levels: Some(vec![1, 2, 1]),
        });
        assert_eq!(crate::architecture::testing::tiny_step_cost(&levels), 26);
    }
}
