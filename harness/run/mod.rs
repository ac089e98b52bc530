//! The run stage: the plan carried out. The device backend, the sweep executor with its
//! crash-safe run store and claims, shards and Slurm arrays, the tuning search stage, and
//! the status of an output directory.

pub mod chance;
pub mod claim;
pub mod device;
pub mod interrupt;
pub mod memory_meter;
pub mod progress;
pub mod shard;
pub mod slurm;
pub mod status;
pub mod sweep;
pub mod tune_markdown;
pub mod tune_stage;
