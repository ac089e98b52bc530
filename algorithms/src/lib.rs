//! mtlbench's training engine on dfdx 0.13 with run-time shapes: a parameter store of
//! linear layers grouped as shared or task-specific, seeded initialisation, our own
//! optimizers as dfdx tensor ops (fused into one loop per parameter tensor on the CPU),
//! per-task gradients as one [T, P] device tensor, the architecture and weighting registries,
//! and the training loop. Generic over the dfdx device.

pub mod adapt;
pub mod architecture;
pub mod bench;
pub mod conflict;
pub mod conv;
mod conv_cpu;
mod dense_cpu;
pub mod device;
pub mod engine;
pub mod error;
pub mod jacobian;
pub mod meta_weight;
pub mod model;
pub mod optimizer;
pub mod solvers;
pub mod split;
pub mod train;
pub mod trunk;
pub mod trunk_gradients;
pub mod tuning;
pub mod weighting;

#[cfg(test)]
mod registry_tests;

pub use architecture::ArchitectureSpec;
pub use error::AlgorithmsError;
pub use model::ModelSpec;
pub use optimizer::OptimizerSpec;
pub use split::Split;
pub use train::{EvalPoint, RunStatus, SolverStats, TrainConfig, TrainOutcome};
pub use weighting::WeightingSpec;
