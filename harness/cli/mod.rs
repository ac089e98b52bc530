//! The commands of the command line (`harness/main.rs` parses the arguments): run, plan,
//! report (and `report --combine`, in `combine`), status, slurm, bench.

pub mod bench;
pub mod combine;
pub mod commands;
pub mod listing;
