//! The study stage: the study file (YAML) and its presets → validation → the plan (the
//! grid of runs, with its guards, tuning search spaces, scalarization fronts and memory
//! estimates). Nothing here trains or writes.

pub mod adaptation;
pub mod canonical;
pub mod config;
pub mod guards;
pub mod memory;
pub mod plan;
pub mod presentation;
pub mod presets;
pub mod run_spec;
pub mod scalarization;
pub mod suggest;
pub mod training;
pub mod tune;
pub mod validate;
pub mod warnings;
