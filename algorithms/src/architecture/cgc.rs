//! `cgc`: customized gate control (single-level PLE), shared and task-specific experts.

use super::{mmoe, Architecture, Builder, Footprint, Layout, Shape};
use crate::error::AlgorithmsError;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// `cgc`: customized gate control, the single-level PLE: `shared_experts` experts read by
/// every task plus `task_experts` experts per task; task t's gate mixes the shared experts
/// and its own.
///
/// Paper: Tang et al. 2020, "Progressive layered extraction (PLE)"; LibMTL
/// `architecture.CGC`. Hyper-parameters: `shared_experts` 2, `task_experts` 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cgc {
    pub shared_experts: usize,
    pub task_experts: usize,
}

impl Default for Cgc {
    fn default() -> Self {
        Cgc {
            shared_experts: 2,
            task_experts: 1,
        }
    }
}

impl Architecture for Cgc {
    fn validate(&self) -> Result<(), AlgorithmsError> {
        if self.shared_experts + self.task_experts == 0 {
            return Err(AlgorithmsError::invalid(
                "shared_experts",
                "at least one expert is needed",
            ));
        }
        Ok(())
    }

    fn footprint(&self, shape: &Shape<'_>) -> Footprint {
        mmoe::experts_footprint(shape, self.shared_experts, self.task_experts)
    }

    fn build<D: Device<f32>>(&self, b: &mut Builder<'_, D>) -> Layout {
        mmoe::experts(b, self.shared_experts, self.task_experts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::{ArchitectureSpec, Sharing};
    use crate::device::cpu;
    use crate::model::ModelSpec;

    /// Each task's block holds its own experts and its gate over shared + own experts.
    #[test]
    fn task_experts_and_gates() {
        let model = ModelSpec {
            trunk: vec![4, 3].into(),
            head: vec![],
        };
        let cgc = Cgc {
            shared_experts: 2,
            task_experts: 1,
        };
        let net = ArchitectureSpec::Cgc(cgc).build(&cpu(), &model, 5, &[1, 2], 3);
        let Sharing::Experts {
            shared_experts,
            task_experts,
            gates,
        } = &net.sharing
        else {
            panic!("cgc builds experts");
        };
        assert_eq!(shared_experts, &vec![0..2, 2..4]);
        assert_eq!(net.shared, 0..4);
        for t in 0..2 {
            assert_eq!(task_experts[t].len(), 1);
            assert_eq!(net.layers[gates[t]].weight.shape(), &(5, 3));
            assert_eq!(net.towers[t].trunk, task_experts[t][0].start..gates[t] + 1);
        }
        let err = Cgc {
            shared_experts: 0,
            task_experts: 0,
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.key(), "shared_experts");
    }

    /// One shared expert (18); per task one expert (18) and a gate of 4 inputs × 2
    /// experts (8), three tasks: 78; three heads: 6. 18 + 78 + 6 = 102.
    #[test]
    fn step_cost_counts_shared_and_task_experts() {
        let a = ArchitectureSpec::Cgc(Cgc {
            shared_experts: 1,
            task_experts: 1,
        });
        assert_eq!(crate::architecture::testing::tiny_step_cost(&a), 102);
    }
}
