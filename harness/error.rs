//! The error type of the harness: bad input (exit code 2) versus failures while running.

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum HarnessError {
    /// The study cannot be read or is invalid: `file: key.path: message at line L column C`.
    #[error("{file}: {message}")]
    Config { file: String, message: String },
    #[error("{path}: {message}")]
    Output { path: PathBuf, message: String },
    #[error(transparent)]
    Results(#[from] mtlbench_results::ResultsError),
}

impl HarnessError {
    /// The process exit code this error maps to: 2 for bad input, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            HarnessError::Config { .. } | HarnessError::Output { .. } => 2,
            HarnessError::Results(_) => 1,
        }
    }
}
