//! The error type of the results crate: each variant names the file involved.

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ResultsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a readable run record: {message}")]
    CorruptRecord { path: PathBuf, message: String },
    #[error("{path}: cannot write table: {message}")]
    Table { path: PathBuf, message: String },
    #[error("{path}: cannot draw chart: {message}")]
    Chart { path: PathBuf, message: String },
    #[error("{0}: no run records found (expected files under runs/)")]
    NoRuns(PathBuf),
}

impl ResultsError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ResultsError::Io {
            path: path.into(),
            source,
        }
    }
}
