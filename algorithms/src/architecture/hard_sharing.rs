//! `hard_sharing`: one trunk shared by all tasks, one head per task.

use super::{Architecture, Builder, Footprint, Layout, Shape, Sharing};
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// `hard_sharing`: one trunk shared by all tasks, one head per task.
///
/// Paper: Caruana 1997, "Multitask Learning"; LibMTL `architecture.HPS`. No
/// hyper-parameters (widths come from the study's `model`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardSharing {}

impl Architecture for HardSharing {
    fn exposes_shared_representation(&self) -> bool {
        true
    }

    fn footprint(&self, shape: &Shape<'_>) -> Footprint {
        let trunk = shape.trunk();
        Footprint {
            body: trunk,
            shared: trunk,
            heads: shape.heads(),
        }
    }

    fn build<D: Device<f32>>(&self, b: &mut Builder<'_, D>) -> Layout {
        let shared = b.trunk(&["trunk"]);
        let towers = b.heads();
        Layout {
            shared,
            towers,
            sharing: Sharing::Trunk,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::ArchitectureSpec;
    use crate::device::cpu;
    use crate::model::ModelSpec;

    /// The trunk's layers come first and are shared; each task has a head and no private
    /// trunk.
    #[test]
    fn one_trunk_then_the_heads() {
        let model = ModelSpec {
            trunk: vec![5, 4].into(),
            head: vec![3],
        };
        let net =
            ArchitectureSpec::HardSharing(HardSharing {}).build(&cpu(), &model, 6, &[2, 1], 1);
        assert_eq!(net.shared, 0..2);
        assert_eq!(net.layers.len(), 2 + 2 * 2);
        for (t, tower) in net.towers.iter().enumerate() {
            assert!(tower.trunk.is_empty());
            assert_eq!(tower.head, 2 + 2 * t..4 + 2 * t);
        }
        assert_eq!(net.layers[0].weight.shape(), &(6, 5));
        assert_eq!(net.layers[5].weight.shape(), &(3, 1));
    }

    /// One trunk, T heads: 18 + 3 · 2 = 24 multiply-adds per row.
    #[test]
    fn step_cost_counts_one_trunk() {
        let a = ArchitectureSpec::HardSharing(HardSharing {});
        assert_eq!(crate::architecture::testing::tiny_step_cost(&a), 24);
    }
}
