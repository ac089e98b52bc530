//! Task suites for mtlbench: seeded synthetic suites with planted structure, real data
//! sets read from a data directory, splits, nested data fractions and task metrics, as
//! plain `f32` buffers (no dfdx, no polars).

pub mod data;
pub mod error;
mod linalg;
pub mod metrics;
pub mod missing;
pub mod real;
pub mod registry;
pub mod seed;
#[cfg(test)]
mod split_audit;
pub mod suite;

pub use data::{ImageShape, InputShape, Matrix, Splits, SuiteData, TaskData, TaskKind};
pub use error::TasksError;
pub use metrics::MetricSpec;
pub use missing::{MissingLabels, MissingPattern, Presence};
/// The suites under their former paths.
pub use suite::{gradnorm_toy, planted_correlation, sinusoid};
pub use suite::{Suite, SuiteSpec, TaskFamily};
