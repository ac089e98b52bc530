//! `cross_stitch`: one tower per task, mixed after every layer by learnable cross-stitch
//! units.

use super::{Architecture, Builder, Footprint, Layout, Part, Shape, Sharing};
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// `cross_stitch`: one tower per task (trunk of the study's shape); after every trunk
/// layer, task t's activation becomes Σₛ αₜₛ hₛ with a learnable T×T matrix α per layer,
/// initialised to 0.9 on the diagonal and 0.1/(T−1) elsewhere (the paper's (0.9, 0.1) for
/// two tasks, rows summing to 1). The towers and the α are shared parameters (every task's
/// loss reaches them); the heads are task-specific. With a conv trunk a unit mixes whole
/// feature maps (one α per task pair and layer; the paper's units for conv networks have one
/// per channel). The max-pools of a conv layer come before its unit.
///
/// Paper: Misra et al. 2016, "Cross-stitch networks for multi-task learning"; LibMTL
/// `architecture.Cross_stitch`. No hyper-parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossStitch {}

impl Architecture for CrossStitch {
    fn footprint(&self, shape: &Shape<'_>) -> Footprint {
        // One T×T unit (no bias) per trunk layer, mixing the T towers' outputs: T values
        // of the layer's width out, T products per value.
        let tasks = shape.tasks();
        let units = shape
            .layers
            .iter()
            .map(|l| Part {
                parameters: tasks * tasks,
                per_row: tasks * l.width as u128,
                macs: tasks * tasks * l.width as u128,
            })
            .fold(Part::default(), |a, b| a + b);
        let body = units + shape.trunk() * tasks;
        Footprint {
            body,
            shared: body,
            heads: shape.heads(),
        }
    }

    fn build<D: Device<f32>>(&self, b: &mut Builder<'_, D>) -> Layout {
        let tasks = b.tasks();
        let start = b.len();
        for _ in 0..b.depth() {
            let alpha = initial_alpha(tasks);
            b.weight(alpha, (tasks, tasks));
        }
        let stitches = start..b.len();
        let trunks: Vec<Range<usize>> = (0..tasks).map(|_| b.trunk(&["trunk"])).collect();
        let shared = start..b.len();
        let towers = b.heads();
        Layout {
            shared,
            towers,
            sharing: Sharing::CrossStitch {
                stitches,
                towers: trunks,
            },
        }
    }
}

/// The initial T×T α (row-major): 0.9 on the diagonal, 0.1/(T−1) elsewhere.
fn initial_alpha(tasks: usize) -> Vec<f32> {
    let off = if tasks > 1 {
        0.1 / (tasks - 1) as f32
    } else {
        0.0
    };
    (0..tasks * tasks)
        .map(|k| if k / tasks == k % tasks { 0.9 } else { off })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::ArchitectureSpec;
    use crate::device::cpu;
    use crate::model::ModelSpec;

    /// One α per trunk layer, rows summing to 1; towers and α shared, heads not.
    #[test]
    fn one_stitch_per_layer() {
        assert_eq!(initial_alpha(1), vec![0.9]);
        let alpha = initial_alpha(3);
        for row in alpha.chunks(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{row:?}");
        }
        let model = ModelSpec {
            trunk: vec![4, 3].into(),
            head: vec![],
        };
        let net =
            ArchitectureSpec::CrossStitch(CrossStitch {}).build(&cpu(), &model, 5, &[1; 3], 2);
        let Sharing::CrossStitch { stitches, towers } = &net.sharing else {
            panic!("cross_stitch builds stitches");
        };
        assert_eq!(stitches, &(0..2));
        assert_eq!(towers, &vec![2..4, 4..6, 6..8]);
        assert_eq!(net.shared, 0..8);
        assert_eq!(net.layers[1].weight.as_vec(), alpha);
    }

    /// Three towers (3 · 18), a 3×3 unit after each layer mixing 3 and 2 values per tower
    /// (9 · 3 + 9 · 2 = 45), three heads (6): 54 + 45 + 6 = 105.
    #[test]
    fn step_cost_counts_towers_and_units() {
        let a = ArchitectureSpec::CrossStitch(CrossStitch {});
        assert_eq!(crate::architecture::testing::tiny_step_cost(&a), 105);
    }
}
