//! mtlbench's harness: the study file (YAML) → the plan (the grid of runs) → the sweep
//! executor (rayon, crash-safe run store) → the report; and the commands of the CLI.

pub mod bench;
pub mod claim;
pub mod commands;
pub mod config;
pub mod device;
pub mod error;
pub mod guards;
pub mod memory;
pub mod plan;
pub mod presets;
pub mod scalarization;
pub mod shard;
pub mod slurm;
pub mod status;
pub mod sweep;
pub mod tune;
pub mod tune_markdown;
pub mod tune_stage;
