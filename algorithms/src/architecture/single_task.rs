//! `single_task`: T independent networks, the baseline every transfer number is measured
//! against.

use super::{Architecture, Builder, Footprint, Layout, Part, Shape, Sharing, Tower};
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// `single_task`: T independent networks, each the trunk followed by the task's head.
/// The baseline every transfer number is measured against. Every tower's trunk starts from
/// the same initial weights as the shared trunk of `hard_sharing` in the same replicate.
///
/// Paper: the single-task learning (STL) baseline of every MTL paper; LibMTL has no STL
/// baseline (its reference numbers are per-paper constants). No hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SingleTask {}

impl Architecture for SingleTask {
    fn has_shared_parameters(&self) -> bool {
        false
    }

    fn ignores_weighting(&self) -> bool {
        true
    }

    fn footprint(&self, shape: &Shape<'_>) -> Footprint {
        towers_footprint(shape)
    }

    fn build<D: Device<f32>>(&self, b: &mut Builder<'_, D>) -> Layout {
        towers(b)
    }
}

/// One whole trunk and one head per task, nothing shared (`towers`' network).
pub(super) fn towers_footprint(shape: &Shape<'_>) -> Footprint {
    Footprint {
        body: shape.trunk() * shape.tasks(),
        shared: Part::default(),
        heads: shape.heads(),
    }
}

/// One tower (trunk + head) per task, nothing shared: `single_task`'s network, and
/// `soft_sharing`'s.
pub(super) fn towers<D: Device<f32>>(b: &mut Builder<'_, D>) -> Layout {
    let towers = (0..b.tasks())
        .map(|t| {
            let trunk = b.trunk(&["trunk"]);
            Tower {
                trunk,
                head: b.head(t),
            }
        })
        .collect();
    Layout {
        shared: 0..0,
        towers,
        sharing: Sharing::Trunk,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::{ArchitectureSpec, HardSharing};
    use crate::device::cpu;
    use crate::model::ModelSpec;

    /// Every tower's trunk starts from hard_sharing's trunk; nothing is shared.
    #[test]
    fn towers_start_from_the_shared_trunk() {
        let dev = cpu();
        let model = ModelSpec {
            trunk: vec![5, 4].into(),
            head: vec![],
        };
        let single = ArchitectureSpec::SingleTask(SingleTask {}).build(&dev, &model, 3, &[2, 1], 7);
        let hard = ArchitectureSpec::HardSharing(HardSharing {}).build(&dev, &model, 3, &[2, 1], 7);
        assert!(single.shared.is_empty());
        for tower in &single.towers {
            assert_eq!(tower.trunk.len(), 2);
            for (own, shared) in tower.trunk.clone().zip(hard.shared.clone()) {
                assert_eq!(
                    single.layers[own].weight.as_vec(),
                    hard.layers[shared].weight.as_vec()
                );
            }
        }
    }

    /// T whole networks: 3 · 18 + 3 · 2 = 60 multiply-adds per row.
    #[test]
    fn step_cost_counts_every_tower() {
        let a = ArchitectureSpec::SingleTask(SingleTask {});
        assert_eq!(crate::architecture::testing::tiny_step_cost(&a), 60);
    }
}
