//! The commands of the command line (`harness/main.rs` parses the arguments): run, plan,
//! report, status, slurm, bench.

pub mod bench;
pub mod commands;
pub mod listing;
