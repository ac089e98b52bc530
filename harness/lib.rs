//! mtlbench's harness, one folder per stage of the pipeline: `study` (the study file
//! (YAML) → validation → the plan, the grid of runs), `run` (the sweep executor with its
//! crash-safe run store, shards, Slurm, the tuning search stage) and `cli` (the commands
//! of the command line). The report lives in the `mtlbench-results` crate.

pub mod cli;
pub mod error;
pub mod run;
pub mod study;
