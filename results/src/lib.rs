//! Results of mtlbench: the stored run record, the crash-safe run store, statistics over
//! replicates, Δm against the single-task baseline, polars tables and plotters charts.

pub mod charts;
pub mod efficiency;
pub mod error;
pub mod record;
pub mod report;
pub mod stats;
pub mod store;
pub mod summary;
pub mod tables;
pub mod transfer;

pub use error::ResultsError;
pub use record::{Point, RunRecord};
