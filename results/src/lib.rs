//! Results of mtlbench: the stored run record, the crash-safe run store, statistics over
//! replicates, Δm against the single-task baseline, telemetry and affinity summaries,
//! pairwise transfer, polars tables and plotters charts.

pub mod adaptation;
pub mod affinity;
pub mod balance;
pub mod charts;
pub mod convergence;
pub mod efficiency;
pub mod error;
pub mod findings;
pub mod front;
pub mod main_table;
pub mod paired_table;
pub mod pairwise;
pub mod published;
pub mod ranking;
pub mod record;
pub mod relationships;
pub mod report;
pub mod selection;
pub mod significance;
pub mod stats;
pub mod store;
pub mod summary;
pub mod tables;
pub mod telemetry;
pub mod tensorboard;
pub mod terminal;
pub mod transfer;

pub use error::ResultsError;
pub use record::{Point, RunKind, RunRecord};

/// The distinct items of `items` in first-seen order.
pub fn unique<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}
