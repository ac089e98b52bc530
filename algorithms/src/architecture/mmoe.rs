//! `mmoe`: shared experts mixed by a softmax gate per task (and the expert build that
//! `cgc` shares).

use super::{dense, Architecture, Builder, Footprint, Layout, Shape, Sharing, Tower};
use crate::error::AlgorithmsError;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// `mmoe`: `experts` expert networks (each of the trunk's shape) read the input; each task
/// mixes their outputs with its own softmax gate, a linear map of the input, then applies
/// its head. Experts are shared; gates and heads belong to their task. With a conv trunk
/// the experts are conv networks and the gates read the image as one flat row.
///
/// Paper: Ma et al. 2018, "Modeling task relationships in multi-task learning with
/// multi-gate mixture-of-experts"; LibMTL `architecture.MMoE`. Hyper-parameters:
/// `experts` 4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mmoe {
    pub experts: usize,
}

impl Default for Mmoe {
    fn default() -> Self {
        Mmoe { experts: 4 }
    }
}

impl Architecture for Mmoe {
    fn validate(&self) -> Result<(), AlgorithmsError> {
        if self.experts == 0 {
            return Err(AlgorithmsError::invalid("experts", "must be at least 1"));
        }
        Ok(())
    }

    fn footprint(&self, shape: &Shape<'_>) -> Footprint {
        experts_footprint(shape, self.experts, 0)
    }

    fn build<D: Device<f32>>(&self, b: &mut Builder<'_, D>) -> Layout {
        experts(b, self.experts, 0)
    }
}

/// `experts`' network: `n_shared` whole trunks shared, and per task `n_own` trunks and a
/// gate (a dense layer of the input over all its experts) of its own.
pub(super) fn experts_footprint(shape: &Shape<'_>, n_shared: usize, n_own: usize) -> Footprint {
    let trunk = shape.trunk();
    let shared = trunk * n_shared as u128;
    let gate = dense(shape.input_width as u128, (n_shared + n_own) as u128);
    let own = trunk * n_own as u128 + gate;
    Footprint {
        body: shared + own * shape.tasks(),
        shared,
        heads: shape.heads(),
    }
}

/// `n_shared` shared experts, then per task `n_own` experts of its own, its gate over
/// all of them and its head. Every expert has the trunk's shape.
pub(super) fn experts<D: Device<f32>>(
    b: &mut Builder<'_, D>,
    n_shared: usize,
    n_own: usize,
) -> Layout {
    // Shared expert 0 starts from the trunk's weights (as hard_sharing's trunk and
    // single_task's towers do): paired comparisons, and one expert reproduces
    // hard_sharing exactly.
    let shared_experts: Vec<Range<usize>> = (0..n_shared)
        .map(|e| match e {
            0 => b.trunk(&["trunk"]),
            _ => b.trunk(&["expert", &e.to_string()]),
        })
        .collect();
    let shared = shared_experts.first().map_or(0, |r| r.start)..b.len();
    let tasks = b.tasks();
    let mut task_experts = Vec::with_capacity(tasks);
    let mut gates = Vec::with_capacity(tasks);
    let mut towers = Vec::with_capacity(tasks);
    for t in 0..tasks {
        let start = b.len();
        let own: Vec<Range<usize>> = (0..n_own)
            .map(|e| b.trunk(&["task-expert", &t.to_string(), &e.to_string()]))
            .collect();
        gates.push(b.linear(b.input_width(), n_shared + n_own, &["gate", &t.to_string()]));
        task_experts.push(own);
        let trunk = start..b.len();
        towers.push(Tower {
            trunk,
            head: b.head(t),
        });
    }
    Layout {
        shared,
        towers,
        sharing: Sharing::Experts {
            shared_experts,
            task_experts,
            gates,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::testing::{adam_training, tiny_suite, train_tiny};
    use crate::architecture::{ArchitectureSpec, HardSharing};
    use crate::model::ModelSpec;
    use crate::weighting::Equal;
    use crate::weighting::WeightingSpec;

    /// One MMoE expert, which starts from the trunk's weights, with a one-way softmax gate
    /// (always exactly 1) is hard sharing: bit-identical training.
    #[test]
    fn one_expert_mmoe_is_hard_sharing() {
        let suite = tiny_suite(2, 6, 40, 2);
        let model = ModelSpec {
            trunk: vec![8].into(),
            head: vec![],
        };
        let training = adam_training(3, 8, 1, false);
        let run = |architecture: &ArchitectureSpec| {
            train_tiny(
                &suite,
                architecture,
                &WeightingSpec::Equal(Equal {}),
                &model,
                &training,
                (1, 2),
            )
            .points
        };
        assert_eq!(
            run(&ArchitectureSpec::Mmoe(Mmoe { experts: 1 })),
            run(&ArchitectureSpec::HardSharing(HardSharing {}))
        );
    }

    #[test]
    fn no_experts_is_refused() {
        let err = Mmoe { experts: 0 }.validate().unwrap_err();
        assert_eq!(err.key(), "experts");
        assert_eq!(err.message(), "must be at least 1");
    }

    /// Two experts (2 · 18), three gates of 4 inputs × 2 experts (3 · 8), three heads
    /// (3 · 2): 36 + 24 + 6 = 66 multiply-adds per row.
    #[test]
    fn step_cost_counts_experts_and_gates() {
        let a = ArchitectureSpec::Mmoe(Mmoe { experts: 2 });
        assert_eq!(crate::architecture::testing::tiny_step_cost(&a), 66);
    }
}
